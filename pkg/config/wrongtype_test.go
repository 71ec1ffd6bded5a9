package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A value of the wrong type (BACKUP_CREATOR_TIMEOUT=abc, concurrency: x in
// the file) must be reported like every other invalid value: naming the key,
// where it came from (the variable) and what a valid value looks like, in
// our words rather than the decoder's.
//
// This fails today: Load returns mapstructure's text, which `run` and
// `config validate` print as
//
//	backup-creator: configuration: decoding failed due to the following error(s):
//
//	  'timeout' time: invalid duration
//
// (a blank line, no variable name, no example such as 6h), while an
// out-of-range value reads "concurrency 0 is out of range (1-256)".
// CLI: BACKUP_CREATOR_TIMEOUT=abc backup-creator config validate.
func TestWrongTypeValueNamesItsSourceAndAnExample(t *testing.T) {
	clearEnv(t)
	t.Setenv("BACKUP_CREATOR_TIMEOUT", "abc")
	_, err := Load(NewViper())
	if err == nil {
		t.Fatal("BACKUP_CREATOR_TIMEOUT=abc loaded without an error")
	}
	msg := err.Error()
	if strings.Contains(msg, "decoding failed due to the following error(s)") {
		t.Errorf("the decoder's wording reaches the operator:\n%s", msg)
	}
	if !strings.Contains(msg, "BACKUP_CREATOR_TIMEOUT") {
		t.Errorf("the error does not name the variable that set the value:\n%s", msg)
	}
	if !strings.Contains(msg, "6h") && !strings.Contains(msg, "30m") {
		t.Errorf("the error gives no example of a valid duration:\n%s", msg)
	}
}

// Every value of the wrong type is listed, each with its key, its value and
// where it came from; a secret's value is never shown.
func TestWrongTypeValuesInTheFileAreAllListed(t *testing.T) {
	clearEnv(t)
	t.Setenv("BACKUP_CREATOR_SFMC_PAGE_SIZE", "lots")
	file := filepath.Join(t.TempDir(), "c.yaml")
	yaml := "concurrency: x\ntrack_deletions: maybe\ntrack_deletions_max_share: half\nsfmc:\n  client_secret: {nested: s3cr3t}\ndest: ./ok\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	v := NewViper()
	v.SetConfigFile(file)
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	_, err := Load(v)
	var te *TypeError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a *TypeError", err)
	}
	want := []string{
		`concurrency "x" (in ` + file + `) is not a whole number: e.g. 8`,
		`sfmc.client_secret (in ` + file + `) is not a single value (a string)`,
		`sfmc.page_size "lots" (BACKUP_CREATOR_SFMC_PAGE_SIZE) is not a whole number: e.g. 500`,
		`track_deletions "maybe" (in ` + file + `) is not a boolean: use true or false`,
		`track_deletions_max_share "half" (in ` + file + `) is not a number: e.g. 0.5`,
	}
	if strings.Join(te.Problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(te.Problems, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("the secret's value is in the error: %s", err)
	}
}
