package storagetest

import (
	"os"
	"testing"
)

// RequireCloudEnv is the environment variable that turns a missing test
// server into a failure instead of a skip. CI sets it to 1.
const RequireCloudEnv = "BACKUP_CREATOR_REQUIRE_CLOUD_TESTS"

// Env returns the values of the named environment variables, which point a
// backend's tests at a server (see scripts/test-servers.sh). If one is
// unset, it skips t with a message naming it, or fails t when
// BACKUP_CREATOR_REQUIRE_CLOUD_TESTS=1.
func Env(t testing.TB, names ...string) []string {
	t.Helper()
	vals := make([]string, len(names))
	for i, name := range names {
		vals[i] = os.Getenv(name)
		if vals[i] != "" {
			continue
		}
		msg := name + " is not set: start the test servers (scripts/test-servers.sh) to run this test"
		if os.Getenv(RequireCloudEnv) == "1" {
			t.Fatal(msg + " (" + RequireCloudEnv + "=1)")
		}
		t.Skip(msg)
	}
	return vals
}
