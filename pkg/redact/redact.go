// Package redact removes credentials from text before it leaves the process:
// log lines, error messages, the --json summary and notifications all pass
// through one Redactor.
//
// A Redactor knows two kinds of secrets. The ones this process holds (the
// SFMC client secret, every access token it received, webhook URLs, SMTP
// and cloud passwords) are registered with Add and removed wherever they
// appear, also in their JSON-escaped and URL-encoded spellings. Credentials it
// never held are recognised by their shape: the user info of a URL
// (scheme://user:password@host, also percent-encoded inside another URL),
// query parameters that carry a credential (secret_key=, sig=,
// X-Amz-Signature=, token=, access_token=, client_secret=, password=, …,
// matched case-insensitively) and "Bearer <token>".
//
// The package also escapes control characters (Escape), so that text that
// came from outside cannot move the cursor, colour the terminal or start a
// forged log line.
//
// It has no dependency outside the standard library, so every layer may use it.
package redact

import (
	"encoding/json"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Mark replaces every secret.
const Mark = "[REDACTED]"

// MinSecretLen is the shortest value Add registers: shorter strings would
// blank out ordinary words and numbers, and are no real secrets anyway.
const MinSecretLen = 6

// credentialParams are query (or key=value) names whose value is a credential.
var credentialParams = []string{
	"access_token", "refresh_token", "id_token", "token", "auth_token", "api_key", "apikey",
	"client_secret", "secret", "secret_key", "secret_access_key", "aws_secret_access_key",
	"password", "passwd", "pwd",
	"sig", "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token",
	"x-goog-signature", "x-goog-credential", "sharedaccesssignature", "accountkey",
}

var (
	// scheme://user[:password]@ — the user part has no "/", so a path
	// with an "@" further on is not taken for user info; the password may
	// contain "/" (AWS secret keys do). No class takes a backslash or a
	// quote: in a JSON log line either may belong to an escape, and
	// consuming it would break the line; an escaped backslash (\\) is
	// taken whole.
	userInfoRE = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@"'<>\x60\\]+(?::(?:[^\s@"'<>\x60\\]|\\\\)*)?@`)
	// The same, percent-encoded as a query value: http%3A%2F%2Fuser%3Apass%40host.
	encUserInfoRE = regexp.MustCompile(`(?i)(%3A%2F%2F)[^\s&#"'%/\\]*(?:%3A[^\s&#"'@\\]*?)?%40`)
	// name=value only: "token": 3 (a request counter in the summary) and
	// "client_secret = (set)" are not credentials.
	paramRE  = regexp.MustCompile(`(?i)(\b(?:` + paramAlternation() + `)=)((?:[^\s&#"',;<>\\]|\\\\)+)`)
	bearerRE = regexp.MustCompile(`(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}`)
)

func paramAlternation() string {
	qs := make([]string, len(credentialParams))
	for i, p := range credentialParams {
		qs[i] = regexp.QuoteMeta(p)
	}
	// Longest first, so x-amz-signature wins over signature.
	slices.SortFunc(qs, func(a, b string) int { return len(b) - len(a) })
	return strings.Join(qs, "|")
}

// Redactor removes secrets from text. The zero value is not usable: use New.
// It is safe for concurrent use; secrets can be added while it is in use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string // longest first, so a secret containing another goes first
	repl    *strings.Replacer
}

// New returns a Redactor that knows the given secrets (empty and short ones
// are ignored, see Add).
func New(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add registers secrets. Each is removed as written, JSON-escaped and
// URL-encoded. Values shorter than MinSecretLen are ignored. A nil Redactor
// ignores the call.
func (r *Redactor) Add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Copy on write: String iterates its snapshot of the list unlocked.
	next := slices.Clone(r.secrets)
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) < MinSecretLen {
			continue
		}
		for _, v := range spellings(s) {
			if !slices.Contains(next, v) {
				next = append(next, v)
			}
		}
	}
	if len(next) == len(r.secrets) {
		return
	}
	slices.SortFunc(next, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(next))
	for _, s := range next {
		pairs = append(pairs, s, Mark)
	}
	r.secrets, r.repl = next, strings.NewReplacer(pairs...)
}

// spellings are the forms a secret takes in the outputs: as is, inside a
// JSON string, in a URL query or path.
func spellings(s string) []string {
	out := []string{s}
	if b, err := json.Marshal(s); err == nil {
		if j := string(b[1 : len(b)-1]); j != s {
			out = append(out, j)
		}
	}
	// zerolog's JSON escaping does not escape <, > and &.
	if q := strconv.Quote(s); q[1:len(q)-1] != s && !slices.Contains(out, q[1:len(q)-1]) {
		out = append(out, q[1:len(q)-1])
	}
	for _, e := range []string{url.QueryEscape(s), url.PathEscape(s)} {
		if e != s && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// String returns s with every registered secret and every credential-shaped
// part (URL user info, credential query parameters, bearer tokens) replaced
// by Mark. A nil Redactor applies only the shape rules.
func (r *Redactor) String(s string) string {
	if r != nil {
		r.mu.RLock()
		repl, secrets := r.repl, r.secrets
		r.mu.RUnlock()
		// Most text holds no secret: look before building a new string.
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				s = repl.Replace(s)
				break
			}
		}
	}
	return Shapes(s)
}

// Shapes replaces the credential-shaped parts of s (URL user info, credential
// query parameters, bearer tokens) by Mark. It needs no registered secret:
// use it where no Redactor is at hand, e.g. to quote a URL in an error.
func Shapes(s string) string {
	if !mayHaveShape(s) {
		return s
	}
	s = userInfoRE.ReplaceAllString(s, "${1}"+Mark+"@")
	s = encUserInfoRE.ReplaceAllString(s, "${1}"+Mark+"%40")
	s = paramRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := paramRE.FindStringSubmatch(m)
		if strings.HasPrefix(sub[2], Mark) {
			return m
		}
		return sub[1] + Mark
	})
	s = bearerRE.ReplaceAllString(s, "${1}"+Mark)
	return s
}

// mayHaveShape is a cheap pre-check that skips the regular expressions for
// the common log line without any of their anchors.
func mayHaveShape(s string) bool {
	// User info needs an "@" (or "%40"), a parameter an "=".
	return strings.ContainsAny(s, "@=") || strings.Contains(s, "%40") || containsFold(s, "bearer")
}

// containsFold reports whether s contains the lower-case ASCII word w in
// any case.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i]|0x20 == w[0] && strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// Error returns err's message redacted ("" for nil).
func (r *Redactor) Error(err error) string {
	if err == nil {
		return ""
	}
	return r.String(err.Error())
}

// Writer returns a writer that redacts every Write before passing it on. It
// redacts each Write on its own, so it suits writers that receive whole
// lines or documents per call (zerolog writes one event per call; an
// encoding/json Encoder one value).
func (r *Redactor) Writer(w io.Writer) io.Writer {
	return &writer{r: r, w: w}
}

type writer struct {
	r *Redactor
	w io.Writer
}

func (w *writer) Write(p []byte) (int, error) {
	s := string(p)
	red := w.r.String(s)
	if red == s {
		return w.w.Write(p)
	}
	if _, err := io.WriteString(w.w, red); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Escape returns s with control characters written as Go escapes (\x1b,
// \r, \n, \t, \u0085, …) and invalid UTF-8 as \xNN, so text from outside
// (server messages, asset names) cannot drive a terminal or forge a second
// line in a log. Printable text, including non-ASCII letters, is unchanged.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case isControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// EscapeLines is Escape for text meant to span lines (an error that joins
// several, a list of problems): line feeds are kept, and every line after
// the first is indented by two spaces unless it already is, so no line of
// foreign text can start at the left margin (as a forged log line would).
func EscapeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		l = Escape(l)
		if i > 0 && !strings.HasPrefix(l, "  ") {
			l = "  " + l
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || isControl(r) {
			return true
		}
		i += size
	}
	return false
}

// isControl reports C0 and C1 controls, DEL, and the Unicode line and
// paragraph separators and bidirectional overrides that can reorder or
// break a displayed line.
func isControl(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == '\u2028' || r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}
