package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"

	"github.com/spf13/cobra"
)

// VerifyOptions are the parsed arguments of `verify`.
type VerifyOptions struct {
	// Backup is the backup to check ("" or "latest": the newest complete one).
	Backup string
	All    bool
	JSON   bool
}

// errVerifyFailed is returned when a verified backup has problems (exit 1).
var errVerifyFailed = errors.New("verify found problems")

func newVerifyCmd(a *App, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{}
	c := &cobra.Command{
		Use:   "verify [BACKUP|latest|--all]",
		Short: "Check that a backup's files are intact",
		Long: `Re-read every file of a backup (default: the newest complete one; --all: every backup)
and check its size and sha256 against the backup's manifest. Reports files that are
missing, corrupt (other size or sha256) or extra (in the folder, not in the manifest).
Incomplete backups (no manifest: a failed run) have nothing to check against; --all lists
them without counting them as problems, naming one explicitly fails.

When a problem is found:
  missing or corrupt block file: a restore that needs that version fails for that
    block (exit 3; running it again does not help). "run --full" stores every block
    that still exists in SFMC again, so restores as of that new backup and later no
    longer need the file; restores as of older backups, and blocks deleted in SFMC
    since, still do.
  damaged manifest: restore, diff, history and show as of that backup or any later
    one exit 1, prune removes nothing, and run does not notice. Put back a good copy
    of the folder if there is one; otherwise move the folder out of the destination
    and "run --full" (the versions only that folder held are then lost).
  extra file: not in the manifest, so restore never uses it; look at it, then
    remove it.

EXIT STATUS
  0    every backup checked is intact
  1    a backup checked has a missing, corrupt or extra file or a damaged
       manifest, a named backup is incomplete, or the check itself failed
  2    usage or configuration error
  130  interrupted by SIGINT/SIGTERM`,
		Example: `  backup-creator verify
  backup-creator verify backup_20261123 --json
  backup-creator verify --all --dest s3://my-bucket/sfmc`,
		Args: maxArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Backup = args[0]
			}
			if opts.All && opts.Backup != "" {
				return usageErrorf("give a backup name or --all, not both")
			}
			if runF != nil {
				return runF(opts)
			}
			return a.runVerify(c.Context(), opts)
		},
	}
	f := c.Flags()
	f.String("dest", "./backups", destFlagHelp)
	f.BoolVar(&opts.All, "all", false, "verify every backup in the destination")
	f.BoolVar(&opts.JSON, "json", false, "print JSON instead of a table")
	return c
}

// verifyJSON is the output of `verify --json`.
type verifyJSON struct {
	Destination string               `json:"destination"`
	OK          bool                 `json:"ok"`
	Backups     []*repo.VerifyReport `json:"backups"`
}

func (a *App) runVerify(ctx context.Context, opts *VerifyOptions) error {
	st, err := a.openDestination(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	lowerGCTarget()
	var names []string
	if opts.All {
		list, err := repo.ListBackups(ctx, st)
		if err != nil {
			return a.interrupted(ctx, err)
		}
		for _, b := range list {
			names = append(names, b.Name)
		}
	} else {
		info, err := repo.ResolveBackup(ctx, st, opts.Backup)
		if err != nil {
			return a.noBackupHere(ctx, st, err)
		}
		names = append(names, info.Name)
	}
	out := verifyJSON{Destination: st.String(), OK: true, Backups: []*repo.VerifyReport{}}
	bad := 0
	for _, name := range names {
		rep, err := repo.Verify(ctx, st, name)
		switch {
		case errors.Is(err, repo.ErrIncomplete) && opts.All:
		case errors.Is(err, repo.ErrIncomplete):
			bad++
		case err != nil:
			return a.interrupted(ctx, err)
		case !rep.OK():
			bad++
		}
		out.Backups = append(out.Backups, rep)
	}
	out.OK = bad == 0
	if opts.JSON {
		err = writeJSON(a.Out, out)
	} else {
		hint := ""
		if len(out.Backups) == 0 {
			hint = a.unitsHint(ctx, st)
		}
		err = printVerify(a.Out, out, hint)
	}
	if err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%w: %d of %s in %s not intact", errVerifyFailed, bad, plural(len(out.Backups), "backup"), out.Destination)
	}
	return nil
}

// printVerify prints a verify report; hint (unitsHint) is added to the
// line saying there are no backups.
func printVerify(w io.Writer, out verifyJSON, hint string) error {
	if len(out.Backups) == 0 {
		if hint != "" {
			hint = "; " + hint
		}
		_, err := fmt.Fprintf(w, "no backups in %s%s\n", out.Destination, hint)
		return err
	}
	t := newTable(w, "BACKUP", "STATUS", "FILES", "SIZE", "CHECKED", "MISSING", "CORRUPT", "EXTRA")
	var problems int
	for _, r := range out.Backups {
		t.row(r.Backup, r.Status, strconv.Itoa(r.Files), humanBytes(r.Bytes), strconv.Itoa(r.Checked),
			strconv.Itoa(len(r.Missing)), strconv.Itoa(len(r.Corrupt)), strconv.Itoa(len(r.Extra)))
		problems += len(r.Problems())
	}
	if err := t.flush(); err != nil {
		return err
	}
	pending := 0
	for _, r := range out.Backups {
		pending += len(r.Pending)
	}
	if pending > 0 {
		fmt.Fprintf(w, "\n%s staged by an interrupted prune (%s in the destination): not problems; run `backup-creator prune` again to finish it\n",
			plural(pending, "file"), repo.PruneJournalKey)
	}
	if problems == 0 {
		return nil
	}
	if _, err := fmt.Fprintln(w, "\nProblems:"); err != nil {
		return err
	}
	t = newTable(w, "BACKUP", "PROBLEM", "PATH", "BLOCK", "DETAIL")
	for _, r := range out.Backups {
		for _, p := range r.Problems() {
			block := ""
			if p.BlockID != 0 {
				block = strconv.FormatInt(p.BlockID, 10)
			}
			t.row(r.Backup, p.Kind, p.Path, block, p.Detail)
		}
	}
	return t.flush()
}
