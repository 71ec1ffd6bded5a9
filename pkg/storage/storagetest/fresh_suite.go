package storagetest

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// freshOpts are the options the engine writes block files with.
func freshOpts() storage.PutOptions { return storage.PutOptions{Fresh: true, NoSync: true} }

// testFresh checks PutOptions.Fresh as the engine uses it: many new keys
// in a new folder from several writers, then Sync; and what must hold
// whether the store honours Fresh or ignores it.
func (s *suite) testFresh(t *testing.T) {
	st := s.store(t)
	const n = 40
	var g errgroup.Group
	g.SetLimit(8)
	keys := make([]string, n)
	infos := make([]storage.ObjectInfo, n)
	for i := range n {
		keys[i] = fmt.Sprintf("backup_1/blocks/%03d_block.json", i)
		g.Go(func() error {
			var err error
			infos[i], err = put(t, st, keys[i], fmt.Appendf(nil, "block %d", i), freshOpts())
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("fresh put: %v", err)
	}
	for i, info := range infos {
		if info.Key != keys[i] || info.Size != int64(len(fmt.Sprintf("block %d", i))) || info.Version == "" {
			t.Errorf("fresh put %s returned %+v, want its key, size and a version", keys[i], info)
		}
	}
	if sy, ok := st.(storage.Syncer); ok {
		if err := sy.Sync(t.Context()); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}
	for i, k := range keys {
		wantContent(t, st, k, fmt.Appendf(nil, "block %d", i))
		if got, err := st.Stat(t.Context(), k); err != nil || got.Version != infos[i].Version {
			t.Errorf("stat %s = %+v, %v; want the version Put returned (%s)", k, got, err, infos[i].Version)
		}
	}
	if got := listKeys(t, st, "backup_1/"); !slices.Equal(got, keys) {
		t.Errorf("list = %q, want %q", got, keys)
	}

	// Without NoSync, at the top level and in a deep new directory.
	for _, k := range []string{"top.json", "backup_2/a/b/c/deep.json"} {
		if _, err := put(t, st, k, []byte(k), storage.PutOptions{Fresh: true}); err != nil {
			t.Fatalf("fresh put %s: %v", k, err)
		}
		wantContent(t, st, k, []byte(k))
	}
	// Empty objects.
	if _, err := put(t, st, "backup_1/blocks/empty.txt", nil, freshOpts()); err != nil {
		t.Fatalf("fresh put of an empty object: %v", err)
	}
	wantContent(t, st, "backup_1/blocks/empty.txt", nil)
}

// testFreshExisting: a Fresh Put over an object is refused and leaves it,
// or (a store that ignores Fresh) replaces it; nothing else.
func (s *suite) testFreshExisting(t *testing.T) {
	st := s.store(t)
	mustPut(t, st, "backup_1/blocks/1.json", []byte("old"))
	_, err := put(t, st, "backup_1/blocks/1.json", []byte("new content"), freshOpts())
	first := []byte("old") // what 1.json holds now
	switch {
	case err == nil:
		first = []byte("new content")
	case !isPrecondition(err):
		t.Fatalf("fresh put over an object: %v, want nil or ErrPreconditionFailed", err)
	}
	wantContent(t, st, "backup_1/blocks/1.json", first)
	// With IfNotExists every store refuses it.
	mustPut(t, st, "backup_1/blocks/2.json", []byte("old"))
	_, err = put(t, st, "backup_1/blocks/2.json", []byte("new"), storage.PutOptions{Fresh: true, NoSync: true, IfNotExists: true})
	if !isPrecondition(err) {
		t.Fatalf("fresh put with IfNotExists over an object: %v, want ErrPreconditionFailed", err)
	}
	wantContent(t, st, "backup_1/blocks/2.json", []byte("old"))
	// And of racing creators exactly one wins.
	w := race(t, s.opts.Racers, func(i int) error {
		_, err := put(t, st, "backup_1/blocks/race.json", fmt.Appendf(nil, "racer %d", i), storage.PutOptions{Fresh: true, NoSync: true, IfNotExists: true})
		return err
	})
	wantContent(t, st, "backup_1/blocks/race.json", fmt.Appendf(nil, "racer %d", w))
	// IfVersion cannot be combined with Fresh: refused, or (a store that
	// ignores Fresh) an ordinary compare-and-swap.
	info := mustPut(t, st, "backup_1/state.json", []byte("state"))
	if _, err := put(t, st, "backup_1/state.json", []byte("swapped"), storage.PutOptions{Fresh: true, IfVersion: info.Version}); err == nil {
		wantContent(t, st, "backup_1/state.json", []byte("swapped"))
		mustPut(t, st, "backup_1/state.json", []byte("state"))
	} else {
		wantContent(t, st, "backup_1/state.json", []byte("state"))
	}
	// On a file-system store a key cannot also be a directory of keys.
	if s.opts.FileSystemKeys {
		for _, k := range []string{"backup_1/state.json/child", "backup_1/blocks"} {
			if _, err := put(t, st, k, []byte("x"), freshOpts()); err == nil {
				t.Errorf("fresh put %s next to an object succeeded on a file-system store", k)
			}
		}
		wantContent(t, st, "backup_1/state.json", []byte("state"))
		wantContent(t, st, "backup_1/blocks/1.json", first)
	}
}

// testFreshRetry: a Fresh Put that fails leaves nothing under its key, so
// the same Put can be made again and succeeds.
func (s *suite) testFreshRetry(t *testing.T) {
	st := s.store(t)
	for _, tc := range []struct {
		name string
		data []byte
		size int64
	}{
		{"short", []byte("short"), 100},
		{"long", []byte("much too long"), 4},
		{"long by one", make([]byte, 70<<10+1), 70 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "backup_1/blocks/" + tc.name + ".json"
			if _, err := st.Put(t.Context(), key, onlyReader{bytes.NewReader(tc.data)}, tc.size, freshOpts()); err == nil {
				t.Fatalf("fresh put of %d bytes as %d succeeded, want an error", len(tc.data), tc.size)
			}
			wantMissing(t, st, key)
			if got := listKeys(t, st, "backup_1/"); slices.Contains(got, key) {
				t.Fatalf("list shows %s after a failed fresh put", key)
			}
			if _, err := put(t, st, key, []byte("retried"), freshOpts()); err != nil {
				t.Fatalf("retry of the fresh put: %v", err)
			}
			wantContent(t, st, key, []byte("retried"))
		})
	}
}
