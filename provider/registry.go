package provider

import (
	"context"
	"time"
)

// Registry stores model versions.
//
// Every method may be called concurrently. Versions are positive decimal
// integers chosen by the caller; the mlops package picks the next one and
// retries on AlreadyExists, so numbering stays monotonic under concurrency.
type Registry interface {
	// CreateModelVersion stores a new version. Errors: AlreadyExists if the
	// version exists; InvalidArgument if spec.Region is not one of the
	// provider's regions.
	CreateModelVersion(ctx context.Context, spec *ModelVersionSpec) (*ModelVersionInfo, error)

	// GetModelVersion returns one version. Errors: NotFound.
	GetModelVersion(ctx context.Context, model, version string) (*ModelVersionInfo, error)

	// ListModels returns the names of the models that have at least one
	// version, in ascending order; an empty registry gives an empty list.
	ListModels(ctx context.Context) ([]string, error)

	// ListModelVersions returns a model's versions in ascending numeric
	// order. An unknown model gives an empty list.
	ListModelVersions(ctx context.Context, model string) ([]*ModelVersionInfo, error)

	// UpdateModelVersion changes the approval and merges tags and metadata
	// (an empty value deletes a key). When upd.IfMatch is not empty it must
	// equal the version's ETag. Errors: NotFound; InvalidArgument if the
	// merged tags or metadata break the naming rules; Conflict if IfMatch is
	// stale.
	UpdateModelVersion(ctx context.Context, upd *ModelVersionUpdate) (*ModelVersionInfo, error)

	// SetAlias points alias at version, atomically: readers see the old or
	// the new version, never neither. Errors: NotFound if the version does not
	// exist.
	SetAlias(ctx context.Context, model, alias, version string) error

	// DeleteAlias removes an alias. The removal may finish after the call
	// returns, when the registry applies it asynchronously. Errors:
	// NotFound.
	DeleteAlias(ctx context.Context, model, alias string) error

	// Aliases returns alias → version for a model; empty for a model without
	// aliases or an unknown model.
	Aliases(ctx context.Context, model string) (map[string]string, error)
}

// LatestModelVersionReader is an optional capability of a Registry: a
// model's highest version number, answered from the registry's own record
// of it (Azure Machine Learning keeps a model's latest version) or an index,
// so that it costs about the same at ten versions as at a hundred thousand.
// mlops uses it to number a new version and to read a model's latest
// version; with a registry that does not offer it, mlops lists every
// version of the model instead, which costs time in the number of versions.
type LatestModelVersionReader interface {
	// LatestModelVersion returns the version of model with the highest
	// number: the last one ListModelVersions(model) lists at the same
	// moment. Errors: NotFound when the model has no version.
	LatestModelVersion(ctx context.Context, model string) (*ModelVersionInfo, error)
}

// ModelVersionSpec is a resolved request to register a model version.
type ModelVersionSpec struct {
	Model, Version string
	Region         string
	ArtifactURI    string
	Framework      string
	Metrics        map[string]float64
	Tags           map[string]string
	Metadata       map[string]string
	// Approval is the initial approval; normally Pending.
	Approval Approval
}

// ModelVersionInfo is a stored model version.
type ModelVersionInfo struct {
	ModelVersionSpec
	Created time.Time
	// ETag changes whenever the version changes. It may also change when
	// nothing the caller sees did; compare contents, not ETags, to learn
	// whether a version changed.
	ETag string
}

// ModelVersionUpdate changes a model version.
type ModelVersionUpdate struct {
	Model, Version string
	// Approval, when not nil, replaces the approval.
	Approval *Approval
	Tags     map[string]string
	Metadata map[string]string
	IfMatch  string
}

// ApprovalState is a model version's review state.
type ApprovalState string

// The approval states: Pending → Approved or Rejected.
const (
	ApprovalPending  ApprovalState = "Pending"
	ApprovalApproved ApprovalState = "Approved"
	ApprovalRejected ApprovalState = "Rejected"
)

// Approval records a review decision.
type Approval struct {
	State   ApprovalState
	By      string
	Comment string
	At      time.Time
}
