package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/repo/repotest"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
	"github.com/backup-creator/backup-creator/pkg/storage/storagetest"
)

// fakeSource is a minimal in-memory Source for engine logic tests; the
// end-to-end tests in cmd run the real client against the SFMC emulator.
type fakeSource struct {
	mu     sync.Mutex
	assets map[int64]sfmc.Asset
	// onAsset is called before each asset is handed to the engine.
	onAsset func(n int)
	// arrange, when set, changes what a listing delivers and in which
	// order (a partitioned listing delivers versions in no order).
	arrange func([]sfmc.Asset) []sfmc.Asset
	queries int
}

var cst = time.FixedZone("", -6*3600)

func newFakeSource() *fakeSource { return &fakeSource{assets: map[int64]sfmc.Asset{}} }

func (f *fakeSource) put(id int64, name, content string, md time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	raw := fmt.Sprintf(`{"id":%d,"customerKey":"key-%d","name":%q,"assetType":{"id":197,"name":"htmlblock"},"category":{"id":2,"name":"Sub/Folder","parentId":1},"content":%q,"modifiedDate":%q}`,
		id, id, name, content, md.In(cst).Format("2006-01-02T15:04:05.999-07:00"))
	f.assets[id] = sfmc.Asset{ID: id, CustomerKey: fmt.Sprintf("key-%d", id), Name: name, Content: content,
		AssetType: sfmc.AssetType{ID: 197, Name: "htmlblock"}, Category: sfmc.CategoryRef{ID: 2, Name: "Sub/Folder", ParentID: 1},
		ModifiedDate: md, ModifiedDateRaw: md.In(cst).Format("2006-01-02T15:04:05.999-07:00"), Raw: json.RawMessage(raw)}
}

func (f *fakeSource) QueryAssets(ctx context.Context, q sfmc.AssetQuery, fn func(sfmc.Asset) error) error {
	f.mu.Lock()
	f.queries++
	var list []sfmc.Asset
	for _, a := range f.assets {
		if q.ModifiedSince.IsZero() || !a.ModifiedDate.Before(q.ModifiedSince) {
			list = append(list, a)
		}
	}
	f.mu.Unlock()
	sort.Slice(list, func(i, j int) bool {
		if !list[i].ModifiedDate.Equal(list[j].ModifiedDate) {
			return list[i].ModifiedDate.Before(list[j].ModifiedDate)
		}
		return list[i].ID < list[j].ID
	})
	if f.arrange != nil {
		list = f.arrange(list)
	}
	for i, a := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.onAsset != nil {
			f.onAsset(i)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSource) ListCategories(ctx context.Context, fn func(sfmc.Category) error) error {
	for _, c := range []sfmc.Category{{ID: 1, Name: "Content Builder"}, {ID: 2, Name: "Sub/Folder", ParentID: 1}} {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSource) GetAssetFile(ctx context.Context, id int64) ([]byte, error) {
	return nil, errors.New("no files here")
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newEngine(src Source, st storage.Store, c *clock) *Engine {
	return &Engine{Source: src, Store: st, Log: zerolog.Nop(), Now: c.Now, Version: "test", Host: "test-host", PID: 1 << 30}
}

var base = time.Date(2024, 7, 15, 10, 0, 0, 0, cst)

func TestRunFullThenIncremental(t *testing.T) {
	src := newFakeSource()
	for i := int64(1); i <= 20; i++ {
		src.put(i, fmt.Sprintf("Block %d", i), fmt.Sprintf("<p>%d</p>", i), base.Add(time.Duration(i)*time.Minute))
	}
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	e := newEngine(src, st, c)

	sum, err := e.Run(t.Context(), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != StatusComplete || sum.Blocks != 20 || sum.Backup != "backup_20261123" {
		t.Fatalf("first run summary %+v", sum)
	}
	m, err := repo.ReadManifest(t.Context(), st, "backup_20261123")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Blocks) != 20 || m.Counts.Blocks != 20 || m.Counts.Files != 40 {
		t.Fatalf("manifest counts %+v, %d entries", m.Counts, len(m.Blocks))
	}
	for _, b := range m.Blocks {
		if b.Category.Path != `Content Builder/Sub\/Folder` {
			t.Errorf("block %d category path %q", b.ID, b.Category.Path)
		}
		for _, f := range b.Files {
			data := repotest.ReadObject(t, st, path.Join(m.Name, f.Path))
			h := sha256.Sum256(data)
			if hex.EncodeToString(h[:]) != f.SHA256 || int64(len(data)) != f.Size {
				t.Errorf("%s: manifest size/hash do not match the file", f.Path)
			}
			if f.Role == repo.RoleJSON && string(data) != string(src.assets[b.ID].Raw) {
				t.Errorf("%s: stored JSON differs from what SFMC returned", f.Path)
			}
		}
	}
	state, err := repo.ReadState(t.Context(), st)
	if err != nil || state == nil {
		t.Fatalf("state: %v %v", state, err)
	}
	if !state.Watermark.Equal(base.Add(20 * time.Minute)) {
		t.Errorf("watermark %v, want the newest modifiedDate %v", state.Watermark, base.Add(20*time.Minute))
	}

	// Nothing changed: a new, empty, complete backup; nothing stored twice.
	c.Add(time.Hour)
	sum, err = e.Run(t.Context(), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Blocks != 0 || sum.Backup != "backup_20261123_030000" || sum.Skipped == 0 {
		t.Fatalf("second run %+v", sum)
	}
	if m, err := repo.ReadManifest(t.Context(), st, sum.Backup); err != nil || len(m.Blocks) != 0 {
		t.Fatalf("empty backup manifest: %v %v", m, err)
	}

	// Two changes, one sharing the watermark's timestamp (a tie), one late.
	src.put(5, "Block 5", "<p>changed</p>", base.Add(25*time.Minute))
	src.put(21, "Block 21", "<p>new, same instant as the watermark</p>", base.Add(20*time.Minute))
	c.Add(time.Hour)
	sum, err = e.Run(t.Context(), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, _ = repo.ReadManifest(t.Context(), st, sum.Backup)
	var got []int64
	for _, b := range m.Blocks {
		got = append(got, b.ID)
	}
	if fmt.Sprint(got) != "[21 5]" {
		t.Errorf("third run backed up %v, want exactly [21 5]", got)
	}
}

func TestRunLateIndexedChangeIsCaughtByOverlap(t *testing.T) {
	src := newFakeSource()
	src.put(1, "a", "x", base)
	src.put(2, "b", "x", base.Add(10*time.Minute))
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	e := newEngine(src, st, c)
	if _, err := e.Run(t.Context(), RunOptions{Overlap: 30 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	// A change stamped before the watermark shows up in the query only now.
	src.put(3, "late", "x", base.Add(5*time.Minute))
	c.Add(time.Hour)
	sum, err := e.Run(t.Context(), RunOptions{Overlap: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Blocks != 1 || sum.Skipped != 2 {
		t.Fatalf("late change: %+v (want 1 block, 2 unchanged skipped)", sum)
	}
}

func TestRunWriteFailureKeepsWatermark(t *testing.T) {
	src := newFakeSource()
	for i := int64(1); i <= 10; i++ {
		src.put(i, "b", "x", base.Add(time.Duration(i)*time.Second))
	}
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	e := newEngine(src, st, c)
	if _, err := e.Run(t.Context(), RunOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := repo.ReadState(t.Context(), st)

	for i := int64(1); i <= 10; i++ {
		src.put(i, "b", "y", base.Add(time.Hour+time.Duration(i)*time.Second))
	}
	st.FailPut = func(key string) error {
		if strings.Contains(key, "/blocks/7_") {
			return errors.New("disk full")
		}
		return nil
	}
	c.Add(time.Hour)
	sum, err := e.Run(t.Context(), RunOptions{})
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Failed != 1 {
		t.Fatalf("err = %v, want PartialError with 1 failure", err)
	}
	if sum.Status != StatusPartial {
		t.Errorf("status %q", sum.Status)
	}
	if _, err := repo.ReadManifest(t.Context(), st, sum.Backup); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a partial backup must have no manifest, got %v", err)
	}
	after, _ := repo.ReadState(t.Context(), st)
	if !after.Watermark.Equal(before.Watermark) {
		t.Errorf("watermark moved from %v to %v after a failure", before.Watermark, after.Watermark)
	}
	if _, _, err := st.Get(t.Context(), repo.LockKey); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("lock not released after a failed run: %v", err)
	}

	// The next run picks everything up.
	st.FailPut = nil
	c.Add(time.Hour)
	sum, err = e.Run(t.Context(), RunOptions{})
	if err != nil || sum.Blocks != 10 {
		t.Fatalf("recovery run: %+v %v", sum, err)
	}
}

func TestRunCancelledKeepsWatermark(t *testing.T) {
	src := newFakeSource()
	for i := int64(1); i <= 50; i++ {
		src.put(i, "b", "x", base.Add(time.Duration(i)*time.Second))
	}
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	e := newEngine(src, st, c)
	ctx, cancel := context.WithCancel(t.Context())
	src.onAsset = func(n int) {
		if n == 25 {
			cancel()
		}
	}
	_, err := e.Run(ctx, RunOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if s, _ := repo.ReadState(t.Context(), st); s != nil {
		t.Fatalf("state written by a cancelled run: %+v", s)
	}
	if _, _, err := st.Get(t.Context(), repo.LockKey); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("lock not released after cancel: %v", err)
	}
	src.onAsset = nil
	c.Add(time.Minute)
	sum, err := e.Run(t.Context(), RunOptions{})
	if err != nil || sum.Blocks != 50 {
		t.Fatalf("next run: %+v %v", sum, err)
	}
}

func TestRunRefusesWhileLockedAndTakesOverStaleLock(t *testing.T) {
	src := newFakeSource()
	src.put(1, "a", "x", base)
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	holder := repo.LockInfo{Host: "other-host", PID: 4242, RunID: "abc", AcquiredAt: c.Now(), RefreshedAt: c.Now()}
	b, _ := json.Marshal(holder)
	if _, err := st.Put(t.Context(), repo.LockKey, strings.NewReader(string(b)), int64(len(b)), storage.PutOptions{IfNotExists: true}); err != nil {
		t.Fatal(err)
	}
	e := newEngine(src, st, c)
	_, err := e.Run(t.Context(), RunOptions{})
	var le *repo.LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "other-host") || !strings.Contains(err.Error(), "4242") {
		t.Fatalf("err = %v, want repo.LockedError naming the holder", err)
	}
	if s, _ := repo.ReadState(t.Context(), st); s != nil {
		t.Fatal("a refused run wrote state")
	}
	if got := repotest.ReadObject(t, st, repo.LockKey); string(got) != string(b) {
		t.Fatal("a refused run changed the holder's lock")
	}

	c.Add(31 * time.Minute) // past lock.stale_after
	sum, err := e.Run(t.Context(), RunOptions{LockStaleAfter: 30 * time.Minute})
	if err != nil || sum.Blocks != 1 {
		t.Fatalf("stale lock not taken over: %+v %v", sum, err)
	}
}

func TestConcurrentRunsOneWins(t *testing.T) {
	src := newFakeSource()
	for i := int64(1); i <= 30; i++ {
		src.put(i, "b", "x", base.Add(time.Duration(i)*time.Second))
	}
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	src.onAsset = func(n int) {
		once.Do(func() { close(started) })
		<-release
	}
	e1 := newEngine(src, st, c)
	errc := make(chan error, 1)
	go func() { _, err := e1.Run(t.Context(), RunOptions{}); errc <- err }()
	<-started
	e2 := newEngine(src, st, c)
	e2.Host = "second-host"
	_, err := e2.Run(t.Context(), RunOptions{})
	var le *repo.LockedError
	if !errors.As(err, &le) {
		t.Errorf("second concurrent run: err = %v, want LockedError", err)
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatalf("first run: %v", err)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	src := newFakeSource()
	src.put(1, "a", "x", base)
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	sum, err := newEngine(src, st, c).Run(t.Context(), RunOptions{DryRun: true})
	if err != nil || sum.Blocks != 1 || sum.Status != StatusDryRun {
		t.Fatalf("%+v %v", sum, err)
	}
	n := 0
	st.List(t.Context(), "", func(storage.ObjectInfo) error { n++; return nil })
	if n != 0 {
		t.Fatalf("dry run stored %d objects", n)
	}
}

func TestRunRecordsDeletedBlocks(t *testing.T) {
	src := newFakeSource()
	for i := int64(1); i <= 5; i++ {
		src.put(i, fmt.Sprintf("Block %d", i), "x", base.Add(time.Duration(i)*time.Minute))
	}
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	e := newEngine(src, st, c)
	opts := RunOptions{TrackDeletions: true}
	first, err := e.Run(t.Context(), opts)
	if err != nil || first.DeletionCheckRequests != 0 {
		t.Fatalf("first (full) run needs no extra listing: %+v %v", first, err)
	}
	src.mu.Lock()
	delete(src.assets, 2)
	delete(src.assets, 4)
	src.mu.Unlock()
	queriesBefore := src.queries
	c.Add(time.Hour)
	sum, err := e.Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if src.queries != queriesBefore+2 {
		t.Errorf("incremental run made %d queries, want 2 (changes + id listing)", src.queries-queriesBefore)
	}
	m, err := repo.ReadManifest(t.Context(), st, sum.Backup)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Deleted != 2 || len(m.Deleted) != 2 || m.Deleted[0].ID != 2 || m.Deleted[1].ID != 4 {
		t.Fatalf("tombstones %+v (summary says %d)", m.Deleted, sum.Deleted)
	}
	if d := m.Deleted[0]; d.Name != "Block 2" || d.CustomerKey != "key-2" || d.LastBackup != first.Backup {
		t.Errorf("tombstone not described from the earlier manifest: %+v", d)
	}
	// Reported once: the next run records no new deletion.
	c.Add(time.Hour)
	sum, err = e.Run(t.Context(), opts)
	if err != nil || sum.Deleted != 0 {
		t.Errorf("deletions reported again: %+v %v", sum, err)
	}
	// Off: no listing.
	queriesBefore = src.queries
	c.Add(time.Hour)
	if _, err := e.Run(t.Context(), RunOptions{}); err != nil || src.queries != queriesBefore+1 {
		t.Errorf("tracking off still listed ids (%d queries) %v", src.queries-queriesBefore, err)
	}
}

// syncingStore records the order of durable events around a mem store.
type syncingStore struct {
	*mem.Store
	mu         sync.Mutex
	events     []string
	unsynced   int
	failSync   error
	noSyncPuts int
}

func (s *syncingStore) Put(ctx context.Context, key string, r io.Reader, size int64, o storage.PutOptions) (storage.ObjectInfo, error) {
	s.mu.Lock()
	if o.NoSync {
		s.unsynced++
		s.noSyncPuts++
	} else {
		s.events = append(s.events, fmt.Sprintf("put %s (unsynced %d)", path.Base(key), s.unsynced))
	}
	s.mu.Unlock()
	return s.Store.Put(ctx, key, r, size, o)
}

func (s *syncingStore) Sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSync != nil {
		return s.failSync
	}
	s.events = append(s.events, "sync")
	s.unsynced = 0
	return nil
}

func TestBlockFilesAreSyncedBeforeTheManifest(t *testing.T) {
	src := newFakeSource()
	for i := int64(1); i <= 10; i++ {
		src.put(i, "b", "x", base.Add(time.Duration(i)*time.Second))
	}
	st := &syncingStore{Store: mem.New()}
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	if _, err := newEngine(src, st, c).Run(t.Context(), RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if st.noSyncPuts != 20 {
		t.Errorf("%d block files written without per-file sync, want 20", st.noSyncPuts)
	}
	want := []string{"put backup-creator.lock (unsynced 0)", "sync", "put manifest.json (unsynced 0)", "put backup-creator.state.json (unsynced 0)"}
	got := st.events
	if len(got) > len(want) {
		got = got[:len(want)]
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("durable events %q, want %q", st.events, want)
	}

	// A failing sync is a failed run: no manifest, no watermark.
	st2 := &syncingStore{Store: mem.New(), failSync: errors.New("EIO")}
	sum, err := newEngine(src, st2, c).Run(t.Context(), RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "EIO") {
		t.Fatalf("err = %v", err)
	}
	if _, err := repo.ReadManifest(t.Context(), st2, sum.Backup); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("manifest written after a failed sync: %v", err)
	}
	if s, _ := repo.ReadState(t.Context(), st2); s != nil {
		t.Error("state written after a failed sync")
	}
}

// A run killed after its manifest and before its state write leaves a
// complete backup the state does not list. The next run notices it, continues
// from it (its blocks are not stored again) and records it.
func TestRunRollsForwardALaggingState(t *testing.T) {
	src := newFakeSource()
	for i := int64(1); i <= 5; i++ {
		src.put(i, fmt.Sprintf("Block %d", i), "<p>x</p>", base.Add(time.Duration(i)*time.Minute))
	}
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	if _, err := newEngine(src, st, c).Run(t.Context(), RunOptions{TrackDeletions: true}); err != nil {
		t.Fatal(err)
	}
	// Second run: two changes and one deletion; the final state write fails
	// (the process dies there), after the pending marker was written.
	src.put(2, "Block 2", "<p>changed</p>", base.Add(time.Hour))
	src.put(6, "Block 6", "<p>new</p>", base.Add(time.Hour+time.Minute))
	delete(src.assets, 5)
	c.Add(24 * time.Hour)
	stateWrites := 0
	st.FailPut = func(key string) error {
		if key == repo.StateKey {
			stateWrites++
			if stateWrites == 2 {
				return errors.New("killed")
			}
		}
		return nil
	}
	sum, err := newEngine(src, st, c).Run(t.Context(), RunOptions{TrackDeletions: true})
	if err == nil {
		t.Fatal("the state write did not fail")
	}
	lagging := sum.Backup
	if _, err := repo.ReadManifest(t.Context(), st, lagging); err != nil {
		t.Fatalf("the killed run's backup should be complete: %v", err)
	}
	s, _ := repo.ReadState(t.Context(), st)
	if s.Pending != lagging || slices.Contains(s.Backups, lagging) {
		t.Fatalf("state after the kill: pending %q, backups %v", s.Pending, s.Backups)
	}
	st.FailPut = nil

	// Third run, nothing changed since: it stores nothing again, records no
	// deletion twice, and lists the lagging backup in the state.
	c.Add(24 * time.Hour)
	sum, err = newEngine(src, st, c).Run(t.Context(), RunOptions{TrackDeletions: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Blocks != 0 || sum.Deleted != 0 {
		t.Errorf("run after the lagging state stored %d blocks and %d tombstones again, want 0 and 0", sum.Blocks, sum.Deleted)
	}
	s, _ = repo.ReadState(t.Context(), st)
	if s.Pending != "" || !slices.Contains(s.Backups, lagging) || len(s.Backups) != 3 {
		t.Errorf("state after roll-forward: pending %q, backups %v", s.Pending, s.Backups)
	}
	if !s.Watermark.Equal(base.Add(time.Hour + time.Minute)) {
		t.Errorf("watermark %v, want the lagging backup's %v", s.Watermark, base.Add(time.Hour+time.Minute))
	}
	if slices.Contains(s.Known, 5) || !slices.Contains(s.Known, 6) {
		t.Errorf("known ids %v: want 6 and not the deleted 5", s.Known)
	}
}

// holdingStore holds every block file Put until the run's context ends.
type holdingStore struct {
	storage.Store
	mu   sync.Mutex
	held int
	all  chan struct{} // closed once want Puts are held
	want int
}

func (s *holdingStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (storage.ObjectInfo, error) {
	if !strings.Contains(key, "/"+repo.BlocksDir+"/") {
		return s.Store.Put(ctx, key, r, size, opts)
	}
	s.mu.Lock()
	s.held++
	if s.held == s.want {
		close(s.all)
	}
	s.mu.Unlock()
	<-ctx.Done()
	return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, ctx.Err())
}

// TestRunInterruptedBlocksAreNotFailures: the blocks under way when a run is
// stopped are counted as interrupted, not failed, and not logged as errors
// one by one.
func TestRunInterruptedBlocksAreNotFailures(t *testing.T) {
	src := newFakeSource()
	for i := int64(1); i <= 30; i++ {
		src.put(i, fmt.Sprintf("Block %d", i), "x", base.Add(time.Duration(i)*time.Minute))
	}
	st := &holdingStore{Store: mem.New(), all: make(chan struct{}), want: 8}
	var logs bytes.Buffer
	e := newEngine(src, st, &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)})
	e.Log = zerolog.New(&logs)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { <-st.all; cancel() }()
	sum, err := e.Run(ctx, RunOptions{Concurrency: 8})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if sum.Failed != 0 || sum.Interrupted != 8 {
		t.Fatalf("failed %d, interrupted %d; want 0 and 8", sum.Failed, sum.Interrupted)
	}
	if strings.Contains(logs.String(), `"level":"error"`) {
		t.Errorf("interrupted blocks were logged as errors:\n%s", logs.String())
	}
}

// failingStore fails every Put of a key containing under.
type failingStore struct {
	storage.Store
	under string
}

func (s *failingStore) Put(ctx context.Context, key string, r io.Reader, size int64, o storage.PutOptions) (storage.ObjectInfo, error) {
	if strings.Contains(key, s.under) {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: disk full", key)
	}
	return s.Store.Put(ctx, key, r, size, o)
}

// TestRunSummaryCountsEveryFailure: Failed is the number of failed blocks,
// not of the errors quoted in the message.
func TestRunSummaryCountsEveryFailure(t *testing.T) {
	src := newFakeSource()
	for i := int64(1); i <= 9; i++ {
		src.put(i, fmt.Sprintf("Block %d", i), "x", base.Add(time.Duration(i)*time.Minute))
	}
	// Every block file fails to store.
	st := &failingStore{Store: mem.New(), under: "/blocks/"}
	sum, err := newEngine(src, st, &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}).Run(t.Context(), RunOptions{})
	var perr *PartialError
	if !errors.As(err, &perr) || sum.Failed != 9 || perr.Failed != 9 {
		t.Fatalf("err %v, summary failed %d, want 9", err, sum.Failed)
	}
}

func (f *fakeSource) GetAsset(ctx context.Context, id int64) (sfmc.Asset, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.assets[id]
	if !ok {
		return sfmc.Asset{}, &sfmc.APIError{StatusCode: 404}
	}
	return a, nil
}

// TestDeletionsOfADistrustedListingAreNotRecorded: a listing that lacks more
// than the allowed share of the known blocks records no tombstone, keeps the
// ids known, and says so; --accept-deletions records them; up to the share
// they are recorded at once.
func TestDeletionsOfADistrustedListingAreNotRecorded(t *testing.T) {
	src := newFakeSource()
	for i := int64(1); i <= 10; i++ {
		src.put(i, fmt.Sprintf("Block %d", i), "x", base.Add(time.Duration(i)*time.Minute))
	}
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	e := newEngine(src, st, c)
	run := func(opts RunOptions) *Summary {
		t.Helper()
		c.Add(24 * time.Hour)
		opts.TrackDeletions = true
		sum, err := e.Run(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	run(RunOptions{})
	remove := func(ids ...int64) {
		src.mu.Lock()
		defer src.mu.Unlock()
		for _, id := range ids {
			delete(src.assets, id)
		}
	}
	known := func() []int64 {
		s, err := repo.ReadState(t.Context(), st)
		if err != nil {
			t.Fatal(err)
		}
		return s.Known
	}

	// Six of ten at once: more than 50 %.
	remove(1, 2, 3, 4, 5, 6)
	sum := run(RunOptions{})
	if sum.Deleted != 0 || sum.DeletionsSuppressed != 6 {
		t.Fatalf("deleted %d, suppressed %d; want 0 and 6", sum.Deleted, sum.DeletionsSuppressed)
	}
	if m, _ := repo.ReadManifest(t.Context(), st, sum.Backup); len(m.Deleted) != 0 {
		t.Fatalf("tombstones recorded: %+v", m.Deleted)
	}
	if k := known(); len(k) != 10 {
		t.Fatalf("known ids %v: the missing ones must stay known", k)
	}
	// The next run compares with all ten again: still distrusted.
	if sum := run(RunOptions{}); sum.DeletionsSuppressed != 6 {
		t.Fatalf("second run: suppressed %d, want 6", sum.DeletionsSuppressed)
	}
	// A higher share, or --accept-deletions, records them.
	if sum := run(RunOptions{DeletionsMaxShare: 0.6}); sum.Deleted != 6 || sum.DeletionsSuppressed != 0 {
		t.Fatalf("max share 0.6: deleted %d, suppressed %d", sum.Deleted, sum.DeletionsSuppressed)
	}
	// Two of the four left: exactly 50 % is not more than 50 %.
	remove(7, 8)
	if sum := run(RunOptions{}); sum.Deleted != 2 {
		t.Fatalf("half: deleted %d, suppressed %d", sum.Deleted, sum.DeletionsSuppressed)
	}
	remove(9, 10)
	if sum := run(RunOptions{}); sum.Deleted != 0 || sum.DeletionsSuppressed != 2 {
		t.Fatalf("all: deleted %d, suppressed %d", sum.Deleted, sum.DeletionsSuppressed)
	}
	if sum := run(RunOptions{AcceptDeletions: true}); sum.Deleted != 2 {
		t.Fatalf("--accept-deletions: deleted %d, suppressed %d", sum.Deleted, sum.DeletionsSuppressed)
	}
	if k := known(); len(k) != 0 {
		t.Fatalf("known after accepting: %v", k)
	}
}

// TestBlockListedAgainAfterATombstoneIsLiveAgain: a block that an (accepted)
// listing lacked comes back unchanged; the next run backs it up again, so the
// newest backup's state has it live.
func TestBlockListedAgainAfterATombstoneIsLiveAgain(t *testing.T) {
	src := newFakeSource()
	for i := int64(1); i <= 4; i++ {
		src.put(i, fmt.Sprintf("Block %d", i), "x", base.Add(time.Duration(i)*time.Minute))
	}
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	e := newEngine(src, st, c)
	run := func() *Summary {
		t.Helper()
		c.Add(24 * time.Hour)
		sum, err := e.Run(t.Context(), RunOptions{TrackDeletions: true})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	run()
	src.mu.Lock()
	gone := src.assets[3]
	delete(src.assets, 3)
	src.mu.Unlock()
	if sum := run(); sum.Deleted != 1 {
		t.Fatalf("deleted %d, want 1", sum.Deleted)
	}
	src.mu.Lock()
	src.assets[3] = gone // listed again, not modified since
	src.mu.Unlock()
	sum := run()
	if sum.Relisted != 1 || sum.Blocks != 1 {
		t.Fatalf("relisted %d, blocks %d; want 1 and 1", sum.Relisted, sum.Blocks)
	}
	snap, err := repo.LoadSnapshot(t.Context(), st, "latest", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range snap.Blocks {
		if b.Deleted != nil {
			t.Errorf("block %d is still deleted in the latest state (tombstone in %s)", b.ID, b.DeletedIn)
		}
	}
	if len(snap.Blocks) != 4 {
		t.Fatalf("latest state has %d blocks", len(snap.Blocks))
	}
	// Nothing more to do the time after.
	if sum := run(); sum.Relisted != 0 || sum.Blocks != 0 {
		t.Fatalf("next run: relisted %d, blocks %d", sum.Relisted, sum.Blocks)
	}
}

// TestRunFutureDatedBlockDoesNotMoveTheWatermark: a block dated in 2999 is
// backed up, but the watermark stays at the newest sane date, and the next
// run neither stalls nor stores it again.
func TestRunFutureDatedBlockDoesNotMoveTheWatermark(t *testing.T) {
	src := newFakeSource()
	for i := int64(1); i <= 5; i++ {
		src.put(i, fmt.Sprintf("Block %d", i), "x", base.Add(time.Duration(i)*time.Minute))
	}
	src.put(6, "From the future", "x", time.Date(2999, 1, 1, 0, 0, 0, 0, cst))
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	e := newEngine(src, st, c)
	sum, err := e.Run(t.Context(), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Blocks != 6 || sum.FutureDated != 1 || sum.WatermarkTo == nil || !sum.WatermarkTo.Equal(base.Add(5*time.Minute)) {
		t.Fatalf("summary: %d blocks, %d future-dated, watermark %v", sum.Blocks, sum.FutureDated, sum.WatermarkTo)
	}
	// A change made later is backed up by the next run.
	c.Add(time.Hour)
	src.put(7, "New", "x", base.Add(time.Hour))
	sum, err = e.Run(t.Context(), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Blocks != 1 || !sum.WatermarkTo.Equal(base.Add(time.Hour)) {
		t.Fatalf("second run: %d blocks, watermark %v", sum.Blocks, sum.WatermarkTo)
	}
}

// TestRunRefusesAWatermarkInTheFuture: a stored watermark later than SFMC's
// clock would hide every change; the run refuses it, naming the watermark
// and the way out, and --full replaces it.
func TestRunRefusesAWatermarkInTheFuture(t *testing.T) {
	src := newFakeSource()
	src.put(1, "Block 1", "x", base)
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	e := newEngine(src, st, c)
	if _, err := e.Run(t.Context(), RunOptions{}); err != nil {
		t.Fatal(err)
	}
	s, version, err := repo.ReadStateVersion(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	s.Watermark = time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := repo.WriteState(t.Context(), st, s, version); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Hour)
	_, err = e.Run(t.Context(), RunOptions{})
	if !errors.Is(err, ErrFutureWatermark) || !strings.Contains(err.Error(), "2999-01-01T00:00:00Z") ||
		!strings.Contains(err.Error(), "--since") || !strings.Contains(err.Error(), "--full") {
		t.Fatalf("err = %v, want ErrFutureWatermark naming the watermark, --since and --full", err)
	}
	if got, _ := repo.ReadState(t.Context(), st); !got.Watermark.Equal(s.Watermark) || got.Pending != "" {
		t.Fatalf("a refused run changed the state: %+v", got)
	}
	sum, err := e.Run(t.Context(), RunOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.WatermarkTo.Equal(base) {
		t.Fatalf("--full left the watermark at %v, want %v", sum.WatermarkTo, base)
	}
	c.Add(time.Hour)
	if _, err := e.Run(t.Context(), RunOptions{}); err != nil {
		t.Fatalf("the run after --full: %v", err)
	}
}

// A folder name freed during the day (prune removed backup_YYYYMMDD) is not
// taken again by a later run that day: names must keep the order the backups
// were made in, which is the order the chain is read in.
func TestRunNeverReusesANameThatSortsBeforeLaterFolders(t *testing.T) {
	src := newFakeSource()
	src.put(1, "a", "x", base)
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	var names []string
	for i := 0; i < 3; i++ {
		sum, err := newEngine(src, st, c).Run(t.Context(), RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, sum.Backup)
		c.Add(time.Hour)
		if i == 1 {
			// prune removed the day's first folder
			var keys []string
			st.List(t.Context(), names[0]+"/", func(o storage.ObjectInfo) error { keys = append(keys, o.Key); return nil })
			for _, k := range keys {
				st.Delete(t.Context(), k, storage.DeleteOptions{})
			}
		}
	}
	if names[0] != "backup_20261123" || names[2] == names[0] || names[2] < names[1] {
		t.Fatalf("folder names %v: the third run must sort after the second", names)
	}
	list, err := repo.ListBackups(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[1].Name != names[2] {
		t.Errorf("catalog order %v, want the newest last", list)
	}
}

// TestRunCrashAtEveryStep kills an incremental run at each of its mutating
// storage steps and checks, after each, what a killed run must leave: the
// state never claims a backup that is not complete, the watermark does not
// move past what a complete backup holds, and the next run (taking over the
// dead run's lock) ends with every block restorable at its newest version,
// nothing missed.
func TestRunCrashAtEveryStep(t *testing.T) {
	setup := func() (*fakeSource, *mem.Store, *clock) {
		src := newFakeSource()
		for i := int64(1); i <= 12; i++ {
			src.put(i, fmt.Sprintf("Block %d", i), "<p>v1</p>", base.Add(time.Duration(i)*time.Minute))
		}
		st := mem.New()
		c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
		if _, err := newEngine(src, st, c).Run(t.Context(), RunOptions{TrackDeletions: true}); err != nil {
			t.Fatal(err)
		}
		// The changes the second run must back up: edits, a new block, a deletion.
		src.put(3, "Block 3", "<p>v2</p>", base.Add(2*time.Hour))
		src.put(13, "Block 13", "<p>new</p>", base.Add(2*time.Hour+time.Minute))
		delete(src.assets, 7)
		c.Add(24 * time.Hour)
		return src, st, c
	}
	src, st, c := setup()
	ref := storagetest.NewFaulty(st)
	if _, err := newEngine(src, ref, c).Run(t.Context(), RunOptions{TrackDeletions: true}); err != nil {
		t.Fatal(err)
	}
	steps := len(ref.Steps())
	t.Logf("a crash injected at each of %d mutating steps", steps)
	for n := 0; n < steps; n++ {
		src, inner, c := setup()
		f := storagetest.NewFaulty(inner)
		f.CrashAfter(n)
		_, _ = newEngine(src, f, c).Run(t.Context(), RunOptions{TrackDeletions: true})
		// The state lists only complete backups, and its watermark is one
		// of theirs.
		s, err := repo.ReadState(t.Context(), inner)
		if err != nil {
			t.Fatalf("crash at step %d (%v): state: %v", n, ref.Steps()[n], err)
		}
		for _, b := range s.Backups {
			if _, err := repo.ReadManifest(t.Context(), inner, b); err != nil {
				t.Fatalf("crash at step %d (%v): the state lists %s, which is not complete: %v", n, ref.Steps()[n], b, err)
			}
		}
		snap, err := repo.LoadSnapshot(t.Context(), inner, "latest", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var newest time.Time
		for _, b := range snap.Blocks {
			if b.Modified.After(newest) {
				newest = b.Modified
			}
		}
		if s.Watermark.After(newest) {
			t.Fatalf("crash at step %d (%v): watermark %v beyond the newest block backed up %v", n, ref.Steps()[n], s.Watermark, newest)
		}
		// The next run finishes the job: every block at its newest version,
		// the deleted one recorded.
		c.Add(time.Hour)
		if _, err := newEngine(src, inner, c).Run(t.Context(), RunOptions{TrackDeletions: true}); err != nil {
			t.Fatalf("crash at step %d (%v): next run: %v", n, ref.Steps()[n], err)
		}
		snap, err = repo.LoadSnapshot(t.Context(), inner, "latest", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]string{}
		for _, b := range snap.Blocks {
			state := b.ModifiedDate
			if b.Deleted != nil {
				state = "deleted"
			}
			got[b.ID] = state
		}
		for id, a := range src.assets {
			if got[id] != a.ModifiedDateRaw {
				t.Fatalf("crash at step %d (%v): block %d restores as %q, SFMC has %q", n, ref.Steps()[n], id, got[id], a.ModifiedDateRaw)
			}
		}
		if got[7] != "deleted" || len(got) != 13 {
			t.Fatalf("crash at step %d (%v): restorable state %v", n, ref.Steps()[n], got)
		}
	}
}

func TestRunIdentifiesVersionsByModifiedDate(t *testing.T) {
	// A listing that delivers newest first, a block edited during the run
	// whose new version comes before its old one, and one version twice:
	// the backup holds each version once, named by its date, and its
	// newest version is the one a restore takes.
	src := newFakeSource()
	for i := int64(1); i <= 10; i++ {
		src.put(i, fmt.Sprintf("Block %d", i), fmt.Sprintf("<p>%d</p>", i), base.Add(time.Duration(i)*time.Minute))
	}
	src.put(3, "Block 3", "<p>old</p>", base.Add(3*time.Minute))
	old3 := src.assets[3]
	src.put(3, "Block 3", "<p>edited during the run</p>", base.Add(30*time.Minute))
	src.arrange = func(list []sfmc.Asset) []sfmc.Asset {
		slices.Reverse(list)
		var five sfmc.Asset
		for _, a := range list {
			if a.ID == 5 {
				five = a
			}
		}
		return append(list, old3, five)
	}
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	sum, err := newEngine(src, st, c).Run(t.Context(), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Blocks != 11 {
		t.Fatalf("stored %d block versions, want 11 (10 blocks, one of them twice)", sum.Blocks)
	}
	m, err := repo.ReadManifest(t.Context(), st, sum.Backup)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[repo.Version]string{}
	for _, b := range m.Blocks {
		v := repo.Version{ID: b.ID, Modified: b.Modified}
		if _, dup := versions[v]; dup {
			t.Errorf("block %d at %s stored twice", b.ID, b.Modified)
		}
		versions[v] = b.Files[0].Path
	}
	if p := versions[repo.Version{ID: 3, Modified: base.Add(3 * time.Minute).UTC()}]; p != "blocks/3_Block_3_v"+base.Add(3*time.Minute).UTC().Format("20060102T150405.000Z")+".json" {
		t.Errorf("the version of block 3 that came second is stored as %q, want a name from its date", p)
	}
	if p := versions[repo.Version{ID: 3, Modified: base.Add(30 * time.Minute).UTC()}]; p != "blocks/3_Block_3.json" {
		t.Errorf("the version of block 3 that came first is stored as %q", p)
	}
	chain := repo.NewChain()
	if _, err := chain.Add(t.Context(), st, sum.Backup, nil); err != nil {
		t.Fatal(err)
	}
	b, ok := chain.Block(3)
	if !ok || !b.Modified.Equal(base.Add(30*time.Minute)) {
		t.Errorf("restore would take block 3 at %v, want the newest version %v", b.Modified, base.Add(30*time.Minute))
	}
	if state, err := repo.ReadState(t.Context(), st); err != nil || !state.Watermark.Equal(base.Add(30*time.Minute)) {
		t.Errorf("watermark %v (%v), want the newest modifiedDate", state.Watermark, err)
	}
}
