package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, file string) *Config {
	t.Helper()
	v := NewViper()
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Load(v)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func clearEnv(t *testing.T) {
	for _, k := range Keys() {
		for _, e := range EnvVars(k) {
			t.Setenv(e, "")
			os.Unsetenv(e)
		}
	}
}

func TestDefaults(t *testing.T) {
	clearEnv(t)
	c := load(t, "")
	if c.Dest != "./backups" || c.Concurrency != 8 || c.Overlap != time.Hour || c.SFMC.PageSize != 500 {
		t.Errorf("defaults: %+v", c)
	}
	if len(c.Types) != 1 || c.Types[0] != "default" {
		t.Errorf("types default = %v", c.Types)
	}
	if p := c.Problems(false); len(p) != 0 {
		t.Errorf("the defaults are not valid: %v", p)
	}
	if c.SFMC.RetryBaseDelay != 500*time.Millisecond || c.SFMC.MaxRetryAfter != time.Minute || !c.TrackDeletions {
		t.Errorf("defaults: %+v", c.SFMC)
	}
}

func TestEnvOnlyAndPrecedence(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("dest: /from/file\nconcurrency: 3\nsfmc:\n  client_id: file-id\n  auth_url: https://x.auth.marketingcloudapis.com/\ns3:\n  region: eu-west-1\n"), 0o600)

	c := load(t, file)
	if c.Dest != "/from/file" || c.Concurrency != 3 || c.SFMC.ClientID != "file-id" {
		t.Errorf("file values not used: %+v", c)
	}
	if c.S3.Region != "eu-west-1" {
		t.Errorf("s3.region from file = %v", c.S3.Region)
	}

	t.Setenv("BACKUP_CREATOR_DEST", "/from/env")
	t.Setenv("SFMC_CLIENT_ID", "env-id")
	t.Setenv("BACKUP_CREATOR_TYPES", "htmlblock, 220")
	t.Setenv("BACKUP_CREATOR_OVERLAP", "15m")
	t.Setenv("BACKUP_CREATOR_S3_REGION", "us-east-2")
	c = load(t, file)
	if c.Dest != "/from/env" || c.SFMC.ClientID != "env-id" || c.Concurrency != 3 {
		t.Errorf("env must beat file, file must beat defaults: %+v", c)
	}
	if len(c.Types) != 2 || c.Types[0] != "htmlblock" || c.Types[1] != "220" {
		t.Errorf("types from env = %q", c.Types)
	}
	if c.Overlap != 15*time.Minute {
		t.Errorf("overlap from env = %v", c.Overlap)
	}
	if c.S3.Region != "us-east-2" {
		t.Errorf("s3.region from env = %v", c.S3.Region)
	}

	// env-only, no file at all
	c = load(t, "")
	if c.Dest != "/from/env" || c.SFMC.ClientID != "env-id" {
		t.Errorf("env-only configuration not read: %+v", c)
	}
}

func TestSecretFile(t *testing.T) {
	clearEnv(t)
	f := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(f, []byte("s3cr3t-from-file\n"), 0o600)
	t.Setenv("SFMC_CLIENT_SECRET_FILE", f)
	c := load(t, "")
	if c.SFMC.ClientSecret.Value() != "s3cr3t-from-file" {
		t.Errorf("secret from file = %q", c.SFMC.ClientSecret.Value())
	}
	t.Setenv("SFMC_CLIENT_SECRET", "other")
	if _, err := Load(NewViper()); err == nil || !strings.Contains(err.Error(), "both set") {
		t.Errorf("both secret sources set: err = %v", err)
	}
	os.Unsetenv("SFMC_CLIENT_SECRET")
	t.Setenv("SFMC_CLIENT_SECRET_FILE", filepath.Join(t.TempDir(), "missing"))
	if _, err := Load(NewViper()); err == nil || !strings.Contains(err.Error(), "client_secret_file") {
		t.Errorf("missing secret file: err = %v", err)
	}
}

func TestSecretFileHygiene(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		content string
		mode    os.FileMode
		want    string // the secret; "" = refused
		warn    string // a warning must contain this; "" = no warning
		err     string
	}{
		{"one newline, silently", "abc123secret\n", 0o600, "abc123secret", "", ""},
		{"no newline", "abc123secret", 0o400, "abc123secret", "", ""},
		{"byte-order mark", "\uFEFFabc123secret\n", 0o600, "abc123secret", "byte-order mark", ""},
		{"windows line ending", "abc123secret\r\n", 0o600, "abc123secret", `\r\n`, ""},
		{"blank lines and spaces", "  abc123secret\n\n\n", 0o600, "abc123secret", "blank lines or spaces", ""},
		{"world readable", "abc123secret\n", 0o644, "abc123secret", "readable by group or others (mode 0644)", ""},
		{"group readable", "abc123secret\n", 0o640, "abc123secret", "chmod 600", ""},
		{"two lines", "SFMC_CLIENT_ID=x\nSFMC_CLIENT_SECRET=y\n", 0o600, "", "", "several lines"},
		{"control character", "abc\x00123secret", 0o600, "", "", "control characters"},
		{"empty", "\n", 0o600, "", "", "is empty"},
		{"too large", strings.Repeat("A", MaxSecretFileSize+1), 0o600, "", "", "larger than 64 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(f, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(f, tc.mode); err != nil { // whatever the umask
				t.Fatal(err)
			}
			t.Setenv("SFMC_CLIENT_SECRET_FILE", f)
			c, err := Load(NewViper())
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "SFMC_CLIENT_SECRET=y") {
					t.Errorf("the error shows the file's content: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.SFMC.ClientSecret.Value(); got != tc.want {
				t.Errorf("secret = %q, want %q", got, tc.want)
			}
			joined := strings.Join(c.Warnings, "\n")
			if tc.warn == "" && joined != "" || !strings.Contains(joined, tc.warn) {
				t.Errorf("warnings %q, want %q", joined, tc.warn)
			}
		})
	}
	t.Run("group readable, owned by another user", func(t *testing.T) {
		// Kubernetes: root-owned, 0440, shared through fsGroup.
		if os.Getuid() != 0 {
			t.Skip("needs root to give the file to another user")
		}
		f := filepath.Join(dir, "shared")
		if err := os.WriteFile(f, []byte("abc123secret\n"), 0o440); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(f, 65532, 65532); err != nil {
			t.Skip(err)
		}
		t.Setenv("SFMC_CLIENT_SECRET_FILE", f)
		c, err := Load(NewViper())
		if err != nil || len(c.Warnings) != 0 {
			t.Fatalf("err %v, warnings %q; want none", err, c.Warnings)
		}
	})
	if _, err := os.Stat("/dev/zero"); err == nil {
		t.Run("/dev/zero", func(t *testing.T) {
			t.Setenv("SFMC_CLIENT_SECRET_FILE", "/dev/zero")
			if _, err := Load(NewViper()); err == nil || !strings.Contains(err.Error(), "larger than 64 KiB") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestParseDestHidesCredentials(t *testing.T) {
	for _, d := range []string{
		"s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY@bucket/prefix",
		"s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMIK7MDENG@bucket/prefix",
		"gs://user:wJalrXUtnFEMI%zz@bucket/p",
		"s3://AKIA:wJalrXUtnFEMI K7MDENG@bucket/p",
	} {
		_, err := ParseDest(d)
		if err == nil {
			t.Fatalf("%s accepted", d)
		}
		for _, part := range []string{"wJalrXUtnFEMI", "K7MDENG"} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("error %q shows a part of the secret", err)
			}
		}
	}
}

func TestSecretNeverFormats(t *testing.T) {
	s := Secret("hunter2")
	for _, got := range []string{s.String(), s.GoString(), func() string { b, _ := s.MarshalText(); return string(b) }()} {
		if strings.Contains(got, "hunter2") {
			t.Fatalf("secret leaked: %q", got)
		}
	}
}

func TestProblemsListsAll(t *testing.T) {
	clearEnv(t)
	c := load(t, "")
	c.Dest = "ftp://x/y"
	c.Concurrency = 0
	c.SFMC.AccountID = "12a"
	c.Log.Level = "loud"
	p := c.Problems(true)
	want := []string{"sfmc.auth_url", "sfmc.client_id", "sfmc.client_secret", "unknown scheme", "concurrency", "account_id", "log.level"}
	joined := strings.Join(p, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("problems do not mention %q:\n%s", w, joined)
		}
	}
}

func TestParseDest(t *testing.T) {
	good := map[string]string{
		"./backups": "file", "/var/b": "file", "file:///var/b": "file", "s3://bucket/pre/fix": "s3",
		"gs://b": "gs", "azblob://container/p": "azblob", `C:\backups`: "file",
	}
	for in, scheme := range good {
		d, err := ParseDest(in)
		if err != nil || d.Scheme != scheme {
			t.Errorf("ParseDest(%q) = %+v, %v; want scheme %s", in, d, err, scheme)
		}
	}
	for _, bad := range []string{"ftp://x", "s3://", "s3://user:pass@bucket/x", "file://"} {
		_, err := ParseDest(bad)
		if err == nil {
			t.Errorf("ParseDest(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "pass@") {
			t.Errorf("ParseDest(%q) error leaks credentials: %v", bad, err)
		}
	}
}

func TestMonitoringAndShardKeys(t *testing.T) {
	clearEnv(t)
	t.Setenv("BACKUP_CREATOR_NOTIFY_PING_URL", "https://hc.example/ping/key-Qx/{account_id}")
	t.Setenv("BACKUP_CREATOR_METRICS_TEXTFILE", "/var/lib/node_exporter/backup-creator.prom")
	t.Setenv("BACKUP_CREATOR_METRICS_PUSHGATEWAY_URL", "http://pgw:pw-Qx@127.0.0.1:9091")
	t.Setenv("BACKUP_CREATOR_BU_CONCURRENCY", "3")
	t.Setenv("BACKUP_CREATOR_SHARD", "1/4")
	t.Setenv("BACKUP_CREATOR_SHARD_COUNT", "4")
	c := load(t, "")
	if c.Notify.PingURL.Value() != "https://hc.example/ping/key-Qx/{account_id}" || c.Metrics.Textfile == "" ||
		c.Metrics.PushgatewayURL.Value() == "" || c.BUConcurrency != 3 || c.Shard != "1/4" || c.ShardCount != 4 {
		t.Fatalf("env-only keys not read: %+v", c)
	}
	if p := c.Problems(false); len(p) != 0 {
		t.Errorf("problems: %v", p)
	}
	red := c.Redacted(NewViper())
	for _, k := range []string{"notify.ping_url", "metrics.pushgateway_url"} {
		if !SecretKeys[k] || red[k] != "(set)" {
			t.Errorf("%s is not redacted: %q", k, red[k])
		}
	}

	c.BUConcurrency = 0
	c.Shard = "4/4"
	c.ShardCount = -1
	c.Metrics.PushgatewayURL = "pgw:9091"
	joined := strings.Join(c.Problems(false), "\n")
	for _, w := range []string{"bu_concurrency 0", "shard index 4 is out of range", "shard_count -1", "metrics.pushgateway_url"} {
		if !strings.Contains(joined, w) {
			t.Errorf("problems do not mention %q:\n%s", w, joined)
		}
	}
	if strings.Contains(joined, "pw-Qx") || strings.Contains(joined, "key-Qx") {
		t.Error("a problem shows a secret")
	}
}
