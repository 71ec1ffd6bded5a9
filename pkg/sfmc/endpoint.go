package sfmc

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/backup-creator/backup-creator/pkg/redact"
)

// Host suffixes of the SFMC tenant endpoints.
const (
	authHostSuffix = ".auth.marketingcloudapis.com"
	restHostSuffix = ".rest.marketingcloudapis.com"
)

// ValidateAuthURL checks an SFMC authentication base URI. It must be
// https://<subdomain>.auth.marketingcloudapis.com[/] (subdomain of
// [0-9a-z-], no user info, port, query, fragment or path), or a loopback URL
// (http or https on 127.0.0.1, localhost or [::1]) for local emulators. With
// allowAny any http(s) URL with a host is accepted (config key
// sfmc.allow_any_endpoint), except that user info is always refused.
func ValidateAuthURL(raw string, allowAny bool) error {
	_, err := checkEndpoint(raw, authHostSuffix, allowAny)
	if err != nil {
		return fmt.Errorf("sfmc: auth url: %w", err)
	}
	return nil
}

// ValidateRESTURL checks a rest_instance_url: https://<subdomain>.rest.marketingcloudapis.com/
// or a loopback URL, with the same rules and override as ValidateAuthURL.
func ValidateRESTURL(raw string, allowAny bool) error {
	_, err := checkEndpoint(raw, restHostSuffix, allowAny)
	if err != nil {
		return fmt.Errorf("sfmc: rest_instance_url: %w", err)
	}
	return nil
}

// checkEndpoint parses raw and applies the rules of ValidateAuthURL for the
// given host suffix. It returns the URL's base (scheme://host, no trailing
// slash) joined with its path without a trailing slash.
func checkEndpoint(raw, suffix string, allowAny bool) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", fmt.Errorf("empty")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("%q is not a URL", redact.Shapes(raw))
	}
	if u.User != nil {
		return "", fmt.Errorf("%q must not contain user info (user@host)", u.Redacted())
	}
	if u.Scheme == "" {
		return "", fmt.Errorf("%q has no scheme: use https://<subdomain>%s/ (plain http only on loopback: localhost, 127.0.0.1, [::1])", u.Redacted(), suffix)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("%q: scheme %q is not accepted: use https://<subdomain>%s/ (plain http only on loopback: localhost, 127.0.0.1, [::1])", u.Redacted(), u.Scheme, suffix)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", fmt.Errorf("%q has no host", u.Redacted())
	}
	base := u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
	if allowAny {
		return base, nil
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("%q must not have a query or fragment", u.Redacted())
	}
	if isLoopback(host) {
		return base, nil
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("%q: scheme must be https (plain http is accepted only on loopback: localhost, 127.0.0.1, [::1])", u.Redacted())
	}
	if p := u.Port(); p != "" && p != "443" {
		return "", fmt.Errorf("%q: unexpected port %s", u.Redacted(), p)
	}
	if u.Path != "" && u.Path != "/" {
		return "", fmt.Errorf("%q: unexpected path %q (expected the bare https://<subdomain>%s/)", u.Redacted(), u.Path, suffix)
	}
	sub, ok := strings.CutSuffix(host, suffix)
	if !ok || !validSubdomain(sub) {
		return "", fmt.Errorf("host %q is not <subdomain>%s (set sfmc.allow_any_endpoint to override)", host, suffix)
	}
	return base, nil
}

// validSubdomain reports whether s is one DNS label of [0-9a-z-].
func validSubdomain(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
