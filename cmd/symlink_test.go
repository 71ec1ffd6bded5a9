package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
	"github.com/backup-creator/backup-creator/pkg/storage/local"
)

// runAt runs the root command with the run's clock fixed at now.
func (h *harness) runAt(now time.Time, args ...string) (int, string, string) {
	h.t.Helper()
	var out, errOut bytes.Buffer
	a := h.app(&out, &errOut)
	a.Now = func() time.Time { return now }
	code := a.Execute(h.t.Context(), args)
	return code, out.String(), errOut.String()
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("cannot create symbolic links here: %v", err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// Issue 10 item 3: today's backup folder is a symbolic link to a directory
// outside the destination. The run must fail (exit 1) naming the path,
// write nothing outside, and leave the state and its watermark alone.
func TestRunRefusesSymlinkedBackupFolder(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 20})
	today := time.Now().UTC()
	yesterday := today.Add(-24 * time.Hour)

	if code, _, errOut := h.runAt(yesterday, "run", "--dest", h.dest); code != ExitOK {
		t.Fatalf("first run: exit %d: %s", code, errOut)
	}
	stateBefore, err := os.ReadFile(filepath.Join(h.dest, repo.StateKey))
	if err != nil {
		t.Fatal(err)
	}
	// Something for the second run to back up.
	mid := h.emu.DefaultMID()
	ids := sortedIDs(contentBlockIDs(t, h.emu))
	if err := h.emu.UpdateAsset(mid, ids[0], func(a *sfmctest.AssetSpec) { a.Content += "<!-- edited -->" }); err != nil {
		t.Fatal(err)
	}

	outside := t.TempDir()
	link := filepath.Join(h.dest, repo.FolderName(today, 0))
	mustSymlink(t, outside, link)
	before := dirNames(t, h.dest)

	code, _, errOut := h.runAt(today, "run", "--dest", h.dest)
	if code != ExitFailure {
		t.Fatalf("run with a linked backup folder: exit %d, want %d (stderr %s)", code, ExitFailure, errOut)
	}
	if !strings.Contains(errOut, link) || !strings.Contains(errOut, "symbolic link") {
		t.Errorf("stderr does not name %s as a symbolic link:\n%s", link, errOut)
	}
	if names := dirNames(t, outside); len(names) != 0 {
		t.Errorf("the run wrote %q outside the destination", names)
	}
	stateAfter, err := os.ReadFile(filepath.Join(h.dest, repo.StateKey))
	if err != nil || !bytes.Equal(stateAfter, stateBefore) {
		t.Errorf("state file changed (err %v):\nbefore %s\nafter  %s", err, stateBefore, stateAfter)
	}
	if after := dirNames(t, h.dest); !slices.Equal(after, before) {
		t.Errorf("destination holds %q after the failed run, want %q (no new folder, no lock left)", after, before)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced or removed: %v", err)
	}
}

// Issue 10 item 4: list must not create the store's lock file through a
// symbolic link, and verify must not read a backup file through one.
func TestListAndVerifyRefuseSymlinks(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 5})
	code, sum, errOut := h.runJSON()
	if code != ExitOK {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}

	t.Run("verify", func(t *testing.T) {
		m := h.manifest(sum.Backup)
		f := m.Blocks[0].Files[0]
		file := filepath.Join(h.dest, sum.Backup, filepath.FromSlash(f.Path))
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// The same bytes, outside, behind a link: still not a file the
		// backup wrote.
		copyOutside := filepath.Join(t.TempDir(), "copy")
		if err := os.WriteFile(copyOutside, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
		mustSymlink(t, copyOutside, file)
		code, out, errOut := h.run("verify", "--dest", h.dest)
		if code != ExitFailure {
			t.Fatalf("verify with a linked file: exit %d, want %d\nstdout %s\nstderr %s", code, ExitFailure, out, errOut)
		}
		if all := out + errOut; !strings.Contains(all, "symbolic link") {
			t.Errorf("verify does not say a file is a symbolic link:\nstdout %s\nstderr %s", out, errOut)
		}
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("list", func(t *testing.T) {
		lock := filepath.Join(h.dest, local.LockFileName)
		if err := os.Remove(lock); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(t.TempDir(), "lock")
		mustSymlink(t, target, lock)
		code, _, errOut := h.run("list", "--dest", h.dest)
		if code == ExitOK {
			t.Errorf("list with a linked lock file succeeded")
		}
		if !strings.Contains(errOut, lock) || !strings.Contains(errOut, "symbolic link") {
			t.Errorf("list does not name %s as a symbolic link:\n%s", lock, errOut)
		}
		if _, err := os.Lstat(target); !os.IsNotExist(err) {
			t.Errorf("list created the link's target %s: %v", target, err)
		}
	})
}
