package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/backup-creator/backup-creator/pkg/storage/internal/keys"
)

// DeleteConcurrency is how many Delete calls DeleteKeys runs at once on a
// store without BatchDeleter.
const DeleteConcurrency = 16

// Copy makes dstKey a copy of srcKey, with the contract of Copier.Copy. It
// uses the store's Copier when it has one; otherwise it streams the object
// through Get and an unconditional Put of the size Get reported (so a
// source that changes size mid-read fails the copy instead of storing a
// mix), which is atomic and durable because Put is.
func Copy(ctx context.Context, st Store, srcKey, dstKey string) (ObjectInfo, error) {
	if srcKey == dstKey {
		return ObjectInfo{}, fmt.Errorf("copy %s: source and destination are the same key", srcKey)
	}
	if c, ok := st.(Copier); ok {
		return c.Copy(ctx, srcKey, dstKey)
	}
	return streamCopy(ctx, st, srcKey, dstKey)
}

func streamCopy(ctx context.Context, st Store, srcKey, dstKey string) (ObjectInfo, error) {
	if err := keys.Validate(dstKey); err != nil {
		return ObjectInfo{}, fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, err)
	}
	rc, src, err := st.Get(ctx, srcKey)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, err)
	}
	defer func() { _ = rc.Close() }()
	dst, err := st.Put(ctx, dstKey, rc, src.Size, PutOptions{})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, err)
	}
	if dst.Size != src.Size {
		return ObjectInfo{}, fmt.Errorf("copy %s to %s: stored %d bytes, source has %d", srcKey, dstKey, dst.Size, src.Size)
	}
	return dst, nil
}

// DeleteKeys removes every key in keys, with the contract of
// BatchDeleter.DeleteKeys: missing keys are not an error. It uses the
// store's BatchDeleter when it has one; otherwise it validates every key
// first, then calls Delete for each distinct key, DeleteConcurrency at a
// time, ignoring ErrNotFound. After the first failure it starts no further
// deletes and returns the failures it saw (each naming its key).
func DeleteKeys(ctx context.Context, st Store, keyList []string) error {
	if bd, ok := st.(BatchDeleter); ok {
		return bd.DeleteKeys(ctx, keyList)
	}
	return deleteEach(ctx, st, keyList)
}

func deleteEach(ctx context.Context, st Store, keyList []string) error {
	if len(keyList) == 0 {
		return nil
	}
	for _, k := range keyList {
		if err := keys.Validate(k); err != nil {
			return fmt.Errorf("delete keys: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %d keys: %w", len(keyList), err)
	}
	todo := slices.Clone(keyList)
	slices.Sort(todo)
	todo = slices.Compact(todo)

	var (
		mu     sync.Mutex
		next   int
		failed []error
		wg     sync.WaitGroup
	)
	take := func() (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(failed) > 0 || next == len(todo) {
			return "", false
		}
		next++
		return todo[next-1], true
	}
	for range min(DeleteConcurrency, len(todo)) {
		wg.Go(func() {
			for {
				k, ok := take()
				if !ok {
					return
				}
				if err := st.Delete(ctx, k, DeleteOptions{}); err != nil && !errors.Is(err, ErrNotFound) {
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		return fmt.Errorf("delete %d keys: %d failed: %w", len(todo), len(failed), errors.Join(failed...))
	}
	return nil
}
