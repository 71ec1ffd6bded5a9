// Package s3 stores objects in an Amazon S3 bucket or an S3-compatible
// service, below an optional key prefix, with aws-sdk-go-v2.
//
// Credentials come only from the AWS default chain (environment, shared
// config and credentials files with AWS_PROFILE, web identity, ECS and EC2
// roles); they are never part of Config or of a destination URL.
//
// Streaming: a seekable body (an *os.File, a bytes.Reader) is passed to the
// SDK as is, after checking its length. Any other reader is handled by
// transport:
//   - over HTTPS (AWS, and production endpoints) it is streamed as it is
//     read, never buffered: the SDK frames it as aws-chunked with a trailing
//     CRC checksum and an UNSIGNED-PAYLOAD SigV4 signature, and the server
//     can tell a truncated body from a complete one;
//   - over plain HTTP SigV4 must hash the payload before sending it, and a
//     server cannot always tell an aborted unsigned upload from a complete
//     one (versitygw stores the truncated body), so the body is read into
//     a buffer of at most 16 MiB and sent signed; larger objects go as a
//     multipart upload of 16 MiB parts, completed only once the whole body
//     has been read and checked, and aborted otherwise.
//
// Either way, a body that is shorter or longer than the declared size, or a
// cancelled context, never completes an upload. Objects are limited to 5 GiB.
//
// Conditions map to S3 preconditions: IfNotExists is If-None-Match: "*",
// IfVersion is If-Match with the ETag (Version is the ETag, quotes
// included), and Delete with IfVersion sends If-Match as well. A 412
// PreconditionFailed, or a 409 ConditionalRequestConflict from a racing
// writer, becomes storage.ErrPreconditionFailed. Delete first reads the
// object's ETag (S3 answers a delete of a missing key with success), so on
// a server that ignores If-Match on DeleteObject a conditional delete is
// check-then-act rather than atomic.
//
// Copy is a server-side CopyObject (the bytes never pass through the
// client), after a HeadObject of the source that gives its size and ETag;
// the copy is made with x-amz-copy-source-if-match on that ETag, so the
// info returned describes what was copied. DeleteKeys sends DeleteObjects
// requests of up to 1000 keys (at most 4 at a time) and checks the per-key
// errors in each response (S3 answers 200 even when some keys failed).
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/backup-creator/backup-creator/pkg/redact"
	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/keys"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/objio"
)

const (
	// maxPutSize is the largest object a single PutObject accepts.
	maxPutSize = 5 << 30
	// defaultPartSize bounds the buffer of a plain-HTTP upload and is the
	// part size of its multipart uploads.
	defaultPartSize = 16 << 20
	// minPartSize is the smallest part S3 accepts (but for the last).
	minPartSize = 5 << 20
	// maxDeleteBatch is the most keys one DeleteObjects request takes.
	maxDeleteBatch = 1000
	// deleteBatchesInFlight bounds the concurrent DeleteObjects requests.
	deleteBatchesInFlight = 4
	// copyAttempts bounds the retries of a Copy whose source was replaced
	// between its HeadObject and its CopyObject.
	copyAttempts = 3
)

// Config configures an S3 store. The mapstructure tags are the config keys.
type Config struct {
	// Bucket is the bucket name (required).
	Bucket string `mapstructure:"bucket"`
	// Prefix is prepended to every key, joined with "/".
	Prefix string `mapstructure:"prefix"`
	// Region is the bucket's region. Empty: taken from the AWS config
	// (AWS_REGION, the profile); if still empty and Endpoint is empty, it
	// is detected from the bucket.
	Region string `mapstructure:"region"`
	// Endpoint is the base URL of an S3-compatible service
	// ("https://minio.example:9000"). Empty means AWS.
	Endpoint string `mapstructure:"endpoint"`
	// PathStyle addresses the bucket as ENDPOINT/BUCKET instead of
	// BUCKET.ENDPOINT (most S3-compatible services need it).
	PathStyle bool `mapstructure:"path_style"`
	// SSE is the server-side encryption: "" (bucket default), "AES256",
	// "aws:kms" or "aws:kms:dsse".
	SSE string `mapstructure:"sse"`
	// KMSKeyID is the KMS key for SSE "aws:kms"/"aws:kms:dsse" (empty: the
	// AWS managed key).
	KMSKeyID string `mapstructure:"kms_key_id"`
	// StorageClass is the storage class of new objects ("STANDARD_IA", ...);
	// empty means the bucket default.
	StorageClass string `mapstructure:"storage_class"`
	// ChecksumWhenRequired computes and validates CRC checksums only where
	// the API requires them, for S3-compatible services that reject the
	// SDK's default checksums.
	ChecksumWhenRequired bool `mapstructure:"checksum_when_required"`
	// CAFile is a PEM bundle of extra CA certificates to trust for Endpoint
	// (self-signed test or on-premises servers).
	CAFile string `mapstructure:"ca_file"`

	// listPageSize sets MaxKeys of ListObjectsV2 (0: the service default,
	// 1000). Tests set it to exercise paging.
	listPageSize int32
	// partSize overrides defaultPartSize (tests; at least minPartSize).
	partSize int64
	// hooks lets tests inspect requests; a pointer keeps Config comparable.
	hooks *testHooks
}

// testHooks are test-only additions to the client.
type testHooks struct {
	// apiOptions are added to the client's middleware stack.
	apiOptions []func(*middleware.Stack) error
}

// urlParams are the query parameters ParseURL accepts.
var urlParams = []string{"region", "endpoint", "path_style", "sse", "kms_key_id", "storage_class", "checksum_when_required", "ca_file"}

// ParseURL returns base overridden by a destination URL of the form
//
//	s3://bucket/prefix?region=eu-west-1&endpoint=https://host:9000&path_style=true
//	    &sse=aws:kms&kms_key_id=KEY&storage_class=STANDARD_IA
//	    &checksum_when_required=true&ca_file=/path/ca.pem
//
// Every query parameter is optional and overrides the Config field of the
// same name; unknown parameters, and credentials in the URL, are refused.
func ParseURL(u *url.URL, base Config) (Config, error) {
	cfg := base
	if u.Scheme != "s3" {
		return cfg, fmt.Errorf("s3 destination: scheme %q is not s3", u.Scheme)
	}
	if u.User != nil {
		return cfg, errors.New("s3 destination: credentials in the URL are not supported; use the AWS credential chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, roles)")
	}
	if u.Host == "" {
		return cfg, fmt.Errorf("s3 destination %q: bucket missing (s3://bucket/prefix)", u.String())
	}
	cfg.Bucket = u.Host
	cfg.Prefix = strings.Trim(u.Path, "/")
	for name, vals := range u.Query() {
		v := vals[len(vals)-1]
		var err error
		switch name {
		case "region":
			cfg.Region = v
		case "endpoint":
			cfg.Endpoint = v
		case "path_style":
			cfg.PathStyle, err = strconv.ParseBool(v)
		case "sse":
			cfg.SSE = v
		case "kms_key_id":
			cfg.KMSKeyID = v
		case "storage_class":
			cfg.StorageClass = v
		case "checksum_when_required":
			cfg.ChecksumWhenRequired, err = strconv.ParseBool(v)
		case "ca_file":
			cfg.CAFile = v
		default:
			return cfg, fmt.Errorf("s3 destination s3://%s: unknown query parameter %q (known: %s)", u.Host, name, strings.Join(urlParams, ", "))
		}
		if err != nil {
			return cfg, fmt.Errorf("s3 destination s3://%s: parameter %s: %w", u.Host, name, err)
		}
	}
	return cfg, nil
}

// client is the part of *awss3.Client the store uses.
type client interface {
	HeadBucket(context.Context, *awss3.HeadBucketInput, ...func(*awss3.Options)) (*awss3.HeadBucketOutput, error)
	PutObject(context.Context, *awss3.PutObjectInput, ...func(*awss3.Options)) (*awss3.PutObjectOutput, error)
	GetObject(context.Context, *awss3.GetObjectInput, ...func(*awss3.Options)) (*awss3.GetObjectOutput, error)
	HeadObject(context.Context, *awss3.HeadObjectInput, ...func(*awss3.Options)) (*awss3.HeadObjectOutput, error)
	DeleteObject(context.Context, *awss3.DeleteObjectInput, ...func(*awss3.Options)) (*awss3.DeleteObjectOutput, error)
	CreateMultipartUpload(context.Context, *awss3.CreateMultipartUploadInput, ...func(*awss3.Options)) (*awss3.CreateMultipartUploadOutput, error)
	UploadPart(context.Context, *awss3.UploadPartInput, ...func(*awss3.Options)) (*awss3.UploadPartOutput, error)
	CompleteMultipartUpload(context.Context, *awss3.CompleteMultipartUploadInput, ...func(*awss3.Options)) (*awss3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(context.Context, *awss3.AbortMultipartUploadInput, ...func(*awss3.Options)) (*awss3.AbortMultipartUploadOutput, error)
	CopyObject(context.Context, *awss3.CopyObjectInput, ...func(*awss3.Options)) (*awss3.CopyObjectOutput, error)
	DeleteObjects(context.Context, *awss3.DeleteObjectsInput, ...func(*awss3.Options)) (*awss3.DeleteObjectsOutput, error)
	awss3.ListObjectsV2APIClient
}

// Store is a storage.Store in an S3 bucket.
type Store struct {
	cl       client
	bucket   string
	root     string // clean prefix, no slashes at the ends
	https    bool
	sse      types.ServerSideEncryption
	kmsKeyID string
	class    types.StorageClass
	pageSize int32
	partSize int64
	desc     string
}

var (
	_ storage.Store        = (*Store)(nil)
	_ storage.Copier       = (*Store)(nil)
	_ storage.BatchDeleter = (*Store)(nil)
)

// String implements storage.Store: "s3://bucket/prefix".
func (s *Store) String() string { return s.desc }

// Close implements storage.Store. The SDK client holds nothing to release.
func (s *Store) Close() error { return nil }

func describe(bucket, root string) string {
	if root == "" {
		return "s3://" + bucket
	}
	return "s3://" + bucket + "/" + root
}

// New validates cfg, loads credentials from the AWS default chain and checks
// that the bucket is reachable (HeadBucket). It fails fast, naming the
// destination and the cause: no credentials, bucket missing, access denied,
// bucket in another region, endpoint unreachable.
func New(ctx context.Context, cfg Config) (*Store, error) {
	root, err := keys.CleanRoot(cfg.Prefix)
	if err != nil {
		return nil, fmt.Errorf("s3 destination s3://%s: %w", cfg.Bucket, err)
	}
	s := &Store{
		bucket:   cfg.Bucket,
		root:     root,
		https:    true,
		sse:      types.ServerSideEncryption(cfg.SSE),
		kmsKeyID: cfg.KMSKeyID,
		class:    types.StorageClass(cfg.StorageClass),
		pageSize: cfg.listPageSize,
		partSize: max(cfg.partSize, minPartSize),
		desc:     describe(cfg.Bucket, root),
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("s3 destination %s%s: %s", s.desc, endpointNote(cfg.Endpoint), fmt.Sprintf(format, args...))
	}
	if cfg.partSize == 0 {
		s.partSize = defaultPartSize
	}
	if err := validate(cfg); err != nil {
		return nil, fail("%v", err)
	}
	if cfg.Endpoint != "" {
		eu, _ := url.Parse(cfg.Endpoint) // checked by validate
		s.https = eu.Scheme == "https"
	}

	var loadOpts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(cfg.Region))
	}
	if cfg.ChecksumWhenRequired {
		loadOpts = append(loadOpts,
			config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
			config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fail("read CA file: %v", err)
		}
		loadOpts = append(loadOpts, config.WithCustomCABundle(bytes.NewReader(pem)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fail("load AWS configuration: %v", err)
	}
	awsCfg.HTTPClient = keepConnections(awsCfg.HTTPClient)
	if awsCfg.Credentials == nil {
		return nil, fail("no AWS credentials configured")
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("s3 destination %s: %w", s.desc, objio.CtxErr(ctx, err))
		}
		return nil, fail("no usable AWS credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or a role): %v", err)
	}
	detectRegion := awsCfg.Region == ""
	if detectRegion {
		awsCfg.Region = "us-east-1"
	}
	newClient := func(region string) *awss3.Client {
		return awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
			o.Region = region
			o.UsePathStyle = cfg.PathStyle
			if cfg.hooks != nil {
				o.APIOptions = append(o.APIOptions, cfg.hooks.apiOptions...)
			}
			if cfg.Endpoint != "" {
				o.BaseEndpoint = aws.String(cfg.Endpoint)
			}
		})
	}
	cl := newClient(awsCfg.Region)
	err = probeBucket(ctx, cl, cfg.Bucket)
	var wr *wrongRegionError
	if errors.As(err, &wr) && detectRegion {
		cl = newClient(wr.actual)
		err = probeBucket(ctx, cl, cfg.Bucket)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("s3 destination %s: %w", s.desc, objio.CtxErr(ctx, err))
		}
		return nil, fail("%v", err)
	}
	s.cl = cl
	return s, nil
}

// maxIdleConnsPerHost is how many idle connections to the endpoint are
// kept for reuse: as many as a run writes in parallel at most (its
// concurrency is 1-256). The SDK's default of 10 makes a run with a
// higher concurrency close and open connections all the time.
const maxIdleConnsPerHost = 256

// keepConnections returns hc (the AWS config's HTTP client: nil, or the
// SDK's buildable client holding a custom CA bundle) keeping up to
// maxIdleConnsPerHost idle connections.
func keepConnections(hc aws.HTTPClient) aws.HTTPClient {
	bc, ok := hc.(*awshttp.BuildableClient)
	switch {
	case hc == nil:
		bc = awshttp.NewBuildableClient()
	case !ok:
		return hc
	}
	return bc.WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = max(tr.MaxIdleConns, maxIdleConnsPerHost)
		tr.MaxIdleConnsPerHost = maxIdleConnsPerHost
	})
}

func endpointNote(endpoint string) string {
	if endpoint == "" {
		return ""
	}
	return " (endpoint " + endpoint + ")"
}

// Validate checks cfg without any network I/O: what New refuses before it
// contacts the service (bucket name, prefix, sse and kms_key_id, endpoint
// URL). The CLI's config validate calls it, so that it refuses what a run
// refuses.
func (cfg Config) Validate() error {
	if _, err := keys.CleanRoot(cfg.Prefix); err != nil {
		return fmt.Errorf("s3 destination s3://%s: %w", cfg.Bucket, err)
	}
	if err := validate(cfg); err != nil {
		return fmt.Errorf("s3 destination %s%s: %w", describe(cfg.Bucket, strings.Trim(cfg.Prefix, "/")), endpointNote(cfg.Endpoint), err)
	}
	return nil
}

func validate(cfg Config) error {
	if cfg.Bucket == "" {
		return errors.New("bucket not set")
	}
	if strings.ContainsAny(cfg.Bucket, "/\\ ") {
		return fmt.Errorf("invalid bucket name %q", cfg.Bucket)
	}
	switch cfg.SSE {
	case "", "AES256":
		if cfg.KMSKeyID != "" {
			return errors.New("kms_key_id needs sse aws:kms or aws:kms:dsse")
		}
	case "aws:kms", "aws:kms:dsse":
	default:
		return fmt.Errorf("unknown sse %q (want AES256, aws:kms or aws:kms:dsse)", cfg.SSE)
	}
	if cfg.Endpoint != "" {
		eu, err := url.Parse(cfg.Endpoint)
		if err != nil {
			// Not quoted: url.Parse's message repeats the whole endpoint,
			// credentials and all, and an unparsable one cannot be redacted.
			return errors.New("invalid endpoint: not a URL (want http(s)://host[:port])")
		}
		if (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
			return fmt.Errorf("invalid endpoint %q: want http(s)://host[:port]", redact.Shapes(cfg.Endpoint))
		}
		if eu.User != nil {
			return errors.New("invalid endpoint: credentials in the endpoint URL are not supported")
		}
	}
	return nil
}

// wrongRegionError says the bucket lives in another region than the client's.
type wrongRegionError struct {
	actual, configured string
}

func (e *wrongRegionError) Error() string {
	return fmt.Sprintf("bucket is in region %s, not %s (set region=%s)", e.actual, e.configured, e.actual)
}

// probeBucket runs one HeadBucket, without retries, and explains failures.
func probeBucket(ctx context.Context, cl *awss3.Client, bucket string) error {
	_, err := cl.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(bucket)}, func(o *awss3.Options) {
		o.RetryMaxAttempts = 1
	})
	if err == nil {
		return nil
	}
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) {
		return fmt.Errorf("endpoint unreachable: %w", err)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		region := re.Response.Header.Get("X-Amz-Bucket-Region")
		configured := cl.Options().Region
		switch code := re.HTTPStatusCode(); {
		case region != "" && region != configured && (code == http.StatusMovedPermanently || code == http.StatusBadRequest):
			return &wrongRegionError{actual: region, configured: configured}
		case code == http.StatusMovedPermanently:
			return fmt.Errorf("bucket is in another region than %s (set region): %w", configured, err)
		case code == http.StatusNotFound:
			return fmt.Errorf("bucket does not exist: %w", err)
		case code == http.StatusForbidden:
			return fmt.Errorf("access denied (check the credentials and the bucket policy): %w", err)
		}
		return fmt.Errorf("bucket check failed: %w", err)
	}
	return fmt.Errorf("bucket check failed: %w", err)
}

func (s *Store) objectKey(key string) string { return keys.Join(s.root, key) }

// statusCode returns the HTTP status of an SDK error, or 0.
func statusCode(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// mapErr maps SDK errors onto the storage sentinels; conditional says the
// request carried If-Match, where a 404 means the precondition failed.
func mapErr(ctx context.Context, err error, conditional bool) error {
	switch statusCode(err) {
	case http.StatusNotFound:
		if conditional {
			return fmt.Errorf("%w: object does not exist: %w", storage.ErrPreconditionFailed, err)
		}
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	case http.StatusPreconditionFailed:
		return fmt.Errorf("%w: %w", storage.ErrPreconditionFailed, err)
	case http.StatusConflict:
		// S3 answers a conditional write that lost a race with 409
		// ConditionalRequestConflict; other 409s are real conflicts.
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ConditionalRequestConflict" {
			return fmt.Errorf("%w: %w", storage.ErrPreconditionFailed, err)
		}
	}
	return objio.CtxErr(ctx, err)
}

// Get implements storage.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	if err := keys.Validate(key); err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("get: %w", err)
	}
	out, err := s.cl.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key))})
	if err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("get %s: %w", key, mapErr(ctx, err, false))
	}
	info := storage.ObjectInfo{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
		Version: aws.ToString(out.ETag),
	}
	return out.Body, info, nil
}

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := keys.Validate(key); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	info, err := s.head(ctx, key)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return info, nil
}

func (s *Store) head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	out, err := s.cl.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key))})
	if err != nil {
		return storage.ObjectInfo{}, mapErr(ctx, err, false)
	}
	return storage.ObjectInfo{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
		Version: aws.ToString(out.ETag),
	}, nil
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, key string, opts storage.DeleteOptions) error {
	if err := keys.Validate(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	// S3 deletes a missing key "successfully"; the contract wants ErrNotFound.
	cur, err := s.head(ctx, key)
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	in := &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key))}
	if opts.IfVersion != "" {
		if cur.Version != opts.IfVersion {
			return fmt.Errorf("delete %s: %w: version is %s, not %s", key, storage.ErrPreconditionFailed, cur.Version, opts.IfVersion)
		}
		in.IfMatch = aws.String(opts.IfVersion)
	}
	if _, err := s.cl.DeleteObject(ctx, in); err != nil {
		return fmt.Errorf("delete %s: %w", key, mapErr(ctx, err, false))
	}
	return nil
}

// List implements storage.Store. S3 returns keys in ascending UTF-8 byte
// order, page by page; objects whose names are not valid keys (written by
// other tools, e.g. with "//") are skipped.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := keys.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	in := &awss3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(keys.Join(s.root, prefix))}
	if s.pageSize > 0 {
		in.MaxKeys = aws.Int32(s.pageSize)
	}
	p := awss3.NewListObjectsV2Paginator(s.cl, in)
	for p.HasMorePages() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %q: %w", prefix, mapErr(ctx, err, false))
		}
		for _, obj := range page.Contents {
			key, ok := keys.Trim(s.root, aws.ToString(obj.Key))
			if !ok || keys.Validate(key) != nil {
				continue
			}
			info := storage.ObjectInfo{
				Key:     key,
				Size:    aws.ToInt64(obj.Size),
				ModTime: aws.ToTime(obj.LastModified),
				Version: aws.ToString(obj.ETag),
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}
