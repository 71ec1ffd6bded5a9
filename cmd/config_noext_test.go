package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// --config FILE without an extension (/etc/backup-creator/config) must
// either be read as YAML or be refused with an error that says what to do
// (name it .yaml, .json or .toml).
//
// This fails today: the error is viper's `Unsupported Config Type ""`,
// which tells a tired on-call person nothing. CLI:
// cp configs/backup-creator.example.yaml /tmp/conf &&
// backup-creator config validate --config /tmp/conf.
func TestConfigFileWithoutExtension(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	p := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(p, []byte("concurrency: 4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// README ("--config FILE ... a file without one is refused") and the
	// flag's help chose refusing it: exit 2, like any unreadable config.
	code, out, errOut := h.run("config", "validate", "--config", p, "--dest", h.dest)
	if code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	if !strings.Contains(errOut, p+".yaml") {
		t.Errorf("exit %d; the error does not say the file needs a .yaml, .json or .toml name:\n%s%s", code, out, errOut)
	}
	// An extension that names no format backup-creator reads is refused too, naming it.
	conf := p + ".conf"
	if err := os.Rename(p, conf); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = h.run("config", "validate", "--config", conf, "--dest", h.dest)
	if code != ExitUsage || !strings.Contains(errOut, `".conf"`) || !strings.Contains(errOut, ".yaml") {
		t.Errorf("--config %s: exit %d, want %d and an error naming .conf and .yaml:\n%s%s", conf, code, ExitUsage, out, errOut)
	}
}
