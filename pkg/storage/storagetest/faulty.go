package storagetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// Op names a storage operation for Faulty.
type Op string

// The operations Faulty sees. Put, Copy, Delete, DeleteKeys and
// RemoveEmptyDirs change the store ("mutating"); the others only read it.
const (
	OpPut             Op = "put"
	OpCopy            Op = "copy"
	OpDelete          Op = "delete"
	OpDeleteKeys      Op = "delete-keys"
	OpRemoveEmptyDirs Op = "remove-empty-dirs"
	OpGet             Op = "get"
	OpStat            Op = "stat"
	OpList            Op = "list"
)

// Mutating reports whether op changes the store.
func (op Op) Mutating() bool {
	switch op {
	case OpPut, OpCopy, OpDelete, OpDeleteKeys, OpRemoveEmptyDirs:
		return true
	}
	return false
}

// Call describes one operation Faulty is about to run.
type Call struct {
	Op Op
	// Key is the key operated on: the destination for Copy, the prefix for
	// List, the one key of this step for DeleteKeys (see Faulty).
	Key string
	// Src is Copy's source key.
	Src string
	// Step is the 1-based number of this mutating step among all mutating
	// steps the Faulty has run (0 for reads).
	Step int
}

func (c Call) String() string {
	switch {
	case c.Op == OpCopy:
		return fmt.Sprintf("step %d: copy %s to %s", c.Step, c.Src, c.Key)
	case c.Op.Mutating():
		return fmt.Sprintf("step %d: %s %s", c.Step, c.Op, c.Key)
	}
	return fmt.Sprintf("%s %s", c.Op, c.Key)
}

// ErrCrashed is wrapped by every error of a Faulty after CrashAfter's
// budget is used up.
var ErrCrashed = errors.New("injected crash: store unavailable")

// Faulty wraps a store and fails operations on demand, so tests can check
// what a caller leaves behind when the store fails at any given step. It
// always implements storage.Copier and storage.BatchDeleter (delegating to
// storage.Copy and storage.DeleteKeys on the inner store, so the inner
// store's own capability or the fallback is used), so failures can be
// injected into copies and batch deletes whatever the inner store is. It
// also implements storage.DirRemover, passing the call on to the inner
// store when that has one and doing nothing otherwise.
//
// Steps: every Put, Copy, Delete and RemoveEmptyDirs is one mutating step; DeleteKeys is one
// step per distinct key, deleted in ascending key order, so a crash can
// land in the middle of a batch (the keys before it are deleted, the rest
// are not, and the call fails).
//
// Simulating a SIGKILL at step N: run the operation under test once on a
// Faulty without faults and read Steps to learn how many mutating steps it
// takes; then, for every n from 0 to that count - 1, start from the same
// initial data, call CrashAfter(n) and run the operation again. The first n
// steps happen, and from then on every call fails with ErrCrashed (reads
// too, so clean-up code such as releasing a lock does not run either, as
// after a real kill). Then check the invariants on the inner store, which is
// unaffected, and run the operation again on it (or on a fresh Faulty) to
// check that it finishes the job:
//
//	for n := 0; n < total; n++ {
//		inner := seed(t)                 // same initial content every time
//		f := storagetest.NewFaulty(inner)
//		f.CrashAfter(n)
//		err := prune(ctx, f)             // must fail with ErrCrashed
//		checkInvariants(t, inner)
//		if err := prune(ctx, inner); err != nil { ... }
//	}
//
// Torn writes: a Put with PutOptions.Fresh is written in place by stores
// that honour it, so a kill in the middle of one can leave part of the
// object under its key. The crash models that: when it lands on a Fresh
// Put, the first half of that Put's body (size/2 bytes, so an empty
// object for size 0 or 1) is stored under the key before the call fails,
// and the invariants must hold with that torn object in place. (Other
// Puts are atomic: a crash on one leaves nothing.)
//
// For a single transient failure instead, use FailWhen: the hook sees every
// call and its non-nil result fails that call only.
//
// A Faulty is safe for concurrent use; Steps are numbered in the order the
// calls reach it.
type Faulty struct {
	inner storage.Store

	mu       sync.Mutex
	steps    []Call
	budget   int // mutating steps left before the crash; -1: no crash
	crashed  bool
	failWhen func(Call) error
}

var (
	_ storage.Store        = (*Faulty)(nil)
	_ storage.Copier       = (*Faulty)(nil)
	_ storage.BatchDeleter = (*Faulty)(nil)
	_ storage.DirRemover   = (*Faulty)(nil)
)

// NewFaulty wraps inner. Without CrashAfter or FailWhen it only records
// the mutating steps.
func NewFaulty(inner storage.Store) *Faulty {
	return &Faulty{inner: inner, budget: -1}
}

// CrashAfter lets n more mutating steps succeed; the call that would make
// step n+1, and every call after it (reads included), fails with
// ErrCrashed. CrashAfter(0) crashes at the next mutating step. A negative n
// turns the crash off again and revives the store.
func (f *Faulty) CrashAfter(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.budget = n
	f.crashed = false
}

// FailWhen sets a hook called before every operation (after the crash
// check); a non-nil result fails that call, wrapped, and the inner store
// is not called. For DeleteKeys it is called once per key; a failure there
// leaves that key and all later ones in place. nil removes the hook.
func (f *Faulty) FailWhen(fn func(Call) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWhen = fn
}

// Crashed reports whether the crash has happened.
func (f *Faulty) Crashed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashed
}

// Steps returns the mutating steps that were let through to the inner
// store, in order. (A step that then failed in the inner store counts.)
func (f *Faulty) Steps() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.steps)
}

// admit decides whether call may run, and records it when it is a
// mutating step that does.
func (f *Faulty) admit(c Call) (Call, error) {
	c, _, err := f.admitStep(c)
	return c, err
}

// admitStep is admit; crashing reports that this call is the one the
// crash lands on.
func (f *Faulty) admitStep(c Call) (_ Call, crashing bool, _ error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.crashed {
		return c, false, fmt.Errorf("%s: %w", c, ErrCrashed)
	}
	if c.Op.Mutating() {
		c.Step = len(f.steps) + 1
		if f.budget == 0 {
			f.crashed = true
			return c, true, fmt.Errorf("%s: %w", c, ErrCrashed)
		}
	}
	if f.failWhen != nil {
		if err := f.failWhen(c); err != nil {
			return c, false, fmt.Errorf("%s: injected failure: %w", c, err)
		}
	}
	if c.Op.Mutating() {
		if f.budget > 0 {
			f.budget--
		}
		f.steps = append(f.steps, c)
	}
	return c, false, nil
}

// Put implements storage.Store. A crash that lands on a Put with
// PutOptions.Fresh leaves a torn object (see Faulty).
func (f *Faulty) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (storage.ObjectInfo, error) {
	if _, crashing, err := f.admitStep(Call{Op: OpPut, Key: key}); err != nil {
		if crashing && opts.Fresh {
			half := size / 2
			_, _ = f.inner.Put(ctx, key, io.LimitReader(r, half), half, opts)
		}
		return storage.ObjectInfo{}, err
	}
	return f.inner.Put(ctx, key, r, size, opts)
}

// Get implements storage.Store.
func (f *Faulty) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	if _, err := f.admit(Call{Op: OpGet, Key: key}); err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	return f.inner.Get(ctx, key)
}

// Stat implements storage.Store.
func (f *Faulty) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if _, err := f.admit(Call{Op: OpStat, Key: key}); err != nil {
		return storage.ObjectInfo{}, err
	}
	return f.inner.Stat(ctx, key)
}

// List implements storage.Store.
func (f *Faulty) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if _, err := f.admit(Call{Op: OpList, Key: prefix}); err != nil {
		return err
	}
	return f.inner.List(ctx, prefix, fn)
}

// Delete implements storage.Store.
func (f *Faulty) Delete(ctx context.Context, key string, opts storage.DeleteOptions) error {
	if _, err := f.admit(Call{Op: OpDelete, Key: key}); err != nil {
		return err
	}
	return f.inner.Delete(ctx, key, opts)
}

// Copy implements storage.Copier with storage.Copy on the inner store.
func (f *Faulty) Copy(ctx context.Context, srcKey, dstKey string) (storage.ObjectInfo, error) {
	if _, err := f.admit(Call{Op: OpCopy, Key: dstKey, Src: srcKey}); err != nil {
		return storage.ObjectInfo{}, err
	}
	return storage.Copy(ctx, f.inner, srcKey, dstKey)
}

// DeleteKeys implements storage.BatchDeleter: one step per distinct key,
// in ascending order. The keys admitted before a crash or an injected
// failure are deleted (with storage.DeleteKeys on the inner store), then
// the call fails.
func (f *Faulty) DeleteKeys(ctx context.Context, keyList []string) error {
	todo := slices.Clone(keyList)
	slices.Sort(todo)
	todo = slices.Compact(todo)
	var admitErr error
	n := 0
	for _, k := range todo {
		if _, err := f.admit(Call{Op: OpDeleteKeys, Key: k}); err != nil {
			admitErr = err
			break
		}
		n++
	}
	if err := storage.DeleteKeys(ctx, f.inner, todo[:n]); err != nil {
		return err
	}
	return admitErr
}

// RemoveEmptyDirs implements storage.DirRemover: one step, then the inner
// store's RemoveEmptyDirs if it has one.
func (f *Faulty) RemoveEmptyDirs(ctx context.Context, prefix string) error {
	if _, err := f.admit(Call{Op: OpRemoveEmptyDirs, Key: prefix}); err != nil {
		return err
	}
	if d, ok := f.inner.(storage.DirRemover); ok {
		return d.RemoveEmptyDirs(ctx, prefix)
	}
	return nil
}

// String implements storage.Store.
func (f *Faulty) String() string { return f.inner.String() }

// Close implements storage.Store; it closes the inner store.
func (f *Faulty) Close() error { return f.inner.Close() }

// Plain hides every optional capability of st (Copier, BatchDeleter,
// Syncer, DirRemover): storage.Copy and storage.DeleteKeys then take their fallback
// paths. The suite uses it to check that the fallbacks behave as the
// capabilities do.
func Plain(st storage.Store) storage.Store { return plainStore{st} }

type plainStore struct{ s storage.Store }

func (p plainStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (storage.ObjectInfo, error) {
	return p.s.Put(ctx, key, r, size, opts)
}

func (p plainStore) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	return p.s.Get(ctx, key)
}

func (p plainStore) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	return p.s.Stat(ctx, key)
}

func (p plainStore) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	return p.s.List(ctx, prefix, fn)
}

func (p plainStore) Delete(ctx context.Context, key string, opts storage.DeleteOptions) error {
	return p.s.Delete(ctx, key, opts)
}

func (p plainStore) String() string { return p.s.String() }
func (p plainStore) Close() error   { return p.s.Close() }
