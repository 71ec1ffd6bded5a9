package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"unicode/utf8"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// DiffOptions are the arguments of Diff.
type DiffOptions struct {
	// From and To name the backups whose restorable states are compared.
	// Both "": the two newest complete backups; To "": the newest one.
	// "latest" names the newest complete backup.
	From, To string
	// Select limits the comparison to the blocks it matches in either state.
	Select Selector
	// Stat skips reading the block files: changes are listed without the
	// fields that differ.
	Stat bool
	// Batch bounds the block ids one fold of the chain follows (default
	// 20,000): more touched blocks are compared in several folds.
	Batch int
}

// Prev holds what a changed block's customerKey, name and folder were.
type Prev struct {
	CustomerKey string `json:"customerKey"`
	Name        string `json:"name"`
	Folder      string `json:"folder"`
}

// Change is one block that differs between the two states. Its JSON form is
// part of `backup-creator diff --json`.
type Change struct {
	ID          int64  `json:"id"`
	CustomerKey string `json:"customerKey"`
	Name        string `json:"name"`
	Folder      string `json:"folder"`
	Type        string `json:"type"`
	// Fields are the properties that differ (changed blocks, not with Stat):
	// "content", "name", "folder", "customerKey", "meta", "slots", "views"
	// and any other stored property; when only SFMC-maintained ones differ
	// (the block was saved without an edit), those ("modifiedDate", ...).
	Fields []string `json:"fields,omitempty"`
	// Prev is the earlier customerKey, name and folder, when one of them
	// changed.
	Prev *Prev `json:"previous,omitempty"`
	// DeletedIn is the backup that recorded a deleted block's tombstone.
	DeletedIn string `json:"deletedIn,omitempty"`

	// Old and New are the versions compared (Old is nil for an added
	// block, New for a deleted one: that is the last version).
	Old, New *repo.SnapshotBlock `json:"-"`
}

// DiffReport is the result of Diff; the lists are sorted by id.
type DiffReport struct {
	From    string   `json:"from"`
	To      string   `json:"to"`
	Added   []Change `json:"added"`
	Changed []Change `json:"changed"`
	Deleted []Change `json:"deleted"`
}

// Diff compares the restorable states at two complete backups, as restore
// would produce them: a block is added when it is live at To and was not at
// From (absent or deleted), deleted when it was live at From and is recorded
// as deleted at To, and changed when both hold it live in different versions.
// The chain is folded once, oldest first; only the two states' entries are
// held, and (without Stat) the two JSON documents of one changed block at a
// time. A missing, incomplete or damaged backup is an error wrapping
// repo.ErrNoBackup, repo.ErrIncomplete or repo.ErrDamaged.
func Diff(ctx context.Context, st storage.Store, opts DiffOptions) (*DiffReport, error) {
	sel := opts.Select
	if err := sel.Validate(); err != nil {
		return nil, err
	}
	list, err := repo.ListBackups(ctx, st)
	if err != nil {
		return nil, err
	}
	backups, err := complete(list)
	if err != nil {
		return nil, err
	}
	var from, to string
	switch {
	case opts.From == "" && opts.To == "":
		if len(backups) < 2 {
			return nil, fmt.Errorf("diff needs two complete backups, %s holds %d: %w", st, len(backups), repo.ErrNoBackup)
		}
		from, to = backups[len(backups)-2], backups[len(backups)-1]
	default:
		if from, err = resolve(list, st, opts.From); err != nil {
			return nil, err
		}
		if to, err = resolve(list, st, opts.To); err != nil {
			return nil, err
		}
	}
	rep := &DiffReport{From: from, To: to, Added: []Change{}, Changed: []Change{}, Deleted: []Change{}}
	lo, hi := min(from, to), max(from, to)
	if lo == hi {
		return rep, nil
	}
	// Only the blocks a backup after lo (up to hi) holds a version or a
	// tombstone of can differ: follow those alone.
	touched := map[int64]bool{}
	for _, name := range backups {
		if name <= lo || name > hi {
			continue
		}
		m, err := repo.ScanBackup(ctx, st, name, func(b repo.ManifestBlock) error {
			touched[b.ID] = true
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, d := range m.Deleted {
			touched[d.ID] = true
		}
	}
	ids := slices.Sorted(maps.Keys(touched))
	touched = nil
	// Fold the chain once per batch of ids, so that memory stays bounded
	// also when every block was touched (a --full backup in between).
	size := opts.Batch
	if size <= 0 {
		size = defaultDiffBatch
	}
	for start := 0; start < len(ids); start += size {
		batch := ids[start:min(start+size, len(ids))]
		if err := diffBatchOf(ctx, st, backups, lo, hi, from > to, batch, sel, opts.Stat, rep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

const defaultDiffBatch = 20000

// diffBatchOf compares the blocks of batch (sorted ids) between the states
// at lo and hi and appends them to rep.
func diffBatchOf(ctx context.Context, st storage.Store, backups []string, lo, hi string, backwards bool, batch []int64, sel Selector, stat bool, rep *DiffReport) error {
	in := make(map[int64]bool, len(batch))
	for _, id := range batch {
		in[id] = true
	}
	type pair struct{ lo, hi *repo.SnapshotBlock }
	pairs := make([]pair, len(batch))
	c := repo.NewChainOf(func(id int64) bool { return in[id] })
	for _, name := range backups {
		if name > hi {
			break
		}
		if _, err := c.Add(ctx, st, name, nil); err != nil {
			return err
		}
		if name == lo {
			for i, id := range batch {
				if b, ok := c.Block(id); ok {
					pairs[i].lo = &b
				}
			}
		}
	}
	for i, id := range batch {
		if b, ok := c.Block(id); ok {
			pairs[i].hi = &b
		}
	}
	c = nil
	var err error
	for _, p := range pairs {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, n := p.lo, p.hi
		if backwards {
			o, n = n, o
		}
		// A block matching in either state is compared (one moved out of
		// the selected folder is a change, not a deletion).
		if !sel.IsZero() && !(o != nil && sel.Match(&o.ManifestBlock) || n != nil && sel.Match(&n.ManifestBlock)) {
			continue
		}
		oLive, nLive := o != nil && o.Deleted == nil, n != nil && n.Deleted == nil
		switch {
		case !oLive && nLive:
			rep.Added = append(rep.Added, change(nil, n))
		case oLive && !nLive:
			ch := change(o, n)
			if n != nil {
				ch.DeletedIn = n.DeletedIn
			}
			rep.Deleted = append(rep.Deleted, ch)
		case oLive && nLive && !sameVersion(o, n):
			ch := change(o, n)
			if !stat {
				if ch.Fields, err = changedFields(ctx, st, o, n); err != nil {
					return err
				}
			}
			rep.Changed = append(rep.Changed, ch)
		}
	}
	return nil
}

func change(o, n *repo.SnapshotBlock) Change {
	b := n
	if b == nil {
		b = o
	}
	ch := Change{ID: b.ID, CustomerKey: b.CustomerKey, Name: b.Name, Folder: b.Category.Path, Type: b.AssetType.Name, Old: o, New: n}
	if ch.Type == "" {
		ch.Type = sfmc.TypeName(b.AssetType.ID)
	}
	if o != nil && n != nil && (o.CustomerKey != n.CustomerKey || o.Name != n.Name || o.Category.Path != n.Category.Path) {
		ch.Prev = &Prev{CustomerKey: o.CustomerKey, Name: o.Name, Folder: o.Category.Path}
	}
	return ch
}

// changedFields names what differs between two versions of a block: the
// stored documents' properties, with the folder taken from the manifests
// (its path changes when a parent folder is renamed, too).
func changedFields(ctx context.Context, st storage.Store, o, n *repo.SnapshotBlock) ([]string, error) {
	od, err := readDoc(ctx, st, o)
	if err != nil {
		return nil, err
	}
	nd, err := readDoc(ctx, st, n)
	if err != nil {
		return nil, err
	}
	fields := sfmc.DiffDocFields(od, nd, "category")
	if o.Category.ID != n.Category.ID || o.Category.Path != n.Category.Path {
		// After content and name, where a person looks next.
		at := 0
		for at < len(fields) && (fields[at] == "content" || fields[at] == "name") {
			at++
		}
		fields = slices.Insert(fields, at, "folder")
	}
	if len(fields) == 0 {
		for _, f := range sfmc.VolatileFields {
			a, _ := sfmc.DocField(od, f)
			b, _ := sfmc.DocField(nd, f)
			if !sfmc.JSONEqual(a, b) {
				fields = append(fields, f)
			}
		}
	}
	if fields == nil {
		fields = []string{}
	}
	return fields, nil
}

func readDoc(ctx context.Context, st storage.Store, b *repo.SnapshotBlock) (map[string]json.RawMessage, error) {
	f, ok := b.File(repo.RoleJSON)
	if !ok {
		return map[string]json.RawMessage{}, nil
	}
	data, err := repo.ReadFile(ctx, st, b.Backup, f)
	if err != nil {
		return nil, err
	}
	doc, err := sfmc.DecodeDoc(data)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", b.Backup, f.Path, err)
	}
	return doc, nil
}

// ErrBinary is returned by ContentDiff for content that is not text.
var ErrBinary = errors.New("binary content")

// ContentDiff returns a unified diff (3 lines of context) of a changed
// block's readable content files, labelled with their paths in the
// backups; "" when the content is the same. Content that is not valid
// UTF-8 text (a file asset's binary) gives ErrBinary.
func ContentDiff(ctx context.Context, st storage.Store, ch Change) (string, error) {
	if ch.Old == nil || ch.New == nil {
		return "", nil
	}
	read := func(b *repo.SnapshotBlock) (string, string, error) {
		f, ok := contentFile(b)
		if !ok {
			return path.Join(b.Backup, "(no content file)"), "", nil
		}
		data, err := repo.ReadFile(ctx, st, b.Backup, f)
		if err != nil {
			return "", "", err
		}
		if f.Role == repo.RoleFile || !utf8Text(data) {
			return "", "", fmt.Errorf("%s/%s: %w", b.Backup, f.Path, ErrBinary)
		}
		return path.Join(b.Backup, f.Path), string(data), nil
	}
	oldLabel, oldText, err := read(ch.Old)
	if err != nil {
		return "", err
	}
	newLabel, newText, err := read(ch.New)
	if err != nil {
		return "", err
	}
	if oldText == newText {
		return "", nil
	}
	return udiff.ToUnified(oldLabel, newLabel, oldText, udiff.Lines(oldText, newText), udiff.DefaultContextLines)
}

func utf8Text(b []byte) bool {
	return !slices.Contains(b, 0) && utf8.Valid(b)
}
