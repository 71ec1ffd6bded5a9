package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/objio"
	"github.com/backup-creator/backup-creator/pkg/storage/storagetest"
)

// server is an S3 endpoint from scripts/test-servers.sh.
type server struct {
	endpoint, region, access, secret, caFile string
}

func plainServer(t *testing.T) server {
	v := storagetest.Env(t, "S3_TEST_ENDPOINT", "S3_TEST_REGION", "S3_TEST_ACCESS_KEY", "S3_TEST_SECRET_KEY")
	return server{endpoint: v[0], region: v[1], access: v[2], secret: v[3]}
}

func tlsServer(t *testing.T) server {
	v := storagetest.Env(t, "S3_TLS_TEST_ENDPOINT", "S3_TEST_CA_FILE", "S3_TEST_REGION", "S3_TEST_ACCESS_KEY", "S3_TEST_SECRET_KEY")
	return server{endpoint: v[0], caFile: v[1], region: v[2], access: v[3], secret: v[4]}
}

// setCredentials points the AWS default chain at these keys only: no
// profile files, no instance metadata.
func setCredentials(t *testing.T, access, secret string) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":                      access,
		"AWS_SECRET_ACCESS_KEY":                  secret,
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_REGION":                             "",
		"AWS_DEFAULT_REGION":                     "",
		"AWS_CONFIG_FILE":                        none,
		"AWS_SHARED_CREDENTIALS_FILE":            none,
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
	} {
		t.Setenv(k, v)
	}
}

// adminClient is a plain SDK client for creating and removing test buckets.
func adminClient(t *testing.T, srv server) *awss3.Client {
	t.Helper()
	opts := awss3.Options{
		Region:       srv.region,
		BaseEndpoint: aws.String(srv.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.access, srv.secret, ""),
	}
	if srv.caFile != "" {
		pem, err := os.ReadFile(srv.caFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatalf("no certificate in %s", srv.caFile)
		}
		opts.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		})
	}
	return awss3.New(opts)
}

var bucketSeq atomic.Int64

// createBucket makes a bucket with a unique name and removes it, with its
// objects, when t ends.
func createBucket(t *testing.T, cl *awss3.Client) string {
	t.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "bc-test-" + hex.EncodeToString(rnd[:]) + "-" + strconv.FormatInt(bucketSeq.Add(1), 10)
	if _, err := cl.CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context()) // t.Context is done during cleanup
		p := awss3.NewListObjectsV2Paginator(cl, &awss3.ListObjectsV2Input{Bucket: aws.String(name)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Errorf("cleanup list %s: %v", name, err)
				return
			}
			var ids []types.ObjectIdentifier
			for _, o := range page.Contents {
				ids = append(ids, types.ObjectIdentifier{Key: o.Key})
			}
			if len(ids) > 0 {
				if _, err := cl.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: aws.String(name), Delete: &types.Delete{Objects: ids}}); err != nil {
					t.Errorf("cleanup delete objects in %s: %v", name, err)
				}
			}
		}
		if _, err := cl.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Errorf("cleanup delete bucket %s: %v", name, err)
		}
	})
	return name
}

func TestConformance(t *testing.T) {
	tests := []struct {
		name   string
		server func(*testing.T) server
		cfg    func(srv server) Config
	}{
		// Plain HTTP buffers non-seekable bodies; 5 MiB parts make the
		// 12 MiB object a (conditional) multipart upload.
		{"http", plainServer, func(srv server) Config {
			return Config{Endpoint: srv.endpoint, Region: srv.region, PathStyle: true, Prefix: "backups/sfmc", partSize: minPartSize}
		}},
		{"http-checksum-when-required", plainServer, func(srv server) Config {
			return Config{Endpoint: srv.endpoint, Region: srv.region, PathStyle: true, ChecksumWhenRequired: true}
		}},
		// The production code path: HTTPS, aws-chunked uploads with a trailing checksum.
		{"https", tlsServer, func(srv server) Config {
			return Config{Endpoint: srv.endpoint, Region: srv.region, PathStyle: true, CAFile: srv.caFile, Prefix: "p"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.server(t)
			setCredentials(t, srv.access, srv.secret)
			admin := adminClient(t, srv)
			storagetest.RunWithOptions(t, func(t *testing.T) storage.Store {
				cfg := tc.cfg(srv)
				cfg.Bucket = createBucket(t, admin)
				cfg.listPageSize = 7
				st, err := New(t.Context(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}, storagetest.Options{
				ListKeys: 25,
				// versitygw's posix backend keeps objects as files, so "a" and
				// "a/b" cannot coexist (409 ObjectParentIsFile); real S3 has no
				// such limit.
				FileSystemKeys: true,
				// More than one DeleteObjects batch (1000 keys).
				ManyDeleteKeys: 2*maxDeleteBatch + 50,
			})
		})
	}
}

// TestPrefixPlacement checks where objects land in the bucket.
func TestPrefixPlacement(t *testing.T) {
	srv := plainServer(t)
	setCredentials(t, srv.access, srv.secret)
	admin := adminClient(t, srv)
	bucket := createBucket(t, admin)
	st, err := New(t.Context(), Config{Bucket: bucket, Prefix: "/a//b/", Endpoint: srv.endpoint, Region: srv.region, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.String(), "s3://"+bucket+"/a/b"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := st.Put(t.Context(), "k/v.json", strings.NewReader("{}"), 2, storage.PutOptions{ContentType: "application/json"}); err != nil {
		t.Fatal(err)
	}
	// An object outside the prefix, and one with a name that is no valid key.
	for _, k := range []string{"a/bc", `a/b/back\slash`} {
		if _, err := admin.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := admin.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/b/k/v.json")})
	if err != nil {
		t.Fatalf("object not at a/b/k/v.json: %v", err)
	}
	if ct := aws.ToString(out.ContentType); ct != "application/json" {
		t.Errorf("content type = %q", ct)
	}
	var keys []string
	if err := st.List(t.Context(), "", func(oi storage.ObjectInfo) error { keys = append(keys, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "k/v.json" {
		t.Errorf("list = %q, want [k/v.json]", keys)
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestNewFailsFastAgainstServer(t *testing.T) {
	srv := plainServer(t)
	admin := adminClient(t, srv)
	bucket := createBucket(t, admin)
	tests := []struct {
		name     string
		secret   string
		cfg      Config
		wantText string
	}{
		{"missing bucket", srv.secret, Config{Bucket: "bc-test-does-not-exist"}, "bucket does not exist"},
		{"wrong secret", "wrong-secret", Config{Bucket: bucket}, "access denied"},
		{"unreachable endpoint", srv.secret, Config{Bucket: bucket, Endpoint: "http://" + closedPort(t)}, "endpoint unreachable"},
		{"no credentials", "", Config{Bucket: bucket}, "no usable AWS credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			access := srv.access
			if tc.secret == "" {
				access = ""
			}
			setCredentials(t, access, tc.secret)
			cfg := tc.cfg
			cfg.Region, cfg.PathStyle = srv.region, true
			if cfg.Endpoint == "" {
				cfg.Endpoint = srv.endpoint
			}
			st, err := New(t.Context(), cfg)
			if err == nil {
				t.Fatalf("New succeeded against %s", st)
			}
			msg := err.Error()
			if !strings.Contains(msg, "s3://"+cfg.Bucket) || !strings.Contains(msg, tc.wantText) {
				t.Errorf("error %q should name s3://%s and say %q", msg, cfg.Bucket, tc.wantText)
			}
			if strings.Contains(msg, srv.secret) || strings.Contains(msg, "wrong-secret") {
				t.Errorf("error %q contains the secret", msg)
			}
		})
	}
}

// TestNewErrorClassification drives New against a fake endpoint that
// answers HeadBucket the way AWS does in each failure case.
func TestNewErrorClassification(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   map[string]string
		region   string
		wantText string
	}{
		{"not found", http.StatusNotFound, nil, "us-east-1", "bucket does not exist"},
		{"forbidden", http.StatusForbidden, map[string]string{"X-Amz-Bucket-Region": "us-east-1"}, "us-east-1", "access denied"},
		{"moved", http.StatusMovedPermanently, map[string]string{"X-Amz-Bucket-Region": "eu-west-1"}, "us-east-1", "bucket is in region eu-west-1"},
		{"authorization header malformed", http.StatusBadRequest, map[string]string{"X-Amz-Bucket-Region": "ap-south-1"}, "eu-central-1", "bucket is in region ap-south-1"},
		{"moved without region", http.StatusMovedPermanently, nil, "us-east-1", "another region"},
		{"server error", http.StatusInternalServerError, nil, "us-east-1", "bucket check failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setCredentials(t, "AKIDEXAMPLE", "fake-secret")
			var heads atomic.Int32
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodHead {
					heads.Add(1)
				}
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
			}))
			defer ts.Close()
			_, err := New(t.Context(), Config{Bucket: "bkt", Prefix: "p", Endpoint: ts.URL, Region: tc.region, PathStyle: true})
			if err == nil {
				t.Fatal("New succeeded")
			}
			if msg := err.Error(); !strings.Contains(msg, "s3://bkt/p") || !strings.Contains(msg, tc.wantText) {
				t.Errorf("error %q should name s3://bkt/p and say %q", msg, tc.wantText)
			}
			if n := heads.Load(); n != 1 {
				t.Errorf("HeadBucket sent %d times, want 1 (fail fast, no retries)", n)
			}
		})
	}
}

// TestNewDetectsRegion: with no region configured anywhere, New follows
// the bucket's region from a 301 and signs for it from then on.
func TestNewDetectsRegion(t *testing.T) {
	setCredentials(t, "AKIDEXAMPLE", "fake-secret")
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amz-Bucket-Region", "eu-west-1")
		if !strings.Contains(r.Header.Get("Authorization"), "/eu-west-1/s3/") {
			w.WriteHeader(http.StatusMovedPermanently)
		}
	}))
	defer ts.Close()
	st, err := New(t.Context(), Config{Bucket: "bkt", Endpoint: ts.URL, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	cl, ok := st.cl.(*awss3.Client)
	if !ok || cl.Options().Region != "eu-west-1" {
		t.Fatalf("client region = %v, want eu-west-1", cl.Options().Region)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		wantText string
	}{
		{"no bucket", Config{}, "bucket not set"},
		{"bad sse", Config{Bucket: "b", SSE: "rot13"}, "unknown sse"},
		{"kms key without kms", Config{Bucket: "b", SSE: "AES256", KMSKeyID: "k"}, "kms_key_id needs"},
		{"bad endpoint", Config{Bucket: "b", Endpoint: "ftp://x"}, "invalid endpoint"},
		{"bad prefix", Config{Bucket: "b", Prefix: "a/../b"}, "invalid key"},
		{"missing CA file", Config{Bucket: "b", Endpoint: "https://127.0.0.1:1", CAFile: "/nonexistent/ca.pem"}, "read CA file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setCredentials(t, "AKIDEXAMPLE", "fake-secret")
			_, err := New(t.Context(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.wantText)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	base := Config{Region: "us-east-1", StorageClass: "STANDARD", CAFile: "/etc/ca.pem"}
	tests := []struct {
		in      string
		want    Config
		wantErr string
	}{
		{in: "s3://bucket", want: Config{Bucket: "bucket", Region: "us-east-1", StorageClass: "STANDARD", CAFile: "/etc/ca.pem"}},
		{in: "s3://bucket/some/prefix/", want: Config{Bucket: "bucket", Prefix: "some/prefix", Region: "us-east-1", StorageClass: "STANDARD", CAFile: "/etc/ca.pem"}},
		{
			in: "s3://b/p?region=eu-west-1&endpoint=https://minio.local:9000&path_style=true&sse=aws:kms&kms_key_id=arn:aws:kms:k&storage_class=STANDARD_IA&checksum_when_required=1&ca_file=/tmp/ca.pem",
			want: Config{Bucket: "b", Prefix: "p", Region: "eu-west-1", Endpoint: "https://minio.local:9000", PathStyle: true,
				SSE: "aws:kms", KMSKeyID: "arn:aws:kms:k", StorageClass: "STANDARD_IA", ChecksumWhenRequired: true, CAFile: "/tmp/ca.pem"},
		},
		{in: "s3://b?path_style=maybe", wantErr: "path_style"},
		{in: "s3://b?colour=blue", wantErr: "unknown query parameter"},
		{in: "s3:///prefix", wantErr: "bucket missing"},
		{in: "gs://b", wantErr: "not s3"},
		{in: "s3://AKIA:secret@b/p", wantErr: "credentials in the URL"},
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
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q leaks the URL's secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ParseURL =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

// TestMapErr checks the status codes that become sentinels.
func TestMapErr(t *testing.T) {
	resp := func(code int, apiCode string) error {
		return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}},
			Err:      &smithy.GenericAPIError{Code: apiCode},
		}}
	}
	tests := []struct {
		code        int
		apiCode     string
		conditional bool
		want        error
	}{
		{404, "NoSuchKey", false, storage.ErrNotFound},
		{404, "NoSuchKey", true, storage.ErrPreconditionFailed},
		{412, "PreconditionFailed", false, storage.ErrPreconditionFailed},
		{409, "ConditionalRequestConflict", false, storage.ErrPreconditionFailed},
		{409, "ObjectParentIsFile", false, nil},
		{500, "InternalError", false, nil},
	}
	for _, tc := range tests {
		err := mapErr(t.Context(), resp(tc.code, tc.apiCode), tc.conditional)
		for _, sentinel := range []error{storage.ErrNotFound, storage.ErrPreconditionFailed} {
			if got, want := errors.Is(err, sentinel), sentinel == tc.want; got != want {
				t.Errorf("mapErr(%d %s, conditional=%v) = %v; errors.Is(%v) = %v, want %v", tc.code, tc.apiCode, tc.conditional, err, sentinel, got, want)
			}
		}
	}
}

type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestMultipart covers the plain-HTTP multipart path beyond the suite:
// conditions are enforced at completion and failed uploads are aborted.
func TestMultipart(t *testing.T) {
	srv := plainServer(t)
	setCredentials(t, srv.access, srv.secret)
	admin := adminClient(t, srv)
	bucket := createBucket(t, admin)
	st, err := New(t.Context(), Config{Bucket: bucket, Endpoint: srv.endpoint, Region: srv.region, PathStyle: true, partSize: minPartSize})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("m"), minPartSize+1000)
	put := func(body []byte, size int64, opts storage.PutOptions) (storage.ObjectInfo, error) {
		return st.Put(t.Context(), "obj", onlyReader{bytes.NewReader(body)}, size, opts)
	}
	first, err := put(data, int64(len(data)), storage.PutOptions{IfNotExists: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(first.Version, `-2"`) {
		t.Errorf("version %s is not a 2-part multipart ETag", first.Version)
	}
	steps := []struct {
		name string
		body []byte
		size int64
		opts storage.PutOptions
		want error // nil: any error
	}{
		{"create over existing", data, int64(len(data)), storage.PutOptions{IfNotExists: true}, storage.ErrPreconditionFailed},
		{"swap with wrong version", data, int64(len(data)), storage.PutOptions{IfVersion: `"0123-2"`}, storage.ErrPreconditionFailed},
		{"body short in second part", data[:minPartSize+10], int64(len(data)), storage.PutOptions{}, objio.ErrSizeMismatch},
		{"body long in second part", append(data, 'x'), int64(len(data)), storage.PutOptions{}, objio.ErrSizeMismatch},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			_, err := put(step.body, step.size, step.opts)
			if !errors.Is(err, step.want) {
				t.Fatalf("put = %v, want %v", err, step.want)
			}
			info, err := st.Stat(t.Context(), "obj")
			if err != nil || info.Version != first.Version {
				t.Fatalf("stat = %+v, %v; want the first version %s unchanged", info, err, first.Version)
			}
			ups, err := admin.ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
			if err != nil {
				t.Fatal(err)
			}
			if len(ups.Uploads) != 0 {
				t.Errorf("%d multipart uploads left behind, want them aborted", len(ups.Uploads))
			}
		})
	}
}

// putHeaders records the headers of every PutObject as sent (after
// signing).
type putHeaders struct {
	mu   sync.Mutex
	seen []http.Header
}

func (p *putHeaders) ID() string { return "recordPutHeaders" }

func (p *putHeaders) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	if req, ok := in.Request.(*smithyhttp.Request); ok && awsmiddleware.GetOperationName(ctx) == "PutObject" {
		p.mu.Lock()
		p.seen = append(p.seen, req.Header.Clone())
		p.mu.Unlock()
	}
	return next.HandleFinalize(ctx, in)
}

// TestUploadEncoding checks how a non-seekable body travels: streamed as
// aws-chunked with a trailing checksum over HTTPS (the production path),
// buffered and signed over plain HTTP.
func TestUploadEncoding(t *testing.T) {
	tests := []struct {
		name       string
		server     func(*testing.T) server
		wantSHA    string // X-Amz-Content-Sha256; "hex" for a computed hash
		wantChunks bool
	}{
		{"https", tlsServer, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", true},
		{"http", plainServer, "hex", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.server(t)
			setCredentials(t, srv.access, srv.secret)
			rec := &putHeaders{}
			st, err := New(t.Context(), Config{
				Bucket: createBucket(t, adminClient(t, srv)), Endpoint: srv.endpoint, Region: srv.region,
				PathStyle: true, CAFile: srv.caFile,
				hooks: &testHooks{apiOptions: []func(*middleware.Stack) error{func(s *middleware.Stack) error {
					return s.Finalize.Add(rec, middleware.After)
				}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			data := bytes.Repeat([]byte("z"), 1<<20)
			if _, err := st.Put(t.Context(), "k", onlyReader{bytes.NewReader(data)}, int64(len(data)), storage.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			if len(rec.seen) != 1 {
				t.Fatalf("recorded %d PutObject requests, want 1", len(rec.seen))
			}
			h := rec.seen[0]
			sha := h.Get("X-Amz-Content-Sha256")
			if tc.wantSHA == "hex" {
				if _, err := hex.DecodeString(sha); err != nil || len(sha) != 64 {
					t.Errorf("X-Amz-Content-Sha256 = %q, want a signed payload hash", sha)
				}
			} else if sha != tc.wantSHA {
				t.Errorf("X-Amz-Content-Sha256 = %q, want %q", sha, tc.wantSHA)
			}
			chunked := strings.Contains(h.Get("Content-Encoding"), "aws-chunked")
			if chunked != tc.wantChunks {
				t.Errorf("Content-Encoding = %q, want aws-chunked: %v", h.Get("Content-Encoding"), tc.wantChunks)
			}
			got, _, err := st.Get(t.Context(), "k")
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = got.Close() }()
			back, err := io.ReadAll(got)
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("read back %d bytes, %v; want the 1 MiB written", len(back), err)
			}
		})
	}
}

// opCounter counts the operations the client sends, by name, and can
// rewrite a DeleteObjects result as if the server had refused some keys.
type opCounter struct {
	mu     sync.Mutex
	ops    map[string]int
	refuse map[string]bool // object names DeleteObjects reports as failed
}

func (c *opCounter) ID() string { return "countOps" }

func (c *opCounter) HandleInitialize(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	name := awsmiddleware.GetOperationName(ctx)
	c.mu.Lock()
	c.ops[name]++
	c.mu.Unlock()
	out, md, err := next.HandleInitialize(ctx, in)
	if res, ok := out.Result.(*awss3.DeleteObjectsOutput); ok && err == nil {
		for name := range c.refuse {
			res.Errors = append(res.Errors, types.Error{Key: aws.String(name), Code: aws.String("AccessDenied"), Message: aws.String("Access Denied")})
		}
	}
	return out, md, err
}

func (c *opCounter) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops[op]
}

func countingStore(t *testing.T, srv server, prefix string) (*Store, *opCounter) {
	t.Helper()
	c := &opCounter{ops: map[string]int{}, refuse: map[string]bool{}}
	admin := adminClient(t, srv)
	st, err := New(t.Context(), Config{
		Bucket: createBucket(t, admin), Prefix: prefix, Endpoint: srv.endpoint, Region: srv.region, PathStyle: true,
		hooks: &testHooks{apiOptions: []func(*middleware.Stack) error{func(s *middleware.Stack) error {
			return s.Initialize.Add(c, middleware.After)
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, c
}

// TestCopyIsServerSide checks that Copy sends a CopyObject and moves no
// object bytes through the client.
func TestCopyIsServerSide(t *testing.T) {
	srv := plainServer(t)
	setCredentials(t, srv.access, srv.secret)
	st, c := countingStore(t, srv, "p")
	if _, err := st.Put(t.Context(), "a/src", strings.NewReader("content"), 7, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := storage.Copy(t.Context(), st, "a/src", "b/dst")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 7 {
		t.Errorf("copy info = %+v, want size 7", info)
	}
	if c.count("CopyObject") != 1 || c.count("GetObject") != 0 || c.count("PutObject") != 1 {
		t.Errorf("operations = %v, want one PutObject (the source), one CopyObject and no GetObject", c.ops)
	}
}

// TestDeleteKeysBatchesAndPerKeyErrors checks that DeleteKeys sends one
// DeleteObjects per 1000 keys and fails, naming the key, when the response
// reports a key it could not delete (with HTTP 200).
func TestDeleteKeysBatchesAndPerKeyErrors(t *testing.T) {
	srv := plainServer(t)
	setCredentials(t, srv.access, srv.secret)
	st, c := countingStore(t, srv, "pre/fix")
	var del []string
	for i := range 2*maxDeleteBatch + 1 {
		del = append(del, "k/"+strconv.Itoa(i))
	}
	for _, k := range []string{"k/7", "k/1500", "keep"} {
		if _, err := st.Put(t.Context(), k, strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteKeys(t.Context(), del); err != nil {
		t.Fatal(err)
	}
	if n := c.count("DeleteObjects"); n != 3 {
		t.Errorf("%d DeleteObjects requests for %d keys, want 3", n, len(del))
	}
	for _, k := range []string{"k/7", "k/1500"} {
		if _, err := st.Stat(t.Context(), k); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("stat %s after delete: %v", k, err)
		}
	}

	// The server refuses one key of the batch.
	if _, err := st.Put(t.Context(), "k/2", strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.refuse["pre/fix/k/2"] = true
	c.mu.Unlock()
	err := st.DeleteKeys(t.Context(), []string{"k/1", "k/2"})
	if err == nil || !strings.Contains(err.Error(), "k/2") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("delete with a refused key = %v, want an error naming k/2 and AccessDenied", err)
	}
	if _, err := st.Stat(t.Context(), "keep"); err != nil {
		t.Errorf("key not asked for was deleted: %v", err)
	}
}

// benchStore is a store in a new bucket of the S3 test server.
func benchStore(b *testing.B) *Store {
	v := storagetest.Env(b, "S3_TEST_ENDPOINT", "S3_TEST_REGION", "S3_TEST_ACCESS_KEY", "S3_TEST_SECRET_KEY")
	srv := server{endpoint: v[0], region: v[1], access: v[2], secret: v[3]}
	b.Setenv("AWS_ACCESS_KEY_ID", srv.access)
	b.Setenv("AWS_SECRET_ACCESS_KEY", srv.secret)
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cl := awss3.New(awss3.Options{Region: srv.region, BaseEndpoint: aws.String(srv.endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.access, srv.secret, "")})
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	bucket := "bc-bench-" + hex.EncodeToString(rnd[:])
	if _, err := cl.CreateBucket(b.Context(), &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		b.Fatal(err)
	}
	st, err := New(b.Context(), Config{Bucket: bucket, Endpoint: srv.endpoint, Region: srv.region, PathStyle: true})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkCopy compares the server-side copy with the Get+Put fallback,
// one object per iteration (run with -benchtime=1000x for 1,000 objects):
//
//	go test ./pkg/storage/s3 -run '^$' -bench Copy -benchtime 1000x
func BenchmarkCopy(b *testing.B) {
	storagetest.BenchmarkCopy(b, benchStore(b))
}

// BenchmarkDeleteKeys compares DeleteObjects batches with the fallback
// loop (HeadObject + DeleteObject per key, 16 at a time):
//
//	go test ./pkg/storage/s3 -run '^$' -bench DeleteKeys -benchtime 2000x
func BenchmarkDeleteKeys(b *testing.B) {
	storagetest.BenchmarkDeleteKeys(b, benchStore(b))
}

func TestValidateEndpointHidesCredentials(t *testing.T) {
	for _, ep := range []string{"http://minio:wJalrXUtnFEMI K7MDENG@127.0.0.1:9000", "minio://minio:wJalrXUtnFEMIK7MDENG@127.0.0.1:9000", "http://minio:wJalrXUtnFEMIK7MDENG@127.0.0.1:9000"} {
		err := validate(Config{Bucket: "b", Endpoint: ep})
		if err == nil {
			t.Fatalf("%s accepted", ep)
		}
		if strings.Contains(err.Error(), "wJalrXUtnFEMI") {
			t.Errorf("error %q shows the secret", err)
		}
	}
}

// BenchmarkPut measures small Puts, 8 at a time, as a backup run writes
// content blocks:
//
//	go test ./pkg/storage/s3 -run '^$' -bench Put -benchtime 2000x
func BenchmarkPut(b *testing.B) {
	storagetest.BenchmarkPut(b, benchStore(b))
}
