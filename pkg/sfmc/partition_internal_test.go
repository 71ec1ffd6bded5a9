package sfmc

import (
	"context"
	"fmt"
	"testing"
)

func TestPartitionBoundsCoverEveryIDOnce(t *testing.T) {
	for _, tc := range []struct {
		lo, hi int64
		parts  int
	}{
		{1, 4, 4}, {1, 100, 4}, {1295064, 1310455, 4}, {7, 1_000_000_007, 5}, {10, 13, 3}, {1, 2, 2}, {100, 10_099, 16},
	} {
		t.Run(fmt.Sprintf("%d-%d/%d", tc.lo, tc.hi, tc.parts), func(t *testing.T) {
			b := partitionBounds(tc.lo, tc.hi, tc.parts)
			walks := make([]keyset, tc.parts)
			for i := range walks {
				walks[i].idFrom, walks[i].idTo = b[i], b[i+1]
			}
			owners := func(id int64) (n int) {
				for i := range walks {
					if walks[i].owns(id) {
						n++
					}
				}
				return n
			}
			// Every id, inside the probed range and around it (assets
			// created during the run have larger ids), has one owner.
			check := func(id int64) {
				if n := owners(id); n != 1 {
					t.Fatalf("id %d is in %d partitions (bounds %v)", id, n, b)
				}
			}
			for _, id := range []int64{0, 1, tc.lo - 1, tc.lo, tc.hi, tc.hi + 1, 1 << 62} {
				check(id)
			}
			step := max((tc.hi-tc.lo)/5000, 1)
			for id := tc.lo; id <= tc.hi; id += step {
				check(id)
			}
			for i := 1; i < len(b)-1; i++ {
				check(b[i] - 1)
				check(b[i])
				if b[i] <= tc.lo || b[i] > tc.hi || (i > 1 && b[i] <= b[i-1]) {
					t.Errorf("bound %d = %d outside (%d, %d] or not increasing: %v", i, b[i], tc.lo, tc.hi, b)
				}
			}
			// Equal widths: every inner partition is within one id of the
			// probed span divided by parts.
			width := (tc.hi - tc.lo + 1) / int64(tc.parts)
			for i := 2; i < len(b)-1; i++ {
				if d := b[i] - b[i-1]; d != width {
					t.Errorf("partition %d is %d ids wide, want %d", i-1, d, width)
				}
			}
		})
	}
}

func TestGateHalvesOncePerBurstAndRecovers(t *testing.T) {
	g := newGate(4)
	ctx := context.Background()
	for range 4 {
		if err := g.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Four requests blocked in one burst halve the bound once.
	if n := g.halve(); n != 2 {
		t.Fatalf("first halving: %d, want 2", n)
	}
	for range 3 {
		if n := g.halve(); n != 0 {
			t.Fatalf("halving again in the same burst: %d, want no change", n)
		}
	}
	for range 4 {
		g.release()
	}
	if n := g.halve(); n != 1 {
		t.Fatalf("halving after requests completed: %d, want 1", n)
	}
	if n := g.halve(); n != 0 {
		t.Fatalf("halving at one: %d, want no change", n)
	}
	// Calm requests let the bound grow back to the gate's size, one at a
	// time, and never beyond it.
	for range 200 {
		if err := g.acquire(ctx); err != nil {
			t.Fatal(err)
		}
		g.release()
	}
	if g.limit != 4 {
		t.Errorf("bound after 200 calm requests: %d, want 4", g.limit)
	}
	// A full gate makes acquire wait; a cancelled context ends the wait.
	for range 4 {
		if err := g.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := g.acquire(cctx); err == nil {
		t.Error("acquire on a full gate with a cancelled context succeeded")
	}
}
