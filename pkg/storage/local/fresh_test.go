package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

func freshOpts() storage.PutOptions { return storage.PutOptions{Fresh: true, NoSync: true} }

// A Fresh Put over an existing file fails, says why, and leaves the file
// as it was: same content, same inode, same version.
func TestFreshRefusesExistingFile(t *testing.T) {
	root := t.TempDir()
	st := newStore(t, root)
	defer func() { _ = st.Close() }()
	const key = "backup_20261201/blocks/1_Block.json"
	old, err := st.Put(t.Context(), key, strings.NewReader("old"), 3, storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, filepath.FromSlash(key))
	before, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []storage.PutOptions{freshOpts(), {Fresh: true}, {Fresh: true, IfNotExists: true}} {
		err := putString(t, st, key, "new content", opts)
		if !errors.Is(err, storage.ErrPreconditionFailed) || !strings.Contains(err.Error(), path+" already exists") {
			t.Fatalf("fresh put (%+v) over a file = %v, want ErrPreconditionFailed naming %s", opts, err, path)
		}
	}
	if err := putString(t, st, key, "swapped", storage.PutOptions{Fresh: true, IfVersion: old.Version}); err == nil || !strings.Contains(err.Error(), "mutually exclusive") {
		t.Fatalf("fresh put with IfVersion = %v, want it refused", err)
	}
	after, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the file was replaced or touched: %v -> %v", before, after)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("content = %q, want old", b)
	}
	if info, err := st.Stat(t.Context(), key); err != nil || info.Version != old.Version {
		t.Errorf("stat = %+v, %v; want version %s", info, err, old.Version)
	}
	wantEmptyDir(t, filepath.Dir(path), "1_Block.json")
}

// A symbolic link planted at a Fresh key (to a file outside the root, or
// dangling) is neither written through nor replaced.
func TestFreshRefusesPlantedSymlink(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"backup_20261201/blocks/1.json": victim,
		"backup_20261201/blocks/2.json": filepath.Join(outside, "created"),  // dangling
		"backup_20261201/blocks/3.json": filepath.Join(root, "inside.json"), // inside the root
	}
	for key, target := range links {
		symlink(t, target, filepath.Join(root, filepath.FromSlash(key)))
	}
	st := newStore(t, root)
	defer func() { _ = st.Close() }()
	for key, target := range links {
		link := filepath.Join(root, filepath.FromSlash(key))
		for _, opts := range []storage.PutOptions{freshOpts(), {Fresh: true}} {
			wantUnsafe(t, "fresh put onto a link", putString(t, st, key, "redirected", opts), link)
		}
		if got, err := os.Readlink(link); err != nil || got != target {
			t.Errorf("link %s = %q, %v; want it left pointing at %s", link, got, err, target)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "outside" {
		t.Errorf("file outside the root = %q, want it unchanged", b)
	}
	wantEmptyDir(t, outside, "victim")
	if _, err := os.Lstat(filepath.Join(root, "inside.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was created through the link inside the root: %v", err)
	}
	// A link for the folder itself, or for the blocks directory.
	symlink(t, outside, filepath.Join(root, "backup_20261202"))
	wantUnsafe(t, "fresh put into a linked folder", putString(t, st, "backup_20261202/blocks/1.json", "x", freshOpts()), filepath.Join(root, "backup_20261202"))
	symlink(t, outside, filepath.Join(root, "backup_20261203", "blocks"))
	wantUnsafe(t, "fresh put into a linked directory", putString(t, st, "backup_20261203/blocks/1.json", "x", freshOpts()), filepath.Join(root, "backup_20261203", "blocks"))
	wantEmptyDir(t, outside, "victim")
}

// The store keeps a handle on the directory Fresh writes go into: a link
// swapped in for the directory's path afterwards does not redirect them.
func TestFreshNeverWritesThroughASwappedInLink(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	st := newStore(t, root)
	defer func() { _ = st.Close() }()
	if err := putString(t, st, "backup_20261201/blocks/1.json", "one", freshOpts()); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "backup_20261201", "blocks")
	moved := filepath.Join(root, "backup_20261201", "moved")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	symlink(t, outside, dir)
	// The file lands in the directory the store checked (now "moved"), not
	// behind the link; reading the key then reports the link.
	if err := putString(t, st, "backup_20261201/blocks/2.json", "two", freshOpts()); err != nil {
		t.Fatal(err)
	}
	wantEmptyDir(t, outside)
	wantEmptyDir(t, moved, "1.json", "2.json")
	_, _, err := st.Get(t.Context(), "backup_20261201/blocks/2.json")
	wantUnsafe(t, "get through the swapped-in link", err, dir)
}

// abortingReader yields data, then fails: with cancel set it cancels the
// Put's context after the first chunk; otherwise its second read fails.
type abortingReader struct {
	cancel context.CancelFunc
	reads  int
}

var errReaderBroke = errors.New("reader broke")

func (a *abortingReader) Read(p []byte) (int, error) {
	a.reads++
	if a.reads == 2 {
		if a.cancel == nil {
			return 0, errReaderBroke
		}
		a.cancel()
	}
	n := min(len(p), 1000)
	for i := range n {
		p[i] = 'x'
	}
	return n, nil
}

// A Fresh Put that is cancelled, or whose body fails or has the wrong
// size, leaves no file behind (neither the partial file nor a temporary
// one), and the same Put then succeeds.
func TestFreshFailedPutLeavesNoFile(t *testing.T) {
	root := t.TempDir()
	st := newStore(t, root)
	defer func() { _ = st.Close() }()
	dir := filepath.Join(root, "backup_20261201", "blocks")
	const key = "backup_20261201/blocks/1.json"
	for _, tc := range []struct {
		name string
		put  func() error
		want error
	}{
		{"cancelled", func() error {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			_, err := st.Put(ctx, key, &abortingReader{cancel: cancel}, 1<<20, freshOpts())
			return err
		}, context.Canceled},
		{"body fails", func() error {
			_, err := st.Put(t.Context(), key, &abortingReader{}, 1<<20, freshOpts())
			return err
		}, errReaderBroke},
		{"short body", func() error {
			_, err := st.Put(t.Context(), key, strings.NewReader("short"), 100, freshOpts())
			return err
		}, nil},
		{"long body", func() error {
			_, err := st.Put(t.Context(), key, bytes.NewReader(make([]byte, 101)), 100, storage.PutOptions{Fresh: true})
			return err
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.put()
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("put = %v, want an error wrapping %v", err, tc.want)
			}
			wantEmptyDir(t, dir)
		})
	}
	if err := putString(t, st, key, "retried", freshOpts()); err != nil {
		t.Fatalf("retry: %v", err)
	}
	rc, _, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); string(b) != "retried" {
		t.Errorf("content = %q", b)
	}
	wantEmptyDir(t, dir, "1.json")
}

// A directory removed after Fresh writes went into it (prune's
// RemoveEmptyDirs) is created again by the next Fresh write.
func TestFreshAfterDirectoryRemoved(t *testing.T) {
	root := t.TempDir()
	st := newStore(t, root)
	defer func() { _ = st.Close() }()
	if err := putString(t, st, "backup_20261201/blocks/1.json", "one", freshOpts()); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(t.Context(), "backup_20261201/blocks/1.json", storage.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveEmptyDirs(t.Context(), "backup_20261201/"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "backup_20261201")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("folder still there: %v", err)
	}
	if err := putString(t, st, "backup_20261201/blocks/2.json", "two", freshOpts()); err != nil {
		t.Fatalf("fresh put after the directory was removed: %v", err)
	}
	wantEmptyDir(t, filepath.Join(root, "backup_20261201", "blocks"), "2.json")
}

// More directories than the store keeps open: each still works.
func TestFreshManyDirectories(t *testing.T) {
	root := t.TempDir()
	st := newStore(t, root)
	for i := range maxFreshDirs + 4 {
		for _, f := range []string{"a.json", "b.json"} {
			key := filepath.ToSlash(filepath.Join("backup_"+strings.Repeat("x", i+1), "blocks", f))
			if err := putString(t, st, key, key, freshOpts()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	st = newStore(t, root)
	defer func() { _ = st.Close() }()
	err := st.List(t.Context(), "", func(o storage.ObjectInfo) error {
		n++
		if o.Size != int64(len(o.Key)) {
			t.Errorf("%s: %d bytes", o.Key, o.Size)
		}
		return nil
	})
	if err != nil || n != 2*(maxFreshDirs+4) {
		t.Fatalf("listed %d objects: %v", n, err)
	}
}
