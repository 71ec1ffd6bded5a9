// Package objio holds the stream helpers the storage backends share: a
// reader that enforces the size Put was promised and honours cancellation,
// and the wrapping that makes a cancelled call's error match
// context.Canceled whatever the SDK returned.
package objio

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// ErrSizeMismatch is wrapped when a Put body yields fewer or more bytes than
// the size the caller declared.
var ErrSizeMismatch = errors.New("body size does not match declared size")

// maxZeroReads bounds the (0, nil) reads tolerated while probing for EOF.
const maxZeroReads = 100

// Exact wraps r so that it yields exactly size bytes and then io.EOF. It
// fails with an error wrapping ErrSizeMismatch when r ends early, and also
// when r has more than size bytes: that check is made before the last bytes
// are handed out, so a consumer that commits on EOF (an HTTP upload with a
// Content-Length, a block list commit) never sees a complete body. It reads r
// until EOF, so r must end. Every Read first checks ctx and fails with
// ctx.Err() once it is done.
func Exact(ctx context.Context, r io.Reader, size int64) *ExactReader {
	return &ExactReader{ctx: ctx, r: r, remaining: size, size: size}
}

// ExactReader is the reader Exact returns.
type ExactReader struct {
	ctx       context.Context
	r         io.Reader
	size      int64
	remaining int64
	err       error // sticky
	done      bool
}

// Read implements io.Reader.
func (e *ExactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.done {
		return 0, io.EOF
	}
	if err := e.ctx.Err(); err != nil {
		e.err = err
		return 0, err
	}
	if e.remaining == 0 {
		if err := e.probeEOF(); err != nil {
			e.err = err
			return 0, err
		}
		e.done = true
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > e.remaining {
		p = p[:e.remaining]
	}
	n, err := e.r.Read(p)
	e.remaining -= int64(n)
	eof := errors.Is(err, io.EOF)
	switch {
	case err != nil && !eof:
		e.err = err
		return 0, err
	case e.remaining == 0:
		// Before handing out the last bytes make sure nothing follows.
		if !eof {
			if perr := e.probeEOF(); perr != nil {
				e.err = perr
				return 0, perr
			}
		}
		e.done = true
		return n, io.EOF
	case eof:
		e.err = fmt.Errorf("%w: body ended after %d of %d bytes", ErrSizeMismatch, e.size-e.remaining, e.size)
		return 0, e.err
	}
	return n, nil
}

// Err returns the error that stopped the reader (a size mismatch, the
// context's error, or r's own error), or nil. SDKs that fail a request
// because the body failed report their own error ("failed to rewind
// stream"); this recovers the cause.
func (e *ExactReader) Err() error { return e.err }

// probeEOF checks that r has no byte left.
func (e *ExactReader) probeEOF() error {
	var b [1]byte
	for range maxZeroReads {
		n, err := e.r.Read(b[:])
		if n > 0 {
			return fmt.Errorf("%w: body is longer than %d bytes", ErrSizeMismatch, e.size)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// SeekableSize returns the number of bytes from rs's current offset to its
// end and restores the offset.
func SeekableSize(rs io.Seeker) (int64, error) {
	cur, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	end, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	if _, err := rs.Seek(cur, io.SeekStart); err != nil {
		return 0, err
	}
	return end - cur, nil
}

// CheckSeekable verifies, without reading it, that rs holds exactly size
// bytes from its current offset. It returns an error wrapping
// ErrSizeMismatch if not.
func CheckSeekable(rs io.Seeker, size int64) error {
	n, err := SeekableSize(rs)
	if err != nil {
		return fmt.Errorf("measure body: %w", err)
	}
	if n != size {
		return fmt.Errorf("%w: body has %d bytes, declared %d", ErrSizeMismatch, n, size)
	}
	return nil
}

// CtxErr makes err match ctx.Err() with errors.Is when ctx is done, since
// SDKs do not always wrap the context's error. It returns err unchanged
// otherwise (nil stays nil).
func CtxErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	cerr := ctx.Err()
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w: %w", cerr, err)
}

// Reader wraps rc so that every Read first checks ctx; Close closes rc.
func Reader(ctx context.Context, rc io.ReadCloser) io.ReadCloser {
	return &ctxReader{ctx: ctx, rc: rc}
}

type ctxReader struct {
	ctx context.Context
	rc  io.ReadCloser
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.rc.Read(p)
}

func (c *ctxReader) Close() error { return c.rc.Close() }
