package restore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

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

	lmu       sync.Mutex
	later     map[int64]int64 // block id → newest modified (Unix ns) in the backups after the restored one
	laterRead bool            // later was read (nil when that failed)
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
	// Someone edited it after this backup: the restore replaces that edit.
	// A later backup of this destination may hold that version (only when
	// the asset is of the account the backup came from).
	edited := cur.ModifiedDate.After(b.Modified)
	held := edited && rs.account(docInt(doc, "memberId"), cur) != accountOther && rs.heldLater(ctx, cur.ID, cur.ModifiedDate)
	editNote := func(replaced bool) {
		at := cur.ModifiedDate.UTC().Format(time.RFC3339)
		switch {
		case !edited:
		case held:
			it.Notes = append(it.Notes, fmt.Sprintf("edited in SFMC after this backup (at %s); a later backup holds that version (`backup-creator restore latest --id %d` brings it back)", at, cur.ID))
		case replaced:
			it.Notes = append(it.Notes, fmt.Sprintf("edited in SFMC after this backup (at %s); no backup held that version, and it was replaced", at))
		default:
			it.Notes = append(it.Notes, fmt.Sprintf("edited in SFMC after this backup (at %s), and no backup holds that version: run `backup-creator run` first to keep it", at))
		}
	}
	if folderID < 0 {
		it.Reason += " (its folder will be re-created)"
	}
	if rs.opts.DryRun {
		editNote(false)
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
	if it.Action == ActionUpdate {
		editNote(true)
	}
	it.Status = ItemDone
	return nil
}

// heldLater reports whether a backup of the destination made after the
// restored one holds block id at modified or later. The versions of those
// backups are read once, on first need (a restore of the latest backup
// reads none); when they cannot be read, no version counts as held.
func (rs *restoreRun) heldLater(ctx context.Context, id int64, modified time.Time) bool {
	rs.lmu.Lock()
	defer rs.lmu.Unlock()
	if !rs.laterRead {
		rs.laterRead = true
		later, err := laterVersions(ctx, rs.r.Store, rs.rep.Backup)
		if err != nil {
			rs.r.Log.Debug().Err(err).Msg("backups after the restored one not read: edits since are noted as not backed up")
		}
		rs.later = later
	}
	n, ok := rs.later[id]
	return ok && n >= modified.UnixNano()
}

// laterVersions maps every block id found in the complete backups after
// backup to the newest modified instant (Unix ns) they hold for it.
func laterVersions(ctx context.Context, st storage.Store, backup string) (map[int64]int64, error) {
	list, err := repo.ListBackups(ctx, st)
	if err != nil {
		return nil, err
	}
	later := map[int64]int64{}
	for _, bi := range list {
		if bi.Name <= backup || !bi.Complete() {
			continue
		}
		_, err := repo.ScanBackup(ctx, st, bi.Name, func(b repo.ManifestBlock) error {
			if n := b.Modified.UnixNano(); n > later[b.ID] {
				later[b.ID] = n
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return later, nil
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
