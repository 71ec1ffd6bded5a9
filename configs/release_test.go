package configs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The release tests check .goreleaser.yaml and the Dockerfiles structurally,
// without GoReleaser or a container engine: scripts/release-check.sh runs them
// on both of its paths, and `goreleaser check` adds the schema check when
// GoReleaser is installed.

// generatedDocs is where the before hooks write man pages and completions;
// archive sources under it do not exist until then.
const generatedDocs = "build/docs"

func goreleaserConfig(t *testing.T) map[string]any {
	t.Helper()
	return decodeAll(t, "../.goreleaser.yaml")[0]
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func TestReleaseConfigBuild(t *testing.T) {
	cfg := goreleaserConfig(t)
	if cfg["version"] != 2 {
		t.Errorf("version = %v, want 2", cfg["version"])
	}
	hooks := strs(dig(cfg, "before", "hooks"))
	for _, want := range []string{"go mod tidy", "go run ./scripts/gen-docs " + generatedDocs} {
		if !slices.ContainsFunc(hooks, func(h string) bool { return strings.HasSuffix(h, want) }) {
			t.Errorf("before.hooks lack %q", want)
		}
	}
	builds, _ := cfg["builds"].([]any)
	if len(builds) != 1 {
		t.Fatalf("%d builds, want 1", len(builds))
	}
	b := builds[0].(map[string]any)
	if b["main"] != "." || b["binary"] != "backup-creator" {
		t.Errorf("main %v, binary %v; want . and backup-creator", b["main"], b["binary"])
	}
	if !slices.Contains(strs(b["env"]), "CGO_ENABLED=0") {
		t.Error("build env lacks CGO_ENABLED=0")
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		if !slices.Contains(strs(b["goos"]), goos) {
			t.Errorf("goos lacks %s", goos)
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if !slices.Contains(strs(b["goarch"]), arch) {
			t.Errorf("goarch lacks %s", arch)
		}
	}
	if !slices.Contains(strs(b["flags"]), "-trimpath") {
		t.Error("flags lack -trimpath")
	}
	ld := strings.Join(strs(b["ldflags"]), " ")
	for _, want := range []string{"-s", "-w", "-X main.version={{.Version}}", "-X main.commit={{.Commit}}", "-X main.date={{.CommitDate}}"} {
		if !regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(want) + `(\s|$)`).MatchString(ld) {
			t.Errorf("ldflags %q lack %q", ld, want)
		}
	}
	if b["mod_timestamp"] != "{{ .CommitTimestamp }}" {
		t.Errorf("mod_timestamp = %v", b["mod_timestamp"])
	}

	// The variables the linker sets exist in package main.
	src, err := os.ReadFile("../main.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"version", "commit", "date"} {
		if !regexp.MustCompile(`(?m)^\s*` + v + `\s+= ""`).Match(src) {
			t.Errorf("main.go declares no %s variable for -X main.%s", v, v)
		}
	}
}

func TestReleaseConfigArchives(t *testing.T) {
	cfg := goreleaserConfig(t)
	archives, _ := cfg["archives"].([]any)
	if len(archives) != 1 {
		t.Fatalf("%d archives, want 1", len(archives))
	}
	a := archives[0].(map[string]any)
	if !slices.Equal(strs(a["formats"]), []string{"tar.gz"}) {
		t.Errorf("formats = %v, want [tar.gz]", a["formats"])
	}
	zip := false
	for _, o := range a["format_overrides"].([]any) {
		om := o.(map[string]any)
		if om["goos"] == "windows" && slices.Equal(strs(om["formats"]), []string{"zip"}) {
			zip = true
		}
	}
	if !zip {
		t.Error("no zip format override for windows")
	}

	// Every file source matches something, and together they ship README,
	// LICENSE and every recipe, and no Go file.
	shipped := map[string]bool{}
	var generated []string
	for _, f := range a["files"].([]any) {
		src, _ := f.(string)
		if fm, ok := f.(map[string]any); ok {
			src, _ = fm["src"].(string)
		}
		if strings.HasPrefix(src, generatedDocs+"/") {
			generated = append(generated, src)
			continue
		}
		matches, err := filepath.Glob(filepath.Join("..", src))
		if err != nil || len(matches) == 0 {
			t.Errorf("archive file %q matches nothing (%v)", src, err)
		}
		for _, m := range matches {
			rel, _ := filepath.Rel("..", m)
			shipped[filepath.ToSlash(rel)] = true
		}
	}
	want := []string{"README.md", "LICENSE"}
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".go") {
			want = append(want, "configs/"+filepath.ToSlash(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !shipped[w] {
			t.Errorf("the archives do not ship %s", w)
		}
	}
	for _, want := range []string{generatedDocs + "/man/*.1", generatedDocs + "/completions/*"} {
		if !slices.Contains(generated, want) {
			t.Errorf("the archives do not ship %s", want)
		}
	}
	for s := range shipped {
		if strings.HasSuffix(s, ".go") {
			t.Errorf("the archives ship Go source %s", s)
		}
	}
	if dig(cfg, "checksum", "name_template") == nil {
		t.Error("no checksum section")
	}
}

func TestReleaseConfigImage(t *testing.T) {
	cfg := goreleaserConfig(t)
	dockers, _ := cfg["dockers_v2"].([]any)
	if len(dockers) != 1 {
		t.Fatalf("%d dockers_v2 entries, want 1", len(dockers))
	}
	d := dockers[0].(map[string]any)
	df, _ := d["dockerfile"].(string)
	b, err := os.ReadFile(filepath.Join("..", df))
	if err != nil {
		t.Fatalf("dockers_v2 dockerfile %q: %v", df, err)
	}
	release := string(b)
	// It copies the prebuilt binary from the per-platform build context.
	if !regexp.MustCompile(`(?m)^COPY \$TARGETPLATFORM/backup-creator `).MatchString(release) {
		t.Errorf("%s does not COPY $TARGETPLATFORM/backup-creator", df)
	}
	if regexp.MustCompile(`(?m)^RUN .*go build`).MatchString(release) {
		t.Errorf("%s compiles; it must use the release binary", df)
	}
	for _, p := range strs(d["platforms"]) {
		if p != "linux/amd64" && p != "linux/arm64" {
			t.Errorf("image platform %s is not built by the builds section", p)
		}
	}

	src, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{df: release, "Dockerfile": string(src)} {
		stages := regexp.MustCompile(`(?m)^FROM `).FindAllStringIndex(content, -1)
		if len(stages) == 0 {
			t.Fatalf("%s: no FROM", name)
		}
		final := content[stages[len(stages)-1][0]:]
		// A base with CA certificates (distroless/static ships them) or an
		// explicit install of them.
		if !strings.Contains(final, "distroless/static") && !strings.Contains(final, "ca-certificates") {
			t.Errorf("%s: the runtime stage has no CA certificates", name)
		}
		m := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(final)
		if m == nil || m[1] == "root" || strings.HasPrefix(m[1], "0:") || m[1] == "0" {
			t.Errorf("%s: the runtime stage does not switch to a non-root USER", name)
		} else if !regexp.MustCompile(`^[1-9][0-9]*(:[0-9]+)?$`).MatchString(m[1]) {
			t.Errorf("%s: USER %s is not numeric; Kubernetes runAsNonRoot cannot verify it", name, m[1])
		}
		if !regexp.MustCompile(`(?m)^ENTRYPOINT \["(/usr/local/bin/)?backup-creator"\]`).MatchString(final) {
			t.Errorf("%s: ENTRYPOINT is not backup-creator", name)
		}
	}
	if len(regexp.MustCompile(`(?m)^FROM `).FindAllString(string(src), -1)) < 2 {
		t.Error("Dockerfile is not multi-stage")
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version="} {
		if !strings.Contains(string(src), want) {
			t.Errorf("Dockerfile's build lacks %s", want)
		}
	}

	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "**/.env"} {
		if !slices.Contains(strings.Split(string(ignore), "\n"), want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}

// TestCILintAllowsParallelRunners: on a shared build machine another
// golangci-lint may run at the same time, which fails a run without
// --allow-parallel-runners ("parallel golangci-lint is running").
func TestCILintAllowsParallelRunners(t *testing.T) {
	b, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	runs := regexp.MustCompile(`(?m)^[^#\n]*golangci-lint"? run\b.*$`).FindAllString(string(b), -1)
	if len(runs) == 0 {
		t.Fatal(".ci/run does not run golangci-lint")
	}
	for _, r := range runs {
		if !strings.Contains(r, "--allow-parallel-runners") {
			t.Errorf(".ci/run runs golangci-lint without --allow-parallel-runners: %s", strings.TrimSpace(r))
		}
	}
}
