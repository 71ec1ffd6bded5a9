package config

import (
	"slices"
	"strings"
	"testing"
)

func TestUnknownSettingsSuggestTheClosestKey(t *testing.T) {
	got := UnknownSettings(
		[]string{"dest", "notify.slack_webhok_url", "sfmc.client_secret_fille", "slack_webhook_url", "region", "concurency", "notify.smtp", "xyzzy", "foo"},
		[]string{
			"BACKUP_CREATOR_DEST=/x", "SFMC_CLIENT_ID=id", "PATH=/bin",
			"BACKUP_CREATOR_NOTIFY_SLACK_WEBHOK_URL=https://secret-value",
			"BACKUP_CREATOR_SFMC_CLIENT_SECRET_FILLE=/x",
			"BACKUP_CREATOR_TOTALLY_UNRELATED=1",
			"SFMC_CLIENT_SECRET_FIEL=/x", "SFMC_INSTANCE=s7",
			"BACKUP_CREATOR_REQUIRE_CLOUD_TESTS=1",
		})
	want := []Unknown{
		{Name: "concurency", Suggestion: "concurrency"},
		{Name: "foo"},
		{Name: "notify.slack_webhok_url", Suggestion: "notify.slack_webhook_url"},
		{Name: "region", Suggestion: "s3.region"},
		{Name: "sfmc.client_secret_fille", Suggestion: "sfmc.client_secret_file"},
		{Name: "slack_webhook_url", Suggestion: "notify.slack_webhook_url"},
		{Name: "xyzzy"},
		{Name: "BACKUP_CREATOR_NOTIFY_SLACK_WEBHOK_URL", Env: true, Suggestion: "BACKUP_CREATOR_NOTIFY_SLACK_WEBHOOK_URL"},
		{Name: "BACKUP_CREATOR_SFMC_CLIENT_SECRET_FILLE", Env: true, Suggestion: "BACKUP_CREATOR_SFMC_CLIENT_SECRET_FILE"},
		{Name: "BACKUP_CREATOR_TOTALLY_UNRELATED", Env: true},
		{Name: "SFMC_CLIENT_SECRET_FIEL", Env: true, Suggestion: "SFMC_CLIENT_SECRET_FILE"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
	for _, u := range got {
		if strings.Contains(u.String(), "secret-value") {
			t.Errorf("%s shows a value", u)
		}
	}
}

// Keys added to Config by any change are known to the unknown-key check (and
// readable from the environment) only through Defaults: every decoded field
// must have a default, and every default a field.
func TestEveryConfigFieldIsAKey(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range Keys() {
		keys[k] = true
	}
	fields := map[string]bool{}
	for _, f := range structKeys() {
		fields[f] = true
		if !keys[f] && !NonKeyFields[f] {
			t.Errorf("Config field %s has no entry in Defaults(): viper would not read it from the environment and config validate would call it unknown", f)
		}
	}
	for k := range keys {
		if !fields[k] {
			t.Errorf("Defaults() key %s is not a Config field", k)
		}
	}
}

func TestLevenshtein(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"slack_webhok_url", "slack_webhook_url", 1}, {"flaw", "lawn", 2}} {
		if d := levenshtein(tc.a, tc.b); d != tc.d {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
	}
}

// Backend is what config validate and the store factory share: every
// destination a store refuses before contacting its service is a problem.
func TestProblemsIncludeBackendSettings(t *testing.T) {
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "") // azblob needs an account then
	clearEnv(t)
	for dest, want := range map[string]string{
		"s3://b/p?secret_key=abc": `unknown query parameter "secret_key"`,
		"s3://b/p?sse=rot13":      `unknown sse "rot13"`,
		"s3://b/../p":             "s3 destination",
		"gs://b/p?x=1":            `unknown query parameter "x"`,
		"azblob://c/p":            "set account_name or service_url",
		"s3://user:pw@b/p":        "contains credentials",
	} {
		c := load(t, "")
		c.Dest = dest
		p := strings.Join(c.Problems(false), "\n")
		if !strings.Contains(p, want) {
			t.Errorf("%s: problems %q do not say %q", dest, p, want)
		}
		if strings.Contains(p, "abc") || strings.Contains(p, "pw@") {
			t.Errorf("%s: problems show a credential: %s", dest, p)
		}
	}
	c := load(t, "")
	c.Dest = "s3://b/p?region=eu-west-1&sse=aws:kms&kms_key_id=alias/k"
	b, err := c.Backend()
	if err != nil || b.Scheme != "s3" || b.S3.Bucket != "b" || b.S3.Prefix != "p" || b.S3.Region != "eu-west-1" || b.S3.KMSKeyID != "alias/k" {
		t.Errorf("Backend() = %+v, %v", b, err)
	}
}
