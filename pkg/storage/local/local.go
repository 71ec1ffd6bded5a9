// Package local stores objects as files below a root directory.
//
// Keys map to paths below the root ("a/b.json" is ROOT/a/b.json). Writes are
// atomic and durable: Put writes a temporary file in the target's directory,
// fsyncs it, moves it into place and fsyncs the directory. Temporary files
// are named ".backup-creator-tmp-*" and a crash leaves at most such a file,
// which List never returns; no key may have a path segment starting with
// ".backup-creator-".
//
// Fresh writes (storage.PutOptions.Fresh, for new files in a folder nobody
// reads before its commit point) skip all that: the file is created in
// place under its final name with O_CREAT|O_EXCL, relative to a handle on
// its directory that the store opens once (after the checks below) and
// keeps for later Fresh writes into it, then written and closed, with no
// temporary file, rename or lock, and with NoSync no fsync either (Sync
// makes them durable). Anything already at the name, an object or a link
// someone planted, fails the Put and is left alone; a Put that fails
// removes its partial file. A crash can leave a partial file under the
// key, which the caller's commit point (the manifest) never lists.
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
//
// Symbolic links: the root may itself be a symbolic link (or lie below one);
// that is the user's choice. Below the root the store never follows one.
// Everything goes through an os.Root opened on the root directory, which
// refuses any path that would resolve outside it (also when a link is
// swapped in while an operation runs), and before each operation every
// path component of the key is checked with Lstat: a symbolic link, or
// another entry that is neither a directory nor a regular file (a device, a
// socket, a named pipe), fails the operation with an error wrapping
// storage.ErrUnsafePath that names the path, and nothing is read, written
// or deleted through it. backup-creator never creates such an entry, so one
// inside a destination means someone else put it there (by mistake or to
// redirect the backup), and the store fails closed rather than guessing:
// Get and Stat report it instead of "not found" (so a reader cannot be
// given another file's content, nor mistake the key for free), and List
// reports it as an error instead of skipping it, so verify and the catalog
// notice an entry they cannot see. New files are created with O_EXCL under
// a fresh temporary name and renamed into place, and a link found at the
// final name is refused, so a planted link is never written through
// (Fresh writes create the final name itself with O_EXCL, which never
// follows a link; a link swapped in for their directory's path after the
// store opened it does not redirect them either, they go on into the
// directory that was checked). The
// store's own lock file is checked the same way. (os.Root itself follows a
// link that stays inside the root, so a link swapped in between the check
// and the use can at worst redirect to another file of the destination.)
//
// Copy writes a real copy (the kernel copies the bytes with
// copy_file_range on Linux, which copy-on-write file systems such as XFS and
// Btrfs can turn into a shared-extent reflink) into a temporary file, fsyncs
// it and renames it into place, like Put. It does not hard-link: the copy
// and the source would then be one file, and although the store itself
// never rewrites a file in place, a tool that did would change both.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/objio"
)

const (
	// reservedPrefix starts every name the store keeps for itself.
	reservedPrefix = ".backup-creator-"
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
	root string   // absolute and clean, for messages
	r    *os.Root // every file operation goes through it
	lock *os.File
	mu   sync.Mutex // serialises commits within the process; lock across processes
	// fresh holds the directories PutOptions.Fresh writes go into.
	fresh freshDirs
	bufs  sync.Pool // of *[copyBufSize]byte, for copyBody
	// bg starts the writeback of NoSync writes while they go on (Linux).
	bg flusher
}

var (
	_ storage.Store        = (*Store)(nil)
	_ storage.Syncer       = (*Store)(nil)
	_ storage.Copier       = (*Store)(nil)
	_ storage.BatchDeleter = (*Store)(nil)
	_ storage.DirRemover   = (*Store)(nil)
)

// New opens the store at cfg.Root, creating the directory if needed. It
// fails when the root cannot be created, is not a directory, or is not
// writable (it creates the lock file there), and when the lock file's name
// is taken by a symbolic link or anything but a regular file.
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
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("local destination %s: %w", root, err)
	}
	s := &Store{root: root, r: r}
	if err := s.checkPath(LockFileName); err != nil && !errors.Is(err, storage.ErrNotFound) {
		_ = r.Close()
		return nil, fmt.Errorf("local destination %s: lock file: %w", root, err)
	}
	lf, err := r.OpenFile(LockFileName, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("local destination %s: not writable: %w", root, s.pathErr(LockFileName, err))
	}
	if fi, err := lf.Stat(); err != nil || !fi.Mode().IsRegular() {
		_ = lf.Close()
		_ = r.Close()
		return nil, fmt.Errorf("local destination %s: lock file %s is not a regular file", root, filepath.Join(root, LockFileName))
	}
	s.lock = lf
	return s, nil
}

// String implements storage.Store: the absolute root directory.
func (s *Store) String() string { return s.root }

// Close implements storage.Store.
func (s *Store) Close() error {
	s.waitFlush()
	s.fresh.closeAll()
	err := s.lock.Close()
	if rerr := s.r.Close(); err == nil || errors.Is(err, os.ErrClosed) {
		err = rerr
	}
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("close %s: %w", s.root, err)
	}
	return nil
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
	if opts.Fresh && opts.IfVersion != "" {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: Fresh and IfVersion are mutually exclusive", key)
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	var info storage.ObjectInfo
	if opts.Fresh {
		// O_EXCL also enforces IfNotExists.
		info, err = s.writeFresh(ctx, key, target, r, size, opts.NoSync)
	} else {
		info, err = s.write(ctx, key, target, func(f *os.File) error {
			return s.copyBody(ctx, f, r, size)
		}, opts)
	}
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	if opts.NoSync {
		s.wroteUnsynced(info.Size)
	}
	return info, nil
}

// createTemp creates a new empty file in dir (relative to the root) with
// O_EXCL, so it is never a link someone planted, and returns it with its
// relative name.
func (s *Store) createTemp(dir string) (*os.File, string, error) {
	for range 100 {
		name := filepath.Join(dir, reservedPrefix+"tmp-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := s.r.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, s.pathErr(name, err)
	}
	return nil, "", fmt.Errorf("create a temporary file in %s: too many collisions", filepath.Join(s.root, dir))
}

// write stores what fill writes into a new temporary file under key
// (target is its relative path), atomically and, unless opts.NoSync,
// durably, with opts' condition.
func (s *Store) write(ctx context.Context, key, target string, fill func(*os.File) error, opts storage.PutOptions) (info storage.ObjectInfo, err error) {
	dir := filepath.Dir(target)
	if err := s.ensureDir(dir); err != nil {
		return info, err
	}
	f, tmp, err := s.createTemp(dir)
	if err != nil {
		return info, err
	}
	committed := false
	defer func() {
		if f != nil {
			_ = f.Close()
		}
		if !committed {
			_ = s.r.Remove(tmp)
		}
	}()

	if err := fill(f); err != nil {
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
		// Never replace a link or a special file someone planted: say so.
		switch err := s.checkPath(target); {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
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
		return s.pathErr(target, s.r.Rename(tmp, target))
	})
	if err != nil {
		return info, err
	}
	committed = true
	if opts.NoSync && canSyncFS {
		return storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), Version: version}, nil
	}
	if err := s.syncDir(dir); err != nil {
		return info, fmt.Errorf("sync directory: %w", err)
	}
	return storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), Version: version}, nil
}

// createNew moves tmp to target only if target does not exist. Called with
// the lock held. link(2) refuses an existing target, so this is safe even
// against writers that do not take the lock; where hard links are not
// supported the lock alone protects the check-then-rename.
func (s *Store) createNew(tmp, target string) error {
	err := s.r.Link(tmp, target)
	switch {
	case err == nil:
		_ = s.r.Remove(tmp) // target keeps the inode
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w: object exists", storage.ErrPreconditionFailed)
	case !linkUnsupported(err):
		return s.pathErr(target, err)
	}
	if _, err := s.r.Lstat(target); err == nil {
		return fmt.Errorf("%w: object exists", storage.ErrPreconditionFailed)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return s.pathErr(target, s.r.Rename(tmp, target))
}

// currentVersion returns the version of the object at rel, or an error
// wrapping storage.ErrNotFound.
func (s *Store) currentVersion(rel string) (string, error) {
	f, err := s.openObject(rel)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	_, v, err := fileVersion(f)
	return v, err
}

// openObject opens the regular file at rel for reading, after checkPath. A
// missing file, a directory, or a path through a file gives an error
// wrapping ErrNotFound; a symbolic link or special file on the way, one
// wrapping ErrUnsafePath.
func (s *Store) openObject(rel string) (*os.File, error) {
	if err := s.checkPath(rel); err != nil {
		return nil, err
	}
	f, err := s.r.Open(rel)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: %w", storage.ErrNotFound, err)
		}
		return nil, s.pathErr(rel, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if fi.IsDir() {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s is a directory", storage.ErrNotFound, filepath.Join(s.root, rel))
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, s.unsafe(rel, fi.Mode())
	}
	return f, nil
}

// ensureDir creates dir (relative to the root) and its missing parents,
// fsyncing each new directory's parent so the path survives a crash. Every
// existing component must be a real directory, not a link to one.
func (s *Store) ensureDir(dir string) error {
	if dir == "." {
		return nil
	}
	comps := strings.Split(dir, string(filepath.Separator))
	for i := range comps {
		d := filepath.Join(comps[:i+1]...)
		fi, err := s.r.Lstat(d)
		if errors.Is(err, fs.ErrNotExist) {
			err = s.r.Mkdir(d, dirMode)
			if err == nil {
				if err := s.syncDir(filepath.Dir(d)); err != nil {
					return fmt.Errorf("sync directory: %w", err)
				}
				continue
			}
			if !errors.Is(err, fs.ErrExist) {
				if errors.Is(err, syscall.ENOTDIR) {
					return fmt.Errorf("a parent of %s is an object, not a directory", filepath.ToSlash(d))
				}
				return s.pathErr(d, err)
			}
			fi, err = s.r.Lstat(d) // created meanwhile
		}
		switch {
		case errors.Is(err, syscall.ENOTDIR):
			return fmt.Errorf("a parent of %s is an object, not a directory", filepath.ToSlash(d))
		case err != nil:
			return s.pathErr(d, err)
		case fi.Mode().IsRegular():
			return fmt.Errorf("%s is an object, not a directory", filepath.ToSlash(d))
		case !fi.IsDir():
			return s.unsafe(d, fi.Mode())
		}
	}
	return nil
}

// syncDir fsyncs the directory rel (relative to the root).
func (s *Store) syncDir(rel string) error {
	d, err := s.r.Open(rel)
	if err != nil {
		return s.pathErr(rel, err)
	}
	return syncFile(d)
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
	f, err := s.openObject(path)
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
	f, err := s.openObject(path)
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
		return s.pathErr(path, s.r.Remove(path))
	})
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := s.syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("delete %s: sync directory: %w", key, err)
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
