// Package mem is an in-memory storage.Store for fast tests of code built on
// the storage contract (the backup engine above all). It passes the
// storagetest conformance suite, implements the optional storage.Copier and
// storage.BatchDeleter, and can inject write failures through Store.FailPut
// (storagetest.Faulty injects failures into any store, this one included).
package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/keys"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/objio"
)

// Store keeps objects in a map. The zero value is not usable; call New.
type Store struct {
	// FailPut, when set, is called at the start of every Put with the key
	// (and of every Copy with the destination key); a non-nil result makes
	// the call fail with that error (wrapped) and store nothing. Set it before the store is shared between goroutines.
	FailPut func(key string) error

	// Now is the clock used for ModTime. Defaults to time.Now.
	Now func() time.Time

	mu      sync.Mutex
	objects map[string]object
	gen     uint64 // last version handed out
	closed  bool
}

type object struct {
	data    []byte
	modTime time.Time
	version string
}

var (
	_ storage.Store        = (*Store)(nil)
	_ storage.Copier       = (*Store)(nil)
	_ storage.BatchDeleter = (*Store)(nil)
)

// New returns an empty store.
func New() *Store {
	return &Store{objects: make(map[string]object)}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) info(key string, o object) storage.ObjectInfo {
	return storage.ObjectInfo{Key: key, Size: int64(len(o.data)), ModTime: o.modTime, Version: o.version}
}

// Put implements storage.Store. It reads the whole body before it takes the
// store's lock, then applies the condition and the write atomically. It
// honours PutOptions.Fresh by refusing a key that exists (the write stays
// atomic: nothing partial is ever stored).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (storage.ObjectInfo, error) {
	if err := checkPut(key, size, opts); err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	if s.FailPut != nil {
		if err := s.FailPut(key); err != nil {
			return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
		}
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(size, 1<<20)))
	if _, err := io.Copy(buf, objio.Exact(ctx, r, size)); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return storage.ObjectInfo{}, err
	}
	cur, exists := s.objects[key]
	switch {
	case opts.IfNotExists && exists:
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w: key exists", key, storage.ErrPreconditionFailed)
	case opts.Fresh && exists:
		// Honoured like the local store does, so that a caller writing a
		// fresh key twice fails in tests as it would on disk.
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w: key exists (a fresh key must be new)", key, storage.ErrPreconditionFailed)
	case opts.IfVersion != "" && !exists:
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w: key does not exist", key, storage.ErrPreconditionFailed)
	case opts.IfVersion != "" && cur.version != opts.IfVersion:
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w: version is %s, not %s", key, storage.ErrPreconditionFailed, cur.version, opts.IfVersion)
	}
	s.gen++
	o := object{data: buf.Bytes(), modTime: s.now(), version: strconv.FormatUint(s.gen, 10)}
	s.objects[key] = o
	return s.info(key, o), nil
}

// checkPut validates what every Put must validate before touching r.
func checkPut(key string, size int64, opts storage.PutOptions) error {
	if err := keys.Validate(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if size < 0 {
		return fmt.Errorf("put %s: negative size %d", key, size)
	}
	if opts.IfNotExists && opts.IfVersion != "" {
		return fmt.Errorf("put %s: IfNotExists and IfVersion are mutually exclusive", key)
	}
	if opts.Fresh && opts.IfVersion != "" {
		return fmt.Errorf("put %s: Fresh and IfVersion are mutually exclusive", key)
	}
	return nil
}

// Get implements storage.Store. The reader serves a snapshot: a later Put
// does not change what it yields.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	o, err := s.lookup(ctx, "get", key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	return objio.Reader(ctx, io.NopCloser(bytes.NewReader(o.data))), s.info(key, o), nil
}

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	o, err := s.lookup(ctx, "stat", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return s.info(key, o), nil
}

func (s *Store) lookup(ctx context.Context, op, key string) (object, error) {
	if err := keys.Validate(key); err != nil {
		return object{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return object{}, fmt.Errorf("%s %s: %w", op, key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return object{}, err
	}
	o, ok := s.objects[key]
	if !ok {
		return object{}, fmt.Errorf("%s %s: %w", op, key, storage.ErrNotFound)
	}
	return o, nil
}

// List implements storage.Store. It snapshots the matching keys, then calls
// fn without holding the lock, so fn may call back into the store.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := keys.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	s.mu.Lock()
	if err := s.checkOpen(); err != nil {
		s.mu.Unlock()
		return err
	}
	infos := make([]storage.ObjectInfo, 0, len(s.objects))
	for k, o := range s.objects {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, s.info(k, o))
		}
	}
	s.mu.Unlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, oi := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		if err := fn(oi); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, key string, opts storage.DeleteOptions) error {
	if err := keys.Validate(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	cur, ok := s.objects[key]
	switch {
	case !ok:
		return fmt.Errorf("delete %s: %w", key, storage.ErrNotFound)
	case opts.IfVersion != "" && cur.version != opts.IfVersion:
		return fmt.Errorf("delete %s: %w: version is %s, not %s", key, storage.ErrPreconditionFailed, cur.version, opts.IfVersion)
	}
	delete(s.objects, key)
	return nil
}

// Copy implements storage.Copier. The copy shares the source's bytes, which
// are never modified in place, and gets a new version.
func (s *Store) Copy(ctx context.Context, srcKey, dstKey string) (storage.ObjectInfo, error) {
	if err := keys.CheckCopy(ctx, srcKey, dstKey); err != nil {
		return storage.ObjectInfo{}, err
	}
	if s.FailPut != nil {
		if err := s.FailPut(dstKey); err != nil {
			return storage.ObjectInfo{}, fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return storage.ObjectInfo{}, err
	}
	src, ok := s.objects[srcKey]
	if !ok {
		return storage.ObjectInfo{}, fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, storage.ErrNotFound)
	}
	s.gen++
	o := object{data: src.data, modTime: s.now(), version: strconv.FormatUint(s.gen, 10)}
	s.objects[dstKey] = o
	return s.info(dstKey, o), nil
}

// DeleteKeys implements storage.BatchDeleter. It deletes all keys at once,
// under one lock.
func (s *Store) DeleteKeys(ctx context.Context, keyList []string) error {
	for _, k := range keyList {
		if err := keys.Validate(k); err != nil {
			return fmt.Errorf("delete keys: %w", err)
		}
	}
	if len(keyList) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %d keys: %w", len(keyList), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	for _, k := range keyList {
		delete(s.objects, k)
	}
	return nil
}

// String implements storage.Store.
func (s *Store) String() string { return "mem://" }

// Close implements storage.Store. Later calls fail.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *Store) checkOpen() error {
	if s.closed {
		return fmt.Errorf("%s: store is closed", s)
	}
	return nil
}
