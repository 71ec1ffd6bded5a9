package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

func (s *suite) testIfNotExists(t *testing.T) {
	st := s.store(t)
	info, err := put(t, st, "lock", []byte("mine"), storage.PutOptions{IfNotExists: true})
	if err != nil {
		t.Fatalf("first conditional create: %v", err)
	}
	_, err = put(t, st, "lock", []byte("theirs"), storage.PutOptions{IfNotExists: true})
	if !isPrecondition(err) {
		t.Fatalf("second conditional create: %v, want ErrPreconditionFailed", err)
	}
	wantContent(t, st, "lock", []byte("mine"))
	if got, err := st.Stat(t.Context(), "lock"); err != nil || got.Version != info.Version {
		t.Errorf("stat = %+v, %v; want version %q", got, err, info.Version)
	}
	// After a delete the key can be created again.
	if err := st.Delete(t.Context(), "lock", storage.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := put(t, st, "lock", []byte("next"), storage.PutOptions{IfNotExists: true}); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
	wantContent(t, st, "lock", []byte("next"))
}

func (s *suite) testIfVersion(t *testing.T) {
	st := s.store(t)
	v1 := mustPut(t, st, "state.json", []byte(`{"v":1}`))
	v2, err := put(t, st, "state.json", []byte(`{"v":2}`), storage.PutOptions{IfVersion: v1.Version})
	if err != nil {
		t.Fatalf("swap with the right version: %v", err)
	}
	if v2.Version == "" || v2.Version == v1.Version {
		t.Fatalf("version after swap = %q (was %q), want a new one", v2.Version, v1.Version)
	}
	_, err = put(t, st, "state.json", []byte(`{"v":3}`), storage.PutOptions{IfVersion: v1.Version})
	if !isPrecondition(err) {
		t.Fatalf("swap with a stale version: %v, want ErrPreconditionFailed", err)
	}
	wantContent(t, st, "state.json", []byte(`{"v":2}`))
	// IfVersion on a missing key never creates it.
	_, err = put(t, st, "absent.json", []byte("x"), storage.PutOptions{IfVersion: v2.Version})
	if !isPrecondition(err) {
		t.Fatalf("swap on a missing key: %v, want ErrPreconditionFailed", err)
	}
	wantMissing(t, st, "absent.json")
}

func (s *suite) testConditionalDelete(t *testing.T) {
	st := s.store(t)
	v1 := mustPut(t, st, "d", []byte("one"))
	v2 := mustPut(t, st, "d", []byte("two"))
	err := st.Delete(t.Context(), "d", storage.DeleteOptions{IfVersion: v1.Version})
	if !isPrecondition(err) {
		t.Fatalf("delete with a stale version: %v, want ErrPreconditionFailed", err)
	}
	wantContent(t, st, "d", []byte("two"))
	if err := st.Delete(t.Context(), "d", storage.DeleteOptions{IfVersion: v2.Version}); err != nil {
		t.Fatalf("delete with the right version: %v", err)
	}
	wantMissing(t, st, "d")
	// A missing key is either not found or a failed precondition, never nil.
	err = st.Delete(t.Context(), "d", storage.DeleteOptions{IfVersion: v2.Version})
	if !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrPreconditionFailed) {
		t.Fatalf("conditional delete of a missing key: %v, want ErrNotFound or ErrPreconditionFailed", err)
	}
}

// race runs n calls of fn at once (released together) and returns the index
// of the single winner, failing t unless exactly one call succeeded and all
// others lost with ErrPreconditionFailed.
func race(t *testing.T, n int, fn func(i int) error) int {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("racer %d and racer %d both won", winner, i)
		case err == nil:
			winner = i
		case !isPrecondition(err):
			t.Errorf("racer %d: %v, want nil or ErrPreconditionFailed (and not ErrNotFound)", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no racer won")
	}
	return winner
}

func (s *suite) testRacingIfNotExists(t *testing.T) {
	st := s.store(t)
	w := race(t, s.opts.Racers, func(i int) error {
		_, err := put(t, st, "locks/run.lock", fmt.Appendf(nil, "owner %d", i), storage.PutOptions{IfNotExists: true})
		return err
	})
	wantContent(t, st, "locks/run.lock", fmt.Appendf(nil, "owner %d", w))
}

func (s *suite) testRacingIfVersion(t *testing.T) {
	st := s.store(t)
	base := mustPut(t, st, "state.json", []byte("base"))
	w := race(t, s.opts.Racers, func(i int) error {
		_, err := put(t, st, "state.json", fmt.Appendf(nil, "update %d", i), storage.PutOptions{IfVersion: base.Version})
		return err
	})
	wantContent(t, st, "state.json", fmt.Appendf(nil, "update %d", w))
}
