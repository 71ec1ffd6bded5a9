//go:build linux

package local

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"
)

// canSyncFS: on Linux, syncfs(2) flushes the whole file system at once, so
// writes with PutOptions.NoSync skip their own fsyncs until Sync.
const canSyncFS = true

// Sync makes every object written with PutOptions.NoSync durable: one
// syncfs(2) of the file system that holds the root, instead of two fsyncs
// per object.
func (s *Store) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	d, err := s.r.Open(".")
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", s.root, err)
	}
	return nil
}
