package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/objio"
)

// maxFreshDirs bounds how many directories the store keeps open for Fresh
// writes. A run writes its block files into one directory; past the bound
// a directory is opened and closed again for each Put.
const maxFreshDirs = 16

// freshDirs holds a handle on each directory Fresh writes went into, so
// that later ones create their file relative to it (one openat) instead of
// walking and checking the path again.
type freshDirs struct {
	mu sync.Mutex
	m  map[string]*os.Root
}

// closeAll closes every cached directory.
func (c *freshDirs) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.m {
		_ = d.Close()
	}
	c.m = nil
}

// drop forgets dir's handle when it is still d.
func (c *freshDirs) drop(dir string, d *os.Root) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[dir] == d {
		delete(c.m, dir)
		_ = d.Close()
	}
}

// copyBufSize is the size of the buffers Put copies bodies through.
const copyBufSize = 32 << 10

// writerOnly hides the *os.File's ReadFrom, so io.CopyBuffer uses the
// buffer it is given.
type writerOnly struct{ io.Writer }

// copyBody copies exactly size bytes of r (see objio.Exact) into f,
// through a buffer of the store's pool: io.Copy into an *os.File from a
// reader that is not a file would allocate 32 KiB per call.
func (s *Store) copyBody(ctx context.Context, f *os.File, r io.Reader, size int64) error {
	buf, _ := s.bufs.Get().(*[copyBufSize]byte)
	if buf == nil {
		buf = new([copyBufSize]byte)
	}
	defer s.bufs.Put(buf)
	_, err := io.CopyBuffer(writerOnly{f}, objio.Exact(ctx, r, size), buf[:])
	return err
}

// freshDir returns a handle on the directory dir (relative to the root),
// created if needed, whose path was checked to hold no symbolic link; and
// the function to call when done with it. Files created through the handle
// land in that directory even if a link is swapped in for its path
// afterwards: nothing is ever written through a link.
func (s *Store) freshDir(dir string) (*os.Root, func(), error) {
	if dir == "." {
		return s.r, func() {}, nil
	}
	s.fresh.mu.Lock()
	d, ok := s.fresh.m[dir]
	s.fresh.mu.Unlock()
	if ok {
		return d, func() {}, nil
	}
	if err := s.ensureDir(dir); err != nil {
		return nil, nil, err
	}
	d, err := s.r.OpenRoot(dir)
	if err != nil {
		return nil, nil, s.pathErr(dir, err)
	}
	// ensureDir checked the path with Lstat and OpenRoot walked it again:
	// make sure both saw the same directory, so a link swapped in between
	// is not what the handle holds.
	opened, err := d.Stat(".")
	if err == nil {
		var checked fs.FileInfo
		checked, err = s.r.Lstat(dir)
		if err == nil && !os.SameFile(opened, checked) {
			err = s.pathErr(dir, fmt.Errorf("%s changed while it was opened", filepath.Join(s.root, dir)))
		}
	}
	if err != nil {
		_ = d.Close()
		return nil, nil, err
	}
	s.fresh.mu.Lock()
	defer s.fresh.mu.Unlock()
	if cur, ok := s.fresh.m[dir]; ok { // another writer was faster
		_ = d.Close()
		return cur, func() {}, nil
	}
	if len(s.fresh.m) >= maxFreshDirs {
		return d, func() { _ = d.Close() }, nil
	}
	if s.fresh.m == nil {
		s.fresh.m = map[string]*os.Root{}
	}
	s.fresh.m[dir] = d
	return d, func() {}, nil
}

// writeFresh implements Put with PutOptions.Fresh: the file is created in
// place with O_CREAT|O_EXCL (which never follows a link, nor replaces
// anything at the name), written, and removed again if anything fails.
// There is no temporary file, rename or lock. With noSync (where syncfs
// exists) neither the file nor its directory is fsynced: Sync does it.
func (s *Store) writeFresh(ctx context.Context, key, target string, r io.Reader, size int64, noSync bool) (storage.ObjectInfo, error) {
	dir, name := filepath.Dir(target), filepath.Base(target)
	for attempt := 0; ; attempt++ {
		d, release, err := s.freshDir(dir)
		if err != nil {
			return storage.ObjectInfo{}, err
		}
		f, err := d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
		if err != nil && attempt == 0 && d != s.r && errors.Is(err, fs.ErrNotExist) {
			// The directory was removed since it was opened (RemoveEmptyDirs):
			// open its path afresh, once.
			release()
			s.fresh.drop(dir, d)
			continue
		}
		if err != nil {
			release()
			return storage.ObjectInfo{}, s.freshOpenErr(target, err)
		}
		info, err := s.fillFresh(ctx, key, f, r, size, noSync)
		if err != nil {
			if rerr := d.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, fmt.Errorf("remove the partial file: %w", rerr))
			}
			release()
			return storage.ObjectInfo{}, err
		}
		release()
		if !noSync || !canSyncFS {
			if err := s.syncDir(dir); err != nil {
				return storage.ObjectInfo{}, fmt.Errorf("sync directory: %w", err)
			}
		}
		return info, nil
	}
}

// fillFresh writes the body into the new file f and closes it.
func (s *Store) fillFresh(ctx context.Context, key string, f *os.File, r io.Reader, size int64, noSync bool) (storage.ObjectInfo, error) {
	err := s.copyBody(ctx, f, r, size)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil && (!noSync || !canSyncFS) {
		err = f.Sync()
	}
	var (
		fi      fs.FileInfo
		version string
	)
	if err == nil {
		fi, version, err = fileVersion(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), Version: version}, nil
}

// freshOpenErr explains why the file for a Fresh Put could not be created
// at target: something is already there (an object, or a link or special
// file someone planted, which is left alone), or the path is unusable.
func (s *Store) freshOpenErr(target string, err error) error {
	if errors.Is(err, fs.ErrExist) {
		if cerr := s.checkPath(target); errors.Is(cerr, storage.ErrUnsafePath) {
			return cerr
		}
		if fi, lerr := s.r.Lstat(target); lerr == nil && fi.IsDir() {
			return fmt.Errorf("%s is a directory of other objects, not an object", filepath.ToSlash(target))
		}
		return fmt.Errorf("%w: %s already exists (a fresh key must be new)", storage.ErrPreconditionFailed, filepath.Join(s.root, target))
	}
	if errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("a parent of %s is an object, not a directory", filepath.ToSlash(target))
	}
	return s.pathErr(target, err)
}
