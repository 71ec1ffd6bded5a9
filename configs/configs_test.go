package configs_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/backup-creator/backup-creator/cmd"
	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/shard"
)

// recipeFlags lists, per command, the flags the recipes in this directory may
// use. It is the one place to update when a recipe needs a new flag (or cmd/
// gains one: run, list, restore, verify and config may grow);
// TestRecipeFlagListMatchesCommands checks every entry against the real
// command tree, so a flag renamed or removed in cmd/ fails here.
var recipeFlags = map[string][]string{
	"":                {"version"}, // backup-creator --version
	"run":             {"dest", "since", "full", "dry-run", "types", "concurrency", "timeout", "track-deletions", "json"},
	"list":            {"dest", "json"},
	"restore":         {"dest", "at", "id", "key", "name", "type", "folder", "deleted", "dry-run", "json", "target", "force", "timeout"},
	"verify":          {"dest", "all", "json"},
	"config show":     {"dest", "json"},
	"config validate": {"dest", "online"},
	"config init":     {},
}

// globalFlags are the root command's persistent flags, valid everywhere.
var globalFlags = []string{"config", "env-file", "log-level", "log-format", "help"}

const exampleConfig = "backup-creator.example.yaml"

// clearEnv unsets every variable that could set a configuration key, so the
// tests see only the files.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range config.Keys() {
		for _, e := range config.EnvVars(k) {
			t.Setenv(e, "") // restored after the test
			if err := os.Unsetenv(e); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// yamlFiles lists every YAML file under this directory.
func yamlFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(p); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// decodeAll decodes every document of a YAML file.
func decodeAll(t *testing.T, name string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return decodeDocs(t, name, b)
}

func decodeDocs(t *testing.T, name string, b []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		t.Fatalf("%s: no YAML document", name)
	}
	return docs
}

func TestEveryYAMLFileParses(t *testing.T) {
	files := yamlFiles(t)
	for _, want := range []string{exampleConfig, "kubernetes/cronjob.yaml", "github-actions/backup.yml"} {
		if !slices.Contains(files, want) {
			t.Errorf("%s is missing (found %v)", want, files)
		}
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) { decodeAll(t, f) })
	}
}

// flatten returns the dotted keys of the leaves of m (lists are leaves).
func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		out[key] = v
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestExampleConfigHasExactlyEveryKey(t *testing.T) {
	keys := map[string]any{}
	flatten("", decodeAll(t, exampleConfig)[0], keys)
	defaults := config.Defaults()
	for _, k := range sortedKeys(defaults) {
		if _, ok := keys[k]; !ok {
			t.Errorf("%s: key %s of config.Defaults() is missing", exampleConfig, k)
		}
	}
	for _, k := range sortedKeys(keys) {
		if _, ok := defaults[k]; !ok {
			t.Errorf("%s: key %s is not a configuration key", exampleConfig, k)
		}
	}
	for k := range config.SecretKeys {
		if v, ok := keys[k]; ok && v != "" {
			t.Errorf("%s: secret key %s has a value; leave it empty and show the env var", exampleConfig, k)
		}
	}
}

func TestExampleConfigDocumentsEveryEnvVar(t *testing.T) {
	b, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, k := range config.Keys() {
		for _, env := range config.EnvVars(k) {
			if !regexp.MustCompile(`\b` + env + `\b`).MatchString(text) {
				t.Errorf("%s: key %s: env var %s is not mentioned", exampleConfig, k, env)
			}
		}
	}
}

// load reads a config file through the same path as the commands.
func load(t *testing.T, file string) *config.Config {
	t.Helper()
	v := config.NewViper()
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			t.Fatalf("read %s: %v", file, err)
		}
	}
	c, err := config.Load(v)
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	return c
}

func TestExampleConfigLoadsValidAndMatchesDefaults(t *testing.T) {
	clearEnv(t)
	got := load(t, exampleConfig)
	if p := got.Problems(false); len(p) > 0 {
		t.Errorf("%s has problems:\n  %s", exampleConfig, strings.Join(p, "\n  "))
	}
	// Every value shown is the default, as the comments say.
	if want := load(t, ""); !reflect.DeepEqual(got, want) {
		t.Errorf("%s differs from the defaults:\n got %+v\nwant %+v", exampleConfig, got, want)
	}
}

// envLine matches KEY=VALUE, optionally commented out ("# KEY=VALUE").
var envLine = regexp.MustCompile(`^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$`)

// parseEnvExample returns the active and the commented-out variables.
func parseEnvExample(t *testing.T) (active, commented map[string]string) {
	t.Helper()
	f, err := os.Open(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	active, commented = map[string]string{}, map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		m := envLine.FindStringSubmatch(line)
		switch {
		case m != nil && m[1] == "":
			if _, dup := active[m[2]]; dup {
				t.Errorf(".env.example:%d: %s set twice", n, m[2])
			}
			active[m[2]] = m[3]
		case m != nil:
			commented[m[2]] = m[3]
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			t.Errorf(".env.example:%d: not KEY=VALUE: %q", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return active, commented
}

func TestEnvExample(t *testing.T) {
	active, commented := parseEnvExample(t)
	known := map[string]string{} // env var -> key
	for _, k := range config.Keys() {
		for _, e := range config.EnvVars(k) {
			known[e] = k
		}
	}
	for _, e := range sortedKeys(known) {
		if strings.HasPrefix(e, "SFMC_") {
			if _, a := active[e]; !a {
				if _, c := commented[e]; !c {
					t.Errorf("%s is missing", e)
				}
			}
		}
	}
	all := map[string]string{}
	for k, v := range commented {
		all[k] = v
	}
	for k, v := range active {
		all[k] = v
	}
	for _, e := range sortedKeys(all) {
		key, ok := known[e]
		if !ok && !strings.HasPrefix(e, "AWS_") && !strings.HasPrefix(e, "GOOGLE_") && !strings.HasPrefix(e, "AZURE_") {
			t.Errorf("%s sets no configuration key", e)
		}
		if config.SecretKeys[key] && all[e] != "" && !strings.Contains(all[e], "your-") {
			t.Errorf("%s=%q does not look like a placeholder", e, all[e])
		}
	}
	if _, a := active["SFMC_CLIENT_SECRET"]; a {
		if _, b := active["SFMC_CLIENT_SECRET_FILE"]; b {
			t.Error("SFMC_CLIENT_SECRET and SFMC_CLIENT_SECRET_FILE are both active; config.Load refuses that")
		}
	}

	// The documented setup, .env.example plus the example config, is a valid
	// configuration for a run.
	clearEnv(t)
	for k, v := range active {
		t.Setenv(k, v)
	}
	c := load(t, exampleConfig)
	if p := c.Problems(true); len(p) > 0 {
		t.Errorf(".env.example + %s have problems:\n  %s", exampleConfig, strings.Join(p, "\n  "))
	}
}

// dig walks nested maps.
func dig(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

// kubernetesRecipes are the CronJob recipes; each gets the same checks.
var kubernetesRecipes = []string{"kubernetes/cronjob.yaml", "kubernetes/indexed-job.yaml"}

func cronJob(t *testing.T, file string) (job map[string]any, docs []map[string]any) {
	t.Helper()
	docs = decodeAll(t, file)
	for _, d := range docs {
		if d["kind"] == "CronJob" {
			if d["apiVersion"] != "batch/v1" {
				t.Errorf("CronJob apiVersion = %v, want batch/v1", d["apiVersion"])
			}
			return d, docs
		}
	}
	t.Fatalf("%s has no CronJob", file)
	return nil, nil
}

func TestCronJob(t *testing.T) {
	for _, file := range kubernetesRecipes {
		t.Run(path.Base(file), func(t *testing.T) { checkCronJob(t, file) })
	}
}

// checkCronJob checks a CronJob recipe's hardening, secrets and config file.
func checkCronJob(t *testing.T, file string) {
	job, docs := cronJob(t, file)
	if got := dig(job, "spec", "concurrencyPolicy"); got != "Forbid" {
		t.Errorf("concurrencyPolicy = %v, want Forbid", got)
	}
	pod := dig(job, "spec", "jobTemplate", "spec", "template", "spec").(map[string]any)
	if got := dig(pod, "securityContext", "runAsNonRoot"); got != true {
		t.Errorf("pod securityContext.runAsNonRoot = %v, want true", got)
	}
	if uid, _ := dig(pod, "securityContext", "runAsUser").(int); uid == 0 {
		t.Errorf("pod securityContext.runAsUser = %v, want a non-zero uid", dig(pod, "securityContext", "runAsUser"))
	}
	containers, _ := pod["containers"].([]any)
	if len(containers) != 1 {
		t.Fatalf("%d containers, want 1", len(containers))
	}
	c := containers[0].(map[string]any)
	for field, want := range map[string]any{"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false} {
		if got := dig(c, "securityContext", field); got != want {
			t.Errorf("container securityContext.%s = %v, want %v", field, got, want)
		}
	}
	if caps, _ := dig(c, "securityContext", "capabilities", "drop").([]any); !slices.Contains(caps, any("ALL")) {
		t.Errorf("container capabilities.drop = %v, want ALL", caps)
	}
	if got := dig(pod, "securityContext", "seccompProfile", "type"); got != "RuntimeDefault" {
		t.Errorf("pod seccompProfile = %v, want RuntimeDefault", got)
	}
	if got := dig(pod, "automountServiceAccountToken"); got != false {
		t.Errorf("automountServiceAccountToken = %v, want false", got)
	}

	// Secrets come from a Secret: never a literal value in the manifest.
	secretEnv := map[string]bool{}
	for k := range config.SecretKeys {
		for _, e := range config.EnvVars(k) {
			secretEnv[e] = true
		}
	}
	env := map[string]map[string]any{}
	for _, e := range c["env"].([]any) {
		em := e.(map[string]any)
		env[em["name"].(string)] = em
		if secretEnv[em["name"].(string)] {
			if _, literal := em["value"]; literal || dig(em, "valueFrom", "secretKeyRef") == nil {
				t.Errorf("env %s must come from a secretKeyRef", em["name"])
			}
		}
	}
	for _, name := range []string{"SFMC_AUTH_URL", "SFMC_CLIENT_ID"} {
		if env[name] == nil || dig(env[name], "valueFrom", "secretKeyRef", "name") == nil {
			t.Errorf("env %s does not come from a Secret", name)
		}
	}
	// SFMC_CLIENT_SECRET_FILE points into a mounted secret volume.
	secretFile, _ := dig(env["SFMC_CLIENT_SECRET_FILE"], "value").(string)
	secretVolumes := map[string]bool{}
	for _, v := range pod["volumes"].([]any) {
		vm := v.(map[string]any)
		if dig(vm, "secret", "secretName") != nil {
			secretVolumes[vm["name"].(string)] = true
		}
	}
	mounted := false
	for _, m := range c["volumeMounts"].([]any) {
		mm := m.(map[string]any)
		if secretVolumes[mm["name"].(string)] && secretFile != "" && strings.HasPrefix(secretFile, mm["mountPath"].(string)+"/") {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("SFMC_CLIENT_SECRET_FILE=%q is not inside a mounted secret volume", secretFile)
	}

	// The embedded config file uses real keys and validates.
	for _, d := range docs {
		if d["kind"] != "ConfigMap" {
			continue
		}
		for name, content := range d["data"].(map[string]any) {
			if !strings.HasSuffix(name, ".yaml") {
				continue
			}
			keys := map[string]any{}
			flatten("", decodeDocs(t, name, []byte(content.(string)))[0], keys)
			defaults := config.Defaults()
			for _, k := range sortedKeys(keys) {
				if _, ok := defaults[k]; !ok {
					t.Errorf("ConfigMap %s: %s is not a configuration key", name, k)
				}
				if config.SecretKeys[k] {
					t.Errorf("ConfigMap %s: secret key %s belongs in the Secret", name, k)
				}
			}
			clearEnv(t)
			p := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(p, []byte(content.(string)), 0o600); err != nil {
				t.Fatal(err)
			}
			if probs := load(t, p).Problems(false); len(probs) > 0 {
				t.Errorf("ConfigMap %s has problems: %v", name, probs)
			}
		}
	}
}

// TestIndexedJob checks what makes the sharded recipe work: an Indexed Job
// whose completions equal the shard count the pods are told, retried per
// index, without a --shard that would make every pod the same shard, into a
// destination all pods share, with every shard given units to back up.
func TestIndexedJob(t *testing.T) {
	job, docs := cronJob(t, "kubernetes/indexed-job.yaml")
	spec := dig(job, "spec", "jobTemplate", "spec").(map[string]any)
	if spec["completionMode"] != "Indexed" {
		t.Errorf("completionMode = %v, want Indexed", spec["completionMode"])
	}
	completions, _ := spec["completions"].(int)
	if completions < 2 || spec["parallelism"] != completions {
		t.Errorf("completions %v, parallelism %v: want the same N >= 2", spec["completions"], spec["parallelism"])
	}
	if n, _ := spec["backoffLimitPerIndex"].(int); n < 1 {
		t.Errorf("backoffLimitPerIndex = %v, want a per-shard retry", spec["backoffLimitPerIndex"])
	}
	if _, ok := spec["backoffLimit"]; ok {
		t.Error("backoffLimit and backoffLimitPerIndex together: use only the per-index limit")
	}
	for _, r := range dig(spec, "podFailurePolicy", "rules").([]any) {
		if a := r.(map[string]any)["action"]; a == "FailJob" {
			t.Error("podFailurePolicy FailJob would stop the healthy shards: use FailIndex")
		}
	}
	c := dig(spec, "template", "spec", "containers").([]any)[0].(map[string]any)
	count := ""
	for _, e := range c["env"].([]any) {
		em := e.(map[string]any)
		switch em["name"] {
		case "BACKUP_CREATOR_SHARD_COUNT":
			count, _ = em["value"].(string)
		case "BACKUP_CREATOR_SHARD", "JOB_COMPLETION_INDEX":
			t.Errorf("env %s would override the index Kubernetes gives each pod", em["name"])
		}
	}
	if count != strconv.Itoa(completions) {
		t.Errorf("BACKUP_CREATOR_SHARD_COUNT = %q, want completions (%d)", count, completions)
	}
	args := []string{}
	for _, a := range c["args"].([]any) {
		args = append(args, a.(string))
	}
	if slices.Contains(args, "--shard") {
		t.Error("args set --shard: every pod would be the same shard")
	}
	if i := slices.Index(args, "--dest"); i < 0 || !strings.Contains(args[i+1], "://") || strings.HasPrefix(args[i+1], "file://") {
		t.Errorf("args %v: the shards need one shared cloud destination", args)
	}

	// Each pod (JOB_COMPLETION_INDEX 0..N-1) gets its own, non-empty part of
	// account_ids, and together they cover all of it.
	var content string
	for _, d := range docs {
		if d["kind"] == "ConfigMap" {
			content, _ = dig(d, "data", "backup-creator.yaml").(string)
		}
	}
	clearEnv(t)
	p := filepath.Join(t.TempDir(), "backup-creator.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := load(t, p)
	covered := map[string]int{}
	for i := range completions {
		sh, err := shard.New(i, completions)
		if err != nil {
			t.Fatal(err)
		}
		units, err := sh.Select(cfg.AccountIDs)
		if err != nil || len(units) == 0 {
			t.Errorf("pod %d backs up %v (%v): an idle shard", i, units, err)
		}
		for _, u := range units {
			covered[u]++
		}
	}
	for _, u := range cfg.AccountIDs {
		if covered[u] != 1 {
			t.Errorf("unit %s is in %d shards", u, covered[u])
		}
	}
}

// invocation is one run of the binary found in a recipe.
type invocation struct {
	where   string
	command string // "" (root), "run", "config show", ...
	flags   []string
}

// shellWords splits a command line into words, honouring quotes and ending
// at a comment. Operators (&&, ||, ;, |, &) are words of their own; a
// redirection such as 2>&1 or >>file stays one word.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord, inOp := false, false
	var quote rune
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord, inOp = false, false
		}
	}
	for _, r := range line {
		isOp := r == ';' || r == '|' || r == '&'
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			if inOp {
				flush()
			}
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			flush()
		case r == '#' && !inWord:
			return words // comment
		case (r == '>' || r == '<') && inWord && !inOp && strings.Trim(cur.String(), "0123456789<>") != "":
			flush() // --json>out.json: the redirection starts a word
			cur.WriteRune(r)
			inWord = true
		case isOp && inWord && !inOp && strings.HasSuffix(cur.String(), ">"):
			cur.WriteRune(r) // >&1
		case isOp:
			if !inOp {
				flush()
			}
			cur.WriteRune(r)
			inWord, inOp = true, true
		default:
			if inOp {
				flush()
			}
			cur.WriteRune(r)
			inWord = true
		}
	}
	flush()
	return words
}

var (
	assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	redirect   = regexp.MustCompile(`^[0-9]*[<>]`)
)

func isOperator(w string) bool {
	return w == "&&" || w == "||" || w == ";" || w == "|" || w == "&"
}

// invocations finds the backup-creator commands in one shell command line:
// the binary in command position (first word, after env assignments, or after
// an operator), its subcommand, and its --flags up to the next redirection or
// operator.
func invocations(where, line string) []invocation {
	words := shellWords(line)
	var out []invocation
	cmdPos := true
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case isOperator(w):
			cmdPos = true
			continue
		case cmdPos && assignment.MatchString(w):
			continue
		case !cmdPos || path.Base(w) != "backup-creator":
			cmdPos = false
			continue
		}
		cmdPos = false
		args := []string{}
		for i++; i < len(words) && !isOperator(words[i]) && !redirect.MatchString(words[i]); i++ {
			args = append(args, words[i])
		}
		i-- // let the loop see the operator
		out = append(out, parseArgs(where, args))
	}
	return out
}

// parseArgs splits args into the (sub)command and its flag names.
func parseArgs(where string, args []string) invocation {
	inv := invocation{where: where}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		inv.command = args[0]
		args = args[1:]
		if inv.command == "config" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			inv.command += " " + args[0]
			args = args[1:]
		}
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if !strings.HasPrefix(a, "--") {
				name = a // short flags are not in the list: reported as unknown
			}
			inv.flags = append(inv.flags, name)
		}
	}
	return inv
}

func readLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines.
	return strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n")
}

// addContainers adds the backup-creator invocations of a CronJob's containers.
func addContainers(file string, job map[string]any, add func(string, []invocation)) {
	for _, c := range dig(job, "spec", "jobTemplate", "spec", "template", "spec", "containers").([]any) {
		cm := c.(map[string]any)
		var words []string
		for _, field := range []string{"command", "args"} {
			list, _ := cm[field].([]any)
			for _, w := range list {
				words = append(words, w.(string))
			}
		}
		if _, ok := cm["command"]; !ok {
			words = append([]string{"backup-creator"}, words...)
		}
		if path.Base(words[0]) == "backup-creator" {
			add(file, []invocation{parseArgs(file+" container "+cm["name"].(string), words[1:])})
		}
	}
}

// recipeInvocations collects every backup-creator command in the recipes.
func recipeInvocations(t *testing.T) map[string][]invocation {
	t.Helper()
	found := map[string][]invocation{}
	add := func(file string, invs []invocation) { found[file] = append(found[file], invs...) }

	for _, f := range []string{"crontab.example"} {
		for n, line := range readLines(t, f) {
			if s := strings.TrimSpace(line); s == "" || strings.HasPrefix(s, "#") {
				continue
			}
			add(f, invocations(f+":"+strconv.Itoa(n+1), line))
		}
	}

	for _, f := range []string{"systemd/backup-creator.service"} {
		for n, line := range readLines(t, f) {
			for _, d := range []string{"ExecStart=", "ExecStartPre=", "ExecStartPost=", "ExecStop="} {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), d); ok {
					add(f, invocations(f+":"+strconv.Itoa(n+1), strings.TrimLeft(v, "-+!@:")))
				}
			}
		}
	}

	// Kubernetes: the image's entrypoint is backup-creator unless command says otherwise.
	for _, file := range kubernetesRecipes {
		job, _ := cronJob(t, file)
		addContainers(file, job, add)
	}

	// GitHub Actions: the run: scripts of every step.
	wf := decodeAll(t, "github-actions/backup.yml")[0]
	for jobName, j := range wf["jobs"].(map[string]any) {
		for i, s := range dig(j.(map[string]any), "steps").([]any) {
			script, _ := s.(map[string]any)["run"].(string)
			for _, line := range strings.Split(strings.ReplaceAll(script, "\\\n", " "), "\n") {
				add("github-actions/backup.yml", invocations("github-actions/backup.yml job "+jobName+" step "+strconv.Itoa(i+1), line))
			}
		}
	}
	return found
}

func TestRecipesUseOnlyExistingFlags(t *testing.T) {
	found := recipeInvocations(t)
	// Guard the extractor: each recipe runs the binary at least this often.
	want := map[string]int{"crontab.example": 2, "systemd/backup-creator.service": 1, "kubernetes/cronjob.yaml": 1,
		"kubernetes/indexed-job.yaml": 1, "github-actions/backup.yml": 2}
	for f, n := range want {
		if len(found[f]) < n {
			t.Errorf("%s: found %d backup-creator invocations, want at least %d: %+v", f, len(found[f]), n, found[f])
		}
	}
	for _, f := range sortedKeys(found) {
		for _, inv := range found[f] {
			allowed, ok := recipeFlags[inv.command]
			if !ok {
				t.Errorf("%s: unknown command %q", inv.where, inv.command)
				continue
			}
			for _, fl := range inv.flags {
				if !slices.Contains(allowed, fl) && !slices.Contains(globalFlags, fl) {
					t.Errorf("%s: backup-creator %s has no flag %q", inv.where, inv.command, fl)
				}
			}
			if inv.command == "run" && !slices.Contains(inv.flags, "timeout") {
				t.Errorf("%s: a scheduled run should set --timeout below the schedule's interval", inv.where)
			}
		}
	}
}

func TestInvocationExtraction(t *testing.T) {
	tests := []struct {
		line string
		want []invocation
	}{
		{"cd /x && /usr/local/bin/backup-creator run --dest /b --timeout=4h >>/var/log/x 2>&1",
			[]invocation{{command: "run", flags: []string{"dest", "timeout"}}}},
		{`FOO=1 ./backup-creator config validate --online -v | tee out`,
			[]invocation{{command: "config validate", flags: []string{"online", "-v"}}}},
		{`tar -xzf "backup-creator_1_linux.tar.gz" backup-creator # not a run`, nil},
		{`./backup-creator --version; backup-creator list --json`,
			[]invocation{{flags: []string{"version"}}, {command: "list", flags: []string{"json"}}}},
		{`./backup-creator run --dest "s3://b/p x" --bogus`, []invocation{{command: "run", flags: []string{"dest", "bogus"}}}},
		{`true&&./backup-creator verify --all 2>&1|cat`, []invocation{{command: "verify", flags: []string{"all"}}}},
		{`backup-creator run --json>out.json`, []invocation{{command: "run", flags: []string{"json"}}}},
	}
	for _, tc := range tests {
		got := invocations("", tc.line)
		for i := range got {
			got[i].where = ""
		}
		if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("invocations(%q) = %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

// TestRecipeFlagListMatchesCommands keeps recipeFlags honest: every command
// and flag listed exists in the real command tree.
func TestRecipeFlagListMatchesCommands(t *testing.T) {
	root := cmd.NewRootCmd(&cmd.App{})
	root.InitDefaultHelpFlag()
	root.InitDefaultVersionFlag()
	for _, name := range sortedKeys(recipeFlags) {
		c := root
		if name != "" {
			var err error
			var rest []string
			c, rest, err = root.Find(strings.Fields(name))
			if err != nil || len(rest) > 0 || c == root {
				t.Errorf("command %q does not exist (found %q, rest %v, err %v)", name, c.CommandPath(), rest, err)
				continue
			}
		}
		for _, fl := range append(slices.Clone(recipeFlags[name]), globalFlags...) {
			if fl == "help" {
				continue // cobra adds --help to every command when it runs
			}
			if flagOf(c, fl) == nil {
				t.Errorf("backup-creator %s: flag --%s is listed in recipeFlags but not defined in cmd/", name, fl)
			}
		}
	}
}

func flagOf(c *cobra.Command, name string) any {
	if f := c.Flag(name); f != nil {
		return f
	}
	if f := c.InheritedFlags().Lookup(name); f != nil {
		return f
	}
	return nil
}

// TestSystemdUnitsVerify runs systemd-analyze verify on the units when it is
// installed. ExecStart's binary must exist for verify, so the test binary
// stands in for /usr/local/bin/backup-creator. Any output is a finding:
// verify warns about unknown or malformed settings without failing.
func TestSystemdUnitsVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (scripts/check-configs.sh installs it)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var units []string
	for _, name := range []string{"backup-creator.service", "backup-creator.timer"} {
		b, err := os.ReadFile(filepath.Join("systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("/usr/local/bin/backup-creator"), []byte(self))
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, p)
	}
	out, err := exec.CommandContext(t.Context(), sa, append([]string{"verify"}, units...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestRecipesUseOnlyKnownVariables: a BACKUP_CREATOR_* variable in a recipe
// that sets no key would be reported by every run (and by config validate as
// an error), so each one must be a configuration key's variable.
func TestRecipesUseOnlyKnownVariables(t *testing.T) {
	re := regexp.MustCompile(`\bBACKUP_CREATOR_[A-Z0-9_]*[A-Z0-9]\b`)
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, name := range re.FindAllString(string(b), -1) {
			if u := config.UnknownSettings(nil, []string{name + "=x"}); len(u) > 0 {
				t.Errorf("%s: %s", p, u[0])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
