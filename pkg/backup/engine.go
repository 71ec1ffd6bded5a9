package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// Source is what the engine needs from SFMC. *sfmc.Client satisfies it.
type Source interface {
	// QueryAssets calls fn for every asset matching q, page by page.
	QueryAssets(ctx context.Context, q sfmc.AssetQuery, fn func(sfmc.Asset) error) error
	// ListCategories calls fn for every folder of the account.
	ListCategories(ctx context.Context, fn func(sfmc.Category) error) error
	// GetAssetFile returns the binary of a file asset (image, document).
	GetAssetFile(ctx context.Context, id int64) ([]byte, error)
}

// Engine runs backups. Its fields are its dependencies; build it once per
// command invocation.
type Engine struct {
	Source Source
	Store  storage.Store
	Log    zerolog.Logger
	// Now is the clock (folder names, manifest times, lock ages). Defaults to time.Now.
	Now func() time.Time
	// Version is the tool version recorded in manifests and locks.
	Version string
	// Host and PID identify this run in the lock. Default: os.Hostname, os.Getpid.
	Host string
	PID  int
	// Progress, when set, is told about every block stored (concurrently).
	Progress interface{ Add(blocks int, bytes int64) }
}

// RunOptions select what a run backs up and how.
type RunOptions struct {
	// TypeIDs are the asset types to back up (default DefaultBlockTypes).
	TypeIDs []int
	// Since overrides the stored watermark for this run (zero: use the state).
	Since time.Time
	// Full ignores the watermark and backs up every block.
	Full bool
	// DryRun queries SFMC and reports what a run would store, writing nothing.
	DryRun bool
	// Concurrency bounds the writes in flight (default 8).
	Concurrency int
	// Overlap is how far below the watermark each run re-reads, to catch
	// changes that reach SFMC's search index late (default 1h). Versions already
	// backed up are skipped, so it costs requests, not storage.
	Overlap time.Duration
	// LockStaleAfter is the age after which another run's lock, not refreshed
	// since, is taken over (default 30m). The lock is refreshed every
	// LockStaleAfter/5 while the run works.
	LockStaleAfter time.Duration
	// AccountID is recorded in the manifest (informational).
	AccountID string
	// TrackDeletions lists the ids of all blocks of the selected types after
	// the backup and records the blocks that disappeared since the previous
	// run as tombstones in the manifest. A full run gets the listing for free;
	// an incremental run pays about one request per 500 blocks.
	TrackDeletions bool
}

// Status values of a Summary.
const (
	StatusComplete = "complete"
	StatusPartial  = "partial"
	StatusFailed   = "failed"
	StatusDryRun   = "dry-run"
)

// Summary reports a run. It is logged as one line and printed with --json.
type Summary struct {
	Backup      string    `json:"backup,omitempty"`
	Destination string    `json:"destination"`
	Status      string    `json:"status"`
	StartedAt   time.Time `json:"startedAt"`
	FinishedAt  time.Time `json:"finishedAt"`
	DurationMS  int64     `json:"durationMs"`
	Blocks      int       `json:"blocks"`
	Files       int       `json:"files"`
	Bytes       int64     `json:"bytes"`
	Skipped     int       `json:"skippedUnchanged"`
	Failed      int       `json:"failed"`
	Deleted     int       `json:"deleted"`
	// DeletionCheckRequests is what the id listing for deletion tracking cost.
	DeletionCheckRequests int64      `json:"deletionCheckRequests"`
	WatermarkFrom         *time.Time `json:"watermarkFrom,omitempty"`
	WatermarkTo           *time.Time `json:"watermarkTo,omitempty"`
	QueryFrom             *time.Time `json:"queryFrom,omitempty"`
	Full                  bool       `json:"full"`
	// Requests is filled in by the caller from the SFMC client's counters.
	Requests map[string]int64 `json:"requests,omitempty"`
	Error    string           `json:"error,omitempty"`
	// ExitCode is the process exit code, filled in by the command.
	ExitCode int `json:"exitCode"`
}

// PartialError means some blocks could not be fetched or stored. The backup has
// no manifest and the watermark was not advanced, so the next run retries them.
type PartialError struct {
	Failed int
	Total  int
	Err    error // errors.Join of the first failures
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d of %d blocks could not be backed up (watermark not advanced; the next run retries them): %v", e.Failed, e.Total, e.Err)
}

func (e *PartialError) Unwrap() error { return e.Err }

const maxReportedErrors = 5

// errInterrupted starts the error of a run stopped by its context (signal,
// --timeout, or a lost lock).
var errInterrupted = errors.New("backup interrupted (watermark not advanced)")

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (o *RunOptions) defaults() {
	if len(o.TypeIDs) == 0 {
		o.TypeIDs = DefaultBlockTypes
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Overlap <= 0 {
		o.Overlap = time.Hour
	}
	if o.LockStaleAfter <= 0 {
		o.LockStaleAfter = 30 * time.Minute
	}
}

// Run makes one backup: it takes the destination's lock, reads the watermark,
// streams every changed block from SFMC into a new backup folder, writes the
// manifest and then the new watermark, and releases the lock. On any failure
// the watermark stays where it was. The returned Summary is filled in as far
// as the run got, also when err != nil.
func (e *Engine) Run(ctx context.Context, opts RunOptions) (sum *Summary, err error) {
	opts.defaults()
	parent := ctx // ctx is replaced by one the lock keeper cancels when the run ends
	start := e.now()
	sum = &Summary{Destination: e.Store.String(), Status: StatusFailed, StartedAt: start.UTC(), Full: opts.Full}
	defer func() {
		sum.FinishedAt = e.now().UTC()
		sum.DurationMS = sum.FinishedAt.Sub(sum.StartedAt).Milliseconds()
		// Whatever step a signal or --timeout stopped, say so the same way.
		if err != nil && parent.Err() != nil && !errors.Is(err, errInterrupted) {
			err = fmt.Errorf("%w: %w", errInterrupted, context.Cause(parent))
		}
		if err != nil {
			sum.Error = err.Error()
		}
	}()

	var lk *lock
	if !opts.DryRun {
		host, pid := e.Host, e.PID
		if host == "" {
			host, _ = os.Hostname()
		}
		if pid == 0 {
			pid = os.Getpid()
		}
		lk, err = acquireLock(ctx, e.Store, LockInfo{Host: host, PID: pid, RunID: newRunID(), Version: e.Version}, start, opts.LockStaleAfter)
		if err != nil {
			return sum, err
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if rerr := lk.release(rctx); rerr != nil {
				e.Log.Warn().Err(rerr).Msg("could not release the lock; the next run takes it over once it is stale")
			}
		}()
		var stop func() error
		ctx, stop = e.keepLock(ctx, lk, opts.LockStaleAfter)
		defer func() {
			if lerr := stop(); lerr != nil && err == nil {
				err = lerr
			}
		}()
	}

	state, stateVersion, err := readState(ctx, e.Store)
	if err != nil {
		return sum, err
	}
	var from time.Time
	skip := map[Version]bool{}
	if state != nil {
		w := state.Watermark
		sum.WatermarkFrom = &w
	}
	switch {
	case opts.Full:
	case !opts.Since.IsZero():
		from = opts.Since
	case state != nil:
		from = state.Watermark.Add(-opts.Overlap)
		for _, v := range state.Recent {
			skip[Version{ID: v.ID, Modified: v.Modified.UTC()}] = true
		}
	}
	if !from.IsZero() {
		f := from.UTC()
		sum.QueryFrom = &f
	}

	cats, err := e.loadCategories(ctx)
	if err != nil {
		return sum, err
	}

	r := &runState{e: e, opts: opts, skip: skip, seen: map[int64]int{}, cats: cats}
	if !opts.DryRun {
		folder, err := e.pickFolder(ctx, start)
		if err != nil {
			return sum, err
		}
		sum.Backup = folder
		r.folder = folder
		if r.spool, err = newSpool(); err != nil {
			return sum, err
		}
		defer r.spool.close()
	}

	ev := e.Log.Info().Str("backup", sum.Backup).Str("dest", sum.Destination).Bool("full", from.IsZero()).Bool("dry_run", opts.DryRun)
	if !from.IsZero() {
		ev = ev.Str("query_from", from.UTC().Format(time.RFC3339Nano))
	}
	ev.Msg("backup started")

	qerr := e.Source.QueryAssets(ctx, sfmc.AssetQuery{TypeIDs: opts.TypeIDs, ModifiedSince: from}, func(a sfmc.Asset) error { return r.handle(ctx, a) })
	r.wait()
	sum.Blocks, sum.Files, sum.Bytes, sum.Skipped, sum.Failed = r.blocks, r.files, r.bytes, r.skipped, len(r.failures)
	if qerr != nil {
		if ctx.Err() != nil {
			return sum, fmt.Errorf("%w: %w", errInterrupted, context.Cause(ctx))
		}
		return sum, fmt.Errorf("list changed blocks: %w", qerr)
	}
	if ctx.Err() != nil {
		return sum, fmt.Errorf("%w: %w", errInterrupted, context.Cause(ctx))
	}
	if len(r.failures) > 0 {
		sum.Status = StatusPartial
		return sum, &PartialError{Failed: r.failed, Total: r.blocks + r.failed, Err: errors.Join(r.failures...)}
	}

	known, deleted, err := e.trackDeletions(ctx, opts, from.IsZero(), state, r, sum)
	if err != nil {
		return sum, err
	}
	sum.Deleted = len(deleted)

	newW := time.Time{}
	if state != nil {
		newW = state.Watermark
	}
	if r.maxSeen.After(newW) {
		newW = r.maxSeen
	}
	if !newW.IsZero() {
		w := newW.UTC()
		sum.WatermarkTo = &w
	}
	if opts.DryRun {
		sum.Status = StatusDryRun
		return sum, nil
	}

	m := &Manifest{
		FormatVersion: ManifestFormatVersion, Tool: "backup-creator", ToolVersion: e.Version, Name: r.folder,
		StartedAt: start.UTC(), AccountID: opts.AccountID,
		Query:     ManifestQuery{TypeIDs: opts.TypeIDs, ModifiedSince: sum.QueryFrom, Full: from.IsZero()},
		Watermark: ManifestWatermark{From: sum.WatermarkFrom, To: sum.WatermarkTo},
		Counts:    ManifestCounts{Blocks: r.spool.n, Files: r.spool.files, Bytes: r.spool.bytes},
		Deleted:   deleted,
	}
	if s, ok := e.Store.(storage.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return sum, fmt.Errorf("make the backup's files durable: %w", err)
		}
	}
	m.FinishedAt = e.now().UTC()
	if err := e.putManifest(ctx, r.spool, m); err != nil {
		return sum, err
	}

	next := &State{FormatVersion: StateFormatVersion, Watermark: newW.UTC(), LastBackup: r.folder, UpdatedAt: e.now().UTC()}
	if known != nil {
		next.Known, next.KnownTypes = known, opts.TypeIDs
	}
	if state != nil {
		next.Backups = append(next.Backups, state.Backups...)
	}
	next.Backups = append(next.Backups, r.folder)
	cutoff := newW.Add(-opts.Overlap)
	keep := map[Version]bool{}
	if state != nil && !opts.Full && opts.Since.IsZero() {
		for _, v := range state.Recent {
			if !v.Modified.Before(cutoff) {
				keep[Version{ID: v.ID, Modified: v.Modified.UTC()}] = true
			}
		}
	}
	for _, v := range r.recent {
		if !v.Modified.Before(cutoff) {
			keep[v] = true
		}
	}
	for v := range keep {
		next.Recent = append(next.Recent, v)
	}
	sort.Slice(next.Recent, func(i, j int) bool {
		a, b := next.Recent[i], next.Recent[j]
		if !a.Modified.Equal(b.Modified) {
			return a.Modified.Before(b.Modified)
		}
		return a.ID < b.ID
	})
	if err := writeState(ctx, e.Store, next, stateVersion); err != nil {
		return sum, err
	}
	sum.Status = StatusComplete
	return sum, nil
}

// keepLock refreshes the lock in the background. The returned context is
// cancelled (with ErrLockLost as cause) if the lock is taken over; stop ends
// the refreshing and reports that loss.
func (e *Engine) keepLock(ctx context.Context, lk *lock, staleAfter time.Duration) (context.Context, func() error) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	var lost error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(staleAfter / 5)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := lk.refresh(ctx, e.now()); err != nil {
					if errors.Is(err, ErrLockLost) {
						lost = err
						cancel(err)
						return
					}
					e.Log.Warn().Err(err).Msg("could not refresh the lock; retrying")
				}
			}
		}
	}()
	return ctx, func() error {
		close(done)
		wg.Wait()
		cancel(nil)
		return lost
	}
}

func (e *Engine) loadCategories(ctx context.Context) (map[int64]sfmc.Category, error) {
	cats := map[int64]sfmc.Category{}
	err := e.Source.ListCategories(ctx, func(c sfmc.Category) error {
		cats[c.ID] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	return cats, nil
}

// pickFolder returns the first free backup folder name for a run started at t.
// It runs under the lock, so no other backup-creator run can race for it.
func (e *Engine) pickFolder(ctx context.Context, t time.Time) (string, error) {
	for seq := 0; seq < 100; seq++ {
		name := FolderName(t, seq)
		exists := false
		err := e.Store.List(ctx, name+"/", func(storage.ObjectInfo) error {
			exists = true
			return errStopList
		})
		if err != nil && !errors.Is(err, errStopList) {
			return "", fmt.Errorf("check backup folder %s: %w", name, err)
		}
		if !exists {
			return name, nil
		}
	}
	return "", fmt.Errorf("no free backup folder name for %s", t.UTC().Format(time.RFC3339))
}

var errStopList = errors.New("stop listing")

func (e *Engine) putManifest(ctx context.Context, sp *spool, m *Manifest) error {
	f, size, err := sp.writeManifest(m)
	if err != nil {
		return err
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	key := path.Join(m.Name, ManifestName)
	if _, err := e.Store.Put(ctx, key, f, size, storage.PutOptions{IfNotExists: true, ContentType: "application/json"}); err != nil {
		return fmt.Errorf("write manifest %s: %w", key, err)
	}
	return nil
}

// runState is the bookkeeping of one run. handle is called by the pager one
// asset at a time; the writes run in up to Concurrency goroutines.
type runState struct {
	e      *Engine
	opts   RunOptions
	folder string
	spool  *spool
	skip   map[Version]bool
	seen   map[int64]int // versions of each id seen in this run
	ids    []int64       // every id the query returned (for deletion tracking)
	cats   map[int64]sfmc.Category

	sem chan struct{}
	wg  sync.WaitGroup

	mu       sync.Mutex
	seq      int // next sequence number handed out
	nextOut  int // next sequence number to append to the spool
	pending  map[int]*ManifestBlock
	blocks   int
	files    int
	bytes    int64
	skipped  int
	failed   int
	failures []error
	maxSeen  time.Time
	recent   []Version
	spoolErr error
}

func (r *runState) handle(ctx context.Context, a sfmc.Asset) error {
	v := Version{ID: a.ID, Modified: a.ModifiedDate.UTC()}
	if r.skip[v] {
		r.ids = append(r.ids, a.ID)
		r.mu.Lock()
		r.skipped++
		if v.Modified.After(r.maxSeen) {
			r.maxSeen = v.Modified
		}
		r.mu.Unlock()
		return nil
	}
	n := r.seen[a.ID]
	r.seen[a.ID] = n + 1
	r.ids = append(r.ids, a.ID)
	if r.opts.DryRun {
		r.mu.Lock()
		r.blocks++
		r.bytes += int64(len(a.Raw))
		if v.Modified.After(r.maxSeen) {
			r.maxSeen = v.Modified
		}
		r.mu.Unlock()
		return nil
	}
	if r.sem == nil {
		r.sem = make(chan struct{}, r.opts.Concurrency)
		r.pending = map[int]*ManifestBlock{}
	}
	// Wait for a free slot: this is what bounds memory to about
	// Concurrency blocks plus the page the pager holds.
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	r.mu.Lock()
	seq := r.seq
	r.seq++
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() { <-r.sem }()
		entry, err := r.e.storeBlock(ctx, r, a, n)
		r.done(seq, v, entry, err)
	}()
	return nil
}

func (r *runState) done(seq int, v Version, entry *ManifestBlock, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failed++
		if len(r.failures) < maxReportedErrors {
			r.failures = append(r.failures, err)
		}
		r.e.Log.Error().Err(err).Int64("asset_id", v.ID).Msg("block not backed up")
		entry = nil
	} else {
		r.blocks++
		r.files += len(entry.Files)
		var n int64
		for _, f := range entry.Files {
			n += f.Size
		}
		r.bytes += n
		if r.e.Progress != nil {
			r.e.Progress.Add(1, n)
		}
		if v.Modified.After(r.maxSeen) {
			r.maxSeen = v.Modified
		}
		r.recent = appendRecent(r.recent, v, r.maxSeen.Add(-r.opts.Overlap))
	}
	r.pending[seq] = entry
	for {
		e, ok := r.pending[r.nextOut]
		if !ok {
			break
		}
		delete(r.pending, r.nextOut)
		r.nextOut++
		if e != nil && r.spoolErr == nil {
			r.spoolErr = r.spool.add(*e)
		}
	}
}

// appendRecent keeps only the versions at or above cutoff, so the list stays
// bounded by what changed within the overlap window.
func appendRecent(list []Version, v Version, cutoff time.Time) []Version {
	list = append(list, v)
	if len(list) < 1024 || len(list)%1024 != 0 {
		return list
	}
	out := list[:0]
	for _, x := range list {
		if !x.Modified.Before(cutoff) {
			out = append(out, x)
		}
	}
	return out
}

func (r *runState) wait() {
	r.wg.Wait()
	if r.spoolErr != nil {
		r.failures = append(r.failures, fmt.Errorf("manifest spool: %w", r.spoolErr))
		r.failed++
	}
}

// storeBlock writes one block's files and returns its manifest entry.
func (e *Engine) storeBlock(ctx context.Context, r *runState, a sfmc.Asset, version int) (*ManifestBlock, error) {
	base := BlockBaseName(a.ID, a.Name, version)
	typeName := a.AssetType.Name
	if typeName == "" {
		typeName = TypeName(a.AssetType.ID)
	}
	entry := &ManifestBlock{
		ID: a.ID, CustomerKey: a.CustomerKey, Name: a.Name,
		AssetType:    ManifestType{ID: a.AssetType.ID, Name: typeName},
		Category:     r.category(a.Category),
		ModifiedDate: a.ModifiedDateRaw, Modified: a.ModifiedDate.UTC(),
	}
	put := func(rel, role string, data []byte) error {
		key := path.Join(r.folder, BlocksDir, rel)
		// Block files need not be durable one by one: the store syncs them all
		// before the manifest (the commit point) is written.
		if _, err := e.Store.Put(ctx, key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{NoSync: true}); err != nil {
			return fmt.Errorf("block %d: store %s: %w", a.ID, key, err)
		}
		sum := sha256.Sum256(data)
		entry.Files = append(entry.Files, ManifestFile{Path: path.Join(BlocksDir, rel), Role: role, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
		return nil
	}
	if !json.Valid(a.Raw) {
		return nil, fmt.Errorf("block %d: SFMC returned invalid JSON", a.ID)
	}
	if err := put(base+".json", RoleJSON, a.Raw); err != nil {
		return nil, err
	}
	if isFileType(a.AssetType.ID) {
		bin, err := e.Source.GetAssetFile(ctx, a.ID)
		if err != nil {
			return nil, fmt.Errorf("block %d: fetch file: %w", a.ID, err)
		}
		var fp struct {
			FileProperties struct {
				Extension string `json:"extension"`
			} `json:"fileProperties"`
		}
		_ = json.Unmarshal(a.Raw, &fp)
		if err := put(base+FileExt(fp.FileProperties.Extension, typeName), RoleFile, bin); err != nil {
			return nil, err
		}
	} else {
		if err := put(base+ContentExt(typeName, a.Content), RoleContent, []byte(a.Content)); err != nil {
			return nil, err
		}
	}
	return entry, nil
}

func (r *runState) category(ref sfmc.CategoryRef) ManifestCategory {
	mc := ManifestCategory{ID: ref.ID, Name: ref.Name}
	var segs []string
	id := ref.ID
	for depth := 0; id != 0 && depth < 64; depth++ {
		c, ok := r.cats[id]
		if !ok {
			break
		}
		segs = append(segs, c.Name)
		id = c.ParentID
	}
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	if len(segs) > 0 {
		mc.Path = CategoryPath(segs)
		if mc.Name == "" {
			mc.Name = segs[len(segs)-1]
		}
	}
	return mc
}

func newRunID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
