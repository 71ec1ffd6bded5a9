package objio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// onlyReader hides bytes.Reader's other methods.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// countingWriter records how many bytes reached it before an error.
type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

func TestExact(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		size     int64
		wantErr  bool
		oneByte  bool // deliver through iotest.OneByteReader
		dataErrs bool // deliver the final bytes together with io.EOF
	}{
		{name: "exact", data: "hello", size: 5},
		{name: "exact one byte at a time", data: "hello", size: 5, oneByte: true},
		{name: "exact with data+EOF", data: "hello", size: 5, dataErrs: true},
		{name: "empty", data: "", size: 0},
		{name: "short", data: "hell", size: 5, wantErr: true},
		{name: "short one byte", data: "hell", size: 5, wantErr: true, oneByte: true},
		{name: "long", data: "hello!", size: 5, wantErr: true},
		{name: "long one byte", data: "hello!", size: 5, wantErr: true, oneByte: true},
		{name: "data but zero size", data: "x", size: 0, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = onlyReader{strings.NewReader(tc.data)}
			if tc.oneByte {
				r = iotest.OneByteReader(r)
			}
			if tc.dataErrs {
				r = iotest.DataErrReader(r)
			}
			var w countingWriter
			_, err := io.Copy(&w, Exact(t.Context(), r, tc.size))
			if !tc.wantErr {
				if err != nil || int64(w.n) != tc.size {
					t.Fatalf("copy = %d, %v; want %d, nil", w.n, err, tc.size)
				}
				return
			}
			if !errors.Is(err, ErrSizeMismatch) {
				t.Fatalf("copy error = %v, want ErrSizeMismatch", err)
			}
			// A consumer must never have received the full declared size.
			if int64(w.n) >= tc.size && tc.size > 0 {
				t.Fatalf("consumer got %d bytes before the error, want < %d", w.n, tc.size)
			}
		})
	}
}

func TestExactReaderError(t *testing.T) {
	errBoom := errors.New("boom")
	_, err := io.Copy(io.Discard, Exact(t.Context(), iotest.ErrReader(errBoom), 3))
	if !errors.Is(err, errBoom) {
		t.Fatalf("copy = %v, want the reader's error", err)
	}
}

func TestExactCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	r := Exact(ctx, onlyReader{bytes.NewReader(make([]byte, 100))}, 100)
	buf := make([]byte, 10)
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := r.Read(buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel = %v, want context.Canceled", err)
	}
}

func TestCheckSeekable(t *testing.T) {
	r := bytes.NewReader([]byte("0123456789"))
	if _, err := r.Seek(3, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if err := CheckSeekable(r, 7); err != nil {
		t.Fatalf("CheckSeekable(7) = %v", err)
	}
	if err := CheckSeekable(r, 8); !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("CheckSeekable(8) = %v, want ErrSizeMismatch", err)
	}
	if pos, _ := r.Seek(0, io.SeekCurrent); pos != 3 {
		t.Fatalf("offset after check = %d, want 3", pos)
	}
}

func TestCtxErr(t *testing.T) {
	errSDK := errors.New("request send failed")
	if err := CtxErr(t.Context(), errSDK); err != errSDK { //nolint:errorlint // identity wanted
		t.Errorf("live context: %v, want the error unchanged", err)
	}
	if CtxErr(t.Context(), nil) != nil {
		t.Error("nil error not kept")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := CtxErr(ctx, errSDK)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errSDK) {
		t.Errorf("cancelled context: %v, want both errors", err)
	}
}
