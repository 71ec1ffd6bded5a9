package local

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// symlink makes link point at target, or skips where links cannot be made
// (Windows without the privilege).
func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("cannot create symbolic links here: %v", err)
	}
}

// wantUnsafe checks that err wraps ErrUnsafePath (and not ErrNotFound) and
// names path as a symbolic link.
func wantUnsafe(t *testing.T, op string, err error, path string) {
	t.Helper()
	switch {
	case !errors.Is(err, storage.ErrUnsafePath):
		t.Errorf("%s = %v, want ErrUnsafePath", op, err)
	case errors.Is(err, storage.ErrNotFound):
		t.Errorf("%s = %v, must not look like ErrNotFound", op, err)
	case !strings.Contains(err.Error(), path+" is a symbolic link"):
		t.Errorf("%s = %q, want it to say %q is a symbolic link", op, err, path)
	}
}

// wantEmptyDir checks that nothing was written into dir.
func wantEmptyDir(t *testing.T, dir string, keep ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, keep) {
		t.Errorf("%s holds %q, want %q: something was written through the link", dir, names, keep)
	}
}

func putString(t *testing.T, st *Store, key, data string, opts storage.PutOptions) error {
	t.Helper()
	_, err := st.Put(t.Context(), key, strings.NewReader(data), int64(len(data)), opts)
	return err
}

// A backup folder that is a link to a directory outside the root: nothing
// is created, copied, read or deleted through it.
func TestSymlinkedFolderOutsideRoot(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	link := filepath.Join(root, "backup_20261201")
	symlink(t, outside, link)
	if err := os.WriteFile(filepath.Join(outside, "victim"), []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := newStore(t, root)
	defer func() { _ = st.Close() }()
	if err := putString(t, st, "src.json", "src", storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, opts := range []storage.PutOptions{{}, {IfNotExists: true}, {NoSync: true}, {Fresh: true, NoSync: true}} {
		wantUnsafe(t, "put into the linked folder", putString(t, st, "backup_20261201/blocks/1.json", "{}", opts), link)
		wantUnsafe(t, "put onto a file in the linked folder", putString(t, st, "backup_20261201/victim", "overwritten", opts), link)
	}
	_, err := st.Copy(t.Context(), "src.json", "backup_20261201/copy.json")
	wantUnsafe(t, "copy into the linked folder", err, link)
	_, err = storage.Copy(t.Context(), st, "backup_20261201/victim", "stolen.json")
	wantUnsafe(t, "copy out of the linked folder", err, link)
	_, _, err = st.Get(t.Context(), "backup_20261201/victim")
	wantUnsafe(t, "get through the linked folder", err, link)
	_, err = st.Stat(t.Context(), "backup_20261201/victim")
	wantUnsafe(t, "stat through the linked folder", err, link)
	wantUnsafe(t, "delete through the linked folder", st.Delete(t.Context(), "backup_20261201/victim", storage.DeleteOptions{}), link)
	wantUnsafe(t, "delete keys through the linked folder", st.DeleteKeys(t.Context(), []string{"backup_20261201/victim"}), link)
	err = st.List(t.Context(), "backup_20261201/", func(storage.ObjectInfo) error { return nil })
	wantUnsafe(t, "list of the linked folder", err, link)
	wantUnsafe(t, "remove empty directories of the linked folder", st.RemoveEmptyDirs(t.Context(), "backup_20261201/"), link)

	wantEmptyDir(t, outside, "victim")
	if b, err := os.ReadFile(filepath.Join(outside, "victim")); err != nil || string(b) != "outside" {
		t.Errorf("file outside the root = %q, %v; want it unchanged", b, err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link itself was replaced or removed: %v, %v", fi, err)
	}
	wantEmptyDir(t, root, ".backup-creator-local.lock", "backup_20261201", "src.json")
}

// A deeper component may be the link, and a link pointing inside the root
// is refused as well: the store never follows one it did not create.
func TestSymlinkedSubdirectory(t *testing.T) {
	root := t.TempDir()
	st := newStore(t, root)
	defer func() { _ = st.Close() }()
	if err := putString(t, st, "backup_20261130/blocks/1.json", "one", storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "backup_20261201", "blocks")
	symlink(t, filepath.Join(root, "backup_20261130", "blocks"), link)
	wantUnsafe(t, "put", putString(t, st, "backup_20261201/blocks/2.json", "two", storage.PutOptions{}), link)
	_, _, err := st.Get(t.Context(), "backup_20261201/blocks/1.json")
	wantUnsafe(t, "get", err, link)
	wantEmptyDir(t, filepath.Join(root, "backup_20261130", "blocks"), "1.json")
}

// The lock and the state file are written at the root with Put: a link
// under their names (dangling, or to an existing file) is not written
// through, and a conditional create says why instead of "exists".
func TestSymlinkedLockAndStateFile(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	lockLink := filepath.Join(root, "backup-creator.lock")
	stateLink := filepath.Join(root, "backup-creator.state.json")
	symlink(t, filepath.Join(outside, "lock"), lockLink) // dangling
	if err := os.WriteFile(filepath.Join(outside, "state"), []byte(`{"old":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	symlink(t, filepath.Join(outside, "state"), stateLink)
	st := newStore(t, root)
	defer func() { _ = st.Close() }()

	err := putString(t, st, "backup-creator.lock", `{"holder":"me"}`, storage.PutOptions{IfNotExists: true})
	wantUnsafe(t, "create the lock", err, lockLink)
	if errors.Is(err, storage.ErrPreconditionFailed) {
		t.Errorf("create the lock = %v: a link must not look like a lock held by someone else", err)
	}
	wantUnsafe(t, "write the state", putString(t, st, "backup-creator.state.json", `{"new":true}`, storage.PutOptions{}), stateLink)
	_, _, err = st.Get(t.Context(), "backup-creator.state.json")
	wantUnsafe(t, "read the state", err, stateLink)
	_, _, err = st.Get(t.Context(), "backup-creator.lock")
	wantUnsafe(t, "read the lock", err, lockLink)

	wantEmptyDir(t, outside, "state")
	if b, _ := os.ReadFile(filepath.Join(outside, "state")); string(b) != `{"old":true}` {
		t.Errorf("state outside the root = %q, want it unchanged", b)
	}
}

// The store's own lock file is opened without following a link.
func TestSymlinkedStoreLockFile(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	link := filepath.Join(root, LockFileName)
	symlink(t, filepath.Join(outside, "lock"), link)
	st, err := New(t.Context(), Config{Root: root})
	if err == nil {
		_ = st.Close()
		t.Fatal("New succeeded with the store's lock file a symbolic link")
	}
	wantUnsafe(t, "New", err, link)
	wantEmptyDir(t, outside)
}

// The root itself may be a link (the user chose it).
func TestRootMayBeASymlink(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "dest")
	symlink(t, real, link)
	st := newStore(t, link)
	defer func() { _ = st.Close() }()
	if err := putString(t, st, "backup_20261201/manifest.json", "{}", storage.PutOptions{}); err != nil {
		t.Fatalf("put below a linked root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(real, "backup_20261201", "manifest.json")); err != nil {
		t.Errorf("object not stored in the link's target: %v", err)
	}
}

// Get and Stat of a key that is a link to a file outside fail closed: not
// the outside file's content, and not "not found".
func TestGetSymlinkToOutsideFile(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("not yours"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "backup_20261201", "blocks", "1.json")
	symlink(t, secret, link)
	st := newStore(t, root)
	defer func() { _ = st.Close() }()
	rc, _, err := st.Get(t.Context(), "backup_20261201/blocks/1.json")
	if err == nil {
		b, _ := io.ReadAll(rc)
		_ = rc.Close()
		t.Fatalf("get read %q through the link", b)
	}
	wantUnsafe(t, "get", err, link)
	_, err = st.Stat(t.Context(), "backup_20261201/blocks/1.json")
	wantUnsafe(t, "stat", err, link)
	wantUnsafe(t, "delete", st.Delete(t.Context(), "backup_20261201/blocks/1.json", storage.DeleteOptions{}), link)
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("the link was removed: %v", err)
	}
}

// List reports a link inside the listed prefix instead of skipping it;
// links elsewhere do not disturb other prefixes.
func TestListReportsSymlinks(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	st := newStore(t, root)
	defer func() { _ = st.Close() }()
	for _, k := range []string{"backup_20261130/blocks/1.json", "backup_20261130/manifest.json", "backup_20261201/blocks/1.json"} {
		if err := putString(t, st, k, k, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "f"), []byte("f"), 0o600); err != nil {
		t.Fatal(err)
	}
	fileLink := filepath.Join(root, "backup_20261201", "blocks", "2.json")
	symlink(t, filepath.Join(outside, "f"), fileLink)
	dirLink := filepath.Join(root, "backup_20261202")
	symlink(t, outside, dirLink)

	list := func(prefix string) ([]string, error) {
		var got []string
		err := st.List(t.Context(), prefix, func(oi storage.ObjectInfo) error { got = append(got, oi.Key); return nil })
		return got, err
	}
	for _, tc := range []struct {
		prefix string
		link   string
	}{
		{"", fileLink},
		{"backup_20261201/", fileLink},
		{"backup_20261201/blocks/2", fileLink},
		{"backup_20261202/", dirLink},
		{"backup_2026120", fileLink},
	} {
		_, err := list(tc.prefix)
		wantUnsafe(t, "list "+tc.prefix, err, tc.link)
	}
	got, err := list("backup_20261130/")
	if err != nil || !slices.Equal(got, []string{"backup_20261130/blocks/1.json", "backup_20261130/manifest.json"}) {
		t.Errorf("list of a clean folder = %q, %v", got, err)
	}
	got, err = list("backup_20261201/blocks/1")
	if err != nil || !slices.Equal(got, []string{"backup_20261201/blocks/1.json"}) {
		t.Errorf("list of a prefix beside the link = %q, %v", got, err)
	}
}
