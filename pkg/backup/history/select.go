package history

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
)

// ErrNoMatch is wrapped by the error History and Show return when no block
// of any backup matches the selection.
var ErrNoMatch = errors.New("no block matches")

// Selector picks blocks. IDs, Keys and Names select the blocks matching any
// of them (all blocks when the three are empty); Folders narrows further.
type Selector struct {
	IDs  []int64
	Keys []string
	// Names are path.Match patterns matched against the block's name.
	Names []string
	// Folders are folder path prefixes ("Content Builder/Newsletters"),
	// matched on whole path segments, in the escaped form repo.CategoryPath
	// writes and `list BACKUP` shows (as restore's selection does).
	Folders []string
}

// Validate checks the name patterns.
func (s *Selector) Validate() error {
	for _, p := range s.Names {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("--name %q: %w", p, err)
		}
	}
	return nil
}

// IsZero reports whether s selects every block.
func (s *Selector) IsZero() bool {
	return len(s.IDs) == 0 && len(s.Keys) == 0 && len(s.Names) == 0 && len(s.Folders) == 0
}

// Match reports whether the block version b is selected.
func (s *Selector) Match(b *repo.ManifestBlock) bool {
	if len(s.IDs) > 0 || len(s.Keys) > 0 || len(s.Names) > 0 {
		named := slices.Contains(s.IDs, b.ID) || b.CustomerKey != "" && slices.Contains(s.Keys, b.CustomerKey) ||
			slices.ContainsFunc(s.Names, func(p string) bool { ok, _ := path.Match(p, b.Name); return ok })
		if !named {
			return false
		}
	}
	return len(s.Folders) == 0 || slices.ContainsFunc(s.Folders, func(p string) bool { return folderHasPrefix(b.Category.Path, p) })
}

// String describes the selection for messages ("--id 5, --name \"F*\"").
func (s *Selector) String() string {
	var parts []string
	for _, id := range s.IDs {
		parts = append(parts, fmt.Sprintf("--id %d", id))
	}
	for _, k := range s.Keys {
		parts = append(parts, fmt.Sprintf("--key %q", k))
	}
	for _, n := range s.Names {
		parts = append(parts, fmt.Sprintf("--name %q", n))
	}
	for _, f := range s.Folders {
		parts = append(parts, fmt.Sprintf("--folder %q", f))
	}
	if len(parts) == 0 {
		return "every block"
	}
	return strings.Join(parts, ", ")
}

func folderHasPrefix(p, prefix string) bool {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return true
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}
