//go:build linux

package local

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// canSyncFS: on Linux, syncfs(2) flushes the whole file system at once, so
// writes with PutOptions.NoSync skip their own fsyncs until Sync.
const canSyncFS = true

// flushEvery is how many bytes of NoSync writes start a writeback in the
// background: a backup of 300 MB then leaves Sync the last few MB to wait
// for, not all of it.
const flushEvery = 32 << 20

// flusher runs at most one syncfs(2) in the background at a time.
type flusher struct {
	mu      sync.Mutex
	pending int64         // NoSync bytes written since the last flush started
	done    chan struct{} // closed when the running flush ends; nil when none runs
	err     error         // a background flush's error, for the next Sync
	flushes int           // background flushes started (for tests)
	// syncfs replaces Store.syncfs in tests.
	syncfs func() error
}

// wroteUnsynced counts n bytes written with NoSync and starts a background
// flush when enough have piled up and none is running.
func (s *Store) wroteUnsynced(n int64) {
	b := &s.bg
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending += n
	if b.done != nil || b.pending < flushEvery {
		return
	}
	b.pending = 0
	b.flushes++
	done := make(chan struct{})
	b.done = done
	go func() {
		err := s.syncfs()
		b.mu.Lock()
		defer b.mu.Unlock()
		if err != nil && b.err == nil {
			b.err = err
		}
		b.done = nil
		close(done)
	}()
}

// waitFlush waits for the background flush, if one runs.
func (s *Store) waitFlush() {
	s.bg.mu.Lock()
	done := s.bg.done
	s.bg.mu.Unlock()
	if done != nil {
		<-done
	}
}

// syncfs flushes the file system of the root through the lock file, which
// the store opened before writing anything: syncfs reports the write-back
// errors that happened since the file it is given was opened, so a
// descriptor opened just for the call could miss an error of the kernel's
// own write-back during the run.
func (s *Store) syncfs() error {
	if s.bg.syncfs != nil {
		return s.bg.syncfs()
	}
	rc, err := s.lock.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Syncfs(int(fd)) }); err != nil {
		return err
	}
	return serr
}

// Sync makes every object written with PutOptions.NoSync durable: one
// syncfs(2) of the file system that holds the root, instead of two fsyncs
// per object. It waits for a background flush first and reports its error.
func (s *Store) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	s.waitFlush()
	err := s.syncfs()
	s.bg.mu.Lock()
	if err == nil {
		err = s.bg.err
	}
	s.bg.err = nil
	s.bg.pending = 0
	s.bg.mu.Unlock()
	if err != nil {
		return fmt.Errorf("sync %s: %w", s.root, err)
	}
	return nil
}
