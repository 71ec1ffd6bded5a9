package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

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

// maxReportedErrors bounds the per-item errors a RestoreError carries.
const maxReportedErrors = 5

// Restore actions of a RestoreItem.
const (
	ActionCreate    = "create"    // not in SFMC (by id or customerKey): re-create it
	ActionUpdate    = "update"    // in SFMC with other content or metadata: PATCH it
	ActionUnchanged = "unchanged" // in SFMC as backed up: no write
	ActionSkip      = "skip"      // not restored (see Reason)
	ActionWrite     = "write"     // --target DIR: write its files
)

// Restore item statuses.
const (
	ItemPlanned      = "planned" // dry run: nothing was written
	ItemDone         = "done"
	ItemFailed       = "failed"
	ItemNotAttempted = "not-attempted" // the restore stopped (cancelled) before this block
	ItemSkipped      = "skipped"       // action skip: nothing to do
)

// TargetSFMC is RestoreReport.Target for a restore into SFMC.
const TargetSFMC = "sfmc"

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

// RestoreItem is one selected block and what the restore did (or, in a dry
// run, would do) with it. Its JSON form is part of `restore --json`.
type RestoreItem struct {
	// ID, CustomerKey, Name, Type and Folder are the backed-up block's.
	ID          int64  `json:"id"`
	CustomerKey string `json:"customerKey"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Folder      string `json:"folder"`
	// ModifiedDate is the backed-up version's modifiedDate, as SFMC sent it.
	ModifiedDate string `json:"modifiedDate"`
	// Backup is the backup folder holding the restored version.
	Backup string `json:"backup"`
	// Action is create, update, unchanged, skip or write.
	Action string `json:"action"`
	// Status is planned (dry run), done, failed, skipped or not-attempted.
	Status string `json:"status"`
	// Reason explains the action; Changes lists the fields that differ (update).
	Reason  string   `json:"reason,omitempty"`
	Changes []string `json:"changes,omitempty"`
	// TargetID is the block's id in SFMC after the restore (a new id when it
	// was re-created; 0 when not known yet, e.g. a planned create).
	TargetID int64 `json:"targetId,omitempty"`
	// Notes report adjustments: a generated customerKey, a suffixed name, a
	// folder re-created.
	Notes []string `json:"notes,omitempty"`
	// Files are the files written (--target DIR), relative to the directory.
	Files []string `json:"files,omitempty"`
	// Error is the failure, when Status is failed.
	Error string `json:"error,omitempty"`
}

// IDMapping is one entry of the old-id → new-id map: a block that lives in
// SFMC under another id than in the backup (re-created now or by an earlier
// restore). ContentBlockById references to OldID need NewID.
type IDMapping struct {
	OldID       int64  `json:"oldId"`
	NewID       int64  `json:"newId"`
	CustomerKey string `json:"customerKey"`
	Name        string `json:"name"`
}

// RestoreCounts sums up a restore by action (items that failed count only
// under Failed).
type RestoreCounts struct {
	Selected  int `json:"selected"`
	Create    int `json:"create"`
	Update    int `json:"update"`
	Unchanged int `json:"unchanged"`
	Skip      int `json:"skip"`
	Write     int `json:"write"`
	Failed    int `json:"failed"`
	Pending   int `json:"notAttempted"`
}

// RestoreReport is the result of a restore or a dry run. Its JSON form is
// `backup-creator restore --json`.
type RestoreReport struct {
	// Backup is the backup the restored state is as of.
	Backup string `json:"backup"`
	// Target is "sfmc" or the --target directory.
	Target string        `json:"target"`
	DryRun bool          `json:"dryRun"`
	Counts RestoreCounts `json:"counts"`
	// Items lists the selected blocks, sorted by id.
	Items []RestoreItem `json:"items"`
	// IDMap lists the blocks whose SFMC id differs from the backed-up one,
	// sorted by old id.
	IDMap []IDMapping `json:"idMap"`
	// FoldersCreated lists the folder paths created (planned, in a dry run).
	FoldersCreated []string `json:"foldersCreated"`
}

// Attempted reports whether the restore got to any block: false when it
// stopped before the first (SFMC unreachable, the folder listing refused),
// or when every selected block was skipped.
func (rep *RestoreReport) Attempted() bool {
	for _, it := range rep.Items {
		if it.Status != ItemNotAttempted && it.Status != ItemSkipped {
			return true
		}
	}
	return false
}

// RestoreError means some selected blocks could not be restored. The others
// were (the report says which); running the same restore again retries the
// failed ones and leaves the restored ones alone.
type RestoreError struct {
	Failed int
	Total  int
	Err    error // errors.Join of the first failures
}

func (e *RestoreError) Error() string {
	noun := "blocks"
	if e.Total == 1 {
		noun = "block"
	}
	return fmt.Sprintf("%d of %d selected %s could not be restored (the others were; run the same restore again to finish): %v", e.Failed, e.Total, noun, e.Err)
}

func (e *RestoreError) Unwrap() error { return e.Err }

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

func newReport(snap *repo.Snapshot, target string, opts RestoreOptions) *RestoreReport {
	return &RestoreReport{Backup: snap.Backup, Target: target, DryRun: opts.DryRun, Items: []RestoreItem{}, IDMap: []IDMapping{}, FoldersCreated: []string{}}
}

// selectBlocks fills rep.Items with the selected blocks (skips already
// decided) and returns the blocks to work on, indexed like rep.Items (nil for
// a skip).
func selectBlocks(snap *repo.Snapshot, sel *Selection, rep *RestoreReport) []*repo.SnapshotBlock {
	var work []*repo.SnapshotBlock
	for i := range snap.Blocks {
		b := &snap.Blocks[i]
		ok, skip := sel.match(b)
		if !ok {
			continue
		}
		typeName := b.AssetType.Name
		if typeName == "" {
			typeName = sfmc.TypeName(b.AssetType.ID)
		}
		it := RestoreItem{ID: b.ID, CustomerKey: b.CustomerKey, Name: b.Name, Type: typeName, Folder: b.Category.Path,
			ModifiedDate: b.ModifiedDate, Backup: b.Backup, Status: ItemNotAttempted}
		if skip {
			it.Action, it.Status = ActionSkip, ItemSkipped
			it.Reason = fmt.Sprintf("deleted in SFMC (recorded in %s): restore it with --deleted, --id or --key", b.DeletedIn)
			b = nil
		}
		rep.Items = append(rep.Items, it)
		work = append(work, b)
	}
	return work
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

// finish sorts and counts the report.
func finish(rep *RestoreReport) *RestoreReport {
	c := RestoreCounts{Selected: len(rep.Items)}
	for _, it := range rep.Items {
		switch {
		case it.Status == ItemFailed:
			c.Failed++
		case it.Status == ItemNotAttempted:
			c.Pending++
		case it.Action == ActionCreate:
			c.Create++
		case it.Action == ActionUpdate:
			c.Update++
		case it.Action == ActionUnchanged:
			c.Unchanged++
		case it.Action == ActionSkip:
			c.Skip++
		case it.Action == ActionWrite:
			c.Write++
		}
	}
	rep.Counts = c
	rep.IDMap = rep.IDMap[:0]
	for _, it := range rep.Items {
		if it.TargetID != 0 && it.TargetID != it.ID && it.Status != ItemFailed {
			rep.IDMap = append(rep.IDMap, IDMapping{OldID: it.ID, NewID: it.TargetID, CustomerKey: it.CustomerKey, Name: it.Name})
		}
	}
	sort.Strings(rep.FoldersCreated)
	return rep
}

// failure is the *RestoreError of the failed items; errs holds their
// errors, indexed like rep.Items, so that callers still match them with
// errors.Is/As (sfmc.ErrUnauthorized, ...).
func (rep *RestoreReport) failure(errs []error) error {
	if rep.Counts.Failed == 0 {
		return nil
	}
	var first []error
	for i, it := range rep.Items {
		if it.Status != ItemFailed || len(first) >= maxReportedErrors {
			continue
		}
		err := errors.New(it.Error)
		if i < len(errs) && errs[i] != nil {
			err = errs[i]
		}
		first = append(first, fmt.Errorf("block %d (%s): %w", it.ID, it.Name, err))
	}
	return &RestoreError{Failed: rep.Counts.Failed, Total: rep.Counts.Selected, Err: errors.Join(first...)}
}

// restoreRun is the shared state of one Restore call.
type restoreRun struct {
	r     *Restorer
	opts  RestoreOptions
	rep   *RestoreReport
	types []int // asset types of the selected blocks (for the key index)

	fmu     sync.Mutex // folders and rep.FoldersCreated; held while a folder path is resolved or created
	folders map[int64]sfmc.Category
	virtual int64 // next (negative) id of a folder planned in a dry run

	kmu       sync.Mutex
	keys      map[string]int64 // customerKey → id, built on first need
	refreshed bool

	cmu    sync.Mutex
	claims map[int64]int64 // target id → the backed-up id it stands for
}

func (rs *restoreRun) loadFolders(ctx context.Context) error {
	rs.folders = map[int64]sfmc.Category{}
	err := rs.r.Target.ListCategories(ctx, func(c sfmc.Category) error {
		rs.folders[c.ID] = c
		return nil
	})
	if err != nil {
		return fmt.Errorf("list SFMC folders: %w", err)
	}
	return nil
}

// restoreBlock decides and (unless dry run) performs the action for one block.
func (rs *restoreRun) restoreBlock(ctx context.Context, b *repo.SnapshotBlock, it *RestoreItem) error {
	doc, err := readBlockJSON(ctx, rs.r.Store, b)
	if err != nil {
		return err
	}
	cur, how, err := rs.find(ctx, b, docInt(doc, "memberId"), it)
	if err != nil {
		return err
	}
	folderID, err := rs.targetFolder(ctx, b, it)
	if err != nil {
		return err
	}
	if cur != nil {
		it.TargetID = cur.ID
		return rs.update(ctx, b, doc, cur, how, folderID, it)
	}
	return rs.create(ctx, b, doc, folderID, it)
}

// Whether an asset of the target lives in the account the backup came from.
const (
	accountUnknown = iota
	accountSame
	accountOther
)

// account compares the MID the backed-up document names (srcMID, its
// memberId) with the MID of cur, an asset of the target (its memberId, else
// Restorer.TargetMID). Either side unknown gives accountUnknown.
func (rs *restoreRun) account(srcMID int64, cur *sfmc.Asset) int {
	tgt := rawInt(cur.Raw, "memberId")
	if tgt == 0 {
		tgt = rs.r.TargetMID
	}
	switch {
	case srcMID == 0 || tgt == 0:
		return accountUnknown
	case srcMID == tgt:
		return accountSame
	default:
		return accountOther
	}
}

// find looks the block up in the target and returns nil when it is not
// there, saying how it was found. Ids identify a block only within the
// account the backup came from (ids are never reused there), so:
//   - same account (the asset under the backed-up id has the backed-up
//     memberId): the id decides, even when the customerKey was edited since;
//   - another account: an asset under the backed-up id is a stranger (ids
//     collide between accounts and stacks); the block is matched by
//     customerKey and type only;
//   - account unknown (a memberId missing on either side and no
//     Restorer.TargetMID): the asset under the id counts only when its
//     customerKey is the backed-up one too.
//
// Whatever is found is claimed for b: no target id serves two items of one
// restore.
func (rs *restoreRun) find(ctx context.Context, b *repo.SnapshotBlock, srcMID int64, it *RestoreItem) (*sfmc.Asset, string, error) {
	a, err := rs.r.Target.GetAsset(ctx, b.ID)
	switch {
	case err == nil && a.AssetType.ID == b.AssetType.ID:
		acct := rs.account(srcMID, &a)
		switch {
		case acct == accountSame, acct == accountUnknown && b.CustomerKey != "" && a.CustomerKey == b.CustomerKey:
			if owner, ok := rs.claim(a.ID, b.ID); !ok {
				return nil, "", fmt.Errorf("id %d is already claimed by block %d in this restore", a.ID, owner)
			}
			return &a, "", nil
		case acct == accountUnknown:
			it.Notes = append(it.Notes, fmt.Sprintf("id %d holds another customerKey (%q) and its account could not be confirmed as the backup's (no memberId): left alone", a.ID, a.CustomerKey))
		}
	case err == nil:
		// Another kind of asset under this id: not ours.
	case !errors.Is(err, sfmc.ErrNotFound):
		return nil, "", fmt.Errorf("look up id %d: %w", b.ID, err)
	}
	if b.CustomerKey == "" {
		return nil, "", nil
	}
	a, ok, err := rs.findByKey(ctx, b, false)
	if err != nil || !ok {
		return nil, "", err
	}
	if rs.account(srcMID, &a) == accountOther {
		return &a, fmt.Sprintf("another account: found by customerKey as id %d", a.ID), nil
	}
	return &a, fmt.Sprintf("id %d is gone; found by customerKey as id %d", b.ID, a.ID), nil
}

// claim reserves the target id for the backed-up block owner. It fails,
// returning the other owner, when another item of this restore has it.
func (rs *restoreRun) claim(target, owner int64) (int64, bool) {
	rs.cmu.Lock()
	defer rs.cmu.Unlock()
	if o, ok := rs.claims[target]; ok && o != owner {
		return o, false
	}
	if rs.claims == nil {
		rs.claims = map[int64]int64{}
	}
	rs.claims[target] = owner
	return owner, true
}

// findByKey returns the asset of b's type whose customerKey is b's and
// claims it for b; one claimed by another item counts as not found. refresh
// re-reads the key index (once per restore) when the key is unknown.
func (rs *restoreRun) findByKey(ctx context.Context, b *repo.SnapshotBlock, refresh bool) (sfmc.Asset, bool, error) {
	a, ok, err := rs.lookupKey(ctx, b.CustomerKey, b.AssetType.ID, refresh)
	if err != nil || !ok {
		return a, ok, err
	}
	if _, free := rs.claim(a.ID, b.ID); !free {
		return sfmc.Asset{}, false, nil
	}
	return a, true, nil
}

func (rs *restoreRun) lookupKey(ctx context.Context, key string, typeID int, refresh bool) (sfmc.Asset, bool, error) {
	if kf, ok := rs.r.Target.(KeyFinder); ok {
		a, found, err := kf.FindAssetByKey(ctx, key)
		if err != nil {
			return sfmc.Asset{}, false, fmt.Errorf("look up customerKey %q: %w", key, err)
		}
		if !found || a.AssetType.ID != typeID {
			return sfmc.Asset{}, false, nil
		}
		return a, true, nil
	}
	rs.kmu.Lock()
	if rs.keys == nil || refresh && !rs.refreshed {
		if rs.keys != nil {
			rs.refreshed = true
		}
		keys, err := rs.keyIndex(ctx)
		if err != nil {
			rs.kmu.Unlock()
			return sfmc.Asset{}, false, err
		}
		rs.keys = keys
	}
	id, ok := rs.keys[key]
	rs.kmu.Unlock()
	if !ok {
		return sfmc.Asset{}, false, nil
	}
	a, err := rs.r.Target.GetAsset(ctx, id)
	if errors.Is(err, sfmc.ErrNotFound) {
		return sfmc.Asset{}, false, nil
	}
	if err != nil {
		return sfmc.Asset{}, false, fmt.Errorf("look up id %d (customerKey %q): %w", id, key, err)
	}
	if a.CustomerKey != key || a.AssetType.ID != typeID {
		return sfmc.Asset{}, false, nil
	}
	return a, true, nil
}

// keyIndex lists the ids and customerKeys of the selected asset types.
func (rs *restoreRun) keyIndex(ctx context.Context) (map[string]int64, error) {
	keys := map[string]int64{}
	err := rs.r.Target.QueryAssets(ctx, sfmc.AssetQuery{TypeIDs: rs.types, Fields: []string{"id", "customerKey"}}, func(a sfmc.Asset) error {
		if a.CustomerKey != "" {
			keys[a.CustomerKey] = a.ID
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list SFMC customerKeys: %w", err)
	}
	return keys, nil
}

func (rs *restoreRun) rememberKey(key string, id int64) {
	rs.kmu.Lock()
	defer rs.kmu.Unlock()
	if rs.keys != nil && key != "" {
		rs.keys[key] = id
	}
}

// targetFolder returns the SFMC folder the block belongs in: its backed-up
// folder id while that folder exists, else its backed-up path, whose missing
// folders are created (planned, in a dry run, under negative ids). 0 means
// the backup does not know the folder (the block stays where it is, or a
// re-created block goes to the root).
func (rs *restoreRun) targetFolder(ctx context.Context, b *repo.SnapshotBlock, it *RestoreItem) (int64, error) {
	rs.fmu.Lock()
	defer rs.fmu.Unlock()
	if _, ok := rs.folders[b.Category.ID]; ok && b.Category.ID > 0 {
		return b.Category.ID, nil
	}
	segs := repo.SplitCategoryPath(b.Category.Path)
	if len(segs) == 0 {
		if b.Category.ID != 0 {
			it.Notes = append(it.Notes, fmt.Sprintf("folder %d no longer exists and its path is unknown", b.Category.ID))
		}
		return 0, nil
	}
	parent, ok := rs.child(0, segs[0])
	if !ok {
		var roots []int64
		for id, c := range rs.folders {
			if c.ParentID == 0 {
				roots = append(roots, id)
			}
		}
		if len(roots) != 1 {
			return 0, fmt.Errorf("folder %s: the root folder %q does not exist in SFMC", b.Category.Path, segs[0])
		}
		parent = roots[0]
	}
	for i, name := range segs[1:] {
		id, ok := rs.child(parent, name)
		if !ok {
			p := repo.CategoryPath(segs[:i+2])
			if rs.opts.DryRun {
				rs.virtual--
				id = rs.virtual
				rs.folders[id] = sfmc.Category{ID: id, Name: name, ParentID: parent}
			} else {
				c, err := rs.r.Target.CreateCategory(ctx, name, parent)
				if err != nil {
					return 0, fmt.Errorf("create folder %s: %w", p, err)
				}
				id = c.ID
				c.ParentID, c.Name = parent, name
				rs.folders[id] = c
			}
			rs.rep.FoldersCreated = append(rs.rep.FoldersCreated, p) // under fmu
			if rs.opts.DryRun {
				it.Notes = append(it.Notes, "folder "+p+" will be re-created")
			} else {
				it.Notes = append(it.Notes, "folder "+p+" re-created")
			}
		}
		parent = id
	}
	return parent, nil
}

// child finds the folder called name under parent: an exact match first, then
// one differing only in case (SFMC folder names are unique ignoring case).
func (rs *restoreRun) child(parent int64, name string) (int64, bool) {
	var fold int64
	var best int64
	for id, c := range rs.folders {
		if c.ParentID != parent {
			continue
		}
		if c.Name == name && (best == 0 || id < best) {
			best = id
		}
		if strings.EqualFold(c.Name, name) && (fold == 0 || id < fold) {
			fold = id
		}
	}
	if best != 0 {
		return best, true
	}
	return fold, fold != 0
}

// update compares the current asset with the backup and PATCHes what differs.
func (rs *restoreRun) update(ctx context.Context, b *repo.SnapshotBlock, doc map[string]json.RawMessage, cur *sfmc.Asset, how string, folderID int64, it *RestoreItem) error {
	curDoc, err := decodeDoc(cur.Raw)
	if err != nil {
		return fmt.Errorf("current asset %d: %w", cur.ID, err)
	}
	body, changes, notes := diffDocs(doc, curDoc, folderID)
	it.Notes = append(it.Notes, notes...)
	reason := func(s string) string {
		if how != "" {
			return how + "; " + s
		}
		return s
	}
	if len(changes) == 0 {
		it.Action, it.Reason = ActionUnchanged, reason("same as in the backup")
		it.Status = rs.doneStatus()
		return nil
	}
	it.Action, it.Changes = ActionUpdate, changes
	it.Reason = reason("differs in " + strings.Join(changes, ", "))
	if cur.ModifiedDate.After(b.Modified) {
		// Someone edited it after this backup: the restore replaces that edit,
		// and no backup holds it unless a run happened since.
		it.Notes = append(it.Notes, fmt.Sprintf("edited in SFMC after this backup (at %s): run `backup-creator run` first to keep that version",
			cur.ModifiedDate.UTC().Format(time.RFC3339)))
	}
	if folderID < 0 {
		it.Reason += " (its folder will be re-created)"
	}
	if rs.opts.DryRun {
		it.Status = ItemPlanned
		return nil
	}
	for attempt := 0; ; attempt++ {
		body["id"] = json.RawMessage(strconv.FormatInt(cur.ID, 10))
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		_, err = rs.r.Target.UpdateAsset(ctx, cur.ID, raw)
		if err == nil {
			break
		}
		var apiErr *sfmc.APIError
		if attempt > 2 || !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
			return fmt.Errorf("update id %d: %w", cur.ID, err)
		}
		switch _, hasKey := body["customerKey"]; {
		case hasKey && apiErr.KeyTaken():
			delete(body, "customerKey")
			it.Notes = append(it.Notes, fmt.Sprintf("customerKey %q is taken by another asset: kept %q", b.CustomerKey, cur.CustomerKey))
		case body["name"] != nil && apiErr.NameTaken():
			delete(body, "name")
			it.Notes = append(it.Notes, fmt.Sprintf("name %q is taken in the folder: kept %q", b.Name, cur.Name))
		default:
			return fmt.Errorf("update id %d: %w", cur.ID, err)
		}
		if len(body) == 1 { // only the id is left
			it.Action, it.Changes = ActionUnchanged, nil
			it.Reason = reason("only names or keys differ, and those are taken")
			break
		}
	}
	it.Status = ItemDone
	return nil
}

func (rs *restoreRun) doneStatus() string {
	if rs.opts.DryRun {
		return ItemPlanned
	}
	return ItemDone
}

// create re-creates a block that SFMC no longer has.
func (rs *restoreRun) create(ctx context.Context, b *repo.SnapshotBlock, doc map[string]json.RawMessage, folderID int64, it *RestoreItem) error {
	it.Action = ActionCreate
	if b.Deleted != nil {
		it.Reason = fmt.Sprintf("deleted in SFMC (recorded in %s); re-create it", b.DeletedIn)
	} else if b.CustomerKey != "" {
		it.Reason = fmt.Sprintf("id %d and customerKey %q not found in SFMC; re-create it", b.ID, b.CustomerKey)
	} else {
		it.Reason = fmt.Sprintf("id %d not found in SFMC; re-create it", b.ID)
	}
	if folderID < 0 {
		it.Reason += " (its folder will be re-created)"
	}
	if rs.opts.DryRun {
		it.Status = ItemPlanned
		return nil
	}
	body := sfmc.CreateBody(doc, folderID)
	if sfmc.IsFileType(b.AssetType.ID) {
		if f, ok := b.File(repo.RoleFile); ok {
			data, err := repo.ReadFile(ctx, rs.r.Store, b.Backup, f)
			if err != nil {
				return err
			}
			enc, _ := json.Marshal(base64.StdEncoding.EncodeToString(data))
			body["file"] = enc
		}
	}
	name := b.Name
	for attempt := 0; ; attempt++ {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		a, err := rs.r.Target.CreateAsset(ctx, raw)
		if err == nil {
			it.TargetID = a.ID
			rs.rememberKey(a.CustomerKey, a.ID)
			if owner, ok := rs.claim(a.ID, b.ID); !ok {
				return fmt.Errorf("created as id %d, which block %d of this restore claimed as well", a.ID, owner)
			}
			it.Status = ItemDone
			return nil
		}
		var apiErr *sfmc.APIError
		if attempt >= 50 || !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
			return fmt.Errorf("create: %w", err)
		}
		_, hasKey := body["customerKey"]
		switch {
		case hasKey && apiErr.KeyTaken():
			// Maybe it is there after all (created by an earlier restore
			// that the first key lookup did not see yet).
			if a, ok, ferr := rs.findByKey(ctx, b, true); ferr == nil && ok {
				it.TargetID = a.ID
				return rs.update(ctx, b, doc, &a, fmt.Sprintf("id %d is gone; found by customerKey as id %d", b.ID, a.ID), folderID, it)
			}
			delete(body, "customerKey")
			it.Notes = append(it.Notes, fmt.Sprintf("customerKey %q is taken by another asset (another business unit or type): created with a generated key", b.CustomerKey))
		case apiErr.NameTaken():
			next, ok := apiErr.SuggestedName()
			if !ok || next == name {
				next = fmt.Sprintf("%s (%d)", b.Name, attempt+1)
			}
			name = next
			enc, _ := json.Marshal(name)
			body["name"] = enc
			it.Notes = setNameNote(it.Notes, fmt.Sprintf("name %q is taken in the folder: created as %q", b.Name, name))
		default:
			return fmt.Errorf("create: %w", err)
		}
	}
}

func setNameNote(notes []string, note string) []string {
	for i, n := range notes {
		if strings.HasPrefix(n, "name ") {
			notes[i] = note
			return notes
		}
	}
	return append(notes, note)
}

// comparedFields are the writable content fields compared (and PATCHed) besides
// name, customerKey and category.
var comparedFields = []string{"content", "meta", "design", "superContent", "slots", "views", "data", "blocks", "description"}

var collisionSuffix = regexp.MustCompile(`^ \([0-9]+\)$`)

// diffDocs compares the backed-up document with the current one and returns
// the PATCH body (without id) of what differs, the names of those fields, and
// notes. A current name that is the backed-up one plus a Content Builder
// collision suffix (" (1)") counts as equal, so that a block re-created next
// to a namesake is not renamed back and forth.
func diffDocs(backup, current map[string]json.RawMessage, folderID int64) (map[string]json.RawMessage, []string, []string) {
	body := map[string]json.RawMessage{}
	var changes, notes []string
	bName, cName := docString(backup, "name"), docString(current, "name")
	if bName != cName {
		if rest, ok := strings.CutPrefix(cName, bName); ok && bName != "" && collisionSuffix.MatchString(rest) {
			notes = append(notes, fmt.Sprintf("named %q in SFMC (a name collision suffix): left as is", cName))
		} else {
			body["name"], _ = json.Marshal(bName)
			changes = append(changes, "name")
		}
	}
	if bKey := docString(backup, "customerKey"); bKey != "" && bKey != docString(current, "customerKey") {
		body["customerKey"], _ = json.Marshal(bKey)
		changes = append(changes, "customerKey")
	}
	if folderID != 0 {
		var c struct {
			Category struct {
				ID int64 `json:"id"`
			} `json:"category"`
		}
		if raw, ok := docField(current, "category"); ok {
			_ = json.Unmarshal([]byte(`{"category":`+string(raw)+`}`), &c)
		}
		if c.Category.ID != folderID {
			body["category"] = json.RawMessage(`{"id":` + strconv.FormatInt(folderID, 10) + `}`)
			changes = append(changes, "category")
		}
	}
	for _, f := range comparedFields {
		bv, bok := docField(backup, f)
		cv, _ := docField(current, f)
		if jsonEqual(bv, cv) {
			continue
		}
		if !bok || isEmptyJSON(bv) {
			bv = emptyLike(cv)
		}
		body[f] = bv
		changes = append(changes, f)
	}
	return body, changes, notes
}

// docInt is an integer property of doc (0 when absent or not a number).
func docInt(doc map[string]json.RawMessage, name string) int64 {
	raw, _ := docField(doc, name)
	var n int64
	if json.Unmarshal(raw, &n) != nil {
		return 0
	}
	return n
}

// rawInt is docInt of a raw JSON object.
func rawInt(raw json.RawMessage, name string) int64 {
	var doc map[string]json.RawMessage
	if json.Unmarshal(raw, &doc) != nil {
		return 0
	}
	return docInt(doc, name)
}

// emptyLike is the empty value of cur's JSON kind, to clear a field the
// backup did not have.
func emptyLike(cur json.RawMessage) json.RawMessage {
	switch t := bytes.TrimSpace(cur); {
	case len(t) > 0 && t[0] == '{':
		return json.RawMessage(`{}`)
	case len(t) > 0 && t[0] == '[':
		return json.RawMessage(`[]`)
	default:
		return json.RawMessage(`""`)
	}
}

// readBlockJSON reads and checks the backed-up JSON of b.
func readBlockJSON(ctx context.Context, st storage.Store, b *repo.SnapshotBlock) (map[string]json.RawMessage, error) {
	f, ok := b.File(repo.RoleJSON)
	if !ok {
		return nil, fmt.Errorf("backup %s has no JSON file for block %d", b.Backup, b.ID)
	}
	data, err := repo.ReadFile(ctx, st, b.Backup, f)
	if err != nil {
		return nil, err
	}
	doc, err := decodeDoc(data)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", b.Backup, f.Path, err)
	}
	return doc, nil
}

// Modes of what RestoreToDir creates: those the local backend gives the
// backup's own files and folders (pkg/storage/local), whatever the umask.
// Restored blocks are as private as the backup they come from.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// ErrTargetNotEmpty is returned by RestoreToDir for a directory that already
// holds files, unless RestoreOptions.Force is set.
var ErrTargetNotEmpty = errors.New("target directory is not empty")

// RestoreToDir writes the selected blocks of snap into the local directory
// dir instead of SFMC: each block's files exactly as backed up (the JSON as
// SFMC sent it and the readable content or binary), under the same file names
// as in the backup. Every file is checked against its manifest size and sha256
// while it is copied and written atomically (temporary file, then rename). The
// directory is created if missing; one that holds files is refused with
// ErrTargetNotEmpty unless opts.Force (files of the same name are then
// replaced). A dry run only plans. Per-block failures give a *RestoreError.
func RestoreToDir(ctx context.Context, st storage.Store, snap *repo.Snapshot, dir string, opts RestoreOptions) (*RestoreReport, error) {
	rep := newReport(snap, dir, opts)
	if !opts.Force {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return finish(rep), fmt.Errorf("target %s: %w", dir, err)
		}
		if len(entries) > 0 {
			return finish(rep), fmt.Errorf("%s: %w (use --force to write into it)", dir, ErrTargetNotEmpty)
		}
	}
	blocks := selectBlocks(snap, &opts.Select, rep)
	if !opts.DryRun {
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return finish(rep), fmt.Errorf("target %s: %w", dir, err)
		}
	}
	errs := make([]error, len(blocks))
	err := forEach(ctx, opts.Concurrency, blocks, func(ctx context.Context, i int, b *repo.SnapshotBlock) error {
		it := &rep.Items[i]
		it.Action = ActionWrite
		it.Reason = "write the backed-up files"
		for _, f := range b.Files {
			it.Files = append(it.Files, path.Base(f.Path))
		}
		if opts.DryRun {
			it.Status = ItemPlanned
			return nil
		}
		for _, f := range b.Files {
			if err := copyBlockFile(ctx, st, b.Backup, f, filepath.Join(dir, path.Base(f.Path))); err != nil {
				it.Status, it.Error = ItemFailed, err.Error()
				errs[i] = err
				return nil
			}
		}
		it.Status = ItemDone
		return nil
	})
	finish(rep)
	if err != nil {
		return rep, err
	}
	return rep, rep.failure(errs)
}

// copyBlockFile streams one backed-up file into dst, checking it on the way.
func copyBlockFile(ctx context.Context, st storage.Store, folder string, f repo.ManifestFile, dst string) (err error) {
	key := path.Join(folder, f.Path)
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".restore-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), rc)
	if err != nil {
		return fmt.Errorf("copy %s: %w", key, err)
	}
	if n != f.Size || !strings.EqualFold(hex.EncodeToString(h.Sum(nil)), f.SHA256) {
		return fmt.Errorf("%s does not match its manifest entry (size or sha256): the backup is damaged, run verify", key)
	}
	if err = tmp.Chmod(fileMode); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}
