package restore

import (
	"errors"
	"fmt"
	"sort"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
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
}

// Attempted reports whether the restore got to any block: false when it
// stopped before the first (SFMC unreachable, the folder listing refused),
// or when every selected block was skipped.
func (rep *RestoreReport) Attempted() bool { return rep.attempted }

// RestoreError means some selected blocks could not be restored. The others
// were (the report says which); running the same restore again retries the
// failed ones and leaves the restored ones alone.
type RestoreError struct {
	Failed int
	Total  int
	Err    error // errors.Join of the first failures
}

func (e *RestoreError) Error() string {
	noun := "blocks"
	if e.Total == 1 {
		noun = "block"
	}
	return fmt.Sprintf("%d of %d selected %s could not be restored (the others were; run the same restore again to finish): %v", e.Failed, e.Total, noun, e.Err)
}

func (e *RestoreError) Unwrap() error { return e.Err }

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
	return &RestoreError{Failed: rep.Counts.Failed, Total: rep.Counts.Selected, Err: errors.Join(rep.failures...)}
}
