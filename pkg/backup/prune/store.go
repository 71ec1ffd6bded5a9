package prune

import (
	"context"
	"errors"
	"fmt"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// copyObject copies src to dst through the client (read and write).
func copyObject(ctx context.Context, st storage.Store, src, dst string) (storage.ObjectInfo, error) {
	rc, info, err := st.Get(ctx, src)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	defer rc.Close()
	// A store that can defer durability is synced once before the manifest
	// that lists the copies (see applyCarry).
	out, err := st.Put(ctx, dst, rc, info.Size, storage.PutOptions{NoSync: true})
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return out, nil
}

// deleteKeys deletes keys one by one; missing keys are not an error.
func deleteKeys(ctx context.Context, st storage.Store, keys []string) error {
	for _, k := range keys {
		if err := st.Delete(ctx, k, storage.DeleteOptions{}); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	return nil
}
