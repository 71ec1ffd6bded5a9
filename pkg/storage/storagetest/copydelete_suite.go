package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

func mustCopy(t *testing.T, st storage.Store, src, dst string) storage.ObjectInfo {
	t.Helper()
	info, err := storage.Copy(t.Context(), st, src, dst)
	if err != nil {
		t.Fatalf("copy %q to %q: %v", src, dst, err)
	}
	return info
}

// wantSameObject checks that dst holds exactly src's bytes, and that info
// (what Copy returned) describes it.
func wantSameObject(t *testing.T, st storage.Store, src, dst string, info storage.ObjectInfo) {
	t.Helper()
	want, _ := mustGet(t, st, src)
	got, ginfo := mustGet(t, st, dst)
	if sha256.Sum256(got) != sha256.Sum256(want) || !bytes.Equal(got, want) {
		t.Fatalf("copy %q of %q holds %q, want %q", dst, src, abbrev(got), abbrev(want))
	}
	if info.Key != dst || info.Size != int64(len(want)) || info.Version == "" {
		t.Errorf("copy returned %+v, want key %q, size %d and a version", info, dst, len(want))
	}
	if ginfo.Size != int64(len(want)) || ginfo.Version != info.Version {
		t.Errorf("get %q = %+v, want size %d and the version copy returned (%q)", dst, ginfo, len(want), info.Version)
	}
	sinfo, err := st.Stat(t.Context(), dst)
	if err != nil || sinfo.Size != info.Size || sinfo.Version != info.Version {
		t.Errorf("stat %q = %+v, %v; want size %d version %q", dst, sinfo, err, info.Size, info.Version)
	}
}

func (s *suite) testCopy(t *testing.T) {
	st := s.store(t)
	data := binaryData()
	mustPut(t, st, "backup_20261101/blocks/1.json", data)
	mustPut(t, st, "empty", nil)

	t.Run("new key under another prefix", func(t *testing.T) {
		info := mustCopy(t, st, "backup_20261101/blocks/1.json", "backup_20261108/blocks/1.json")
		wantSameObject(t, st, "backup_20261101/blocks/1.json", "backup_20261108/blocks/1.json", info)
		wantContent(t, st, "backup_20261101/blocks/1.json", data)
	})
	t.Run("empty object", func(t *testing.T) {
		info := mustCopy(t, st, "empty", "copies/empty")
		wantSameObject(t, st, "empty", "copies/empty", info)
	})
	t.Run("overwrite", func(t *testing.T) {
		old := mustPut(t, st, "copies/over", bytes.Repeat([]byte("longer old content "), 50))
		info := mustCopy(t, st, "backup_20261101/blocks/1.json", "copies/over")
		wantSameObject(t, st, "backup_20261101/blocks/1.json", "copies/over", info)
		if info.Version == old.Version {
			t.Errorf("version after copy over another object unchanged: %q", info.Version)
		}
	})
	t.Run("independent of the source", func(t *testing.T) {
		mustPut(t, st, "src/indep", []byte("original"))
		mustCopy(t, st, "src/indep", "copies/indep")
		mustPut(t, st, "src/indep", []byte("replaced source"))
		wantContent(t, st, "copies/indep", []byte("original"))
		if err := st.Delete(t.Context(), "src/indep", storage.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		wantContent(t, st, "copies/indep", []byte("original"))
		mustPut(t, st, "copies/indep", []byte("replaced copy"))
		mustPut(t, st, "src/indep", []byte("source again"))
		mustCopy(t, st, "copies/indep", "copies/indep2")
		wantContent(t, st, "src/indep", []byte("source again"))
		wantContent(t, st, "copies/indep2", []byte("replaced copy"))
	})
	t.Run("unusual keys", func(t *testing.T) {
		for i, k := range []string{"with space/é ü.json", "a+b=c&d;e,f@g", "percent%20sign", "question?mark", "hash#tag", "日本/語"} {
			mustPut(t, st, "u/"+k, []byte(k))
			dst := fmt.Sprintf("u2/%d/%s", i, k)
			wantSameObject(t, st, "u/"+k, dst, mustCopy(t, st, "u/"+k, dst))
		}
	})
	t.Run("missing source", func(t *testing.T) {
		mustPut(t, st, "copies/keep", []byte("keep me"))
		for _, dst := range []string{"copies/keep", "copies/never"} {
			_, err := storage.Copy(t.Context(), st, "backup_20261101/blocks/404.json", dst)
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("copy of a missing key to %q: %v, want ErrNotFound", dst, err)
			}
		}
		wantContent(t, st, "copies/keep", []byte("keep me"))
		wantMissing(t, st, "copies/never")
	})
	t.Run("same key", func(t *testing.T) {
		if _, err := storage.Copy(t.Context(), st, "empty", "empty"); err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("copy of a key onto itself: %v, want an error", err)
		}
		wantContent(t, st, "empty", nil)
	})
	t.Run("invalid keys", func(t *testing.T) {
		for _, pair := range [][2]string{{"../x", "ok"}, {"empty", "/abs"}, {"empty", "a//b"}} {
			if _, err := storage.Copy(t.Context(), st, pair[0], pair[1]); err == nil || errors.Is(err, storage.ErrNotFound) {
				t.Errorf("copy %q to %q: %v, want a key error", pair[0], pair[1], err)
			}
		}
		wantMissing(t, st, "ok")
	})
}

func (s *suite) testCopyLarge(t *testing.T) {
	st := s.store(t)
	size := s.opts.LargeSize
	if _, err := st.Put(t.Context(), "large/src.bin", onlyReader{randomStream(3, size)}, size, storage.PutOptions{}); err != nil {
		t.Fatalf("put %d bytes: %v", size, err)
	}
	info := mustCopy(t, st, "large/src.bin", "other/large/dst.bin")
	if info.Size != size {
		t.Errorf("copy info size = %d, want %d", info.Size, size)
	}
	want := sha256.New()
	if _, err := io.Copy(want, randomStream(3, size)); err != nil {
		t.Fatal(err)
	}
	rc, ginfo, err := st.Get(t.Context(), "other/large/dst.bin")
	if err != nil {
		t.Fatalf("get copy: %v", err)
	}
	defer func() { _ = rc.Close() }()
	got := sha256.New()
	n, err := io.Copy(got, rc)
	if err != nil || n != size || ginfo.Size != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("copy read back: %d bytes (info %d), err %v, sha256 equal %v; want %d bytes equal to the source",
			n, ginfo.Size, err, bytes.Equal(got.Sum(nil), want.Sum(nil)), size)
	}
}

func (s *suite) testCopyCancelled(t *testing.T) {
	st := s.store(t)
	mustPut(t, st, "src", []byte("source"))
	mustPut(t, st, "old", []byte("old"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, dst := range []string{"new", "old"} {
		if _, err := storage.Copy(ctx, st, "src", dst); !errors.Is(err, context.Canceled) {
			t.Errorf("copy to %q with a cancelled context: %v, want context.Canceled", dst, err)
		}
	}
	wantMissing(t, st, "new")
	wantContent(t, st, "old", []byte("old"))
	wantContent(t, st, "src", []byte("source"))
}

func (s *suite) testDeleteKeys(t *testing.T) {
	st := s.store(t)
	for _, k := range []string{"b1/a", "b1/b", "b1/sub/c", "b2/a", "keep/x"} {
		mustPut(t, st, k, []byte(k))
	}
	t.Run("empty list", func(t *testing.T) {
		if err := storage.DeleteKeys(t.Context(), st, nil); err != nil {
			t.Errorf("delete of no keys: %v", err)
		}
		if err := storage.DeleteKeys(t.Context(), st, []string{}); err != nil {
			t.Errorf("delete of an empty list: %v", err)
		}
		if got := listKeys(t, st, ""); len(got) != 5 {
			t.Errorf("list after empty deletes = %q", got)
		}
	})
	t.Run("invalid key deletes nothing", func(t *testing.T) {
		err := storage.DeleteKeys(t.Context(), st, []string{"b1/a", "../escape", "b2/a"})
		if err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("delete with an invalid key: %v, want a key error", err)
		}
		wantContent(t, st, "b1/a", []byte("b1/a"))
		wantContent(t, st, "b2/a", []byte("b2/a"))
	})
	t.Run("present, missing and repeated keys", func(t *testing.T) {
		err := storage.DeleteKeys(t.Context(), st, []string{"b1/a", "missing", "b1/sub/c", "b1/a", "b1", "b2/a", "never/was/here"})
		if err != nil {
			t.Fatalf("delete keys: %v", err)
		}
		for _, k := range []string{"b1/a", "b1/sub/c", "b2/a"} {
			wantMissing(t, st, k)
		}
		if got := listKeys(t, st, ""); !slices.Equal(got, []string{"b1/b", "keep/x"}) {
			t.Errorf("list after delete keys = %q, want [b1/b keep/x]", got)
		}
	})
	t.Run("all missing", func(t *testing.T) {
		if err := storage.DeleteKeys(t.Context(), st, []string{"b1/a", "b2/a"}); err != nil {
			t.Errorf("delete of keys already gone: %v, want nil", err)
		}
	})
	t.Run("keys can be written again", func(t *testing.T) {
		mustPut(t, st, "b1/a", []byte("again"))
		wantContent(t, st, "b1/a", []byte("again"))
	})
}

func (s *suite) testDeleteKeysMany(t *testing.T) {
	st := s.store(t)
	n := s.opts.ManyDeleteKeys
	var del []string
	var g errgroup.Group
	g.SetLimit(16)
	for i := range n {
		k := fmt.Sprintf("backup_20261101/blocks/%05d.json", i)
		if i%10 != 9 {
			// Every tenth key is asked for but was never stored.
			g.Go(func() error {
				_, err := put(t, st, k, []byte(k), storage.PutOptions{})
				return err
			})
		}
		del = append(del, k)
	}
	g.Go(func() error {
		_, err := put(t, st, "backup_20261101/manifest.json", []byte("{}"), storage.PutOptions{})
		return err
	})
	if err := g.Wait(); err != nil {
		t.Fatalf("put: %v", err)
	}
	rand.Shuffle(len(del), func(i, j int) { del[i], del[j] = del[j], del[i] })
	if err := storage.DeleteKeys(t.Context(), st, del); err != nil {
		t.Fatalf("delete %d keys: %v", len(del), err)
	}
	if got := listKeys(t, st, ""); !slices.Equal(got, []string{"backup_20261101/manifest.json"}) {
		t.Errorf("after deleting %d keys, list = %d keys (%q...), want only the manifest", n, len(got), got[:min(len(got), 5)])
	}
}

func (s *suite) testDeleteKeysCancelled(t *testing.T) {
	st := s.store(t)
	mustPut(t, st, "x", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := storage.DeleteKeys(ctx, st, []string{"x", "y"}); !errors.Is(err, context.Canceled) {
		t.Errorf("delete keys with a cancelled context: %v, want context.Canceled", err)
	}
}
