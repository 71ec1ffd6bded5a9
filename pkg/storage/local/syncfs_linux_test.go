//go:build linux

package local

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// TestBackgroundFlush: NoSync writes start a syncfs in the background every
// flushEvery bytes, one at a time; Sync waits for it, flushes once more and
// reports an error the background flush met.
func TestBackgroundFlush(t *testing.T) {
	s, err := New(t.Context(), Config{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var calls atomic.Int32
	var fail atomic.Bool
	hold := make(chan struct{})
	s.bg.syncfs = func() error {
		n := calls.Add(1)
		if n == 1 {
			<-hold // the first background flush runs until released
		}
		if fail.Swap(false) {
			return errors.New("EIO")
		}
		return nil
	}
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	put := func(i int) {
		t.Helper()
		if _, err := s.Put(t.Context(), fmt.Sprintf("b/%d", i), bytes.NewReader(chunk), int64(len(chunk)), storage.PutOptions{Fresh: true, NoSync: true}); err != nil {
			t.Fatal(err)
		}
	}
	// Three times flushEvery while the first flush is held: it is the only one.
	for i := range 3 * flushEvery >> 20 {
		put(i)
	}
	if s.bg.flushes != 1 {
		t.Fatalf("%d background flushes started while one ran, want 1", s.bg.flushes)
	}
	fail.Store(true) // the held flush fails
	close(hold)
	if err := s.Sync(t.Context()); err == nil || !bytes.Contains([]byte(err.Error()), []byte("EIO")) {
		t.Fatalf("Sync = %v, want the background flush's error", err)
	}
	if calls.Load() != 2 {
		t.Errorf("%d syncfs calls, want 2 (the background one and Sync's own)", calls.Load())
	}
	// Reported once: the next Sync is clean.
	if err := s.Sync(t.Context()); err != nil {
		t.Errorf("second Sync = %v", err)
	}
	// Writes below flushEvery start nothing.
	s.bg.flushes = 0
	for i := range flushEvery>>20 - 1 {
		put(100 + i)
	}
	if s.bg.flushes != 0 {
		t.Errorf("%d flushes for less than flushEvery bytes", s.bg.flushes)
	}
}
