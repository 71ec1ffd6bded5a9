package config

import (
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
