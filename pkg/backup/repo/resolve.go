package repo

import "github.com/backup-creator/backup-creator/pkg/storage"

// Resolve finds the backup ref names (a folder name, or "latest"/"" for the
// newest complete one) in list, the result of ListBackups for st, as
// ResolveBackup does but without listing the destination again.
func Resolve(list []BackupInfo, st storage.Store, ref string) (*BackupInfo, error) {
	return resolveIn(list, st, ref)
}
