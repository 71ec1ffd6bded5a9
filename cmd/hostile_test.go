package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/redact"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// Issue 10, items 9, 13 and 16: whatever a hostile server (or anything
// else) puts into an error, no secret reaches stderr, the JSON logs, the
// --json summary or a notification, and no control character reaches the
// terminal raw.

// rawHooks records the bodies a webhook endpoint receives, as sent.
type rawHooks struct {
	mu     sync.Mutex
	bodies []string
}

func (r *rawHooks) serve(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/services/T000/B000/hook-secret-Zx81"
}

func (r *rawHooks) all(t *testing.T) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bodies) == 0 {
		t.Fatal("the webhook received nothing")
	}
	return strings.Join(r.bodies, "\n")
}

// notifyHooks points both webhooks at recorders (notify on every run).
func notifyHooks(t *testing.T) (slack, generic *rawHooks) {
	slack, generic = &rawHooks{}, &rawHooks{}
	t.Setenv("BACKUP_CREATOR_NOTIFY_SLACK_WEBHOOK_URL", slack.serve(t))
	t.Setenv("BACKUP_CREATOR_NOTIFY_WEBHOOK_URL", generic.serve(t))
	t.Setenv("BACKUP_CREATOR_NOTIFY_ON", "always")
	return slack, generic
}

// outputs are everything a run printed or sent, by name.
type outputs map[string]string

func (h *harness) assertRedacted(outs outputs) {
	h.t.Helper()
	secrets := h.secrets()
	if len(secrets) < 2 {
		h.t.Fatal("no token was recorded: the search would prove nothing")
	}
	for name, txt := range outs {
		for _, s := range secrets {
			if strings.Contains(txt, s) {
				h.t.Errorf("%s contains a secret or token:\n%s", name, txt)
			}
		}
	}
}

func TestEchoedSecretsNeverPrintedOrSent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault sfmctest.Fault
		code  int
	}{
		{"token endpoint echoes the client secret", sfmctest.Fault{Route: "token", Status: 401, Echo: true, Message: "Client authentication failed"}, ExitAuth},
		{"API echoes the bearer token", sfmctest.Fault{Route: "query", Status: 400, Echo: true, Message: "Bad query", Times: -1}, ExitFailure},
	} {
		for _, format := range []string{"json", "console"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				h := newHarness(t, sfmctest.Options{})
				h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 5})
				slack, generic := notifyHooks(t)
				// One good run first, so that a token is known (and
				// recorded) before the token endpoint turns hostile.
				if code, _, errOut := h.runJSON(); code != ExitOK {
					t.Fatalf("first run: exit %d\n%s", code, errOut)
				}
				h.emu.ExpireAllTokens()
				h.emu.InjectFault(tc.fault)
				code, out, errOut := h.run("run", "--dest", h.dest, "--json", "--log-format", format)
				if code != tc.code {
					t.Fatalf("exit %d, want %d\n%s", code, tc.code, errOut)
				}
				outs := outputs{"stderr": errOut, "--json summary": out, "slack": slack.all(t), "webhook": generic.all(t)}
				h.assertRedacted(outs)
				h.assertNoSecrets() // nor in any file of the destination
				for name, txt := range outs {
					if name != "--json summary" && !strings.Contains(txt, redact.Mark) && !strings.Contains(txt, "received") {
						t.Errorf("%s does not show the (redacted) echo at all:\n%s", name, txt)
					}
				}
				var s struct{ Error string }
				if err := json.Unmarshal([]byte(out), &s); err != nil || !strings.Contains(s.Error, redact.Mark) {
					t.Errorf("summary error %q (%v), want the redacted echo", s.Error, err)
				}
			})
		}
	}
}

// leakySource wraps the real client and fails the query with an error that
// quotes the client secret, the current token and URL credentials, as some
// other layer might: the command's own redactor must catch it.
type leakySource struct {
	Source
	h      *harness
	secret string
}

func (s leakySource) QueryAssets(ctx context.Context, q sfmc.AssetQuery, fn func(sfmc.Asset) error) error {
	if err := s.Source.QueryAssets(ctx, sfmc.AssetQuery{TypeIDs: q.TypeIDs, PageSize: 1}, func(sfmc.Asset) error { return errStop }); err != errStop {
		return err
	}
	var tok string
	for _, t := range s.h.secrets()[1:] {
		tok = t
	}
	return fmt.Errorf("proxy said: secret %s, bearer %s, upstream https://svc:pa55w0rd-Q@proxy.internal/x?sig=AbC123&token=%s",
		s.secret, tok, tok)
}

var errStop = fmt.Errorf("stop")

func TestRedactorCoversEveryOutput(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 3})
	slack, generic := notifyHooks(t)
	ping := &rawHooks{}
	t.Setenv("BACKUP_CREATOR_NOTIFY_PING_URL", ping.serve(t))
	var out, errOut strings.Builder
	a := h.app(&out, &errOut)
	real := a.NewSource
	a.NewSource = func(cfg *config.Config, log zerolog.Logger, ua string) (Source, error) {
		src, err := real(cfg, log, ua)
		if err != nil {
			return nil, err
		}
		return leakySource{Source: src, h: h, secret: cfg.SFMC.ClientSecret.Value()}, nil
	}
	code := a.Execute(t.Context(), []string{"run", "--dest", h.dest, "--json", "--log-format", "json"})
	if code != ExitFailure {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
	outs := outputs{"stderr": errOut.String(), "--json summary": out.String(), "slack": slack.all(t), "webhook": generic.all(t),
		"health-check ping": ping.all(t)}
	h.assertRedacted(outs)
	for name, txt := range outs {
		for _, leak := range []string{"pa55w0rd-Q", "AbC123"} {
			if strings.Contains(txt, leak) {
				t.Errorf("%s contains the URL credential %q:\n%s", name, leak, txt)
			}
		}
		if !strings.Contains(txt, "proxy said") {
			t.Errorf("%s lost the error:\n%s", name, txt)
		}
	}
}

func TestURLCredentialsInConfigurationNotEchoed(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		leak string
	}{
		{"s3 user info with a slash", []string{"--dest", "s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY@bucket/prefix"}, nil, "wJalrXUtnFEMI"},
		{"s3 user info", []string{"--dest", "s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMIK7MDENG@bucket/prefix"}, nil, "wJalrXUtnFEMI"},
		{"endpoint with user info", []string{"--dest", "s3://bucket/prefix?endpoint=http://minio:wJalrXUtnFEMIK7MDENG@127.0.0.1:1"}, nil, "wJalrXUtnFEMI"},
		{"secret_key parameter", []string{"--dest", "s3://bucket/prefix?secret_key=wJalrXUtnFEMIK7MDENG"}, nil, "wJalrXUtnFEMI"},
		{"env file quoting", nil, map[string]string{".env": "SFMC_CLIENT_SECRET='abc'wJalrXUtnFEMIK7MDENG\n"}, "wJalrXUtnFEMI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sfmctest.Options{})
			for name, content := range tc.env {
				os.Unsetenv("SFMC_CLIENT_SECRET")
				if err := os.WriteFile(filepath.Join(".", name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			slack, generic := notifyHooks(t)
			args := append([]string{"run", "--json", "--log-format", "json"}, tc.args...)
			code, out, errOut := h.run(args...)
			if code == ExitOK {
				t.Fatalf("exit 0\n%s", errOut)
			}
			outs := outputs{"stderr": errOut, "--json summary": out}
			slack.mu.Lock()
			outs["slack"] = strings.Join(slack.bodies, "\n")
			slack.mu.Unlock()
			generic.mu.Lock()
			outs["webhook"] = strings.Join(generic.bodies, "\n")
			generic.mu.Unlock()
			for name, txt := range outs {
				if strings.Contains(txt, tc.leak) {
					t.Errorf("%s contains the credential:\n%s", name, txt)
				}
			}
		})
	}
}

// forged is an SFMC error message that, printed raw, would clear the line
// and forge a JSON log line and a coloured one.
const forged = "Bad request\x1b[2K\r{\"level\":\"info\",\"message\":\"FORGED\"}\n\x1b[31mFORGED\x1b[0m\u009b2J"

func TestServerControlCharactersCannotForgeLogLines(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		t.Run(format, func(t *testing.T) {
			h := newHarness(t, sfmctest.Options{})
			h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 3})
			slack, _ := notifyHooks(t)
			h.emu.InjectFault(sfmctest.Fault{Route: "query", Status: 400, Message: forged, Times: -1})
			code, _, errOut := h.run("run", "--dest", h.dest, "--log-format", format, "--log-level", "debug")
			if code != ExitFailure {
				t.Fatalf("exit %d\n%s", code, errOut)
			}
			for _, raw := range []string{"\x1b[2K", "\r", "\x1b[31mFORGED", "\u009b"} {
				if strings.Contains(errOut, raw) {
					t.Errorf("stderr contains the raw sequence %q", raw)
				}
			}
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			sawEscaped := false
			for _, l := range lines {
				if strings.HasPrefix(l, "FORGED") || strings.HasPrefix(l, `{"level":"info","message":"FORGED"`) {
					t.Errorf("a forged line: %q", l)
				}
				if strings.Contains(l, `\x1b[2K`) || strings.Contains(l, `\\x1b[2K`) {
					sawEscaped = true
				}
				if format == "json" && strings.HasPrefix(l, "{") {
					var m map[string]any
					if err := json.Unmarshal([]byte(l), &m); err != nil {
						t.Errorf("not one JSON object: %q", l)
					}
					if m["message"] == "FORGED" {
						t.Errorf("forged JSON line: %q", l)
					}
				}
			}
			if !sawEscaped {
				t.Errorf("the server's message is not shown escaped:\n%s", errOut)
			}
			if strings.ContainsAny(slack.all(t), "\x1b\u009b") {
				t.Errorf("the Slack message carries raw escapes: %q", slack.all(t))
			}
		})
	}
}

func TestTableCellsDropControls(t *testing.T) {
	for in, want := range map[string]string{
		"plain Ümlaut":           "plain Ümlaut",
		"a\x1b[31mred\r\nx":      "a [31mred  x",
		"csi \u009b2J":           "csi  2J",
		"bidi \u202egnp.exe":     "bidi  gnp.exe",
		"isolate \u2066x\u2069y": "isolate  x y",
	} {
		if got := cellText(in); got != want {
			t.Errorf("cellText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigValidateOnlineRedactsEchoes(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.InjectFault(sfmctest.Fault{Route: "token", Status: 401, Echo: true, Message: "no\x1b[2J"})
	code, out, errOut := h.run("config", "validate", "--online", "--dest", h.dest, "--log-format", "json")
	if code != ExitAuth {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for name, txt := range map[string]string{"stdout": out, "stderr": errOut} {
		if strings.Contains(txt, h.emu.ClientSecret()) || strings.Contains(txt, "\x1b") {
			t.Errorf("%s shows the echoed secret or a raw escape:\n%s", name, txt)
		}
	}
	if !strings.Contains(out, "SFMC authentication: FAILED") || !strings.Contains(out, redact.Mark) {
		t.Errorf("stdout:\n%s", out)
	}
}

func TestConsoleLogEscapesMessages(t *testing.T) {
	var buf strings.Builder
	log, err := newLogger(&buf, config.Log{Level: "info", Format: "console"}, false)
	if err != nil {
		t.Fatal(err)
	}
	log.Warn().Str("name", "block \x1b[31mred\r\n").Msg("server says \x1b[2J\rgone\nFORGED")
	out := buf.String()
	if strings.Contains(out, "\x1b[2J") || strings.Contains(out, "\x1b[31mred") || strings.Contains(out, "\r") ||
		strings.Count(out, "\n") != 1 {
		t.Errorf("raw control characters in %q", out)
	}
	if !strings.Contains(out, `server says \x1b[2J\rgone\nFORGED`) {
		t.Errorf("message not shown escaped: %q", out)
	}
}

func TestPlainLineIndentsContinuations(t *testing.T) {
	for in, want := range map[string]string{
		"invalid configuration:\n  - a\n  - b":        "invalid configuration:\n  - a\n  - b",
		"sfmc: 400: x\r\n{\"level\":\"info\"}\x1b[2J": "sfmc: 400: x\\r\n  {\"level\":\"info\"}\\x1b[2J",
		"2 blocks failed: e1\ne2":                     "2 blocks failed: e1\n  e2",
	} {
		if got := plainLine(in); got != want {
			t.Errorf("plainLine(%q) = %q, want %q", in, got, want)
		}
	}
	// The real command: a configuration error keeps its list readable.
	h := newHarness(t, sfmctest.Options{})
	t.Setenv("SFMC_AUTH_URL", "")
	t.Setenv("SFMC_CLIENT_ID", "")
	code, _, errOut := h.run("run", "--dest", h.dest, "--concurrency", "0", "--log-format", "console")
	if code != ExitUsage || !strings.Contains(errOut, "problems):\n  - ") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}
