package cmd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// maxUnitsNamed bounds the business-unit folders a hint names (and the
// configured units it probes for them).
const maxUnitsNamed = 3

// errFound stops a listing at its first object.
var errFound = errors.New("found")

// unitFolders returns business-unit folders (mid-<MID>, what run writes
// with account_ids) directly under st, at most maxUnitsNamed: those of the
// configured account_ids that hold an object; without account_ids, the
// first one a listing of "mid-" finds (a listing that would read on through
// that unit's objects to find the next one). more tells that configured
// units were left unprobed. It is best effort: a listing error finds none.
func (a *App) unitFolders(ctx context.Context, st storage.Store) (units []string, more bool) {
	if ids := a.cfg.AccountIDs; len(ids) > 0 {
		probed := 0
		for i, id := range ids {
			if slices.Contains(ids[:i], id) {
				continue
			}
			if len(units) == maxUnitsNamed || probed == 2*maxUnitsNamed {
				return units, true
			}
			probed++
			name := "mid-" + id
			err := st.List(ctx, name+"/", func(storage.ObjectInfo) error { return errFound })
			if errors.Is(err, errFound) {
				units = append(units, name)
			} else if ctx.Err() != nil {
				return units, false
			}
		}
		return units, false
	}
	seen := 0
	_ = st.List(ctx, "mid-", func(o storage.ObjectInfo) error {
		if seg, _, ok := strings.Cut(o.Key, "/"); ok && len(seg) > len("mid-") && strings.Trim(seg[len("mid-"):], "0123456789") == "" {
			units = append(units, seg)
			return errFound
		}
		if seen++; seen >= 100 {
			return errFound // not a unit's folder: give up
		}
		return nil
	})
	return units, false
}

// unitsHint says, for a destination without backups of its own, which
// business-unit folders it holds and what --dest reads one; "" when it
// holds none.
func (a *App) unitsHint(ctx context.Context, st storage.Store) string {
	units, more := a.unitFolders(ctx, st)
	if len(units) == 0 {
		return ""
	}
	list := strings.Join(units, ", ")
	what := "the business units " + list + " (account_ids)"
	if more {
		what = "the business units " + list + " (account_ids; maybe more)"
	}
	if len(a.cfg.AccountIDs) == 0 {
		what = "business-unit folders such as " + list
	}
	return fmt.Sprintf("it holds %s, each with its own backups: use --dest %s", what, subDest(a.cfg.Dest, units[0]))
}

// noBackupHere is a.interrupted(ctx, err), plus the units hint when err
// says that the destination has no such backup.
func (a *App) noBackupHere(ctx context.Context, st storage.Store, err error) error {
	err = a.interrupted(ctx, err)
	if !errors.Is(err, repo.ErrNoBackup) || ExitCode(err) == ExitInterrupted {
		return err
	}
	if hint := a.unitsHint(ctx, st); hint != "" {
		return fmt.Errorf("%w; %s", err, hint)
	}
	return err
}
