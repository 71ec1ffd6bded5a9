package cmd

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// assertGolden compares got with testdata/name, or rewrites it with -update.
func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join(goldenDir, name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (go test ./cmd -run %s -update rewrites it)\n--- got\n%s\n--- want\n%s", p, t.Name(), got, want)
	}
}

var goldenDir, _ = filepath.Abs("testdata")

func TestConfigShowGoldenAndNoSecrets(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	// The golden output shows the defaults, not the harness's test pages
	// or the suite's listing concurrency.
	os.Unsetenv("BACKUP_CREATOR_SFMC_PAGE_SIZE")
	os.Unsetenv("BACKUP_CREATOR_SFMC_LIST_CONCURRENCY")
	const fileSecret, envSecret = "file-secret-Zq81", "env-secret-Kk27"
	const fileHook, envHook, smtpPass = "https://hooks.example/file-hook-Pw3", "https://hooks.example/env-hook-Lm5", "smtp-pass-Rt6"
	const pingURL, pgwURL = "https://hc.example/ping/ping-key-Vb8/{account_id}", "http://pgw:pgw-pass-Hy4@127.0.0.1:9091"
	os.WriteFile("backup-creator.yaml", []byte("dest: ./from-file\nconcurrency: 3\nsfmc:\n  client_secret: "+fileSecret+
		"\n  account_id: \"100001\"\ns3:\n  region: eu-west-1\nnotify:\n  webhook_url: "+fileHook+"\n  smtp:\n    password: "+smtpPass+"\n"+
		"metrics:\n  pushgateway_url: "+pgwURL+"\n"), 0o600)
	t.Setenv("SFMC_AUTH_URL", "https://mc0123456789abcdefghijklmnop.auth.marketingcloudapis.com/")
	t.Setenv("SFMC_CLIENT_ID", "client-id-from-env")
	t.Setenv("SFMC_CLIENT_SECRET", envSecret)
	t.Setenv("BACKUP_CREATOR_NOTIFY_SLACK_WEBHOOK_URL", envHook)
	t.Setenv("BACKUP_CREATOR_NOTIFY_PING_URL", pingURL)
	for _, format := range []string{"table", "json"} {
		args := []string{"config", "show", "--log-level", "warn"}
		if format == "json" {
			args = append(args, "--json")
		}
		code, out, errOut := h.run(args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, s := range []string{fileSecret, envSecret, h.emu.ClientSecret(), fileHook, envHook, smtpPass, "hook-", "ping-key-Vb8", "pgw-pass-Hy4", "pgw:"} {
			if strings.Contains(out+errOut, s) {
				t.Fatalf("config show (%s) prints a secret", format)
			}
		}
		assertGolden(t, "config-show."+format+".golden", out)
	}

	// A secret file: the path may show, the content never.
	os.Remove("backup-creator.yaml")
	os.Unsetenv("SFMC_CLIENT_SECRET")
	secretPath := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretPath, []byte(fileSecret+"\n"), 0o600)
	t.Setenv("SFMC_CLIENT_SECRET_FILE", secretPath)
	code, out, errOut := h.run("config", "show", "--json")
	if code != 0 || strings.Contains(out+errOut, fileSecret) {
		t.Fatalf("exit %d; secret from file printed: %v", code, strings.Contains(out+errOut, fileSecret))
	}
	if !strings.Contains(out, `"secret file"`) {
		t.Errorf("config show does not say the secret came from a file:\n%s", out)
	}
}

func TestConfigValidateListsEveryProblem(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	t.Setenv("SFMC_AUTH_URL", "")
	t.Setenv("BACKUP_CREATOR_CONCURRENCY", "0")
	t.Setenv("BACKUP_CREATOR_TYPES", "htmlblok")
	t.Setenv("BACKUP_CREATOR_LOCK_STALE_AFTER", "1s")
	code, _, errOut := h.run("config", "validate", "--dest", "ftp://nowhere")
	if code != ExitUsage {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, want := range []string{"sfmc.auth_url", "concurrency", "htmlblok", "lock.stale_after", "ftp"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("validate does not report %q:\n%s", want, errOut)
		}
	}
}

func TestConfigValidateOnline(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	code, out, errOut := h.run("config", "validate", "--online", "--dest", h.dest)
	if code != 0 || !strings.Contains(out, "SFMC authentication: ok") || !strings.Contains(out, "does not exist yet") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Lstat(h.dest); !os.IsNotExist(err) {
		t.Errorf("validate --online created the missing destination (%v)", err)
	}
	os.Mkdir(h.dest, 0o700)
	code, out, errOut = h.run("config", "validate", "--online", "--dest", h.dest)
	if code != 0 || !strings.Contains(out, "ok (write, delete)") {
		t.Fatalf("existing destination: exit %d\n%s\n%s", code, out, errOut)
	}
	if ents, _ := os.ReadDir(h.dest); len(ents) != 0 {
		t.Errorf("validate --online left %v in the destination", ents)
	}
	n := 0
	openDest(t, h.dest).List(t.Context(), "", func(o storage.ObjectInfo) error { n++; return nil })
	if n != 0 {
		t.Errorf("the probe left %d objects behind", n)
	}
	os.Chmod(h.dest, 0o500)
	defer os.Chmod(h.dest, 0o700)
	if f, err := os.CreateTemp(h.dest, "x"); err == nil { // root ignores modes
		f.Close()
		os.Remove(f.Name())
	} else {
		code, out, _ = h.run("config", "validate", "--online", "--dest", h.dest)
		if code != ExitFailure || !strings.Contains(out, "not writable") {
			t.Errorf("read-only destination: exit %d, want 1\n%s", code, out)
		}
	}
	os.Chmod(h.dest, 0o700)
	t.Setenv("SFMC_CLIENT_SECRET", "wrong")
	code, out, _ = h.run("config", "validate", "--online", "--dest", h.dest)
	if code != ExitAuth || !strings.Contains(out, "SFMC authentication: FAILED") {
		t.Errorf("wrong secret: exit %d, want 4\n%s", code, out)
	}
}

func TestConfigInitRefusesToOverwrite(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	code, _, errOut := h.run("config", "init", "my.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile("my.yaml")
	if err != nil || !strings.Contains(string(b), "client_secret") {
		t.Fatalf("template: %v", err)
	}
	os.WriteFile("my.yaml", []byte("mine"), 0o600)
	code, _, errOut = h.run("config", "init", "my.yaml")
	if code != ExitUsage || !strings.Contains(errOut, "exists") {
		t.Errorf("overwrite: exit %d %s", code, errOut)
	}
	if b, _ := os.ReadFile("my.yaml"); string(b) != "mine" {
		t.Error("config init overwrote an existing file")
	}
	// The template loads and validates, with the credentials from the environment.
	code, out, errOut := h.run("--config", "fresh.yaml", "config", "init", "fresh.yaml")
	if code != ExitUsage {
		t.Fatalf("--config naming a missing file: exit %d %s %s", code, out, errOut)
	}
	if code, _, errOut := h.run("config", "init", "fresh.yaml"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if code, out, errOut := h.run("--config", "fresh.yaml", "config", "validate"); code != 0 {
		t.Errorf("the template does not validate: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = h.run("--config", filepath.Join(t.TempDir(), "none.yaml"), "config", "show")
	if code != ExitUsage {
		t.Errorf("a missing --config file: exit %d %s", code, errOut)
	}
}
