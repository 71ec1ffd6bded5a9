package backup

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
//
// Two listings are distrusted rather than believed: one that lacks more than
// opts.DeletionsMaxShare of the known blocks at once records no tombstone
// (unless opts.AcceptDeletions) and keeps the missing ids known, so the next
// listing is compared with them again; and a block listed that no earlier
// listing had and that this run did not store (listed again after a
// tombstone) is backed up again here, which makes it live again in the chain.
func (e *Engine) trackDeletions(ctx context.Context, opts RunOptions, full bool, prev *repo.State, r *runState, sum *Summary) ([]int64, []repo.DeletedBlock, error) {
	if !opts.TrackDeletions {
		return nil, nil, nil
	}
	current := append([]int64{}, r.ids...) // never nil: an empty listing is a listing
	if !full {
		before := e.queryRequests()
		q := sfmc.AssetQuery{TypeIDs: opts.TypeIDs, Fields: []string{"id"}}
		if prev != nil {
			q.Expect = max(len(prev.Known), 1) // a small account's listing sends no probes
		}
		err := e.Source.QueryAssets(ctx, q, func(a sfmc.Asset) error {
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

	// KnownTypes marks a state that recorded a listing (its Known may be
	// empty: every block was deleted, or an empty listing was accepted).
	if prev == nil || len(prev.KnownTypes) == 0 || !slices.Equal(prev.KnownTypes, opts.TypeIDs) {
		if prev != nil && len(prev.KnownTypes) > 0 && !opts.DryRun {
			e.Log.Warn().Msg("the selected asset types changed since the last run: deletions are tracked again from this run on")
		}
		return current, nil, nil
	}
	if err := e.storeRelisted(ctx, prev.Known, current, r, sum); err != nil {
		return nil, nil, err
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
	if share := float64(len(gone)) / float64(len(prev.Known)); share > opts.DeletionsMaxShare && !opts.AcceptDeletions {
		e.Log.Warn().Int("missing", len(gone)).Int("known", len(prev.Known)).Int("listed", len(current)).
			Str("missing_share", fmt.Sprintf("%.1f%%", 100*share)).Str("max_share", fmt.Sprintf("%.1f%%", 100*opts.DeletionsMaxShare)).
			Msg("the id listing lacks more of the known blocks than track_deletions_max_share allows: no deletions recorded " +
				"(an empty or truncated SFMC response looks like this); if they were really deleted, run once with --accept-deletions")
		sum.DeletionsSuppressed = len(gone)
		known := append(slices.Clone(current), gone...)
		slices.Sort(known)
		return known, nil, nil
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

// assetGetter is the optional Source capability of reading one asset by id
// (*sfmc.Client has it).
type assetGetter interface {
	GetAsset(ctx context.Context, id int64) (sfmc.Asset, error)
}

// maxRelistedGets is how many relisted blocks are read one by one; more are
// read with one full listing (a request per page instead of per block).
const maxRelistedGets = 200

// storeRelisted backs up the blocks of current that the last listing did not
// have (known) and that this run did not store (not returned by its query,
// or skipped there as a version already backed up): a block that comes back after
// a tombstone (or that the changed-block query missed) is stored again, so
// the chain holds a version newer than its tombstone.
func (e *Engine) storeRelisted(ctx context.Context, known, current []int64, r *runState, sum *Summary) error {
	seen := slices.Clone(r.ids)
	slices.Sort(seen)
	skipped := slices.Clone(r.skippedIDs)
	slices.Sort(skipped)
	want := map[int64]bool{}
	for _, id := range current {
		if _, k := slices.BinarySearch(known, id); k {
			continue
		}
		_, s := slices.BinarySearch(seen, id)
		_, sk := slices.BinarySearch(skipped, id)
		if !s || sk {
			want[id] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	before := r.blocks + r.skipped
	store := func(a sfmc.Asset) error {
		if !want[a.ID] {
			return nil
		}
		delete(want, a.ID)
		delete(r.skip, repo.Version{ID: a.ID, Modified: jsonInstant(a.ModifiedDate)})
		return r.handle(ctx, a)
	}
	var err error
	if g, ok := e.Source.(assetGetter); ok && len(want) <= maxRelistedGets {
		ids := slices.Sorted(maps.Keys(want))
		for _, id := range ids {
			a, gerr := g.GetAsset(ctx, id)
			if errors.Is(gerr, sfmc.ErrNotFound) {
				continue // deleted again meanwhile: the next listing tells
			}
			if gerr != nil {
				err = fmt.Errorf("read block %d, listed again: %w", id, gerr)
				break
			}
			if err = store(a); err != nil {
				break
			}
		}
	} else {
		err = e.Source.QueryAssets(ctx, sfmc.AssetQuery{TypeIDs: r.opts.TypeIDs}, store)
		if err != nil {
			err = fmt.Errorf("read blocks listed again: %w", err)
		}
	}
	if err != nil && ctx.Err() == nil {
		r.wait()
		r.counts(sum)
		return err
	}
	if ferr := r.finish(ctx, sum); ferr != nil {
		return ferr
	}
	sum.Relisted = r.blocks + r.skipped - before
	e.Log.Info().Int("blocks", sum.Relisted).Msg("blocks listed again that no earlier listing had: backed up again, so restores include them")
	return nil
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
