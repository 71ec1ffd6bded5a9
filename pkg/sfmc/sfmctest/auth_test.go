package sfmctest

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTokenSuccessBody(t *testing.T) {
	s := New(t, Options{})
	body := map[string]any{"grant_type": "client_credentials", "client_id": s.ClientID(), "client_secret": s.ClientSecret()}
	r1 := do(t, http.MethodPost, s.AuthURL()+"v2/token", "", body)
	r2 := do(t, http.MethodPost, s.AuthURL()+"v2/token", "", body)
	for _, r := range []resp{r1, r2} {
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
			t.Errorf("content type %q", ct)
		}
	}
	m := r1.json(t)
	want := []string{"access_token", "token_type", "expires_in", "scope", "soap_instance_url", "rest_instance_url"}
	if len(m) != len(want) {
		t.Errorf("fields %v, want %v", m, want)
	}
	if m["token_type"] != "Bearer" || m["expires_in"] != float64(1079) {
		t.Errorf("token_type %v expires_in %v", m["token_type"], m["expires_in"])
	}
	if m["scope"] != grantedScopes {
		t.Errorf("scope %q", m["scope"])
	}
	if m["rest_instance_url"] != s.URL()+"/" || m["soap_instance_url"] != s.URL()+"/" {
		t.Errorf("instance urls %v %v", m["rest_instance_url"], m["soap_instance_url"])
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || s.AuthURL() != s.URL()+"/" {
		t.Errorf("URL %q AuthURL %q", s.URL(), s.AuthURL())
	}
	tok1, tok2 := m["access_token"].(string), r2.json(t)["access_token"].(string)
	if len(tok1) < 32 || tok1 == tok2 {
		t.Errorf("tokens not unique/opaque: %q %q", tok1, tok2)
	}
	if st := s.Stats(); st.TokensIssued != 2 || st.ByRouteStatus["token 200"] != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestTokenRequestVariants(t *testing.T) {
	s := New(t, Options{MIDs: []int64{100001, 100002}, ExpiresIn: 1080})
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantBody   string // exact, when set
		wantScope  string
	}{
		{"property names in any case", `{"Grant_Type":"client_credentials","CLIENT_ID":"test-client-id","client_Secret":"test-client-secret"}`, 200, "", grantedScopes},
		{"account_id as string", `{"grant_type":"client_credentials","client_id":"test-client-id","client_secret":"test-client-secret","account_id":"100002"}`, 200, "", grantedScopes},
		{"account_id as number", `{"grant_type":"client_credentials","client_id":"test-client-id","client_secret":"test-client-secret","account_id":100002}`, 200, "", grantedScopes},
		{"scope subset", `{"grant_type":"client_credentials","client_id":"test-client-id","client_secret":"test-client-secret","scope":"documents_and_images_read email_send"}`, 200, "", "documents_and_images_read"},
		{"empty scope grants none", `{"grant_type":"client_credentials","client_id":"test-client-id","client_secret":"test-client-secret","scope":""}`, 200, "", ""},
		{"wrong secret", `{"grant_type":"client_credentials","client_id":"test-client-id","client_secret":"nope"}`, 401, invalidClientBody, ""},
		{"unknown client", `{"grant_type":"client_credentials","client_id":"other","client_secret":"test-client-secret"}`, 401, invalidClientBody, ""},
		{"missing credentials", `{"grant_type":"client_credentials"}`, 401, invalidClientBody, ""},
		{"bad grant type", `{"grant_type":"password","client_id":"test-client-id","client_secret":"test-client-secret"}`, 400, badGrantBody, ""},
		{"unknown MID", `{"grant_type":"client_credentials","client_id":"test-client-id","client_secret":"test-client-secret","account_id":999}`, 401, unauthorizedMID, ""},
		{"not JSON", `grant_type=client_credentials&client_id=test-client-id`, 400, invalidTokenReq, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, http.MethodPost, s.AuthURL()+"v2/token", "", tc.body)
			if r.Status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.wantStatus, r.Body)
			}
			if tc.wantBody != "" && string(r.Body) != tc.wantBody {
				t.Errorf("body %s\nwant %s", r.Body, tc.wantBody)
			}
			if tc.wantStatus == 200 {
				m := r.json(t)
				if m["scope"] != tc.wantScope || m["expires_in"] != float64(1080) {
					t.Errorf("scope %q expires_in %v", m["scope"], m["expires_in"])
				}
			}
		})
	}
	if strings.Contains(string(s.Requests()[0].Body), "test-client-secret") {
		t.Error("request log holds the client secret")
	}
}

func TestRESTUnauthorized(t *testing.T) {
	clock := newClock(time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC))
	s := New(t, Options{Now: clock.Now})
	good := getToken(t, s, 0)
	const path = "/asset/v1/content/assets/query"
	body := map[string]any{"query": simple("id", "greaterThan", 0)}
	tests := []struct {
		name   string
		header string
	}{
		{"missing", ""},
		{"unknown token", "Bearer not-a-token"},
		{"wrong scheme", "Basic " + good},
		{"token in wrong place", good},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+path, strings.NewReader(`{"query":{"property":"id","simpleOperator":"greaterThan","value":0}}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			got := readAll(t, res)
			if res.StatusCode != 401 || got != notAuthorizedBody {
				t.Errorf("got %d %s", res.StatusCode, got)
			}
		})
	}
	want := `{"documentation":"https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm","errorcode":0,"message":"Not Authorized"}`
	if notAuthorizedBody != want {
		t.Fatalf("body constant drifted: %s", notAuthorizedBody)
	}

	// Lifetime on the injected clock: valid until 20 minutes, whatever expires_in says.
	if r := do(t, http.MethodPost, s.URL()+path, good, body); r.Status != 200 {
		t.Fatalf("fresh token: %d %s", r.Status, r.Body)
	}
	clock.Advance(19*time.Minute + 59*time.Second)
	if r := do(t, http.MethodPost, s.URL()+path, good, body); r.Status != 200 {
		t.Fatalf("token at 19:59: %d %s", r.Status, r.Body)
	}
	clock.Advance(time.Second)
	if r := do(t, http.MethodPost, s.URL()+path, good, body); r.Status != 401 || string(r.Body) != want {
		t.Fatalf("token at 20:00: %d %s", r.Status, r.Body)
	}

	// ExpireAllTokens invalidates live tokens; a new token works.
	fresh := getToken(t, s, 0)
	s.ExpireAllTokens()
	if r := do(t, http.MethodPost, s.URL()+path, fresh, body); r.Status != 401 {
		t.Fatalf("after ExpireAllTokens: %d", r.Status)
	}
	if r := do(t, http.MethodPost, s.URL()+path, getToken(t, s, 0), body); r.Status != 200 {
		t.Fatalf("new token: %d", r.Status)
	}
	if got := s.Stats().ByRouteStatus["query 401"]; got != 6 {
		t.Errorf("query 401 count %d, want 6", got)
	}
}

func TestTokenLifetimeOption(t *testing.T) {
	clock := newClock(time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC))
	s := New(t, Options{Now: clock.Now, TokenLifetime: time.Minute})
	tok := getToken(t, s, 0)
	clock.Advance(time.Minute)
	if r := do(t, http.MethodGet, s.URL()+"/asset/v1/content/categories", tok, nil); r.Status != 401 {
		t.Fatalf("status %d", r.Status)
	}
}

func TestTokensBoundToMID(t *testing.T) {
	s := New(t, Options{MIDs: []int64{100001, 100002}})
	id1 := mustCreate(t, s, 100001, AssetSpec{Name: "in one", Content: "1"})
	id2 := mustCreate(t, s, 100002, AssetSpec{Name: "in two", Content: "2"})
	t1, t2 := getToken(t, s, 0), getToken(t, s, 100002)
	get := func(tok string, id int64) int {
		return do(t, http.MethodGet, s.URL()+"/asset/v1/content/assets/"+itoa(id), tok, nil).Status
	}
	if get(t1, id1) != 200 || get(t1, id2) != 404 || get(t2, id2) != 200 || get(t2, id1) != 404 {
		t.Fatal("tokens not bound to their MID")
	}
	var infoMID int64
	s.OnRequest(func(ri RequestInfo) { infoMID = ri.MID })
	get(t2, id2)
	if infoMID != 100002 {
		t.Errorf("RequestInfo.MID %d", infoMID)
	}
}

func TestScopeEnforcement(t *testing.T) {
	s := New(t, Options{EnforceScopes: true})
	r := do(t, http.MethodPost, s.AuthURL()+"v2/token", "", map[string]any{"grant_type": "client_credentials",
		"client_id": s.ClientID(), "client_secret": s.ClientSecret(), "scope": "documents_and_images_read"})
	tok := r.json(t)["access_token"].(string)
	if got := do(t, http.MethodGet, s.URL()+"/asset/v1/content/categories", tok, nil); got.Status != 200 {
		t.Fatalf("read: %d", got.Status)
	}
	got := do(t, http.MethodPost, s.URL()+"/asset/v1/content/assets", tok, map[string]any{"name": "x", "assetType": map[string]int{"id": 197}})
	if got.Status != 403 || got.json(t)["errorcode"] != float64(20002) {
		t.Fatalf("write: %d %s", got.Status, got.Body)
	}
}

func TestTokenRateLimit(t *testing.T) {
	clock := newClock(time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC))
	s := New(t, Options{Now: clock.Now, TokenRateLimit: 2})
	body := map[string]any{"grant_type": "client_credentials", "client_id": s.ClientID(), "client_secret": s.ClientSecret()}
	for i, want := range []int{200, 200, 429} {
		if r := do(t, http.MethodPost, s.AuthURL()+"v2/token", "", body); r.Status != want {
			t.Fatalf("request %d: %d", i, r.Status)
		}
	}
	clock.Advance(time.Minute)
	if r := do(t, http.MethodPost, s.AuthURL()+"v2/token", "", body); r.Status != 200 {
		t.Fatalf("after a minute: %d", r.Status)
	}
}
