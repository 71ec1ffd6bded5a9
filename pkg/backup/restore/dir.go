package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// Modes of what RestoreToDir creates: those the local backend gives the
// backup's own files and folders (pkg/storage/local), whatever the umask.
// Restored blocks are as private as the backup they come from.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// ErrTargetNotEmpty is returned by RestoreToDir for a directory that already
// holds files, unless RestoreOptions.Force is set.
var ErrTargetNotEmpty = errors.New("target directory is not empty")

// RestoreToDir writes the selected blocks of snap into the local directory
// dir instead of SFMC: each block's files exactly as backed up (the JSON as
// SFMC sent it and the readable content or binary), under the same file names
// as in the backup. Every file is checked against its manifest size and sha256
// while it is copied and written atomically (temporary file, then rename). The
// directory is created if missing; one that holds files is refused with
// ErrTargetNotEmpty unless opts.Force (files of the same name are then
// replaced). A dry run only plans. Per-block failures give a *RestoreError.
func RestoreToDir(ctx context.Context, st storage.Store, snap repo.BlockState, dir string, opts RestoreOptions) (*RestoreReport, error) {
	return RestoreToDirEach(ctx, st, snap, dir, opts, nil)
}

// RestoreToDirEach is RestoreToDir handing every selected block's item to
// emit in id order instead of collecting them in the report (see
// Restorer.RestoreEach).
func RestoreToDirEach(ctx context.Context, st storage.Store, snap repo.BlockState, dir string, opts RestoreOptions, emit func(*RestoreItem) error) (*RestoreReport, error) {
	rep := newReport(snap, dir, opts)
	if !opts.Force {
		empty, err := isEmptyDir(dir)
		if err != nil {
			return finish(rep), fmt.Errorf("target %s: %w", dir, err)
		}
		if !empty {
			return finish(rep), fmt.Errorf("%s: %w (use --force to write into it)", dir, ErrTargetNotEmpty)
		}
	}
	if !opts.DryRun {
		if err := os.MkdirAll(dir, dirMode); err != nil {
			// Nothing was attempted: every selected block is reported so.
			if eerr := each(ctx, opts, snap, rep, emit, nil); eerr != nil {
				return finish(rep), eerr
			}
			return finish(rep), fmt.Errorf("target %s: %w", dir, err)
		}
	}
	err := each(ctx, opts, snap, rep, emit, func(ctx context.Context, b *repo.SnapshotBlock, it *RestoreItem) (error, error) {
		it.Action = ActionWrite
		it.Reason = "write the backed-up files"
		for _, f := range b.Files {
			it.Files = append(it.Files, path.Base(f.Path))
		}
		if opts.DryRun {
			it.Status = ItemPlanned
			return nil, nil
		}
		for _, f := range b.Files {
			if err := copyBlockFile(ctx, st, b.Backup, f, filepath.Join(dir, path.Base(f.Path))); err != nil {
				it.Status, it.Error = ItemFailed, err.Error()
				return err, nil
			}
		}
		it.Status = ItemDone
		return nil, nil
	})
	finish(rep)
	if err != nil {
		return rep, err
	}
	return rep, rep.failure()
}

// isEmptyDir reports whether dir holds nothing (a missing dir is empty),
// reading one entry rather than the whole directory.
func isEmptyDir(dir string) (bool, error) {
	d, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return len(names) == 0, nil
}

// copyBufs are the copy buffers of copyBlockFile, reused across files (a
// restore of 100,000 blocks would otherwise leave 6 GiB of them to collect).
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyBlockFile streams one backed-up file into dst, checking it on the way.
func copyBlockFile(ctx context.Context, st storage.Store, folder string, f repo.ManifestFile, dst string) (err error) {
	key := path.Join(folder, f.Path)
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".restore-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	n, err := io.CopyBuffer(io.MultiWriter(tmp, h), rc, *buf)
	if err != nil {
		return fmt.Errorf("copy %s: %w", key, err)
	}
	if n != f.Size || !strings.EqualFold(hex.EncodeToString(h.Sum(nil)), f.SHA256) {
		return fmt.Errorf("%s %w: the backup is damaged, run verify", key, repo.ErrFileMismatch)
	}
	if err = tmp.Chmod(fileMode); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}
