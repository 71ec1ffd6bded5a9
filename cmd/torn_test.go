package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/storagetest"
)

// faultyStores wraps every store the App opens in a storagetest.Faulty
// that crashes after crashAfter mutating steps (never, if negative), and
// hands the Faulty to keep.
func faultyStores(crashAfter int, keep func(*storagetest.Faulty)) func(*App) {
	return func(a *App) {
		open := a.NewStore
		a.NewStore = func(ctx context.Context, cfg *config.Config) (storage.Store, error) {
			st, err := open(ctx, cfg)
			if err != nil {
				return nil, err
			}
			f := storagetest.NewFaulty(st)
			f.CrashAfter(crashAfter)
			keep(f)
			return f, nil
		}
	}
}

// A run killed while it writes a block file in place (block files are
// written with PutOptions.Fresh: no temporary file, no rename) leaves the
// torn file on disk in a folder without a manifest. list shows that folder
// as incomplete, verify passes, the next run backs everything up into a
// new folder, and its files are exactly those of an uninterrupted run.
func TestRunKilledMidBlockWrite(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 40})

	// An uninterrupted run into another destination: its files, and the
	// steps a run takes.
	var ref *storagetest.Faulty
	refDest := filepath.Join(t.TempDir(), "reference")
	code, out, errOut := h.runApp(faultyStores(-1, func(f *storagetest.Faulty) { ref = f }), "run", "--dest", refDest, "--json")
	if code != ExitOK {
		t.Fatalf("reference run: exit %d: %s", code, errOut)
	}
	var refSum struct{ Backup string }
	if err := json.Unmarshal([]byte(out), &refSum); err != nil {
		t.Fatal(err)
	}
	var blockSteps []storagetest.Call
	for _, c := range ref.Steps() {
		if c.Op == storagetest.OpPut && strings.Contains(c.Key, "/"+repo.BlocksDir+"/") {
			blockSteps = append(blockSteps, c)
		}
	}
	if len(blockSteps) < 80 {
		t.Fatalf("reference run wrote %d block files, want at least 80", len(blockSteps))
	}
	saved := h.dest
	defer func() { h.dest = saved }()
	h.dest = refDest
	want := backupFiles(t, h, refSum.Backup)
	h.dest = saved

	// The crash lands on a block write in the middle of the run (the block
	// writes come between the same steps in every run, in any order).
	crash := blockSteps[len(blockSteps)/2].Step
	var f *storagetest.Faulty
	code, _, errOut = h.runApp(faultyStores(crash-1, func(x *storagetest.Faulty) { f = x }), "run", "--dest", h.dest)
	if code == ExitOK || !f.Crashed() {
		t.Fatalf("crashed run: exit %d, crashed %v: %s", code, f.Crashed(), errOut)
	}

	// list: one folder, incomplete.
	code, out, errOut = h.run("list", "--dest", h.dest, "--json")
	if code != ExitOK {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	var l struct {
		Backups []repo.BackupInfo `json:"backups"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Backups) != 1 || l.Backups[0].Status != repo.BackupIncomplete {
		t.Fatalf("list after the crash = %+v, want one folder, incomplete", l.Backups)
	}
	folder := l.Backups[0].Name
	if _, err := os.Stat(filepath.Join(h.dest, folder, repo.ManifestName)); !os.IsNotExist(err) {
		t.Fatalf("the interrupted folder has a manifest: %v", err)
	}
	// On disk: the files written before the crash, whole, and the one the
	// crash tore, half of it under its final name.
	ents, err := os.ReadDir(filepath.Join(h.dest, folder, repo.BlocksDir))
	if err != nil {
		t.Fatal(err)
	}
	var whole, torn int
	for _, e := range ents {
		rel := path.Join(repo.BlocksDir, e.Name())
		data, err := os.ReadFile(filepath.Join(h.dest, folder, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		full, ok := want[rel]
		switch {
		case !ok:
			t.Errorf("%s: a file an uninterrupted run does not write", rel)
		case string(data) == full:
			whole++
		case len(data) == len(full)/2 && strings.HasPrefix(full, string(data)):
			torn++
		default:
			t.Errorf("%s: %d bytes, neither the whole file (%d) nor its torn first half", rel, len(data), len(full))
		}
	}
	if torn != 1 || whole < len(blockSteps)/4 {
		t.Fatalf("interrupted folder holds %d whole and %d torn block files, want many whole and one torn", whole, torn)
	}

	// The next run (an hour later: it takes the dead run's lock over)
	// starts a new folder and stores every block in full.
	code, out, errOut = h.runAt(time.Now().Add(time.Hour), "run", "--dest", h.dest, "--json")
	if code != ExitOK {
		t.Fatalf("next run: exit %d: %s", code, errOut)
	}
	var next struct{ Backup string }
	if err := json.Unmarshal([]byte(out), &next); err != nil {
		t.Fatal(err)
	}
	if next.Backup == folder {
		t.Fatalf("the next run reused the interrupted folder %s", folder)
	}
	got := backupFiles(t, h, next.Backup)
	if len(got) != len(want) {
		t.Fatalf("next run stored %d files, an uninterrupted run %d", len(got), len(want))
	}
	for p, data := range want {
		if got[p] != data {
			t.Errorf("%s differs from the uninterrupted run", path.Join(next.Backup, p))
		}
	}
	if code, out, errOut := h.run("verify", "--all", "--dest", h.dest); code != ExitOK {
		t.Fatalf("verify --all: exit %d:\n%s%s", code, out, errOut)
	}
	if b := h.completeBackups(); len(b) != 1 || b[0] != next.Backup {
		t.Errorf("complete backups = %q, want [%s]", b, next.Backup)
	}
}
