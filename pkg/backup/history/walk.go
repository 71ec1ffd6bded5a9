package history

import (
	"fmt"
	"strings"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// complete returns the complete backups of list, oldest first, and refuses
// a damaged one: every later state depends on it, so any answer built
// without it could be wrong (restore refuses in the same way).
func complete(list []repo.BackupInfo) ([]string, error) {
	var out []string
	for _, bi := range list {
		switch {
		case bi.Status == repo.BackupDamaged:
			return nil, fmt.Errorf("backup %s (%s): every later backup depends on it; run `backup-creator verify --all`, and repair or move that folder away: %w",
				bi.Name, bi.Error, repo.ErrDamaged)
		case bi.Complete():
			out = append(out, bi.Name)
		}
	}
	return out, nil
}

// resolve finds a complete backup named by ref ("" or "latest": the newest).
func resolve(list []repo.BackupInfo, st storage.Store, ref string) (string, error) {
	bi, err := repo.Resolve(list, st, ref)
	if err != nil {
		return "", err
	}
	switch bi.Status {
	case repo.BackupDamaged:
		return "", fmt.Errorf("backup %s (%s): %w", bi.Name, bi.Error, repo.ErrDamaged)
	case repo.BackupIncomplete:
		return "", fmt.Errorf("backup %s: %w", bi.Name, repo.ErrIncomplete)
	}
	return bi.Name, nil
}

// versionID identifies the content of a block version: its modified
// instant and the sha256 of each of its files. The same version stored
// again by a later backup (the overlap window) has the same identity.
func versionID(b *repo.SnapshotBlock) string {
	var sb strings.Builder
	sb.WriteString(b.Modified.UTC().Format(time.RFC3339Nano))
	for _, f := range b.Files {
		sb.WriteString("|")
		sb.WriteString(f.Role)
		sb.WriteString(":")
		sb.WriteString(f.SHA256)
	}
	return sb.String()
}

func sameVersion(a, b *repo.SnapshotBlock) bool {
	if a.Backup == b.Backup && a.Modified.Equal(b.Modified) {
		return true
	}
	return versionID(a) == versionID(b)
}

// contentFile is the block's readable content file, or for a file asset
// its binary.
func contentFile(b *repo.SnapshotBlock) (repo.ManifestFile, bool) {
	if f, ok := b.File(repo.RoleContent); ok {
		return f, true
	}
	return b.File(repo.RoleFile)
}
