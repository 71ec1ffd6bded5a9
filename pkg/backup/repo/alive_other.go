//go:build !unix

package repo

// processAlive cannot tell on this platform; the lock's age decides.
func processAlive(int) aliveness { return aliveUnknown }
