package storage_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
	"github.com/backup-creator/backup-creator/pkg/storage/storagetest"
)

// The conformance suite checks both helpers on every backend, with and
// without the capabilities; this covers the fallbacks' failure paths.

func TestDeleteKeysFallbackReportsFailures(t *testing.T) {
	inner := mem.New()
	for _, k := range []string{"a", "b", "c"} {
		if _, err := inner.Put(t.Context(), k, strings.NewReader(k), 1, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	f := storagetest.NewFaulty(inner)
	errDisk := errors.New("disk on fire")
	f.FailWhen(func(c storagetest.Call) error {
		if c.Op == storagetest.OpDelete && c.Key == "b" {
			return errDisk
		}
		return nil
	})
	err := storage.DeleteKeys(t.Context(), storagetest.Plain(f), []string{"a", "b", "c", "missing"})
	if !errors.Is(err, errDisk) || !strings.Contains(err.Error(), "delete b") {
		t.Fatalf("delete keys = %v, want the failure of b, named", err)
	}
	if _, err := inner.Stat(t.Context(), "b"); err != nil {
		t.Errorf("b was deleted although its delete failed: %v", err)
	}
	for _, c := range f.Steps() {
		if c.Op != storagetest.OpDelete {
			t.Errorf("fallback used %s, want only Delete", c)
		}
	}
}

func TestCopyFallbackChecksSource(t *testing.T) {
	st := storagetest.Plain(mem.New())
	if _, err := storage.Copy(t.Context(), st, "missing", "dst"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("copy of a missing key = %v, want ErrNotFound", err)
	}
	if _, err := storage.Copy(t.Context(), st, "x", "x"); err == nil {
		t.Error("copy onto itself succeeded")
	}
}
