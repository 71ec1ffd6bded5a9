package repo

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// Chain is the restorable state of a destination built backup by backup:
// add the complete backups oldest first, and after each Add, State is what a
// restore as of that backup gives. It is the one place that decides which
// version of a block a backup holds and whether the block is deleted, so
// restore, prune, history and diff can never disagree about it.
//
// The rules: for each block id the newest version by modified instant wins,
// ties going to the later backup; a tombstone recorded in a later backup
// than that version, or in the same backup and detected after the version's
// modified instant, marks the block deleted; a newer version after a
// tombstone makes the block live again. Memory grows with the number of block
// ids, not with their content.
type Chain struct {
	backups []string
	blocks  map[int64]*chainVersion
	tombs   map[int64]chainTomb
	keep    func(id int64) bool
}

type chainVersion struct {
	b   SnapshotBlock
	idx int
}

type chainTomb struct {
	d   DeletedBlock
	idx int
}

// NewChain returns an empty chain.
func NewChain() *Chain {
	return &Chain{blocks: map[int64]*chainVersion{}, tombs: map[int64]chainTomb{}}
}

// NewChainOf returns an empty chain that follows only the block ids keep
// accepts: the others are streamed past (fn still sees them) and not held.
// Verbs that ask about a few blocks (history, show, diff of the blocks a
// range of backups touched) need memory for those alone.
func NewChainOf(keep func(id int64) bool) *Chain {
	c := NewChain()
	c.keep = keep
	return c
}

// Add folds the complete backup name into the chain: it streams its
// manifest, calling fn (when not nil) for every block entry as it is read,
// and returns the manifest with Blocks nil. Backups must be added oldest
// first (in name order).
func (c *Chain) Add(ctx context.Context, st storage.Store, name string, fn func(ManifestBlock) error) (*Manifest, error) {
	idx := len(c.backups)
	m, err := ScanBackup(ctx, st, name, func(b ManifestBlock) error {
		if c.keep == nil || c.keep(b.ID) {
			c.addVersion(SnapshotBlock{ManifestBlock: b, Backup: name}, idx)
		}
		if fn != nil {
			return fn(b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.backups = append(c.backups, name)
	for _, d := range m.Deleted {
		if c.keep == nil || c.keep(d.ID) {
			c.addTomb(d, idx)
		}
	}
	return m, nil
}

func (c *Chain) addVersion(b SnapshotBlock, idx int) {
	cur := c.blocks[b.ID]
	if cur == nil || supersedes(b.Modified, cur.b.Modified) {
		c.blocks[b.ID] = &chainVersion{b: b, idx: idx}
	}
}

func (c *Chain) addTomb(d DeletedBlock, idx int) {
	if t, ok := c.tombs[d.ID]; !ok || supersedes(d.DetectedAt, t.d.DetectedAt) {
		c.tombs[d.ID] = chainTomb{d: d, idx: idx}
	}
}

// supersedes reports whether a version (or tombstone) read after the current
// one replaces it: backups are read oldest first and entries in manifest
// order, so the newest instant wins and a tie goes to the later one.
func supersedes(later, current time.Time) bool { return !later.Before(current) }

// tombApplies reports whether a tombstone recorded in backup tombIdx (of the
// chain's order), detected at detected, deletes the version held by backup
// verIdx and modified at modified: a tombstone recorded in a later backup
// does, one recorded in the same backup only when detected after the
// version's modified instant.
func tombApplies(tombIdx int, detected time.Time, verIdx int, modified time.Time) bool {
	return tombIdx > verIdx || tombIdx == verIdx && detected.After(modified)
}

// Backups returns the backups added so far, oldest first.
func (c *Chain) Backups() []string { return slices.Clone(c.backups) }

// Len is the number of block ids the chain knows (deleted ones included).
func (c *Chain) Len() int { return len(c.blocks) }

// Block returns the state of one block id as of the last backup added.
func (c *Chain) Block(id int64) (SnapshotBlock, bool) {
	v, ok := c.blocks[id]
	if !ok {
		return SnapshotBlock{}, false
	}
	return c.resolve(id, v), true
}

func (c *Chain) resolve(id int64, v *chainVersion) SnapshotBlock {
	b := v.b
	if t, ok := c.tombs[id]; ok && tombApplies(t.idx, t.d.DetectedAt, v.idx, v.b.Modified) {
		d := t.d
		b.Deleted = &d
		b.DeletedIn = c.backups[t.idx]
	}
	return b
}

// State returns every block as of the last backup added, sorted by id.
func (c *Chain) State() []SnapshotBlock {
	out := make([]SnapshotBlock, 0, len(c.blocks))
	for id, v := range c.blocks {
		out = append(out, c.resolve(id, v))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Stranded is a block of the chain's state that depends on a backup about
// to be removed: its version lives there, or its tombstone was recorded
// there, or both.
type Stranded struct {
	Block   SnapshotBlock
	Version bool // the version's files live in a removed backup
	Tomb    bool // the tombstone that applies was recorded in a removed backup
}

// Stranded returns, sorted by id, the blocks of the state as of the last
// backup added that depend on a backup for which gone is true.
func (c *Chain) Stranded(gone func(backup string) bool) []Stranded {
	var out []Stranded
	for id, v := range c.blocks {
		b := c.resolve(id, v)
		s := Stranded{Block: b, Version: gone(b.Backup), Tomb: b.Deleted != nil && gone(b.DeletedIn)}
		if s.Version || s.Tomb {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Block.ID < out[j].Block.ID })
	return out
}

// Carry records that the last backup added now holds a block's version
// (entry, when not nil) and its tombstone (tomb, when not nil), as prune
// writes them into that backup's manifest. Later backups then resolve the
// block from there, as they will once the manifest is rewritten.
func (c *Chain) Carry(id int64, entry *ManifestBlock, tomb *DeletedBlock) {
	last := len(c.backups) - 1
	if entry != nil {
		c.blocks[id] = &chainVersion{b: SnapshotBlock{ManifestBlock: *entry, Backup: c.backups[last]}, idx: last}
	}
	if tomb != nil {
		c.tombs[id] = chainTomb{d: *tomb, idx: last}
	}
}

// Origin is the backup that first stored this version: CarriedFrom for a
// carried entry, else the backup that holds it.
func (b *SnapshotBlock) Origin() string {
	if b.CarriedFrom != "" {
		return b.CarriedFrom
	}
	return b.Backup
}
