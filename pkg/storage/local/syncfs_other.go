//go:build !linux

package local

import "context"

// canSyncFS: without syncfs(2) every Put is durable on return and
// PutOptions.NoSync is ignored.
const canSyncFS = false

type flusher struct{}

func (s *Store) wroteUnsynced(int64) {}
func (s *Store) waitFlush()          {}

// Sync has nothing to do: every Put was durable on return.
func (s *Store) Sync(ctx context.Context) error { return ctx.Err() }
