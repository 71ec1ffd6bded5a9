package mem_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
	"github.com/backup-creator/backup-creator/pkg/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(*testing.T) storage.Store { return mem.New() })
}

func TestFailPut(t *testing.T) {
	errDisk := errors.New("disk full")
	st := mem.New()
	st.FailPut = func(key string) error {
		if strings.HasPrefix(key, "bad/") {
			return errDisk
		}
		return nil
	}
	if _, err := st.Put(t.Context(), "bad/x", strings.NewReader("x"), 1, storage.PutOptions{}); !errors.Is(err, errDisk) {
		t.Fatalf("put bad/x = %v, want the injected error", err)
	}
	if _, err := st.Stat(t.Context(), "bad/x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("stat after failed put = %v, want ErrNotFound", err)
	}
	if _, err := st.Put(t.Context(), "good/x", strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
		t.Fatalf("put good/x: %v", err)
	}
}

func TestClosed(t *testing.T) {
	st := mem.New()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(t.Context(), "k", strings.NewReader("x"), 1, storage.PutOptions{}); err == nil {
		t.Error("put on a closed store succeeded")
	}
}

// The mem store honours PutOptions.Fresh as the local store does: a fresh
// key that exists is refused and left as it was, so an engine test that
// writes one key twice fails here as it would on disk.
func TestFreshRefusesExisting(t *testing.T) {
	st := mem.New()
	fresh := storage.PutOptions{Fresh: true, NoSync: true}
	if _, err := st.Put(t.Context(), "b/1", strings.NewReader("one"), 3, fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(t.Context(), "b/1", strings.NewReader("two"), 3, fresh); !errors.Is(err, storage.ErrPreconditionFailed) {
		t.Fatalf("second fresh put = %v, want ErrPreconditionFailed", err)
	}
	rc, _, err := st.Get(t.Context(), "b/1")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); string(b) != "one" {
		t.Errorf("content = %q, want one", b)
	}
}
