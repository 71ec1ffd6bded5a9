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
	// It still warns that the edit is replaced, and says where it is kept.
	if n := strings.Join(it.Notes, "; "); !strings.Contains(n, "edited in SFMC after this backup") || !strings.Contains(n, "a later backup holds that version") {
		t.Errorf("notes %q: want the edit noted as held by a later backup", n)
	}
}

// Without a later backup holding the edit, a plan says to make one first,
// and the restore itself, done, says the edit was replaced rather than to
// back it up first (too late then).
func TestEditedNoteWhenNoBackupHoldsTheEdit(t *testing.T) {
	e := newRestoreEnv(t)
	a := e.block("Header", "hdr", "<h1>Header</h1>", e.root)
	b := e.block("Footer", "ftr", "<p>Footer</p>", e.root)
	first := e.run()
	e.edit(a, func(s *sfmctest.AssetSpec) { s.Content = "<h1>edited</h1>" })
	e.run() // holds a's edit
	e.edit(a, func(s *sfmctest.AssetSpec) { s.Content = "<h1>edited again</h1>" })
	e.edit(b, func(s *sfmctest.AssetSpec) { s.Content = "<p>edited</p>" })

	notes := func(rep *RestoreReport, id int64) string {
		t.Helper()
		it := itemByID(t, rep, id)
		if it.Action != ActionUpdate {
			t.Fatalf("block %d: action %s, want update", id, it.Action)
		}
		return strings.Join(it.Notes, "; ")
	}
	plan, err := e.restore(first, RestoreOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{a, b} { // a's second edit is in no backup either
		if n := notes(plan, id); !strings.Contains(n, "no backup holds that version: run `backup-creator run` first to keep it") {
			t.Errorf("plan, block %d: the note does not say to back the edit up first: %q", id, n)
		}
	}
	rep, err := e.restore(first, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := notes(rep, b); strings.Contains(n, "first") || !strings.Contains(n, "no backup held that version, and it was replaced") {
		t.Errorf("restore done: the note of block %d = %q", b, n)
	}
}
