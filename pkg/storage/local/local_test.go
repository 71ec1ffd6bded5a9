package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/storagetest"
)

func newStore(t testing.TB, root string) *Store {
	t.Helper()
	st, err := New(t.Context(), Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestConformance(t *testing.T) {
	storagetest.RunWithOptions(t, func(t *testing.T) storage.Store {
		return newStore(t, t.TempDir())
	}, storagetest.Options{FileSystemKeys: true, ListKeys: 200})
}

// Two stores on one root have separate lock file descriptions, so this
// checks the flock, not only the in-process mutex.
func TestCompareAndSwapAcrossStores(t *testing.T) {
	root := t.TempDir()
	stores := []*Store{newStore(t, root), newStore(t, root)}
	for _, st := range stores {
		t.Cleanup(func() { _ = st.Close() })
	}
	base, err := stores[0].Put(t.Context(), "state", strings.NewReader("base"), 4, storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const racers = 16
	start := make(chan struct{})
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			body := fmt.Sprintf("writer %02d", i)
			_, err := stores[i%2].Put(t.Context(), "state", strings.NewReader(body), int64(len(body)), storage.PutOptions{IfVersion: base.Version})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, storage.ErrPreconditionFailed):
				t.Errorf("racer %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d racers won, want exactly 1", n)
	}
}

func TestTempAndLockFilesInvisible(t *testing.T) {
	root := t.TempDir()
	st := newStore(t, root)
	defer func() { _ = st.Close() }()
	if _, err := st.Put(t.Context(), "dir/a", strings.NewReader("a"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// What a crash mid-Put leaves behind.
	leftover := filepath.Join(root, "dir", ".backup-creator-tmp-123456")
	if err := os.WriteFile(leftover, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := st.List(t.Context(), "", func(oi storage.ObjectInfo) error { got = append(got, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"dir/a"}) {
		t.Fatalf("list = %q, want [dir/a] (no temp or lock file)", got)
	}
	if _, err := os.Stat(filepath.Join(root, LockFileName)); err != nil {
		t.Fatalf("lock file: %v", err)
	}
	for _, key := range []string{".backup-creator-local.lock", "dir/.backup-creator-tmp-123456", ".backup-creator-x/y"} {
		if _, err := st.Stat(t.Context(), key); err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("stat reserved key %q = %v, want a key error", key, err)
		}
		if _, err := st.Put(t.Context(), key, strings.NewReader("x"), 1, storage.PutOptions{}); err == nil {
			t.Errorf("put reserved key %q succeeded", key)
		}
	}
	// A successful Put leaves no temp file.
	ents, err := os.ReadDir(filepath.Join(root, "dir"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 {
		t.Errorf("dir holds %d entries, want the object and the planted leftover", len(ents))
	}
}

func TestFailedPutLeavesNoTempFile(t *testing.T) {
	root := t.TempDir()
	st := newStore(t, root)
	defer func() { _ = st.Close() }()
	if _, err := st.Put(t.Context(), "d/x", strings.NewReader("short"), 10, storage.PutOptions{}); err == nil {
		t.Fatal("short put succeeded")
	}
	if _, err := st.Put(t.Context(), "d/y", strings.NewReader("y"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(t.Context(), "d/y", strings.NewReader("z"), 1, storage.PutOptions{IfNotExists: true}); !errors.Is(err, storage.ErrPreconditionFailed) {
		t.Fatalf("conditional put = %v", err)
	}
	ents, err := os.ReadDir(filepath.Join(root, "d"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"y"}) {
		t.Fatalf("directory holds %q, want only [y]", names)
	}
}

func TestFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix modes")
	}
	root := t.TempDir()
	st := newStore(t, root)
	defer func() { _ = st.Close() }()
	if _, err := st.Put(t.Context(), "sub/f", strings.NewReader("f"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{"sub": 0o700, "sub/f": 0o600} {
		fi, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %v, want %v", path, got, want)
		}
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		root    string
		wantErr string
	}{
		{"creates missing root", filepath.Join(dir, "new", "deeper"), ""},
		{"empty root", "", "root directory not set"},
		{"root is a file", file, "not a directory"},
		{"root below a file", filepath.Join(file, "x"), "create root directory"},
		{"read-only root", readOnly, "not writable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "read-only root" && (runtime.GOOS == "windows" || os.Geteuid() == 0) {
				t.Skip("permissions are not enforced for this user")
			}
			st, err := New(t.Context(), Config{Root: tc.root})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				_ = st.Close()
				if st.String() != tc.root {
					t.Errorf("String() = %q, want %q", st.String(), tc.root)
				}
				return
			}
			if err == nil {
				_ = st.Close()
				t.Fatalf("New succeeded, want error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || (tc.root != "" && !strings.Contains(err.Error(), tc.root)) {
				t.Errorf("error %q should name the root and contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	base := Config{Root: "/default"}
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"file:///var/backups", "/var/backups", false},
		{"file://localhost/var/backups", "/var/backups", false},
		{"file:relative/dir", "relative/dir", false},
		{"/abs/path", "/abs/path", false},
		{"relative", "relative", false},
		{"file://", "/default", false},
		{"file://otherhost/x", "", true},
		{"s3://bucket/x", "", true},
		{"file:///x?sync=false", "", true},
		{"file://user@localhost/x", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			u, err := url.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := ParseURL(u, base)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseURL = %+v, want an error", cfg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Root != filepath.FromSlash(tc.want) {
				t.Errorf("Root = %q, want %q", cfg.Root, tc.want)
			}
		})
	}
}

// BenchmarkPutSmall measures what the engine does most: many 4 KiB objects
// in one directory, each Put durable (fsync of file and directory), from 1
// and from 8 goroutines. To time 10,000 files:
//
//	go test -run '^$' -bench PutSmall -benchtime 10000x ./pkg/storage/local
//
// It reports files/s; run it on the disk the backups go to (TMPDIR).
func BenchmarkPutSmall(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			st := newStore(b, b.TempDir())
			defer func() { _ = st.Close() }()
			data := bytes.Repeat([]byte("x"), 4<<10)
			var next atomic.Int64
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						key := fmt.Sprintf("backup_20261123/blocks/%08d.json", i)
						if _, err := st.Put(b.Context(), key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}

func TestNoSyncThenSync(t *testing.T) {
	st, err := New(t.Context(), Config{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		data := strings.Repeat("x", i)
		if _, err := st.Put(t.Context(), fmt.Sprintf("d/k%02d", i), strings.NewReader(data), int64(len(data)), storage.PutOptions{NoSync: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	n := 0
	err = st.List(t.Context(), "d/", func(o storage.ObjectInfo) error {
		rc, _, err := st.Get(t.Context(), o.Key)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if len(b) != n {
			t.Errorf("%s: %d bytes, want %d", o.Key, len(b), n)
		}
		n++
		return nil
	})
	if err != nil || n != 20 {
		t.Fatalf("listed %d objects: %v", n, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := st.Sync(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sync with a cancelled context: %v", err)
	}
}

func TestRemoveEmptyDirsLeavesFilesAndTheRoot(t *testing.T) {
	root := t.TempDir()
	st, err := New(t.Context(), Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string) {
		if _, err := st.Put(t.Context(), key, strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("gone/blocks/a.json")
	put("gone/carried/x/blocks/b.json")
	put("kept/blocks/c.json")
	for _, k := range []string{"gone/blocks/a.json", "gone/carried/x/blocks/b.json"} {
		if err := st.Delete(t.Context(), k, storage.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A directory that still holds a file stays; so does a symlink's target.
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "gone", "link")); err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveEmptyDirs(t.Context(), "gone/"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "gone", "blocks")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty directory left: %v", err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("the symlink's target was touched: %v", err)
	}
	os.Remove(filepath.Join(root, "gone", "link"))
	if err := st.RemoveEmptyDirs(t.Context(), "gone/"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty folder left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "kept", "blocks", "c.json")); err != nil {
		t.Errorf("another folder was touched: %v", err)
	}
	if err := st.RemoveEmptyDirs(t.Context(), "gone"); err == nil {
		t.Error("a prefix that is not a folder was accepted")
	}
}
