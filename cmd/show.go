package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/backup-creator/backup-creator/pkg/backup/history"
)

// ShowOptions are the parsed arguments of `show`.
type ShowOptions struct {
	// Backup is the backup whose state to read ("" or "latest": the newest complete one).
	Backup string
	ID     int64
	Key    string
	JSON   bool
}

func newShowCmd(a *App, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{}
	c := &cobra.Command{
		Use:   "show [BACKUP|latest] (--id N | --key K)",
		Short: "Print a block's content as of a backup",
		Long: `Write one block's readable content as of a backup (default: the newest complete one) to
stdout, byte for byte as the backup holds it (checked against its sha256), like
restic dump; --json writes its stored JSON document instead. The version is the one a
restore as of that backup would use: the newest in that backup or an earlier one. A
block recorded as deleted by then is still shown (its last version), with a warning on
stderr. A customerKey that several blocks had picks the live one; if several are live,
name it by --id.

EXIT STATUS
  0    success
  1    failure (no such backup or block as of it, a damaged backup file,
       destination unreadable)
  2    usage or configuration error
  130  interrupted by SIGINT/SIGTERM`,
		Example: `  backup-creator show --id 1295064
  backup-creator show backup_20261101 --key footer-legal-de > footer-then.html
  backup-creator show latest --id 1295064 --json | jq .modifiedBy`,
		Args: maxArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Backup = args[0]
			}
			if (opts.ID == 0) == (opts.Key == "") {
				return usageErrorf("name the block with --id N or --key K (one of them)")
			}
			if runF != nil {
				return runF(opts)
			}
			return a.runShow(c.Context(), opts)
		},
	}
	f := c.Flags()
	f.String("dest", "./backups", destFlagHelp)
	f.Int64Var(&opts.ID, "id", 0, "the block with this id")
	f.StringVar(&opts.Key, "key", "", "the block with this customerKey")
	f.BoolVar(&opts.JSON, "json", false, "write the stored JSON document instead of the readable content")
	return c
}

func (a *App) runShow(ctx context.Context, opts *ShowOptions) error {
	lowerGCTarget()
	st, err := a.openDestination(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	got, err := history.Show(ctx, st, history.ShowOptions{Backup: opts.Backup, ID: opts.ID, Key: opts.Key, JSON: opts.JSON})
	if err != nil {
		return a.noBackupHere(ctx, st, err)
	}
	if d := got.Block.Deleted; d != nil {
		a.log.Warn().Int64("asset_id", got.Block.ID).Str("deleted_in", got.Block.DeletedIn).Str("backup", got.Block.Backup).
			Msg("block recorded as deleted in SFMC; showing its last backed-up version")
	}
	if _, err := a.Out.Write(got.Data); err != nil {
		return fmt.Errorf("write to stdout: %w", err)
	}
	return nil
}
