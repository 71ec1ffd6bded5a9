package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

type statser interface{ Stats() map[string]int64 }

// trackDeletions returns the sorted ids of every block that exists now (to be
// stored in the state) and the tombstones of the blocks known at the last run
// that are gone. A run whose query had no date filter (full) already saw
// every block, so it needs no extra listing. It returns (nil, nil, nil) when
// tracking is off.
func (e *Engine) trackDeletions(ctx context.Context, opts RunOptions, full bool, prev *repo.State, r *runState, sum *Summary) ([]int64, []repo.DeletedBlock, error) {
	if !opts.TrackDeletions {
		return nil, nil, nil
	}
	current := slices.Clone(r.ids)
	if !full {
		before := e.queryRequests()
		err := e.Source.QueryAssets(ctx, sfmc.AssetQuery{TypeIDs: opts.TypeIDs, Fields: []string{"id"}}, func(a sfmc.Asset) error {
			current = append(current, a.ID)
			return nil
		})
		sum.DeletionCheckRequests = e.queryRequests() - before
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, fmt.Errorf("%w: %w", errInterrupted, context.Cause(ctx))
			}
			return nil, nil, fmt.Errorf("list block ids for deletion tracking (turn it off with track_deletions: false): %w", err)
		}
	}
	slices.Sort(current)
	current = slices.Compact(current)

	if prev == nil || len(prev.Known) == 0 || !slices.Equal(prev.KnownTypes, opts.TypeIDs) {
		if prev != nil && len(prev.Known) > 0 && !opts.DryRun {
			e.Log.Warn().Msg("the selected asset types changed since the last run: deletions are tracked again from this run on")
		}
		return current, nil, nil
	}
	var gone []int64
	for _, id := range prev.Known {
		if _, found := slices.BinarySearch(current, id); !found {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return current, nil, nil
	}
	now := e.now().UTC()
	tombs := make([]repo.DeletedBlock, len(gone))
	for i, id := range gone {
		tombs[i] = repo.DeletedBlock{ID: id, DetectedAt: now}
	}
	if err := e.describeDeleted(ctx, prev, tombs); err != nil {
		e.Log.Warn().Err(err).Msg("could not look up names of deleted blocks in earlier manifests")
	}
	return current, tombs, nil
}

func (e *Engine) queryRequests() int64 {
	if s, ok := e.Source.(statser); ok {
		return s.Stats()["query"]
	}
	return 0
}

// describeDeleted fills in key, name and the last backup of each tombstone
// from the newest complete manifests that hold the block.
func (e *Engine) describeDeleted(ctx context.Context, prev *repo.State, tombs []repo.DeletedBlock) error {
	folders := slices.Clone(prev.Backups)
	slices.Reverse(folders)
	idx := map[int64]int{}
	for i, t := range tombs {
		idx[t.ID] = i
	}
	for _, f := range folders {
		if len(idx) == 0 {
			break
		}
		// Stream the manifest: a 100k-block manifest is never held whole.
		found := map[int64]bool{}
		_, err := repo.ScanBackup(ctx, e.Store, f, func(b repo.ManifestBlock) error {
			if i, ok := idx[b.ID]; ok {
				tombs[i].CustomerKey, tombs[i].Name, tombs[i].LastBackup = b.CustomerKey, b.Name, f
				found[b.ID] = true
			}
			return nil
		})
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			return err
		}
		for id := range found {
			delete(idx, id)
		}
	}
	return nil
}
