// Package local stores objects as files below a root directory.
//
// Keys map to paths below the root ("a/b.json" is ROOT/a/b.json). Writes are
// atomic and durable: Put writes a temporary file in the target's directory,
// fsyncs it, moves it into place and fsyncs the directory. Temporary files
// are named ".backup-creator-tmp-*" and a crash leaves at most such a file,
// which List never returns; no key may have a path segment starting with
// ".backup-creator-".
//
// Conditional writes and deletes commit under an exclusive lock: a mutex in
// the process plus flock(2) (LockFileEx on Windows) on ROOT/.backup-creator-local.lock,
// so they are race-free across processes on one host. Network file systems
// whose locks are not reliable give weaker guarantees. IfNotExists is also
// enforced by link(2), which fails if the target exists.
//
// Version is "INODE-SIZE-MTIMENS" in hex (the file index on Windows). Every
// Put creates a new file, whose inode cannot equal that of the file it
// replaces, so the version changes on every write even when the content is
// the same, and Stat and Get need no read of the content.
//
// Unlike object stores, a key cannot also be a directory of other keys: with
// "a" stored, Put("a/b") fails, and the other way round. Directories left
// empty by Delete are kept. Files are created with mode 0600 and directories
// with 0700.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/keys"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/objio"
)

const (
	// reservedPrefix starts every name the store keeps for itself.
	reservedPrefix = ".backup-creator-"
	tempPattern    = reservedPrefix + "tmp-*"
	// LockFileName is the lock file's name in the root directory.
	LockFileName = reservedPrefix + "local.lock"

	dirMode  = 0o700
	fileMode = 0o600
)

// Config configures a local store.
type Config struct {
	// Root is the directory objects are stored below. It is created (with
	// its missing parents) if it does not exist. A relative path is taken
	// relative to the working directory when New runs.
	Root string `mapstructure:"root"`
}

// ParseURL returns base with the root taken from u: "file:///var/backups",
// "file://localhost/var/backups", "file:relative/dir" or a plain path
// ("/var/backups", "backups"). A URL without a path keeps base.Root. The
// local backend has no query parameters; any is refused.
func ParseURL(u *url.URL, base Config) (Config, error) {
	cfg := base
	switch u.Scheme {
	case "", "file":
	default:
		return cfg, fmt.Errorf("local destination %q: scheme %q is not file", u.Redacted(), u.Scheme)
	}
	if u.Host != "" && u.Host != "localhost" {
		return cfg, fmt.Errorf("local destination %q: host %q is not supported (use file:///path)", u.Redacted(), u.Host)
	}
	if u.User != nil {
		return cfg, fmt.Errorf("local destination %q: user info is not supported", u.Redacted())
	}
	if len(u.Query()) > 0 {
		return cfg, fmt.Errorf("local destination %q: unknown query parameters (the local backend has none)", u.Redacted())
	}
	p := u.Path
	if u.Opaque != "" {
		p = u.Opaque
	}
	if p != "" {
		cfg.Root = filepath.FromSlash(p)
	}
	return cfg, nil
}

// Store is a storage.Store on a local (or mounted) file system.
type Store struct {
	root string // absolute and clean
	lock *os.File
	mu   sync.Mutex // serialises commits within the process; lock across processes
}

var (
	_ storage.Store      = (*Store)(nil)
	_ storage.Syncer     = (*Store)(nil)
	_ storage.DirRemover = (*Store)(nil)
)

// New opens the store at cfg.Root, creating the directory if needed. It
// fails when the root cannot be created, is not a directory, or is not
// writable (it creates the lock file there).
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Root == "" {
		return nil, errors.New("local destination: root directory not set")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("local destination %s: %w", cfg.Root, err)
	}
	if err := os.MkdirAll(root, dirMode); err != nil {
		return nil, fmt.Errorf("local destination %s: create root directory: %w", root, err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("local destination %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("local destination %s: not a directory", root)
	}
	lf, err := os.OpenFile(filepath.Join(root, LockFileName), os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("local destination %s: not writable: %w", root, err)
	}
	return &Store{root: root, lock: lf}, nil
}

// String implements storage.Store: the absolute root directory.
func (s *Store) String() string { return s.root }

// Close implements storage.Store.
func (s *Store) Close() error {
	if err := s.lock.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("close %s: %w", s.root, err)
	}
	return nil
}

// checkKey validates key and returns its absolute path.
func (s *Store) checkKey(op, key string) (string, error) {
	if err := keys.Validate(key); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, reservedPrefix) {
			return "", fmt.Errorf("%s: %w %q: segments starting with %q are reserved by the local store", op, keys.ErrInvalid, key, reservedPrefix)
		}
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// withLock runs fn holding the store's in-process and inter-process lock.
func (s *Store) withLock(fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := lockFile(s.lock); err != nil {
		return fmt.Errorf("lock %s: %w", s.lock.Name(), err)
	}
	ferr := fn()
	if err := unlockFile(s.lock); err != nil && ferr == nil {
		ferr = fmt.Errorf("unlock %s: %w", s.lock.Name(), err)
	}
	return ferr
}

// Put implements storage.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (storage.ObjectInfo, error) {
	target, err := s.checkKey("put", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	if size < 0 {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: negative size %d", key, size)
	}
	if opts.IfNotExists && opts.IfVersion != "" {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: IfNotExists and IfVersion are mutually exclusive", key)
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	info, err := s.put(ctx, key, target, r, size, opts)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	return info, nil
}

func (s *Store) put(ctx context.Context, key, target string, r io.Reader, size int64, opts storage.PutOptions) (info storage.ObjectInfo, err error) {
	dir := filepath.Dir(target)
	if err := s.ensureDir(dir); err != nil {
		return info, err
	}
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return info, err
	}
	tmp := f.Name()
	committed := false
	defer func() {
		if f != nil {
			_ = f.Close()
		}
		if !committed {
			_ = os.Remove(tmp)
		}
	}()

	if _, err := io.Copy(f, objio.Exact(ctx, r, size)); err != nil {
		return info, err
	}
	if !opts.NoSync || !canSyncFS {
		if err := f.Sync(); err != nil {
			return info, err
		}
	}
	fi, version, err := fileVersion(f)
	if err != nil {
		return info, err
	}
	err = f.Close()
	f = nil
	if err != nil {
		return info, err
	}

	err = s.withLock(func() error {
		// Last point to give up: after this the object is replaced.
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case opts.IfNotExists:
			return s.createNew(tmp, target)
		case opts.IfVersion != "":
			cur, err := s.currentVersion(target)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				return fmt.Errorf("%w: object does not exist", storage.ErrPreconditionFailed)
			case err != nil:
				return err
			case cur != opts.IfVersion:
				return fmt.Errorf("%w: version is %s, not %s", storage.ErrPreconditionFailed, cur, opts.IfVersion)
			}
		}
		return os.Rename(tmp, target)
	})
	if err != nil {
		return info, err
	}
	committed = true
	if opts.NoSync && canSyncFS {
		return storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), Version: version}, nil
	}
	if err := syncDir(dir); err != nil {
		return info, fmt.Errorf("sync directory: %w", err)
	}
	return storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), Version: version}, nil
}

// createNew moves tmp to target only if target does not exist. Called with
// the lock held. link(2) refuses an existing target, so this is safe even
// against writers that do not take the lock; where hard links are not
// supported the lock alone protects the check-then-rename.
func (s *Store) createNew(tmp, target string) error {
	err := os.Link(tmp, target)
	switch {
	case err == nil:
		_ = os.Remove(tmp) // target keeps the inode
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w: object exists", storage.ErrPreconditionFailed)
	case !linkUnsupported(err):
		return err
	}
	if _, err := os.Lstat(target); err == nil {
		return fmt.Errorf("%w: object exists", storage.ErrPreconditionFailed)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Rename(tmp, target)
}

// currentVersion returns the version of the object at path, or an error
// wrapping storage.ErrNotFound.
func (s *Store) currentVersion(path string) (string, error) {
	f, err := openObject(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	_, v, err := fileVersion(f)
	return v, err
}

// openObject opens the regular file at path for reading. A missing file, a
// directory, or a path through a file gives an error wrapping ErrNotFound.
func openObject(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: %w", storage.ErrNotFound, err)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file", storage.ErrNotFound, path)
	}
	return f, nil
}

// ensureDir creates dir and its missing parents below the root, fsyncing
// each new directory's parent so the path survives a crash.
func (s *Store) ensureDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is an object, not a directory", s.keyOf(dir))
		}
		return nil
	}
	var missing []string
	for d := dir; d != s.root && len(d) > len(s.root); d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	for _, d := range slices.Backward(missing) {
		err := os.Mkdir(d, dirMode)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			if errors.Is(err, syscall.ENOTDIR) {
				return fmt.Errorf("a parent of %s is an object, not a directory", s.keyOf(d))
			}
			return err
		}
		if err := syncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("sync directory: %w", err)
		}
	}
	if fi, err := os.Stat(dir); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is an object, not a directory", s.keyOf(dir))
	}
	return nil
}

// keyOf turns an absolute path below the root back into a key for messages.
func (s *Store) keyOf(path string) string {
	rel, err := filepath.Rel(s.root, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(rel)
}

// Get implements storage.Store. The file is opened before Get returns, so
// the reader yields the object as it was then even if it is replaced.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	path, err := s.checkKey("get", key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("get %s: %w", key, err)
	}
	f, err := openObject(path)
	if err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("get %s: %w", key, err)
	}
	fi, v, err := fileVersion(f)
	if err != nil {
		_ = f.Close()
		return nil, storage.ObjectInfo{}, fmt.Errorf("get %s: %w", key, err)
	}
	return objio.Reader(ctx, f), storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), Version: v}, nil
}

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	path, err := s.checkKey("stat", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	f, err := openObject(path)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	defer func() { _ = f.Close() }()
	fi, v, err := fileVersion(f)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), Version: v}, nil
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, key string, opts storage.DeleteOptions) error {
	path, err := s.checkKey("delete", key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	err = s.withLock(func() error {
		cur, err := s.currentVersion(path)
		if err != nil {
			return err
		}
		if opts.IfVersion != "" && cur != opts.IfVersion {
			return fmt.Errorf("%w: version is %s, not %s", storage.ErrPreconditionFailed, cur, opts.IfVersion)
		}
		return os.Remove(path)
	})
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("delete %s: sync directory: %w", key, err)
	}
	return nil
}

// RemoveEmptyDirs implements storage.DirRemover. It never follows a
// symbolic link and never removes the root.
func (s *Store) RemoveEmptyDirs(ctx context.Context, prefix string) error {
	if err := keys.ValidatePrefix(prefix); err != nil || !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("remove empty directories %q: not a folder prefix", prefix)
	}
	top := filepath.Join(s.root, filepath.FromSlash(strings.TrimSuffix(prefix, "/")))
	var dirs []string
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("remove empty directories below %s: %w", prefix, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		// os.Remove fails on a directory that is not empty: that one stays.
		if err := os.Remove(dirs[i]); err == nil {
			_ = syncDir(filepath.Dir(dirs[i]))
		}
	}
	return nil
}

// List implements storage.Store. It walks the directories below the
// prefix, visiting each directory's entries in an order that yields keys in
// ascending byte order (a subdirectory "a" sorts as "a/", after "a-b" and
// "a.b"), so nothing is collected beyond one directory's names.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := keys.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	// Start at the deepest directory the prefix names completely.
	startKey := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		startKey = prefix[:i]
	}
	start := s.root
	if startKey != "" {
		start = filepath.Join(s.root, filepath.FromSlash(startKey))
	}
	l := lister{ctx: ctx, prefix: prefix, fn: fn}
	err := l.walk(start, startKey)
	if l.fnErr != nil {
		return l.fnErr
	}
	if err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return nil
}

var errCallback = errors.New("callback error")

type lister struct {
	ctx    context.Context
	prefix string
	fn     func(storage.ObjectInfo) error
	fnErr  error
}

type dirEntry struct {
	sortName string // name, with "/" appended for directories
	entry    fs.DirEntry
}

func (l *lister) walk(dir, dirKey string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	sorted := make([]dirEntry, 0, len(ents))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), reservedPrefix) {
			continue
		}
		name := e.Name()
		switch {
		case e.IsDir():
			name += "/"
		case !e.Type().IsRegular():
			continue // symlinks, devices, sockets are not objects
		}
		sorted = append(sorted, dirEntry{sortName: name, entry: e})
	}
	slices.SortFunc(sorted, func(a, b dirEntry) int { return strings.Compare(a.sortName, b.sortName) })
	for _, de := range sorted {
		if err := l.ctx.Err(); err != nil {
			return err
		}
		key := keys.Join(dirKey, de.entry.Name())
		if de.entry.IsDir() {
			// Descend only where keys can match the prefix.
			sub := key + "/"
			if strings.HasPrefix(sub, l.prefix) || strings.HasPrefix(l.prefix, sub) {
				if err := l.walk(filepath.Join(dir, de.entry.Name()), key); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(key, l.prefix) {
			continue
		}
		fi, err := de.entry.Info()
		if err != nil {
			if isNotFound(err) {
				continue // deleted while listing
			}
			return err
		}
		if err := l.fn(storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), Version: listVersion(fi)}); err != nil {
			l.fnErr = err
			return errCallback
		}
	}
	return nil
}

// isNotFound reports whether err means the path does not exist as a file:
// it is missing, or a parent is a file.
func isNotFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// formatVersion builds the Version string from a file's identity.
func formatVersion(id uint64, fi fs.FileInfo) string {
	return fmt.Sprintf("%x-%x-%x", id, fi.Size(), fi.ModTime().UnixNano())
}
