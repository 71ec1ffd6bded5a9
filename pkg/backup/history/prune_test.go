package history_test

import (
	"slices"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/history"
	"github.com/backup-creator/backup-creator/pkg/backup/prune"
	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/repo/repotest"
)

// After a prune removed the oldest backups (carrying what the kept ones
// still need into them), history, show and diff still agree with restore's
// snapshot of every kept backup, and a carried version is no new event.
func TestAgreesWithRestoreAfterPrune(t *testing.T) {
	st := fixture(t)
	before, err := history.History(t.Context(), st, history.Selector{IDs: []int64{1, 2, 3, 4, 5}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := prune.Run(t.Context(), st, prune.Options{Policy: prune.Policy{Last: 2},
		Lock: repo.LockInfo{Host: "test", PID: 1 << 30, RunID: "prune"}, Now: func() time.Time { return repotest.Day(30) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Remove) != 2 {
		t.Fatalf("prune removed %+v, want b1 and b2", rep.Remove)
	}
	for _, name := range []string{b3, b4} {
		snap, err := repo.LoadSnapshot(t.Context(), st, name, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range snap.Blocks {
			got, err := history.Show(t.Context(), st, history.ShowOptions{Backup: name, ID: b.ID})
			if err != nil {
				t.Fatalf("show %s --id %d after prune: %v", name, b.ID, err)
			}
			if got.Block.Backup != b.Backup || (got.Block.Deleted != nil) != (b.Deleted != nil) {
				t.Errorf("%s block %d: show has %s (deleted %v), restore %s (deleted %v)", name, b.ID, got.Block.Backup, got.Block.Deleted != nil, b.Backup, b.Deleted != nil)
			}
		}
	}
	// The state at b3 still holds footer v2 (carried from b2), deleted.
	got, err := history.Show(t.Context(), st, history.ShowOptions{Backup: b3, ID: 1})
	if err != nil || string(got.Data) != "<p>Impressum</p>\n<p>2026</p>\n" || got.Block.Deleted == nil {
		t.Fatalf("footer as of b3 after prune: %v %q", err, got.Data)
	}
	// History keeps the events of the kept backups, with the same versions.
	after, err := history.History(t.Context(), st, history.Selector{IDs: []int64{1}})
	if err != nil {
		t.Fatal(err)
	}
	var sums, sumsBefore []string
	for _, v := range after.Blocks[0].Versions {
		sums = append(sums, v.Event+":"+v.SHA256)
	}
	for _, v := range before.Blocks[0].Versions[:3] {
		sumsBefore = append(sumsBefore, v.Event+":"+v.SHA256)
	}
	// b4 created v3; b3 deleted; v2 now first seen in b3 (which stored it
	// again): created.
	want := []string{sumsBefore[0], sumsBefore[1], "created:" + before.Blocks[0].Versions[2].SHA256}
	if !slices.Equal(sums, want) {
		t.Errorf("history after prune %v, want %v", sums, want)
	}
	// The moved block's version lived in b2 only: carried into b3.
	after, err = history.History(t.Context(), st, history.Selector{IDs: []int64{3}})
	if err != nil {
		t.Fatal(err)
	}
	if vs := after.Blocks[0].Versions; len(vs) != 1 || vs[0].Backup != b3 || vs[0].CarriedFrom != b2 || vs[0].SHA256 != before.Blocks[2].Versions[0].SHA256 {
		t.Errorf("carried version %+v", vs)
	}
	// Diff between the kept backups is what it was.
	d, err := history.Diff(t.Context(), st, history.DiffOptions{From: b3, To: b4})
	if err != nil || len(d.Added) != 1 || d.Added[0].ID != 1 || len(d.Changed)+len(d.Deleted) != 0 {
		t.Errorf("diff b3 b4 after prune: %v %+v", err, d)
	}
}
