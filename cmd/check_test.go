package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup"
	"github.com/backup-creator/backup-creator/pkg/backup/restore"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// Misspelled keys in the file and unknown BACKUP_CREATOR_* variables are
// problems for config validate (exit 2), each with the closest known key, and
// never with their values.
func TestConfigValidateReportsUnknownSettings(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	const val = "https://hooks.example/value-Qx81"
	os.WriteFile("backup-creator.yaml", []byte("notify:\n  slack_webhok_url: "+val+"\n  smtp: {}\nsfmc:\n  client_secret_fille: /run/secrets/x\nconcurency: 3\nsomething_else: 1\n"), 0o600)
	t.Setenv("BACKUP_CREATOR_NOTIFY_WEBHOK_URL", val)
	t.Setenv("BACKUP_CREATOR_SLACK_WEBHOOK_URL", val)
	t.Setenv("SFMC_CLIENT_SECRET_FIEL", "/x")
	t.Setenv("SFMC_SOMETHING_OF_ANOTHER_TOOL", "1")
	t.Setenv("BACKUP_CREATOR_REQUIRE_CLOUD_TESTS", "1") // the project's own test switch
	code, out, errOut := h.run("config", "validate", "--dest", h.dest, "--log-format", "console")
	if code != ExitUsage {
		t.Fatalf("exit %d, want 2\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		`"notify.slack_webhok_url", ignored (did you mean notify.slack_webhook_url?)`,
		`"sfmc.client_secret_fille", ignored (did you mean sfmc.client_secret_file?)`,
		`"concurency", ignored (did you mean concurrency?)`,
		`"something_else", ignored (backup-creator config show lists every key)`,
		`"BACKUP_CREATOR_NOTIFY_WEBHOK_URL", ignored (did you mean BACKUP_CREATOR_NOTIFY_WEBHOOK_URL?)`,
		`"BACKUP_CREATOR_SLACK_WEBHOOK_URL", ignored (did you mean BACKUP_CREATOR_NOTIFY_SLACK_WEBHOOK_URL?)`,
		`"SFMC_CLIENT_SECRET_FIEL", ignored (did you mean SFMC_CLIENT_SECRET_FILE?)`,
		"config file backup-creator.yaml: unknown key",
		"environment: unknown environment variable",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("validate does not report %s:\n%s", want, errOut)
		}
	}
	for _, not := range []string{val, "SFMC_SOMETHING_OF_ANOTHER_TOOL", "REQUIRE_CLOUD_TESTS", "notify.smtp\""} {
		if strings.Contains(out+errOut, not) {
			t.Errorf("validate prints %q:\n%s", not, errOut)
		}
	}
}

// run does not refuse an unknown setting (a cron job keeps backing up), but
// warns about each one on every run.
func TestRunWarnsAboutUnknownSettings(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	os.WriteFile("backup-creator.yaml", []byte("notify:\n  slack_webhok_url: https://hooks.example/x\n"), 0o600)
	t.Setenv("BACKUP_CREATOR_CONCURENCY", "3")
	code, _, errOut := h.runJSON()
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var warnings []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
		var m map[string]any
		if jsonUnmarshal(line, &m) == nil && m["level"] == "warn" && strings.HasPrefix(m["message"].(string), "unknown setting ignored") {
			warnings = append(warnings, m)
		}
	}
	if len(warnings) != 2 {
		t.Fatalf("%d unknown-setting warnings, want 2:\n%s", len(warnings), errOut)
	}
	if warnings[0]["key"] != "notify.slack_webhok_url" || warnings[0]["did_you_mean"] != "notify.slack_webhook_url" || warnings[0]["config_file"] != "backup-creator.yaml" {
		t.Errorf("file key warning: %v", warnings[0])
	}
	if warnings[1]["env"] != "BACKUP_CREATOR_CONCURENCY" || warnings[1]["did_you_mean"] != "BACKUP_CREATOR_CONCURRENCY" {
		t.Errorf("env warning: %v", warnings[1])
	}
}

// config validate refuses every destination run refuses, with the same
// message, and neither prints a value that looks like a credential.
func TestValidateRefusesWhatRunRefuses(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "") // azblob needs an account then
	missing := filepath.Join(t.TempDir(), "typo", "deeper", "backups")
	for _, tc := range []struct{ dest, want string }{
		{"s3://bucket/sfmc?secret_key=SeCrEt-Value-77", `unknown query parameter "secret_key"`},
		{"s3://bucket/sfmc?sse=rot13", `unknown sse "rot13"`},
		{"s3://bucket/sfmc?kms_key_id=k", "kms_key_id needs sse"},
		{"s3://bucket/sfmc?endpoint=ftp://host", "invalid endpoint"},
		{"gs://bucket/sfmc?acl=public", `unknown query parameter "acl"`},
		{"azblob://container/sfmc?account_name=a&access_tier=Lukewarm", `unknown access tier "Lukewarm"`},
		{"azblob://container/sfmc", "set account_name or service_url"},
		{"azblob://container/sfmc?service_url=https://a.blob.example/?sig=SeCrEt-Value-77", "invalid service_url"},
		{missing, "the parent directory " + filepath.Dir(missing) + " does not exist"},
		{"/dev/null", "dest /dev/null is not a directory"},
	} {
		t.Run(tc.dest, func(t *testing.T) {
			code, out, errOut := h.run("config", "validate", "--dest", tc.dest, "--log-format", "console")
			if code != ExitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("config validate: exit %d, want 2 and %q\n%s%s", code, tc.want, out, errOut)
			}
			code, out, runErr := h.run("run", "--dest", tc.dest, "--log-format", "console")
			if code != ExitUsage || !strings.Contains(runErr, tc.want) {
				t.Errorf("run: exit %d, want 2 and %q\n%s%s", code, tc.want, out, runErr)
			}
			if strings.Contains(errOut+runErr, "SeCrEt-Value-77") {
				t.Errorf("a credential-like value is printed:\n%s\n%s", errOut, runErr)
			}
		})
	}
	if n := len(h.emu.Requests()); n != 0 {
		t.Errorf("run contacted SFMC %d times for a configuration it refuses", n)
	}
	if _, err := os.Stat(filepath.Dir(filepath.Dir(missing))); !os.IsNotExist(err) {
		t.Errorf("run created part of the missing tree (%v)", err)
	}
}

// run creates a missing destination only when its parent exists.
func TestRunCreatesOnlyTheLastDirectory(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	base := t.TempDir()
	deep := filepath.Join(base, "typo", "deeper", "backups")
	code, _, errOut := h.run("run", "--dest", deep)
	if code != ExitUsage || !strings.Contains(errOut, filepath.Join(base, "typo", "deeper")+" does not exist") {
		t.Fatalf("exit %d, want 2 naming the missing parent\n%s", code, errOut)
	}
	if ents, _ := os.ReadDir(base); len(ents) != 0 {
		t.Errorf("run created %v", ents)
	}
	h.dest = filepath.Join(base, "backups")
	if code, _, errOut := h.runJSON(); code != 0 {
		t.Fatalf("a destination whose parent exists: exit %d\n%s", code, errOut)
	}
	if fi, err := os.Stat(h.dest); err != nil || !fi.IsDir() {
		t.Errorf("run did not create the destination: %v", err)
	}
}

// .env sets only SFMC_*, BACKUP_CREATOR_* and the cloud credential variables;
// it names (never shows the values of) the others, and a byte-order mark
// does not eat its first key.
func TestEnvFileSetsOnlyDocumentedVariables(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	dest := filepath.Join(t.TempDir(), "from-dotenv")
	for _, k := range []string{"SSL_CERT_FILE", "HTTPS_PROXY", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AZURE_CLIENT_ID"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	os.WriteFile(".env", []byte("\uFEFFBACKUP_CREATOR_DEST="+dest+"\r\n"+
		"SSL_CERT_FILE=/tmp/evil-ca-Vq9.pem\nHTTPS_PROXY=http://proxy-Vq9.example:3128\nAWS_ENDPOINT_URL=http://elsewhere-Vq9\n"+
		"AWS_PROFILE=backups\nAZURE_CLIENT_ID=abc\nSSL_CERT_FILE=/again\n"), 0o600)
	code, out, errOut := h.run("config", "show", "--json", "--log-format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var entries []ConfigEntry
	jsonUnmarshal(out, &entries)
	for _, e := range entries {
		if e.Key == "dest" && (e.Value != dest || e.Source != "env file") {
			t.Errorf("the first key after a byte-order mark was not read: dest %+v", e)
		}
	}
	for _, k := range []string{"SSL_CERT_FILE", "HTTPS_PROXY", "AWS_ENDPOINT_URL"} {
		if v, set := os.LookupEnv(k); set {
			t.Errorf(".env set %s=%s", k, v)
		}
	}
	for _, k := range []string{"AWS_PROFILE", "AZURE_CLIENT_ID"} {
		if _, set := os.LookupEnv(k); !set {
			t.Errorf(".env did not set the cloud credential variable %s", k)
		}
	}
	var warn map[string]any
	for _, line := range strings.Split(errOut, "\n") {
		var m map[string]any
		if jsonUnmarshal(line, &m) == nil && m["ignored"] != nil {
			warn = m
		}
	}
	if warn == nil || warn["level"] != "warn" || warn["env_file"] != ".env" ||
		fmt.Sprint(warn["ignored"]) != "[SSL_CERT_FILE HTTPS_PROXY AWS_ENDPOINT_URL]" {
		t.Errorf("no warning naming the ignored variables once each:\n%s", errOut)
	}
	if strings.Contains(errOut, "Vq9") {
		t.Errorf("a value from .env is printed:\n%s", errOut)
	}
}

// The final error is printed once, in the log format; the pointer to --help
// follows only command-line mistakes.
func TestFinalErrorOnceAndHelpHintOnlyForUsage(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	for _, tc := range []struct {
		name      string
		args      []string
		json      bool // the error line is JSON
		usageHint bool
	}{
		{"config error, auto on a non-terminal", []string{"run", "--dest", "ftp://nowhere"}, true, false},
		{"config error, json", []string{"run", "--dest", "ftp://nowhere", "--log-format", "json"}, true, false},
		{"config error, console", []string{"run", "--dest", "ftp://nowhere", "--log-format", "console"}, false, false},
		{"config file unreadable", []string{"--config", "/nonexistent/c.yaml", "run"}, false, false},
		{"unknown flag", []string{"run", "--bogus"}, false, true},
		{"conflicting flags", []string{"run", "--full", "--since", "2026-01-01", "--log-format", "json"}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := h.run(tc.args...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want 2\n%s", code, errOut)
			}
			var errLines []string
			for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
				if strings.HasPrefix(l, "backup-creator: ") || strings.Contains(l, `"level":"error"`) {
					errLines = append(errLines, l)
				}
			}
			if len(errLines) != 1 {
				t.Fatalf("the error is printed %d times, want once:\n%s", len(errLines), errOut)
			}
			if got := strings.HasPrefix(errLines[0], "{"); got != tc.json {
				t.Errorf("error line is JSON: %v, want %v: %s", got, tc.json, errLines[0])
			}
			if got := strings.Contains(errOut, "--help' for usage"); got != tc.usageHint {
				t.Errorf("usage hint shown: %v, want %v:\n%s", got, tc.usageHint, errOut)
			}
			if strings.Contains(errOut, "\x1b[") {
				t.Errorf("colour codes on a non-terminal:\n%q", errOut)
			}
		})
	}
}

// Console logs are coloured only on a terminal, and never with NO_COLOR.
func TestConsoleLogColour(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	os.WriteFile("backup-creator.yaml", []byte("concurency: 3\n"), 0o600) // a warning to log
	for _, tc := range []struct {
		name    string
		tty     bool
		noColor string
		colour  bool
	}{
		{"file", false, "", false},
		{"terminal", true, "", true},
		{"terminal with NO_COLOR", true, "1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("NO_COLOR", tc.noColor)
			var out, errOut strings.Builder
			a := h.app(&out, &errOut)
			a.ErrIsTTY = tc.tty
			code := a.Execute(t.Context(), []string{"config", "show", "--log-format", "console"})
			if code != 0 || !strings.Contains(errOut.String(), "unknown setting ignored") {
				t.Fatalf("exit %d, no warning logged:\n%s", code, errOut.String())
			}
			if got := strings.Contains(errOut.String(), "\x1b["); got != tc.colour {
				t.Errorf("colour codes: %v, want %v:\n%q", got, tc.colour, errOut.String())
			}
		})
	}
}

// A wrong auth URL (no token endpoint: 404) exits 4 at once, as README and
// the EXIT STATUS texts say, for run and for config validate --online.
func TestWrongAuthURLExitsAuth(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	t.Setenv("SFMC_AUTH_URL", h.emu.AuthURL()+"typo/")
	code, _, errOut := h.run("run", "--dest", h.dest, "--log-format", "console")
	if code != ExitAuth || !strings.Contains(errOut, "answers 404") || !strings.Contains(errOut, "check sfmc.auth_url") {
		t.Errorf("run: exit %d, want 4 naming the auth URL\n%s", code, errOut)
	}
	if n := len(h.emu.Requests()); n != 1 {
		t.Errorf("%d requests, want 1 (a 404 from the token path is not retried)", n)
	}
	code, out, errOut := h.run("config", "validate", "--online", "--dest", h.dest)
	if code != ExitAuth || !strings.Contains(out, "SFMC authentication: FAILED") {
		t.Errorf("config validate --online: exit %d, want 4\n%s%s", code, out, errOut)
	}
	for _, cmd := range [][]string{{"run", "--help"}, {"config", "validate", "--help"}, {"restore", "--help"}} {
		_, out, _ := h.run(cmd...)
		if !strings.Contains(strings.Join(strings.Fields(out), " "), "no token endpoint at the auth URL (404, unknown host)") {
			t.Errorf("%v: EXIT STATUS does not explain exit 4 for a wrong auth URL", cmd)
		}
	}
}

// Counts of one are singular in every summary line.
func TestOutputSingulars(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{})
	if code, _, errOut := h.run("run", "--dest", h.dest); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	_, out, _ := h.run("list", "--dest", h.dest)
	if !strings.Contains(out, "\n1 backup in ") {
		t.Errorf("list after one run:\n%s", out)
	}
	id := sortedIDs(contentBlockIDs(t, h.emu))[0]
	if err := h.emu.UpdateAsset(h.emu.DefaultMID(), id, func(a *sfmctest.AssetSpec) { a.Content += " v2" }); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := h.run("run", "--dest", h.dest)
	if code != 0 || !strings.Contains(out, ": 1 block, ") {
		t.Fatalf("second run: exit %d, summary:\n%s%s", code, out, errOut)
	}
	second := strings.SplitN(out, ":", 2)[0]
	_, out, _ = h.run("list", second, "--dest", h.dest)
	if !strings.Contains(out, "UTC): 1 block, ") {
		t.Errorf("list %s:\n%s", second, out)
	}
	for _, bad := range []string{" 1 blocks", " 1 backups", " 1 files"} {
		if strings.Contains(out, bad) {
			t.Errorf("output says %q", bad)
		}
	}
}

// A --since in the future would find nothing and look like success: refused.
func TestRunRefusesSinceInTheFuture(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	for _, since := range []string{"2026-11-24", "2026-11-23T02:00:01Z"} {
		var out, errOut strings.Builder
		a := h.app(&out, &errOut)
		a.Now = func() time.Time { return now }
		code := a.Execute(t.Context(), []string{"run", "--dest", h.dest, "--since", since})
		if code != ExitUsage || !strings.Contains(errOut.String(), "is in the future (now 2026-11-23T02:00:00Z)") {
			t.Errorf("--since %s: exit %d, want 2\n%s", since, code, errOut.String())
		}
	}
	if n := len(h.emu.Requests()); n != 0 {
		t.Errorf("%d SFMC requests for a refused run", n)
	}
}

// Every variable configs/.env.example shows (set or commented out) is one an
// env file may set, so the documented template never triggers the warning.
func TestEnvExampleVariablesAreAllowed(t *testing.T) {
	b, err := os.ReadFile("../configs/.env.example")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
		k, _, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") || strings.ToUpper(k) != k {
			continue
		}
		n++
		if !envFileMaySet(k) {
			t.Errorf(".env.example shows %s, which an env file may not set", k)
		}
	}
	if n < 5 {
		t.Fatalf("found only %d variables in .env.example", n)
	}
}

// A dry run writes nothing: not even a missing destination or its lock file.
func TestRunDryRunDoesNotCreateTheDestination(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{})
	code, out, errOut := h.run("run", "--dry-run", "--dest", h.dest)
	if code != 0 || !strings.Contains(out, "would be backed up to "+h.dest) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Lstat(h.dest); !os.IsNotExist(err) {
		t.Errorf("run --dry-run created the destination (%v)", err)
	}
}

// The partial-failure messages of run and restore agree in number too.
func TestPartialErrorSingular(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&backup.PartialError{Failed: 1, Total: 1, Err: errors.New("x")}, "1 of 1 block could not be backed up"},
		{&backup.PartialError{Failed: 1, Total: 2, Err: errors.New("x")}, "1 of 2 blocks could not be backed up"},
		{&restore.RestoreError{Failed: 1, Total: 1, Err: errors.New("x")}, "1 of 1 selected block could not be restored"},
	} {
		if !strings.HasPrefix(tc.err.Error(), tc.want) {
			t.Errorf("%q, want %q", tc.err, tc.want)
		}
	}
}
