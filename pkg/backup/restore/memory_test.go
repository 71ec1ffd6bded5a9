package restore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/repo/repotest"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
)

// A restore streams its items: halfway through a dry run of a large
// backup the live heap holds the state's index and the window of items in
// flight, a few dozen bytes per block, not the items (about a kilobyte
// each) nor the entries. The items still all come out, in id order, and
// the counts are those of all of them.
func TestRestoreStreamsItsItems(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40,000 objects")
	}
	const small, large = 1_000, 20_000
	measure := func(n int) uint64 {
		st := mem.New()
		repotest.PutManyBlocks(t, st, n)
		base := repotest.LiveHeap()
		snap, err := repo.OpenSnapshot(t.Context(), st, "latest", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Close()
		var live uint64
		seen, last := 0, int64(0)
		rep, err := RestoreToDirEach(t.Context(), st, snap, filepath.Join(t.TempDir(), "out"), RestoreOptions{DryRun: true}, func(it *RestoreItem) error {
			if it.ID <= last || it.Status != ItemPlanned || len(it.Files) != 2 {
				t.Fatalf("item %+v after id %d", it, last)
			}
			last = it.ID
			// Five measures from halfway, keeping the least: the blocks
			// under way allocate while a collection runs.
			if seen++; seen >= n/2 && seen < n/2+5*(n/20) && (seen-n/2)%(n/20) == 0 {
				h := repotest.LiveHeap()
				if h -= min(base, h); live == 0 || h < live {
					live = h
				}
			}
			return nil
		})
		if err != nil || seen != n || rep.Counts.Write != n || rep.Counts.Selected != n || len(rep.Items) != 0 {
			t.Fatalf("%d items, %v, counts %+v, %d items held", seen, err, rep.Counts, len(rep.Items))
		}
		return live
	}
	lo, hi := measure(small), measure(large)
	per := (float64(hi) - float64(lo)) / (large - small)
	t.Logf("live heap halfway: %d → %d KiB (%d → %d blocks), %.0f bytes per block", lo>>10, hi>>10, small, large, per)
	if per > 300 { // as repo's heldPerBlock: holding the items costs about 1,000
		t.Errorf("a dry run holds %.0f bytes per block, want ≤ 300", per)
	}
}
