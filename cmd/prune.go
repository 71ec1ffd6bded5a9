package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/backup-creator/backup-creator/pkg/backup/prune"
	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// PruneOptions are the parsed flags of `prune` (the policy comes from the
// configuration, which the --keep-* flags override).
type PruneOptions struct {
	DryRun bool
	JSON   bool
}

func newPruneCmd(a *App, runF func(*PruneOptions) error) *cobra.Command {
	opts := &PruneOptions{}
	c := &cobra.Command{
		Use:   "prune",
		Short: "Remove the backups a retention policy does not keep",
		Long: `Apply a retention policy to the destination's backups and remove the others, keeping every
kept backup restorable exactly as before: versions and deletions a kept backup still
needs from a removed one are carried into it first (server-side copies where the store
can). Backups are ordered by start time (UTC), newest first; a backup kept by any rule is
kept; --keep-hourly/-daily/-weekly/-monthly/-yearly N keep the newest backup of each of
the last N hours, days, ISO weeks, months and years that have one (-1: all);
--keep-last N the newest N; --keep-within SPAN every backup started within SPAN (7d, 36h,
6m, 1y2m) of the newest one. The newest backup is always kept, and the oldest is kept
while a rule still has count left. Incomplete folders (failed runs) older than
lock.stale_after are removed too. Prune takes the destination lock, so it never runs
beside a backup; an interrupted prune is finished by the next one.

The policy can live in the configuration (retention.keep_daily: 7 ...); the flags
override it. With retention.auto: true every successful run prunes right after its
backup, inside the same lock.

EXIT STATUS
  0    the policy was applied (also when nothing was to be removed)
  1    failure, another run holds the destination lock, or prune refused to act
       (a damaged manifest, a manifest format it does not know, a folder name it
       cannot parse): nothing was removed then
  2    usage or configuration error (an empty policy, a bad --keep-within)
  130  interrupted by SIGINT/SIGTERM or --timeout (the next prune finishes the job)`,
		Example: `  backup-creator prune --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run
  backup-creator prune --keep-within 30d --dest s3://my-bucket/sfmc --json
  BACKUP_CREATOR_RETENTION_KEEP_DAILY=14 backup-creator prune`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return a.runPrune(c.Context(), opts)
		},
	}
	f := c.Flags()
	f.String("dest", "./backups", destFlagHelp)
	f.Int("keep-last", 0, "keep the newest N backups")
	f.Int("keep-hourly", 0, "keep the newest backup of each of the last N hours that have one (-1: all)")
	f.Int("keep-daily", 0, "keep the newest backup of each of the last N days (UTC) that have one (-1: all)")
	f.Int("keep-weekly", 0, "keep the newest backup of each of the last N ISO weeks that have one (-1: all)")
	f.Int("keep-monthly", 0, "keep the newest backup of each of the last N months that have one (-1: all)")
	f.Int("keep-yearly", 0, "keep the newest backup of each of the last N years that have one (-1: all)")
	f.String("keep-within", "", "keep every backup started within this span of the newest one (e.g. 7d, 36h, 6m, 1y2m)")
	f.Duration("timeout", 6*time.Hour, "stop after this long (exit 130; the next prune finishes the job); 0 = no limit")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print what would be kept and removed, and write nothing")
	f.BoolVar(&opts.JSON, "json", false, "print the result as JSON")
	return c
}

func (a *App) runPrune(ctx context.Context, opts *PruneOptions) error {
	pol, err := a.cfg.Retention.Policy()
	if err != nil {
		return &UsageError{Err: err}
	}
	if pol.Empty() {
		return &UsageError{Err: prune.ErrEmptyPolicy}
	}
	if a.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, a.cfg.Timeout, fmt.Errorf("--timeout %s reached", a.cfg.Timeout))
		defer cancel()
	}
	if len(a.cfg.AccountIDs) == 0 {
		st, rep, err := a.pruneDest(ctx, a.cfg, pol, opts.DryRun)
		if err != nil {
			return err
		}
		defer st.Close()
		if opts.JSON {
			return writeJSON(a.Out, rep)
		}
		return printPrune(a.Out, st, rep)
	}
	// Several business units, as run writes them: each unit's destination
	// <dest>/mid-<MID> is pruned on its own; one failing does not stop the
	// others, and the exit code is the worst of them.
	out := multiPrune{BusinessUnits: []unitPrune{}}
	var worst error
	for _, mid := range a.cfg.AccountIDs {
		bu := *a.cfg
		bu.Dest = subDest(a.cfg.Dest, "mid-"+mid)
		st, rep, err := a.pruneDest(ctx, &bu, pol, opts.DryRun)
		u := unitPrune{AccountID: mid, ExitCode: ExitCode(err), Report: rep}
		if err != nil {
			u.Error = err.Error()
			a.log.Error().Err(err).Str("account_id", mid).Int("exit_code", u.ExitCode).Msg("business unit not pruned")
			if worst == nil || severity(ExitCode(err)) > severity(ExitCode(worst)) {
				worst = fmt.Errorf("business unit %s: %w", mid, err)
			}
		} else {
			if !opts.JSON {
				fmt.Fprintf(a.Out, "business unit %s:\n", mid)
				if perr := printPrune(a.Out, st, rep); perr != nil && worst == nil {
					worst = perr
				}
			}
			st.Close()
		}
		out.BusinessUnits = append(out.BusinessUnits, u)
		if ctx.Err() != nil {
			break
		}
	}
	out.ExitCode = ExitCode(worst)
	if opts.JSON {
		if jerr := writeJSON(a.Out, out); jerr != nil && worst == nil {
			worst = jerr
		}
	}
	return worst
}

// multiPrune is `prune --json` over several business units.
type multiPrune struct {
	ExitCode      int         `json:"exitCode"`
	BusinessUnits []unitPrune `json:"businessUnits"`
}

// unitPrune is one business unit's part of a multiPrune.
type unitPrune struct {
	AccountID string        `json:"accountId"`
	ExitCode  int           `json:"exitCode"`
	Report    *prune.Report `json:"report,omitempty"`
	Error     string        `json:"error,omitempty"`
}

// pruneDest prunes the destination of cfg. The caller closes the store.
func (a *App) pruneDest(ctx context.Context, cfg *config.Config, pol prune.Policy, dryRun bool) (storage.Store, *prune.Report, error) {
	if p := cfg.Problems(false); len(p) > 0 {
		return nil, nil, invalidConfig(p)
	}
	if err := mustExist(cfg.Dest); err != nil {
		return nil, nil, err
	}
	st, err := a.NewStore(ctx, cfg)
	if err != nil {
		return nil, nil, a.interrupted(ctx, fmt.Errorf("destination: %w", err))
	}
	rep, err := prune.Run(ctx, st, a.pruneOptions(pol, dryRun))
	if err != nil {
		st.Close()
		if errors.Is(err, prune.ErrEmptyPolicy) {
			return nil, nil, &UsageError{Err: err}
		}
		if ctx.Err() != nil && !dryRun {
			err = fmt.Errorf("prune interrupted; every kept backup is intact, and the next prune finishes the job: %w", err)
		}
		return nil, rep, a.interrupted(ctx, err)
	}
	a.logPrune(a.log, st.String(), rep)
	return st, rep, nil
}

// pruneOptions builds prune's options from the configuration.
func (a *App) pruneOptions(pol prune.Policy, dryRun bool) prune.Options {
	host, _ := os.Hostname()
	return prune.Options{
		Policy: pol, DryRun: dryRun, StaleAfter: a.cfg.Lock.StaleAfter, Now: a.Now,
		Lock: repo.LockInfo{Host: host, PID: os.Getpid(), RunID: newRunID(), Version: a.versionOrDev()},
		Warn: func(msg string, err error) { a.log.Warn().Err(err).Msg(msg) },
	}
}

// logPrune logs one line per prune, also for retention.auto, so logs and
// cron mail show what was removed.
func (a *App) logPrune(log zerolog.Logger, dest string, rep *prune.Report) {
	removed := make([]string, 0, len(rep.Remove))
	for _, r := range rep.Remove {
		removed = append(removed, r.Backup)
	}
	log.Info().Str("dest", dest).Bool("dry_run", rep.DryRun).Int("kept", len(rep.Keep)).Strs("removed", removed).
		Int("incomplete_removed", len(rep.Incomplete)).Int("resumed", len(rep.Resumed)).
		Int("carried_files", rep.Carried.Files).Int64("carried_bytes", rep.Carried.Bytes).
		Int64("deleted_bytes", rep.Deleted.Bytes).Int64("freed_bytes", rep.Freed.Bytes).
		Msg("prune summary")
}

func printPrune(w io.Writer, st storage.Store, rep *prune.Report) error {
	verb := map[bool]string{true: "would be ", false: ""}[rep.DryRun]
	fmt.Fprintf(w, "%s: %s\n", st, rep.Policy)
	if len(rep.Resumed) > 0 {
		names := make([]string, len(rep.Resumed))
		for i, r := range rep.Resumed {
			names[i] = r.Backup
		}
		how := "finished"
		if rep.DryRun {
			how = "an interrupted prune will first finish"
		}
		fmt.Fprintf(w, "%s the interrupted removal of %s: %s\n", how, plural(len(names), "backup"), strings.Join(names, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tBACKUP\tREASONS")
	rows := map[string]string{}
	var names []string
	for _, k := range rep.Keep {
		rows[k.Backup] = "keep\t" + k.Backup + "\t" + strings.Join(k.Reasons, ", ")
		names = append(names, k.Backup)
	}
	for _, r := range rep.Remove {
		rows[r.Backup] = "remove\t" + r.Backup + "\t"
		names = append(names, r.Backup)
	}
	for _, r := range rep.Incomplete {
		rows[r.Backup] = "remove\t" + r.Backup + "\tincomplete (a failed run), older than lock.stale_after"
		names = append(names, r.Backup)
	}
	// Newest first, like the policy sees them.
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, n := range names {
		fmt.Fprintln(tw, rows[n])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s kept, %s %sremoved", plural(len(rep.Keep), "backup"), plural(len(rep.Remove), "backup"), verb)
	if len(rep.Incomplete) > 0 {
		fmt.Fprintf(w, " and %s", plural(len(rep.Incomplete), "incomplete folder"))
	}
	fmt.Fprintf(w, "; %s carried into kept backups (%s, %s); %s %sdeleted; %s %sfreed\n",
		plural(rep.Carried.Blocks, "block version"), plural(rep.Carried.Files, "file"), humanBytes(rep.Carried.Bytes),
		humanBytes(rep.Deleted.Bytes), verb, signedBytes(rep.Freed.Bytes), verb)
	return nil
}

func newRunID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "prune-" + hex.EncodeToString(b[:])
}

// signedBytes formats a net byte count, which can be negative.
func signedBytes(n int64) string {
	if n < 0 {
		return "-" + humanBytes(-n) + " (carried more than removed)"
	}
	return humanBytes(n)
}
