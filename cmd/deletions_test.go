package cmd

import (
	"strconv"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// TestRunEmptyIDListingRecordsNoDeletions: one empty listing from SFMC (the
// emulator's emptyPage fault on the id listing) must not mark every block
// deleted; accepting it records them, and the blocks listed again afterwards
// are live again for restore.
func TestRunEmptyIDListingRecordsNoDeletions(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 20, TieBlocks: -1})
	want := len(contentBlockIDs(t, h.emu))
	if code, _, errOut := h.runJSON(); code != ExitOK {
		t.Fatalf("first run: exit %d: %s", code, errOut)
	}
	// The incremental run's changed-block query is one request; the next
	// one, the id listing, comes back empty.
	h.emu.InjectFault(sfmctest.Fault{Route: sfmctest.RouteQuery, After: 1, EmptyPage: true})
	code, sum, errOut := h.runJSON()
	// Only the blocks the changed-block query saw (the overlap window) are listed.
	missing := want - sum.Blocks - sum.Skipped
	if code != ExitOK || sum.Deleted != 0 || sum.DeletionsSuppressed != missing || missing < want/2 {
		t.Fatalf("empty listing: exit %d, deleted %d, suppressed %d (want 0, %d): %s", code, sum.Deleted, sum.DeletionsSuppressed, missing, errOut)
	}
	if !strings.Contains(errOut, "track_deletions_max_share") || !strings.Contains(errOut, `"missing":`+strconv.Itoa(missing)) {
		t.Errorf("no warning with the numbers:\n%s", errOut)
	}
	if m := h.manifest(sum.Backup); len(m.Deleted) != 0 {
		t.Fatalf("tombstones recorded: %d", len(m.Deleted))
	}
	if s := h.state(); len(s.Known) != want {
		t.Fatalf("state knows %d ids, want %d", len(s.Known), want)
	}
	// Plain output says so too.
	h.emu.InjectFault(sfmctest.Fault{Route: sfmctest.RouteQuery, After: 1, EmptyPage: true})
	code, out, errOut := h.run("run", "--dest", h.dest)
	if code != ExitOK || !strings.Contains(out, "NOT recorded as deleted") {
		t.Fatalf("plain run: exit %d\n%s\n%s", code, out, errOut)
	}

	// Told to accept it, the run records them all.
	h.emu.InjectFault(sfmctest.Fault{Route: sfmctest.RouteQuery, After: 1, EmptyPage: true})
	code, sum, errOut = h.runJSON("--accept-deletions")
	if code != ExitOK || sum.Deleted != missing {
		t.Fatalf("--accept-deletions: exit %d, deleted %d: %s", code, sum.Deleted, errOut)
	}
	// SFMC lists them again: they are backed up again and live for restore.
	code, sum, errOut = h.runJSON()
	if code != ExitOK || sum.Relisted != missing || sum.Deleted != 0 {
		t.Fatalf("listed again: exit %d, relisted %d, deleted %d: %s", code, sum.Relisted, sum.Deleted, errOut)
	}
	code, rep, errOut := h.restoreJSON("--dry-run")
	if code != ExitOK || rep.Counts.Skip != 0 || rep.Counts.Unchanged != want {
		t.Fatalf("restore after the blocks came back: exit %d, %+v: %s", code, rep.Counts, errOut)
	}
}
