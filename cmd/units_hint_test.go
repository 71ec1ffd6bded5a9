package cmd

import (
	"path/filepath"
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

// The hint names the --dest that reads a unit, for every read command, with
// or without account_ids configured, and leaves the exit codes alone.
func TestUnitsHintNamesAWorkingDest(t *testing.T) {
	h := newHarness(t, sfmctest.Options{MIDs: []int64{100001, 100002}})
	h.emu.Seed(sfmctest.SeedOptions{MID: 100001, ExtraBlocks: 3})
	h.emu.Seed(sfmctest.SeedOptions{MID: 100002, ExtraBlocks: 3})
	t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", "100001,100002")
	if code, _, errOut := h.run("run", "--dest", h.dest); code != ExitOK {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	unit := filepath.Join(h.dest, "mid-100001")
	for _, env := range []struct{ ids, want string }{
		{"100001,100002", "it holds the business units mid-100001, mid-100002 (account_ids), each with its own backups: use --dest " + unit},
		{"", "it holds business-unit folders such as mid-100001, each with its own backups: use --dest " + unit},
	} {
		t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", env.ids)
		for _, tc := range []struct {
			args []string
			code int
		}{
			{[]string{"list"}, ExitOK},
			{[]string{"verify"}, ExitFailure},
			{[]string{"verify", "--all"}, ExitOK},
			{[]string{"restore", "--dry-run", "--target", filepath.Join(t.TempDir(), "r")}, ExitFailure},
			{[]string{"history", "--id", "1"}, ExitFailure},
			{[]string{"diff"}, ExitFailure},
			{[]string{"show", "--id", "1"}, ExitFailure},
		} {
			code, out, errOut := h.run(append(tc.args, "--dest", h.dest, "--log-format", "console")...)
			if code != tc.code || !strings.Contains(out+errOut, env.want) {
				t.Errorf("account_ids %q, %v: exit %d (want %d), want %q in:\n%s%s", env.ids, tc.args, code, tc.code, env.want, out, errOut)
			}
		}
	}
	if code, out, errOut := h.run("list", "--dest", unit); code != ExitOK || !strings.Contains(out, "backup_") {
		t.Errorf("list --dest %s: exit %d\n%s%s", unit, code, out, errOut)
	}
}
