package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// StateFormatVersion is the version of the state file's layout.
const StateFormatVersion = 1

// State is the content of the state file at the destination's root. It is
// written only after a backup's manifest, so it never claims more than what is
// stored.
type State struct {
	FormatVersion int `json:"formatVersion"`
	// Watermark is the latest modifiedDate instant actually backed up (UTC).
	Watermark time.Time `json:"watermark"`
	// LastBackup is the folder of the backup that set the watermark.
	LastBackup string `json:"lastBackup"`
	// Backups lists the complete backups made so far, oldest first.
	Backups   []string  `json:"backups,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Recent lists the versions backed up whose modifiedDate lies within the
	// overlap window below the watermark. The next run re-reads that window (to
	// catch changes that reach SFMC's search index late) and skips these, so an
	// unchanged block is not stored twice.
	Recent []Version `json:"recent,omitempty"`
	// Pending names the backup folder of a run under way: it is written
	// before that run's manifest and cleared by its final state write, so a
	// run stopped in between is noticed and rolled forward by the next one.
	Pending string `json:"pending,omitempty"`
	// Known lists, sorted, the ids of every block of KnownTypes that existed
	// at the last run (what deletion tracking compares the next listing with).
	Known      []int64 `json:"known,omitempty"`
	KnownTypes []int   `json:"knownTypes,omitempty"`
}

// Version identifies one version of a block.
type Version struct {
	ID       int64     `json:"id"`
	Modified time.Time `json:"modified"`
}

// ReadStateVersion returns the state and its storage version (for
// WriteState's compare-and-swap), or (nil, "", nil) when there is none yet.
func ReadStateVersion(ctx context.Context, st storage.Store) (*State, string, error) {
	rc, info, err := st.Get(ctx, StateKey)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read state %s: %w", StateKey, err)
	}
	defer rc.Close()
	var s State
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return nil, "", fmt.Errorf("state file %s in %s is damaged (%w): fix or remove it, or run with --full or --since", StateKey, st, err)
	}
	if s.FormatVersion > StateFormatVersion {
		return nil, "", fmt.Errorf("state file %s has format version %d; this backup-creator reads up to %d: upgrade it", StateKey, s.FormatVersion, StateFormatVersion)
	}
	return &s, info.Version, nil
}

// ReadState returns the destination's state, or nil when no backup completed yet.
func ReadState(ctx context.Context, st storage.Store) (*State, error) {
	s, _, err := ReadStateVersion(ctx, st)
	return s, err
}

// WriteState replaces the state file only if it is still the version read at
// the start of the run (or still absent when prevVersion is ""), so two hosts
// can never overwrite each other's watermark. It returns the new version.
func WriteState(ctx context.Context, st storage.Store, s *State, prevVersion string) (string, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	b = append(b, '\n')
	opts := storage.PutOptions{IfVersion: prevVersion, IfNotExists: prevVersion == "", ContentType: "application/json"}
	info, err := st.Put(ctx, StateKey, bytes.NewReader(b), int64(len(b)), opts)
	if err != nil {
		if errors.Is(err, storage.ErrPreconditionFailed) {
			return "", fmt.Errorf("state file %s changed during the run (another backup-creator wrote it): watermark not advanced: %w", StateKey, err)
		}
		return "", fmt.Errorf("write state %s: %w", StateKey, err)
	}
	return info.Version, nil
}

func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("object larger than %d bytes", limit)
	}
	return b, nil
}
