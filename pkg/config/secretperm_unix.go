//go:build unix

package config

import (
	"io/fs"
	"os"
	"syscall"
)

// ownedBySelf reports whether this process's user owns the file (so a
// group read bit is not what lets it read the secret).
func ownedBySelf(st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Getuid()
}
