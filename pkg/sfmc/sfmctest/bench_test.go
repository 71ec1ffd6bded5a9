package sfmctest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
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
