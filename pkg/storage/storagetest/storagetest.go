// Package storagetest is the conformance suite for storage.Store
// implementations. Every backend runs the same checks, so the engine can rely
// on the guarantees written down in package storage whatever the destination.
//
// A backend wires it in from its own test file:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store {
//			st, err := local.New(t.Context(), local.Config{Root: t.TempDir()})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return st
//		})
//	}
//
// newStore is called once per subtest and must return an empty store (cloud
// backends create a fresh bucket or container). The suite closes it.
package storagetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// Options tune the suite for a backend. The zero value gives the defaults.
type Options struct {
	// ListKeys is how many keys the paging test writes under one prefix
	// (default 25). Cloud backends set a small list page size in their test
	// configuration so these keys span several pages.
	ListKeys int
	// LargeSize is the size of the streamed large object (default 12 MiB).
	LargeSize int64
	// Racers is how many goroutines race for a conditional write (default 16).
	Racers int
	// FileSystemKeys declares that a key cannot also be a "directory" of
	// other keys ("a" and "a/b" cannot both exist), as on a file system. The
	// suite then checks that such a Put fails cleanly instead of checking
	// that both objects can be stored.
	FileSystemKeys bool
	// ManyDeleteKeys is how many keys the large DeleteKeys test removes in
	// one call (default 40). The S3 tests set it above 1000, the most one
	// DeleteObjects request takes, so the call spans several batches.
	ManyDeleteKeys int
}

func (o Options) withDefaults() Options {
	if o.ListKeys <= 0 {
		o.ListKeys = 25
	}
	if o.LargeSize <= 0 {
		o.LargeSize = 12 << 20
	}
	if o.Racers <= 0 {
		o.Racers = 16
	}
	if o.ManyDeleteKeys <= 0 {
		o.ManyDeleteKeys = 40
	}
	return o
}

// Run runs the conformance suite with the default Options.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Helper()
	RunWithOptions(t, newStore, Options{})
}

// RunWithOptions runs every conformance check as a subtest of t. Each
// subtest gets its own store from newStore.
func RunWithOptions(t *testing.T, newStore func(t *testing.T) storage.Store, opts Options) {
	t.Helper()
	s := &suite{newStore: newStore, opts: opts.withDefaults()}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"RoundTrip", s.testRoundTrip},
		{"Stat", s.testStat},
		{"Overwrite", s.testOverwrite},
		{"NotFound", s.testNotFound},
		{"Delete", s.testDelete},
		{"ListPrefix", s.testListPrefix},
		{"KeyAndPrefixOverlap", s.testKeyAndPrefixOverlap},
		{"ListOrder", s.testListOrder},
		{"ListPaging", s.testListPaging},
		{"ListStopsOnError", s.testListStops},
		{"IfNotExists", s.testIfNotExists},
		{"IfVersion", s.testIfVersion},
		{"ConditionalDelete", s.testConditionalDelete},
		{"RacingIfNotExists", s.testRacingIfNotExists},
		{"RacingIfVersion", s.testRacingIfVersion},
		{"CancelledContext", s.testCancelledContext},
		{"CancelDuringPut", s.testCancelDuringPut},
		{"LargeStreamed", s.testLarge},
		{"SizeMismatch", s.testSizeMismatch},
		{"Fresh", s.testFresh},
		{"FreshExisting", s.testFreshExisting},
		{"FreshRetry", s.testFreshRetry},
		{"InvalidKeys", s.testInvalidKeys},
		{"UnusualKeys", s.testUnusualKeys},
		// The optional capabilities, through storage.Copy and
		// storage.DeleteKeys: the store's own Copier and BatchDeleter when
		// it has them, ...
		{"Copy", s.testCopy},
		{"CopyLarge", s.testCopyLarge},
		{"CopyCancelled", s.testCopyCancelled},
		{"DeleteKeys", s.testDeleteKeys},
		{"DeleteKeysMany", s.testDeleteKeysMany},
		{"DeleteKeysCancelled", s.testDeleteKeysCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
	// ... and the same checks through the fallbacks (Get+Put, a loop of
	// Delete), which must behave the same.
	plain := &suite{newStore: func(t *testing.T) storage.Store { return Plain(newStore(t)) }, opts: s.opts}
	t.Run("Fallback", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			fn   func(t *testing.T)
		}{
			{"Copy", plain.testCopy},
			{"CopyLarge", plain.testCopyLarge},
			{"CopyCancelled", plain.testCopyCancelled},
			{"DeleteKeys", plain.testDeleteKeys},
			{"DeleteKeysMany", plain.testDeleteKeysMany},
			{"DeleteKeysCancelled", plain.testDeleteKeysCancelled},
		} {
			t.Run(tc.name, tc.fn)
		}
	})
}

type suite struct {
	newStore func(t *testing.T) storage.Store
	opts     Options
}

// store returns a fresh store that is closed when t ends.
func (s *suite) store(t *testing.T) storage.Store {
	t.Helper()
	st := s.newStore(t)
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close %s: %v", st, err)
		}
	})
	return st
}

// onlyReader hides every method but Read (Seek, WriterTo, Len...), as a
// network stream would.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func put(t *testing.T, st storage.Store, key string, data []byte, opts storage.PutOptions) (storage.ObjectInfo, error) {
	t.Helper()
	return st.Put(t.Context(), key, onlyReader{bytes.NewReader(data)}, int64(len(data)), opts)
}

func mustPut(t *testing.T, st storage.Store, key string, data []byte) storage.ObjectInfo {
	t.Helper()
	info, err := put(t, st, key, data, storage.PutOptions{})
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	if info.Version == "" {
		t.Fatalf("put %q: empty version", key)
	}
	return info
}

func mustGet(t *testing.T, st storage.Store, key string) ([]byte, storage.ObjectInfo) {
	t.Helper()
	rc, info, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	defer func() {
		if err := rc.Close(); err != nil {
			t.Errorf("close reader of %q: %v", key, err)
		}
	}()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, rc); err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return buf.Bytes(), info
}

func wantContent(t *testing.T, st storage.Store, key string, want []byte) {
	t.Helper()
	got, info := mustGet(t, st, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("content of %q = %q, want %q", key, abbrev(got), abbrev(want))
	}
	if info.Size != int64(len(want)) {
		t.Fatalf("get %q: info.Size = %d, want %d", key, info.Size, len(want))
	}
}

// isPrecondition reports whether err is a lost condition and nothing else:
// a caller that checks ErrNotFound first must not mistake it.
func isPrecondition(err error) bool {
	return errors.Is(err, storage.ErrPreconditionFailed) && !errors.Is(err, storage.ErrNotFound)
}

func wantMissing(t *testing.T, st storage.Store, key string) {
	t.Helper()
	_, err := st.Stat(t.Context(), key)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("stat %q = %v, want ErrNotFound (nothing stored)", key, err)
	}
}

func listKeys(t *testing.T, st storage.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := st.List(t.Context(), prefix, func(oi storage.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return keys
}

func abbrev(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%s… (%d bytes)", b[:40], len(b))
	}
	return string(b)
}

func binaryData() []byte {
	b := make([]byte, 0, 512)
	for i := range 256 {
		b = append(b, byte(i))
	}
	for i := range 256 {
		b = append(b, byte(255-i))
	}
	return b
}

func (s *suite) testRoundTrip(t *testing.T) {
	st := s.store(t)
	tests := []struct {
		name string
		key  string
		data []byte
	}{
		{"empty", "empty.txt", []byte{}},
		{"text", "text.json", []byte(`{"hello":"world"}` + "\n")},
		{"binary", "bin/all-bytes", binaryData()},
		{"nested", "backup_20261123/blocks/12345.json", []byte("nested")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info := mustPut(t, st, tc.key, tc.data)
			if info.Key != tc.key || info.Size != int64(len(tc.data)) {
				t.Errorf("put info = %+v, want key %q size %d", info, tc.key, len(tc.data))
			}
			got, ginfo := mustGet(t, st, tc.key)
			if !bytes.Equal(got, tc.data) {
				t.Errorf("get = %q, want %q", abbrev(got), abbrev(tc.data))
			}
			if ginfo.Key != tc.key || ginfo.Size != int64(len(tc.data)) || ginfo.Version != info.Version {
				t.Errorf("get info = %+v, want key %q size %d version %q", ginfo, tc.key, len(tc.data), info.Version)
			}
		})
	}
}

func (s *suite) testStat(t *testing.T) {
	st := s.store(t)
	before := time.Now()
	data := []byte("stat me")
	info := mustPut(t, st, "dir/stat.txt", data)
	got, err := st.Stat(t.Context(), "dir/stat.txt")
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if got.Key != "dir/stat.txt" || got.Size != int64(len(data)) || got.Version != info.Version {
		t.Errorf("stat = %+v, want key dir/stat.txt size %d version %q", got, len(data), info.Version)
	}
	// Emulators and file systems may round or skew a little; an hour is
	// far wider than that and still catches a zero or bogus time.
	if d := got.ModTime.Sub(before); got.ModTime.IsZero() || d < -time.Hour || d > time.Hour {
		t.Errorf("stat ModTime = %v, want close to %v", got.ModTime, before)
	}
	// A directory-like prefix is not an object.
	if _, err := st.Stat(t.Context(), "dir"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("stat of a prefix = %v, want ErrNotFound", err)
	}
}

func (s *suite) testOverwrite(t *testing.T) {
	st := s.store(t)
	v1 := mustPut(t, st, "k", []byte("first version, longer"))
	v2 := mustPut(t, st, "k", []byte("second"))
	if v1.Version == v2.Version {
		t.Errorf("version unchanged after overwrite: %q", v1.Version)
	}
	wantContent(t, st, "k", []byte("second"))
	if got := listKeys(t, st, ""); !slices.Equal(got, []string{"k"}) {
		t.Errorf("list after overwrite = %q, want [k]", got)
	}
}

func (s *suite) testNotFound(t *testing.T) {
	st := s.store(t)
	mustPut(t, st, "present/x", []byte("x"))
	for _, key := range []string{"missing", "present/y", "present", "present/x/deeper"} {
		t.Run(key, func(t *testing.T) {
			rc, _, err := st.Get(t.Context(), key)
			if err == nil {
				_ = rc.Close()
			}
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("get: %v, want ErrNotFound", err)
			}
			if _, err := st.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("stat: %v, want ErrNotFound", err)
			}
			if err := st.Delete(t.Context(), key, storage.DeleteOptions{}); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("delete: %v, want ErrNotFound", err)
			}
		})
	}
	wantContent(t, st, "present/x", []byte("x"))
}

func (s *suite) testDelete(t *testing.T) {
	st := s.store(t)
	mustPut(t, st, "a/1", []byte("1"))
	mustPut(t, st, "a/2", []byte("2"))
	if err := st.Delete(t.Context(), "a/1", storage.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantMissing(t, st, "a/1")
	if err := st.Delete(t.Context(), "a/1", storage.DeleteOptions{}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if got := listKeys(t, st, ""); !slices.Equal(got, []string{"a/2"}) {
		t.Errorf("list after delete = %q, want [a/2]", got)
	}
	// The key can be written again.
	mustPut(t, st, "a/1", []byte("again"))
	wantContent(t, st, "a/1", []byte("again"))
}

func (s *suite) testListPrefix(t *testing.T) {
	st := s.store(t)
	all := []string{"a/1", "a/2/x", "a/2/y/z", "ab", "abc/d", "b", "ba/a"}
	for i, k := range all {
		mustPut(t, st, k, bytes.Repeat([]byte{'x'}, i+1))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"a/", []string{"a/1", "a/2/x", "a/2/y/z"}},
		{"a/2/", []string{"a/2/x", "a/2/y/z"}},
		{"a", []string{"a/1", "a/2/x", "a/2/y/z", "ab", "abc/d"}},
		{"ab", []string{"ab", "abc/d"}},
		{"ab/", nil},
		{"abc", []string{"abc/d"}},
		{"a/2/y/z", []string{"a/2/y/z"}},
		{"b", []string{"b", "ba/a"}},
		{"c", nil},
		{"a/3/", nil},
		{"zz/top/", nil},
	}
	for _, tc := range tests {
		t.Run("prefix="+tc.prefix, func(t *testing.T) {
			var got []string
			err := st.List(t.Context(), tc.prefix, func(oi storage.ObjectInfo) error {
				got = append(got, oi.Key)
				i := slices.Index(all, oi.Key)
				if i < 0 || oi.Size != int64(i+1) {
					t.Errorf("list entry %+v: unexpected key or size", oi)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("list %q = %q, want %q", tc.prefix, got, tc.want)
			}
		})
	}
}

func (s *suite) testKeyAndPrefixOverlap(t *testing.T) {
	st := s.store(t)
	tests := []struct {
		name        string
		first, then string
	}{
		{"object then child", "x", "x/y"},
		{"child then object", "p/q/r", "p/q"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustPut(t, st, tc.first, []byte(tc.first))
			_, err := put(t, st, tc.then, []byte(tc.then), storage.PutOptions{})
			if s.opts.FileSystemKeys {
				if err == nil {
					t.Fatalf("put %q next to %q succeeded on a file-system store", tc.then, tc.first)
				}
				wantMissing(t, st, tc.then)
			} else {
				if err != nil {
					t.Fatalf("put %q next to %q: %v", tc.then, tc.first, err)
				}
				wantContent(t, st, tc.then, []byte(tc.then))
			}
			wantContent(t, st, tc.first, []byte(tc.first))
		})
	}
}

func (s *suite) testListOrder(t *testing.T) {
	st := s.store(t)
	// In byte order '-' < '.' < '/' < '0' < 'A' < '_' < 'a' < 0xC3 (é): a
	// directory walk that visits "a/" before "a-b" gets this wrong.
	want := []string{"A", "a-b", "a.b", "a/b-c", "a/b.c", "a/b/c", "a0", "a_", "aa", "é"}
	shuffled := slices.Clone(want)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, k := range shuffled {
		mustPut(t, st, k, []byte(k))
	}
	if !sort.StringsAreSorted(want) {
		t.Fatal("test table not sorted")
	}
	if got := listKeys(t, st, ""); !slices.Equal(got, want) {
		t.Errorf("list = %q, want %q", got, want)
	}
}

func (s *suite) testListPaging(t *testing.T) {
	st := s.store(t)
	n := s.opts.ListKeys
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("page/%05d", i)
	}
	var g errgroup.Group
	g.SetLimit(8)
	for _, k := range append(slices.Clone(want), "pag/x", "page-0", "pagea") {
		g.Go(func() error {
			_, err := put(t, st, k, []byte(k), storage.PutOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("put: %v", err)
	}
	if got := listKeys(t, st, "page/"); !slices.Equal(got, want) {
		t.Errorf("list page/ returned %d keys, want %d in order; got %q", len(got), n, got)
	}
	if got := len(listKeys(t, st, "")); got != n+3 {
		t.Errorf("list all returned %d keys, want %d", got, n+3)
	}
}

func (s *suite) testListStops(t *testing.T) {
	st := s.store(t)
	for _, k := range []string{"s/1", "s/2", "s/3", "s/4"} {
		mustPut(t, st, k, []byte(k))
	}
	errStop := errors.New("stop here")
	var seen []string
	err := st.List(t.Context(), "s/", func(oi storage.ObjectInfo) error {
		seen = append(seen, oi.Key)
		if len(seen) == 2 {
			return errStop
		}
		return nil
	})
	if err != errStop { //nolint:errorlint // the contract says "unchanged"
		t.Errorf("list = %v, want the callback's error unchanged", err)
	}
	if !slices.Equal(seen, []string{"s/1", "s/2"}) {
		t.Errorf("callback saw %q, want [s/1 s/2]", seen)
	}
}

func randomStream(seed uint64, size int64) io.Reader {
	var key [32]byte
	key[0] = byte(seed)
	return io.LimitReader(rand.NewChaCha8(key), size)
}

func (s *suite) testLarge(t *testing.T) {
	st := s.store(t)
	size := s.opts.LargeSize
	want := sha256.New()
	if _, err := io.Copy(want, randomStream(7, size)); err != nil {
		t.Fatal(err)
	}
	info, err := st.Put(t.Context(), "large/blob.bin", onlyReader{randomStream(7, size)}, size, storage.PutOptions{IfNotExists: true})
	if err != nil {
		t.Fatalf("put %d bytes: %v", size, err)
	}
	if info.Size != size {
		t.Errorf("put info size = %d, want %d", info.Size, size)
	}
	rc, ginfo, err := st.Get(t.Context(), "large/blob.bin")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	defer func() { _ = rc.Close() }()
	got := sha256.New()
	n, err := io.Copy(got, rc)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if n != size || ginfo.Size != size {
		t.Fatalf("read back %d bytes (info %d), want %d", n, ginfo.Size, size)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("large object read back differs")
	}
}

func (s *suite) testSizeMismatch(t *testing.T) {
	st := s.store(t)
	old := []byte("old content")
	mustPut(t, st, "existing", old)
	tests := []struct {
		name     string
		data     []byte
		size     int64
		seekable bool
	}{
		{"short", bytes.Repeat([]byte("s"), 100), 150, false},
		{"long", bytes.Repeat([]byte("l"), 150), 100, false},
		{"data but size 0", []byte("surprise"), 0, false},
		{"empty but size 10", nil, 10, false},
		{"short seekable", bytes.Repeat([]byte("s"), 100), 150, true},
		{"long seekable", bytes.Repeat([]byte("l"), 150), 100, true},
		{"long by one", bytes.Repeat([]byte("1"), 70<<10+1), 70 << 10, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, opts := range []storage.PutOptions{{}, {IfNotExists: true}, freshOpts()} {
				var r io.Reader = onlyReader{bytes.NewReader(tc.data)}
				if tc.seekable {
					r = bytes.NewReader(tc.data)
				}
				if _, err := st.Put(t.Context(), "mismatch", r, tc.size, opts); err == nil {
					t.Errorf("put %d bytes as %d (%+v) succeeded, want an error", len(tc.data), tc.size, opts)
				}
				wantMissing(t, st, "mismatch")
			}
			if tc.seekable {
				return
			}
			if _, err := st.Put(t.Context(), "existing", onlyReader{bytes.NewReader(tc.data)}, tc.size, storage.PutOptions{}); err == nil {
				t.Errorf("overwrite with %d bytes as %d succeeded, want an error", len(tc.data), tc.size)
			}
			wantContent(t, st, "existing", old)
		})
	}
}

func (s *suite) testInvalidKeys(t *testing.T) {
	st := s.store(t)
	bad := []string{
		"", "/abs", "trailing/", "a//b", ".", "..", "./a", "a/./b", "../escape",
		"a/../../escape", "a/..", "nul\x00byte", `back\slash`, "ctl\nline", "bad\xffutf8",
		strings.Repeat("k", 2000),
	}
	for _, key := range bad {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			if _, err := st.Put(t.Context(), key, strings.NewReader("x"), 1, storage.PutOptions{}); err == nil {
				t.Errorf("put accepted invalid key")
			}
			rc, _, err := st.Get(t.Context(), key)
			if err == nil {
				_ = rc.Close()
			}
			if err == nil || errors.Is(err, storage.ErrNotFound) {
				t.Errorf("get: %v, want a key error", err)
			}
			if _, err := st.Stat(t.Context(), key); err == nil || errors.Is(err, storage.ErrNotFound) {
				t.Errorf("stat: %v, want a key error", err)
			}
			if err := st.Delete(t.Context(), key, storage.DeleteOptions{}); err == nil || errors.Is(err, storage.ErrNotFound) {
				t.Errorf("delete: %v, want a key error", err)
			}
		})
	}
	for _, prefix := range []string{"/", "/a", "a//", "../", "a/../", "nul\x00"} {
		if err := st.List(t.Context(), prefix, func(storage.ObjectInfo) error { return nil }); err == nil {
			t.Errorf("list accepted invalid prefix %q", prefix)
		}
	}
	if got := listKeys(t, st, ""); len(got) != 0 {
		t.Errorf("store holds %q after invalid puts, want nothing", got)
	}
}

func (s *suite) testUnusualKeys(t *testing.T) {
	st := s.store(t)
	keys := []string{
		"with space/é ü.json", "a+b=c&d;e,f@g", "percent%20sign", "question?mark",
		"hash#tag", ".hidden", "x..y", "deep/ly/nest/ed/key/of/many/levels", "~tilde", "日本/語",
	}
	for _, k := range keys {
		mustPut(t, st, k, []byte(k))
	}
	for _, k := range keys {
		wantContent(t, st, k, []byte(k))
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if got := listKeys(t, st, ""); !slices.Equal(got, want) {
		t.Errorf("list = %q, want %q", got, want)
	}
}
