package repo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// ManifestFormatVersion is the version of manifest.json's layout.
const ManifestFormatVersion = 1

// Manifest is the content of a backup folder's manifest.json. Its presence
// marks the backup complete; it is written after every file it lists is
// durably stored.
type Manifest struct {
	FormatVersion int       `json:"formatVersion"`
	Tool          string    `json:"tool"`
	ToolVersion   string    `json:"toolVersion"`
	Name          string    `json:"name"`
	StartedAt     time.Time `json:"startedAt"`
	FinishedAt    time.Time `json:"finishedAt"`
	AccountID     string    `json:"accountId,omitempty"`
	// Query records what the run asked SFMC for.
	Query ManifestQuery `json:"query"`
	// Watermark is the state the run started from and the one it reached.
	Watermark ManifestWatermark `json:"watermark"`
	Counts    ManifestCounts    `json:"counts"`
	Blocks    []ManifestBlock   `json:"blocks"`
	// Deleted lists blocks recorded as deleted in SFMC since the previous backup.
	Deleted []DeletedBlock `json:"deleted,omitempty"`
}

// ManifestQuery describes the selection a run made.
type ManifestQuery struct {
	TypeIDs []int `json:"typeIds"`
	// ModifiedSince is the lower bound sent to SFMC (watermark minus overlap),
	// absent for a full backup.
	ModifiedSince *time.Time `json:"modifiedSince,omitempty"`
	Full          bool       `json:"full"`
}

// ManifestWatermark holds the watermark a run started from and the one it reached.
type ManifestWatermark struct {
	From *time.Time `json:"from,omitempty"`
	To   *time.Time `json:"to,omitempty"`
}

// ManifestCounts sums up a backup.
type ManifestCounts struct {
	Blocks int   `json:"blocks"`
	Files  int   `json:"files"`
	Bytes  int64 `json:"bytes"`
}

// ManifestBlock is one backed-up block.
type ManifestBlock struct {
	ID          int64            `json:"id"`
	CustomerKey string           `json:"customerKey"`
	Name        string           `json:"name"`
	AssetType   ManifestType     `json:"assetType"`
	Category    ManifestCategory `json:"category"`
	// ModifiedDate is the block's modifiedDate exactly as SFMC sent it.
	ModifiedDate string `json:"modifiedDate"`
	// Modified is ModifiedDate as a UTC instant.
	Modified time.Time      `json:"modified"`
	Files    []ManifestFile `json:"files"`
	// CarriedFrom names the backup that first stored this version, when prune
	// carried it into this backup because the backup it lived in was removed
	// while this one still needed it. Its files then lie under
	// carried/<CarriedFrom>/ in this backup's folder. It is not a new version.
	CarriedFrom string `json:"carriedFrom,omitempty"`
}

// ManifestType is an asset type reference.
type ManifestType struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// ManifestCategory is the block's folder, with its full path from the root.
type ManifestCategory struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Path is the folder path from the root, segments joined by "/", with "/"
	// and "\" inside a folder name escaped by a backslash (see CategoryPath).
	Path string `json:"path"`
}

// File roles in a manifest entry.
const (
	RoleJSON    = "json"    // the asset's JSON exactly as SFMC returned it
	RoleContent = "content" // the block's content as a readable file
	RoleFile    = "file"    // the binary of a file asset (image, document)
)

// ManifestFile is one stored file of a block.
type ManifestFile struct {
	// Path is relative to the backup folder, with "/" separators.
	Path   string `json:"path"`
	Role   string `json:"role"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// DeletedBlock is a tombstone: a block that an earlier backup holds and that no
// longer exists in SFMC.
type DeletedBlock struct {
	ID          int64  `json:"id"`
	CustomerKey string `json:"customerKey,omitempty"`
	Name        string `json:"name,omitempty"`
	// LastBackup is the backup folder that holds the block's newest version.
	LastBackup string    `json:"lastBackup,omitempty"`
	DetectedAt time.Time `json:"detectedAt"`
	// CarriedFrom names the backup that first recorded this deletion, when
	// prune carried the tombstone into this backup (see ManifestBlock).
	CarriedFrom string `json:"carriedFrom,omitempty"`
}

// CarriedDir is the folder, inside a backup folder, that holds the files
// prune carried into it from removed backups: carried/<origin>/blocks/...
const CarriedDir = "carried"

// ReadManifest reads and decodes folder/manifest.json. A missing manifest
// gives an error wrapping storage.ErrNotFound (the backup is incomplete).
func ReadManifest(ctx context.Context, st storage.Store, folder string) (*Manifest, error) {
	rc, _, err := st.Get(ctx, path.Join(folder, ManifestName))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var m Manifest
	dec := json.NewDecoder(bufio.NewReader(rc))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", folder, ManifestName, err)
	}
	if m.FormatVersion > ManifestFormatVersion {
		return nil, fmt.Errorf("%s/%s has format version %d; this backup-creator reads up to %d: upgrade it",
			folder, ManifestName, m.FormatVersion, ManifestFormatVersion)
	}
	return &m, nil
}

// ManifestWriter collects manifest entries on disk while they are produced
// (by a run, or by prune rewriting a manifest), so that memory does not grow
// with the number of blocks, then writes manifest.json in one Put. It is not
// safe for concurrent use.
type ManifestWriter struct {
	f     *os.File
	w     *bufio.Writer
	enc   *json.Encoder
	n     int
	files int
	bytes int64
}

// NewManifestWriter starts an empty manifest. Close it when done.
func NewManifestWriter() (*ManifestWriter, error) {
	f, err := os.CreateTemp("", "backup-creator-manifest-*.jsonl")
	if err != nil {
		return nil, fmt.Errorf("create manifest spool: %w", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	return &ManifestWriter{f: f, w: w, enc: json.NewEncoder(w)}, nil
}

// Add appends one block entry.
func (s *ManifestWriter) Add(b ManifestBlock) error {
	s.n++
	s.files += len(b.Files)
	for _, f := range b.Files {
		s.bytes += f.Size
	}
	return s.enc.Encode(b)
}

// Counts sums up the entries added so far.
func (s *ManifestWriter) Counts() ManifestCounts {
	return ManifestCounts{Blocks: s.n, Files: s.files, Bytes: s.bytes}
}

// Close removes the writer's temporary files. It is safe to call more than once.
func (s *ManifestWriter) Close() {
	if s == nil || s.f == nil {
		return
	}
	name := s.f.Name()
	_ = s.f.Close()
	_ = os.Remove(name)
	s.f = nil
}

// Put renders the manifest (header from m, blocks from the entries added)
// and stores it as m.Name/manifest.json with opts (a new backup uses
// IfNotExists; prune rewriting a manifest uses IfVersion). This is the commit
// point of a backup: every file the entries list must be durable before.
func (s *ManifestWriter) Put(ctx context.Context, st storage.Store, m *Manifest, opts storage.PutOptions) (storage.ObjectInfo, error) {
	f, size, err := s.render(m)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	key := path.Join(m.Name, ManifestName)
	if opts.ContentType == "" {
		opts.ContentType = "application/json"
	}
	info, err := st.Put(ctx, key, f, size, opts)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("write manifest %s: %w", key, err)
	}
	return info, nil
}

// render writes the manifest into a temporary file and returns it,
// positioned at the start, with its size. The caller closes and removes it.
func (s *ManifestWriter) render(m *Manifest) (*os.File, int64, error) {
	if err := s.w.Flush(); err != nil {
		return nil, 0, fmt.Errorf("flush manifest spool: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, fmt.Errorf("rewind manifest spool: %w", err)
	}
	out, err := os.CreateTemp("", "backup-creator-manifest-*.json")
	if err != nil {
		return nil, 0, fmt.Errorf("create manifest file: %w", err)
	}
	fail := func(err error) (*os.File, int64, error) {
		_ = out.Close()
		_ = os.Remove(out.Name())
		return nil, 0, err
	}
	head := *m
	head.Blocks = nil
	headJSON, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return fail(err)
	}
	// The only unescaped "blocks": null in headJSON is the key itself (quotes
	// inside string values are escaped); replace its value by streaming the
	// spooled entries.
	const nullBlocks = "\"blocks\": null"
	i := bytes.Index(headJSON, []byte(nullBlocks))
	if i < 0 {
		return fail(errors.New("manifest: blocks field missing"))
	}
	w := bufio.NewWriterSize(out, 64<<10)
	w.Write(headJSON[:i])
	w.WriteString("\"blocks\": [")
	sc := bufio.NewScanner(s.f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	first := true
	for sc.Scan() {
		if first {
			w.WriteString("\n    ")
			first = false
		} else {
			w.WriteString(",\n    ")
		}
		w.Write(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		return fail(fmt.Errorf("read manifest spool: %w", err))
	}
	if !first {
		w.WriteString("\n  ")
	}
	w.WriteString("]")
	w.Write(headJSON[i+len(nullBlocks):])
	w.WriteString("\n")
	if err := w.Flush(); err != nil {
		return fail(fmt.Errorf("write manifest: %w", err))
	}
	size, err := out.Seek(0, io.SeekCurrent)
	if err != nil {
		return fail(err)
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	return out, size, nil
}
