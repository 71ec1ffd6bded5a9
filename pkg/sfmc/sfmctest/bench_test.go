package sfmctest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// BenchmarkQueryPage100k measures one query page (500 full documents, the
// backup's incremental query) over HTTP against 100,000 assets.
func BenchmarkQueryPage100k(b *testing.B) {
	for _, bc := range []struct {
		name string
		sort []map[string]string
	}{
		{"sorted-modifiedDate-id", []map[string]string{{"property": "modifiedDate", "direction": "ASC"}, {"property": "id", "direction": "ASC"}}},
		{"sorted-name", []map[string]string{{"property": "name", "direction": "ASC"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := Start(Options{}, "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.Seed(SeedOptions{ExtraBlocks: 100_000})
			tok := benchToken(b, s)
			body, err := json.Marshal(map[string]any{
				"page": map[string]int{"page": 10, "pageSize": 500},
				"query": map[string]any{
					"leftOperand":     map[string]any{"property": "assetType.id", "simpleOperator": "in", "value": DefaultBlockTypes()},
					"logicalOperator": "AND",
					"rightOperand":    map[string]any{"property": "modifiedDate", "simpleOperator": "greaterThanOrEqual", "value": "2024-01-01T00:00:00.000-06:00"},
				},
				"sort": bc.sort,
			})
			if err != nil {
				b.Fatal(err)
			}
			client := &http.Client{}
			b.ResetTimer()
			for b.Loop() {
				req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, s.URL()+"/asset/v1/content/assets/query", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 || n < 100_000 {
					b.Fatalf("status %d, %d bytes, %v", res.StatusCode, n, err)
				}
			}
		})
	}
}

func benchToken(b *testing.B, s *Server) string {
	b.Helper()
	body := `{"grant_type":"client_credentials","client_id":"` + s.ClientID() + `","client_secret":"` + s.ClientSecret() + `"}`
	req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, s.AuthURL()+"v2/token", bytes.NewReader([]byte(body)))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var m struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		b.Fatal(err)
	}
	return m.AccessToken
}

// discardWriter is a ResponseWriter that only counts what is written.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}
func (w *discardWriter) WriteHeader(code int) { w.status = code }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	w.n += len(p)
	return len(p), nil
}

// BenchmarkQueryAccount100k measures the emulator's own cost of the queries
// a (partitioned) listing sends, against the realistic 100,000-asset account
// (SeedOptions.Assets), calling the handler directly (no network, no client
// decoding): full pages of 500 sorted (modifiedDate, id) with and without an
// id range, and the page-size-1 probes that find a range's bounds.
func BenchmarkQueryAccount100k(b *testing.B) {
	s, err := Start(Options{}, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.Seed(SeedOptions{Assets: 100_000, TieBlocks: -1})
	tok := benchToken(b, s)
	ids := s.AssetIDs(0)
	lo, hi := ids[len(ids)/4], ids[len(ids)/2] // one of four id partitions
	types := DefaultBlockTypes()
	since := simple("modifiedDate", "greaterThanOrEqual", "2022-06-01T00:00:00.000-06:00")
	base := and(simple("assetType.id", "in", types), since)
	part := and(and(base, simple("id", "greaterThanOrEqual", lo)), simple("id", "lessThan", hi))
	byMod := []map[string]string{{"property": "modifiedDate", "direction": "ASC"}, {"property": "id", "direction": "ASC"}}
	sortBy := func(p, d string) []map[string]string { return []map[string]string{{"property": p, "direction": d}} }
	for _, bc := range []struct {
		name  string
		query any
		sort  []map[string]string
		size  int
	}{
		{"page500", base, byMod, 500},
		{"page500-idrange", part, byMod, 500},
		{"probe-id-asc", part, sortBy("id", "ASC"), 1},
		{"probe-id-desc", part, sortBy("id", "DESC"), 1},
		{"probe-modifiedDate-desc", part, sortBy("modifiedDate", "DESC"), 1},
	} {
		body, err := json.Marshal(map[string]any{"page": map[string]int{"page": 1, "pageSize": bc.size}, "query": bc.query, "sort": bc.sort})
		if err != nil {
			b.Fatal(err)
		}
		serve := func() int {
			req := httptest.NewRequestWithContext(b.Context(), http.MethodPost, "/asset/v1/content/assets/query", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			w := &discardWriter{}
			s.ServeHTTP(w, req)
			if w.status != 200 || w.n < 100 {
				b.Fatalf("status %d, %d bytes", w.status, w.n)
			}
			return w.n
		}
		b.Run(bc.name, func(b *testing.B) {
			n := serve()
			b.SetBytes(int64(n))
			for b.Loop() {
				serve()
			}
		})
	}
}

// BenchmarkLatencyParallel sends 5 queries at once to an emulator with 20 ms
// latency: a batch takes about 20 ms when requests sleep in parallel, 100 ms
// if something serialised them.
func BenchmarkLatencyParallel(b *testing.B) {
	s, err := Start(Options{Latency: 20 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.Seed(SeedOptions{Assets: 2000, TieBlocks: -1})
	tok := benchToken(b, s)
	body, err := json.Marshal(map[string]any{"page": map[string]int{"page": 1, "pageSize": 50}, "query": simple("id", "greaterThan", 0)})
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	one := func() {
		req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, s.URL()+"/asset/v1/content/assets/query", bytes.NewReader(body))
		if err != nil {
			b.Error(err)
			return
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	start := time.Now()
	for b.Loop() {
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(one)
		}
		wg.Wait()
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/batch")
}
