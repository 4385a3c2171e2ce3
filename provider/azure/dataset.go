package azure

import (
	"cmp"
	"context"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/tideline-ml/tideline/provider"
)

// datasetsPrefix is where the versions live: one blob per version, named
// datasets/<name>/<version>.
const datasetsPrefix = "datasets/"

func blobName(name, version string) string { return datasetsPrefix + name + "/" + version }

// parseBlobName splits a blob name written by blobName; ok is false for a
// blob the driver did not name.
func parseBlobName(s string) (name, version string, ok bool) {
	rest, ok := strings.CutPrefix(s, datasetsPrefix)
	if !ok {
		return "", "", false
	}
	name, version, ok = strings.Cut(rest, "/")
	if !ok || provider.ValidateName("", name) != nil || provider.ValidateVersion("", version) != nil {
		return "", "", false
	}
	return name, version, true
}

func checkNameVersion(name, version string) error {
	if err := provider.ValidateName("dataset name", name); err != nil {
		return err
	}
	return provider.ValidateVersion("dataset version", version)
}

// info builds a DatasetInfo from what the service reports of a blob; the
// metadata must carry the driver's entries.
func (p *Provider) info(name, version string, md map[string]*string, size int64, etag *azcore.ETag) (*provider.DatasetInfo, error) {
	s, ok := decodeMetadata(md)
	if !ok {
		return nil, provider.Errorf(provider.FailedPrecondition,
			"azure: blob %s in the dataset container was not committed by this driver (it lacks the digest and creation time it records); remove it or keep other data out of %q",
			blobName(name, version), datasetsPrefix)
	}
	return &provider.DatasetInfo{
		Name: name, Version: version, Region: p.region.Name,
		URI:      p.containerC.NewBlobClient(blobName(name, version)).URL(),
		Digest:   s.digest,
		Size:     size,
		Metadata: s.user,
		Created:  s.created,
		ETag:     etagString(etag),
	}, nil
}

func etagString(e *azcore.ETag) string {
	if e == nil {
		return ""
	}
	return string(*e)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// PutDataset uploads the content as staged blocks and commits them with
// If-None-Match: *, so that the version appears whole at the commit or not
// at all. See the package documentation for memory and concurrency.
func (p *Provider) PutDataset(ctx context.Context, req *provider.PutDatasetRequest) (*provider.DatasetInfo, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	if req == nil || req.Content == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: PutDataset needs a request with Content")
	}
	if err := checkNameVersion(req.Name, req.Version); err != nil {
		return nil, err
	}
	if req.Region != p.region.Name {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: region %q is not this storage account's; it stores datasets in %q only", req.Region, p.region.Name)
	}
	if err := provider.ValidateMetadata("dataset metadata", req.Metadata); err != nil {
		return nil, err
	}
	// The size check of the encoded metadata runs before any byte is sent,
	// with a placeholder digest of the final length.
	s := storedMetadata{user: cloneMap(req.Metadata), digest: "sha256:" + strings.Repeat("0", 64), created: time.Now()}
	if _, err := s.encode("dataset metadata"); err != nil {
		return nil, err
	}
	bb := p.containerC.NewBlockBlobClient(blobName(req.Name, req.Version))
	what := "storing dataset " + req.Name + "@" + req.Version
	// An early answer for the common conflict, before any upload. The
	// conditional commit below is what decides.
	if _, err := bb.GetProperties(ctx, nil); err == nil {
		return nil, provider.Errorf(provider.AlreadyExists, "azure: dataset %s@%s exists; versions are immutable, so store a new version", req.Name, req.Version)
	} else if code := provider.CodeOf(mapError(op{what: what}, err)); code != provider.NotFound {
		return nil, mapError(op{what: what}, err)
	}
	ids, err := p.stageBlocks(ctx, bb, req.Content)
	if err != nil {
		return nil, err
	}
	s.digest = req.Content.Digest()
	s.created = time.Now()
	md, err := s.encode("dataset metadata")
	if err != nil {
		return nil, err
	}
	etag := azcore.ETagAny
	resp, err := bb.CommitBlockList(ctx, ids, &blockblobCommitOptions{
		Metadata:         md,
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: ptr("application/octet-stream")},
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &etag}},
	})
	if err != nil {
		err = mapError(op{what: what, exists: provider.AlreadyExists}, err)
		if provider.CodeOf(err) == provider.AlreadyExists {
			return nil, provider.Errorf(provider.AlreadyExists, "azure: dataset %s@%s exists; versions are immutable, so store a new version: %w", req.Name, req.Version, err)
		}
		return nil, err
	}
	return &provider.DatasetInfo{
		Name: req.Name, Version: req.Version, Region: p.region.Name,
		URI:      bb.URL(),
		Digest:   s.digest,
		Size:     req.Content.Size(),
		Metadata: s.user,
		Created:  s.created,
		ETag:     etagString(resp.ETag),
	}, nil
}

func ptr[T any](v T) *T { return &v }

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// GetDataset reads a version's properties.
func (p *Provider) GetDataset(ctx context.Context, name, version string) (*provider.DatasetInfo, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	if err := checkNameVersion(name, version); err != nil {
		return nil, err
	}
	resp, err := p.containerC.NewBlobClient(blobName(name, version)).GetProperties(ctx, nil)
	if err != nil {
		return nil, mapError(op{what: "reading dataset " + name + "@" + version}, err)
	}
	return p.info(name, version, resp.Metadata, deref(resp.ContentLength), resp.ETag)
}

// ListDatasets lists the committed versions under datasets/<name>/, or
// under datasets/ when name is empty, ordered by name and then by creation
// time (the driver's own, to the nanosecond).
func (p *Provider) ListDatasets(ctx context.Context, name string) ([]*provider.DatasetInfo, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	prefix := datasetsPrefix
	if name != "" {
		if err := provider.ValidateName("dataset name", name); err != nil {
			return nil, err
		}
		prefix += name + "/"
	}
	pager := p.containerC.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
		Prefix:  &prefix,
		Include: container.ListBlobsInclude{Metadata: true},
	})
	var out []*provider.DatasetInfo
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, mapError(op{what: "listing datasets"}, err)
		}
		for _, item := range page.Segment.BlobItems {
			n, v, ok := parseBlobName(deref(item.Name))
			if !ok || item.Properties == nil {
				continue // not a dataset version's blob
			}
			info, err := p.info(n, v, item.Metadata, deref(item.Properties.ContentLength), item.Properties.ETag)
			if err != nil {
				return nil, err
			}
			out = append(out, info)
		}
	}
	slices.SortFunc(out, func(a, b *provider.DatasetInfo) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), a.Created.Compare(b.Created), cmp.Compare(a.Version, b.Version))
	})
	if out == nil {
		out = []*provider.DatasetInfo{}
	}
	return out, nil
}

// OpenDataset streams a version's bytes. A broken connection is resumed
// from where it broke, on the same blob only (If-Match on its ETag), a few
// times.
func (p *Provider) OpenDataset(ctx context.Context, name, version string) (io.ReadCloser, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	if err := checkNameVersion(name, version); err != nil {
		return nil, err
	}
	what := "reading dataset " + name + "@" + version
	resp, err := p.containerC.NewBlobClient(blobName(name, version)).DownloadStream(ctx, nil)
	if err != nil {
		return nil, mapError(op{what: what}, err)
	}
	rr := resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: 3})
	return &mappedReader{rc: rr, what: what}, nil
}

// mappedReader gives read errors the driver's codes.
type mappedReader struct {
	rc   io.ReadCloser
	what string
}

func (r *mappedReader) Read(b []byte) (int, error) {
	n, err := r.rc.Read(b)
	if err != nil && err != io.EOF {
		err = mapError(op{what: r.what}, err)
	}
	return n, err
}

func (r *mappedReader) Close() error { return r.rc.Close() }

// UpdateDatasetMetadata merges md into the version's metadata and writes it
// with If-Match on the ETag: the caller's when ifMatch is set (Conflict when
// stale), otherwise the one just read, so that a concurrent update is never
// lost (the read and write are then repeated a few times before Conflict).
func (p *Provider) UpdateDatasetMetadata(ctx context.Context, name, version string, md map[string]string, ifMatch string) (*provider.DatasetInfo, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	if err := checkNameVersion(name, version); err != nil {
		return nil, err
	}
	if err := provider.ValidateMetadata("dataset metadata", md); err != nil {
		return nil, err
	}
	bc := p.containerC.NewBlobClient(blobName(name, version))
	what := "updating the metadata of dataset " + name + "@" + version
	const rounds = 5
	for round := 1; ; round++ {
		props, err := bc.GetProperties(ctx, nil)
		if err != nil {
			return nil, mapError(op{what: what}, err)
		}
		cur, ok := decodeMetadata(props.Metadata)
		if !ok {
			_, err := p.info(name, version, props.Metadata, 0, nil)
			return nil, err
		}
		etag := etagString(props.ETag)
		if ifMatch != "" && ifMatch != etag {
			return nil, provider.Errorf(provider.Conflict, "azure: dataset %s@%s changed since ETag %s was read (now %s); read it again and reapply the change", name, version, ifMatch, etag)
		}
		next := storedMetadata{user: merged(cur.user, md), digest: cur.digest, created: cur.created, foreign: cur.foreign}
		if err := provider.ValidateMetadata("dataset metadata after the merge", next.user); err != nil {
			return nil, err
		}
		enc, err := next.encode("dataset metadata after the merge")
		if err != nil {
			return nil, err
		}
		cond := azcore.ETag(etag)
		resp, err := bc.SetMetadata(ctx, enc, &blob.SetMetadataOptions{
			AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &cond}},
		})
		if err != nil {
			err = mapError(op{what: what}, err)
			if provider.CodeOf(err) == provider.Conflict && ifMatch == "" && round < rounds {
				continue // changed between our read and write: merge again
			}
			if provider.CodeOf(err) == provider.Conflict {
				return nil, provider.Errorf(provider.Conflict, "azure: dataset %s@%s changed during the update; read it again and reapply the change: %w", name, version, err)
			}
			return nil, err
		}
		return &provider.DatasetInfo{
			Name: name, Version: version, Region: p.region.Name,
			URI:    bc.URL(),
			Digest: cur.digest, Size: deref(props.ContentLength),
			Metadata: next.user, Created: cur.created,
			ETag: etagString(resp.ETag),
		}, nil
	}
}

// DeleteDataset deletes a version's blob. The delete is done when the call
// returns.
func (p *Provider) DeleteDataset(ctx context.Context, name, version string) error {
	if err := provider.CheckContext(ctx); err != nil {
		return err
	}
	if err := checkNameVersion(name, version); err != nil {
		return err
	}
	_, err := p.containerC.NewBlobClient(blobName(name, version)).Delete(ctx, nil)
	return mapError(op{what: "deleting dataset " + name + "@" + version}, err)
}
