//go:build unix

package restore

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/repo/repotest"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
)

// TestRestoreToDirModes: restored files and the directory created for them
// get the modes of the backup's own files (0600, 0700), not world-readable
// ones, whatever the umask.
func TestRestoreToDirModes(t *testing.T) {
	st := mem.New()
	repotest.PutBackup(t, st, "backup_20261101", repotest.Day(0), []repotest.Block{
		{ID: 1, Key: "k1", Name: "One", Path: "Content Builder", Cat: 10, Mod: repotest.Day(-1), Content: "<p>one</p>"},
	}, nil)
	snap, err := repo.LoadSnapshot(t.Context(), st, "latest", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	rep, err := RestoreToDir(t.Context(), st, snap, dir, RestoreOptions{})
	if err != nil || rep.Counts.Write != 1 {
		t.Fatalf("restore: %+v, %v", rep, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 2 {
		t.Fatalf("restored %d files (%v)", len(entries), err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", e.Name(), fi.Mode().Perm(), err)
		}
	}
}
