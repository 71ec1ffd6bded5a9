package cmd

import (
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// With account_ids, each business unit is backed up into <dest>/mid-<MID>.
// A read command pointed at <dest> itself (the configured destination, so
// what an operator tries first) must say where the backups are, not only
// that there are none.
//
// This fails today: `list` prints "no backups in <dest>" (exit 0) and
// restore/verify/history/diff/show say "<dest> holds no complete backup"
// (exit 1), with no word of the mid-<MID> folders next to them.
// README "Several business units" now documents --dest <dest>/mid-<MID>.
func TestReadCommandsOnAUnitsRootNameTheUnitFolders(t *testing.T) {
	h := newHarness(t, sfmctest.Options{MIDs: []int64{100001, 100002}})
	h.emu.Seed(sfmctest.SeedOptions{MID: 100001, ExtraBlocks: 3})
	h.emu.Seed(sfmctest.SeedOptions{MID: 100002, ExtraBlocks: 3})
	t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", "100001,100002")
	if code, _, errOut := h.run("run", "--dest", h.dest); code != ExitOK {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	for _, args := range [][]string{{"list"}, {"verify"}, {"restore", "--dry-run"}} {
		_, out, errOut := h.run(append(args, "--dest", h.dest)...)
		if !strings.Contains(out+errOut, "mid-100001") {
			t.Errorf("%v on the units' root does not point at the unit folders:\n%s%s", args, out, errOut)
		}
	}
}
