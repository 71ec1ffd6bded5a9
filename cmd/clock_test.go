package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// TestRunWatermarkInTheFutureExits2: a damaged state whose watermark lies
// after SFMC's clock refuses the run (exit 2) with the way out; --full
// repairs it.
func TestRunWatermarkInTheFutureExits2(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 5, TieBlocks: -1})
	if code, _, errOut := h.runJSON(); code != ExitOK {
		t.Fatalf("first run: exit %d: %s", code, errOut)
	}
	p := filepath.Join(h.dest, repo.StateKey)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	good := h.state().Watermark.Format(time.RFC3339Nano)
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), good, "2999-01-01T00:00:00Z", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, sum, errOut := h.runJSON()
	if code != ExitUsage || !strings.Contains(sum.Error, "2999-01-01T00:00:00Z") || !strings.Contains(sum.Error, "--since") || !strings.Contains(sum.Error, "--full") {
		t.Fatalf("exit %d, error %q: %s", code, sum.Error, errOut)
	}
	code, sum, errOut = h.runJSON("--full")
	if code != ExitOK || sum.WatermarkTo == nil || sum.WatermarkTo.Format(time.RFC3339Nano) != good {
		t.Fatalf("--full: exit %d, watermark %v (want %s): %s", code, sum.WatermarkTo, good, errOut)
	}
	if code, _, errOut := h.runJSON(); code != ExitOK {
		t.Fatalf("run after --full: exit %d: %s", code, errOut)
	}
}
