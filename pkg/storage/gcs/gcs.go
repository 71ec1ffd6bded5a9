// Package gcs stores objects in a Google Cloud Storage bucket, below an
// optional prefix, with cloud.google.com/go/storage (JSON API over HTTP).
//
// Credentials come from Application Default Credentials
// (GOOGLE_APPLICATION_CREDENTIALS, gcloud's user credentials, the metadata
// server). When STORAGE_EMULATOR_HOST is set, the client library talks to
// that emulator without credentials.
//
// Put reads an unconditional object under 16 MiB into a buffer of its size
// and sends it in one multipart request with ChunkSize 0 (no chunk buffer)
// and its CRC32C, which the server checks. A conditional Put, which the
// client library retries, copies the body into a storage.Writer whose
// ChunkSize is fitted to the object (buffered up to the next 256 KiB and
// sent in one request); larger objects go as a resumable upload in 16 MiB
// chunks. The upload only completes when Writer.Close succeeds, and that
// error is Put's result; a body that fails, has the wrong size, or is
// cancelled cancels the writer's context instead, so nothing is created.
//
// Version is the object's generation as a decimal string. IfNotExists is the
// DoesNotExist precondition, IfVersion and conditional Delete use
// GenerationMatch; 412 conditionNotMet becomes storage.ErrPreconditionFailed
// and storage.ErrObjectNotExist becomes storage.ErrNotFound.
//
// Copy is a server-side rewrite (ObjectHandle.CopierFrom): the new object
// is created atomically, like any GCS object, and the response describes
// it, so a copy takes one request (more only for very large objects or a
// change of location or class). There is no batch delete in the client
// library; storage.DeleteKeys deletes the keys one by one, concurrently.
package gcs

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/keys"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/objio"
)

const (
	// maxChunkSize is the resumable upload chunk size (the library default).
	maxChunkSize = 16 << 20
	// chunkUnit is the granularity of ChunkSize.
	chunkUnit = 256 << 10
)

// Config configures a GCS store. The mapstructure tags are the config keys.
type Config struct {
	// Bucket is the bucket name (required).
	Bucket string `mapstructure:"bucket"`
	// Prefix is prepended to every key, joined with "/".
	Prefix string `mapstructure:"prefix"`
	// StorageClass of new objects ("NEARLINE", ...); empty means the
	// bucket default.
	StorageClass string `mapstructure:"storage_class"`
	// KMSKeyName is the Cloud KMS key that encrypts new objects
	// ("projects/P/locations/L/keyRings/R/cryptoKeys/K"); empty means the
	// bucket default.
	KMSKeyName string `mapstructure:"kms_key_name"`

	// listPageSize caps the objects per list page (tests).
	listPageSize int
	// httpClient replaces the client library's HTTP client (tests).
	httpClient *http.Client
}

// urlParams are the query parameters ParseURL accepts.
var urlParams = []string{"storage_class", "kms_key_name"}

// ParseURL returns base overridden by a destination URL of the form
//
//	gs://bucket/prefix?storage_class=NEARLINE&kms_key_name=projects/...
//
// ("gcs://" is accepted as well). Query parameters override the Config
// fields of the same name; unknown ones are refused.
func ParseURL(u *url.URL, base Config) (Config, error) {
	cfg := base
	if u.Scheme != "gs" && u.Scheme != "gcs" {
		return cfg, fmt.Errorf("gcs destination: scheme %q is not gs", u.Scheme)
	}
	if u.User != nil {
		return cfg, errors.New("gcs destination: credentials in the URL are not supported; use Application Default Credentials")
	}
	if u.Host == "" {
		return cfg, fmt.Errorf("gcs destination %q: bucket missing (gs://bucket/prefix)", u.String())
	}
	cfg.Bucket = u.Host
	cfg.Prefix = strings.Trim(u.Path, "/")
	for name, vals := range u.Query() {
		v := vals[len(vals)-1]
		switch name {
		case "storage_class":
			cfg.StorageClass = v
		case "kms_key_name":
			cfg.KMSKeyName = v
		default:
			return cfg, fmt.Errorf("gcs destination gs://%s: unknown query parameter %q (known: %s)", u.Host, name, strings.Join(urlParams, ", "))
		}
	}
	return cfg, nil
}

// Store is a storage.Store in a GCS bucket.
type Store struct {
	client   *gcs.Client
	bucket   *gcs.BucketHandle
	root     string
	class    string
	kmsKey   string
	pageSize int
	desc     string
}

var (
	_ storage.Store  = (*Store)(nil)
	_ storage.Copier = (*Store)(nil)
)

// New creates a client from Application Default Credentials and checks that
// the bucket exists and is accessible (one metadata read, no retries). It
// fails fast, naming the destination and the cause.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	root, _ := keys.CleanRoot(cfg.Prefix) // checked by Validate
	desc := "gs://" + cfg.Bucket
	if root != "" {
		desc += "/" + root
	}
	var copts []option.ClientOption
	if cfg.httpClient != nil {
		copts = append(copts, option.WithHTTPClient(cfg.httpClient))
	}
	client, err := gcs.NewClient(ctx, copts...)
	if err != nil {
		return nil, fmt.Errorf("gcs destination %s: create client (no usable Application Default Credentials? set GOOGLE_APPLICATION_CREDENTIALS or run on GCP): %w", desc, objio.CtxErr(ctx, err))
	}
	s := &Store{
		client:   client,
		bucket:   client.Bucket(cfg.Bucket),
		root:     root,
		class:    cfg.StorageClass,
		kmsKey:   cfg.KMSKeyName,
		pageSize: cfg.listPageSize,
		desc:     desc,
	}
	if err := s.probe(ctx); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("gcs destination %s: %w", desc, err)
	}
	return s, nil
}

// Validate checks cfg without any network I/O: what New refuses before it
// contacts the service (bucket name, prefix).
func (cfg Config) Validate() error {
	root, err := keys.CleanRoot(cfg.Prefix)
	if err != nil {
		return fmt.Errorf("gcs destination gs://%s: %w", cfg.Bucket, err)
	}
	if cfg.Bucket == "" || strings.ContainsAny(cfg.Bucket, "/\\ ") {
		desc := "gs://" + cfg.Bucket
		if root != "" {
			desc += "/" + root
		}
		return fmt.Errorf("gcs destination %s: bucket name %q not set or invalid", desc, cfg.Bucket)
	}
	return nil
}

// probe reads the bucket's metadata once and explains a failure.
func (s *Store) probe(ctx context.Context) error {
	_, err := s.bucket.Retryer(gcs.WithPolicy(gcs.RetryNever)).Attrs(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return objio.CtxErr(ctx, err)
	}
	var ge *googleapi.Error
	var ne net.Error
	switch {
	case errors.Is(err, gcs.ErrBucketNotExist):
		return fmt.Errorf("bucket does not exist: %w", err)
	case errors.As(err, &ge) && (ge.Code == http.StatusForbidden || ge.Code == http.StatusUnauthorized):
		return fmt.Errorf("access denied (check the credentials and the bucket's IAM): %w", err)
	case errors.As(err, &ne):
		return fmt.Errorf("endpoint unreachable: %w", err)
	}
	return fmt.Errorf("bucket check failed: %w", err)
}

// String implements storage.Store: "gs://bucket/prefix".
func (s *Store) String() string { return s.desc }

// Close implements storage.Store.
func (s *Store) Close() error {
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.desc, err)
	}
	return nil
}

func (s *Store) object(key string) *gcs.ObjectHandle {
	return s.bucket.Object(keys.Join(s.root, key))
}

// mapErr maps library errors onto the storage sentinels; conditional says
// the request carried GenerationMatch, where a missing object means the
// precondition failed.
func mapErr(ctx context.Context, err error, conditional bool) error {
	var ge *googleapi.Error
	switch {
	case errors.Is(err, gcs.ErrObjectNotExist), errors.As(err, &ge) && ge.Code == http.StatusNotFound:
		if conditional {
			return fmt.Errorf("%w: object does not exist: %w", storage.ErrPreconditionFailed, err)
		}
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	case errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed:
		return fmt.Errorf("%w: %w", storage.ErrPreconditionFailed, err)
	}
	return objio.CtxErr(ctx, err)
}

func info(key string, a *gcs.ObjectAttrs) storage.ObjectInfo {
	return storage.ObjectInfo{Key: key, Size: a.Size, ModTime: a.Updated, Version: strconv.FormatInt(a.Generation, 10)}
}

// chunkSize fits the writer's buffer to the object: one request and a
// small buffer for small objects, resumable 16 MiB chunks for large ones.
func chunkSize(size int64) int {
	if size >= maxChunkSize {
		return maxChunkSize
	}
	// +1 so that a body of exactly a multiple of 256 KiB still fits.
	return int((size + 1 + chunkUnit - 1) / chunkUnit * chunkUnit)
}

// Put implements storage.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (storage.ObjectInfo, error) {
	if err := keys.Validate(key); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put: %w", err)
	}
	switch {
	case size < 0:
		return storage.ObjectInfo{}, fmt.Errorf("put %s: negative size %d", key, size)
	case opts.IfNotExists && opts.IfVersion != "":
		return storage.ObjectInfo{}, fmt.Errorf("put %s: IfNotExists and IfVersion are mutually exclusive", key)
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	obj := s.object(key)
	switch {
	case opts.IfNotExists:
		obj = obj.If(gcs.Conditions{DoesNotExist: true})
	case opts.IfVersion != "":
		gen, err := strconv.ParseInt(opts.IfVersion, 10, 64)
		if err != nil || gen <= 0 {
			return storage.ObjectInfo{}, fmt.Errorf("put %s: %w: version %q is not a GCS generation", key, storage.ErrPreconditionFailed, opts.IfVersion)
		}
		obj = obj.If(gcs.Conditions{GenerationMatch: gen})
	}
	var (
		attrs *gcs.ObjectAttrs
		err   error
	)
	if size < maxChunkSize && !opts.IfNotExists && opts.IfVersion == "" {
		attrs, err = s.writeSmall(ctx, obj, r, size, opts.ContentType)
	} else {
		attrs, err = s.write(ctx, obj, r, size, opts.ContentType)
	}
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, mapErr(ctx, err, opts.IfVersion != ""))
	}
	return info(key, attrs), nil
}

// writeSmall sends an unconditional object under 16 MiB in one multipart
// request without the writer's chunk buffer (at least 256 KiB for every
// Put, however small, which the client library would only need to retry
// the upload, and it never retries an unconditional one). The body is read
// and size-checked first, so a failing body never reaches the wire, and the
// request declares the body's CRC32C: an upload cut short by cancellation
// (the library then still ends the multipart body) fails the server's
// checksum check instead of storing a truncated object.
func (s *Store) writeSmall(ctx context.Context, obj *gcs.ObjectHandle, r io.Reader, size int64, contentType string) (*gcs.ObjectAttrs, error) {
	buf := make([]byte, size)
	body := objio.Exact(ctx, r, size)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	if _, err := body.Read(nil); !errors.Is(err, io.EOF) { // r must end here
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := obj.NewWriter(wctx)
	w.ChunkSize = 0
	w.CRC32C = crc32.Checksum(buf, crc32.MakeTable(crc32.Castagnoli))
	w.SendCRC32C = true
	w.ContentType = contentType
	w.StorageClass = s.class
	w.KMSKeyName = s.kmsKey
	if _, err := w.Write(buf); err != nil {
		// No Close, which would end the body: cancelling wctx aborts the
		// upload with the context's error.
		cancel()
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	attrs := w.Attrs()
	if attrs.Size != size {
		return nil, fmt.Errorf("stored %d bytes, want %d", attrs.Size, size)
	}
	return attrs, nil
}

func (s *Store) write(ctx context.Context, obj *gcs.ObjectHandle, r io.Reader, size int64, contentType string) (*gcs.ObjectAttrs, error) {
	// Cancelling wctx is the only way to abandon an upload: Close would
	// commit what was written so far.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := obj.NewWriter(wctx)
	w.ChunkSize = chunkSize(size)
	w.ContentType = contentType
	w.StorageClass = s.class
	w.KMSKeyName = s.kmsKey
	body := objio.Exact(ctx, r, size)
	n, err := io.Copy(w, body)
	if err != nil {
		cancel()
		_ = w.Close() // reports the cancellation
		if berr := body.Err(); berr != nil {
			return nil, berr
		}
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	attrs := w.Attrs()
	if n != size || attrs.Size != size {
		return nil, fmt.Errorf("stored %d bytes (sent %d), want %d", attrs.Size, n, size)
	}
	return attrs, nil
}

// Get implements storage.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	if err := keys.Validate(key); err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("get: %w", err)
	}
	r, err := s.object(key).NewReader(ctx)
	if err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("get %s: %w", key, mapErr(ctx, err, false))
	}
	oi := storage.ObjectInfo{
		Key:     key,
		Size:    r.Attrs.Size,
		ModTime: r.Attrs.LastModified,
		Version: strconv.FormatInt(r.Attrs.Generation, 10),
	}
	return r, oi, nil
}

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := keys.Validate(key); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	attrs, err := s.object(key).Attrs(ctx)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, mapErr(ctx, err, false))
	}
	return info(key, attrs), nil
}

// Delete implements storage.Store. A conditional delete names the
// generation twice: as ifGenerationMatch (what GCS checks against the live
// object) and as the generation to delete (what fake-gcs-server, which
// ignores the precondition on delete, honours); either way only that
// generation can go.
func (s *Store) Delete(ctx context.Context, key string, opts storage.DeleteOptions) error {
	if err := keys.Validate(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	obj := s.object(key)
	if opts.IfVersion != "" {
		gen, err := strconv.ParseInt(opts.IfVersion, 10, 64)
		if err != nil || gen <= 0 {
			return fmt.Errorf("delete %s: %w: version %q is not a GCS generation", key, storage.ErrPreconditionFailed, opts.IfVersion)
		}
		obj = obj.Generation(gen).If(gcs.Conditions{GenerationMatch: gen})
	}
	err := obj.Delete(ctx)
	if err == nil {
		return nil
	}
	err = mapErr(ctx, err, false)
	if opts.IfVersion != "" && errors.Is(err, storage.ErrNotFound) {
		// "No such generation" may still mean the key holds another one.
		if _, serr := s.object(key).Attrs(ctx); serr == nil {
			err = fmt.Errorf("%w: generation %s is not the live one (%v)", storage.ErrPreconditionFailed, opts.IfVersion, err) //nolint:errorlint // must not match ErrNotFound
		}
	}
	return fmt.Errorf("delete %s: %w", key, err)
}

// List implements storage.Store. GCS lists names in lexicographic (byte)
// order; objects whose names are not valid keys are skipped.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := keys.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	q := &gcs.Query{Prefix: keys.Join(s.root, prefix)}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Updated", "Generation"}); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	it := s.bucket.Objects(ctx, q)
	if s.pageSize > 0 {
		it.PageInfo().MaxSize = s.pageSize
	}
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %q: %w", prefix, mapErr(ctx, err, false))
		}
		key, ok := keys.Trim(s.root, attrs.Name)
		if !ok || keys.Validate(key) != nil {
			continue
		}
		if err := fn(info(key, attrs)); err != nil {
			return err
		}
	}
}

// Copy implements storage.Copier with a server-side rewrite.
func (s *Store) Copy(ctx context.Context, srcKey, dstKey string) (storage.ObjectInfo, error) {
	if err := keys.CheckCopy(ctx, srcKey, dstKey); err != nil {
		return storage.ObjectInfo{}, err
	}
	c := s.object(dstKey).CopierFrom(s.object(srcKey))
	c.StorageClass = s.class
	c.DestinationKMSKeyName = s.kmsKey
	attrs, err := c.Run(ctx)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, mapErr(ctx, err, false))
	}
	return info(dstKey, attrs), nil
}
