package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// SMTPConfig sends the notification as a plain-text email. The password is a
// secret: it is only ever sent to the server, after STARTTLS (or to a server
// on localhost).
type SMTPConfig struct {
	// Host is the mail server's name; empty disables email.
	Host string
	// Port defaults to 587 with StartTLS and 25 without.
	Port int
	// Username and Password authenticate with AUTH PLAIN when Username is set.
	Username string
	Password string
	// From is the sender address ("Backups <backup@example.com>").
	From string
	// To lists the recipients.
	To []string
	// StartTLS requires the server to offer STARTTLS and upgrades the
	// connection before authenticating; a server without it is an error.
	StartTLS bool

	// tlsConfig replaces the TLS client configuration (tests trust their
	// own certificate with it).
	tlsConfig *tls.Config
}

func (s SMTPConfig) port() int {
	switch {
	case s.Port != 0:
		return s.Port
	case s.StartTLS:
		return 587
	default:
		return 25
	}
}

func (s SMTPConfig) problems() []string {
	if s.Host == "" {
		if len(s.To) > 0 || s.From != "" {
			return []string{"notify.smtp.host is not set, but a sender or recipients are"}
		}
		return nil
	}
	var p []string
	if strings.ContainsAny(s.Host, ":/ \r\n") {
		p = append(p, fmt.Sprintf("notify.smtp.host %q: a host name only (the port is notify.smtp.port)", s.Host))
	}
	if s.Port < 0 || s.Port > 65535 {
		p = append(p, fmt.Sprintf("notify.smtp.port %d is out of range", s.Port))
	}
	if s.Password != "" && s.Username == "" {
		p = append(p, "notify.smtp.password is set but notify.smtp.username is not")
	}
	if s.From == "" {
		p = append(p, "notify.smtp.from is not set")
	} else if _, err := parseAddress(s.From); err != nil {
		p = append(p, fmt.Sprintf("notify.smtp.from %q is not an email address", s.From))
	}
	if len(s.To) == 0 {
		p = append(p, "notify.smtp.to lists no recipient")
	}
	for _, to := range s.To {
		if _, err := parseAddress(to); err != nil {
			p = append(p, fmt.Sprintf("notify.smtp.to %q is not an email address", to))
		}
	}
	return p
}

// parseAddress parses one RFC 5322 address and refuses line breaks, which
// would let a value add headers.
func parseAddress(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in address")
	}
	return mail.ParseAddress(s)
}

// sendMail delivers one message. The connection is closed when ctx ends, so a
// stalled server cannot hold the run.
func sendMail(ctx context.Context, cfg SMTPConfig, ev Event, text string, summary json.RawMessage) (err error) {
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.port()))
	where := "smtp " + addr
	if p := cfg.problems(); len(p) > 0 {
		return fmt.Errorf("%s: %s", where, strings.Join(p, "; "))
	}
	from, _ := parseAddress(cfg.From)
	var to []*mail.Address
	for _, t := range cfg.To {
		a, _ := parseAddress(t)
		to = append(to, a)
	}
	msg, err := buildMessage(from, to, ev, text, summary)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer func() {
		// Whatever the protocol step that noticed, a cancelled or expired
		// ctx is the cause.
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%s: %w", where, ctx.Err())
		}
	}()

	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("%s: %w", where, err)
	}
	defer c.Close()
	if cfg.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("%s: server does not offer STARTTLS (notify.smtp.starttls is on)", where)
		}
		tc := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
		if cfg.tlsConfig != nil {
			tc = cfg.tlsConfig.Clone()
		}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("%s: starttls: %w", where, err)
		}
	}
	if cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("%s: server does not offer AUTH", where)
		}
		// PlainAuth refuses to send the password over an unencrypted
		// connection to anything but localhost.
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)); err != nil {
			return fmt.Errorf("%s: auth: %w", where, err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("%s: mail from: %w", where, err)
	}
	for _, a := range to {
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("%s: rcpt to %s: %w", where, a.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("%s: data: %w", where, err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("%s: data: %w", where, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("%s: data: %w", where, err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("%s: quit: %w", where, err)
	}
	return nil
}

// Subject is the email subject for ev.
func Subject(ev Event) string {
	s := "[backup-creator] backup " + ev.Status
	if ev.Host != "" {
		s += " on " + ev.Host
	}
	if ev.Backup != "" {
		s += ": " + ev.Backup
	}
	return s
}

// buildMessage renders a plain-text, quoted-printable email: the message text,
// then the summary as indented JSON.
func buildMessage(from *mail.Address, to []*mail.Address, ev Event, text string, summary json.RawMessage) ([]byte, error) {
	var hdr bytes.Buffer
	rcpts := make([]string, len(to))
	for i, a := range to {
		rcpts[i] = a.String()
	}
	subject := strings.NewReplacer("\r", " ", "\n", " ").Replace(Subject(ev))
	fmt.Fprintf(&hdr, "From: %s\r\n", from.String())
	fmt.Fprintf(&hdr, "To: %s\r\n", strings.Join(rcpts, ", "))
	fmt.Fprintf(&hdr, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&hdr, "Date: %s\r\n", ev.Time.Format(time.RFC1123Z))
	hdr.WriteString("MIME-Version: 1.0\r\n")
	hdr.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	hdr.WriteString("Content-Transfer-Encoding: quoted-printable\r\n")
	hdr.WriteString("Auto-Submitted: auto-generated\r\n\r\n")

	body := text + "\n"
	if len(summary) > 0 {
		var ind bytes.Buffer
		if err := json.Indent(&ind, summary, "", "  "); err != nil {
			return nil, fmt.Errorf("summary: %w", err)
		}
		body += "\nSummary:\n" + ind.String() + "\n"
	}
	qp := quotedprintable.NewWriter(&hdr)
	if _, err := qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return hdr.Bytes(), nil
}
