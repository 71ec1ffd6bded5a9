package s3

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/keys"
)

// copySource is the x-amz-copy-source value for an object: "bucket/key"
// with every byte but the unreserved characters of RFC 3986 and "/"
// percent-encoded. (url.PathEscape keeps "+", which servers decode as a
// space, and "&=;,@".)
func (s *Store) copySource(key string) string {
	const hex = "0123456789ABCDEF"
	src := s.bucket + "/" + s.objectKey(key)
	var b strings.Builder
	b.Grow(len(src) * 3)
	for i := range len(src) {
		c := src[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// Copy implements storage.Copier with a server-side CopyObject.
func (s *Store) Copy(ctx context.Context, srcKey, dstKey string) (storage.ObjectInfo, error) {
	if err := keys.CheckCopy(ctx, srcKey, dstKey); err != nil {
		return storage.ObjectInfo{}, err
	}
	// A source replaced after the HeadObject fails the pinned copy: look again.
	info, err := keys.RetryCopy(copyAttempts, func() (storage.ObjectInfo, error) { return s.copyOnce(ctx, srcKey, dstKey) },
		func(err error) bool { return errors.Is(err, storage.ErrPreconditionFailed) })
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, err)
	}
	return info, nil
}

func (s *Store) copyOnce(ctx context.Context, srcKey, dstKey string) (storage.ObjectInfo, error) {
	src, err := s.head(ctx, srcKey)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	in := &awss3.CopyObjectInput{
		Bucket:               aws.String(s.bucket),
		Key:                  aws.String(s.objectKey(dstKey)),
		CopySource:           aws.String(s.copySource(srcKey)),
		CopySourceIfMatch:    aws.String(src.Version),
		ServerSideEncryption: s.sse,
		StorageClass:         s.class,
	}
	if s.kmsKeyID != "" {
		in.SSEKMSKeyId = aws.String(s.kmsKeyID)
	}
	out, err := s.cl.CopyObject(ctx, in)
	if err != nil {
		return storage.ObjectInfo{}, mapErr(ctx, err, false)
	}
	info := storage.ObjectInfo{Key: dstKey, Size: src.Size, ModTime: time.Now()}
	if r := out.CopyObjectResult; r != nil {
		info.Version = aws.ToString(r.ETag)
		if r.LastModified != nil {
			info.ModTime = *r.LastModified
		}
	}
	if info.Version == "" {
		return storage.ObjectInfo{}, errors.New("CopyObject returned no ETag")
	}
	return info, nil
}

// DeleteKeys implements storage.BatchDeleter with DeleteObjects requests of
// up to 1000 keys, deleteBatchesInFlight at a time. S3 does not report missing keys;
// any other per-key error fails the call after its batch, naming the keys.
func (s *Store) DeleteKeys(ctx context.Context, keyList []string) error {
	for _, k := range keyList {
		if err := keys.Validate(k); err != nil {
			return fmt.Errorf("delete keys: %w", err)
		}
	}
	if len(keyList) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %d keys: %w", len(keyList), err)
	}
	todo := slices.Clone(keyList)
	slices.Sort(todo)
	todo = slices.Compact(todo)
	// A few batches in flight: servers may work through one batch's keys
	// one by one.
	var g errgroup.Group
	g.SetLimit(deleteBatchesInFlight)
	for batch := range slices.Chunk(todo, maxDeleteBatch) {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return s.deleteBatch(ctx, batch)
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("delete %d keys: %w", len(todo), err)
	}
	return nil
}

func (s *Store) deleteBatch(ctx context.Context, batch []string) error {
	ids := make([]types.ObjectIdentifier, len(batch))
	for i, k := range batch {
		ids[i] = types.ObjectIdentifier{Key: aws.String(s.objectKey(k))}
	}
	out, err := s.cl.DeleteObjects(ctx, &awss3.DeleteObjectsInput{
		Bucket: aws.String(s.bucket),
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("DeleteObjects of %s ... %s: %w", batch[0], batch[len(batch)-1], mapErr(ctx, err, false))
	}
	var errs []error
	for _, e := range out.Errors {
		if aws.ToString(e.Code) == "NoSuchKey" {
			continue
		}
		key, _ := keys.Trim(s.root, aws.ToString(e.Key))
		errs = append(errs, fmt.Errorf("delete %s: %s: %s", key, aws.ToString(e.Code), aws.ToString(e.Message)))
	}
	if len(errs) > 0 {
		const show = 5
		more := ""
		if len(errs) > show {
			more = fmt.Sprintf(" (and %d more)", len(errs)-show)
			errs = errs[:show]
		}
		return fmt.Errorf("%d of %d keys not deleted%s: %w", len(out.Errors), len(batch), more, errors.Join(errs...))
	}
	return nil
}
