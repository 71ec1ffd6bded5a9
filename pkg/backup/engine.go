package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/backup-creator/backup-creator/pkg/backup/prune"
	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// Source is what the engine needs from SFMC. *sfmc.Client satisfies it.
type Source interface {
	// QueryAssets calls fn for every asset matching q, page by page. Each
	// asset's Raw is one valid JSON value (the engine stores it as is).
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
	r := &runState{e: e, opts: opts, skip: w.skip, seen: map[int64]int64{}, cats: cats,
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

func newRunID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
