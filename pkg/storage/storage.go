// Package storage defines the contract every backup destination implements:
// local disk, S3 and S3-compatible stores, Google Cloud Storage and Azure Blob.
//
// Keys are slash-separated relative paths ("backup_20261123/manifest.json").
// They never start with "/" and never contain "." or ".." segments; a backend
// maps them below its own root (a directory or a bucket prefix). The engine in
// pkg/backup only ever talks to a Store, so every guarantee it relies on is
// written down here and checked by the conformance suite in storagetest.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is wrapped by every error that means "no object under this key".
// Backends map their provider's error onto it (S3 NoSuchKey/404, GCS
// ErrObjectNotExist, Azure BlobNotFound, fs.ErrNotExist).
var ErrNotFound = errors.New("object not found")

// ErrPreconditionFailed is wrapped by every error that means a conditional
// write or delete lost: the key already existed (PutOptions.IfNotExists), or its
// current version was not the expected one (PutOptions.IfVersion,
// DeleteOptions.IfVersion). The object is left unchanged.
var ErrPreconditionFailed = errors.New("precondition failed")

// ErrUnsafePath is wrapped by every error that means the store refused to
// follow a path it did not create: on a local destination, a symbolic link
// (or another non-regular entry standing where a file or directory should
// be) below the destination root. Nothing is read or written through it. It
// never wraps ErrNotFound: such an entry is not "missing", it is something
// backup-creator never wrote, and callers must fail instead of treating it
// as absent.
var ErrUnsafePath = errors.New("unsafe path")

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	// Key is the object's key relative to the store's root.
	Key string
	// Size is the object's length in bytes.
	Size int64
	// ModTime is when the object was last written, as the store reports it.
	ModTime time.Time
	// Version is an opaque token that changes whenever the object's content is
	// replaced (S3 ETag, GCS generation, Azure ETag, a content hash locally).
	// It is what PutOptions.IfVersion and DeleteOptions.IfVersion compare.
	// List may leave it empty; Get and Stat always fill it in.
	Version string
}

// PutOptions make a Put conditional. The zero value is an unconditional write.
type PutOptions struct {
	// IfNotExists makes Put fail with ErrPreconditionFailed when the key exists.
	// Of several concurrent callers at most one succeeds.
	IfNotExists bool
	// IfVersion, when not empty, makes Put fail with ErrPreconditionFailed unless
	// the object exists and its current Version equals IfVersion
	// (compare-and-swap). Of several concurrent callers at most one succeeds.
	IfVersion string
	// ContentType is stored where the backend supports it (optional).
	ContentType string
	// NoSync allows Put to return before the object is durable: it becomes
	// durable at the next Syncer.Sync. Atomicity is unchanged (never a
	// partial object under the key while the process lives), but after a
	// crash before Sync the object may be missing or empty. Only stores
	// that implement Syncer honour it; others are always durable on return.
	NoSync bool
	// Fresh declares that key is new and unpublished: nothing is stored
	// under it, and nothing reads it until the caller has finished writing
	// and publishes it by a later write of its own (the engine writes a
	// backup's block files with Fresh into a new folder, and a folder counts
	// only once its manifest exists; the manifest is written after
	// Syncer.Sync). A store may use that promise to skip the steps that
	// make Put atomic: the local store writes the file in place, created
	// with O_CREAT|O_EXCL, with no temporary file, rename or lock. What
	// still holds:
	//   - when Put returns nil the object is complete; it is durable on
	//     return, or, with NoSync too, at the next Syncer.Sync;
	//   - when Put fails (a short or long body, a cancelled ctx, a write
	//     error) nothing is left under key while the process lives: what
	//     was written is removed, so the same Put can be retried;
	//   - an object already under key (or, locally, a symbolic link or
	//     anything else at its name) is never replaced or written through:
	//     a store that honours Fresh fails with an error wrapping
	//     ErrPreconditionFailed (ErrUnsafePath for a link) and leaves it as
	//     it was; a store that ignores Fresh replaces an object as an
	//     ordinary Put would. Callers must not rely on either: Fresh keys
	//     are new.
	// What is given up: if the process dies (or the machine loses power
	// before Sync) in the middle of the Put, the key may hold a partial or
	// empty object, which is why it must not be read before the caller's
	// commit point. Readers may also see the object while it is written.
	// IfVersion cannot be combined with Fresh (there is no version to
	// compare: stores that honour Fresh refuse the pair); IfNotExists can,
	// and keeps its contract. Object stores (S3, GCS, Azure) write every
	// object atomically anyway and ignore Fresh; for them it is an ordinary
	// Put with the other options.
	Fresh bool
}

// Syncer is implemented by stores that can defer durability: Sync makes every
// object written so far with PutOptions.NoSync durable.
type Syncer interface {
	Sync(ctx context.Context) error
}

// Copier is implemented by stores that can copy an object without moving its
// bytes through the caller (S3 CopyObject, GCS rewrite, Azure Copy Blob, a
// file copy on local disk). Use the package-level Copy, which falls back to
// Get and Put for stores without it.
type Copier interface {
	// Copy makes dstKey hold the same bytes as srcKey and returns the info
	// of the new object under dstKey (Version filled in). The contract is
	// the one of Put:
	//   - dstKey is replaced atomically: a reader sees the old object there
	//     (or none), or the complete copy, never a partial one, also when
	//     the process dies mid-copy;
	//   - when Copy returns nil the copy is durable;
	//   - the copy holds the source's content as of one instant: if srcKey
	//     is replaced meanwhile, dstKey holds the old or the new content,
	//     never a mix;
	//   - the copy is independent of the source: later writes or deletes of
	//     either never change the other.
	// A missing srcKey gives an error wrapping ErrNotFound and leaves dstKey
	// unchanged. srcKey and dstKey must differ. The copy is unconditional;
	// content type and other metadata may or may not be carried over. A
	// cancelled ctx gives an error wrapping ctx.Err(); dstKey then holds
	// either its old object or the complete copy.
	Copy(ctx context.Context, srcKey, dstKey string) (ObjectInfo, error)
}

// BatchDeleter is implemented by stores that delete many keys with fewer
// requests than one per key (S3 DeleteObjects). Use the package-level
// DeleteKeys, which falls back to Delete for stores without it.
type BatchDeleter interface {
	// DeleteKeys removes the object under every key in keys,
	// unconditionally. Keys that are already missing are not an error, so
	// the call is idempotent and can be repeated after a failure. Every key
	// is validated before anything is deleted: an invalid key fails the
	// call and deletes nothing. An empty list does nothing and returns nil;
	// duplicates are allowed. The call is not atomic: when it fails (or ctx
	// is cancelled, giving an error wrapping ctx.Err()), any subset of the
	// keys may be gone and the error names at least one key that was not
	// deleted. When it returns nil every key is gone, durably.
	DeleteKeys(ctx context.Context, keys []string) error
}

// DirRemover is implemented by stores that keep real directories (local
// disk): RemoveEmptyDirs removes every empty directory at or below prefix
// (a key prefix ending in "/"), deepest first, and leaves the others. Object
// stores have no directories and do not implement it. Callers use it after
// deleting every object below a prefix, so no empty tree is left behind.
type DirRemover interface {
	RemoveEmptyDirs(ctx context.Context, prefix string) error
}

// DeleteOptions make a Delete conditional.
type DeleteOptions struct {
	// IfVersion, when not empty, deletes only if the current Version matches;
	// otherwise Delete fails with ErrPreconditionFailed.
	IfVersion string
}

// Store is a flat key/value object store. All methods take ctx first and stop
// early with ctx.Err() (wrapped) when it is cancelled. All methods are safe for
// concurrent use.
type Store interface {
	// Put stores exactly size bytes read from r under key, replacing any object
	// there (unless opts says otherwise). It is atomic: a reader sees either the
	// old object, or the complete new one, never a partial one, also when the
	// process dies mid-write (PutOptions.Fresh trades that for speed on a new
	// key nobody reads yet). When Put returns nil the object is durable
	// (PutOptions.NoSync defers that to Syncer.Sync). It
	// returns the stored object's info (Version filled in). If r yields more or
	// fewer than size bytes, Put fails and stores nothing. Put does not close r.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (ObjectInfo, error)

	// Get opens the object under key. The caller must Close the reader. The
	// returned ObjectInfo describes the content the reader yields. A missing key
	// gives an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)

	// Stat returns the object's info without its content, or an error wrapping
	// ErrNotFound.
	Stat(ctx context.Context, key string) (ObjectInfo, error)

	// List calls fn once for every object whose key starts with prefix
	// (recursively: "a/" lists "a/b" and "a/c/d"), in ascending byte order of
	// key. prefix "" lists everything. If fn returns an error, List stops and
	// returns that error unchanged. Listing a prefix with no objects is not an
	// error.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error

	// Delete removes the object under key. Deleting a missing key returns an
	// error wrapping ErrNotFound.
	Delete(ctx context.Context, key string, opts DeleteOptions) error

	// String describes the destination for messages and logs, e.g.
	// "s3://bucket/prefix" or "/var/backups/sfmc". It never contains a secret.
	String() string

	// Close releases the store's resources.
	Close() error
}
