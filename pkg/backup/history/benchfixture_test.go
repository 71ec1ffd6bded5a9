package history_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/repo/repotest"
	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/local"
)

// noSyncStore writes without an fsync per object (the fixture is synced
// once at the end): a fixture of 200,000 files is written in seconds.
type noSyncStore struct{ *local.Store }

func (s noSyncStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (storage.ObjectInfo, error) {
	opts.NoSync = true
	return s.Store.Put(ctx, key, r, size, opts)
}

// benchBlock is block i's version v in the benchmark fixtures: about 1 KiB
// of HTML in a few folders.
func benchBlock(i, v int, mod time.Time) repotest.Block {
	folders := []string{"Content Builder", "Content Builder/Newsletters", "Content Builder/Footers", "Content Builder/Promotions/2026"}
	var c strings.Builder
	fmt.Fprintf(&c, "<table class=\"stylingblock-content-wrapper\"><tr><td>\n<h2>Block %d</h2>\n", i)
	for l := 0; l < 12; l++ {
		fmt.Fprintf(&c, "<p>Paragraph %d of block %d, version %d: Lorem ipsum dolor sit amet.</p>\n", l, i, map[bool]int{true: v, false: 0}[l == v%12])
	}
	c.WriteString("%%[ SET @greeting = AttributeValue(\"FirstName\") ]%%\n</td></tr></table>\n")
	return repotest.Block{ID: int64(1000000 + i), Key: fmt.Sprintf("bench-%06d", i), Name: fmt.Sprintf("Bench block %06d", i),
		Path: folders[i%len(folders)], Cat: int64(500 + i%len(folders)), Mod: mod, Content: c.String(), By: "SFMC DEVOPS app user"}
}

// TestWriteBenchFixture writes the destinations scripts/bench-history.sh
// times: with BACKUP_CREATOR_BENCH_FIXTURE=DIR,
//   - DIR/history: 365 daily backups of a 10,000-block account (a full one,
//     then 30 changed blocks a day, block 1000001 among them every day, one
//     block added a day and one deleted every 10 days);
//   - DIR/diff: backups of a 100,000-block account: a full one, then a
//     nightly one (1,000 changed, 100 added, 100 deleted), then a full one
//     (every block stored again, 1,000 of them changed).
//
// It is skipped without the variable.
func TestWriteBenchFixture(t *testing.T) {
	dir := os.Getenv("BACKUP_CREATOR_BENCH_FIXTURE")
	if dir == "" {
		t.Skip("set BACKUP_CREATOR_BENCH_FIXTURE=DIR to write the fixtures of scripts/bench-history.sh")
	}
	open := func(name string) noSyncStore {
		st, err := local.New(t.Context(), local.Config{Root: filepath.Join(dir, name)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := st.Sync(context.WithoutCancel(t.Context())); err != nil {
				t.Error(err)
			}
			_ = st.Close()
		})
		return noSyncStore{st}
	}
	day := func(d int) time.Time { return time.Date(2025, 11, 1, 2, 0, 0, 0, time.UTC).AddDate(0, 0, d) }
	folder := func(d int) string { return repo.FolderName(day(d), 0) }

	const accountSize, days, perDay = 10000, 365, 30
	hist := open("history")
	var blocks []repotest.Block
	for i := 1; i <= accountSize; i++ {
		blocks = append(blocks, benchBlock(i, 0, day(0).Add(-time.Duration(i)*time.Second)))
	}
	repotest.PutBackup(t, hist, folder(0), day(0), blocks, nil)
	next := accountSize + 1
	for d := 1; d < days; d++ {
		mod := day(d).Add(-time.Hour)
		blocks = []repotest.Block{benchBlock(1, d, mod)}
		for k := 1; k < perDay-1; k++ {
			blocks = append(blocks, benchBlock(2+(d*perDay+k)%(accountSize-1), d, mod.Add(time.Duration(k)*time.Second)))
		}
		blocks = append(blocks, benchBlock(next, 0, mod))
		next++
		var deleted []repo.DeletedBlock
		if d%10 == 0 {
			gone := benchBlock(accountSize-d/10, 0, mod)
			deleted = append(deleted, repo.DeletedBlock{ID: gone.ID, CustomerKey: gone.Key, Name: gone.Name, DetectedAt: day(d).Add(time.Minute)})
		}
		repotest.PutBackup(t, hist, folder(d), day(d), blocks, deleted)
	}

	const bigSize, changed, added, removed = 100000, 1000, 100, 100
	dst := open("diff")
	blocks = blocks[:0]
	for i := 1; i <= bigSize; i++ {
		blocks = append(blocks, benchBlock(i, 0, day(0).Add(-time.Duration(i)*time.Millisecond)))
	}
	repotest.PutBackup(t, dst, folder(0), day(0), blocks, nil)
	blocks = blocks[:0]
	for k := 0; k < changed; k++ {
		blocks = append(blocks, benchBlock(1+k*97, 1+k, day(1).Add(-time.Hour)))
	}
	for k := 0; k < added; k++ {
		blocks = append(blocks, benchBlock(bigSize+1+k, 0, day(1).Add(-time.Hour)))
	}
	var deleted []repo.DeletedBlock
	for k := 0; k < removed; k++ {
		b := benchBlock(50+k*991, 0, day(0))
		deleted = append(deleted, repo.DeletedBlock{ID: b.ID, CustomerKey: b.Key, Name: b.Name, DetectedAt: day(1).Add(time.Minute)})
	}
	repotest.PutBackup(t, dst, folder(1), day(1), blocks, deleted)

	// A full backup the day after: every live block stored again, 1,000 of
	// them in a new version (the worst case for diff: every id touched).
	gone := map[int64]bool{}
	for _, d := range deleted {
		gone[d.ID] = true
	}
	version := map[int]int{}
	for k := 0; k < changed; k++ {
		version[1+k*97] = 1 + k
	}
	blocks = blocks[:0]
	for i := 1; i <= bigSize+added; i++ {
		b := benchBlock(i, 0, day(0).Add(-time.Duration(i)*time.Millisecond))
		if v, ok := version[i]; ok {
			b = benchBlock(i, v, day(1).Add(-time.Hour))
		}
		if i > bigSize {
			b = benchBlock(i, 0, day(1).Add(-time.Hour))
		}
		if i%100 == 7 {
			b = benchBlock(i, 1000+i, day(2).Add(-time.Hour))
		}
		if !gone[b.ID] {
			blocks = append(blocks, b)
		}
	}
	repotest.PutBackup(t, dst, folder(2), day(2), blocks, nil)
}
