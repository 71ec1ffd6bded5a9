package notify

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"
)

// received is one message captured by the test SMTP server.
type received struct {
	From, Auth string
	To         []string
	Data       string
	TLS        bool
}

// smtpServer is a tiny SMTP server on 127.0.0.1: it speaks just enough of
// RFC 5321 (EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) for net/smtp
// to deliver a message, and hands each message to the test.
type smtpServer struct {
	addr     string
	tls      *tls.Config // offer STARTTLS when set
	auth     bool        // offer AUTH PLAIN
	messages chan received
	errs     chan error
}

func newSMTPServer(t *testing.T, tlsCfg *tls.Config, auth bool) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{addr: ln.Addr().String(), tls: tlsCfg, auth: auth,
		messages: make(chan received, 4), errs: make(chan error, 4)}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if err := s.serve(conn); err != nil {
					s.errs <- err
				}
			}()
		}
	}()
	return s
}

func (s *smtpServer) hostPort(t *testing.T) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return h, n
}

func (s *smtpServer) serve(conn net.Conn) error {
	defer conn.Close()
	r := bufio.NewReader(conn)
	reply := func(lines ...string) error {
		_, err := io.WriteString(conn, strings.Join(lines, "\r\n")+"\r\n")
		return err
	}
	var msg received
	if err := reply("220 test ESMTP"); err != nil {
		return err
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil // client went away
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			lines := []string{"250-test"}
			if s.tls != nil && !msg.TLS {
				lines = append(lines, "250-STARTTLS")
			}
			if s.auth {
				lines = append(lines, "250-AUTH PLAIN")
			}
			err = reply(append(lines, "250 8BITMIME")...)
		case "STARTTLS":
			if err := reply("220 ready"); err != nil {
				return err
			}
			tc := tls.Server(conn, s.tls)
			if err := tc.Handshake(); err != nil {
				return err
			}
			conn, r, msg.TLS = tc, bufio.NewReader(tc), true
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			b, derr := base64.StdEncoding.DecodeString(resp)
			if mech != "PLAIN" || derr != nil {
				err = reply("504 unsupported")
				break
			}
			msg.Auth = string(b)
			err = reply("235 ok")
		case "MAIL":
			msg.From = angleAddr(arg)
			err = reply("250 ok")
		case "RCPT":
			msg.To = append(msg.To, angleAddr(arg))
			err = reply("250 ok")
		case "DATA":
			if err := reply("354 go ahead"); err != nil {
				return err
			}
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return err
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, ".")) // undo dot-stuffing
			}
			msg.Data = data.String()
			s.messages <- msg
			err = reply("250 queued")
		case "QUIT":
			return reply("221 bye")
		default:
			err = reply("502 not implemented")
		}
		if err != nil {
			return err
		}
	}
}

// angleAddr returns the <address> of a MAIL FROM or RCPT TO argument, which
// may be followed by parameters (BODY=8BITMIME).
func angleAddr(arg string) string {
	_, rest, _ := strings.Cut(arg, "<")
	addr, _, _ := strings.Cut(rest, ">")
	return addr
}

// next returns the next captured message, or fails if there is none: Send
// has returned, so a delivered message is already in the channel.
func (s *smtpServer) next(t *testing.T) received {
	t.Helper()
	select {
	case m := <-s.messages:
		return m
	case err := <-s.errs:
		t.Fatalf("smtp server: %v", err)
	default:
		t.Fatal("no message was delivered")
	}
	return received{}
}

func (s *smtpServer) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-s.messages:
		t.Errorf("a message was delivered: %+v", m)
	default:
	}
}

func testEvent() Event {
	return Event{
		Status: StatusFailed, ExitCode: 4, Host: "db1", Backup: "backup_20261123", Destination: "gs://b/p",
		Error: "sfmc: unauthorized", Time: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC),
		Summary: map[string]any{"status": "failed", "blocks": 0, "line": ".leading dot"},
	}
}

// parseMail decodes a captured message's headers and quoted-printable body.
func parseMail(t *testing.T, data string) (*mail.Message, string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, data)
	}
	if cte := m.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding = %q", cte)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	return m, strings.ReplaceAll(string(b), "\r\n", "\n")
}

func TestSendMail(t *testing.T) {
	srv := newSMTPServer(t, nil, true)
	host, port := srv.hostPort(t)
	cfg := Config{SMTP: SMTPConfig{
		Host: host, Port: port, Username: "backup", Password: "pa55word",
		From: "Backups <backup@example.com>", To: []string{"ops@example.com", "Dev Team <dev@example.com>"},
	}}
	ev := testEvent()
	if errs := Send(t.Context(), cfg, ev, nil); len(errs) > 0 {
		t.Fatalf("Send: %v", errs)
	}
	got := srv.next(t)
	if got.Auth != "\x00backup\x00pa55word" {
		t.Errorf("AUTH PLAIN = %q", got.Auth)
	}
	if got.From != "backup@example.com" || strings.Join(got.To, ",") != "ops@example.com,dev@example.com" {
		t.Errorf("envelope from %q to %q", got.From, got.To)
	}
	m, body := parseMail(t, got.Data)
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if subject != "[backup-creator] backup failed on db1: backup_20261123" {
		t.Errorf("Subject = %q", subject)
	}
	if to := m.Header.Get("To"); to != `<ops@example.com>, "Dev Team" <dev@example.com>` {
		t.Errorf("To = %q", to)
	}
	if d, err := m.Header.Date(); err != nil || !d.Equal(ev.Time) {
		t.Errorf("Date = %v, %v; want %v", d, err, ev.Time)
	}
	wantText := "backup-creator: backup failed on db1: backup_20261123 → gs://b/p; 0 blocks (exit 4)\nerror: sfmc: unauthorized\n"
	if !strings.HasPrefix(body, wantText) {
		t.Errorf("body = %q, want it to start with %q", body, wantText)
	}
	_, js, ok := strings.Cut(body, "\nSummary:\n")
	if !ok {
		t.Fatalf("body has no summary: %q", body)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(js), &sum); err != nil || sum["status"] != "failed" || sum["line"] != ".leading dot" {
		t.Errorf("summary in body = %q (%v)", js, err)
	}
	if strings.Contains(got.Data, "pa55word") {
		t.Error("the message contains the SMTP password")
	}
}

func TestSendMailStartTLS(t *testing.T) {
	// httptest's certificate is valid for 127.0.0.1.
	hs := httptest.NewTLSServer(nil)
	t.Cleanup(hs.Close)
	pool := x509.NewCertPool()
	pool.AddCert(hs.Certificate())

	srv := newSMTPServer(t, &tls.Config{Certificates: hs.TLS.Certificates}, true)
	host, port := srv.hostPort(t)
	cfg := Config{SMTP: SMTPConfig{
		Host: host, Port: port, Username: "u", Password: "p", StartTLS: true,
		From: "backup@example.com", To: []string{"ops@example.com"},
		tlsConfig: &tls.Config{RootCAs: pool, ServerName: host},
	}}
	if errs := Send(t.Context(), cfg, testEvent(), nil); len(errs) > 0 {
		t.Fatalf("Send: %v", errs)
	}
	if got := srv.next(t); !got.TLS || got.Auth != "\x00u\x00p" {
		t.Errorf("delivered with TLS=%v auth=%q; want TLS and auth", got.TLS, got.Auth)
	}

	// A certificate the client does not trust fails the handshake: no mail,
	// no password sent.
	cfg.SMTP.tlsConfig = &tls.Config{ServerName: host, RootCAs: x509.NewCertPool()}
	errs := Send(t.Context(), cfg, testEvent(), nil)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "starttls") {
		t.Errorf("errors = %v, want one starttls error", errs)
	}
	srv.none(t)
}

func TestSendMailRefusesWithoutStartTLS(t *testing.T) {
	srv := newSMTPServer(t, nil, true) // offers no STARTTLS
	host, port := srv.hostPort(t)
	cfg := Config{SMTP: SMTPConfig{
		Host: host, Port: port, Username: "u", Password: "hunter2", StartTLS: true,
		From: "backup@example.com", To: []string{"ops@example.com"},
	}}
	errs := Send(t.Context(), cfg, testEvent(), nil)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "STARTTLS") {
		t.Fatalf("errors = %v, want one about STARTTLS", errs)
	}
	if strings.Contains(errs[0].Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", errs[0])
	}
	srv.none(t)
}

func TestSendMailRejectsHeaderInjection(t *testing.T) {
	srv := newSMTPServer(t, nil, false)
	host, port := srv.hostPort(t)
	cfg := Config{SMTP: SMTPConfig{
		Host: host, Port: port, From: "backup@example.com", To: []string{"ops@example.com\r\nBcc: evil@example.com"},
	}}
	errs := Send(t.Context(), cfg, testEvent(), nil)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "notify.smtp.to") {
		t.Fatalf("errors = %v, want one about notify.smtp.to", errs)
	}
	srv.none(t)
}

func TestSendMailDeadServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := Config{SMTP: SMTPConfig{Host: "127.0.0.1", Port: addr.Port, From: "a@b.c", To: []string{"d@e.f"}}}
	errs := Send(t.Context(), cfg, testEvent(), nil)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "smtp 127.0.0.1:") {
		t.Errorf("errors = %v, want one smtp error", errs)
	}
}

func TestSMTPDefaultPort(t *testing.T) {
	tests := []struct {
		cfg  SMTPConfig
		want int
	}{
		{SMTPConfig{}, 25},
		{SMTPConfig{StartTLS: true}, 587},
		{SMTPConfig{Port: 2525, StartTLS: true}, 2525},
	}
	for _, tc := range tests {
		if got := tc.cfg.port(); got != tc.want {
			t.Errorf("port(%+v) = %d, want %d", tc.cfg, got, tc.want)
		}
	}
}
