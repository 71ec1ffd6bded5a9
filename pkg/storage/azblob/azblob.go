// Package azblob stores objects as block blobs in an Azure Blob Storage
// container, below an optional prefix, with the official azblob SDK.
//
// Credentials: when AZURE_STORAGE_CONNECTION_STRING is set it is used (and
// names the account and endpoint itself); otherwise DefaultAzureCredential
// (environment, workload identity, managed identity, Azure CLI) signs
// requests to ServiceURL, or to https://ACCOUNT.blob.core.windows.net/.
//
// Put reads an object smaller than 8 MiB into a buffer of its exact size
// and sends it as one Put Blob (retryable, since the buffer can be sent
// again); larger ones are streamed with UploadStream, staged in 8 MiB
// blocks (at most two in flight) and committed at the end. Either way a
// failed, mis-sized or cancelled body never commits anything. Version is the blob's ETag.
// IfNotExists is If-None-Match: * (a loser gets 409 BlobAlreadyExists),
// IfVersion and conditional Delete are If-Match; both become
// storage.ErrPreconditionFailed. BlobNotFound becomes storage.ErrNotFound.
//
// Copy is a server-side Copy Blob (StartCopyFromURL) within the container,
// after a Get Blob Properties of the source that gives its size and ETag;
// the copy is made with x-ms-source-if-match on that ETag. Within one
// account Azure (and Azurite) usually finishes the copy before answering
// (copy status "success"); when it answers "pending", Copy polls the
// destination's copy status (with a growing interval, until ctx ends) and
// aborts the copy if ctx is cancelled or the copy fails. While a copy is
// pending, Azure may serve the incomplete destination blob to readers: the
// one place where Copy's atomicity rests on the service. There is no batch
// delete here; storage.DeleteKeys deletes the blobs one by one,
// concurrently.
package azblob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/keys"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/objio"
)

// ConnectionStringEnv is the environment variable whose connection string,
// when set, is used instead of DefaultAzureCredential.
const ConnectionStringEnv = "AZURE_STORAGE_CONNECTION_STRING"

const (
	minBlockSize   = 1 << 20 // UploadStream's minimum buffer
	maxBlockSize   = 8 << 20
	maxConcurrency = 2
)

// Config configures an Azure Blob store. The mapstructure tags are the
// config keys.
type Config struct {
	// Container is the container name (required).
	Container string `mapstructure:"container"`
	// Prefix is prepended to every key (blob name), joined with "/".
	Prefix string `mapstructure:"prefix"`
	// AccountName is the storage account; it gives the default ServiceURL.
	AccountName string `mapstructure:"account_name"`
	// ServiceURL is the blob endpoint ("https://ACCOUNT.blob.core.windows.net/",
	// a private endpoint, or an emulator). Ignored when a connection string
	// is used.
	ServiceURL string `mapstructure:"service_url"`
	// AccessTier of new blobs ("Hot", "Cool", "Cold", "Archive"); empty
	// means the account default.
	AccessTier string `mapstructure:"access_tier"`

	// listPageSize caps the blobs per list page (tests).
	listPageSize int32
}

var urlParams = []string{"account_name", "service_url", "access_tier"}

// ParseURL returns base overridden by a destination URL of the form
//
//	azblob://container/prefix?account_name=acct&service_url=https://...&access_tier=Cool
//
// Query parameters override the Config fields of the same name; unknown
// ones, and credentials in the URL, are refused.
func ParseURL(u *url.URL, base Config) (Config, error) {
	cfg := base
	if u.Scheme != "azblob" {
		return cfg, fmt.Errorf("azblob destination: scheme %q is not azblob", u.Scheme)
	}
	if u.User != nil {
		return cfg, fmt.Errorf("azblob destination: credentials in the URL are not supported; use %s or DefaultAzureCredential", ConnectionStringEnv)
	}
	if u.Host == "" {
		return cfg, fmt.Errorf("azblob destination %q: container missing (azblob://container/prefix)", u.String())
	}
	cfg.Container = u.Host
	cfg.Prefix = strings.Trim(u.Path, "/")
	for name, vals := range u.Query() {
		v := vals[len(vals)-1]
		switch name {
		case "account_name":
			cfg.AccountName = v
		case "service_url":
			cfg.ServiceURL = v
		case "access_tier":
			cfg.AccessTier = v
		default:
			return cfg, fmt.Errorf("azblob destination azblob://%s: unknown query parameter %q (known: %s)", u.Host, name, strings.Join(urlParams, ", "))
		}
	}
	return cfg, nil
}

// Store is a storage.Store in an Azure Blob container.
type Store struct {
	cl       *container.Client
	root     string
	tier     *blob.AccessTier
	pageSize int32
	desc     string
}

var (
	_ storage.Store  = (*Store)(nil)
	_ storage.Copier = (*Store)(nil)
)

// New builds a container client (connection string or
// DefaultAzureCredential) and checks that the container exists and is
// accessible, with one request and no retries. It fails fast, naming the
// destination and the cause.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	root, err := keys.CleanRoot(cfg.Prefix)
	if err != nil {
		return nil, fmt.Errorf("azblob destination azblob://%s: %w", cfg.Container, err)
	}
	s := &Store{root: root, pageSize: cfg.listPageSize, desc: "azblob://" + cfg.Container}
	if root != "" {
		s.desc += "/" + root
	}
	if cfg.AccessTier != "" {
		tier, _ := parseTier(cfg.AccessTier) // checked by Validate
		s.tier = &tier
	}
	opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Second, MaxRetryDelay: 30 * time.Second},
	}}
	if conn := os.Getenv(ConnectionStringEnv); conn != "" {
		s.cl, err = container.NewClientFromConnectionString(conn, cfg.Container, opts)
		if err != nil {
			// The connection string holds the account key: never echo it.
			return nil, fmt.Errorf("azblob destination %s: %s is not a valid connection string", s.desc, ConnectionStringEnv)
		}
	} else {
		serviceURL := cfg.ServiceURL
		if serviceURL == "" { // Validate made sure AccountName is set
			serviceURL = "https://" + cfg.AccountName + ".blob.core.windows.net/"
		}
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("azblob destination %s: no usable Azure credentials (set %s, or configure DefaultAzureCredential: environment, workload or managed identity, az login): %w", s.desc, ConnectionStringEnv, err)
		}
		if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://storage.azure.com/.default"}}); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("azblob destination %s: %w", s.desc, objio.CtxErr(ctx, err))
			}
			return nil, fmt.Errorf("azblob destination %s: no usable Azure credentials (set %s, or configure DefaultAzureCredential: environment, workload or managed identity, az login): %w", s.desc, ConnectionStringEnv, err)
		}
		s.cl, err = container.NewClient(strings.TrimSuffix(serviceURL, "/")+"/"+url.PathEscape(cfg.Container), cred, opts)
		if err != nil {
			return nil, fmt.Errorf("azblob destination %s: %w", s.desc, err)
		}
	}
	if err := s.probe(ctx); err != nil {
		return nil, fmt.Errorf("azblob destination %s (%s): %w", s.desc, s.endpoint(), err)
	}
	return s, nil
}

// Validate checks cfg without any network I/O: what New refuses before it
// contacts the service (container name, prefix, access tier, service_url,
// and an account to address when AZURE_STORAGE_CONNECTION_STRING is unset).
func (cfg Config) Validate() error {
	root, err := keys.CleanRoot(cfg.Prefix)
	if err != nil {
		return fmt.Errorf("azblob destination azblob://%s: %w", cfg.Container, err)
	}
	desc := "azblob://" + cfg.Container
	if root != "" {
		desc += "/" + root
	}
	if cfg.Container == "" || strings.ContainsAny(cfg.Container, "/\\ ") {
		return fmt.Errorf("azblob destination %s: container name %q not set or invalid", desc, cfg.Container)
	}
	if cfg.AccessTier != "" {
		if _, ok := parseTier(cfg.AccessTier); !ok {
			return fmt.Errorf("azblob destination %s: unknown access tier %q", desc, cfg.AccessTier)
		}
	}
	if os.Getenv(ConnectionStringEnv) != "" {
		return nil
	}
	if cfg.ServiceURL == "" {
		if cfg.AccountName == "" {
			return fmt.Errorf("azblob destination %s: set account_name or service_url (or %s)", desc, ConnectionStringEnv)
		}
		return nil
	}
	su, err := url.Parse(cfg.ServiceURL)
	if err != nil || (su.Scheme != "https" && su.Scheme != "http") || su.Host == "" || su.RawQuery != "" || su.User != nil {
		// Not echoed: it may carry a SAS token or a password.
		return fmt.Errorf("azblob destination %s: invalid service_url: want https://host/ without credentials or query", desc)
	}
	return nil
}

// endpoint is the container URL without its query (a SAS token).
func (s *Store) endpoint() string {
	u, err := url.Parse(s.cl.URL())
	if err != nil {
		return "?"
	}
	u.RawQuery = ""
	u.User = nil
	return u.String()
}

func parseTier(name string) (blob.AccessTier, bool) {
	for _, t := range blob.PossibleAccessTierValues() {
		if strings.EqualFold(string(t), name) {
			return t, true
		}
	}
	return "", false
}

// probe reads the container's properties once and explains a failure.
func (s *Store) probe(ctx context.Context) error {
	_, err := s.cl.GetProperties(policy.WithRetryOptions(ctx, policy.RetryOptions{MaxRetries: -1}), nil)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return objio.CtxErr(ctx, err)
	}
	var re *azcore.ResponseError
	var ne net.Error
	switch {
	case bloberror.HasCode(err, bloberror.ContainerNotFound):
		return fmt.Errorf("container does not exist: %w", err)
	case errors.As(err, &re) && (re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized):
		return fmt.Errorf("access denied (check the account key or the role assignment): %w", err)
	case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
		return fmt.Errorf("container or account does not exist: %w", err)
	case errors.As(err, &ne):
		return fmt.Errorf("endpoint unreachable: %w", err)
	}
	return fmt.Errorf("container check failed: %w", err)
}

// String implements storage.Store: "azblob://container/prefix".
func (s *Store) String() string { return s.desc }

// Close implements storage.Store. The SDK client holds nothing to release.
func (s *Store) Close() error { return nil }

func (s *Store) blobName(key string) string { return keys.Join(s.root, key) }

// mapErr maps SDK errors onto the storage sentinels; conditional says the
// request carried If-Match, where a missing blob means the precondition
// failed.
func mapErr(ctx context.Context, err error, conditional bool) error {
	var re *azcore.ResponseError
	isResp := errors.As(err, &re)
	switch {
	case bloberror.HasCode(err, bloberror.BlobNotFound),
		isResp && re.StatusCode == http.StatusNotFound && (re.ErrorCode == "" || re.ErrorCode == string(bloberror.CannotVerifyCopySource)):
		if conditional {
			return fmt.Errorf("%w: blob does not exist: %w", storage.ErrPreconditionFailed, err)
		}
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	case bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet, bloberror.TargetConditionNotMet),
		isResp && re.StatusCode == http.StatusPreconditionFailed && re.ErrorCode == "":
		return fmt.Errorf("%w: %w", storage.ErrPreconditionFailed, err)
	}
	return objio.CtxErr(ctx, err)
}

func etag(e *azcore.ETag) string {
	if e == nil {
		return ""
	}
	return string(*e)
}

// blockSize fits UploadStream's buffer to the object: staged blocks of
// maxBlockSize for objects that do not fit in one.
func blockSize(size int64) int64 {
	return min(max(size+1, minBlockSize), maxBlockSize)
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
	var headers *blob.HTTPHeaders
	if opts.ContentType != "" {
		headers = &blob.HTTPHeaders{BlobContentType: &opts.ContentType}
	}
	var cond *blob.AccessConditions
	switch {
	case opts.IfNotExists:
		anyTag := azcore.ETagAny
		cond = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &anyTag}}
	case opts.IfVersion != "":
		want := azcore.ETag(opts.IfVersion)
		cond = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &want}}
	}
	bb := s.cl.NewBlockBlobClient(s.blobName(key))
	body := objio.Exact(ctx, r, size)
	var (
		tag  *azcore.ETag
		last *time.Time
		err  error
	)
	if size < maxBlockSize {
		// One Put Blob from a buffer of exactly the object's size: the
		// request UploadStream would make, without its block-sized
		// memory-mapped buffer and goroutines, and retryable since the
		// buffer can be sent again.
		buf := make([]byte, size)
		if _, err = io.ReadFull(body, buf); err == nil {
			_, err = body.Read(nil) // size bytes read: check that r ends here
		}
		if err == nil || errors.Is(err, io.EOF) {
			var resp blockblob.UploadResponse
			resp, err = bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(buf)), &blockblob.UploadOptions{
				Tier: s.tier, HTTPHeaders: headers, AccessConditions: cond,
			})
			tag, last = resp.ETag, resp.LastModified
		}
	} else {
		var resp blockblob.UploadStreamResponse
		resp, err = bb.UploadStream(ctx, body, &blockblob.UploadStreamOptions{
			BlockSize: blockSize(size), Concurrency: maxConcurrency, AccessTier: s.tier,
			HTTPHeaders: headers, AccessConditions: cond,
		})
		tag, last = resp.ETag, resp.LastModified
	}
	if err != nil {
		if berr := body.Err(); berr != nil {
			err = berr
		}
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, mapErr(ctx, err, opts.IfVersion != ""))
	}
	info := storage.ObjectInfo{Key: key, Size: size, Version: etag(tag)}
	if last != nil {
		info.ModTime = *last
	}
	return info, nil
}

// Get implements storage.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	if err := keys.Validate(key); err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("get: %w", err)
	}
	resp, err := s.cl.NewBlobClient(s.blobName(key)).DownloadStream(ctx, nil)
	if err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("get %s: %w", key, mapErr(ctx, err, false))
	}
	info := storage.ObjectInfo{Key: key, Version: etag(resp.ETag)}
	if resp.ContentLength != nil {
		info.Size = *resp.ContentLength
	}
	if resp.LastModified != nil {
		info.ModTime = *resp.LastModified
	}
	return resp.Body, info, nil
}

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := keys.Validate(key); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	resp, err := s.cl.NewBlobClient(s.blobName(key)).GetProperties(ctx, nil)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, mapErr(ctx, err, false))
	}
	info := storage.ObjectInfo{Key: key, Version: etag(resp.ETag)}
	if resp.ContentLength != nil {
		info.Size = *resp.ContentLength
	}
	if resp.LastModified != nil {
		info.ModTime = *resp.LastModified
	}
	return info, nil
}

// Delete implements storage.Store. Snapshots of the blob go with it.
func (s *Store) Delete(ctx context.Context, key string, opts storage.DeleteOptions) error {
	if err := keys.Validate(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	include := blob.DeleteSnapshotsOptionTypeInclude
	do := &blob.DeleteOptions{DeleteSnapshots: &include}
	if opts.IfVersion != "" {
		want := azcore.ETag(opts.IfVersion)
		do.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &want}}
	}
	if _, err := s.cl.NewBlobClient(s.blobName(key)).Delete(ctx, do); err != nil {
		return fmt.Errorf("delete %s: %w", key, mapErr(ctx, err, false))
	}
	return nil
}

// List implements storage.Store. Azure lists blob names in lexicographic
// order; names that are not valid keys are skipped.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := keys.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	full := keys.Join(s.root, prefix)
	lo := &container.ListBlobsFlatOptions{Prefix: &full}
	if s.pageSize > 0 {
		lo.MaxResults = &s.pageSize
	}
	pager := s.cl.NewListBlobsFlatPager(lo)
	for pager.More() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %q: %w", prefix, mapErr(ctx, err, false))
		}
		for _, item := range page.Segment.BlobItems {
			if item.Name == nil {
				continue
			}
			key, ok := keys.Trim(s.root, *item.Name)
			if !ok || keys.Validate(key) != nil {
				continue
			}
			info := storage.ObjectInfo{Key: key}
			if p := item.Properties; p != nil {
				if p.ContentLength != nil {
					info.Size = *p.ContentLength
				}
				if p.LastModified != nil {
					info.ModTime = *p.LastModified
				}
				info.Version = etag(p.ETag)
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyAttempts bounds the retries of a Copy whose source was replaced
// between its properties read and the copy.
const copyAttempts = 3

// Copy implements storage.Copier with a server-side Copy Blob.
func (s *Store) Copy(ctx context.Context, srcKey, dstKey string) (storage.ObjectInfo, error) {
	if err := keys.CheckCopy(ctx, srcKey, dstKey); err != nil {
		return storage.ObjectInfo{}, err
	}
	// A source replaced after its properties were read fails the pinned copy.
	info, err := keys.RetryCopy(copyAttempts, func() (storage.ObjectInfo, error) { return s.copyOnce(ctx, srcKey, dstKey) },
		func(err error) bool { return bloberror.HasCode(err, bloberror.SourceConditionNotMet) })
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, mapErr(ctx, err, false))
	}
	return info, nil
}

func (s *Store) copyOnce(ctx context.Context, srcKey, dstKey string) (storage.ObjectInfo, error) {
	src := s.cl.NewBlobClient(s.blobName(srcKey))
	props, err := src.GetProperties(ctx, nil)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	info := storage.ObjectInfo{Key: dstKey}
	if props.ContentLength != nil {
		info.Size = *props.ContentLength
	}
	dst := s.cl.NewBlobClient(s.blobName(dstKey))
	resp, err := dst.StartCopyFromURL(ctx, src.URL(), &blob.StartCopyFromURLOptions{
		Tier:                           s.tier,
		SourceModifiedAccessConditions: &blob.SourceModifiedAccessConditions{SourceIfMatch: props.ETag},
	})
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	info.Version = etag(resp.ETag)
	if resp.LastModified != nil {
		info.ModTime = *resp.LastModified
	}
	status := blob.CopyStatusTypeSuccess
	if resp.CopyStatus != nil {
		status = *resp.CopyStatus
	}
	if status == blob.CopyStatusTypePending {
		if info, err = s.waitCopy(ctx, dst, resp.CopyID, info); err != nil {
			return storage.ObjectInfo{}, err
		}
		status = blob.CopyStatusTypeSuccess
	}
	if status != blob.CopyStatusTypeSuccess {
		return storage.ObjectInfo{}, fmt.Errorf("copy status %s", status)
	}
	return info, nil
}

// waitCopy polls dst until the copy copyID is no longer pending; if ctx
// ends first, or the copy fails, the copy is aborted.
func (s *Store) waitCopy(ctx context.Context, dst *blob.Client, copyID *string, info storage.ObjectInfo) (_ storage.ObjectInfo, err error) {
	defer func() {
		if err != nil && copyID != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if _, aerr := dst.AbortCopyFromURL(actx, *copyID, nil); aerr != nil && !bloberror.HasCode(aerr, bloberror.NoPendingCopyOperation) {
				err = fmt.Errorf("%w (abort copy: %w)", err, aerr)
			}
		}
	}()
	delay := 50 * time.Millisecond
	for {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return info, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 2*time.Second)
		p, err := dst.GetProperties(ctx, nil)
		if err != nil {
			return info, err
		}
		if p.CopyID != nil && copyID != nil && *p.CopyID != *copyID {
			return info, errors.New("destination was replaced while the copy was pending")
		}
		if p.CopyStatus == nil || *p.CopyStatus == blob.CopyStatusTypePending {
			continue
		}
		if *p.CopyStatus != blob.CopyStatusTypeSuccess {
			desc := ""
			if p.CopyStatusDescription != nil {
				desc = ": " + *p.CopyStatusDescription
			}
			copyID = nil // nothing left to abort
			return info, fmt.Errorf("copy status %s%s", *p.CopyStatus, desc)
		}
		info.Version = etag(p.ETag)
		if p.ContentLength != nil {
			info.Size = *p.ContentLength
		}
		if p.LastModified != nil {
			info.ModTime = *p.LastModified
		}
		return info, nil
	}
}
