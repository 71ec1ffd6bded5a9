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
	code, out, errOut := h.run("config", "validate", "--config", p, "--dest", h.dest)
	if code == ExitOK {
		return // read as YAML: fine too
	}
	if !strings.Contains(errOut, ".yaml") {
		t.Errorf("exit %d; the error does not say the file needs a .yaml, .json or .toml name:\n%s%s", code, out, errOut)
	}
}
