package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/keys"
)

// List implements storage.Store. It walks the directories below the
// prefix, visiting each directory's entries in an order that yields keys in
// ascending byte order (a subdirectory "a" sorts as "a/", after "a-b" and
// "a.b"), so nothing is collected beyond one directory's names. A symbolic
// link or special file whose name falls under the prefix fails the listing
// with an error wrapping storage.ErrUnsafePath (see the package comment):
// skipping it would hide from verify an entry that stands where a backup's
// file or folder should be.
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
	start := "."
	if startKey != "" {
		start = filepath.FromSlash(startKey)
		switch err := s.checkPath(start); {
		case errors.Is(err, storage.ErrNotFound):
			return nil
		case err != nil:
			return fmt.Errorf("list %q: %w", prefix, err)
		}
	}
	l := lister{s: s, ctx: ctx, prefix: prefix, fn: fn}
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
	s      *Store
	ctx    context.Context
	prefix string
	fn     func(storage.ObjectInfo) error
	fnErr  error
}

type dirEntry struct {
	sortName string // name, with "/" appended for directories
	typ      fs.FileMode
}

// relevant reports whether key, or keys below key as a directory, can
// match the prefix.
func (l *lister) relevant(key string) bool {
	sub := key + "/"
	return strings.HasPrefix(key, l.prefix) || strings.HasPrefix(l.prefix, sub)
}

func (l *lister) walk(dir, dirKey string) error {
	d, err := l.s.r.Open(dir)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return l.s.pathErr(dir, err)
	}
	var sorted []dirEntry
	for {
		ents, err := d.ReadDir(1024)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), reservedPrefix) {
				continue
			}
			name := e.Name()
			switch {
			case e.IsDir():
				name += "/"
			case !e.Type().IsRegular() && !l.relevant(keys.Join(dirKey, name)):
				continue // a link or special file the listing does not reach
			}
			sorted = append(sorted, dirEntry{sortName: strings.Clone(name), typ: e.Type()})
		}
		if err == io.EOF || len(ents) == 0 && err == nil {
			break
		}
		if err != nil {
			_ = d.Close()
			if isNotFound(err) {
				return nil
			}
			return err
		}
	}
	_ = d.Close()
	slices.SortFunc(sorted, func(a, b dirEntry) int { return strings.Compare(a.sortName, b.sortName) })
	for _, de := range sorted {
		if err := l.ctx.Err(); err != nil {
			return err
		}
		name := strings.TrimSuffix(de.sortName, "/")
		key := keys.Join(dirKey, name)
		if t := de.typ; !t.IsDir() && !t.IsRegular() {
			// Reported in key order, after the objects before it.
			return l.s.unsafe(filepath.Join(dir, name), t)
		}
		if de.typ.IsDir() {
			// Descend only where keys can match the prefix.
			if l.relevant(key) {
				if err := l.walk(filepath.Join(dir, name), key); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(key, l.prefix) {
			continue
		}
		fi, err := l.s.r.Lstat(filepath.Join(dir, name))
		if err != nil {
			if isNotFound(err) {
				continue // deleted while listing
			}
			return err
		}
		if !fi.Mode().IsRegular() {
			return l.s.unsafe(filepath.Join(dir, name), fi.Mode())
		}
		if err := l.fn(storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), Version: listVersion(fi)}); err != nil {
			l.fnErr = err
			return errCallback
		}
	}
	return nil
}
