package mem_test

import (
	"errors"
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
