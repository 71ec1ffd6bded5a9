package sfmc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
)

// sleepCtx waits d, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryDelay classifies a failed attempt: whether to retry it and after how
// long.
func (c *Client) retryDelay(cl call, status int, retryAfter time.Duration, err error, attempt int) (time.Duration, bool) {
	switch {
	case status == http.StatusTooManyRequests:
		if retryAfter > 0 {
			return min(retryAfter, c.cfg.MaxRetryAfter), true
		}
		return c.backoff(attempt), true
	case status == http.StatusServiceUnavailable:
		if retryAfter > 0 {
			return min(retryAfter, c.cfg.MaxRetryAfter), true
		}
		return c.backoff(attempt), true
	case status == http.StatusInternalServerError || status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
		return c.backoff(attempt), !cl.unsafe
	case status != 0:
		return 0, false
	}
	// No status: a transport error or a failure reading the body.
	if !retryableNetErr(err) {
		return 0, false
	}
	if cl.noAuth && isHostNotFound(err) {
		return 0, false // a mistyped auth URL, not a transient failure
	}
	if cl.unsafe && !isDialErr(err) {
		return 0, false
	}
	return c.backoff(attempt), true
}

// backoff is the capped exponential delay before retry number attempt (1 =
// first retry), with "equal jitter": half fixed, half random, so a wait is
// never shorter than half its nominal value.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.RetryBaseDelay
	for i := 1; i < attempt && d < c.cfg.RetryMaxDelay; i++ {
		d *= 2
	}
	d = min(d, c.cfg.RetryMaxDelay)
	half := d / 2
	return half + rand.N(d-half+1)
}

// retryableNetErr reports whether a transport error is worth retrying:
// resets, EOFs and timeouts are; TLS certificate problems and malformed
// requests are not.
func retryableNetErr(err error) bool {
	var (
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		certInvalid x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
		certVerify  *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &certInvalid),
		errors.As(err, &recordErr), errors.As(err, &certVerify):
		return false
	case errors.Is(err, errBadResponse):
		return false
	}
	var re *RedirectError
	return !errors.As(err, &re)
}

// isDialErr reports an error raised before a connection existed, so the
// server cannot have seen the request.
func isDialErr(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
