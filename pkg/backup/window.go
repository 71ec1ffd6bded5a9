package backup

// Where a run starts: the lock, the state (rolled forward over a lost state
// write), the query window, and the checks on the watermark against SFMC's clock.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
)

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
