package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunRefusesNonLoopback(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"--addr", "0.0.0.0:0", "--no-large"}, io.Discard, &stderr); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stderr.String(), "loopback") {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--bogus"}, {"--mids", "x"}, {"--assets", "-5"}, {"--assets", "many"}} {
		if code := run(t.Context(), args, io.Discard, io.Discard); code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "sfmc.env")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"--blocks", "5", "--assets", "200", "--no-large", "--ties", "-1", "--env-file", envFile}, pw, &stderr)
		pw.Close()
		done <- code
	}()
	env := map[string]string{}
	sc := bufio.NewScanner(pr)
	for len(env) < 3 && sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		env[k] = v
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if !strings.HasPrefix(env["SFMC_AUTH_URL"], "http://127.0.0.1:") || !strings.HasSuffix(env["SFMC_AUTH_URL"], "/") ||
		env["SFMC_CLIENT_ID"] == "" || env["SFMC_CLIENT_SECRET"] == "" {
		t.Fatalf("env lines %v", env)
	}
	fi, err := os.Stat(envFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("env file: %v %v", fi, err)
	}
	content, err := os.ReadFile(envFile)
	if err != nil || !strings.Contains(string(content), "SFMC_AUTH_URL="+env["SFMC_AUTH_URL"]) {
		t.Errorf("env file content %q", content)
	}
	body := `{"grant_type":"client_credentials","client_id":"` + env["SFMC_CLIENT_ID"] + `","client_secret":"` + env["SFMC_CLIENT_SECRET"] + `"}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, env["SFMC_AUTH_URL"]+"v2/token", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("token: %d", res.StatusCode)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
	var served int
	hint := stderr.String()
	if i := strings.Index(hint, "serving"); i >= 0 {
		hint = hint[i:]
	}
	if _, err := fmt.Sscanf(hint, "serving %d assets", &served); err != nil || served < 205 {
		t.Errorf("hint on stderr %q: %d assets (want the fixture, 5 blocks and 200 account assets)", stderr.String(), served)
	}
}

func TestEnvFileNeverClobbersARealOne(t *testing.T) {
	real := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(real, []byte("SFMC_CLIENT_SECRET=the-real-one\n"), 0o600)
	if err := writeEnvFile(real, "SFMC_CLIENT_ID=x\n"); err == nil {
		t.Fatal("overwrote an env file the emulator did not write")
	}
	if b, _ := os.ReadFile(real); string(b) != "SFMC_CLIENT_SECRET=the-real-one\n" {
		t.Fatalf("real env file changed: %q", b)
	}
	own := filepath.Join(t.TempDir(), "emu.env")
	for _, id := range []string{"a", "b"} { // its own file is rewritten on the next start
		if err := writeEnvFile(own, "SFMC_CLIENT_ID="+id+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(own); !strings.HasSuffix(string(b), "SFMC_CLIENT_ID=b\n") {
		t.Errorf("own env file not rewritten: %q", b)
	}
}

func TestHostileModes(t *testing.T) {
	for _, v := range []string{"echo-secrets", "redirect-token=http://127.0.0.1:9", "redirect-rest=https://127.0.0.1:9",
		"flood=1048576", "ignore-keyset", "ignore-id-range", "endless-pages", "control-chars"} {
		fs, err := hostileFaults(v)
		if err != nil || len(fs) == 0 {
			t.Errorf("%s: %v, %d faults", v, err, len(fs))
		}
		if !strings.Contains(hostileHelp, strings.SplitN(v, "=", 2)[0]) {
			t.Errorf("%s is not in the help text", v)
		}
	}
	for _, v := range []string{"bogus", "flood=x", "redirect-token=ftp://x"} {
		if _, err := hostileFaults(v); err == nil {
			t.Errorf("%s accepted", v)
		}
		var stderr bytes.Buffer
		if code := run(t.Context(), []string{"--hostile", v}, io.Discard, &stderr); code != 2 {
			t.Errorf("--hostile %s: exit %d", v, code)
		}
	}
}
