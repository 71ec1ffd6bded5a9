package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// History events.
const (
	// EventCreated: the first version of the block in the backups, or a
	// version after the block had been recorded as deleted.
	EventCreated = "created"
	// EventChanged: a newer version than the previous backups held.
	EventChanged = "changed"
	// EventDeleted: a backup recorded the block as deleted in SFMC.
	EventDeleted = "deleted"
)

// Version is one event in a block's history. Its JSON form is part of
// `backup-creator history --json`.
type Version struct {
	// Backup holds the version (for a deletion: records the tombstone).
	Backup string `json:"backup"`
	// ModifiedDate is the version's modifiedDate as a UTC instant; for a
	// deletion, when the run that noticed it looked (SFMC does not say
	// when a block was deleted).
	ModifiedDate time.Time `json:"modifiedDate"`
	// ModifiedBy is modifiedBy.name of the stored JSON ("" for a deletion).
	ModifiedBy string `json:"modifiedBy"`
	// Size and SHA256 describe the content file (the binary of a file
	// asset); 0 and "" for a deletion.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Event is EventCreated, EventChanged or EventDeleted.
	Event string `json:"event"`
	// CustomerKey, Name and Folder are the version's, so renames and moves
	// show (for a deletion: the last version's).
	CustomerKey string `json:"customerKey"`
	Name        string `json:"name"`
	Folder      string `json:"folder"`
	// CarriedFrom names the backup that first stored the version (or
	// recorded the deletion) when prune removed it and carried the version
	// into Backup.
	CarriedFrom string `json:"carriedFrom,omitempty"`
}

// Block is one block's history, its events newest first.
type Block struct {
	ID int64 `json:"id"`
	// CustomerKey, Name and Folder are the newest version's.
	CustomerKey string    `json:"customerKey"`
	Name        string    `json:"name"`
	Folder      string    `json:"folder"`
	Versions    []Version `json:"versions"`
}

// Report is the result of History. Its JSON form is `history --json`.
type Report struct {
	Blocks []Block `json:"blocks"`
}

// History follows the blocks sel matches (by id, key or name, in any of
// their versions) through every complete backup, oldest first, and reports
// each change of their restorable state as the chain resolves it: a new
// version (created or changed) and a recorded deletion. A version a later
// backup stored again unchanged is not an event, nor is a version that the
// chain never restores (an older one stored after a newer one). Blocks are
// sorted by id, their events newest first. No match gives an error wrapping
// ErrNoMatch.
func History(ctx context.Context, st storage.Store, sel Selector) (*Report, error) {
	if err := sel.Validate(); err != nil {
		return nil, err
	}
	if sel.IsZero() {
		return nil, errors.New("history needs a selection: --id, --key or --name")
	}
	list, err := repo.ListBackups(ctx, st)
	if err != nil {
		return nil, err
	}
	backups, err := complete(list)
	if err != nil {
		return nil, err
	}
	// Pass 1: the ids any version of which matches (a block renamed away
	// from the pattern keeps its earlier history, and the other way round).
	ids := map[int64]bool{}
	for _, id := range sel.IDs {
		ids[id] = true
	}
	if len(sel.Keys) > 0 || len(sel.Names) > 0 || len(sel.Folders) > 0 {
		ids = map[int64]bool{}
		for _, name := range backups {
			if _, err := repo.ScanBackup(ctx, st, name, func(b repo.ManifestBlock) error {
				if sel.Match(&b) {
					ids[b.ID] = true
				}
				return nil
			}); err != nil {
				return nil, err
			}
		}
	}

	// Pass 2: fold the chain, noting after each backup how the state of
	// each matched block it touched changed.
	type state struct {
		seen, deleted bool
		ver           string
		events        []Version
	}
	states := map[int64]*state{}
	c := repo.NewChainOf(func(id int64) bool { return ids[id] })
	for _, name := range backups {
		var touched []int64
		m, err := c.Add(ctx, st, name, func(b repo.ManifestBlock) error {
			if ids[b.ID] {
				touched = append(touched, b.ID)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, d := range m.Deleted {
			if ids[d.ID] {
				touched = append(touched, d.ID)
			}
		}
		slices.Sort(touched)
		touched = slices.Compact(touched)
		for _, id := range touched {
			cur, ok := c.Block(id)
			if !ok {
				continue // a tombstone for a block no backup holds
			}
			s := states[id]
			if s == nil {
				s = &state{}
				states[id] = s
			}
			if v := versionID(&cur); !s.seen || v != s.ver {
				ev := EventChanged
				if !s.seen || s.deleted {
					ev = EventCreated
				}
				ver, err := versionOf(ctx, st, &cur, ev)
				if err != nil {
					return nil, err
				}
				s.events = append(s.events, ver)
				s.seen, s.ver, s.deleted = true, v, false
			}
			if cur.Deleted != nil && !s.deleted {
				s.events = append(s.events, Version{Backup: cur.DeletedIn, ModifiedDate: cur.Deleted.DetectedAt.UTC(), Event: EventDeleted,
					CustomerKey: cur.CustomerKey, Name: cur.Name, Folder: cur.Category.Path, CarriedFrom: cur.Deleted.CarriedFrom})
				s.deleted = true
			}
		}
	}
	rep := &Report{Blocks: []Block{}}
	for id, s := range states {
		cur, _ := c.Block(id)
		slices.Reverse(s.events)
		rep.Blocks = append(rep.Blocks, Block{ID: id, CustomerKey: cur.CustomerKey, Name: cur.Name, Folder: cur.Category.Path, Versions: s.events})
	}
	sort.Slice(rep.Blocks, func(i, j int) bool { return rep.Blocks[i].ID < rep.Blocks[j].ID })
	if len(rep.Blocks) == 0 {
		return rep, fmt.Errorf("%w %s in %d complete backups", ErrNoMatch, sel.String(), len(backups))
	}
	return rep, nil
}

// versionOf describes the version b, reading modifiedBy from its stored JSON.
func versionOf(ctx context.Context, st storage.Store, b *repo.SnapshotBlock, event string) (Version, error) {
	v := Version{Backup: b.Backup, ModifiedDate: b.Modified.UTC(), Event: event,
		CustomerKey: b.CustomerKey, Name: b.Name, Folder: b.Category.Path, CarriedFrom: b.CarriedFrom}
	if f, ok := contentFile(b); ok {
		v.Size, v.SHA256 = f.Size, f.SHA256
	}
	if f, ok := b.File(repo.RoleJSON); ok {
		data, err := repo.ReadFile(ctx, st, b.Backup, f)
		if err != nil {
			return v, err
		}
		doc, err := sfmc.DecodeDoc(data)
		if err != nil {
			return v, fmt.Errorf("%s/%s: %w", b.Backup, f.Path, err)
		}
		v.ModifiedBy = userName(doc)
	}
	return v, nil
}

// userName is modifiedBy.name of an asset document. Older API versions sent
// a bare user id there: that gives "".
func userName(doc map[string]json.RawMessage) string {
	raw, _ := sfmc.DocField(doc, "modifiedBy")
	var u map[string]json.RawMessage
	if json.Unmarshal(raw, &u) != nil {
		return ""
	}
	return sfmc.DocString(u, "name")
}
