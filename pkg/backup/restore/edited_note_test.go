package restore

import (
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// Restoring an older backup over a block edited since warns that the edit is
// replaced. When a later backup already holds the edited version, the note
// must not tell the operator to "run `backup-creator run` first to keep that
// version": it is kept, and the advice sends a tired on-call person to make a
// backup that is not needed.
//
// This fails today: the note is added whenever the current modifiedDate is
// after the backed-up one (target.go, update), whether or not a later
// backup has that version. CLI: run; edit a block (emulator PATCH
// /_emulator/assets/ID); run; restore FIRST_BACKUP --id ID --dry-run.
func TestEditedNoteWhenALaterBackupHoldsTheEdit(t *testing.T) {
	e := newRestoreEnv(t)
	a := e.block("Header", "hdr", "<h1>Header</h1>", e.root)
	first := e.run()
	e.edit(a, func(s *sfmctest.AssetSpec) { s.Content = "<h1>edited</h1>" })
	e.run() // holds the edited version

	rep, err := e.restore(first, RestoreOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	it := itemByID(t, rep, a)
	if it.Action != ActionUpdate {
		t.Fatalf("block %d: action %s, want update", a, it.Action)
	}
	for _, n := range it.Notes {
		if strings.Contains(n, "first to keep that version") {
			t.Errorf("a later backup holds the edited version, but the note says to back it up first: %q", n)
		}
	}
}
