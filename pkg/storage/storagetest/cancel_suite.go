package storagetest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

func (s *suite) testCancelledContext(t *testing.T) {
	st := s.store(t)
	mustPut(t, st, "exists", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	wantCanceled := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", op, err)
		}
	}
	_, err := st.Put(ctx, "new", onlyReader{strings.NewReader("data")}, 4, storage.PutOptions{})
	wantCanceled("put", err)
	_, err = st.Put(ctx, "new", onlyReader{strings.NewReader("data")}, 4, freshOpts())
	wantCanceled("fresh put", err)
	rc, _, err := st.Get(ctx, "exists")
	if err == nil {
		// Some stores open lazily; the first read must then fail.
		_, err = io.Copy(io.Discard, rc)
		_ = rc.Close()
	}
	wantCanceled("get", err)
	_, err = st.Stat(ctx, "exists")
	wantCanceled("stat", err)
	calls := 0
	err = st.List(ctx, "", func(storage.ObjectInfo) error { calls++; return nil })
	wantCanceled("list", err)
	if calls != 0 {
		t.Errorf("list with a cancelled context called fn %d times", calls)
	}
	wantCanceled("delete", st.Delete(ctx, "exists", storage.DeleteOptions{}))
	wantMissing(t, st, "new")
	wantContent(t, st, "exists", []byte("x"))
}

// cancellingReader yields size bytes and cancels its context once it has
// handed out the first chunk, so cancellation hits an upload in flight.
type cancellingReader struct {
	cancel context.CancelFunc
	left   int
	reads  int
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	c.reads++
	if c.reads == 2 {
		c.cancel()
	}
	n := min(len(p), c.left, 32<<10)
	for i := range n {
		p[i] = byte(i)
	}
	c.left -= n
	return n, nil
}

func (s *suite) testCancelDuringPut(t *testing.T) {
	st := s.store(t)
	for _, cond := range []struct {
		name string
		opts storage.PutOptions
	}{
		{"unconditional", storage.PutOptions{}},
		{"if-not-exists", storage.PutOptions{IfNotExists: true}},
		{"fresh", freshOpts()},
	} {
		t.Run(cond.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			const size = 4 << 20
			_, err := st.Put(ctx, "cancelled", &cancellingReader{cancel: cancel, left: size}, size, cond.opts)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("put cancelled mid-stream: %v, want context.Canceled", err)
			}
			wantMissing(t, st, "cancelled")
		})
	}
	if got := listKeys(t, st, ""); len(got) != 0 {
		t.Errorf("list after cancelled puts = %q, want nothing", got)
	}
}
