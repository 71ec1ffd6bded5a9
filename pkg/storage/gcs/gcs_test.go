package gcs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/storagetest"
)

// emulator returns an admin client for the fake-gcs-server that
// STORAGE_EMULATOR_HOST points at (scripts/test-servers.sh).
func emulator(t testing.TB) *gcs.Client {
	t.Helper()
	storagetest.Env(t, "STORAGE_EMULATOR_HOST")
	cl, err := gcs.NewClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

var bucketSeq atomic.Int64

// createBucket makes a uniquely named bucket and removes it, with its
// objects, when t ends.
func createBucket(t testing.TB, cl *gcs.Client) string {
	t.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "bc-test-" + hex.EncodeToString(rnd[:]) + "-" + strconv.FormatInt(bucketSeq.Add(1), 10)
	b := cl.Bucket(name)
	if err := b.Create(t.Context(), "test-project", nil); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context()) // t.Context is done during cleanup
		it := b.Objects(ctx, nil)
		for {
			a, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				t.Errorf("cleanup list %s: %v", name, err)
				return
			}
			if err := b.Object(a.Name).Delete(ctx); err != nil {
				t.Errorf("cleanup delete %s/%s: %v", name, a.Name, err)
			}
		}
		if err := b.Delete(ctx); err != nil {
			t.Errorf("cleanup delete bucket %s: %v", name, err)
		}
	})
	return name
}

func TestConformance(t *testing.T) {
	admin := emulator(t)
	for _, prefix := range []string{"", "backups/sfmc"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			storagetest.RunWithOptions(t, func(t *testing.T) storage.Store {
				st, err := New(t.Context(), Config{Bucket: createBucket(t, admin), Prefix: prefix, listPageSize: 7})
				if err != nil {
					t.Fatal(err)
				}
				return st
			}, storagetest.Options{ListKeys: 25, LargeSize: 20 << 20}) // 20 MiB: two resumable chunks
		})
	}
}

func TestPrefixPlacement(t *testing.T) {
	admin := emulator(t)
	bucket := createBucket(t, admin)
	st, err := New(t.Context(), Config{Bucket: bucket, Prefix: "/a//b/"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	if got, want := st.String(), "gs://"+bucket+"/a/b"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := st.Put(t.Context(), "k/v.json", strings.NewReader("{}"), 2, storage.PutOptions{ContentType: "application/json"}); err != nil {
		t.Fatal(err)
	}
	attrs, err := admin.Bucket(bucket).Object("a/b/k/v.json").Attrs(t.Context())
	if err != nil {
		t.Fatalf("object not at a/b/k/v.json: %v", err)
	}
	if attrs.ContentType != "application/json" {
		t.Errorf("content type = %q", attrs.ContentType)
	}
	for _, name := range []string{"a/bc", "a/b//x", `a/b/back\slash`} {
		w := admin.Bucket(bucket).Object(name).NewWriter(t.Context())
		if _, err := w.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := st.List(t.Context(), "", func(oi storage.ObjectInfo) error { got = append(got, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "k/v.json" {
		t.Errorf("list = %q, want [k/v.json]", got)
	}
}

func TestNewFailsFast(t *testing.T) {
	emulator(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()
	tests := []struct {
		name     string
		host     string // STORAGE_EMULATOR_HOST; "" keeps the running emulator
		cfg      Config
		wantText string
	}{
		{"missing bucket", "", Config{Bucket: "bc-test-does-not-exist", Prefix: "p"}, "bucket does not exist"},
		{"unreachable endpoint", closed, Config{Bucket: "b", Prefix: "p"}, "endpoint unreachable"},
		{"no bucket", "", Config{}, "not set or invalid"},
		{"bad prefix", "", Config{Bucket: "b", Prefix: "a/../b"}, "invalid key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.host != "" {
				t.Setenv("STORAGE_EMULATOR_HOST", tc.host)
			}
			st, err := New(t.Context(), tc.cfg)
			if err == nil {
				_ = st.Close()
				t.Fatal("New succeeded")
			}
			if msg := err.Error(); !strings.Contains(msg, "gs://"+tc.cfg.Bucket) || !strings.Contains(msg, tc.wantText) {
				t.Errorf("error %q should name gs://%s and say %q", msg, tc.cfg.Bucket, tc.wantText)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	base := Config{StorageClass: "STANDARD"}
	tests := []struct {
		in      string
		want    Config
		wantErr string
	}{
		{in: "gs://bucket", want: Config{Bucket: "bucket", StorageClass: "STANDARD"}},
		{in: "gcs://bucket/a/b/", want: Config{Bucket: "bucket", Prefix: "a/b", StorageClass: "STANDARD"}},
		{
			in:   "gs://b/p?storage_class=NEARLINE&kms_key_name=projects/p/locations/l/keyRings/r/cryptoKeys/k",
			want: Config{Bucket: "b", Prefix: "p", StorageClass: "NEARLINE", KMSKeyName: "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
		},
		{in: "gs://b?region=x", wantErr: "unknown query parameter"},
		{in: "gs:///p", wantErr: "bucket missing"},
		{in: "s3://b", wantErr: "not gs"},
		{in: "gs://user:pw@b", wantErr: "credentials in the URL"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			u, err := url.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseURL(u, base)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseURL = %+v, %v; want error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ParseURL = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestChunkSize(t *testing.T) {
	tests := []struct {
		size int64
		want int
	}{
		{0, 256 << 10},
		{4 << 10, 256 << 10},
		{256<<10 - 1, 256 << 10},
		{256 << 10, 512 << 10}, // room for the EOF: one request
		{5 << 20, 5<<20 + 256<<10},
		{16<<20 - 1, 16 << 20},
		{16 << 20, 16 << 20},
		{1 << 30, 16 << 20},
	}
	for _, tc := range tests {
		if got := chunkSize(tc.size); got != tc.want {
			t.Errorf("chunkSize(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

// TestNewErrorClassification drives New against a fake JSON API that
// answers the bucket check the way GCS does in each failure case (the
// emulator checks no credentials, so it cannot produce a 403).
func TestNewErrorClassification(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		wantText string
	}{
		{"forbidden", http.StatusForbidden, "access denied"},
		{"unauthorized", http.StatusUnauthorized, "access denied"},
		{"not found", http.StatusNotFound, "bucket does not exist"},
		{"server error", http.StatusBadRequest, "bucket check failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if r.URL.Path != "/storage/v1/b/bkt" {
					t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = fmt.Fprintf(w, `{"error":{"code":%d,"message":"fake says no"}}`, tc.status)
			}))
			defer ts.Close()
			t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(ts.URL, "http://"))
			st, err := New(t.Context(), Config{Bucket: "bkt", Prefix: "p"})
			if err == nil {
				_ = st.Close()
				t.Fatal("New succeeded")
			}
			if msg := err.Error(); !strings.Contains(msg, "gs://bkt/p") || !strings.Contains(msg, tc.wantText) {
				t.Errorf("error %q should name gs://bkt/p and say %q", msg, tc.wantText)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("bucket checked %d times, want 1 (fail fast, no retries)", n)
			}
		})
	}
}

// BenchmarkCopy compares the server-side rewrite with the Get+Put
// fallback (see storagetest.BenchmarkCopy):
//
//	go test ./pkg/storage/gcs -run '^$' -bench Copy -benchtime 1000x
func BenchmarkCopy(b *testing.B) {
	st, err := New(b.Context(), Config{Bucket: createBucket(b, emulator(b))})
	if err != nil {
		b.Fatal(err)
	}
	storagetest.BenchmarkCopy(b, st)
}

// BenchmarkPut measures small Puts, 8 at a time, as a backup run writes
// content blocks (see storagetest.BenchmarkPut):
//
//	go test ./pkg/storage/gcs -run '^$' -bench Put -benchtime 2000x
func BenchmarkPut(b *testing.B) {
	st, err := New(b.Context(), Config{Bucket: createBucket(b, emulator(b))})
	if err != nil {
		b.Fatal(err)
	}
	storagetest.BenchmarkPut(b, st)
}

// uploadTamperer is an http.RoundTripper to the real emulator that counts
// the upload requests and can change one byte of the object's content on
// the wire (the first byte of marker in the request body).
type uploadTamperer struct {
	uploads atomic.Int32
	marker  []byte // nil: pass requests through unchanged
}

func (u *uploadTamperer) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.URL.Path, "/upload/") {
		return http.DefaultTransport.RoundTrip(r)
	}
	u.uploads.Add(1)
	if u.marker == nil || r.Body == nil {
		return http.DefaultTransport.RoundTrip(r)
	}
	b, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return nil, err
	}
	if i := bytes.Index(b, u.marker); i >= 0 {
		b[i] ^= 1
	}
	r = r.Clone(r.Context())
	r.Body, r.ContentLength, r.GetBody = io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
	r.Header.Del("Transfer-Encoding")
	r.TransferEncoding = nil
	return http.DefaultTransport.RoundTrip(r)
}

// TestSmallPutOneRequest checks that a small Put, conditional or not, is a
// single upload request (no resumable session).
func TestSmallPutOneRequest(t *testing.T) {
	bucket := createBucket(t, emulator(t))
	rt := &uploadTamperer{}
	st, err := New(t.Context(), Config{Bucket: bucket, httpClient: &http.Client{Transport: rt}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	data := strings.Repeat("b", 1500)
	for i, opts := range []storage.PutOptions{{}, {IfNotExists: true}} {
		before := rt.uploads.Load()
		if _, err := st.Put(t.Context(), fmt.Sprintf("k%d", i), strings.NewReader(data), int64(len(data)), opts); err != nil {
			t.Fatal(err)
		}
		if n := rt.uploads.Load() - before; n != 1 {
			t.Errorf("Put %+v made %d upload requests, want 1", opts, n)
		}
	}
}

// TestSmallPutCorruptedOnTheWire checks that the server verifies what an
// unbuffered small Put sends: a body that does not match the bytes read
// (as when an upload is cut short and the client library still closes the
// multipart body) is refused, and nothing is stored.
func TestSmallPutCorruptedOnTheWire(t *testing.T) {
	bucket := createBucket(t, emulator(t))
	marker := []byte("MARKER-0123456789")
	st, err := New(t.Context(), Config{Bucket: bucket, httpClient: &http.Client{Transport: &uploadTamperer{marker: marker}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	data := append(bytes.Repeat([]byte("c"), 1000), marker...)
	if _, err := st.Put(t.Context(), "tampered", bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); err == nil {
		t.Error("Put of a body changed on the wire succeeded")
	}
	if _, err := st.Stat(t.Context(), "tampered"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("stat after the refused Put = %v, want ErrNotFound (nothing stored)", err)
	}
}

// TestSmallPutAllocations checks that a small unconditional Put does not
// allocate the client library's chunk buffer (256 KiB at least).
func TestSmallPutAllocations(t *testing.T) {
	bucket := createBucket(t, emulator(t))
	st, err := New(t.Context(), Config{Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	data := bytes.Repeat([]byte("a"), 1500)
	const puts = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range puts {
		if _, err := st.Put(t.Context(), fmt.Sprintf("k/%d", i), bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / puts; per >= 128<<10 {
		t.Errorf("a 1500-byte Put allocates %d bytes, want < 128 KiB (no chunk buffer)", per)
	}
}
