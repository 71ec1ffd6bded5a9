package cmd

import (
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// A value of the wrong type is a configuration problem like any other: exit
// 2 and the problem list of "invalid configuration", for every command that
// loads the configuration; a flag that overrides it wins.
func TestWrongTypeValueIsAConfigProblem(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	t.Setenv("BACKUP_CREATOR_TIMEOUT", "abc")
	for _, args := range [][]string{{"config", "validate"}, {"config", "show"}, {"list"}} {
		code, out, errOut := h.run(append(args, "--dest", h.dest)...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s%s", args, code, ExitUsage, out, errOut)
		}
		want := `invalid configuration (1 problem):` + "\n" + `  - timeout "abc" (BACKUP_CREATOR_TIMEOUT) is not a duration: use a number with a unit (ms, s, m, h), e.g. 6h`
		if !strings.Contains(errOut, want) {
			t.Errorf("%v: stderr does not hold\n%s\ngot:\n%s", args, want, errOut)
		}
	}
	if code, _, errOut := h.runJSON("--timeout", "1h"); code != ExitOK {
		t.Errorf("run --timeout 1h over BACKUP_CREATOR_TIMEOUT=abc: exit %d\n%s", code, errOut)
	}
}
