package restore

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
)

// Selection chooses the blocks of a snapshot to restore. Empty fields do not
// filter. IDs and Keys together select the blocks matching either; every other
// field narrows the selection further. Blocks recorded as deleted (a
// tombstone newer than their last version) are restored only with Deleted or
// when named by IDs or Keys; otherwise they are reported as skipped.
type Selection struct {
	IDs  []int64
	Keys []string
	// Names are path.Match patterns matched against the block's name.
	Names []string
	// TypeIDs are asset type ids.
	TypeIDs []int
	// Folders are folder path prefixes ("Content Builder/Newsletters"),
	// matched on whole path segments, in the escaped form repo.CategoryPath writes
	// and `list BACKUP` shows.
	Folders []string
	// Deleted selects only the blocks deleted since their last version.
	Deleted bool
}

// Validate checks the name patterns.
func (s *Selection) Validate() error {
	for _, p := range s.Names {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("--name %q: %w", p, err)
		}
	}
	return nil
}

func (s *Selection) explicit(b *repo.SnapshotBlock) bool {
	return slices.Contains(s.IDs, b.ID) || b.CustomerKey != "" && slices.Contains(s.Keys, b.CustomerKey)
}

// match reports whether b is selected; a deleted block that passes the filters
// but is not asked for comes back with skip set.
func (s *Selection) match(b *repo.SnapshotBlock) (selected, skip bool) {
	if (len(s.IDs) > 0 || len(s.Keys) > 0) && !s.explicit(b) {
		return false, false
	}
	if len(s.Names) > 0 && !slices.ContainsFunc(s.Names, func(p string) bool { ok, _ := path.Match(p, b.Name); return ok }) {
		return false, false
	}
	if len(s.TypeIDs) > 0 && !slices.Contains(s.TypeIDs, b.AssetType.ID) {
		return false, false
	}
	if len(s.Folders) > 0 && !slices.ContainsFunc(s.Folders, func(p string) bool { return folderHasPrefix(b.Category.Path, p) }) {
		return false, false
	}
	if s.Deleted {
		return b.Deleted != nil, false
	}
	if b.Deleted != nil && !s.explicit(b) {
		return true, true
	}
	return true, false
}

func folderHasPrefix(p, prefix string) bool {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return true
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// selectItem returns the item of b when the selection picks it, with skip
// set (and the item's action and reason filled in) for a deleted block that
// is not asked for.
func selectItem(sel *Selection, b *repo.SnapshotBlock) (it *RestoreItem, ok, skip bool) {
	ok, skip = sel.match(b)
	if !ok {
		return nil, false, false
	}
	typeName := b.AssetType.Name
	if typeName == "" {
		typeName = sfmc.TypeName(b.AssetType.ID)
	}
	it = &RestoreItem{ID: b.ID, CustomerKey: b.CustomerKey, Name: b.Name, Type: typeName, Folder: b.Category.Path,
		ModifiedDate: b.ModifiedDate, Backup: b.Backup, Status: ItemNotAttempted}
	if skip {
		it.Action, it.Status = ActionSkip, ItemSkipped
		it.Reason = fmt.Sprintf("deleted in SFMC (recorded in %s): restore it with --deleted, --id or --key", b.DeletedIn)
	}
	return it, true, skip
}
