package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// TestPartitionedRunLateIndexingAndEditsDuringTheRun: blocks edited while a
// (partitioned, unless the suite runs serially) full run pages, whose new versions reach SFMC's search index
// only after the run (IndexLag), are missed by that run and stored by the
// next; nothing is stored twice, and a third run stores nothing.
func TestPartitionedRunLateIndexingAndEditsDuringTheRun(t *testing.T) {
	var offset atomic.Int64 // how far the emulator's clock is ahead of the real one
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	h := newHarness(t, sfmctest.Options{Now: now, IndexLag: 2 * time.Minute})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 700, TieBlocks: -1})
	ids := h.emu.AssetIDs(h.emu.DefaultMID())

	var (
		mu     sync.Mutex
		edited []int64
		probes int
	)
	h.emu.OnRequest(func(r sfmctest.RequestInfo) {
		if r.Route != "query" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(string(r.Body), `"pageSize":1}`) {
			probes++
		}
		// Edit one block per page from the third query on (ranged pages when
		// the listing is partitioned), from all over the id space.
		ranged := strings.Contains(string(r.Body), `"property":"id","simpleOperator":"lessThan"`)
		if r.N > 2 && len(edited) < 6 && (ranged || listConcurrency() == 1) {
			id := ids[len(edited)*len(ids)/6]
			if err := h.emu.UpdateAsset(0, id, func(s *sfmctest.AssetSpec) { s.Content = "<p>edited during the run</p>" }); err != nil {
				t.Error(err)
			}
			edited = append(edited, id)
		}
	})
	code, first, errOut := h.runJSON()
	if code != ExitOK {
		t.Fatalf("first run: exit %d: %s", code, errOut)
	}
	mu.Lock()
	if (listConcurrency() > 1 && probes == 0) || len(edited) == 0 {
		mu.Unlock()
		t.Fatalf("the run was not partitioned (%d probes) or edited nothing (%d)", probes, len(edited))
	}
	got := append([]int64(nil), edited...)
	mu.Unlock()
	for _, b := range h.manifest(first.Backup).Blocks {
		for _, id := range got {
			if b.ID == id && strings.Contains(h.readContent(first.Backup, b.Files), "edited during the run") {
				t.Errorf("block %d: the first run stored a version its index could not show yet", id)
			}
		}
	}

	offset.Add(int64(3 * time.Minute)) // the index catches up
	code, second, errOut := h.runJSON()
	if code != ExitOK {
		t.Fatalf("second run: exit %d: %s", code, errOut)
	}
	stored := map[int64]int{}
	for _, b := range h.manifest(second.Backup).Blocks {
		stored[b.ID]++
		if !strings.Contains(h.readContent(second.Backup, b.Files), "edited during the run") {
			t.Errorf("second run stored block %d, which did not change", b.ID)
		}
	}
	for _, id := range got {
		if stored[id] != 1 {
			t.Errorf("block %d edited during the first run: stored %d times by the second, want once", id, stored[id])
		}
	}
	if len(stored) != len(got) {
		t.Errorf("second run stored %d blocks, want the %d edited ones", len(stored), len(got))
	}
	code, third, errOut := h.runJSON()
	if code != ExitOK || third.Blocks != 0 {
		t.Fatalf("third run: exit %d, %d blocks, want none: %s", code, third.Blocks, errOut)
	}
}

// readContent returns the content file of a block entry in a local backup.
func (h *harness) readContent(backup string, files []repo.ManifestFile) string {
	h.t.Helper()
	for _, f := range files {
		if f.Role == repo.RoleContent {
			b, err := os.ReadFile(filepath.Join(h.dest, backup, filepath.FromSlash(f.Path)))
			if err != nil {
				h.t.Fatal(err)
			}
			return string(b)
		}
	}
	return ""
}
