// Package restore puts backed-up blocks back: into SFMC (Restorer), matching
// blocks by id in the account the backup came from and by customerKey and
// type in another, PATCHing only what differs and re-creating what is gone;
// or into a directory (RestoreToDir). It reads what a backup holds as a
// repo.BlockState: a repo.Snapshot, or a repo.SnapshotStream that does not
// hold the blocks (both resolved by the chain's rules, like every other
// verb). The blocks are taken in id order and their items handed on in that
// order as they finish (RestoreEach), so memory does not grow with them.
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
func (r *Restorer) Restore(ctx context.Context, snap repo.BlockState, opts RestoreOptions) (*RestoreReport, error) {
	return r.RestoreEach(ctx, snap, opts, nil)
}

// RestoreEach is Restore handing every selected block's item to emit, in id
// order, as soon as it and the blocks before it are done, instead of
// collecting them in the report: memory then does not grow with the number
// of blocks. With emit nil the items are collected in the report's Items
// (Restore). The report's counts, IDMap and failures are those of every item
// either way. An error from emit stops the restore (no new block starts) and
// is returned.
func (r *Restorer) RestoreEach(ctx context.Context, snap repo.BlockState, opts RestoreOptions, emit func(*RestoreItem) error) (*RestoreReport, error) {
	rep := newReport(snap, TargetSFMC, opts)
	rs := &restoreRun{r: r, opts: opts, rep: rep}
	err := snap.Each(func(b *repo.SnapshotBlock) error {
		if ok, skip := opts.Select.match(b); ok && !skip && !slices.Contains(rs.types, b.AssetType.ID) {
			rs.types = append(rs.types, b.AssetType.ID)
		}
		return nil
	})
	if err != nil {
		return finish(rep), err
	}
	if len(rs.types) > 0 {
		if err := rs.loadFolders(ctx); err != nil {
			// Nothing was attempted: every selected block is reported so.
			if eerr := each(ctx, opts, snap, rep, emit, nil); eerr != nil {
				return finish(rep), eerr
			}
			return finish(rep), err
		}
	}
	err = each(ctx, opts, snap, rep, emit, func(ctx context.Context, b *repo.SnapshotBlock, it *RestoreItem) (error, error) {
		if err := rs.restoreBlock(ctx, b, it); err != nil {
			if interrupted(ctx, err) {
				// Stopped by a signal or --timeout, not failed: it stays
				// not-attempted, and a rerun does it.
				*it = RestoreItem{ID: it.ID, CustomerKey: it.CustomerKey, Name: it.Name, Type: it.Type, Folder: it.Folder,
					ModifiedDate: it.ModifiedDate, Backup: it.Backup, Status: ItemNotAttempted}
				return nil, nil
			}
			it.Status, it.Error = ItemFailed, err.Error()
			r.Log.Debug().Err(err).Int64("asset_id", b.ID).Msg("block not restored")
			if errors.Is(err, sfmc.ErrUnauthorized) {
				// Every further request would be refused too.
				return err, fmt.Errorf("block %d (%s): %w", b.ID, b.Name, err)
			}
			return err, nil
		}
		r.Log.Debug().Int64("asset_id", b.ID).Str("action", it.Action).Int64("target_id", it.TargetID).Msg("block restored")
		return nil, nil
	})
	finish(rep)
	if err != nil {
		return rep, err
	}
	return rep, rep.failure()
}

// interrupted reports whether err is ctx ending (signal, --timeout).
func interrupted(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// workFunc does one selected block, filling in its item. It returns the
// block's failure (nil when it was done; reported with the item) and an
// error that dooms the rest (SFMC refusing the credentials).
type workFunc func(ctx context.Context, b *repo.SnapshotBlock, it *RestoreItem) (failed, fatal error)

// restoreWindow is how many items, per block worked on at once, may wait
// for an earlier one to finish before no further block starts.
const restoreWindow = 16

// each reads the blocks of snap in id order, selects them with
// opts.Select, runs work on every selected block that is not skipped (at
// most opts.Concurrency at once; none when work is nil) and accounts for
// every selected item in id order: rep counts it, then emit gets it (or
// rep.Items when emit is nil). It stops starting new blocks when ctx ends,
// and then returns the wrapped cause, or when work returns a fatal error or
// emit fails, and then returns that, after the blocks under way ended; the
// blocks not started are accounted for as not attempted. Memory is bounded
// by the window of items in flight, not by the number of blocks.
func each(ctx context.Context, opts RestoreOptions, snap repo.BlockState, rep *RestoreReport, emit func(*RestoreItem) error, work workFunc) error {
	n := opts.Concurrency
	if n <= 0 {
		n = 4
	}
	type job struct {
		it     *RestoreItem
		failed error
		done   chan struct{}
	}
	queue := make(chan *job, n*restoreWindow)
	sem := make(chan struct{}, n)
	var (
		mu             sync.Mutex
		fatal, emitErr error
		stopped        error
		wg             sync.WaitGroup
		consumed       = make(chan struct{})
	)
	stop := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return fatal != nil || emitErr != nil
	}
	go func() {
		defer close(consumed)
		for j := range queue {
			<-j.done
			rep.count(j.it, j.failed)
			var err error
			if emit != nil {
				err = emit(j.it)
			} else {
				rep.Items = append(rep.Items, *j.it)
			}
			if err != nil {
				mu.Lock()
				if emitErr == nil {
					emitErr = err
				}
				mu.Unlock()
			}
		}
	}()
	eachErr := snap.Each(func(b *repo.SnapshotBlock) error {
		it, ok, skip := selectItem(&opts.Select, b)
		if !ok {
			return nil
		}
		j := &job{it: it, done: make(chan struct{})}
		queue <- j
		if skip || work == nil || stopped != nil || stop() {
			close(j.done)
			return nil
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			stopped = fmt.Errorf("restore interrupted: %w", context.Cause(ctx))
			close(j.done)
			return nil
		}
		if stop() {
			<-sem
			close(j.done)
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer close(j.done)
			failed, err := work(ctx, b, it)
			j.failed = failed
			if err != nil {
				mu.Lock()
				if fatal == nil {
					fatal = err
				}
				mu.Unlock()
			}
		}()
		return nil
	})
	wg.Wait()
	close(queue)
	<-consumed
	switch {
	case fatal != nil:
		return fmt.Errorf("restore stopped: %w", fatal)
	case emitErr != nil:
		return emitErr
	case eachErr != nil:
		return eachErr
	}
	return stopped
}
