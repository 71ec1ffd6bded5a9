package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/keys"
)

// Copy implements storage.Copier: a real copy of the source file into a
// temporary file, fsynced and renamed into place (see the package comment).
// Files are never rewritten in place, so the open source is a stable
// snapshot even if the key is replaced meanwhile.
func (s *Store) Copy(ctx context.Context, srcKey, dstKey string) (storage.ObjectInfo, error) {
	src, err := s.checkKey("copy", srcKey)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	dst, err := s.checkKey("copy", dstKey)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	if srcKey == dstKey {
		return storage.ObjectInfo{}, fmt.Errorf("copy %s: source and destination are the same key", srcKey)
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, err)
	}
	in, err := s.openObject(src)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, err)
	}
	defer func() { _ = in.Close() }()
	sfi, err := in.Stat()
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, err)
	}
	size := sfi.Size()
	info, err := s.write(ctx, dstKey, dst, func(f *os.File) error {
		// *io.LimitedReader over an *os.File: the kernel copies the bytes.
		n, err := io.Copy(f, io.LimitReader(in, size))
		if err == nil && n != size {
			err = fmt.Errorf("source yielded %d bytes, want %d", n, size)
		}
		if err == nil {
			err = ctx.Err()
		}
		return err
	}, storage.PutOptions{})
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, err)
	}
	return info, nil
}

// DeleteKeys implements storage.BatchDeleter. It validates every key, then
// removes the files one by one under the store's lock (missing ones are
// skipped) and fsyncs each directory it removed from once at the end.
// A symbolic link at or above a key fails the call with ErrUnsafePath and
// is left alone.
func (s *Store) DeleteKeys(ctx context.Context, keyList []string) error {
	paths := make([]string, 0, len(keyList))
	for _, k := range keyList {
		p, err := s.checkKey("delete keys", k)
		if err != nil {
			return err
		}
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		return nil
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	dirs := map[string]bool{}
	var failed error
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			failed = fmt.Errorf("delete %d keys: %w", len(paths), err)
			break
		}
		err := s.withLock(func() error {
			f, err := s.openObject(p) // the checks of Get: a link fails, a missing key is fine
			if err != nil {
				return err
			}
			_ = f.Close()
			return s.pathErr(p, s.r.Remove(p))
		})
		switch {
		case err == nil:
			dirs[filepath.Dir(p)] = true
		case errors.Is(err, storage.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		default:
			failed = fmt.Errorf("delete keys: delete %s: %w", filepath.ToSlash(p), err)
		}
		if failed != nil {
			break
		}
	}
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		if err := s.syncDir(d); err != nil && failed == nil {
			failed = fmt.Errorf("delete keys: sync directory %s: %w", filepath.Join(s.root, d), err)
		}
	}
	return failed
}

// RemoveEmptyDirs implements storage.DirRemover. It never follows a
// symbolic link (one below prefix is neither descended into nor removed,
// and one at the prefix itself fails with ErrUnsafePath) and never removes
// the root.
func (s *Store) RemoveEmptyDirs(ctx context.Context, prefix string) error {
	if err := keys.ValidatePrefix(prefix); err != nil || !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("remove empty directories %q: not a folder prefix", prefix)
	}
	top := strings.TrimSuffix(prefix, "/")
	switch err := s.checkPath(filepath.FromSlash(top)); {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("remove empty directories below %s: %w", prefix, err)
	}
	var dirs []string
	// The root's FS lists a link as what it is (not a directory), so the
	// walk never descends through one.
	err := fs.WalkDir(s.r.FS(), top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, filepath.FromSlash(p))
		}
		return ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("remove empty directories below %s: %w", prefix, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		// Remove fails on a directory that is not empty: that one stays.
		if err := s.r.Remove(dirs[i]); err == nil {
			_ = s.syncDir(filepath.Dir(dirs[i]))
		}
	}
	return nil
}
