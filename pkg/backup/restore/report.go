package restore

import (
	"errors"
	"fmt"
	"sort"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// maxReportedErrors bounds the per-item errors a RestoreError carries.
const maxReportedErrors = 5

// Restore actions of a RestoreItem.
const (
	ActionCreate    = "create"    // not in SFMC (by id or customerKey): re-create it
	ActionUpdate    = "update"    // in SFMC with other content or metadata: PATCH it
	ActionUnchanged = "unchanged" // in SFMC as backed up: no write
	ActionSkip      = "skip"      // not restored (see Reason)
	ActionWrite     = "write"     // --target DIR: write its files
)

// Restore item statuses.
const (
	ItemPlanned      = "planned" // dry run: nothing was written
	ItemDone         = "done"
	ItemFailed       = "failed"
	ItemNotAttempted = "not-attempted" // the restore stopped (cancelled) before this block
	ItemSkipped      = "skipped"       // action skip: nothing to do
)

// TargetSFMC is RestoreReport.Target for a restore into SFMC.
const TargetSFMC = "sfmc"

// RestoreItem is one selected block and what the restore did (or, in a dry
// run, would do) with it. Its JSON form is part of `restore --json`.
type RestoreItem struct {
	// ID, CustomerKey, Name, Type and Folder are the backed-up block's.
	ID          int64  `json:"id"`
	CustomerKey string `json:"customerKey"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Folder      string `json:"folder"`
	// ModifiedDate is the backed-up version's modifiedDate, as SFMC sent it.
	ModifiedDate string `json:"modifiedDate"`
	// Backup is the backup folder holding the restored version.
	Backup string `json:"backup"`
	// Action is create, update, unchanged, skip or write.
	Action string `json:"action"`
	// Status is planned (dry run), done, failed, skipped or not-attempted.
	Status string `json:"status"`
	// Reason explains the action; Changes lists the fields that differ (update).
	Reason  string   `json:"reason,omitempty"`
	Changes []string `json:"changes,omitempty"`
	// TargetID is the block's id in SFMC after the restore (a new id when it
	// was re-created; 0 when not known yet, e.g. a planned create).
	TargetID int64 `json:"targetId,omitempty"`
	// Notes report adjustments: a generated customerKey, a suffixed name, a
	// folder re-created.
	Notes []string `json:"notes,omitempty"`
	// Files are the files written (--target DIR), relative to the directory.
	Files []string `json:"files,omitempty"`
	// Error is the failure, when Status is failed.
	Error string `json:"error,omitempty"`
}

// IDMapping is one entry of the old-id → new-id map: a block that lives in
// SFMC under another id than in the backup (re-created now or by an earlier
// restore). ContentBlockById references to OldID need NewID.
type IDMapping struct {
	OldID       int64  `json:"oldId"`
	NewID       int64  `json:"newId"`
	CustomerKey string `json:"customerKey"`
	Name        string `json:"name"`
}

// RestoreCounts sums up a restore by action (items that failed count only
// under Failed).
type RestoreCounts struct {
	Selected  int `json:"selected"`
	Create    int `json:"create"`
	Update    int `json:"update"`
	Unchanged int `json:"unchanged"`
	Skip      int `json:"skip"`
	Write     int `json:"write"`
	Failed    int `json:"failed"`
	Pending   int `json:"notAttempted"`
}

// RestoreReport is the result of a restore or a dry run. Its JSON form is
// `backup-creator restore --json`.
type RestoreReport struct {
	// Backup is the backup the restored state is as of.
	Backup string `json:"backup"`
	// Target is "sfmc" or the --target directory.
	Target string        `json:"target"`
	DryRun bool          `json:"dryRun"`
	Counts RestoreCounts `json:"counts"`
	// Items lists the selected blocks, sorted by id.
	Items []RestoreItem `json:"items"`
	// IDMap lists the blocks whose SFMC id differs from the backed-up one,
	// sorted by old id.
	IDMap []IDMapping `json:"idMap"`
	// FoldersCreated lists the folder paths created (planned, in a dry run).
	FoldersCreated []string `json:"foldersCreated"`

	attempted bool    // an item was neither skipped nor not attempted
	failures  []error // the first maxReportedErrors failures, in item order
	damaged   int     // failed items whose file in the backup is damaged or missing
}

// Attempted reports whether the restore got to any block: false when it
// stopped before the first (SFMC unreachable, the folder listing refused),
// or when every selected block was skipped.
func (rep *RestoreReport) Attempted() bool { return rep.attempted }

// RestoreError means some selected blocks could not be restored (in a dry
// run: planned). The others were (the report says which). Running the same
// restore again retries the failed ones and leaves the restored ones alone;
// that finishes the job after a temporary failure, but not for a block whose
// file in the backup is damaged or missing (Damaged counts those): it fails
// the same way every time.
type RestoreError struct {
	Failed int
	Total  int
	// Damaged counts the failed blocks whose file in the backup does not
	// match its manifest entry or is missing.
	Damaged int
	// DryRun: nothing was written, the blocks could not be planned.
	DryRun bool
	Err    error // errors.Join of the first failures
}

// damagedHelp is what helps a block whose file in the backup is damaged
// (README "verify", verify --help).
const damagedHelp = "`backup-creator run --full` makes a fresh full backup, and restores as of it no longer need " +
	"the damaged file; see `backup-creator verify --help`"

func (e *RestoreError) Error() string {
	noun := "blocks"
	if e.Total == 1 {
		noun = "block"
	}
	msg := fmt.Sprintf("%d of %d selected %s could not be restored", e.Failed, e.Total, noun)
	again := "running the same restore again"
	switch {
	case e.DryRun:
		msg = fmt.Sprintf("%d of %d selected %s could not be planned (nothing was written)", e.Failed, e.Total, noun)
		again = "running the dry run again"
	case e.Failed < e.Total:
		msg += " (the others were)"
	}
	switch {
	case e.Damaged == 0 && e.DryRun:
		msg += ": " + again + " retries them"
	case e.Damaged == 0:
		msg += ": run the same restore again to finish"
	case e.Damaged == e.Failed:
		msg += fmt.Sprintf(": %s in the backup, so %s fails the same way; %s", damagedFiles(e.Damaged), again, damagedHelp)
	default:
		msg += fmt.Sprintf(": %d because %s in the backup, which fails the same way every time (%s); %s retries the other %d",
			e.Damaged, damagedFiles(e.Damaged), damagedHelp, again, e.Failed-e.Damaged)
	}
	return fmt.Sprintf("%s: %v", msg, e.Err)
}

func damagedFiles(n int) string {
	if n == 1 {
		return "its file is damaged or missing"
	}
	return "their files are damaged or missing"
}

func (e *RestoreError) Unwrap() error { return e.Err }

// backupFileBroken reports whether a block failed because its file in the
// backup is damaged (repo.ErrFileMismatch) or missing: a failure that a
// rerun repeats. Only reading the backup gives storage.ErrNotFound; SFMC's
// not found is sfmc.ErrNotFound.
func backupFileBroken(err error) bool {
	return errors.Is(err, repo.ErrFileMismatch) || errors.Is(err, storage.ErrNotFound)
}

func newReport(snap repo.BlockState, target string, opts RestoreOptions) *RestoreReport {
	return &RestoreReport{Backup: snap.AsOf(), Target: target, DryRun: opts.DryRun, Items: []RestoreItem{}, IDMap: []IDMapping{}, FoldersCreated: []string{}}
}

// count adds one item, in id order, to the counts, the IDMap and the
// failures; failed is its error (nil unless it failed), kept so that
// callers still match it with errors.Is/As (sfmc.ErrUnauthorized, ...).
func (rep *RestoreReport) count(it *RestoreItem, failed error) {
	c := &rep.Counts
	c.Selected++
	switch {
	case it.Status == ItemFailed:
		c.Failed++
	case it.Status == ItemNotAttempted:
		c.Pending++
	case it.Action == ActionCreate:
		c.Create++
	case it.Action == ActionUpdate:
		c.Update++
	case it.Action == ActionUnchanged:
		c.Unchanged++
	case it.Action == ActionSkip:
		c.Skip++
	case it.Action == ActionWrite:
		c.Write++
	}
	if it.Status != ItemNotAttempted && it.Status != ItemSkipped {
		rep.attempted = true
	}
	if it.TargetID != 0 && it.TargetID != it.ID && it.Status != ItemFailed {
		rep.IDMap = append(rep.IDMap, IDMapping{OldID: it.ID, NewID: it.TargetID, CustomerKey: it.CustomerKey, Name: it.Name})
	}
	if it.Status == ItemFailed && backupFileBroken(failed) {
		rep.damaged++
	}
	if it.Status == ItemFailed && len(rep.failures) < maxReportedErrors {
		if failed == nil {
			failed = errors.New(it.Error)
		}
		rep.failures = append(rep.failures, fmt.Errorf("block %d (%s): %w", it.ID, it.Name, failed))
	}
}

// finish sorts the folders created.
func finish(rep *RestoreReport) *RestoreReport {
	sort.Strings(rep.FoldersCreated)
	return rep
}

// failure is the *RestoreError of the failed items.
func (rep *RestoreReport) failure() error {
	if rep.Counts.Failed == 0 {
		return nil
	}
	return &RestoreError{Failed: rep.Counts.Failed, Total: rep.Counts.Selected, Damaged: rep.damaged, DryRun: rep.DryRun, Err: errors.Join(rep.failures...)}
}
