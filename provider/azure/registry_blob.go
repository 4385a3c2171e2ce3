package azure

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/tideline-ml/tideline/provider"
)

// The registry keeps what Azure Machine Learning cannot guard in small
// blobs of the workspace's storage container, beside the datasets and
// apart from them (ListDatasets reads datasets/ alone):
//
//	registry/models/<model>/versions/<version>  the version's record
//	registry/models/<model>/aliases             the model's aliases
//
// Blob Storage has what ARM lacks for these resources: an ETag on every
// blob, and writes conditional on it (If-Match) or on the blob's absence
// (If-None-Match: *).
const registryPrefix = "registry/models/"

func recordBlob(model, version string) string {
	return registryPrefix + model + "/versions/" + version
}

func aliasBlob(model string) string { return registryPrefix + model + "/aliases" }

// blobCond is the condition of a write: on the blob's ETag, or on its
// absence.
type blobCond struct {
	ifMatch string
	absent  bool
}

// readBlob returns a blob's bytes and ETag. Errors: NotFound.
func (w *Workspace) readBlob(ctx context.Context, name, what string) ([]byte, string, error) {
	resp, err := w.containerC.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return nil, "", mapError(op{what: what}, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, "", mapError(op{what: what}, err)
	}
	return b, etagString(resp.ETag), nil
}

// writeBlob replaces or creates a blob under cond and returns its new
// ETag. A failed condition is Conflict. The body is sent from memory, so
// the SDK's retries send it again whole.
func (w *Workspace) writeBlob(ctx context.Context, name string, body []byte, cond blobCond, what string) (string, error) {
	mac := &blob.ModifiedAccessConditions{}
	switch {
	case cond.absent:
		mac.IfNoneMatch = ptr(azcore.ETagAny)
	case cond.ifMatch != "":
		mac.IfMatch = ptr(azcore.ETag(cond.ifMatch))
	}
	resp, err := w.containerC.NewBlockBlobClient(name).Upload(ctx, streaming.NopCloser(bytes.NewReader(body)), &blockblob.UploadOptions{
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: ptr("application/json")},
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: mac},
	})
	if err != nil {
		return "", mapError(op{what: what}, err)
	}
	return etagString(resp.ETag), nil
}

// blobETag returns a blob's current ETag. Errors: NotFound.
func (w *Workspace) blobETag(ctx context.Context, name, what string) (string, error) {
	resp, err := w.containerC.NewBlobClient(name).GetProperties(ctx, nil)
	if err != nil {
		return "", mapError(op{what: what}, err)
	}
	return etagString(resp.ETag), nil
}

// deleteBlob deletes a blob if its ETag is still ifMatch. A blob already
// gone is success.
func (w *Workspace) deleteBlob(ctx context.Context, name, ifMatch, what string) error {
	var opts *blob.DeleteOptions
	if ifMatch != "" {
		opts = &blob.DeleteOptions{AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: ptr(azcore.ETag(ifMatch))}}}
	}
	_, err := w.containerC.NewBlobClient(name).Delete(ctx, opts)
	if err = mapError(op{what: what}, err); provider.CodeOf(err) == provider.NotFound {
		return nil
	}
	return err
}

// cleanupContext is the context of an undo after a failure: it outlives
// the caller's cancellation, briefly.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// backoff pauses before another round of a compare-and-swap that lost to
// a concurrent writer: a random pause up to a bound that doubles with each
// round, from 2 ms to 64 ms.
func backoff(ctx context.Context, round int) error {
	return pause(ctx, time.Millisecond+rand.N(time.Millisecond<<min(round, 6)))
}

// pause waits d, or until ctx ends (then its error).
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return provider.CheckContext(ctx)
	case <-t.C:
		return nil
	}
}
