package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// TestRunYear10000DateDoesNotStopTheBackup: SFMC's 9999-12-31T23:59:59-06:00
// is year 10000 in UTC, which Go cannot put into JSON. The block is backed
// up with its date as SFMC wrote it, the other blocks too, and the manifest
// and state are written; the watermark ignores the date.
func TestRunYear10000DateDoesNotStopTheBackup(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 5, TieBlocks: -1})
	b := findBlock(t, h.emu, "Bulk 0000002", "")
	if err := h.emu.SetModifiedDate(h.emu.DefaultMID(), b.ID, time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -6*3600))); err != nil {
		t.Fatal(err)
	}
	want := len(contentBlockIDs(t, h.emu))
	code, sum, errOut := h.runJSON()
	if code != ExitOK || sum.Blocks != want || sum.FutureDated != 1 {
		t.Fatalf("exit %d, %d blocks (want %d), %d future-dated: %s", code, sum.Blocks, want, sum.FutureDated, errOut)
	}
	if sum.WatermarkTo == nil || sum.WatermarkTo.Year() > 2100 {
		t.Fatalf("watermark %v", sum.WatermarkTo)
	}
	var found bool
	for _, mb := range h.manifest(sum.Backup).Blocks {
		if mb.ID == b.ID {
			found = mb.ModifiedDate == "9999-12-31T23:59:59-06:00"
		}
	}
	if !found {
		t.Fatal("the block is not in the manifest with SFMC's date string")
	}
	first := sum.Backup
	// The next runs work too (the block is skipped as already stored).
	code, sum, errOut = h.runJSON()
	if code != ExitOK || sum.Blocks != 0 {
		t.Fatalf("second run: exit %d, %d blocks: %s", code, sum.Blocks, errOut)
	}
	if code, rep, errOut := h.restoreJSON("--dry-run"); code != ExitOK || rep.Counts.Unchanged != want {
		t.Fatalf("restore --dry-run: exit %d, %+v: %s", code, rep.Counts, errOut)
	}
	if code, out, errOut := h.run("list", "--dest", h.dest, first); code != ExitOK || !strings.Contains(out, "Bulk 0000002") {
		t.Fatalf("list: exit %d: %s\n%s", code, out, errOut)
	}
}
