package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/backup-creator/backup-creator/pkg/backup/history"
	"github.com/backup-creator/backup-creator/pkg/backup/repo"
)

// HistoryOptions are the parsed arguments of `history`.
type HistoryOptions struct {
	IDs   []int64
	Keys  []string
	Names []string
	JSON  bool
}

func newHistoryCmd(a *App, runF func(*HistoryOptions) error) *cobra.Command {
	opts := &HistoryOptions{}
	c := &cobra.Command{
		Use:   "history (--id N | --key K | --name GLOB)",
		Short: "Show every backed-up version of some blocks, newest first",
		Long: `Follow blocks through every complete backup in the destination and list, newest first,
each change of the state a restore would give: the backup that holds the version, its
modifiedDate (UTC), who modified it (modifiedBy.name of the stored JSON), the size and
sha256 of its content file, and the event:
  created  the first version in the backups (or one after a recorded deletion)
  changed  a newer version (an edit, a rename, a move to another folder)
  deleted  a backup recorded the block as deleted in SFMC (its time is when
           that run noticed; SFMC does not say when a block was deleted)
A version that a later backup stored again unchanged is not an event.

--id, --key and --name (a glob: * ? [..]) select the blocks matching any of them, in
any of their versions: a pattern matching an old name finds the renamed block. Each
may be repeated. --json prints {"blocks": [{"id", "customerKey", "name", "folder",
"versions": [{"backup", "modifiedDate", "modifiedBy", "size", "sha256", "event",
"customerKey", "name", "folder"}]}]}.

EXIT STATUS
  0    success
  1    failure (no block matches, a damaged backup, destination unreadable)
  2    usage or configuration error
  130  interrupted by SIGINT/SIGTERM`,
		Example: `  backup-creator history --id 1295064
  backup-creator history --key footer-legal-de --dest s3://my-bucket/sfmc
  backup-creator history --name "Footer*" --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if len(opts.IDs) == 0 && len(opts.Keys) == 0 && len(opts.Names) == 0 {
				return usageErrorf("name the blocks: --id N, --key K or --name GLOB")
			}
			sel := history.Selector{IDs: opts.IDs, Keys: opts.Keys, Names: opts.Names}
			if err := sel.Validate(); err != nil {
				return &UsageError{Err: err}
			}
			if runF != nil {
				return runF(opts)
			}
			return a.runHistory(c.Context(), opts)
		},
	}
	f := c.Flags()
	f.String("dest", "./backups", destFlagHelp)
	f.Int64SliceVar(&opts.IDs, "id", nil, "the block with this id (repeatable, or comma-separated)")
	f.StringArrayVar(&opts.Keys, "key", nil, "the blocks with this customerKey (repeatable)")
	f.StringArrayVar(&opts.Names, "name", nil, "the blocks whose name matches this glob (* ? [..], repeatable)")
	f.BoolVar(&opts.JSON, "json", false, "print JSON instead of a table")
	return c
}

func (a *App) runHistory(ctx context.Context, opts *HistoryOptions) error {
	lowerGCTarget()
	st, err := a.openDestination(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := history.History(ctx, st, history.Selector{IDs: opts.IDs, Keys: opts.Keys, Names: opts.Names})
	if errors.Is(err, history.ErrNoMatch) {
		// No match in no backup at all: maybe the units' root.
		if _, lerr := repo.Latest(ctx, st); errors.Is(lerr, repo.ErrNoBackup) {
			if hint := a.unitsHint(ctx, st); hint != "" {
				return fmt.Errorf("%w; %s", err, hint)
			}
		}
	}
	if err != nil {
		return a.noBackupHere(ctx, st, err)
	}
	if opts.JSON {
		return writeJSON(a.Out, rep)
	}
	return printHistory(a.Out, rep)
}

func printHistory(w io.Writer, rep *history.Report) error {
	for i, b := range rep.Blocks {
		sep := ""
		if i > 0 {
			sep = "\n"
		}
		if _, err := fmt.Fprintf(w, "%sblock %d  %s  %q  in %s: %s\n", sep, b.ID, cellText(b.CustomerKey), b.Name, cellText(b.Folder), plural(len(b.Versions), "event")); err != nil {
			return err
		}
		t := newTable(w, "BACKUP", "EVENT", "MODIFIED (UTC)", "MODIFIED BY", "SIZE", "SHA256", "NAME", "FOLDER")
		for _, v := range b.Versions {
			size, sum, when := humanBytes(v.Size), shortSum(v.SHA256), fmtTime(&v.ModifiedDate, tableTime)
			if v.Event == history.EventDeleted {
				size, sum, when = "", "", fmtTime(&v.ModifiedDate, tableTime)+" (noticed)"
			}
			t.row(v.Backup, v.Event, when, v.ModifiedBy, size, sum, clip(v.Name, maxCell), clip(v.Folder, maxCell))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}

// lowerGCTarget makes the garbage collector run at 50 % heap growth instead
// of 100 % unless GOGC is set: history, diff, show, list BACKUP, verify and
// restore stream large manifests
// (and, on a local destination, list directories of 100,000s of files),
// which makes much short-lived garbage; this keeps the peak RSS of a diff of
// two 100,000-block states below 100 MiB for a few percent more CPU. The
// process is one-shot, so the setting ends with the command.
func lowerGCTarget() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}

// shortSum is the first 12 hex digits of a sha256 (enough to tell versions apart).
func shortSum(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// noArgs is cobra.NoArgs reporting a usage error (exit 2).
func noArgs(c *cobra.Command, args []string) error {
	if err := cobra.NoArgs(c, args); err != nil {
		return &UsageError{Err: err}
	}
	return nil
}
