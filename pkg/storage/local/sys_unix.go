//go:build unix

package local

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive flock(2) on f, waiting for other holders.
func lockFile(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// unlockFile releases lockFile's lock.
func unlockFile(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}

// syncFile fsyncs and closes an open directory, so that entries created,
// renamed or removed in it are durable. File systems that cannot sync a
// directory (EINVAL, ENOTSUP) are tolerated: there the rename is as
// durable as it gets.
func syncFile(d *os.File) error {
	err := d.Sync()
	cerr := d.Close()
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTSUP) {
		err = nil
	}
	if err != nil {
		return err
	}
	return cerr
}

// fileVersion returns the open file's info and Version.
func fileVersion(f *os.File) (fs.FileInfo, string, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	return fi, listVersion(fi), nil
}

// listVersion returns the Version of a file from its (l)stat info.
func listVersion(fi fs.FileInfo) string {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = uint64(st.Ino) //nolint:unconvert // Ino is not uint64 on every unix
	}
	return formatVersion(ino, fi)
}

// linkUnsupported reports whether link(2) failed because the file system
// has no hard links (FAT, some network file systems).
func linkUnsupported(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOTSUP) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS)
}
