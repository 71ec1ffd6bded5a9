//go:build windows

package local

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// lockFile takes an exclusive LockFileEx lock on the first byte of f,
// waiting for other holders.
func lockFile(f *os.File) error {
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, new(windows.Overlapped))
}

// unlockFile releases lockFile's lock.
func unlockFile(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
}

// syncFile only closes d: Windows cannot fsync a directory handle opened by
// os.Open, and NTFS journals the rename itself.
func syncFile(d *os.File) error { return d.Close() }

// fileVersion returns the open file's info and Version, using the NTFS file
// index in place of an inode number.
func fileVersion(f *os.File) (fs.FileInfo, string, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	var d windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(windows.Handle(f.Fd()), &d); err != nil {
		return nil, "", err
	}
	return fi, formatVersion(uint64(d.FileIndexHigh)<<32|uint64(d.FileIndexLow), fi), nil
}

// listVersion returns "": the file index needs an open handle, and List may
// leave Version empty.
func listVersion(fs.FileInfo) string { return "" }

// linkUnsupported reports whether CreateHardLink failed because the file
// system has no hard links (FAT, some network shares).
func linkUnsupported(err error) bool {
	return errors.Is(err, windows.ERROR_NOT_SUPPORTED) || errors.Is(err, windows.ERROR_INVALID_FUNCTION)
}
