// Package restore puts backed-up blocks back: into SFMC (Restorer), matching
// blocks by id in the account the backup came from and by customerKey and
// type in another, PATCHing only what differs and re-creating what is gone;
// or into a directory (RestoreToDir). It reads what a backup holds through
// repo's Chain (a repo.Snapshot), like every other verb.
//
// Files: restore.go (the Restorer and its loop), selection.go (which blocks),
// target.go (matching and writing one block in SFMC), docs.go (comparing
// documents), report.go (what was done), dir.go (restore to a directory).
package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/rs/zerolog"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// Target is what a restore into SFMC needs. *sfmc.Client satisfies it.
// Restore never deletes anything, so there is no delete method.
type Target interface {
	// GetAsset returns the asset with this id, or an error matching
	// sfmc.ErrNotFound when there is none.
	GetAsset(ctx context.Context, id int64) (sfmc.Asset, error)
	// QueryAssets calls fn for every asset matching q (used, with a
	// projection, to find assets by customerKey).
	QueryAssets(ctx context.Context, q sfmc.AssetQuery, fn func(sfmc.Asset) error) error
	// ListCategories calls fn for every folder.
	ListCategories(ctx context.Context, fn func(sfmc.Category) error) error
	// CreateCategory creates a folder named name under parentID.
	CreateCategory(ctx context.Context, name string, parentID int64) (sfmc.Category, error)
	// CreateAsset creates an asset from a JSON document without read-only fields.
	CreateAsset(ctx context.Context, body json.RawMessage) (sfmc.Asset, error)
	// UpdateAsset merges body into asset id (PATCH).
	UpdateAsset(ctx context.Context, id int64, body json.RawMessage) (sfmc.Asset, error)
}

// KeyFinder is an optional Target capability: looking an asset up by
// customerKey directly (query customerKey equal). Without it, Restore lists
// the ids and keys of the selected types once, when the first backed-up id is
// gone.
type KeyFinder interface {
	// FindAssetByKey returns the asset whose customerKey is key; ok is false
	// when there is none.
	FindAssetByKey(ctx context.Context, key string) (a sfmc.Asset, ok bool, err error)
}

// RestoreOptions control a restore.
type RestoreOptions struct {
	Select Selection
	// DryRun plans the restore and makes no write request.
	DryRun bool
	// Concurrency bounds the blocks handled at once (default 4; SFMC
	// tolerates about 5 parallel requests).
	Concurrency int
	// Force lets RestoreToDir write into a directory that holds files.
	Force bool
}

// Restorer puts backed-up blocks back into SFMC.
type Restorer struct {
	Target Target
	Store  storage.Store
	Log    zerolog.Logger
	// TargetMID is the MID of the target account when known (the
	// configured account_id). It stands in for an asset's memberId when SFMC
	// leaves that out; 0 means unknown.
	TargetMID int64
}

// Restore brings the selected blocks of snap back into SFMC: a block found
// (by id in the account the backup came from, by customerKey and type in
// another account: see find) is PATCHed only when its content or metadata
// differ from the backup; a block not found is re-created
// in its folder (re-created by name when missing) with its customerKey when
// free and a Content Builder style " (n)" name suffix on a name collision.
// Nothing is ever deleted. Per-block failures are reported in the items and
// returned as a *RestoreError after every block was tried; the report is
// always returned, also with an error.
func (r *Restorer) Restore(ctx context.Context, snap *repo.Snapshot, opts RestoreOptions) (*RestoreReport, error) {
	rep := newReport(snap, TargetSFMC, opts)
	blocks := selectBlocks(snap, &opts.Select, rep)
	rs := &restoreRun{r: r, opts: opts, rep: rep}
	for _, b := range blocks {
		if b != nil && !slices.Contains(rs.types, b.AssetType.ID) {
			rs.types = append(rs.types, b.AssetType.ID)
		}
	}
	if len(rs.types) > 0 {
		if err := rs.loadFolders(ctx); err != nil {
			return finish(rep), err
		}
	}
	errs := make([]error, len(blocks))
	err := forEach(ctx, opts.Concurrency, blocks, func(ctx context.Context, i int, b *repo.SnapshotBlock) error {
		it := &rep.Items[i]
		if err := rs.restoreBlock(ctx, b, it); err != nil {
			if interrupted(ctx, err) {
				// Stopped by a signal or --timeout, not failed: it stays
				// not-attempted, and a rerun does it.
				*it = RestoreItem{ID: it.ID, CustomerKey: it.CustomerKey, Name: it.Name, Type: it.Type, Folder: it.Folder,
					ModifiedDate: it.ModifiedDate, Backup: it.Backup, Status: ItemNotAttempted}
				return nil
			}
			it.Status, it.Error = ItemFailed, err.Error()
			errs[i] = err
			r.Log.Debug().Err(err).Int64("asset_id", b.ID).Msg("block not restored")
			if errors.Is(err, sfmc.ErrUnauthorized) {
				// Every further request would be refused too.
				return fmt.Errorf("block %d (%s): %w", b.ID, b.Name, err)
			}
			return nil
		}
		r.Log.Debug().Int64("asset_id", b.ID).Str("action", it.Action).Int64("target_id", it.TargetID).Msg("block restored")
		return nil
	})
	finish(rep)
	if err != nil {
		return rep, err
	}
	return rep, rep.failure(errs)
}

// interrupted reports whether err is ctx ending (signal, --timeout).
func interrupted(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// forEach runs fn for every non-nil block with at most n at once. It stops
// starting new blocks when ctx ends, and then returns the wrapped cause, or
// when fn returns an error (one that dooms the rest, such as SFMC refusing
// the credentials), and then returns that, after the blocks under way ended.
func forEach(ctx context.Context, n int, blocks []*repo.SnapshotBlock, fn func(ctx context.Context, i int, b *repo.SnapshotBlock) error) error {
	if n <= 0 {
		n = 4
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var fatal, stopped error
	for i, b := range blocks {
		if b == nil {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			stopped = fmt.Errorf("restore interrupted: %w", context.Cause(ctx))
			break
		}
		mu.Lock()
		f := fatal
		mu.Unlock()
		if f != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i, b); err != nil {
				mu.Lock()
				if fatal == nil {
					fatal = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if fatal != nil {
		return fmt.Errorf("restore stopped: %w", fatal)
	}
	return stopped
}
