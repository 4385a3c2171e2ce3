package azure

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tideline-ml/tideline/provider"
)

// On a Workspace each dataset version is also an Azure Machine Learning
// data asset (a DataContainer named after the dataset and a DataVersion of
// type uri_file pointing at the version's blob), so that it shows in the
// studio and jobs can name it. The blob stays the dataset: the asset is
// written after the blob's conditional commit and removed before the blob.

const (
	dataAssetType        = "uri_file"
	armPropDigest        = "tideline.sha256"
	armPropSize          = "tideline.size"
	dataAssetDescription = "Dataset version stored by Tideline"
)

func dataRef(name string) string { return armPath("data", name) }
func dataVersionRef(name, version string) string {
	return armPath("data", name, "versions", version)
}

// PutDataset stores the version as Provider.PutDataset does — the blob
// committed with If-None-Match: *, which decides among concurrent
// creators — and then registers the data asset, creating its container
// when the PUT finds none. The blob comes first so that only the creator
// that won the commit writes an asset (ARM's PUT would replace another's),
// and so that an asset never points at bytes that are not there. When the
// asset cannot be registered, the blob is deleted (If-Match on the ETag of
// the commit) and the error returned, so no version is left without its
// asset. Calls: those of Provider.PutDataset, and 1 ARM PUT (3 for a
// dataset's first version).
func (w *Workspace) PutDataset(ctx context.Context, req *provider.PutDatasetRequest) (*provider.DatasetInfo, error) {
	info, err := w.Provider.PutDataset(ctx, req)
	if err != nil {
		return nil, err
	}
	what := "registering dataset " + info.Name + "@" + info.Version + " as a data asset"
	if err := w.putDataAsset(ctx, info, what); err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if derr := w.deleteBlob(cctx, blobName(info.Name, info.Version), info.ETag, "removing dataset "+info.Name+"@"+info.Version+" after its data asset failed"); derr != nil {
			return nil, fmt.Errorf("%w; the version's blob could not be removed either (%v): DeleteDataset removes it", err, derr)
		}
		return nil, err
	}
	return info, nil
}

// putDataAsset PUTs the DataVersion of info; when ARM answers that the
// DataContainer does not exist, it creates it and PUTs again.
func (w *Workspace) putDataAsset(ctx context.Context, info *provider.DatasetInfo, what string) error {
	uri, _, _ := strings.Cut(info.URI, "?") // the blob's URL, never a SAS
	body := map[string]any{"properties": map[string]any{
		"dataType":    dataAssetType,
		"dataUri":     uri,
		"description": dataAssetDescription,
		"isAnonymous": false,
		"properties": map[string]string{
			armPropDigest: strings.TrimPrefix(info.Digest, "sha256:"),
			armPropSize:   strconv.FormatInt(info.Size, 10),
		},
	}}
	ref := dataVersionRef(info.Name, info.Version)
	_, err := w.arm.putJSON(ctx, ref, body, nil, nil)
	err = armError(op{what: what}, err)
	if provider.CodeOf(err) != provider.NotFound {
		return err
	}
	container := map[string]any{"properties": map[string]any{"dataType": dataAssetType, "description": "Dataset stored by Tideline"}}
	if _, err := w.arm.putJSON(ctx, dataRef(info.Name), container, nil, nil); err != nil {
		return armError(op{what: what + " (creating the data asset's container)"}, err)
	}
	_, err = w.arm.putJSON(ctx, ref, body, nil, nil)
	return armError(op{what: what}, err)
}

// DeleteDataset removes the version's data asset and then its blob, as
// Provider.DeleteDataset does. The asset goes first: if the blob's delete
// fails, the dataset is still whole to readers, and repeating the call
// finishes (a missing asset is no error). Calls: 1 ARM DELETE and 1 blob
// DELETE.
func (w *Workspace) DeleteDataset(ctx context.Context, name, version string) error {
	if err := provider.CheckContext(ctx); err != nil {
		return err
	}
	if err := checkNameVersion(name, version); err != nil {
		return err
	}
	if err := w.deleteARM(ctx, dataVersionRef(name, version), "removing the data asset of dataset "+name+"@"+version); err != nil {
		return err
	}
	return w.Provider.DeleteDataset(ctx, name, version)
}
