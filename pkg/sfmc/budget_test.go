package sfmc_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// Two clients for two business units share a budget of one request: while
// the first holds it (its request parked in the emulator), the second does
// not reach SFMC at all, and goes on once the first is answered.
func TestBudgetIsSharedByClients(t *testing.T) {
	srv := sfmctest.New(t, sfmctest.Options{MIDs: []int64{100001, 100002}})
	aIn, releaseA := make(chan struct{}), make(chan struct{})
	var (
		once      sync.Once
		aHolding  atomic.Bool
		violation atomic.Bool
	)
	srv.OnRequest(func(r sfmctest.RequestInfo) {
		switch r.MID {
		case 100001:
			once.Do(func() {
				aHolding.Store(true)
				close(aIn)
				<-releaseA
				aHolding.Store(false)
			})
		case 100002:
			if aHolding.Load() {
				violation.Store(true)
			}
		}
	})
	budget := sfmc.NewBudget(1)
	client := func(mid string) *sfmc.Client {
		c, err := sfmc.New(sfmc.Config{AuthURL: srv.AuthURL(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
			AccountID: mid, Budget: budget})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := client("100001"), client("100002")
	if err := a.Authenticate(t.Context()); err != nil {
		t.Fatal(err)
	}
	list := func(c *sfmc.Client) error {
		return c.ListCategories(t.Context(), func(sfmc.Category) error { return nil })
	}
	errs := make(chan error, 2)
	go func() { errs <- list(a) }()
	<-aIn
	go func() { errs <- list(b) }()
	// Until b waits for the slot, or (without a budget) reaches the emulator.
	for budget.Waiting() == 0 && !violation.Load() {
		runtime.Gosched()
	}
	if violation.Load() {
		t.Fatal("the second client sent a request while the first held the only slot")
	}
	close(releaseA)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if violation.Load() || budget.Waiting() != 0 {
		t.Fatalf("violation %v, waiting %d", violation.Load(), budget.Waiting())
	}
}

func TestBudgetWaitEndsWithContext(t *testing.T) {
	srv := sfmctest.New(t, sfmctest.Options{})
	budget := sfmc.NewBudget(1)
	if budget.Size() != 1 || sfmc.NewBudget(0).Size() != 1 {
		t.Fatal("budget size")
	}
	c, err := sfmc.New(sfmc.Config{AuthURL: srv.AuthURL(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), Budget: budget, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	entered := make(chan struct{})
	var once sync.Once
	srv.OnRequest(func(sfmctest.RequestInfo) { once.Do(func() { close(entered); <-hold }) })
	if err := c.Authenticate(t.Context()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.ListCategories(t.Context(), func(sfmc.Category) error { return nil }) }()
	<-entered
	ctx, cancel := context.WithCancel(t.Context())
	waitErr := make(chan error, 1)
	go func() { waitErr <- c.ListCategories(ctx, func(sfmc.Category) error { return nil }) }()
	// Until the request waits for the slot (or, without a budget, is answered).
	for budget.Waiting() == 0 && len(waitErr) == 0 {
		runtime.Gosched()
	}
	cancel()
	if err := <-waitErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting request: %v, want context.Canceled", err)
	}
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
