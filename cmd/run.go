package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/backup-creator/backup-creator/pkg/backup"
	"github.com/backup-creator/backup-creator/pkg/backup/prune"
	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/notify"
	"github.com/backup-creator/backup-creator/pkg/progress"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
)

// RunOptions are the parsed flags of `run`.
type RunOptions struct {
	Since  string
	Full   bool
	DryRun bool
	JSON   bool
	// AcceptDeletions records the deletions of a listing that lacks more
	// than track_deletions_max_share of the known blocks.
	AcceptDeletions bool
}

func newRunCmd(a *App, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{}
	c := &cobra.Command{
		Use:   "run",
		Short: "Back up every content block changed since the last successful run",
		Long: `Back up every content block created or changed since the last successful run into a new
backup_YYYYMMDD folder of the destination (backup_YYYYMMDD_HHMMSS for a second run the
same UTC day). The first run, and a run with --full, backs up every block. The watermark
is stored in the destination and advanced only after the manifest is written.

With account_ids, every business unit is backed up into <dest>/mid-<MID>, bu_concurrency
at a time; --shard I/N (or JOB_COMPLETION_INDEX of shard_count in a Kubernetes Indexed
Job) backs up only the units whose MID hashes to shard I (FNV-1a-64 of the MID mod N).
notify.ping_url and metrics.* report every run to a health check and to Prometheus.

` + exitStatusHelp,
		Example: `  backup-creator run
  backup-creator run --dest s3://my-bucket/sfmc --json
  backup-creator run --since 2026-11-01 --types htmlblock,codesnippetblock
  BACKUP_CREATOR_ACCOUNT_IDS=100001,100002,100003 backup-creator run --shard 0/2 --dest s3://my-bucket/sfmc`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if opts.Full && opts.Since != "" {
				return usageErrorf("--full and --since cannot be used together")
			}
			if runF != nil {
				return runF(opts)
			}
			return a.runRun(c.Context(), opts)
		},
	}
	f := c.Flags()
	f.String("dest", "./backups", "destination: a directory, file://PATH, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or azblob://CONTAINER/PREFIX")
	f.StringVar(&opts.Since, "since", "", "back up blocks changed since this time (RFC 3339, or a date YYYY-MM-DD meaning 00:00 UTC); overrides the stored watermark for this run")
	f.BoolVar(&opts.Full, "full", false, "back up every block, ignoring the watermark")
	f.BoolVar(&opts.DryRun, "dry-run", false, "query SFMC and report what would be backed up; write nothing")
	f.StringSlice("types", []string{"default"}, "asset types to back up: names (htmlblock), ids (197), or 'default' (all content-block types) and 'extra-blocks'")
	f.Int("concurrency", 8, "blocks written in parallel")
	f.Duration("timeout", 6*time.Hour, "stop the whole run after this long (exit 130, watermark not advanced); 0 = no limit")
	f.Bool("track-deletions", true, "list all block ids after the backup and record blocks deleted in SFMC since the last run (costs about one request per 500 blocks on incremental runs)")
	f.BoolVar(&opts.AcceptDeletions, "accept-deletions", false, "record the deletions even if the id listing lacks more than track_deletions_max_share of the known blocks (when they really were deleted)")
	f.BoolVar(&opts.JSON, "json", false, "print the run summary as one JSON object on stdout")
	f.String("shard", "", "back up only the business units of account_ids in shard I of N (\"I/N\": MID hash mod N == I); default: all, or JOB_COMPLETION_INDEX of shard_count in a Kubernetes Indexed Job")
	return c
}

// ParseSince parses --since: RFC 3339 (with or without fractional seconds) or
// a date (YYYY-MM-DD, 00:00 UTC).
func ParseSince(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: use RFC 3339 (2026-11-01T08:00:00Z, 2026-11-01T02:00:00-06:00) or a date (2026-11-01)", s)
}

func (a *App) runRun(ctx context.Context, opts *RunOptions) error {
	cfg := a.cfg
	if problems := runProblems(cfg); len(problems) > 0 {
		return invalidConfig(problems)
	}
	sh, err := resolveShard(cfg)
	if err != nil {
		return err
	}
	var since time.Time
	if opts.Since != "" {
		t, err := ParseSince(opts.Since)
		if err != nil {
			return &UsageError{Err: err}
		}
		now := time.Now
		if a.Now != nil {
			now = a.Now
		}
		if n := now(); t.After(n) {
			// Nothing can have changed since then: the run would find nothing
			// and look like success.
			return usageErrorf("--since %s is in the future (now %s): give a past time, or leave --since out to continue from the watermark",
				t.UTC().Format(time.RFC3339), n.UTC().Format(time.RFC3339))
		}
		since = t
	}
	types, err := sfmc.ParseTypes(cfg.Types)
	if err != nil {
		return &UsageError{Err: fmt.Errorf("--types: %w", err)}
	}
	for _, id := range types {
		if sfmc.TypeName(id) == "" {
			a.log.Warn().Int("asset_type_id", id).Msg("asset type id unknown to backup-creator: it is queried as given (check it if the backup finds nothing)")
		}
	}
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, cfg.Timeout, fmt.Errorf("--timeout %s reached", cfg.Timeout))
		defer cancel()
	}
	ro := backup.RunOptions{
		TypeIDs: types, Since: since, Full: opts.Full, DryRun: opts.DryRun,
		Concurrency: cfg.Concurrency, Overlap: cfg.Overlap, LockStaleAfter: cfg.Lock.StaleAfter,
		TrackDeletions: cfg.TrackDeletions, DeletionsMaxShare: cfg.TrackDeletionsMaxShare, AcceptDeletions: opts.AcceptDeletions,
	}

	// Dry runs are not reported to monitoring: they back nothing up.
	monitor := !opts.DryRun
	if len(cfg.AccountIDs) == 0 {
		var ping *pinger
		if monitor {
			ping = a.startPing(ctx, cfg.SFMC.AccountID)
		}
		start := a.now()
		sum, err := a.runOne(ctx, cfg, ro, opts, true)
		sum.ExitCode = ExitCode(err)
		a.notify(ctx, sum, err)
		if monitor {
			ping.finish(ctx, notify.Event{Status: eventStatus(sum.Status, err)}, sum)
			a.writeMetrics(ctx, []unitResult{{accountID: cfg.SFMC.AccountID, sum: sum, err: err, took: a.now().Sub(start)}}, nil)
		}
		if opts.JSON {
			if jerr := printJSON(a.redactor().Writer(a.Out), sum); jerr != nil && err == nil {
				err = jerr
			}
		} else if err == nil {
			a.printSummary(sum)
		}
		return err
	}

	// Several business units, bu_concurrency at a time, sharing one SFMC
	// request budget; one failing does not stop the others, and the exit
	// code is the worst of them.
	mids, err := unitsToRun(cfg, sh)
	if err != nil {
		return err
	}
	if sh != nil {
		a.log.Info().Str("shard", sh.String()).Strs("account_ids", mids).Int("units", len(mids)).
			Int("units_total", len(cfg.AccountIDs)).Msg("backing up this shard's business units")
	}
	a.budget = sfmc.NewBudget(cfg.Concurrency)
	defer func() { a.budget = nil }()
	perUnitPing := monitor && pingPerUnit(cfg)
	var runPing *pinger
	if monitor && !perUnitPing {
		runPing = a.startPing(ctx, "")
	}
	results := make([]*unitResult, len(mids))
	var mu sync.Mutex // serialises output
	runUnit := func(i int, mid string) {
		bu := *cfg
		bu.SFMC.AccountID = mid
		bu.Dest = subDest(cfg.Dest, "mid-"+mid)
		var ping *pinger
		if perUnitPing {
			ping = a.startPing(ctx, mid)
		}
		start := a.now()
		sum, err := a.runOne(ctx, &bu, ro, opts, cfg.BUConcurrency == 1)
		sum.ExitCode = ExitCode(err)
		ping.finish(ctx, notify.Event{Status: eventStatus(sum.Status, err)}, sum)
		results[i] = &unitResult{accountID: mid, sum: sum, err: err, took: a.now().Sub(start)}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			a.log.Error().Err(err).Str("account_id", mid).Int("exit_code", sum.ExitCode).Msg("business unit not backed up")
		} else if !opts.JSON {
			a.printSummary(sum)
		}
	}
	sem := make(chan struct{}, cfg.BUConcurrency)
	var wg sync.WaitGroup
	for i, mid := range mids {
		sem <- struct{}{}
		if ctx.Err() != nil { // units not started are not reported
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			runUnit(i, mid)
		}()
	}
	wg.Wait()

	multi := &MultiSummary{Status: backup.StatusComplete, BusinessUnits: []BusinessUnitSummary{}}
	if sh != nil {
		multi.Shard = sh.String()
	}
	var worst error
	var done []unitResult
	for _, r := range results {
		if r == nil {
			continue
		}
		done = append(done, *r)
		multi.BusinessUnits = append(multi.BusinessUnits, BusinessUnitSummary{AccountID: r.accountID, Summary: r.sum, ExitCode: r.sum.ExitCode})
		if r.err != nil && (worst == nil || severity(ExitCode(r.err)) > severity(ExitCode(worst))) {
			worst = fmt.Errorf("business unit %s: %w", r.accountID, r.err)
		}
	}
	if skipped := len(mids) - len(done); skipped > 0 {
		// Interrupted between units: the ones not started are not backed up.
		err := a.interrupted(ctx, fmt.Errorf("%d of %d business units not started", skipped, len(mids)))
		if worst == nil || severity(ExitCode(err)) > severity(ExitCode(worst)) {
			worst = err
		}
	}
	multi.ExitCode = ExitCode(worst)
	if worst != nil {
		multi.Status = backup.StatusFailed
		multi.Error = worst.Error()
	}
	a.notifyMulti(ctx, multi, worst)
	if monitor {
		status := notify.StatusComplete
		if worst != nil {
			status = eventStatus(backup.StatusFailed, worst)
		}
		runPing.finish(ctx, notify.Event{Status: status}, multi)
		a.writeMetrics(ctx, done, mids)
	}
	if opts.JSON {
		if jerr := printJSON(a.redactor().Writer(a.Out), multi); jerr != nil && worst == nil {
			worst = jerr
		}
	}
	return worst
}

// MultiSummary is the --json output of a run over several business units.
type MultiSummary struct {
	Status string `json:"status"`
	// Shard is "I/N" when the run backed up one shard of account_ids.
	Shard         string                `json:"shard,omitempty"`
	ExitCode      int                   `json:"exitCode"`
	Error         string                `json:"error,omitempty"`
	BusinessUnits []BusinessUnitSummary `json:"businessUnits"`
}

// BusinessUnitSummary is one business unit's part of a MultiSummary.
type BusinessUnitSummary struct {
	AccountID string          `json:"accountId"`
	ExitCode  int             `json:"exitCode"`
	Summary   *backup.Summary `json:"summary"`
}

// severity orders exit codes for "the worst of several runs".
func severity(code int) int {
	switch code {
	case ExitOK:
		return 0
	case ExitPartial:
		return 1
	case ExitFailure:
		return 2
	case ExitAuth:
		return 3
	case ExitUsage:
		return 4
	default: // interrupted
		return 5
	}
}

// subDest returns dest with one more path segment (a directory or a key prefix).
func subDest(dest, seg string) string {
	d, err := config.ParseDest(dest)
	if err != nil {
		return dest
	}
	if d.Scheme == "file" && !strings.HasPrefix(dest, "file://") {
		return filepath.Join(dest, seg)
	}
	u := *d.URL
	if d.Scheme == "file" {
		u2, _ := url.Parse(dest)
		u = *u2
	}
	u.Path = path.Join("/", u.Path, seg)
	return u.String()
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runOne backs up one business unit into cfg.Dest.
// showProgress allows the progress line on a terminal (not with several
// units at once).
func (a *App) runOne(ctx context.Context, cfg *config.Config, ro backup.RunOptions, opts *RunOptions, showProgress bool) (*backup.Summary, error) {
	started := a.now().UTC()
	sum := &backup.Summary{Destination: cfg.Dest, Status: backup.StatusFailed, StartedAt: started, FinishedAt: started}
	if abs, err := filepath.Abs(cfg.Dest); err == nil && localMissing(cfg.Dest) == "" && !strings.Contains(cfg.Dest, "://") {
		sum.Destination = abs
	}
	// A run that fails before the engine starts still reports when it ran:
	// finish before its summary is logged, and (deferred) on every other
	// early return.
	finish := func() {
		if sum.FinishedAt.Equal(started) {
			sum.FinishedAt = a.now().UTC()
			sum.DurationMS = sum.FinishedAt.Sub(started).Milliseconds()
		}
	}
	defer finish()
	src, err := a.NewSource(cfg, a.log, "backup-creator/"+a.versionOrDev())
	if err != nil {
		return sum, &ConfigError{Err: err}
	}
	// Authenticate first: bad credentials fail with a clear message before
	// anything touches the destination.
	if auth, ok := src.(interface{ Authenticate(context.Context) error }); ok {
		if err := auth.Authenticate(ctx); err != nil {
			err = a.interrupted(ctx, fmt.Errorf("SFMC authentication (%s): %w", cfg.SFMC.AuthURL, err))
			sum.Error = err.Error()
			sum.Requests = src.Stats()
			if ExitCode(err) == ExitInterrupted {
				sum.Status = "interrupted"
			}
			finish()
			a.logSummary(sum, err)
			return sum, err
		}
	}
	var store storage.Store
	if missing := localMissing(cfg.Dest); ro.DryRun && missing != "" {
		// Opening a local store creates the directory and its lock file; a
		// dry run writes nothing, and a destination that does not exist yet
		// holds nothing: an empty store answers the same.
		store = namedStore{Store: mem.New(), name: missing}
	} else if store, err = a.NewStore(ctx, cfg); err != nil {
		err = a.interrupted(ctx, fmt.Errorf("destination: %w", err))
		sum.Error = err.Error()
		return sum, err
	}
	defer store.Close()

	tty := a.ErrIsTTY && !opts.JSON && showProgress
	prog := progress.New(a.Err, tty)
	log := a.log
	if tty {
		// Log lines blank the progress line first instead of running into it.
		if l, lerr := newLogger(a.redactor().Writer(prog.Wrap(a.Err)), cfg.Log, a.ErrIsTTY); lerr == nil {
			log = l
		}
	}
	prog.Start()
	eng := &backup.Engine{Source: src, Store: store, Log: log, Now: a.Now, Version: a.versionOrDev(), Progress: prog}
	ro.AccountID = cfg.SFMC.AccountID
	if cfg.Retention.Auto && !ro.DryRun {
		// Inside the run's lock, after its state: each business unit is
		// pruned on its own, in its own destination. A retention mistake
		// fails the run only after its backup is committed.
		ro.AfterCommit = func(ctx context.Context, s *backup.Summary) error {
			if p := cfg.RetentionProblems(); len(p) > 0 {
				return fmt.Errorf("retention.auto: the backup is complete, but nothing was pruned: %s", strings.Join(p, "; "))
			}
			pol, _ := cfg.Retention.Policy()
			po := a.pruneOptions(pol, false)
			po.Locked = true
			rep, err := prune.Run(ctx, store, po)
			s.Prune = rep
			if rep != nil {
				a.logPrune(log, store.String(), rep)
			}
			if err != nil {
				return fmt.Errorf("retention.auto: the backup is complete, but prune failed: %w", err)
			}
			return nil
		}
	}
	sum, err = eng.Run(ctx, ro)
	prog.Stop()
	sum.Requests = src.Stats()
	err = a.interrupted(ctx, err)
	if err != nil && ExitCode(err) == ExitInterrupted {
		sum.Status = "interrupted"
	}
	if err != nil {
		sum.Error = err.Error()
	}
	a.logSummary(sum, err)
	return sum, err
}

// namedStore is a store that describes itself as name.
type namedStore struct {
	storage.Store
	name string
}

func (s namedStore) String() string { return s.name }

// interrupted marks err as an interruption when the run's context ended
// (signal or --timeout), whatever the error it surfaced as.
func (a *App) interrupted(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, ctx.Err()) && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		return &InterruptedError{Err: err}
	}
	return err
}

func (a *App) versionOrDev() string {
	if a.Build.Version == "" {
		return "dev"
	}
	return a.Build.Version
}

func (a *App) logSummary(s *backup.Summary, err error) {
	ev := a.log.Info()
	if err != nil {
		ev = a.log.Warn()
	}
	ev = ev.Str("backup", s.Backup).Str("dest", s.Destination).Str("status", s.Status).
		Int("blocks", s.Blocks).Int("files", s.Files).Int64("bytes", s.Bytes).
		Int("skipped_unchanged", s.Skipped).Int("failed", s.Failed).Int("interrupted", s.Interrupted).Int("deleted", s.Deleted).Int("deletions_suppressed", s.DeletionsSuppressed).Int("relisted", s.Relisted).
		Int64("deletion_check_requests", s.DeletionCheckRequests).Int64("duration_ms", s.DurationMS)
	ev = ev.Int64("requests", requestTotal(s))
	if s.WatermarkFrom != nil {
		ev = ev.Str("watermark_from", s.WatermarkFrom.Format(time.RFC3339Nano))
	}
	if s.WatermarkTo != nil {
		ev = ev.Str("watermark_to", s.WatermarkTo.Format(time.RFC3339Nano))
	}
	ev.Msg("backup summary")
}

func (a *App) printSummary(s *backup.Summary) {
	out := a.redactor().Writer(a.Out)
	switch s.Status {
	case backup.StatusDryRun:
		fmt.Fprintf(out, "dry run: %s (%s) would be backed up to %s; %d unchanged skipped; %d deleted in SFMC since the last run\n",
			plural(s.Blocks, "block"), humanBytes(s.Bytes), s.Destination, s.Skipped, s.Deleted)
	default:
		w := "none"
		if s.WatermarkTo != nil {
			w = s.WatermarkTo.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(out, "%s: %s, %s, %s in %s to %s (watermark %s)",
			s.Backup, plural(s.Blocks, "block"), plural(s.Files, "file"), humanBytes(s.Bytes), time.Duration(s.DurationMS)*time.Millisecond, s.Destination, w)
		if s.Deleted > 0 {
			fmt.Fprintf(out, "; %s deleted in SFMC since the last run (see backup-creator list %s)", plural(s.Deleted, "block"), s.Backup)
		}
		if s.DeletionsSuppressed > 0 {
			fmt.Fprintf(out, "; %s missing from the SFMC listing NOT recorded as deleted (too many at once: run with --accept-deletions if they were)", plural(s.DeletionsSuppressed, "block"))
		}
		if p := s.Prune; p != nil {
			fmt.Fprintf(out, "; retention: %s kept, %s removed, %s freed", plural(len(p.Keep), "backup"), plural(len(p.Remove)+len(p.Incomplete), "folder"), humanBytes(p.Freed.Bytes))
		}
		fmt.Fprintln(out)
	}
}

// humanBytes formats a byte count for people (binary units).
func humanBytes(n int64) string { return progress.HumanBytes(n) }
