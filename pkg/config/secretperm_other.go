//go:build !unix

package config

import "io/fs"

// ownedBySelf cannot tell owners apart here: Unix permission bits do not
// describe access on this system, so no group warning is given.
func ownedBySelf(fs.FileInfo) bool { return false }
