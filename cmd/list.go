package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc"

	"github.com/spf13/cobra"

	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// ListOptions are the parsed arguments of `list`.
type ListOptions struct {
	// Backup is the backup whose blocks to list ("" lists the backups).
	Backup string
	JSON   bool
}

const destFlagHelp = "destination: a directory, file://PATH, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or azblob://CONTAINER/PREFIX"

func newListCmd(a *App, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{}
	c := &cobra.Command{
		Use:   "list [BACKUP|latest]",
		Short: "List the backups in the destination, or the blocks in one backup",
		Long: `Without an argument, list every backup folder in the destination, oldest first: its
name, start time (UTC), status (complete, incomplete = no manifest, the run failed or is
under way; damaged = unreadable manifest), the blocks it holds, the deletions it recorded,
its files and bytes, and the watermark it reached.

With a backup name (or "latest", the newest complete backup), list the blocks in it (id,
customerKey, type, folder path, name, modifiedDate, size) and the blocks it recorded as
deleted in SFMC. Each backup holds only what changed since the previous one: use
"restore --dry-run" to see the state as of a backup.

With account_ids, run backs each business unit up into <dest>/mid-<MID>: list (and
every other command but run and prune) reads one unit, --dest <dest>/mid-<MID>; on
<dest> itself it says so, naming the unit folders there.

--json prints one JSON object instead of the table (its fields are listed in README.md, section "list").

EXIT STATUS
  0    success (also for an empty destination)
  1    failure (destination unreadable; the named backup does not exist, is
       incomplete or has a damaged manifest)
  2    usage or configuration error
  130  interrupted by SIGINT/SIGTERM`,
		Example: `  backup-creator list
  backup-creator list latest --dest s3://my-bucket/sfmc
  backup-creator list backup_20261123 --json`,
		Args: maxArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Backup = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return a.runList(c.Context(), opts)
		},
	}
	f := c.Flags()
	f.String("dest", "./backups", destFlagHelp)
	f.BoolVar(&opts.JSON, "json", false, "print JSON instead of a table")
	return c
}

// openDestination checks the destination settings and opens it; SFMC
// settings are not needed.
func (a *App) openDestination(ctx context.Context) (storage.Store, error) {
	if p := a.cfg.Problems(false); len(p) > 0 {
		return nil, invalidConfig(p)
	}
	if err := mustExist(a.cfg.Dest); err != nil {
		return nil, err
	}
	st, err := a.NewStore(ctx, a.cfg)
	if err != nil {
		return nil, a.interrupted(ctx, fmt.Errorf("destination: %w", err))
	}
	return st, nil
}

// mustExist refuses a local destination that does not exist, for commands
// that only read it: a mistyped path or the wrong working directory must not
// look like "no backups" (nor leave an empty directory behind).
func mustExist(dest string) error {
	d, err := config.ParseDest(dest)
	if err != nil || d.Scheme != "file" {
		return nil
	}
	if _, err := os.Stat(d.Path); errors.Is(err, fs.ErrNotExist) {
		abs, _ := filepath.Abs(d.Path)
		return fmt.Errorf("destination %s does not exist: check --dest (or dest / BACKUP_CREATOR_DEST) and the working directory", abs)
	}
	return nil
}

// listJSON is the output of `list --json`.
type listJSON struct {
	Destination string            `json:"destination"`
	Latest      string            `json:"latest,omitempty"`
	Backups     []repo.BackupInfo `json:"backups"`
}

// blockJSON is one block of `list BACKUP --json`.
type blockJSON struct {
	ID           int64               `json:"id"`
	CustomerKey  string              `json:"customerKey"`
	Name         string              `json:"name"`
	Type         string              `json:"type"`
	TypeID       int                 `json:"typeId"`
	Folder       string              `json:"folder"`
	FolderID     int64               `json:"folderId"`
	ModifiedDate string              `json:"modifiedDate"`
	Modified     time.Time           `json:"modified"`
	Size         int64               `json:"size"`
	Files        []repo.ManifestFile `json:"files"`
}

// backupJSON is the output of `list BACKUP --json`. Blocks is left nil and
// streamed in its place (writeJSONWith).
type backupJSON struct {
	Destination string              `json:"destination"`
	Backup      repo.BackupInfo     `json:"backup"`
	Blocks      []blockJSON         `json:"blocks"`
	Deleted     []repo.DeletedBlock `json:"deleted"`
}

func (a *App) runList(ctx context.Context, opts *ListOptions) error {
	st, err := a.openDestination(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if opts.Backup == "" {
		list, err := repo.ListBackups(ctx, st)
		if err != nil {
			return a.interrupted(ctx, err)
		}
		out := listJSON{Destination: st.String(), Backups: list}
		for i := len(list) - 1; i >= 0; i-- {
			if list[i].Complete() {
				out.Latest = list[i].Name
				break
			}
		}
		if opts.JSON {
			return writeJSON(a.Out, out)
		}
		hint := ""
		if len(list) == 0 {
			hint = a.unitsHint(ctx, st)
		}
		return printBackups(a.Out, out, hint)
	}

	lowerGCTarget()
	info, err := repo.ResolveBackup(ctx, st, opts.Backup)
	if err != nil {
		return a.noBackupHere(ctx, st, err)
	}
	if !info.Complete() {
		switch info.Status {
		case repo.BackupDamaged:
			return fmt.Errorf("backup %s has a damaged manifest: %s", info.Name, info.Error)
		case repo.BackupUnrecognized:
			return fmt.Errorf("%s: backup-creator did not write it and reads nothing in it", info.Error)
		}
		return fmt.Errorf("backup %s: %w", info.Name, repo.ErrIncomplete)
	}
	// The blocks stream from the manifest into a spool (a table needs its
	// column widths, and nothing is printed unless the whole manifest reads).
	var rows *bigTable
	var items *jsonArray
	if opts.JSON {
		items = &jsonArray{}
		defer items.Close()
	} else {
		rows = newBigTable("ID", "KEY", "TYPE", "FOLDER", "NAME", "MODIFIED", "SIZE")
		defer rows.Close()
	}
	n := 0
	m, err := repo.ScanBackup(ctx, st, info.Name, func(b repo.ManifestBlock) error {
		n++
		bj := blockJSON{ID: b.ID, CustomerKey: b.CustomerKey, Name: b.Name, Type: b.AssetType.Name, TypeID: b.AssetType.ID,
			Folder: b.Category.Path, FolderID: b.Category.ID, ModifiedDate: b.ModifiedDate, Modified: b.Modified, Files: b.Files}
		if bj.Type == "" {
			bj.Type = sfmc.TypeName(b.AssetType.ID)
		}
		for _, f := range b.Files {
			bj.Size += f.Size
		}
		if items != nil {
			return items.add(bj)
		}
		rows.row(strconv.FormatInt(bj.ID, 10), bj.CustomerKey, bj.Type, clip(bj.Folder, maxCell), clip(bj.Name, maxCell), bj.ModifiedDate, humanBytes(bj.Size))
		return rows.err
	})
	if err != nil {
		return a.interrupted(ctx, err)
	}
	out := backupJSON{Destination: st.String(), Backup: *info, Deleted: m.Deleted}
	if out.Deleted == nil {
		out.Deleted = []repo.DeletedBlock{}
	}
	if opts.JSON {
		return writeJSONWith(a.Out, out, "blocks", items)
	}
	if n == 0 {
		rows = nil
	}
	return printBlocks(a.Out, out, rows)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table writes aligned columns; cells are cleaned of tabs and line breaks.
type table struct {
	tw  *tabwriter.Writer
	err error
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	if t.err != nil {
		return
	}
	for i, c := range cells {
		cells[i] = cellText(c)
	}
	_, t.err = fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error {
	if t.err != nil {
		return t.err
	}
	return t.tw.Flush()
}

func cellText(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		// C0, DEL and C1 controls (U+009B is a one-byte CSI) and the bidi
		// overrides: names come from SFMC and must not drive the terminal.
		if r < 0x20 || r >= 0x7f && r <= 0x9f || r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069' {
			return ' '
		}
		return r
	}, s)
}

// clip shortens a table cell to at most n characters, marking the cut with
// "…" (JSON output always has the full text).
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// maxCell is the widest a name or folder cell gets in a table.
const maxCell = 60

const tableTime = "2006-01-02 15:04:05"

func fmtTime(t *time.Time, layout string) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(layout)
}

// printBackups prints the backups of a destination; hint (unitsHint) is
// added to the line saying there are none.
func printBackups(w io.Writer, out listJSON, hint string) error {
	if len(out.Backups) == 0 {
		if hint != "" {
			hint = "; " + hint
		}
		_, err := fmt.Fprintf(w, "no backups in %s%s\n", out.Destination, hint)
		return err
	}
	t := newTable(w, "BACKUP", "STARTED (UTC)", "STATUS", "BLOCKS", "DELETED", "FILES", "SIZE", "WATERMARK (UTC)")
	for _, b := range out.Backups {
		blocks, deleted := strconv.Itoa(b.Blocks), strconv.Itoa(b.Deleted)
		if !b.Complete() {
			blocks, deleted = "", ""
		}
		t.row(b.Name, fmtTime(b.StartedAt, tableTime), b.Status, blocks, deleted, strconv.Itoa(b.Files), humanBytes(b.Bytes),
			fmtTime(b.Watermark, time.RFC3339Nano))
	}
	if err := t.flush(); err != nil {
		return err
	}
	latest := out.Latest
	if latest == "" {
		latest = "none (no complete backup)"
	}
	_, err := fmt.Fprintf(w, "\n%s in %s; latest complete: %s\n", plural(len(out.Backups), "backup"), out.Destination, latest)
	return err
}

// printBlocks prints a backup's header, its blocks (rows, nil when it has
// none) and its tombstones.
func printBlocks(w io.Writer, out backupJSON, rows *bigTable) error {
	b := out.Backup
	if _, err := fmt.Fprintf(w, "%s (started %s UTC): %s, %s, %s; %d recorded as deleted\n\n",
		b.Name, fmtTime(b.StartedAt, tableTime), plural(b.Blocks, "block"), plural(b.Files, "file"), humanBytes(b.Bytes), b.Deleted); err != nil {
		return err
	}
	if rows != nil {
		if err := rows.writeTo(w); err != nil {
			return err
		}
	}
	if len(out.Deleted) == 0 {
		return nil
	}
	if _, err := fmt.Fprintf(w, "\nDeleted in SFMC (detected by this run):\n"); err != nil {
		return err
	}
	t := newTable(w, "ID", "KEY", "NAME", "LAST BACKUP", "DETECTED (UTC)")
	for _, d := range out.Deleted {
		detected := d.DetectedAt
		t.row(strconv.FormatInt(d.ID, 10), d.CustomerKey, clip(d.Name, maxCell), d.LastBackup, fmtTime(&detected, tableTime))
	}
	return t.flush()
}

// maxArgs is cobra.MaximumNArgs reporting a usage error (exit 2).
func maxArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := cobra.MaximumNArgs(n)(c, args); err != nil {
			return &UsageError{Err: err}
		}
		return nil
	}
}
