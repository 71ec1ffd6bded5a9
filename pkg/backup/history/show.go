package history

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// ShowOptions are the arguments of Show.
type ShowOptions struct {
	// Backup names the backup the state is taken at ("" or "latest": the
	// newest complete one).
	Backup string
	// ID or Key names the block (exactly one of them).
	ID  int64
	Key string
	// JSON asks for the stored JSON document instead of the readable content.
	JSON bool
}

// Shown is what Show found.
type Shown struct {
	// Backup is the backup the state was taken at.
	Backup string
	// Block is the block's version in that state (Block.Backup holds it);
	// Block.Deleted is set when a backup up to Backup recorded it as deleted:
	// Data is then its last version.
	Block repo.SnapshotBlock
	// File is the stored file Data is, and Data its bytes, checked against
	// the manifest.
	File repo.ManifestFile
	Data []byte
}

// ErrNoContent is wrapped by Show's error for a block version without the
// requested file.
var ErrNoContent = errors.New("no such file in the backup")

// Show finds a block in the restorable state at a backup, as restore would,
// and reads its readable content file (the binary of a file asset), or its
// stored JSON, byte for byte. A key that names several blocks of that state
// picks the live one; several live ones are an error asking for --id.
func Show(ctx context.Context, st storage.Store, opts ShowOptions) (*Shown, error) {
	if (opts.ID == 0) == (opts.Key == "") {
		return nil, errors.New("name the block with --id or --key (one of them)")
	}
	list, err := repo.ListBackups(ctx, st)
	if err != nil {
		return nil, err
	}
	target, err := resolve(list, st, opts.Backup)
	if err != nil {
		return nil, err
	}
	backups, err := complete(list)
	if err != nil {
		return nil, err
	}
	// The ids to follow: the one asked for, or those any version up to
	// target had the key of.
	ids := map[int64]bool{opts.ID: true}
	if opts.Key != "" {
		ids = map[int64]bool{}
		for _, name := range backups {
			if name > target {
				break
			}
			if _, err := repo.ScanBackup(ctx, st, name, func(b repo.ManifestBlock) error {
				if b.CustomerKey == opts.Key {
					ids[b.ID] = true
				}
				return nil
			}); err != nil {
				return nil, err
			}
		}
	}
	c := repo.NewChainOf(func(id int64) bool { return ids[id] })
	for _, name := range backups {
		if name > target {
			break
		}
		if _, err := c.Add(ctx, st, name, nil); err != nil {
			return nil, err
		}
	}
	candidates := slices.Collect(maps.Keys(ids))
	slices.Sort(candidates)
	candidates = slices.Compact(candidates)
	var found []repo.SnapshotBlock
	for _, id := range candidates {
		if b, ok := c.Block(id); ok && (opts.Key == "" || b.CustomerKey == opts.Key) {
			found = append(found, b)
		}
	}
	if live := slices.DeleteFunc(slices.Clone(found), func(b repo.SnapshotBlock) bool { return b.Deleted != nil }); len(live) > 0 {
		found = live
	}
	what := fmt.Sprintf("--id %d", opts.ID)
	if opts.Key != "" {
		what = fmt.Sprintf("--key %q", opts.Key)
	}
	switch {
	case len(found) == 0:
		return nil, fmt.Errorf("%w %s in the state as of %s", ErrNoMatch, what, target)
	case len(found) > 1:
		ids := make([]string, len(found))
		for i, b := range found {
			ids[i] = fmt.Sprint(b.ID)
		}
		return nil, fmt.Errorf("%s names %d blocks as of %s (ids %s): use --id", what, len(found), target, strings.Join(ids, ", "))
	}
	b := found[0]
	role := "readable content"
	f, ok := contentFile(&b)
	if opts.JSON {
		role = "JSON"
		f, ok = b.File(repo.RoleJSON)
	}
	if !ok {
		return nil, fmt.Errorf("block %d in %s has no %s file: %w", b.ID, b.Backup, role, ErrNoContent)
	}
	data, err := repo.ReadFile(ctx, st, b.Backup, f)
	if err != nil {
		return nil, err
	}
	return &Shown{Backup: target, Block: b, File: f, Data: data}, nil
}
