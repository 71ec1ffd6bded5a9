package cmd

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// A dry run in which a block cannot be planned (its backed-up JSON is
// damaged) exits 3; its plan must say so where the operator reads it: the
// summary line counts the failure, and the block's row reads as a sentence.
//
// This fails today: the dry-run summary line is "dry run: would create 0,
// update 0, leave 1 unchanged, skip 0 (...); nothing was written", with no
// failed count, and the failed row's reason is ": backup_.../blocks/...json
// does not match its manifest entry ..." (an empty reason joined with ": ").
// CLI: corrupt a block's .json in backups/, then restore --id ID,ID2 --dry-run.
func TestRestoreDryRunShowsFailedBlocks(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 5, TieBlocks: -1})
	h.runJSON()
	x, y := findBlock(t, h.emu, "Bulk 0000000", ""), findBlock(t, h.emu, "Bulk 0000001", "")
	files, err := filepath.Glob(filepath.Join(h.dest, "backup_*", "blocks", strconv.FormatInt(x.ID, 10)+"_*.json"))
	if err != nil || len(files) != 1 {
		t.Fatalf("block file of %d: %v %v", x.ID, files, err)
	}
	if err := os.WriteFile(files[0], []byte(`{"damaged":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := h.run("restore", "--dest", h.dest, "--dry-run", "--id", strconv.FormatInt(x.ID, 10)+","+strconv.FormatInt(y.ID, 10))
	if code != ExitPartial {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitPartial, out, errOut)
	}
	var summary string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "dry run:") {
			summary = l
		}
	}
	if !strings.Contains(summary, "1 failed") {
		t.Errorf("dry-run summary line does not count the failed block: %q", summary)
	}
	row := regexp.MustCompile(`(?m)^` + strconv.FormatInt(x.ID, 10) + `\s.*$`).FindString(out)
	if regexp.MustCompile(`\s: `).MatchString(row) {
		t.Errorf("the failed block's reason starts with a stray \": \": %q", row)
	}
}
