package redact_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/redact"
)

func TestStringRemovesRegisteredSecrets(t *testing.T) {
	r := redact.New("s3cr3t-Value", "short", "")
	r.Add(`tok"en<with>&specials\x`)
	for _, tc := range []struct{ name, in, gone string }{
		{"plain", "sfmc: POST token: 401 (invalid_client): bad secret s3cr3t-Value given", "s3cr3t-Value"},
		{"json escaped", `{"message":"echo tok\"en<with>&specials\\x"}`, `tok\"en<with>&specials\\x`},
		{"go quoted", `msg="tok\"en<with>&specials\\x"`, `tok\"en<with>&specials\\x`},
		{"query escaped", "https://h/?x=tok%22en%3Cwith%3E%26specials%5Cx", "tok%22en%3Cwith%3E%26specials%5Cx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := r.String(tc.in)
			if strings.Contains(got, tc.gone) || !strings.Contains(got, redact.Mark) {
				t.Errorf("String(%q) = %q", tc.in, got)
			}
		})
	}
	if got := r.String("a short word"); got != "a short word" {
		t.Errorf("a secret shorter than MinSecretLen was registered: %q", got)
	}
}

func TestStringRemovesCredentialShapes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`dest "s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY@bucket/prefix" is not valid`,
			`dest "s3://[REDACTED]@bucket/prefix" is not valid`},
		{"endpoint=http://user:secret@minio:9000 refused", "endpoint=http://[REDACTED]@minio:9000 refused"},
		{"s3://b/p?endpoint=http%3A%2F%2Fuser%3Asecret%40minio%3A9000&region=x", "s3://b/p?endpoint=http%3A%2F%2F[REDACTED]%40minio%3A9000&region=x"},
		{"https://token@github.example/x", "https://[REDACTED]@github.example/x"},
		{"GET https://acct.blob.core.windows.net/c/k?sv=2024&sig=abc%2Bdef%3D&se=x: 403", "GET https://acct.blob.core.windows.net/c/k?sv=2024&sig=[REDACTED]&se=x: 403"},
		{"https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F2026&X-Amz-Signature=0123abcd", "https://b.s3.amazonaws.com/k?X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]"},
		{"s3://bucket?SECRET_KEY=abc123&region=eu", "s3://bucket?SECRET_KEY=[REDACTED]&region=eu"},
		{"url?access_token=eyJabc.def&token=zzz&client_secret=c1&password=p w", "url?access_token=[REDACTED]&token=[REDACTED]&client_secret=[REDACTED]&password=[REDACTED] w"},
		{"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "Authorization: Bearer [REDACTED]"},
		// Not credentials: left alone.
		{`{"requests":{"token":3,"query":2}}`, `{"requests":{"token":3,"query":2}}`},
		{"sfmc.client_secret = (set)", "sfmc.client_secret = (set)"},
		{"https://host/path/user@example.com", "https://host/path/user@example.com"},
		{"mail backup@example.com failed", "mail backup@example.com failed"},
		{"key=backup_20261201/block.json", "key=backup_20261201/block.json"},
	} {
		if got := redact.New().String(tc.in); got != tc.want {
			t.Errorf("String(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
		if got := redact.Shapes(tc.in); got != tc.want {
			t.Errorf("Shapes(%q) = %q", tc.in, got)
		}
	}
}

func TestShapesKeepJSONValid(t *testing.T) {
	for _, v := range []string{
		`proxy said "token=abc" and \ "https://u:p@h" and password=x\y`,
		"tab\tsecret_key=k\x01z and http%3A%2F%2Fu%3Ap%40h",
	} {
		b, err := json.Marshal(map[string]string{"error": v})
		if err != nil {
			t.Fatal(err)
		}
		red := redact.New().String(string(b))
		var m map[string]string
		if err := json.Unmarshal([]byte(red), &m); err != nil {
			t.Errorf("redacting %s broke the JSON: %s (%v)", b, red, err)
		}
		if !strings.Contains(red, redact.Mark) || strings.Contains(red, "x\\\\y") || strings.Contains(red, `\\y`) {
			t.Errorf("not redacted (whole) in %s", red)
		}
	}
}

func TestNilRedactorAppliesShapes(t *testing.T) {
	var r *redact.Redactor
	r.Add("ignored-secret")
	if got := r.String("https://u:p@h/"); got != "https://[REDACTED]@h/" {
		t.Errorf("nil redactor: %q", got)
	}
}

func TestWriterRedactsEachWrite(t *testing.T) {
	r := redact.New()
	var out bytes.Buffer
	w := r.Writer(&out)
	// A secret added after the writer was made is still removed.
	r.Add("late-added-token")
	line := `{"level":"error","error":"sfmc: GET asset 1: 401: token late-added-token rejected"}` + "\n"
	n, err := w.Write([]byte(line))
	if err != nil || n != len(line) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(line))
	}
	if strings.Contains(out.String(), "late-added-token") {
		t.Errorf("written: %s", out.String())
	}
	var v map[string]any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Errorf("redaction broke the JSON line: %v", err)
	}
}

// TestConcurrentAddAndString: tokens are added while log lines are being
// redacted (go test -race).
func TestConcurrentAddAndString(t *testing.T) {
	r := redact.New("first-secret")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			// Lengths vary, so that adding reorders the list.
			r.Add(fmt.Sprintf("token-%06d%s", i, strings.Repeat("x", i%7)))
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			if got := r.String("x token-000199xxx first-secret"); got != "x [REDACTED] [REDACTED]" {
				t.Fatalf("after the adds: %q", got)
			}
			return
		default:
			_ = r.String(fmt.Sprintf("line %d token-000001 first-secret", i))
		}
	}
}

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, ümlauts and 日本語", "plain text, ümlauts and 日本語"},
		{"red \x1b[31mALERT\x1b[0m", `red \x1b[31mALERT\x1b[0m`},
		{"line1\r\n{\"level\":\"info\"}", `line1\r\n{"level":"info"}`},
		{"tab\there\x00nul\x7fdel", `tab\there\x00nul\x7fdel`},
		{"c1 \u0085 \u009b2J", `c1 \u0085 \u009b2J`},
		{"bidi \u202egnp.exe", `bidi \u202egnp.exe`},
		{"bad utf8 \xff\xfe", `bad utf8 \xff\xfe`},
	} {
		if got := redact.Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEscapeLines(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"one line \x1b[2J", `one line \x1b[2J`},
		{"invalid configuration:\n  - a\n  - b", "invalid configuration:\n  - a\n  - b"},
		{"2 blocks failed: e1\ne2\r\n{\"level\":\"info\"}", "2 blocks failed: e1\n  e2\\r\n  {\"level\":\"info\"}"},
	} {
		if got := redact.EscapeLines(tc.in); got != tc.want {
			t.Errorf("EscapeLines(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func BenchmarkStringLogLine(b *testing.B) {
	r := redact.New("test-client-secret", "eyJhbGciOiJIUzI1NiIsImtpZCI6IjQiLCJ2ZXIiOiIxIiwidHlwIjoiSldUIn0")
	line := `{"level":"debug","endpoint":"POST asset query","status":200,"duration_ms":41,"time":"2026-12-01T16:00:00Z","message":"sfmc: response"}`
	b.ReportAllocs()
	for b.Loop() {
		_ = r.String(line)
	}
}
