package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"strconv"
	"time"

	"github.com/tideline-ml/tideline/secret"
)

// DataStore stores immutable, versioned datasets.
//
// Every method may be called concurrently. Returned *DatasetInfo values are
// never nil when err is nil and belong to the caller.
type DataStore interface {
	// PutDataset stores a new version. It reads req.Content to io.EOF and then
	// commits the version with req.Content.Digest() and req.Content.Size(),
	// so that a version is never visible before all its bytes are stored.
	//
	// Errors: AlreadyExists if req.Name at req.Version exists (whatever its
	// bytes); InvalidArgument if req.Region is not one of the provider's
	// regions; if reading fails, an error from which errors.Is reaches the
	// error of req.Content's Read (a driver may wrap it, as a cloud SDK's
	// upload does).
	// After any error no version is visible and no partial data remains.
	PutDataset(ctx context.Context, req *PutDatasetRequest) (*DatasetInfo, error)

	// GetDataset returns one version. Errors: NotFound.
	GetDataset(ctx context.Context, name, version string) (*DatasetInfo, error)

	// ListDatasets returns the versions of the named dataset, or of every
	// dataset when name is empty, ordered by name and then by creation time.
	// An unknown name gives an empty list, not an error.
	ListDatasets(ctx context.Context, name string) ([]*DatasetInfo, error)

	// OpenDataset opens a version for reading. The reader returns exactly the
	// stored bytes; it does not verify them (mlops does). A reader opened
	// before the version is deleted may fail or finish; either is allowed.
	// Errors: NotFound.
	OpenDataset(ctx context.Context, name, version string) (io.ReadCloser, error)

	// UpdateDatasetMetadata merges md into a version's metadata (an empty
	// value deletes a key). When ifMatch is not empty it must equal the
	// version's ETag. Errors: NotFound; InvalidArgument if the merged
	// metadata breaks the naming rules; Conflict if ifMatch is stale.
	UpdateDatasetMetadata(ctx context.Context, name, version string, md map[string]string, ifMatch string) (*DatasetInfo, error)

	// DeleteDataset deletes a version. The delete may finish after the call
	// returns, as a long-running operation or an object held by finalizers
	// does: until then the version may still be found, listed and read, and
	// its name and version stay taken. Errors: NotFound.
	DeleteDataset(ctx context.Context, name, version string) error
}

// LatestDatasetReader is an optional capability of a DataStore: the latest
// version of a dataset, answered from the store's own ordering or index, so
// that it costs about the same at ten versions as at a hundred thousand (a
// driver keeps the highest version number alongside the versions, or asks a
// service that keeps one, such as a registry's latest version or an index
// over labels). mlops uses it to number a new version and to read "the
// latest"; with a store that does not offer it, mlops lists every version
// of the dataset instead, which costs time in the number of versions.
type LatestDatasetReader interface {
	// LatestDataset returns the latest version of name: of the versions
	// whose version is a whole number (VersionNumber), the one with the
	// highest number; when none is, the one ListDatasets(name) lists last.
	// Among versions of one number ("7" and "07") it is the one listed
	// last. The answer is the one ListDatasets(name) at the same moment
	// gives by that rule: a version is counted from when it can be listed
	// until it can no longer be (a delete that finishes after its call
	// returns is counted until it finishes).
	// Errors: NotFound when name has no version.
	LatestDataset(ctx context.Context, name string) (*DatasetInfo, error)
}

// VersionNumber reads a version as a whole number: decimal digits alone,
// below 2^63. ok is false for any other version ("v1", "1.0", "2026-01").
func VersionNumber(version string) (n uint64, ok bool) {
	n, err := strconv.ParseUint(version, 10, 63)
	return n, err == nil
}

// Granter is an optional capability of a DataStore: short-lived, read-only
// access to one dataset version, for a job in another cloud that must not
// hold the store's keys (an Azure SAS scoped to the version's blobs).
type Granter interface {
	// GrantRead returns a credential that reads and lists exactly the named
	// version and nothing else, and expires at most ttl from now.
	// Errors: NotFound; InvalidArgument when ttl is not positive or longer
	// than the provider allows.
	GrantRead(ctx context.Context, name, version string, ttl time.Duration) (Grant, error)
}

// GrantRevoker is an optional capability of a Granter: ending a grant
// before it expires. mlops revokes the grants it minted for a job that was
// then not submitted, so that a failed or retried submission leaves no
// credential behind for the rest of its lifetime. A store that cannot
// revoke a single credential (an Azure user-delegation SAS) does not offer
// it; its grants lapse at their expiry.
type GrantRevoker interface {
	// RevokeGrant makes g useless from now on: every later use is refused
	// as if it had expired. Revoking a grant that expired or was revoked
	// already succeeds. Errors: InvalidArgument for a grant this store did
	// not issue.
	RevokeGrant(ctx context.Context, g Grant) error
}

// Grant is a read-only credential for one dataset version.
type Grant struct {
	// URL reads the version with the credential in it. It is a secret: it
	// redacts itself wherever it is printed or encoded.
	URL secret.Secret
	// Expires is when the credential stops working.
	Expires time.Time
}

// IsZero reports whether g holds no credential.
func (g Grant) IsZero() bool { return g.URL.IsZero() }

// PutDatasetRequest is a resolved request to store a dataset version.
type PutDatasetRequest struct {
	Name, Version string
	Region        string
	// Metadata is stored with the version verbatim (classification,
	// residency constraint and provenance live here).
	Metadata map[string]string
	// Content is the bytes. Drivers read it to io.EOF.
	Content *Content
}

// DatasetInfo describes a stored dataset version.
type DatasetInfo struct {
	Name, Version string
	Region        string
	// URI locates the bytes in the provider's own terms (a blob URL, an
	// object path); it never carries a credential.
	URI string
	// Digest is "sha256:" followed by the lower-case hex SHA-256 of the bytes.
	Digest   string
	Size     int64
	Metadata map[string]string
	Created  time.Time
	// ETag changes whenever the metadata changes. It may also change when
	// nothing the caller sees did (a controller writing status), so compare
	// contents, not ETags, to learn whether a version changed.
	ETag string
}

// Content is the byte stream of a dataset version. It computes SHA-256 and
// counts bytes as it is read, so the digest costs no second pass, and reports
// progress to an optional callback.
type Content struct {
	r        io.Reader
	h        hash.Hash
	n        int64
	eof      bool
	err      error // a broken reader; every later Read returns it
	progress func(int64)
}

// NewContent wraps r. progress, when not nil, is called after each read with
// the number of bytes read so far.
func NewContent(r io.Reader, progress func(n int64)) *Content {
	return &Content{r: r, h: sha256.New(), progress: progress}
}

// Read reads from the underlying reader, hashing what it returns.
//
// A reader that reports a count below zero or beyond len(p) breaks the
// io.Reader contract, and which bytes it meant is unknown. Read then returns
// an Internal error — the fault is a bug in that reader, not damage to stored
// data, which is what DataLoss means — hashes and counts nothing of that
// call, and returns the same error from every later call, so that the
// driver never commits the version.
func (c *Content) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	if n < 0 || n > len(p) {
		c.err = Errorf(Internal, "dataset content: the reader (%T) returned %d bytes for a buffer of %d, breaking the io.Reader contract; fix the reader", c.r, n, len(p))
		return 0, c.err
	}
	if n > 0 {
		c.h.Write(p[:n])
		c.n += int64(n)
		if c.progress != nil {
			c.progress(c.n)
		}
	}
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

// Size returns the number of bytes read so far.
func (c *Content) Size() int64 { return c.n }

// Done reports whether the underlying reader returned io.EOF.
func (c *Content) Done() bool { return c.eof }

// Digest returns "sha256:<hex>" of the bytes read so far; after Done it is the
// digest of the whole content.
func (c *Content) Digest() string { return DigestString(c.h.Sum(nil)) }

// Drain reads the rest of the content, so that Digest covers all of it.
func (c *Content) Drain() error {
	if c.eof {
		return nil
	}
	_, err := io.Copy(io.Discard, c)
	return err
}

// DigestString formats a SHA-256 sum as Tideline writes digests.
func DigestString(sum []byte) string {
	const prefix = "sha256:"
	buf := make([]byte, len(prefix)+hex.EncodedLen(len(sum)))
	copy(buf, prefix)
	hex.Encode(buf[len(prefix):], sum)
	return string(buf)
}
