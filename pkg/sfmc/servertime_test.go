package sfmc_test

import (
	"sync"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// TestServerNowFollowsTheDateHeader: the client tells SFMC's clock from the
// Date header, not from its own.
func TestServerNowFollowsTheDateHeader(t *testing.T) {
	var mu sync.Mutex
	server := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	local := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newEnv(t, sfmctest.Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return server }}, func(c *sfmc.Config) {
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return local }
	})
	if _, ok := e.c.ServerNow(); ok {
		t.Fatal("ServerNow known before any response")
	}
	if err := e.c.ListCategories(t.Context(), func(sfmc.Category) error { return nil }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	local = local.Add(90 * time.Second)
	mu.Unlock()
	got, ok := e.c.ServerNow()
	if want := server.Add(90 * time.Second); !ok || !got.Equal(want) {
		t.Fatalf("ServerNow = %v, %v; want %v", got, ok, want)
	}
}
