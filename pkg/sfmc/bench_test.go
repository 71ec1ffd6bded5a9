package sfmc_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// BenchmarkQueryAssets100k lists 100,000 blocks from the emulator with a fresh
// client per iteration and reports the requests one listing needs (token +
// pages), items per second and allocations. "spread" gives every block its
// own modifiedDate (one second apart); "one timestamp" is what AddBlocks
// produces, a single tie cluster walked by id.
func BenchmarkQueryAssets100k(b *testing.B) {
	const n = 100_000
	for _, bc := range []struct {
		name string
		step time.Duration
	}{{"spread", time.Second}, {"one timestamp", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := sfmctest.New(b, sfmctest.Options{})
			ids := srv.AddBlocks(0, n, 197)
			if bc.step > 0 {
				setDates(b, srv, ids, base, bc.step)
			}
			hc := &http.Client{Transport: http.DefaultTransport}
			var requests int64
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				c, err := sfmc.New(sfmc.Config{AuthURL: srv.AuthURL(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), HTTPClient: hc})
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				err = c.QueryAssets(b.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(sfmc.Asset) error {
					got++
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				if got != n {
					b.Fatalf("listed %d, want %d", got, n)
				}
				st := c.Stats()
				requests = st[sfmc.StatToken] + st[sfmc.StatQuery]
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(requests), "requests/op")
			b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "items/s")
		})
	}
}
