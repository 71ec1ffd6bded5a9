package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// LockInfo is the content of the lock object.
type LockInfo struct {
	Host       string    `json:"host"`
	PID        int       `json:"pid"`
	RunID      string    `json:"runId"`
	Version    string    `json:"version"`
	AcquiredAt time.Time `json:"acquiredAt"`
	// RefreshedAt is renewed while the run is alive; a lock not refreshed for
	// the stale age is taken to belong to a run that is gone.
	RefreshedAt time.Time `json:"refreshedAt"`
}

func (l LockInfo) holder() string {
	return fmt.Sprintf("%s (pid %d, run %s, started %s, last seen %s)", l.Host, l.PID, l.RunID,
		l.AcquiredAt.UTC().Format(time.RFC3339), l.RefreshedAt.UTC().Format(time.RFC3339))
}

// LockedError means another run holds the destination's lock.
type LockedError struct {
	Dest   string
	Holder LockInfo
	// StaleAfter is the age after which the lock would be broken.
	StaleAfter time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("another backup-creator process (a run or a prune) holds the lock on %s: %s; it is taken over automatically once it has not been refreshed for %s, or remove %s if you are sure that process is gone",
		e.Dest, e.Holder.holder(), e.StaleAfter, LockKey)
}

// ErrLockLost means the run's lock was taken over by another run while this
// one was still working (it was considered stale). The run stops without
// advancing the watermark.
var ErrLockLost = errors.New("lock lost: another run took over this destination's lock")

// Lock is a held destination lock. Every command that writes to a destination
// (run, prune) holds it for as long as it writes; Keep refreshes it.
type Lock struct {
	st      storage.Store
	info    LockInfo
	version string
}

// AcquireLock takes the destination's lock for me at now. A lock held by
// another run that was refreshed within staleAfter gives a *LockedError; an
// older one, a damaged one, or one whose process is gone on this host is
// taken over atomically (compare-and-swap on its version).
func AcquireLock(ctx context.Context, st storage.Store, me LockInfo, now time.Time, staleAfter time.Duration) (*Lock, error) {
	me.AcquiredAt, me.RefreshedAt = now, now
	b, _ := json.Marshal(me)
	for attempt := 0; attempt < 3; attempt++ {
		info, err := st.Put(ctx, LockKey, bytes.NewReader(b), int64(len(b)), storage.PutOptions{IfNotExists: true, ContentType: "application/json"})
		if err == nil {
			return &Lock{st: st, info: me, version: info.Version}, nil
		}
		if !errors.Is(err, storage.ErrPreconditionFailed) {
			return nil, fmt.Errorf("take lock %s in %s: %w", LockKey, st, err)
		}
		// Someone holds it: is it stale?
		rc, cur, err := st.Get(ctx, LockKey)
		if errors.Is(err, storage.ErrNotFound) {
			continue // released meanwhile: try again
		}
		if err != nil {
			return nil, fmt.Errorf("read lock %s in %s: %w", LockKey, st, err)
		}
		raw, err := readAllLimited(rc, 64<<10)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read lock %s in %s: %w", LockKey, st, err)
		}
		var holder LockInfo
		damaged := json.Unmarshal(raw, &holder) != nil
		stale := damaged || now.Sub(holder.RefreshedAt) > staleAfter ||
			(holder.Host == me.Host && holder.PID > 0 && processAlive(holder.PID) == aliveNo)
		if !stale {
			return nil, &LockedError{Dest: st.String(), Holder: holder, StaleAfter: staleAfter}
		}
		// Break it atomically: only one breaker can win against this version.
		taken, err := st.Put(ctx, LockKey, bytes.NewReader(b), int64(len(b)), storage.PutOptions{IfVersion: cur.Version, ContentType: "application/json"})
		if err == nil {
			return &Lock{st: st, info: me, version: taken.Version}, nil
		}
		if !errors.Is(err, storage.ErrPreconditionFailed) && !errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("take over stale lock %s in %s: %w", LockKey, st, err)
		}
	}
	return nil, fmt.Errorf("take lock %s in %s: lost the race three times", LockKey, st)
}

// Refresh renews the lock's RefreshedAt; it fails with ErrLockLost when
// another run has taken the lock over.
func (l *Lock) Refresh(ctx context.Context, now time.Time) error {
	next := l.info
	next.RefreshedAt = now
	b, _ := json.Marshal(next)
	info, err := l.st.Put(ctx, LockKey, bytes.NewReader(b), int64(len(b)), storage.PutOptions{IfVersion: l.version, ContentType: "application/json"})
	if errors.Is(err, storage.ErrPreconditionFailed) || errors.Is(err, storage.ErrNotFound) {
		return ErrLockLost
	}
	if err != nil {
		return fmt.Errorf("refresh lock %s: %w", LockKey, err)
	}
	l.info, l.version = next, info.Version
	return nil
}

// Release deletes the lock if it is still ours.
func (l *Lock) Release(ctx context.Context) error {
	err := l.st.Delete(ctx, LockKey, storage.DeleteOptions{IfVersion: l.version})
	if err == nil || errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrPreconditionFailed) {
		return nil
	}
	return fmt.Errorf("release lock %s: %w", LockKey, err)
}

// Keep refreshes the lock every staleAfter/5 until stop is called. The
// returned context is cancelled (with ErrLockLost as its cause) if the lock is
// taken over meanwhile; stop ends the refreshing and returns ErrLockLost in
// that case. A refresh that fails for another reason is reported to warn and
// retried at the next tick.
func (l *Lock) Keep(ctx context.Context, staleAfter time.Duration, now func() time.Time, warn func(error)) (context.Context, func() error) {
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
				if err := l.Refresh(ctx, now()); err != nil {
					if errors.Is(err, ErrLockLost) {
						lost = err
						cancel(err)
						return
					}
					warn(err)
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

type aliveness int

const (
	aliveUnknown aliveness = iota
	aliveYes
	aliveNo
)
