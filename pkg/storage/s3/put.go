package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/keys"
	"github.com/backup-creator/backup-creator/pkg/storage/internal/objio"
)

// Put implements storage.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (storage.ObjectInfo, error) {
	if err := keys.Validate(key); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put: %w", err)
	}
	switch {
	case size < 0:
		return storage.ObjectInfo{}, fmt.Errorf("put %s: negative size %d", key, size)
	case size > maxPutSize:
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %d bytes is more than the 5 GiB limit", key, size)
	case opts.IfNotExists && opts.IfVersion != "":
		return storage.ObjectInfo{}, fmt.Errorf("put %s: IfNotExists and IfVersion are mutually exclusive", key)
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	var (
		etag string
		err  error
	)
	switch rs, seekable := r.(io.ReadSeeker); {
	case seekable:
		if err = objio.CheckSeekable(rs, size); err == nil {
			etag, err = s.putObject(ctx, key, rs, size, opts)
		}
	case size == 0:
		// Nothing will be sent, so check now that r is empty too.
		if _, err = io.Copy(io.Discard, objio.Exact(ctx, r, 0)); err == nil {
			etag, err = s.putObject(ctx, key, bytes.NewReader(nil), 0, opts)
		}
	case s.https:
		body := objio.Exact(ctx, r, size)
		etag, err = s.putObject(ctx, key, body, size, opts,
			awss3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware),
			// A stream cannot be rewound for a retry; without this the
			// SDK backs off first and then fails to rewind anyway.
			func(o *awss3.Options) { o.RetryMaxAttempts = 1 })
		if err != nil && body.Err() != nil {
			// The SDK reports "failed to rewind stream"; the body knows why.
			err = fmt.Errorf("%w (%w)", body.Err(), err)
		}
	default:
		etag, err = s.putBuffered(ctx, key, r, size, opts)
	}
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, objio.CtxErr(ctx, err))
	}
	// PutObject does not return the modification time; the client's clock
	// stands in for it.
	return storage.ObjectInfo{Key: key, Size: size, ModTime: time.Now(), Version: etag}, nil
}

// putObject sends one PutObject and returns the new ETag.
func (s *Store) putObject(ctx context.Context, key string, body io.Reader, size int64, opts storage.PutOptions, optFns ...func(*awss3.Options)) (string, error) {
	in := &awss3.PutObjectInput{
		Bucket:               aws.String(s.bucket),
		Key:                  aws.String(s.objectKey(key)),
		Body:                 body,
		ContentLength:        aws.Int64(size),
		ServerSideEncryption: s.sse,
		StorageClass:         s.class,
	}
	if s.kmsKeyID != "" {
		in.SSEKMSKeyId = aws.String(s.kmsKeyID)
	}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	if opts.IfNotExists {
		in.IfNoneMatch = aws.String("*")
	}
	if opts.IfVersion != "" {
		in.IfMatch = aws.String(opts.IfVersion)
	}
	out, err := s.cl.PutObject(ctx, in, optFns...)
	if err != nil {
		return "", mapErr(ctx, err, opts.IfVersion != "")
	}
	return aws.ToString(out.ETag), nil
}

// putBuffered is the plain-HTTP path for a non-seekable body: it reads the
// body (checking its size) into a buffer of at most one part and sends it
// signed, as one PutObject or, for larger objects, as a multipart upload.
func (s *Store) putBuffered(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (string, error) {
	body := objio.Exact(ctx, r, size)
	buf := make([]byte, min(size, s.partSize))
	if _, err := io.ReadFull(body, buf); err != nil {
		return "", err
	}
	if size <= s.partSize {
		return s.putObject(ctx, key, bytes.NewReader(buf), size, opts, whenRequired)
	}
	return s.putMultipart(ctx, key, body, buf, size, opts)
}

// whenRequired turns off the optional request checksum: the body is sent
// with a signed SHA-256 payload hash, which already protects it.
func whenRequired(o *awss3.Options) {
	o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
}

// putMultipart uploads body in parts of len(buf) bytes; buf already holds
// the first part. The upload is completed, with the Put's condition, only
// after the whole body has been read and checked; on any error it is
// aborted.
func (s *Store) putMultipart(ctx context.Context, key string, body io.Reader, buf []byte, size int64, opts storage.PutOptions) (etag string, err error) {
	in := &awss3.CreateMultipartUploadInput{
		Bucket:               aws.String(s.bucket),
		Key:                  aws.String(s.objectKey(key)),
		ServerSideEncryption: s.sse,
		StorageClass:         s.class,
	}
	if s.kmsKeyID != "" {
		in.SSEKMSKeyId = aws.String(s.kmsKeyID)
	}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	created, err := s.cl.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", fmt.Errorf("create multipart upload: %w", mapErr(ctx, err, false))
	}
	uploadID := created.UploadId
	defer func() {
		if err == nil {
			return
		}
		// Clean up even when ctx is what failed.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, aerr := s.cl.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{
			Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)), UploadId: uploadID,
		}); aerr != nil {
			err = fmt.Errorf("%w (abort multipart upload: %w)", err, aerr)
		}
	}()

	var parts []types.CompletedPart
	part := buf
	for num, sent := int32(1), int64(0); ; num++ {
		out, err := s.cl.UploadPart(ctx, &awss3.UploadPartInput{
			Bucket:        aws.String(s.bucket),
			Key:           aws.String(s.objectKey(key)),
			UploadId:      uploadID,
			PartNumber:    aws.Int32(num),
			Body:          bytes.NewReader(part),
			ContentLength: aws.Int64(int64(len(part))),
		}, whenRequired)
		if err != nil {
			return "", fmt.Errorf("upload part %d: %w", num, mapErr(ctx, err, false))
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		sent += int64(len(part))
		if sent == size {
			break
		}
		part = buf[:min(size-sent, int64(len(buf)))]
		if _, err := io.ReadFull(body, part); err != nil {
			return "", err
		}
	}
	cin := &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(s.objectKey(key)),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if opts.IfNotExists {
		cin.IfNoneMatch = aws.String("*")
	}
	if opts.IfVersion != "" {
		cin.IfMatch = aws.String(opts.IfVersion)
	}
	out, err := s.cl.CompleteMultipartUpload(ctx, cin)
	if err != nil {
		return "", fmt.Errorf("complete multipart upload: %w", mapErr(ctx, err, opts.IfVersion != ""))
	}
	return aws.ToString(out.ETag), nil
}
