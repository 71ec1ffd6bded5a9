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
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/backup-creator/backup-creator/pkg/backup/prune"
	"github.com/backup-creator/backup-creator/pkg/backup/repo"
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
	// TypeIDs are the asset types to back up (default sfmc.DefaultBlockTypes).
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
	// AfterCommit, when set, is called after the backup and the state are
	// written, still inside the lock (retention.auto prunes here). Its error
	// becomes the run's error; the backup stays committed.
	AfterCommit func(ctx context.Context, sum *Summary) error
	// TrackDeletions lists the ids of all blocks of the selected types after
	// the backup and records the blocks that disappeared since the previous
	// run as tombstones in the manifest. A full run gets the listing for free;
	// an incremental run pays about one request per 500 blocks.
	TrackDeletions bool
	// DeletionsMaxShare is the largest share of the known blocks (0 < x ≤ 1,
	// default 0.5) that one listing may lack before it is distrusted: a listing
	// that drops more at once (an empty or truncated SFMC response looks
	// exactly like that) records no tombstones, keeps every known id for the
	// next comparison, warns, and sets Summary.DeletionsSuppressed.
	DeletionsMaxShare float64
	// AcceptDeletions records the tombstones of such a listing anyway.
	AcceptDeletions bool
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
	// Interrupted counts the blocks under way when a signal, --timeout or a
	// lost lock stopped the run: not failed, just not backed up by this run.
	Interrupted int `json:"interrupted,omitempty"`
	Deleted     int `json:"deleted"`
	// FutureDated counts the blocks dated more than a day after SFMC's clock:
	// backed up, but their dates did not move the watermark.
	FutureDated int `json:"futureDated,omitempty"`
	// DeletionsSuppressed is the number of blocks missing from the id listing
	// whose tombstones were not recorded, because more than
	// RunOptions.DeletionsMaxShare of the known blocks were missing at once.
	DeletionsSuppressed int `json:"deletionsSuppressed,omitempty"`
	// Relisted counts blocks the id listing returned that no earlier listing
	// had (a block listed again after a tombstone) and that the changed-block
	// query had not returned: they are backed up again, so a restore includes them.
	Relisted int `json:"relisted,omitempty"`
	// DeletionCheckRequests is what the id listing for deletion tracking cost.
	DeletionCheckRequests int64      `json:"deletionCheckRequests"`
	WatermarkFrom         *time.Time `json:"watermarkFrom,omitempty"`
	WatermarkTo           *time.Time `json:"watermarkTo,omitempty"`
	QueryFrom             *time.Time `json:"queryFrom,omitempty"`
	Full                  bool       `json:"full"`
	// Prune reports the retention.auto prune that followed the backup.
	Prune *prune.Report `json:"prune,omitempty"`
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
	noun := "blocks"
	if e.Total == 1 {
		noun = "block"
	}
	return fmt.Sprintf("%d of %d %s could not be backed up (watermark not advanced; the next run retries them): %v", e.Failed, e.Total, noun, e.Err)
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
		o.TypeIDs = sfmc.DefaultBlockTypes
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
	if o.DeletionsMaxShare <= 0 || o.DeletionsMaxShare > 1 {
		o.DeletionsMaxShare = 0.5
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

	if !opts.DryRun {
		var unlock func(*error)
		if ctx, unlock, err = e.lock(ctx, start, opts); err != nil {
			return sum, err
		}
		defer unlock(&err)
	}
	w, err := e.queryWindow(ctx, opts, sum)
	if err != nil {
		return sum, err
	}
	r, err := e.newRunState(ctx, opts, w, start, sum)
	if err != nil {
		return sum, err
	}
	defer r.close()
	if err := e.storeBlocks(ctx, r, w, sum); err != nil {
		return sum, err
	}
	known, deleted, err := e.trackDeletions(ctx, opts, w.from.IsZero(), w.state, r, sum)
	if err != nil {
		return sum, err
	}
	sum.Deleted = len(deleted)
	newW := w.nextWatermark(r.maxSeen, e.serverNow().Add(clockSkew))
	sum.FutureDated = r.future
	if !newW.IsZero() {
		t := newW.UTC()
		sum.WatermarkTo = &t
	}
	if opts.DryRun {
		sum.Status = StatusDryRun
		return sum, nil
	}
	if err := e.commit(ctx, r, w, start, deleted, sum); err != nil {
		return sum, err
	}
	if err := e.writeNextState(ctx, opts, w, r, known, newW); err != nil {
		return sum, err
	}
	sum.Status = StatusComplete
	if opts.AfterCommit != nil {
		// Inside the lock, after the state: a failure here does not undo the backup.
		if err := opts.AfterCommit(ctx, sum); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// lock takes the destination lock and keeps it refreshed. The returned
// context is cancelled if the lock is lost; unlock stops refreshing, releases
// the lock and turns a loss into the run's error.
func (e *Engine) lock(ctx context.Context, start time.Time, opts RunOptions) (context.Context, func(*error), error) {
	host, pid := e.Host, e.PID
	if host == "" {
		host, _ = os.Hostname()
	}
	if pid == 0 {
		pid = os.Getpid()
	}
	lk, err := repo.AcquireLock(ctx, e.Store, repo.LockInfo{Host: host, PID: pid, RunID: newRunID(), Version: e.Version}, start, opts.LockStaleAfter)
	if err != nil {
		return ctx, nil, err
	}
	kctx, stop := lk.Keep(ctx, opts.LockStaleAfter, e.now, func(err error) {
		e.Log.Warn().Err(err).Msg("could not refresh the lock; retrying")
	})
	return kctx, func(errp *error) {
		if lerr := stop(); lerr != nil && *errp == nil {
			*errp = lerr
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if rerr := lk.Release(rctx); rerr != nil {
			e.Log.Warn().Err(rerr).Msg("could not release the lock; the next run takes it over once it is stale")
		}
	}, nil
}

// window is where a run starts: the state it read (rolled forward over a
// backup whose state write was lost), the lower bound of its query, and the
// versions inside the overlap that are already stored.
type window struct {
	state        *repo.State
	stateVersion string
	from         time.Time
	skip         map[repo.Version]bool
	// incremental tells whether the overlap list carries over to the next state.
	incremental bool
	// futureState says the stored watermark lies after SFMC's clock (allowed
	// with --since or --full): the new watermark does not build on it.
	futureState bool
}

func (e *Engine) queryWindow(ctx context.Context, opts RunOptions, sum *Summary) (*window, error) {
	state, version, err := repo.ReadStateVersion(ctx, e.Store)
	if err != nil {
		return nil, err
	}
	if state != nil && state.Pending != "" {
		if state, err = e.rollForward(ctx, state, opts.Overlap); err != nil {
			return nil, err
		}
	}
	if j, err := repo.ReadPruneJournal(ctx, e.Store); err == nil && j != nil {
		e.Log.Warn().Strs("removing", j.Remove).Msg("an interrupted prune left " + repo.PruneJournalKey + ": every kept backup is intact; the next prune (or retention.auto) finishes it")
	}
	w := &window{state: state, stateVersion: version, skip: map[repo.Version]bool{}}
	if state != nil {
		t := state.Watermark
		sum.WatermarkFrom = &t
	}
	switch {
	case opts.Full:
	case !opts.Since.IsZero():
		w.from = opts.Since
	case state != nil:
		w.from = state.Watermark.Add(-opts.Overlap)
		w.incremental = true
		for _, v := range state.Recent {
			w.skip[repo.Version{ID: v.ID, Modified: v.Modified.UTC()}] = true
		}
	}
	if !w.from.IsZero() {
		f := w.from.UTC()
		sum.QueryFrom = &f
	}
	return w, nil
}

// rollForward handles a state whose last write was lost: a run announced
// its backup folder (Pending) before writing the manifest, and was stopped
// before it wrote the state that lists the backup. When that folder holds a
// complete backup, the state is advanced over it in memory, as that run would
// have written it (the next successful run stores it), so its blocks are not
// stored again; an incomplete folder is ignored.
func (e *Engine) rollForward(ctx context.Context, s *repo.State, overlap time.Duration) (*repo.State, error) {
	next := *s
	next.Pending = ""
	if slices.Contains(s.Backups, s.Pending) {
		return &next, nil
	}
	var recent []repo.Version
	known := map[int64]bool{}
	for _, id := range s.Known {
		known[id] = true
	}
	m, err := repo.ScanBackup(ctx, e.Store, s.Pending, func(b repo.ManifestBlock) error {
		recent = append(recent, repo.Version{ID: b.ID, Modified: b.Modified.UTC()})
		known[b.ID] = true
		return nil
	})
	if errors.Is(err, repo.ErrIncomplete) {
		return &next, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the last run stopped after writing backup %s but before recording it in %s; reading it to continue from it: %w", s.Pending, repo.StateKey, err)
	}
	if m.Watermark.To != nil && m.Watermark.To.After(next.Watermark) {
		next.Watermark = m.Watermark.To.UTC()
	}
	cutoff := next.Watermark.Add(-overlap)
	next.Recent = nil
	for _, v := range append(slices.Clone(s.Recent), recent...) {
		if !v.Modified.Before(cutoff) {
			next.Recent = append(next.Recent, v)
		}
	}
	for _, d := range m.Deleted {
		delete(known, d.ID)
	}
	if len(s.Known) > 0 {
		next.Known = next.Known[:0:0]
		for id := range known {
			next.Known = append(next.Known, id)
		}
		slices.Sort(next.Known)
	}
	next.LastBackup = s.Pending
	next.Backups = append(slices.Clone(s.Backups), s.Pending)
	e.Log.Warn().Str("backup", s.Pending).Msg("the last run wrote this backup but stopped before recording it; continuing from it")
	return &next, nil
}

// nextWatermark is the newest modifiedDate stored, never below the old one
// (unless that one was found to lie in the future) and never beyond limit
// (SFMC's clock plus the skew allowance).
func (w *window) nextWatermark(maxSeen, limit time.Time) time.Time {
	var t time.Time
	if w.state != nil && !w.futureState {
		t = w.state.Watermark
	}
	if maxSeen.After(t) {
		t = maxSeen
	}
	if t.IsZero() && w.futureState {
		t = w.from // --since
	}
	if t.After(limit) {
		t = limit
	}
	return t
}

// Clock sanity: a watermark in the future would stop every backup silently.
const (
	// futureAllowance: a block dated more than this after SFMC's clock is
	// backed up, but its date does not move the watermark.
	futureAllowance = 24 * time.Hour
	// clockSkew is how far a watermark may lie ahead of SFMC's clock as the
	// engine sees it (the Date header has a one-second resolution, and
	// SFMC's servers need not agree to the second).
	clockSkew = 5 * time.Minute
)

// ErrFutureWatermark is returned (wrapped) by Run when the stored watermark
// lies after SFMC's clock: run with --since or --full to set it right.
var ErrFutureWatermark = errors.New("the stored watermark is later than SFMC's clock")

// serverClock is the optional Source capability of telling SFMC's current
// time (*sfmc.Client reads it from the Date header).
type serverClock interface {
	ServerNow() (time.Time, bool)
}

// serverNow is SFMC's clock when the source knows it, else the local one.
func (e *Engine) serverNow() time.Time {
	if sc, ok := e.Source.(serverClock); ok {
		if t, ok := sc.ServerNow(); ok {
			return t
		}
	}
	return e.now()
}

// checkWatermark refuses a stored watermark later than SFMC's clock, unless
// the run does not start from it (--since, --full): then the new watermark
// ignores it.
func (e *Engine) checkWatermark(opts RunOptions, w *window) error {
	if w.state == nil {
		return nil
	}
	now := e.serverNow()
	if !w.state.Watermark.After(now.Add(clockSkew)) {
		return nil
	}
	if !opts.Full && opts.Since.IsZero() {
		return fmt.Errorf("%w: watermark %s in %s, SFMC's clock says %s; a run from it would never back up a change. "+
			"If the state file was damaged or a block dated in the future moved it, run once with --since TIME (e.g. the start of the last good backup) or --full",
			ErrFutureWatermark, w.state.Watermark.UTC().Format(time.RFC3339Nano), repo.StateKey, now.UTC().Format(time.RFC3339))
	}
	w.futureState = true
	e.Log.Warn().Str("watermark", w.state.Watermark.UTC().Format(time.RFC3339Nano)).Str("sfmc_time", now.UTC().Format(time.RFC3339)).
		Msg("the stored watermark is later than SFMC's clock: this run replaces it")
	return nil
}

// newRunState loads the folder tree and, for a real run, picks the backup
// folder and announces it in the state (so a run stopped between its manifest
// and its state write is rolled forward by the next one).
func (e *Engine) newRunState(ctx context.Context, opts RunOptions, w *window, start time.Time, sum *Summary) (*runState, error) {
	cats, err := e.loadCategories(ctx)
	if err != nil {
		return nil, err
	}
	// After the first SFMC response, which tells SFMC's clock.
	if err := e.checkWatermark(opts, w); err != nil {
		return nil, err
	}
	r := &runState{e: e, opts: opts, skip: w.skip, seen: map[int64]int{}, cats: cats,
		futureAfter: e.serverNow().Add(futureAllowance)}
	if !opts.DryRun {
		folder, err := repo.FreeFolder(ctx, e.Store, start)
		if err != nil {
			return nil, err
		}
		sum.Backup, r.folder = folder, folder
		if w.state != nil {
			pending := *w.state
			pending.Pending = folder
			if w.stateVersion, err = repo.WriteState(ctx, e.Store, &pending, w.stateVersion); err != nil {
				return nil, err
			}
		}
		if r.spool, err = repo.NewManifestWriter(); err != nil {
			return nil, err
		}
	}
	ev := e.Log.Info().Str("backup", sum.Backup).Str("dest", sum.Destination).Bool("full", w.from.IsZero()).Bool("dry_run", opts.DryRun)
	if !w.from.IsZero() {
		ev = ev.Str("query_from", w.from.UTC().Format(time.RFC3339Nano))
	}
	ev.Msg("backup started")
	return r, nil
}

// storeBlocks streams the changed blocks from SFMC into the backup folder.
func (e *Engine) storeBlocks(ctx context.Context, r *runState, w *window, sum *Summary) error {
	qerr := e.Source.QueryAssets(ctx, sfmc.AssetQuery{TypeIDs: r.opts.TypeIDs, ModifiedSince: w.from}, func(a sfmc.Asset) error { return r.handle(ctx, a) })
	if qerr != nil && ctx.Err() == nil {
		r.wait()
		r.counts(sum)
		return fmt.Errorf("list changed blocks: %w", qerr)
	}
	return r.finish(ctx, sum)
}

// counts copies the run's counters into the summary.
func (r *runState) counts(sum *Summary) {
	sum.Blocks, sum.Files, sum.Bytes, sum.Skipped, sum.Failed, sum.Interrupted = r.blocks, r.files, r.bytes, r.skipped, r.failed, r.interrupted
}

// finish waits for the blocks under way and turns failures into the run's error.
func (r *runState) finish(ctx context.Context, sum *Summary) error {
	r.wait()
	r.counts(sum)
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", errInterrupted, context.Cause(ctx))
	}
	if len(r.failures) > 0 {
		sum.Status = StatusPartial
		return &PartialError{Failed: r.failed, Total: r.blocks + r.failed, Err: errors.Join(r.failures...)}
	}
	return nil
}

// commit makes the block files durable and writes the manifest, the commit
// point of the backup.
func (e *Engine) commit(ctx context.Context, r *runState, w *window, start time.Time, deleted []repo.DeletedBlock, sum *Summary) error {
	m := &repo.Manifest{
		FormatVersion: repo.ManifestFormatVersion, Tool: "backup-creator", ToolVersion: e.Version, Name: r.folder,
		StartedAt: start.UTC(), AccountID: r.opts.AccountID,
		Query:     repo.ManifestQuery{TypeIDs: r.opts.TypeIDs, ModifiedSince: sum.QueryFrom, Full: w.from.IsZero()},
		Watermark: repo.ManifestWatermark{From: sum.WatermarkFrom, To: sum.WatermarkTo},
		Counts:    r.spool.Counts(),
		Deleted:   deleted,
	}
	if s, ok := e.Store.(storage.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return fmt.Errorf("make the backup's files durable: %w", err)
		}
	}
	m.FinishedAt = e.now().UTC()
	_, err := r.spool.Put(ctx, e.Store, m, storage.PutOptions{IfNotExists: true})
	return err
}

// writeNextState records the backup and the new watermark, with the versions
// inside the next overlap window that are now stored.
func (e *Engine) writeNextState(ctx context.Context, opts RunOptions, w *window, r *runState, known []int64, newW time.Time) error {
	next := &repo.State{FormatVersion: repo.StateFormatVersion, Watermark: newW.UTC(), LastBackup: r.folder, UpdatedAt: e.now().UTC()}
	if known != nil {
		next.Known, next.KnownTypes = known, opts.TypeIDs
	}
	if w.state != nil {
		next.Backups = append(next.Backups, w.state.Backups...)
	}
	next.Backups = append(next.Backups, r.folder)
	cutoff := newW.Add(-opts.Overlap)
	keep := map[repo.Version]bool{}
	if w.incremental {
		for _, v := range w.state.Recent {
			if !v.Modified.Before(cutoff) {
				keep[repo.Version{ID: v.ID, Modified: v.Modified.UTC()}] = true
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
	_, err := repo.WriteState(ctx, e.Store, next, w.stateVersion)
	return err
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

// runState is the bookkeeping of one run. handle is called by the pager one
// asset at a time; the writes run in up to Concurrency goroutines.
type runState struct {
	e      *Engine
	opts   RunOptions
	folder string
	spool  *repo.ManifestWriter
	skip   map[repo.Version]bool
	seen   map[int64]int // versions of each id seen in this run
	ids    []int64       // every id the query returned (for deletion tracking)
	// skippedIDs are the ids of ids skipped as already stored (overlap).
	skippedIDs []int64
	cats       map[int64]sfmc.Category

	sem chan struct{}
	wg  sync.WaitGroup

	mu       sync.Mutex
	seq      int // next sequence number handed out
	nextOut  int // next sequence number to append to the spool
	pending  map[int]*repo.ManifestBlock
	blocks   int
	files    int
	bytes    int64
	skipped  int
	failed   int
	failures []error
	// interrupted counts blocks cut off by the end of the run's context.
	interrupted     int
	spoolErrCounted bool
	maxSeen         time.Time
	// futureAfter: blocks dated after it do not move maxSeen (counted in future).
	futureAfter time.Time
	future      int
	recent      []repo.Version
	spoolErr    error
}

func (r *runState) handle(ctx context.Context, a sfmc.Asset) error {
	v := repo.Version{ID: a.ID, Modified: jsonInstant(a.ModifiedDate)}
	if r.skip[v] {
		r.ids = append(r.ids, a.ID)
		r.skippedIDs = append(r.skippedIDs, a.ID)
		r.mu.Lock()
		r.skipped++
		r.noteModified(v, false)
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
		r.noteModified(v, true)
		r.mu.Unlock()
		return nil
	}
	if r.sem == nil {
		r.sem = make(chan struct{}, r.opts.Concurrency)
		r.pending = map[int]*repo.ManifestBlock{}
	}
	// Wait for a free slot: this is what bounds memory to about
	// Concurrency blocks plus the page the pager holds.
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	// Both may have been ready: a slot freed by a block the cancellation
	// just stopped. Start nothing once the run is stopped.
	if ctx.Err() != nil {
		<-r.sem
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
		r.done(seq, v, entry, err, ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)))
	}()
	return nil
}

// done records the outcome of one block; stopped says err is the run's
// context ending (the block is interrupted, not failed).
func (r *runState) done(seq int, v repo.Version, entry *repo.ManifestBlock, err error, stopped bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil && stopped {
		r.interrupted++
		entry = nil
	} else if err != nil {
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
		r.noteModified(v, true)
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
			r.spoolErr = r.spool.Add(*e)
		}
	}
}

// noteModified moves maxSeen to v's date (r.mu held), unless v is dated more
// than futureAllowance after SFMC's clock: such a block is backed up, but a
// watermark at its date would hide every change until then. stored says the
// version is stored by this run (it is warned about only then).
func (r *runState) noteModified(v repo.Version, stored bool) {
	if v.Modified.After(r.futureAfter) {
		r.future++
		if stored {
			r.e.Log.Warn().Int64("asset_id", v.ID).Str("modified", v.Modified.Format(time.RFC3339Nano)).
				Msg("block dated more than a day after SFMC's clock: backed up, but the watermark does not move to its date")
		}
		return
	}
	if v.Modified.After(r.maxSeen) {
		r.maxSeen = v.Modified
	}
}

// appendRecent keeps only the versions at or above cutoff, so the list stays
// bounded by what changed within the overlap window.
func appendRecent(list []repo.Version, v repo.Version, cutoff time.Time) []repo.Version {
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

func (r *runState) close() {
	if r.spool != nil {
		r.spool.Close()
	}
}

func (r *runState) wait() {
	r.wg.Wait()
	if r.spoolErr != nil && !r.spoolErrCounted {
		r.spoolErrCounted = true
		r.failures = append(r.failures, fmt.Errorf("manifest spool: %w", r.spoolErr))
		r.failed++
	}
}

// storeBlock writes one block's files and returns its manifest entry.
func (e *Engine) storeBlock(ctx context.Context, r *runState, a sfmc.Asset, version int) (*repo.ManifestBlock, error) {
	base := repo.BlockBaseName(a.ID, a.Name, version)
	typeName := a.AssetType.Name
	if typeName == "" {
		typeName = sfmc.TypeName(a.AssetType.ID)
	}
	entry := &repo.ManifestBlock{
		ID: a.ID, CustomerKey: a.CustomerKey, Name: a.Name,
		AssetType:    repo.ManifestType{ID: a.AssetType.ID, Name: typeName},
		Category:     r.category(a.Category),
		ModifiedDate: a.ModifiedDateRaw, Modified: jsonInstant(a.ModifiedDate),
	}
	put := func(rel, role string, data []byte) error {
		key := path.Join(r.folder, repo.BlocksDir, rel)
		// Block files need not be durable one by one: the store syncs them all
		// before the manifest (the commit point) is written.
		if _, err := e.Store.Put(ctx, key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{NoSync: true}); err != nil {
			return fmt.Errorf("block %d: store %s: %w", a.ID, key, err)
		}
		sum := sha256.Sum256(data)
		entry.Files = append(entry.Files, repo.ManifestFile{Path: path.Join(repo.BlocksDir, rel), Role: role, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
		return nil
	}
	if !json.Valid(a.Raw) {
		return nil, fmt.Errorf("block %d: SFMC returned invalid JSON", a.ID)
	}
	if err := put(base+".json", repo.RoleJSON, a.Raw); err != nil {
		return nil, err
	}
	if sfmc.IsFileType(a.AssetType.ID) {
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
		if err := put(base+repo.FileExt(fp.FileProperties.Extension, typeName), repo.RoleFile, bin); err != nil {
			return nil, err
		}
	} else {
		if err := put(base+repo.ContentExt(typeName, a.Content), repo.RoleContent, []byte(a.Content)); err != nil {
			return nil, err
		}
	}
	return entry, nil
}

func (r *runState) category(ref sfmc.CategoryRef) repo.ManifestCategory {
	mc := repo.ManifestCategory{ID: ref.ID, Name: ref.Name}
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
		mc.Path = repo.CategoryPath(segs)
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

// Bounds of the instants time.Time can put into JSON (years 0–9999, UTC).
var (
	minJSONTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	maxJSONTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// jsonInstant is a block's modifiedDate instant as the manifest and the
// state keep it: in UTC and clamped to the years JSON can hold, so that one
// odd date (SFMC's 9999-12-31T23:59:59-06:00 is year 10000 in UTC) cannot
// make the manifest or the state unwritable. The block's modifiedDate string
// is kept as SFMC sent it; a date clamped to year 9999 is far in the future
// and does not move the watermark (noteModified).
func jsonInstant(t time.Time) time.Time {
	t = t.UTC()
	switch {
	case t.After(maxJSONTime):
		return maxJSONTime
	case t.Before(minJSONTime):
		return minJSONTime
	}
	return t
}
