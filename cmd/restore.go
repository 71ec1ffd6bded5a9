package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/restore"
	"github.com/backup-creator/backup-creator/pkg/sfmc"

	"github.com/spf13/cobra"
)

// RestoreOptions are the parsed arguments of `restore`.
type RestoreOptions struct {
	// Backup is the backup to restore the state of ("" or "latest": the newest complete one).
	Backup string
	// At picks the newest complete backup started at or before this time.
	At      string
	IDs     []int64
	Keys    []string
	Names   []string
	Types   []string
	Folders []string
	Deleted bool
	DryRun  bool
	JSON    bool
	// Target is a local directory to write the blocks' files into instead of SFMC.
	Target string
	Force  bool
}

func newRestoreCmd(a *App, runF func(*RestoreOptions) error) *cobra.Command {
	opts := &RestoreOptions{}
	c := &cobra.Command{
		Use:   "restore [BACKUP|latest] [--at TIME]",
		Short: "Restore content blocks as they were at a backup",
		Long: `Restore content blocks to their state as of a backup (default: the newest complete one),
or as of --at TIME (the newest complete backup started at or before it). Each backup holds
only what changed, so each block's newest version in that backup or an earlier one is used.

Into SFMC (the default, the account of the current configuration), each selected block is
looked up in the account. In the account the backup came from (the asset's memberId is
the backed-up one) the id decides, also when the customerKey was edited since; in another
account (a sandbox business unit, another stack) ids mean nothing and blocks are matched by
customerKey and type. When the account cannot be told (no memberId and no account_id), a
block under the backed-up id is used only if its customerKey agrees. No SFMC id serves two
blocks of one restore:
  - found and equal to the backup (name, customerKey, folder, content, meta, design,
    superContent, slots, views, data, blocks, description): nothing is written;
  - found and different: it is updated (PATCH) with the backed-up values; one edited in
    SFMC after the backup gets a note saying whether a later backup holds that version
    (else run "backup-creator run" first to keep it);
  - not found: it is re-created in its folder (missing folders are re-created by name),
    with its customerKey when that is free (otherwise SFMC generates one), and with
    Content Builder's suggested name (" (1)", " (2)" ...) if its name is taken. It gets
    a new id: the old-id -> new-id map is printed, since ContentBlockById references to
    it need updating (ContentBlockByKey references keep working).
Nothing is ever deleted in SFMC. Blocks that a later backup recorded as deleted are
restored only with --deleted or when named by --id or --key. A restore that fails part
way reports which blocks were restored; after a temporary failure running it again
finishes the job. A block whose file in the backup is damaged or missing fails again on
every run: the error names the file (see "verify --help": run --full makes a fresh full
backup that later restores use instead).

With --target DIR the selected blocks' files (the JSON exactly as backed up and the
readable content, under the same names as in the backup) are written into a local
directory instead, checked against the manifest. A directory that holds files is
refused unless --force (files of the same name are then replaced).

--dry-run prints the plan (create, update, unchanged, skip; with reasons) and makes no
write request; a block it cannot plan is a failed row with the error, counted as failed
in the summary line (exit 3). Selection flags combine: --id and --key select the blocks
matching either, every other flag narrows further.

EXIT STATUS
  0    success (also when nothing needed restoring)
  1    failure (no such backup, a damaged manifest, destination unreadable)
  2    usage or configuration error (nothing was done)
  3    partial: some selected blocks could not be restored (the others were,
       or with --dry-run were planned); the error says why. A temporary SFMC
       failure: run the same restore again to finish. 403: the installed
       package lacks Documents and Images: Write / Saved Content: Write. A
       damaged block file of the backup: see "verify --help"
  4    SFMC authentication failed: credentials refused, or no token endpoint at
       the auth URL (404, unknown host); check client id, secret, auth URL, account id
  130  interrupted by SIGINT/SIGTERM or --timeout`,
		Example: `  backup-creator restore --dry-run
  backup-creator restore latest --folder "Content Builder/Newsletters"
  backup-creator restore backup_20261101 --id 123456 --id 123457
  backup-creator restore --at 2026-11-20T08:00:00Z --name "Footer*" --type htmlblock
  backup-creator restore latest --deleted --json
  backup-creator restore latest --key footer-de --target ./restored`,
		Args: maxArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Backup = args[0]
			}
			if opts.At != "" && opts.Backup != "" {
				return usageErrorf("give a backup name (or latest) or --at, not both")
			}
			if opts.Force && opts.Target == "" {
				return usageErrorf("--force only applies to --target")
			}
			if runF != nil {
				return runF(opts)
			}
			return a.runRestore(c.Context(), opts)
		},
	}
	f := c.Flags()
	f.String("dest", "./backups", destFlagHelp)
	f.StringVar(&opts.At, "at", "", "restore the state as of the newest complete backup started at or before this time (RFC 3339, or YYYY-MM-DD meaning the end of that day, UTC)")
	f.Int64SliceVar(&opts.IDs, "id", nil, "restore the block with this backed-up id (repeatable, or comma-separated)")
	f.StringArrayVar(&opts.Keys, "key", nil, "restore the block with this customerKey (repeatable)")
	f.StringArrayVar(&opts.Names, "name", nil, "restore blocks whose name matches this glob (* ? [..], repeatable)")
	f.StringSliceVar(&opts.Types, "type", nil, "restore blocks of this asset type: name (htmlblock) or id (197) (repeatable, or comma-separated)")
	f.StringArrayVar(&opts.Folders, "folder", nil, `restore blocks in this folder or below (path as "list BACKUP" shows it, e.g. "Content Builder/News"; repeatable)`)
	f.BoolVar(&opts.Deleted, "deleted", false, "restore only blocks recorded as deleted in SFMC")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print the plan; write nothing")
	f.BoolVar(&opts.JSON, "json", false, "print the plan or result as JSON")
	f.StringVar(&opts.Target, "target", "", "write the blocks' files into this local directory instead of SFMC")
	f.BoolVar(&opts.Force, "force", false, "with --target: write into a directory that already holds files")
	f.Duration("timeout", 6*time.Hour, "stop the restore after this long (exit 130); 0 = no limit")
	return c
}

// restoreJSON is the output of `restore --json`.
type restoreJSON struct {
	*restore.RestoreReport
	// Requests counts the SFMC requests by kind (restore into SFMC only).
	Requests map[string]int64 `json:"requests,omitempty"`
	// Error is the restore's error, if any.
	Error string `json:"error,omitempty"`
}

func (a *App) runRestore(ctx context.Context, opts *RestoreOptions) error {
	cfg := a.cfg
	if p := cfg.Problems(opts.Target == ""); len(p) > 0 {
		return invalidConfig(p)
	}
	sel := restore.Selection{IDs: opts.IDs, Keys: opts.Keys, Names: opts.Names, Folders: opts.Folders, Deleted: opts.Deleted}
	if err := sel.Validate(); err != nil {
		return &UsageError{Err: err}
	}
	if len(opts.Types) > 0 {
		ids, err := sfmc.ParseTypes(opts.Types)
		if err != nil {
			return &UsageError{Err: fmt.Errorf("--type: %w", err)}
		}
		sel.TypeIDs = ids
	}
	var at time.Time
	if opts.At != "" {
		t, err := ParseSince(opts.At)
		if err != nil {
			return usageErrorf("--at %q: use RFC 3339 (2026-11-01T08:00:00Z) or a date (2026-11-01, meaning the end of that day, UTC)", opts.At)
		}
		if _, derr := time.Parse("2006-01-02", strings.TrimSpace(opts.At)); derr == nil {
			// A date means "as it was on that day": its last instant.
			t = t.Add(24*time.Hour - time.Nanosecond)
		}
		at = t
	}
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, cfg.Timeout, fmt.Errorf("--timeout %s reached", cfg.Timeout))
		defer cancel()
	}

	var target restore.Target
	var src Source
	if opts.Target == "" {
		s, err := a.NewSource(cfg, a.log, "backup-creator/"+a.versionOrDev())
		if err != nil {
			return &ConfigError{Err: err}
		}
		t, ok := s.(restore.Target)
		if !ok {
			return fmt.Errorf("the SFMC client of this build cannot write assets")
		}
		src, target = s, t
	}
	if err := mustExist(cfg.Dest); err != nil {
		return err
	}
	st, err := a.NewStore(ctx, cfg)
	if err != nil {
		return a.interrupted(ctx, fmt.Errorf("destination: %w", err))
	}
	defer st.Close()

	lowerGCTarget()
	snap, err := repo.OpenSnapshot(ctx, st, opts.Backup, at)
	if err != nil {
		return a.noBackupHere(ctx, st, err)
	}
	defer snap.Close()
	// Items stream, in id order, into a spool of the output (the counts
	// come first in JSON, and a table needs its column widths).
	var items *jsonArray
	var rows *bigTable
	nrows := 0
	emit := func(it *restore.RestoreItem) error {
		if items != nil {
			return items.add(it)
		}
		// A restore lists what it did; unchanged blocks are only counted (a
		// plan, and --json, list every block). Blocks not attempted are
		// only counted, too.
		if it.Status == restore.ItemNotAttempted {
			return nil
		}
		if it.Action != restore.ActionUnchanged || (it.Status != restore.ItemDone && it.Status != restore.ItemPlanned) || len(it.Notes) > 0 {
			itemRow(rows, it)
			nrows++
		}
		return rows.err
	}
	if opts.JSON {
		items = &jsonArray{}
		defer items.Close()
	} else {
		rows = newBigTable("ID", "ACTION", "STATUS", "TYPE", "FOLDER", "NAME", "REASON")
		defer rows.Close()
	}
	ropts := restore.RestoreOptions{Select: sel, DryRun: opts.DryRun, Force: opts.Force}
	var rep *restore.RestoreReport
	if opts.Target != "" {
		rep, err = restore.RestoreToDirEach(ctx, st, snap, opts.Target, ropts, emit)
		if errors.Is(err, restore.ErrTargetNotEmpty) {
			return &UsageError{Err: err}
		}
	} else {
		r := &restore.Restorer{Target: target, Store: st, Log: a.log}
		if mid, perr := strconv.ParseInt(cfg.SFMC.AccountID, 10, 64); perr == nil {
			r.TargetMID = mid
		}
		rep, err = r.RestoreEach(ctx, snap, ropts, emit)
	}
	err = a.interrupted(ctx, err)
	if err == nil {
		err = unmatchedSelection(sel, snap, rep)
	}
	a.logRestore(rep, err)
	if opts.JSON {
		out := restoreJSON{RestoreReport: rep}
		if src != nil {
			out.Requests = src.Stats()
		}
		if err != nil {
			out.Error = err.Error()
		}
		rep.Items = nil // streamed in their place
		if jerr := writeJSONWith(a.Out, out, "items", items); jerr != nil && err == nil {
			err = jerr
		}
		return err
	}
	if err != nil && !rep.Attempted() {
		// Failed before any block (SFMC unreachable, credentials refused):
		// the error says it all; a table of untouched blocks would bury it.
		return err
	}
	if nrows == 0 {
		rows = nil
	}
	if perr := printRestore(a.Out, rep, snap, rows); perr != nil && err == nil {
		err = perr
	}
	return err
}

func (a *App) logRestore(rep *restore.RestoreReport, err error) {
	ev := a.log.Info()
	if err != nil {
		ev = a.log.Warn()
	}
	c := rep.Counts
	ev.Str("backup", rep.Backup).Str("target", rep.Target).Bool("dry_run", rep.DryRun).
		Int("selected", c.Selected).Int("create", c.Create).Int("update", c.Update).Int("unchanged", c.Unchanged).
		Int("skip", c.Skip).Int("write", c.Write).Int("failed", c.Failed).Int("not_attempted", c.Pending).
		Msg("restore summary")
}

// printRestore prints a restore's report: the items' rows (nil when no
// item makes one), the folders created, the id map and the summary.
func printRestore(w io.Writer, rep *restore.RestoreReport, snap repo.BlockState, rows *bigTable) error {
	if rep.Counts.Selected == 0 {
		_, err := fmt.Fprintf(w, "no blocks selected in the state as of %s (%s)\n", rep.Backup, plural(snap.Len(), "block"))
		return err
	}
	if rows != nil {
		if err := rows.writeTo(w); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	if len(rep.FoldersCreated) > 0 {
		verb := "Folders re-created"
		if rep.DryRun {
			verb = "Folders to re-create"
		}
		if _, err := fmt.Fprintf(w, "%s:\n  %s\n\n", verb, strings.Join(rep.FoldersCreated, "\n  ")); err != nil {
			return err
		}
	}
	if len(rep.IDMap) > 0 {
		if _, err := fmt.Fprintln(w, "Blocks now under a new id (update ContentBlockById references):"); err != nil {
			return err
		}
		t := newTable(w, "OLD ID", "NEW ID", "KEY", "NAME")
		for _, m := range rep.IDMap {
			t.row(strconv.FormatInt(m.OldID, 10), strconv.FormatInt(m.NewID, 10), m.CustomerKey, clip(m.Name, maxCell))
		}
		if err := t.flush(); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	c := rep.Counts
	// A dry run counts the blocks it could not plan (exit 3) only when
	// there are some; a restore always says how many failed.
	failed := ""
	if c.Failed > 0 {
		failed = fmt.Sprintf(", %d failed", c.Failed)
	}
	var err error
	switch {
	case rep.DryRun && rep.Target != restore.TargetSFMC:
		_, err = fmt.Fprintf(w, "dry run: would write %s into %s (%d skipped%s) from the state as of %s; nothing was written\n",
			plural(c.Write, "block"), rep.Target, c.Skip, failed, rep.Backup)
	case rep.DryRun:
		_, err = fmt.Fprintf(w, "dry run: would create %d, update %d, leave %d unchanged, skip %d%s (state as of %s); nothing was written\n",
			c.Create, c.Update, c.Unchanged, c.Skip, failed, rep.Backup)
	case rep.Target != restore.TargetSFMC:
		_, err = fmt.Fprintf(w, "wrote %s into %s, %d skipped, %d failed (state as of %s)\n", plural(c.Write, "block"), rep.Target, c.Skip, c.Failed, rep.Backup)
	default:
		_, err = fmt.Fprintf(w, "restored the state as of %s: %d created, %d updated, %d unchanged, %d skipped, %d failed\n",
			rep.Backup, c.Create, c.Update, c.Unchanged, c.Skip, c.Failed)
	}
	if err == nil && c.Pending > 0 {
		_, err = fmt.Fprintf(w, "%s not attempted (the restore stopped; run it again to finish)\n", plural(c.Pending, "block"))
	}
	return err
}

// itemRow adds an item's row to a restore's table.
func itemRow(t *bigTable, it *restore.RestoreItem) {
	// The reason, the notes and the error, each only when there is one (a
	// block that failed before it was planned has no reason).
	var parts []string
	if it.Reason != "" {
		parts = append(parts, it.Reason)
	}
	reason := strings.Join(append(parts, it.Notes...), "; ")
	switch {
	case it.Error != "" && reason != "":
		reason += ": " + it.Error
	case it.Error != "":
		reason = it.Error
	}
	t.row(strconv.FormatInt(it.ID, 10), it.Action, it.Status, it.Type, clip(it.Folder, maxCell), clip(it.Name, maxCell), reason)
}

// unmatchedSelection makes a selection that names blocks the backup does not
// hold, or matches nothing at all, an error: a mistyped id must not look like
// a successful restore.
func unmatchedSelection(sel restore.Selection, snap repo.BlockState, rep *restore.RestoreReport) error {
	var missing []string
	if len(sel.IDs) > 0 || len(sel.Keys) > 0 {
		// Only the ids and keys asked for are remembered.
		ids, keys := map[int64]bool{}, map[string]bool{}
		err := snap.Each(func(b *repo.SnapshotBlock) error {
			if slices.Contains(sel.IDs, b.ID) {
				ids[b.ID] = true
			}
			if slices.Contains(sel.Keys, b.CustomerKey) {
				keys[b.CustomerKey] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range sel.IDs {
			if !ids[id] {
				missing = append(missing, "--id "+strconv.FormatInt(id, 10))
			}
		}
		for _, k := range sel.Keys {
			if !keys[k] {
				missing = append(missing, fmt.Sprintf("--key %q", k))
			}
		}
	}
	switch {
	case len(missing) > 0:
		return fmt.Errorf("not in any backup up to %s: %s (see `backup-creator list`)", snap.AsOf(), strings.Join(missing, ", "))
	case rep != nil && rep.Counts.Selected == 0:
		return fmt.Errorf("no block matches the selection in the state as of %s (%s); folder paths start at the root, e.g. \"Content Builder/Footers\"", snap.AsOf(), plural(snap.Len(), "block"))
	}
	return nil
}
