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

// probeStore measures the live heap at five Gets from the at-th on, every
// step-th (past halfway through a verify, when everything it holds for the
// backup is held), and keeps the least: the checks under way allocate while
// a collection runs, which a single measure can catch.
type probeStore struct {
	storage.Store
	at, step int64
	gets     atomic.Int64
	mu       sync.Mutex
	live     uint64
}

func (p *probeStore) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	if n := p.gets.Add(1); n >= p.at && n < p.at+5*p.step && (n-p.at)%p.step == 0 {
		p.mu.Lock()
		if h := repotest.LiveHeap(); p.live == 0 || h < p.live {
			p.live = h
		}
		p.mu.Unlock()
	}
	return p.Store.Get(ctx, key)
}

// heldPerBlock is the most a reader may hold per block of a backup, in
// bytes: holding its entries costs several times that (see
// TestLoadSnapshotHoldsEveryEntry), the state's index and the paths'
// digests a few dozen bytes, and measures vary by up to about 150.
const heldPerBlock = 300

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
				h := repotest.LiveHeap()
				u.snapshot = h - min(base, h)
			}
			return nil
		})
		s.Close()
		if err != nil || i != n {
			t.Fatalf("Each: %d blocks, %v", i, err)
		}
		ps := &probeStore{Store: st, at: int64(n), step: int64(n / 20)} // 2 files per block: from halfway
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
	if g := perBlock(lo.snapshot, hi.snapshot); g > heldPerBlock {
		t.Errorf("a streamed state holds %.0f bytes per block, want ≤ %d", g, heldPerBlock)
	}
	if g := perBlock(lo.verify, hi.verify); g > heldPerBlock {
		t.Errorf("verify holds %.0f bytes per block, want ≤ %d", g, heldPerBlock)
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
	runtime.KeepAlive(st) // the store is part of the baseline
	t.Logf("LoadSnapshot holds %d bytes per block", held/20_000)
	if per := held / 20_000; per < 2*heldPerBlock {
		t.Errorf("LoadSnapshot holds %d bytes per block: heldPerBlock (%d) would not tell it apart", per, heldPerBlock)
	}
}
