package storagetest_test

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
	"github.com/backup-creator/backup-creator/pkg/storage/storagetest"
)

// The Faulty wrapper passes the conformance suite itself when it injects
// nothing, with and without an inner store that has the capabilities.
func TestFaultyConformance(t *testing.T) {
	storagetest.Run(t, func(*testing.T) storage.Store { return storagetest.NewFaulty(mem.New()) })
	t.Run("plain inner", func(t *testing.T) {
		storagetest.Run(t, func(*testing.T) storage.Store { return storagetest.NewFaulty(storagetest.Plain(mem.New())) })
	})
}

func put(t *testing.T, st storage.Store, key string) error {
	t.Helper()
	_, err := st.Put(t.Context(), key, strings.NewReader(key), int64(len(key)), storage.PutOptions{})
	return err
}

func keysOf(t *testing.T, st storage.Store) []string {
	t.Helper()
	var ks []string
	if err := st.List(t.Context(), "", func(oi storage.ObjectInfo) error { ks = append(ks, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return ks
}

// job is a little "operation under test": 2 puts, a copy, a delete and a
// batch delete of 3 keys = 7 mutating steps.
func job(t *testing.T, st storage.Store) error {
	t.Helper()
	for _, k := range []string{"a/1", "a/2"} {
		if err := put(t, st, k); err != nil {
			return err
		}
	}
	if _, err := storage.Copy(t.Context(), st, "a/1", "b/1"); err != nil {
		return err
	}
	if err := st.Delete(t.Context(), "a/2", storage.DeleteOptions{}); err != nil {
		return err
	}
	if err := storage.DeleteKeys(t.Context(), st, []string{"old/z", "old/x", "old/y", "old/x"}); err != nil {
		return err
	}
	// Reads after the last step fail too once crashed.
	_, err := st.Stat(t.Context(), "b/1")
	return err
}

func seed(t *testing.T) *mem.Store {
	st := mem.New()
	for _, k := range []string{"old/x", "old/y", "old/z"} {
		if err := put(t, st, k); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestFaultyCrashAtEveryStep(t *testing.T) {
	f := storagetest.NewFaulty(seed(t))
	if err := job(t, f); err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, c := range f.Steps() {
		steps = append(steps, c.String())
	}
	want := []string{
		"step 1: put a/1", "step 2: put a/2", "step 3: copy a/1 to b/1", "step 4: delete a/2",
		"step 5: delete-keys old/x", "step 6: delete-keys old/y", "step 7: delete-keys old/z",
	}
	if !slices.Equal(steps, want) {
		t.Fatalf("steps = %q, want %q", steps, want)
	}
	// What the inner store holds after a crash after n steps.
	after := [][]string{
		{"old/x", "old/y", "old/z"},
		{"a/1", "old/x", "old/y", "old/z"},
		{"a/1", "a/2", "old/x", "old/y", "old/z"},
		{"a/1", "a/2", "b/1", "old/x", "old/y", "old/z"},
		{"a/1", "b/1", "old/x", "old/y", "old/z"},
		{"a/1", "b/1", "old/y", "old/z"}, // crash in the middle of the batch
		{"a/1", "b/1", "old/z"},
	}
	for n, wantKeys := range after {
		t.Run(fmt.Sprint("crash after ", n), func(t *testing.T) {
			inner := seed(t)
			f := storagetest.NewFaulty(inner)
			f.CrashAfter(n)
			err := job(t, f)
			if !errors.Is(err, storagetest.ErrCrashed) || !f.Crashed() {
				t.Fatalf("job = %v, want ErrCrashed", err)
			}
			if got := keysOf(t, inner); !slices.Equal(got, wantKeys) {
				t.Errorf("inner store holds %q, want %q", got, wantKeys)
			}
			if _, _, err := f.Get(t.Context(), "old/z"); !errors.Is(err, storagetest.ErrCrashed) {
				t.Errorf("read after the crash: %v, want ErrCrashed", err)
			}
			f.CrashAfter(-1)
			if err := job(t, f); err != nil {
				t.Fatalf("job after revival: %v", err)
			}
			if got := keysOf(t, inner); !slices.Equal(got, []string{"a/1", "b/1"}) {
				t.Errorf("after a second run the store holds %q", got)
			}
		})
	}
	t.Run("crash after all steps", func(t *testing.T) {
		f := storagetest.NewFaulty(seed(t))
		f.CrashAfter(len(want))
		if err := job(t, f); err != nil || f.Crashed() {
			t.Fatalf("job = %v (crashed %v), want success with a budget of every step", err, f.Crashed())
		}
	})
}

func TestFaultyFailWhen(t *testing.T) {
	inner := seed(t)
	f := storagetest.NewFaulty(inner)
	errDisk := errors.New("disk full")
	f.FailWhen(func(c storagetest.Call) error {
		if (c.Op == storagetest.OpCopy && c.Src == "a/1") || (c.Op == storagetest.OpDeleteKeys && c.Key == "old/y") {
			return errDisk
		}
		return nil
	})
	if err := put(t, f, "a/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.Copy(t.Context(), f, "a/1", "b/1"); !errors.Is(err, errDisk) {
		t.Errorf("copy = %v, want the injected error", err)
	}
	if err := storage.DeleteKeys(t.Context(), f, []string{"old/x", "old/y", "old/z"}); !errors.Is(err, errDisk) {
		t.Errorf("delete keys = %v, want the injected error", err)
	}
	if got := keysOf(t, inner); !slices.Equal(got, []string{"a/1", "old/y", "old/z"}) {
		t.Errorf("inner store holds %q, want [a/1 old/y old/z]", got)
	}
	// A transient failure: the next call goes through.
	f.FailWhen(nil)
	if _, err := storage.Copy(t.Context(), f, "a/1", "b/1"); err != nil {
		t.Errorf("copy after the hook was removed: %v", err)
	}
}

func TestPlainHidesCapabilities(t *testing.T) {
	st := storagetest.Plain(mem.New())
	if _, ok := st.(storage.Copier); ok {
		t.Error("Plain store is a Copier")
	}
	if _, ok := st.(storage.BatchDeleter); ok {
		t.Error("Plain store is a BatchDeleter")
	}
}

// A crash that lands on a Fresh Put leaves the first half of its body
// under the key, as a kill in the middle of an in-place write can; a crash
// on any other Put, and every Put after the crash, leaves nothing.
func TestFaultyTornFreshPut(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts storage.PutOptions
		want string // what the inner store holds under the key; "" for nothing
	}{
		{"fresh", storage.PutOptions{Fresh: true, NoSync: true}, "01234"},
		{"atomic", storage.PutOptions{NoSync: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := mem.New()
			f := storagetest.NewFaulty(inner)
			f.CrashAfter(0)
			_, err := f.Put(t.Context(), "b/torn", strings.NewReader("0123456789"), 10, tc.opts)
			if !errors.Is(err, storagetest.ErrCrashed) {
				t.Fatalf("put = %v, want ErrCrashed", err)
			}
			_, err = f.Put(t.Context(), "b/after", strings.NewReader("0123456789"), 10, tc.opts)
			if !errors.Is(err, storagetest.ErrCrashed) {
				t.Fatalf("put after the crash = %v, want ErrCrashed", err)
			}
			got := keysOf(t, inner)
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("inner store holds %q, want nothing", got)
				}
				return
			}
			if !slices.Equal(got, []string{"b/torn"}) {
				t.Fatalf("inner store holds %q, want only the torn object", got)
			}
			rc, _, err := inner.Get(t.Context(), "b/torn")
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			var b strings.Builder
			if _, err := io.Copy(&b, rc); err != nil || b.String() != tc.want {
				t.Fatalf("torn object = %q, %v; want %q", b.String(), err, tc.want)
			}
		})
	}
}
