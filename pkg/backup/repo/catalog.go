package repo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// Backup status values of a BackupInfo.
const (
	// BackupComplete: the folder has a readable manifest.json.
	BackupComplete = "complete"
	// BackupIncomplete: the folder has no manifest.json (a run that failed or
	// is still under way). Restore and verify ignore it.
	BackupIncomplete = "incomplete"
	// BackupDamaged: manifest.json exists but cannot be decoded.
	BackupDamaged = "damaged"
	// BackupUnrecognized: a folder whose name starts like a backup's but
	// does not parse as one (backup_YYYYMMDD[_HHMMSS[_N]]). Nothing reads it;
	// prune refuses to act while one exists.
	BackupUnrecognized = "unrecognized"
)

// LatestRef is the backup reference that names the newest complete backup.
const LatestRef = "latest"

// ErrNoBackup is wrapped by the errors that mean "no such backup": an unknown
// folder name, "latest" in a destination without a complete backup, or a
// time before the first complete backup.
var ErrNoBackup = errors.New("no such backup")

// ErrIncomplete is wrapped by the error returned for a backup folder that has
// no manifest.json.
var ErrIncomplete = errors.New("backup is incomplete (no manifest.json)")

// ErrDamaged means a backup's manifest cannot be read. A restore from it, or
// from any later backup, could silently miss the blocks it holds, so restore
// refuses instead.
var ErrDamaged = errors.New("backup has a damaged manifest")

// BackupInfo describes one backup folder of a destination, as ListBackups
// reports it. Its JSON form is part of `backup-creator list --json`.
type BackupInfo struct {
	// Name is the folder name, e.g. "backup_20261123".
	Name string `json:"name"`
	// Status is BackupComplete, BackupIncomplete or BackupDamaged.
	Status string `json:"status"`
	// StartedAt and FinishedAt come from the manifest (absent when incomplete).
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// Full tells whether the run backed up every block (no watermark).
	Full bool `json:"full"`
	// Blocks is the number of block versions in the backup (0 when incomplete).
	Blocks int `json:"blocks"`
	// Deleted is the number of tombstones the backup records.
	Deleted int `json:"deleted"`
	// Files and Bytes count the block files: from the manifest for a complete
	// backup, from the folder's listing (manifest excluded) otherwise.
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Watermark is the watermark the run reached (absent when incomplete).
	Watermark *time.Time `json:"watermark,omitempty"`
	// ToolVersion is the backup-creator version that wrote the manifest.
	ToolVersion string `json:"toolVersion,omitempty"`
	// Error says why a damaged manifest could not be read.
	Error string `json:"error,omitempty"`
	// Newest is the newest modification time of the folder's objects (what
	// prune uses to age incomplete folders).
	Newest time.Time `json:"-"`
}

// Complete reports whether the backup has a readable manifest.
func (b BackupInfo) Complete() bool { return b.Status == BackupComplete }

// ListBackups returns every backup folder of the destination, oldest first
// (folder names sort by their start time). It lists the destination once and
// reads each manifest's header and tombstones; block entries are skipped
// without being kept.
func ListBackups(ctx context.Context, st storage.Store) ([]BackupInfo, error) {
	type folderStat struct {
		files       int
		bytes       int64
		hasManifest bool
		newest      time.Time
	}
	folders := map[string]*folderStat{}
	err := st.List(ctx, FolderPrefix, func(o storage.ObjectInfo) error {
		name, rest, ok := strings.Cut(o.Key, "/")
		if !ok || !strings.HasPrefix(name, FolderPrefix) {
			return nil
		}
		fs := folders[name]
		if fs == nil {
			fs = &folderStat{}
			folders[name] = fs
		}
		if o.ModTime.After(fs.newest) {
			fs.newest = o.ModTime
		}
		if rest == ManifestName {
			fs.hasManifest = true
			return nil
		}
		fs.files++
		fs.bytes += o.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list backups in %s: %w", st, err)
	}
	out := make([]BackupInfo, 0, len(folders))
	for name, fs := range folders {
		bi := BackupInfo{Name: name, Status: BackupIncomplete, Files: fs.files, Bytes: fs.bytes, Newest: fs.newest}
		if _, err := FolderTime(name); err != nil || !IsFolderName(name) {
			bi.Status = BackupUnrecognized
			bi.Error = fmt.Sprintf("%q does not parse as a backup folder name (backup_YYYYMMDD[_HHMMSS[_N]])", name)
			fs.hasManifest = false
		}
		out = append(out, bi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range out {
		if !folders[out[i].Name].hasManifest {
			continue
		}
		g.Go(func() error {
			m, err := ScanBackup(gctx, st, out[i].Name, nil)
			if err != nil {
				if isDecodeError(err) {
					out[i].Status = BackupDamaged
					out[i].Error = err.Error()
					return nil
				}
				return err
			}
			newest := out[i].Newest
			out[i] = infoFromManifest(out[i].Name, m)
			out[i].Newest = newest
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func infoFromManifest(name string, m *Manifest) BackupInfo {
	bi := BackupInfo{
		Name: name, Status: BackupComplete, Full: m.Query.Full,
		Blocks: m.Counts.Blocks, Deleted: len(m.Deleted), Files: m.Counts.Files, Bytes: m.Counts.Bytes,
		ToolVersion: m.ToolVersion,
	}
	if !m.StartedAt.IsZero() {
		t := m.StartedAt.UTC()
		bi.StartedAt = &t
	}
	if !m.FinishedAt.IsZero() {
		t := m.FinishedAt.UTC()
		bi.FinishedAt = &t
	}
	if m.Watermark.To != nil {
		t := m.Watermark.To.UTC()
		bi.Watermark = &t
	}
	return bi
}

// isDecodeError tells a manifest that cannot be parsed apart from a failure
// to read it.
func isDecodeError(err error) bool {
	var (
		syn  *json.SyntaxError
		typ  *json.UnmarshalTypeError
		bad  *manifestFormatError
		vers *manifestVersionError
	)
	// A truncated manifest ends the decoder with (unexpected) EOF.
	return errors.As(err, &syn) || errors.As(err, &typ) || errors.As(err, &bad) || errors.As(err, &vers) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// checkEntry refuses what backup-creator never writes and a reader must not
// follow: a file path that is not a clean relative path below blocks/ or
// carried/ of its own folder (a crafted "../…" would make restore read, and
// prune write, outside the backup), or a carriedFrom that is not a backup
// folder name. It returns "" for a sound entry.
func checkEntry(b *ManifestBlock) string {
	for _, f := range b.Files {
		p := f.Path
		if p == "" || path.IsAbs(p) || path.Clean(p) != p || strings.Contains(p, "\\") ||
			!(strings.HasPrefix(p, BlocksDir+"/") || strings.HasPrefix(p, CarriedDir+"/")) ||
			slices.Contains(strings.Split(p, "/"), "..") {
			return fmt.Sprintf("file path %q is not a path below %s/ or %s/ of the backup folder", p, BlocksDir, CarriedDir)
		}
		if f.Size < 0 {
			return fmt.Sprintf("file %q has a negative size", p)
		}
	}
	if b.CarriedFrom != "" && !IsFolderName(b.CarriedFrom) {
		return fmt.Sprintf("carriedFrom %q is not a backup folder name", b.CarriedFrom)
	}
	return ""
}

// IsDamaged reports whether err says a manifest cannot be trusted (it does
// not parse, is not what backup-creator writes, or has a format version this
// build does not know), as opposed to a failure to read it.
func IsDamaged(err error) bool { return isDecodeError(err) }

// manifestFormatError is a manifest whose structure is not what we write.
type manifestFormatError struct{ msg string }

func (e *manifestFormatError) Error() string { return e.msg }

// manifestVersionError is a manifest written by a newer backup-creator.
type manifestVersionError struct {
	folder  string
	version int
}

func (e *manifestVersionError) Error() string {
	return fmt.Sprintf("%s/%s has format version %d; this backup-creator reads up to %d: upgrade it",
		e.folder, ManifestName, e.version, ManifestFormatVersion)
}

// Latest returns the newest complete backup, or an error wrapping ErrNoBackup
// when the destination has none.
func Latest(ctx context.Context, st storage.Store) (*BackupInfo, error) {
	list, err := ListBackups(ctx, st)
	if err != nil {
		return nil, err
	}
	return latestOf(list, st)
}

func latestOf(list []BackupInfo, st storage.Store) (*BackupInfo, error) {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Complete() {
			return &list[i], nil
		}
	}
	return nil, fmt.Errorf("%s holds no complete backup: %w", st, ErrNoBackup)
}

// ResolveBackup finds the backup a user named: a folder name, or "latest" (or
// "") for the newest complete one. An unknown name gives an error wrapping
// ErrNoBackup; an incomplete folder is returned as it is (Status tells).
func ResolveBackup(ctx context.Context, st storage.Store, ref string) (*BackupInfo, error) {
	list, err := ListBackups(ctx, st)
	if err != nil {
		return nil, err
	}
	return resolveIn(list, st, ref)
}

func resolveIn(list []BackupInfo, st storage.Store, ref string) (*BackupInfo, error) {
	ref = strings.TrimSuffix(strings.TrimSpace(ref), "/")
	if ref == "" || ref == LatestRef {
		return latestOf(list, st)
	}
	for i := range list {
		if list[i].Name == ref {
			return &list[i], nil
		}
	}
	if !IsFolderName(ref) {
		return nil, fmt.Errorf("%q is not a backup name (backup_YYYYMMDD[_HHMMSS]) or %q: %w", ref, LatestRef, ErrNoBackup)
	}
	return nil, fmt.Errorf("backup %s not found in %s: %w", ref, st, ErrNoBackup)
}

// ScanBackup reads folder/manifest.json as a stream: it calls fn (when not
// nil) for every block entry in order, without keeping them, and returns the
// manifest with Blocks nil and everything else (tombstones included) filled
// in. A missing manifest gives an error wrapping ErrIncomplete and
// storage.ErrNotFound. An error from fn stops the scan and is returned
// unchanged.
func ScanBackup(ctx context.Context, st storage.Store, folder string, fn func(ManifestBlock) error) (*Manifest, error) {
	key := path.Join(folder, ManifestName)
	rc, _, err := st.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w: %w", folder, ErrIncomplete, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(rc, 64<<10))
	bad := func(format string, a ...any) error {
		return fmt.Errorf("read %s: %w", key, &manifestFormatError{msg: fmt.Sprintf(format, a...)})
	}
	if t, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	} else if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, bad("not a JSON object")
	}
	head := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		name, _ := t.(string)
		if !strings.EqualFold(name, "blocks") {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("read %s: %w", key, err)
			}
			head[name] = raw
			continue
		}
		t, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		if t == nil {
			continue // "blocks": null
		}
		if d, ok := t.(json.Delim); !ok || d != '[' {
			return nil, bad("blocks is not an array")
		}
		for dec.More() {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("read %s: %w", key, err)
			}
			if fn == nil {
				// Skip the entry: decoding into no field checks its syntax
				// and keeps nothing (not even a copy of its bytes).
				var skip struct{}
				if err := dec.Decode(&skip); err != nil {
					return nil, fmt.Errorf("read %s: %w", key, err)
				}
				continue
			}
			var b ManifestBlock
			if err := dec.Decode(&b); err != nil {
				return nil, fmt.Errorf("read %s: %w", key, err)
			}
			if msg := checkEntry(&b); msg != "" {
				return nil, bad("block %d: %s", b.ID, msg)
			}
			if err := fn(b); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	hb, err := json.Marshal(head)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var m Manifest
	if err := json.Unmarshal(hb, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if m.FormatVersion > ManifestFormatVersion {
		return nil, &manifestVersionError{folder: folder, version: m.FormatVersion}
	}
	m.Blocks = nil
	return &m, nil
}

// SnapshotBlock is one block of a point-in-time state: the newest version of
// the block found in the backups up to the snapshot's, and the tombstone
// recorded after it, if any.
type SnapshotBlock struct {
	ManifestBlock
	// Backup is the folder that holds this version.
	Backup string
	// Deleted is the tombstone recorded after this version (nil: the block
	// still existed in SFMC when the snapshot's backup ran, as far as the
	// backups know).
	Deleted *DeletedBlock
	// DeletedIn is the backup whose manifest records Deleted.
	DeletedIn string
}

// File returns the block's file of the given role, if the backup has one.
func (b *SnapshotBlock) File(role string) (ManifestFile, bool) {
	for _, f := range b.Files {
		if f.Role == role {
			return f, true
		}
	}
	return ManifestFile{}, false
}

// Snapshot is the state of the backed-up blocks as of one complete backup.
type Snapshot struct {
	// Backup is the backup the state is as of.
	Backup string
	// StartedAt is when that backup's run started.
	StartedAt time.Time
	// Backups are the complete backups the state draws from, oldest first.
	Backups []string
	// Blocks holds one entry per block id, sorted by id.
	Blocks []SnapshotBlock
}

// LoadSnapshot resolves the state of every backed-up block as of a backup:
// ref names it (a folder name, or "latest"/"" for the newest complete one),
// or, when at is not zero, it is the newest complete backup started at or
// before at (ref must then be "" or "latest"). For each block id the newest
// version by modified instant is kept (ties go to the later backup) among the
// complete backups up to that one; a tombstone recorded in one of them after
// that version marks the block deleted. Memory grows with the number of block
// ids, not with their content.
func LoadSnapshot(ctx context.Context, st storage.Store, ref string, at time.Time) (*Snapshot, error) {
	target, backups, err := snapshotBackups(ctx, st, ref, at)
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{Backup: target.Name}
	if target.StartedAt != nil {
		snap.StartedAt = *target.StartedAt
	}
	c := NewChain()
	for _, name := range backups {
		if _, err := c.Add(ctx, st, name, nil); err != nil {
			return nil, err
		}
	}
	snap.Backups = c.Backups()
	snap.Blocks = c.State()
	return snap, nil
}

// snapshotBackups finds the backup a snapshot is as of (see LoadSnapshot for
// ref and at) and returns it with the complete backups the state draws
// from, oldest first. A damaged backup among them is an error wrapping
// ErrDamaged: restoring past it could silently miss the blocks it holds.
func snapshotBackups(ctx context.Context, st storage.Store, ref string, at time.Time) (*BackupInfo, []string, error) {
	list, err := ListBackups(ctx, st)
	if err != nil {
		return nil, nil, err
	}
	var target *BackupInfo
	if !at.IsZero() {
		if r := strings.TrimSpace(ref); r != "" && r != LatestRef {
			return nil, nil, fmt.Errorf("give either a backup name or a time, not both")
		}
		for i := range list {
			if list[i].Complete() && list[i].StartedAt != nil && !list[i].StartedAt.After(at) {
				target = &list[i]
			}
		}
		if target == nil {
			return nil, nil, fmt.Errorf("no complete backup in %s started at or before %s: %w", st, at.UTC().Format(time.RFC3339), ErrNoBackup)
		}
	} else {
		if target, err = resolveIn(list, st, ref); err != nil {
			return nil, nil, err
		}
		if !target.Complete() {
			if target.Status == BackupDamaged {
				return nil, nil, fmt.Errorf("backup %s (%s): %w", target.Name, target.Error, ErrDamaged)
			}
			return nil, nil, fmt.Errorf("backup %s: %w", target.Name, ErrIncomplete)
		}
	}
	var backups []string
	for _, bi := range list {
		if bi.Name > target.Name {
			break
		}
		if bi.Status == BackupDamaged {
			return nil, nil, fmt.Errorf("backup %s (%s): every later backup depends on it, so restoring from %s could miss blocks; run `backup-creator verify --all`, and repair or move that folder away: %w",
				bi.Name, bi.Error, target.Name, ErrDamaged)
		}
		if bi.Complete() {
			backups = append(backups, bi.Name)
		}
	}
	return target, backups, nil
}

// FreeFolder returns the name of the backup folder for a run started at t:
// the first of backup_YYYYMMDD, backup_YYYYMMDD_HHMMSS,
// backup_YYYYMMDD_HHMMSS_2, … that holds no object yet and sorts after every
// folder of that day. The second condition keeps folder names in the order
// the backups were made (the order the chain is read in) also when a name was
// freed: after prune removed backup_20261201, a later run that day must not
// take that name, which sorts before the day's backup_20261201_HHMMSS
// folders. Call it under the lock, so that no other run can race for a name.
func FreeFolder(ctx context.Context, st storage.Store, t time.Time) (string, error) {
	for seq := 0; seq < 100; seq++ {
		name := FolderName(t, seq)
		taken, err := anyObject(ctx, st, name+"/")
		if err != nil {
			return "", fmt.Errorf("check backup folder %s: %w", name, err)
		}
		if taken {
			continue
		}
		// Names that sort after this one the same day extend it with "_".
		later, err := anyObject(ctx, st, name+"_")
		if err != nil {
			return "", fmt.Errorf("check backup folder %s: %w", name, err)
		}
		if !later {
			return name, nil
		}
	}
	return "", fmt.Errorf("no free backup folder name for %s", t.UTC().Format(time.RFC3339))
}

// anyObject reports whether some object's key starts with prefix.
func anyObject(ctx context.Context, st storage.Store, prefix string) (bool, error) {
	found := false
	err := st.List(ctx, prefix, func(storage.ObjectInfo) error {
		found = true
		return errStopList
	})
	if err != nil && !errors.Is(err, errStopList) {
		return false, err
	}
	return found, nil
}

var errStopList = errors.New("stop listing")
