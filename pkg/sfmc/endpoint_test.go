package sfmc

import (
	"strings"
	"testing"
)

func TestValidateAuthURL(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		ok      bool
		whyPart string // expected in the error when !ok
	}{
		{"tenant with slash", "https://mc563885gzs27c5t9-63k636ttgm.auth.marketingcloudapis.com/", true, ""},
		{"tenant without slash", "https://mc563885gzs27c5t9-63k636ttgm.auth.marketingcloudapis.com", true, ""},
		{"tenant port 443", "https://abc.auth.marketingcloudapis.com:443/", true, ""},
		{"upper-case host", "https://ABC.auth.marketingcloudapis.com/", true, ""},
		{"loopback v4", "http://127.0.0.1:8080/", true, ""},
		{"loopback localhost", "http://localhost:9999", true, ""},
		{"loopback v6", "http://[::1]:8080/", true, ""},
		{"lookalike in query", "https://evil.example/?x=https://abc.auth.marketingcloudapis.com/", false, "query"},
		{"lookalike host suffix", "https://abc.auth.marketingcloudapis.com.evil.example/", false, "is not <subdomain>.auth.marketingcloudapis.com"},
		{"user info", "https://user@evil/", false, "user info"},
		{"user info on tenant", "https://x:y@abc.auth.marketingcloudapis.com/", false, "user info"},
		{"plain http tenant", "http://abc.auth.marketingcloudapis.com/", false, "https"},
		{"rest host as auth", "https://abc.rest.marketingcloudapis.com/", false, "auth.marketingcloudapis.com"},
		{"bare domain", "https://auth.marketingcloudapis.com/", false, "subdomain"},
		{"legacy host", "https://auth.exacttargetapis.com/", false, "subdomain"},
		{"nested subdomain", "https://a.b.auth.marketingcloudapis.com/", false, "subdomain"},
		{"underscore", "https://a_b.auth.marketingcloudapis.com/", false, "subdomain"},
		{"trailing dot", "https://abc.auth.marketingcloudapis.com./", false, "subdomain"},
		{"path", "https://abc.auth.marketingcloudapis.com/v2/token", false, "path"},
		{"other port", "https://abc.auth.marketingcloudapis.com:8443/", false, "port"},
		{"fragment", "https://abc.auth.marketingcloudapis.com/#x", false, "fragment"},
		{"no scheme", "abc.auth.marketingcloudapis.com", false, "scheme"},
		{"ftp", "ftp://abc.auth.marketingcloudapis.com/", false, "scheme"},
		{"empty", "", false, "empty"},
		{"loopback lookalike", "http://127.0.0.1.evil.example/", false, "https"},
		{"localhost lookalike", "https://localhost.evil.example/", false, "subdomain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateAuthURL(tt.url, false)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidateAuthURL(%q) = %v, want ok", tt.url, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateAuthURL(%q) accepted it", tt.url)
			}
			if !strings.Contains(err.Error(), tt.whyPart) {
				t.Errorf("error %q does not say why (%q)", err, tt.whyPart)
			}
			// New refuses it the same way.
			if _, nerr := New(Config{AuthURL: tt.url, ClientID: "id", ClientSecret: "s"}); nerr == nil {
				t.Errorf("New accepted %q", tt.url)
			}
		})
	}
}

func TestValidateAuthURLAllowAny(t *testing.T) {
	for _, u := range []string{"https://evil.example/", "http://proxy.internal:8080/sfmc", "https://abc.auth.marketingcloudapis.com.evil.example/"} {
		if err := ValidateAuthURL(u, true); err != nil {
			t.Errorf("allow_any_endpoint: %q refused: %v", u, err)
		}
	}
	// Still refused with the override: credentials in the URL, non-HTTP.
	for _, u := range []string{"https://user@evil/", "ftp://x/", ""} {
		if err := ValidateAuthURL(u, true); err == nil {
			t.Errorf("allow_any_endpoint: %q accepted", u)
		}
	}
}

func TestValidateRESTURL(t *testing.T) {
	good := []string{"https://mc563885gzs27c5t9-63k636ttgm.rest.marketingcloudapis.com/", "http://127.0.0.1:5555/"}
	bad := []string{
		"https://abc.auth.marketingcloudapis.com/",
		"https://abc.rest.marketingcloudapis.com.evil.example/",
		"https://evil.example/?x=https://abc.rest.marketingcloudapis.com/",
		"http://abc.rest.marketingcloudapis.com/",
	}
	for _, u := range good {
		if err := ValidateRESTURL(u, false); err != nil {
			t.Errorf("%q refused: %v", u, err)
		}
	}
	for _, u := range bad {
		if err := ValidateRESTURL(u, false); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}

func TestCheckEndpointBase(t *testing.T) {
	// The base never ends in "/", so joining "/asset/..." never gives "//asset".
	for in, want := range map[string]string{
		"https://abc.rest.marketingcloudapis.com/": "https://abc.rest.marketingcloudapis.com",
		"https://abc.rest.marketingcloudapis.com":  "https://abc.rest.marketingcloudapis.com",
		"http://127.0.0.1:80/":                     "http://127.0.0.1:80",
	} {
		got, err := checkEndpoint(in, restHostSuffix, false)
		if err != nil || got != want {
			t.Errorf("checkEndpoint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNewRequiresCredentials(t *testing.T) {
	if _, err := New(Config{AuthURL: "http://127.0.0.1:1/", ClientSecret: "s"}); err == nil {
		t.Error("missing client id accepted")
	}
	if _, err := New(Config{AuthURL: "http://127.0.0.1:1/", ClientID: "id"}); err == nil {
		t.Error("missing client secret accepted")
	}
}

// A mistyped scheme is told what is accepted: https, or http on loopback.
func TestValidateAuthURLSaysWhatIsAccepted(t *testing.T) {
	for _, u := range []string{"htp://127.0.0.1:8080/", "htps://abc.auth.marketingcloudapis.com/", "abc.auth.marketingcloudapis.com"} {
		err := ValidateAuthURL(u, false)
		if err == nil {
			t.Fatalf("%s accepted", u)
		}
		for _, want := range []string{"https://<subdomain>.auth.marketingcloudapis.com/", "http only on loopback", "127.0.0.1"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", u, err, want)
			}
		}
		if strings.Contains(err.Error(), "scheme must be https") {
			t.Errorf("%s: %q says https only, though loopback http is accepted", u, err)
		}
	}
}
