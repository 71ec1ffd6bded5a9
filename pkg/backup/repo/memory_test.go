package repo_test

import (
	"context"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/repo/repotest"
	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
)

// probeStore measures the live heap once, at the at-th Get (halfway through
// a verify, when everything it holds for the backup is held).
type probeStore struct {
	storage.Store
	at   int64
	gets atomic.Int64
	once sync.Once
	live uint64
}

func (p *probeStore) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	if p.gets.Add(1) == p.at {
		p.once.Do(func() { p.live = repotest.LiveHeap() })
	}
	return p.Store.Get(ctx, key)
}

// Reading a backup must not hold its entries: the live heap while the
// state of a backup streams (OpenSnapshot, Each) and while verify checks
// its files grows by a few dozen bytes per block (the state's index, the
// digests of the paths), not by the kilobyte or so that holding every entry
// costs. The heap of the in-memory store itself is the baseline.
func TestReadingABackupHoldsLittlePerBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40,000 objects")
	}
	const small, large = 1_000, 20_000
	type use struct{ snapshot, verify uint64 }
	measure := func(n int) use {
		st := mem.New()
		name := repotest.PutManyBlocks(t, st, n)
		base := repotest.LiveHeap()
		var u use
		s, err := repo.OpenSnapshot(t.Context(), st, "latest", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		err = s.Each(func(b *repo.SnapshotBlock) error {
			if i++; i == n/2 {
				u.snapshot = repotest.LiveHeap() - base
			}
			return nil
		})
		s.Close()
		if err != nil || i != n {
			t.Fatalf("Each: %d blocks, %v", i, err)
		}
		ps := &probeStore{Store: st, at: int64(n)} // 2 files per block: halfway
		rep, err := repo.Verify(t.Context(), ps, name)
		if err != nil || !rep.OK() || rep.Checked != 2*n {
			t.Fatalf("verify: %v %+v", err, rep)
		}
		u.verify = ps.live - min(ps.live, base)
		return u
	}
	lo, hi := measure(small), measure(large)
	perBlock := func(a, b uint64) float64 { return (float64(b) - float64(a)) / (large - small) }
	t.Logf("live heap: snapshot %d → %d KiB, verify %d → %d KiB (%d → %d blocks)", lo.snapshot>>10, hi.snapshot>>10, lo.verify>>10, hi.verify>>10, small, large)
	const limit = 200 // bytes per block; holding the entries costs > 1,000
	if g := perBlock(lo.snapshot, hi.snapshot); g > limit {
		t.Errorf("a streamed state holds %.0f bytes per block, want ≤ %d", g, limit)
	}
	if g := perBlock(lo.verify, hi.verify); g > limit {
		t.Errorf("verify holds %.0f bytes per block, want ≤ %d", g, limit)
	}
}

// The same measure for the state LoadSnapshot holds, to show what the
// limit above tells apart (it is not a requirement).
func TestLoadSnapshotHoldsEveryEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40,000 objects")
	}
	st := mem.New()
	repotest.PutManyBlocks(t, st, 20_000)
	base := repotest.LiveHeap()
	snap, err := repo.LoadSnapshot(t.Context(), st, "latest", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	held := repotest.LiveHeap() - base
	runtime.KeepAlive(snap)
	if per := held / 20_000; per < 500 {
		t.Errorf("LoadSnapshot holds %d bytes per block: the limit of TestReadingABackupHoldsLittlePerBlock would not tell it apart", per)
	}
}
