package azure

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"

	"github.com/tideline-ml/tideline/provider"
)

// Azure Machine Learning's online endpoints have no ETag and take no
// conditional request: a PUT replaces the endpoint whatever happened since
// it was read. The contract's compare-and-swap (EndpointUpdate.IfMatch,
// EndpointInfo.ETag) is therefore taken from Blob Storage, which has both
// ETags and leases: every endpoint has a guard blob in the workspace's
// storage container, serving/guards/<endpoint>.
//
//   - The endpoint's ETag is the guard blob's ETag.
//   - Every write of an endpoint (create, update, delete) and every change
//     of its deployments (create, delete) holds a lease on the guard for
//     its check-then-write: the lease is the lock that keeps two writers,
//     in one process or many, from interleaving. A writer that finds the
//     lease taken waits for it, until its context ends.
//   - An update writes the guard twice under the lease: before the PUT,
//     recording the update as pending (and the overflow metadata values
//     the new tags refer to), and after the operation has ended, clearing
//     it. So the ETag moves before the endpoint changes, and again after:
//     an ETag read while an update was in flight is stale once it ends.
//     A conditional update is a lease acquisition with If-Match on the
//     caller's ETag: 412 is Conflict, at once.
//   - A writer that dies between the two writes leaves the pending mark;
//     its lease expires within leaseSeconds. The next writer waits until
//     the endpoint's provisioning state has settled (Azure shows the
//     update's outcome then), and a conditional one answers Conflict after
//     writing the guard once more, so that no ETag read during the
//     unfinished update ever matches.
//   - The lease lasts leaseSeconds and is renewed every leaseRenewEvery
//     while the writer waits for Azure's long-running operation, which may
//     take minutes. Writes of the guard carry the lease id, so the storage
//     refuses them once another writer has taken the lease: a writer that
//     lost its lease (storage unreachable for longer than the lease) learns
//     it at its next guard write, and says the update's outcome is
//     uncertain.
//
// What it costs, beside the Resource Manager calls: a lease acquisition
// (more while it is contended), one read of the guard, one or two guard
// writes, one lease release, and a renewal every 20 seconds of a long
// operation. Reads (GetEndpoint) read the guard once, before the endpoint,
// so the ETag returned is never newer than the state returned with it.
const (
	guardPrefix         = "serving/guards/"
	deploymentMetaBlobs = "serving/deployments/"

	leaseSeconds    = 60
	leaseRenewEvery = 20 * time.Second
	// leaseWaitMax is the longest pause between two attempts to take a
	// lease someone else holds.
	leaseWaitMax = 500 * time.Millisecond

	// noGuardETag is the ETag of an endpoint without a guard blob (one made
	// outside Tideline, or being deleted). It never matches: a conditional
	// update of such an endpoint makes the guard and answers Conflict, and
	// the next read shows the guard's own ETag.
	noGuardETag = `"tideline-no-guard"`

	maxGuardSize = 1 << 20
)

func guardBlobName(endpoint string) string { return guardPrefix + endpoint }

func deploymentMetaBlobName(endpoint, deployment string) string {
	return deploymentMetaBlobs + endpoint + "/" + deployment
}

// guardState is the guard blob's content.
type guardState struct {
	// Overflow holds, by digest, the endpoint's metadata values that do not
	// fit a tag (see serving_meta.go).
	Overflow map[string]string `json:"overflow,omitempty"`
	// Pending is the id of an update sent to Resource Manager whose end
	// was not recorded: one in flight, or one whose writer died.
	Pending string `json:"pending,omitempty"`
}

// overflowBlob is the content of a deployment's metadata blob.
type overflowBlob struct {
	Overflow map[string]string `json:"overflow"`
}

// readJSONBlob downloads a small JSON blob; found is false when there is
// none.
func (w *Workspace) readJSONBlob(ctx context.Context, name, what string, out any) (etag string, found bool, err error) {
	resp, err := w.containerC.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound) {
			return "", false, nil
		}
		return "", false, mapError(op{what: "reading " + what}, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxGuardSize))
	if err != nil {
		return "", false, mapError(op{what: "reading " + what}, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return "", false, provider.Errorf(provider.DataLoss, "azure: %s (blob %s) is not the JSON the driver writes: %v", what, name, err)
	}
	if resp.ETag != nil {
		etag = string(*resp.ETag)
	}
	return etag, true, nil
}

// readGuard returns an endpoint's guard and its ETag; without a guard, an
// empty state and noGuardETag.
func (w *Workspace) readGuard(ctx context.Context, endpoint string) (*guardState, string, error) {
	var g guardState
	etag, found, err := w.readJSONBlob(ctx, guardBlobName(endpoint), "the guard of endpoint "+endpoint, &g)
	if err != nil {
		return nil, "", err
	}
	if !found {
		return &guardState{}, noGuardETag, nil
	}
	return &g, etag, nil
}

// endpointLock is a held lease on an endpoint's guard blob.
type endpointLock struct {
	endpoint string
	blob     *blockblob.Client
	lease    *lease.BlobClient
	id       string

	// etag and state are the guard's, as read when the lock was taken and
	// as written since.
	etag  string
	state guardState

	stop     chan struct{}
	done     chan struct{}
	release1 sync.Once
}

// newLeaseID returns a random GUID, the form Blob Storage requires of a
// proposed lease id.
func newLeaseID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// lockEndpoint takes the lease on an endpoint's guard, making the guard
// when there is none, and waits while another writer holds it. With
// ifMatch set, the lease is taken only while the guard's ETag is ifMatch:
// otherwise Conflict, at once. The caller must release the lock.
func (w *Workspace) lockEndpoint(ctx context.Context, endpoint, ifMatch string) (*endpointLock, error) {
	bb := w.containerC.NewBlockBlobClient(guardBlobName(endpoint))
	id := newLeaseID()
	lc, err := lease.NewBlobClient(bb, &lease.BlobClientOptions{LeaseID: &id})
	if err != nil {
		return nil, provider.Errorf(provider.Internal, "azure: making a lease client: %v", err)
	}
	what := "taking the lease on the guard of endpoint " + endpoint
	stale := func() error {
		return provider.Errorf(provider.Conflict, "azure: endpoint %q changed since it was read (its ETag is no longer %s); read it again and recompute the change", endpoint, ifMatch)
	}
	pause := 10 * time.Millisecond
	for {
		var opts *lease.BlobAcquireOptions
		if ifMatch != "" && ifMatch != noGuardETag {
			etag := azcore.ETag(ifMatch)
			opts = &lease.BlobAcquireOptions{ModifiedAccessConditions: &lease.ModifiedAccessConditions{IfMatch: &etag}}
		}
		_, err := lc.AcquireLease(ctx, leaseSeconds, opts)
		switch {
		case err == nil:
		case bloberror.HasCode(err, bloberror.BlobNotFound):
			if err := w.createGuard(ctx, bb, endpoint); err != nil {
				return nil, err
			}
			if ifMatch != "" {
				return nil, stale()
			}
			continue
		case bloberror.HasCode(err, bloberror.LeaseAlreadyPresent):
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, mapError(op{what: what + " (another writer holds it)"}, ctx.Err())
			case <-t.C:
			}
			pause = min(2*pause, leaseWaitMax)
			continue
		case statusOf(err) == http.StatusPreconditionFailed:
			return nil, stale()
		default:
			return nil, mapError(op{what: what}, err)
		}
		break
	}
	l := &endpointLock{endpoint: endpoint, blob: bb, lease: lc, id: id, stop: make(chan struct{}), done: make(chan struct{})}
	go l.renew()
	g, etag, err := w.readGuard(ctx, endpoint)
	if err != nil {
		l.release()
		return nil, err
	}
	l.state, l.etag = *g, etag
	if ifMatch != "" && etag != ifMatch {
		l.release()
		return nil, stale()
	}
	return l, nil
}

// createGuard makes an empty guard unless one exists.
func (w *Workspace) createGuard(ctx context.Context, bb *blockblob.Client, endpoint string) error {
	anyTag := azcore.ETagAny
	_, err := bb.Upload(ctx, streaming.NopCloser(bytes.NewReader([]byte("{}"))), &blockblob.UploadOptions{
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: ptr("application/json")},
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &anyTag}},
	})
	var re *azcore.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusConflict || re.StatusCode == http.StatusPreconditionFailed) {
		return nil // made by someone else meanwhile, or leased
	}
	return mapError(op{what: "making the guard of endpoint " + endpoint}, err)
}

// statusOf is the HTTP status of a service's error answer, 0 for another
// error.
func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// renew keeps the lease while the lock is held: a long-running operation
// may outlast leaseSeconds many times. A failed renewal is tried again at
// the next tick; the guard writes, which carry the lease id, tell whether
// the lease is still ours.
func (l *endpointLock) renew() {
	defer close(l.done)
	t := time.NewTicker(leaseRenewEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), leaseRenewEvery)
			l.lease.RenewLease(ctx, nil)
			cancel()
		}
	}
}

// release gives the lease back. It runs on a context of its own, so that a
// caller whose context ended still frees the endpoint; when it fails, the
// lease expires by itself within leaseSeconds.
func (l *endpointLock) release() {
	l.release1.Do(func() {
		close(l.stop)
		<-l.done
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		l.lease.ReleaseLease(ctx, nil)
	})
}

// write replaces the guard's content under the lease and returns the new
// ETag. Unavailable when the lease is no longer ours.
func (l *endpointLock) write(ctx context.Context, st guardState) (string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return "", provider.Errorf(provider.Internal, "azure: encoding the guard of endpoint %s: %v", l.endpoint, err)
	}
	resp, err := l.blob.Upload(ctx, streaming.NopCloser(bytes.NewReader(b)), &blockblob.UploadOptions{
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: ptr("application/json")},
		AccessConditions: &blob.AccessConditions{LeaseAccessConditions: &blob.LeaseAccessConditions{LeaseID: &l.id}},
	})
	if err != nil {
		if bloberror.HasCode(err, bloberror.LeaseIDMismatchWithBlobOperation, bloberror.LeaseLost, bloberror.LeaseNotPresentWithBlobOperation, bloberror.LeaseIDMissing) {
			return "", provider.Wrap(provider.Unavailable, &serviceError{text: "the lease on the endpoint's guard blob expired and another writer took it", err: err},
				"azure: writing the guard of endpoint "+l.endpoint)
		}
		return "", mapError(op{what: "writing the guard of endpoint " + l.endpoint}, err)
	}
	if resp.ETag != nil {
		l.etag = string(*resp.ETag)
	}
	l.state = st
	return l.etag, nil
}

// deleteGuard removes the guard under the lease, which goes with it.
func (l *endpointLock) deleteGuard(ctx context.Context) error {
	_, err := l.blob.Delete(ctx, &blob.DeleteOptions{AccessConditions: &blob.AccessConditions{LeaseAccessConditions: &blob.LeaseAccessConditions{LeaseID: &l.id}}})
	if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
		return mapError(op{what: "deleting the guard of endpoint " + l.endpoint}, err)
	}
	l.release1.Do(func() { close(l.stop); <-l.done })
	return nil
}

// newOperationID names one pending update in the guard.
func newOperationID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
