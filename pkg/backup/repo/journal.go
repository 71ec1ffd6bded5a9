package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// PruneJournalKey is the object at the destination's root that records a
// prune under way: written before prune changes anything, removed when it
// has finished. A prune that finds one finishes that job first.
const PruneJournalKey = "backup-creator.prune.json"

// PruneJournal is the content of PruneJournalKey.
type PruneJournal struct {
	FormatVersion int       `json:"formatVersion"`
	StartedAt     time.Time `json:"startedAt"`
	// Remove lists the complete backups being removed (their versions that
	// kept backups need are carried into those first).
	Remove []string `json:"remove"`
	// Incomplete lists the incomplete folders being removed.
	Incomplete []string `json:"incomplete,omitempty"`
}

// ReadPruneJournal returns the journal of an interrupted prune, or nil.
func ReadPruneJournal(ctx context.Context, st storage.Store) (*PruneJournal, error) {
	rc, _, err := st.Get(ctx, PruneJournalKey)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", PruneJournalKey, err)
	}
	defer rc.Close()
	raw, err := readAllLimited(rc, 16<<20)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", PruneJournalKey, err)
	}
	var j PruneJournal
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("%s in %s is damaged (%w): an interrupted prune cannot be finished; check the backups with `backup-creator verify --all`, then remove that file", PruneJournalKey, st, err)
	}
	if j.FormatVersion > 1 {
		return nil, fmt.Errorf("%s has format version %d; this backup-creator reads up to 1: upgrade it", PruneJournalKey, j.FormatVersion)
	}
	return &j, nil
}

// WritePruneJournal stores j, durably, replacing any earlier journal.
func WritePruneJournal(ctx context.Context, st storage.Store, j *PruneJournal) error {
	j.FormatVersion = 1
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	if _, err := st.Put(ctx, PruneJournalKey, bytes.NewReader(b), int64(len(b)), storage.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("write %s: %w", PruneJournalKey, err)
	}
	return nil
}

// DeletePruneJournal marks the prune finished.
func DeletePruneJournal(ctx context.Context, st storage.Store) error {
	err := st.Delete(ctx, PruneJournalKey, storage.DeleteOptions{})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("remove %s: %w", PruneJournalKey, err)
	}
	return nil
}
