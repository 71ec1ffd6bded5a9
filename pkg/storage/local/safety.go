package local

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/keys"
)

// checkKey validates key and returns its path relative to the root.
func (s *Store) checkKey(op, key string) (string, error) {
	if err := keys.Validate(key); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, reservedPrefix) {
			return "", fmt.Errorf("%s: %w %q: segments starting with %q are reserved by the local store", op, keys.ErrInvalid, key, reservedPrefix)
		}
	}
	return filepath.FromSlash(key), nil
}

// unsafe returns the error for an entry at rel (relative to the root) that
// the store refuses to follow.
func (s *Store) unsafe(rel string, mode fs.FileMode) error {
	what := "a symbolic link"
	switch {
	case mode&fs.ModeSymlink != 0:
	case mode&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case mode&fs.ModeSocket != 0:
		what = "a socket"
	case mode&fs.ModeDevice != 0:
		what = "a device"
	default:
		what = "not a regular file or directory"
	}
	return fmt.Errorf("%w: %s is %s; backup-creator never creates one below the destination root and does not follow it (remove it, or choose another destination)",
		storage.ErrUnsafePath, filepath.Join(s.root, rel), what)
}

// safeMode reports whether an entry of this type may be used: a directory
// or a regular file.
func safeMode(mode fs.FileMode) bool {
	return mode.IsDir() || mode.IsRegular()
}

// checkPath checks, with Lstat, every component of rel from the root down.
// It returns nil when they are all directories and the last is a regular
// file or a directory; an error wrapping ErrNotFound when a component is
// missing or an earlier one is a file; and an error wrapping ErrUnsafePath
// for a symbolic link or another special file.
func (s *Store) checkPath(rel string) error {
	for i := 0; ; {
		j := strings.IndexRune(rel[i:], filepath.Separator)
		comp := rel
		if j >= 0 {
			comp = rel[:i+j]
		}
		fi, err := s.r.Lstat(comp)
		if err != nil {
			if isNotFound(err) {
				return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
			}
			return err
		}
		if !safeMode(fi.Mode()) {
			return s.unsafe(comp, fi.Mode())
		}
		if j < 0 {
			return nil
		}
		if !fi.IsDir() {
			return fmt.Errorf("%w: %s is a file", storage.ErrNotFound, filepath.Join(s.root, comp))
		}
		i += j + 1
	}
}

// pathErr explains a failed os.Root operation on rel: when the root
// refused the path because a link was put in after checkPath (os.Root
// reports "path escapes from parent" for one leading outside), checking
// the path again finds the link, and the error wraps ErrUnsafePath.
func (s *Store) pathErr(rel string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := s.checkPath(rel); errors.Is(cerr, storage.ErrUnsafePath) {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}
