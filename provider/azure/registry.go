package azure

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tideline-ml/tideline/provider"
)

var (
	_ provider.Registry                 = (*Workspace)(nil)
	_ provider.LatestModelVersionReader = (*Workspace)(nil)
)

// Limits of Azure Machine Learning that the mirror of a version in Azure
// Resource Manager keeps within. A resource holds at most 50 tags, whose
// values hold at most 256 characters; Azure Machine Learning documents
// 1,000 characters for a property value (of runs; the driver applies it
// to model versions too).
// What does not fit is kept in the version's record alone.
const (
	maxTagValue      = 256
	maxPropertyValue = 1000
	// maxTags is the number of tags a resource holds (Azure documents 50
	// for resources and for runs).
	maxTags = 50
)

// Keys of the mirror. Contract keys have no '.', so these never meet a
// caller's tag or metadata key.
const (
	armPropRegion    = "tideline.region"
	armPropFramework = "tideline.framework"
	armPropCreated   = "tideline.created"
	armPropMetrics   = "tideline.metrics"

	armTagMetaPrefix      = "tideline.meta."
	armTagApproval        = "tideline.approval"
	armTagApprovalBy      = "tideline.approval_by"
	armTagApprovalAt      = "tideline.approval_at"
	armTagApprovalComment = "tideline.approval_comment"
	armTagOmitted         = "tideline.omitted"

	armModelType   = "custom_model"
	armDescription = "Registered by Tideline"
)

// modelRecord is a version's record, the JSON body of its record blob: the
// whole version as Tideline registered and last updated it. Its blob's
// ETag is the version's ETag.
type modelRecord struct {
	Format    int                `json:"format"`
	Model     string             `json:"model"`
	Version   string             `json:"version"`
	Region    string             `json:"region"`
	Artifact  string             `json:"artifactUri"`
	Framework string             `json:"framework,omitempty"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	Tags      map[string]string  `json:"tags,omitempty"`
	Metadata  map[string]string  `json:"metadata,omitempty"`
	Approval  approvalRecord     `json:"approval"`
	Created   time.Time          `json:"created"`
	// Spec is the digest of the create that claimed the version, so that
	// a retry of that create recognises its own claim.
	Spec string `json:"spec"`
	// Prev is the ETag the last update replaced and Update that update's
	// digest, so that a retry of the update (IfMatch = Prev) recognises
	// it as applied.
	Prev   string `json:"prev,omitempty"`
	Update string `json:"update,omitempty"`
}

type approvalRecord struct {
	State   provider.ApprovalState `json:"state"`
	By      string                 `json:"by,omitempty"`
	Comment string                 `json:"comment,omitempty"`
	At      time.Time              `json:"at"`
}

const recordFormat = 1

func (r *modelRecord) info(etag string) *provider.ModelVersionInfo {
	return &provider.ModelVersionInfo{
		ModelVersionSpec: provider.ModelVersionSpec{
			Model: r.Model, Version: r.Version, Region: r.Region,
			ArtifactURI: r.Artifact, Framework: r.Framework,
			Metrics:  cloneFloats(r.Metrics),
			Tags:     cloneMap(r.Tags),
			Metadata: cloneMap(r.Metadata),
			Approval: provider.Approval{State: r.Approval.State, By: r.Approval.By, Comment: r.Approval.Comment, At: r.Approval.At},
		},
		Created: r.Created,
		ETag:    etag,
	}
}

func cloneFloats(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	maps.Copy(out, m)
	return out
}

// digest is the hex SHA-256 of v's JSON (maps encode with sorted keys).
func digest(v any) string {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// armModelVersion is a ModelVersion resource, as sent and as answered.
type armModelVersion struct {
	Name       string               `json:"name,omitempty"`
	Properties armModelVersionProps `json:"properties"`
	SystemData *armSystemData       `json:"systemData,omitempty"`
}

type armModelVersionProps struct {
	Description string               `json:"description,omitempty"`
	Flavors     map[string]armFlavor `json:"flavors,omitempty"`
	IsAnonymous bool                 `json:"isAnonymous"`
	ModelType   string               `json:"modelType,omitempty"`
	ModelURI    string               `json:"modelUri,omitempty"`
	Properties  map[string]string    `json:"properties,omitempty"`
	Tags        map[string]string    `json:"tags,omitempty"`
}

type armFlavor struct {
	Data map[string]string `json:"data"`
}

type armSystemData struct {
	CreatedAt      time.Time `json:"createdAt"`
	LastModifiedAt time.Time `json:"lastModifiedAt"`
}

// armModelContainer is a ModelContainer resource.
type armModelContainer struct {
	Name       string `json:"name,omitempty"`
	Properties struct {
		Description   string `json:"description,omitempty"`
		LatestVersion string `json:"latestVersion,omitempty"`
	} `json:"properties"`
}

func modelRef(model string) string { return armPath("models", model) }
func modelVersionRef(model, version string) string {
	return armPath("models", model, "versions", version)
}

// mirror is the ModelVersion that shows r in Azure Machine Learning
// studio: the artifact, the framework as a flavor, the facts fixed at
// creation as properties, and the tags, metadata and approval as tags.
// Values longer than the limits above are left out, and their keys named
// in the tag tideline.omitted; the record keeps them all.
func (r *modelRecord) mirror() armModelVersion {
	props := map[string]string{
		armPropRegion:  r.Region,
		armPropCreated: r.Created.UTC().Format(time.RFC3339Nano),
	}
	var omitted []string
	if r.Framework != "" {
		props[armPropFramework] = r.Framework
	}
	if len(r.Metrics) > 0 {
		if b, _ := json.Marshal(r.Metrics); utf8.RuneCount(b) <= maxPropertyValue {
			props[armPropMetrics] = string(b)
		} else {
			omitted = append(omitted, armPropMetrics)
		}
	}
	// The approval first, then the caller's tags, then the metadata, one
	// place kept for tideline.omitted.
	tags := map[string]string{}
	put := func(k, v string) {
		if utf8.RuneCountInString(v) <= maxTagValue && len(tags) < maxTags-1 {
			tags[k] = v
		} else {
			omitted = append(omitted, k)
		}
	}
	put(armTagApproval, string(r.Approval.State))
	if r.Approval.By != "" {
		put(armTagApprovalBy, r.Approval.By)
	}
	if !r.Approval.At.IsZero() {
		put(armTagApprovalAt, r.Approval.At.UTC().Format(time.RFC3339Nano))
	}
	if r.Approval.Comment != "" {
		put(armTagApprovalComment, r.Approval.Comment)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Tags)) {
		put(k, r.Tags[k])
	}
	for _, k := range slices.Sorted(maps.Keys(r.Metadata)) {
		put(armTagMetaPrefix+k, r.Metadata[k])
	}
	if len(omitted) > 0 {
		list := strings.Join(omitted, ",")
		if len(list) > maxTagValue {
			list = list[:maxTagValue-3]
			list = list[:strings.LastIndexByte(list, ',')+1] + "..."
		}
		tags[armTagOmitted] = list
	}
	v := armModelVersion{Properties: armModelVersionProps{
		Description: armDescription,
		IsAnonymous: false,
		ModelType:   armModelType,
		ModelURI:    r.Artifact,
		Properties:  props,
		Tags:        tags,
	}}
	if r.Framework != "" {
		v.Properties.Flavors = map[string]armFlavor{r.Framework: {Data: map[string]string{}}}
	}
	return v
}

// foreignInfo describes a version that Azure Machine Learning holds
// without a record: registered outside Tideline. It is Pending, has the
// tags Azure shows and no metadata, and its ETag follows its last change
// in Azure.
func (w *Workspace) foreignInfo(model, version string, v *armModelVersion) *provider.ModelVersionInfo {
	info := &provider.ModelVersionInfo{ModelVersionSpec: provider.ModelVersionSpec{
		Model: model, Version: version, Region: w.location.Name,
		ArtifactURI: v.Properties.ModelURI,
		Metrics:     map[string]float64{}, Tags: map[string]string{}, Metadata: map[string]string{},
		Approval: provider.Approval{State: provider.ApprovalPending},
	}}
	for k, val := range v.Properties.Tags {
		if provider.ValidateMetadata("", map[string]string{k: val}) == nil {
			info.Tags[k] = val
		}
	}
	for f := range v.Properties.Flavors {
		info.Framework = f
		break
	}
	if v.SystemData != nil {
		info.Created = v.SystemData.CreatedAt
		info.ETag = "arm:" + v.SystemData.LastModifiedAt.UTC().Format(time.RFC3339Nano)
	}
	if info.ETag == "" {
		info.ETag = "arm:" + digest(v)
	}
	return info
}

func checkApprovalState(s provider.ApprovalState) error {
	switch s {
	case provider.ApprovalPending, provider.ApprovalApproved, provider.ApprovalRejected:
		return nil
	}
	return provider.Errorf(provider.InvalidArgument, "azure: approval state %q is not one of %s, %s, %s", s, provider.ApprovalPending, provider.ApprovalApproved, provider.ApprovalRejected)
}

func checkModelVersion(model, version string) error {
	if err := provider.ValidateName("model name", model); err != nil {
		return err
	}
	return provider.ValidateModelVersion("model version", version)
}

// checkArtifactURI refuses a URI that carries what may be a credential: the
// mirror shows it to everyone who can read the workspace.
func checkArtifactURI(s string) error {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return provider.Errorf(provider.InvalidArgument, "azure: a model version needs an ArtifactURI: Azure Machine Learning's model versions point at their files")
	case err != nil || u.Scheme == "":
		return provider.Errorf(provider.InvalidArgument, "azure: the model's ArtifactURI is not an absolute URI such as https://<account>.blob.core.windows.net/<container>/<path> or azureml://...")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return provider.Errorf(provider.InvalidArgument, "azure: the model's ArtifactURI carries a query, fragment or user information, which may hold a credential (a SAS); Azure Machine Learning would show it to every reader of the workspace: register the URI without it")
	}
	return nil
}

func (w *Workspace) checkModelSpec(spec *provider.ModelVersionSpec) error {
	if spec == nil {
		return provider.Errorf(provider.InvalidArgument, "azure: CreateModelVersion needs a spec; got nil")
	}
	if err := checkModelVersion(spec.Model, spec.Version); err != nil {
		return err
	}
	if spec.Region != w.location.Name {
		return provider.Errorf(provider.InvalidArgument, "azure: region %q is not this workspace's; it registers models in %q only", spec.Region, w.location.Name)
	}
	if err := checkArtifactURI(spec.ArtifactURI); err != nil {
		return err
	}
	if err := provider.ValidateMetadata("model tags", spec.Tags); err != nil {
		return err
	}
	if err := provider.ValidateMetadata("model metadata", spec.Metadata); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Metrics)) {
		if v := spec.Metrics[k]; k == "" || math.IsNaN(v) || math.IsInf(v, 0) {
			return provider.Errorf(provider.InvalidArgument, "azure: model metric %q = %v is not valid: metrics need a name and a finite value", k, v)
		}
	}
	if spec.Approval.State != "" {
		return checkApprovalState(spec.Approval.State)
	}
	return nil
}

// CreateModelVersion registers a version: it claims the version by
// creating its record blob with If-None-Match: *, so that of concurrent
// creators exactly one goes on; checks that Azure Machine Learning holds
// no such version (one registered outside Tideline is AlreadyExists too,
// since ARM's PUT would replace it); and PUTs the ModelVersion, creating
// the model's container first when the PUT finds none. When the PUT
// fails, the version is deleted from ARM and the claim removed, so
// nothing is left half-created; if that undo fails too, the claim stays
// and a retry of the same create (same spec) completes the version.
// Calls: 3 (blob PUT, ARM GET, ARM PUT), 5 for a model's first version.
// Errors: AlreadyExists; InvalidArgument for bad names, a region other
// than the workspace's, an ArtifactURI that is empty or carries a query,
// bad tags, metadata, metrics or approval state.
func (w *Workspace) CreateModelVersion(ctx context.Context, spec *provider.ModelVersionSpec) (*provider.ModelVersionInfo, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	if err := w.checkModelSpec(spec); err != nil {
		return nil, err
	}
	rec := &modelRecord{
		Format: recordFormat, Model: spec.Model, Version: spec.Version, Region: spec.Region,
		Artifact: spec.ArtifactURI, Framework: spec.Framework,
		Metrics: cloneFloats(spec.Metrics), Tags: cloneMap(spec.Tags), Metadata: cloneMap(spec.Metadata),
		Approval: approvalRecord{State: cmp.Or(spec.Approval.State, provider.ApprovalPending), By: spec.Approval.By, Comment: spec.Approval.Comment, At: spec.Approval.At},
		Spec:     digest(spec),
		Created:  time.Now().UTC(),
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return nil, provider.Errorf(provider.Internal, "azure: encoding the record of model %s version %s: %v", spec.Model, spec.Version, err)
	}
	what := "registering model " + spec.Model + " version " + spec.Version
	exists := func() error {
		return provider.Errorf(provider.AlreadyExists, "azure: model %q version %s already exists (or is being registered); register the next version number instead", spec.Model, spec.Version)
	}
	name := recordBlob(spec.Model, spec.Version)
	etag, err := w.writeBlob(ctx, name, body, blobCond{absent: true}, what+" (claiming the version)")
	own := true // the claim is this call's: undo it on failure
	if provider.CodeOf(err) == provider.Conflict {
		// Claimed already: by another creator, or by an earlier try of
		// this same create whose answer was lost.
		cur, curTag, rerr := w.readRecord(ctx, spec.Model, spec.Version)
		if rerr != nil || cur.Spec != rec.Spec {
			return nil, exists()
		}
		rec, etag, own = cur, curTag, false
	} else if err != nil {
		return nil, err
	}
	undo := func() error {
		if !own {
			return nil
		}
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		return w.deleteBlob(cctx, name, etag, what+" (removing the claim)")
	}
	var existing armModelVersion
	switch gerr := armError(op{what: what + " (reading Azure Machine Learning's version)"}, w.arm.getJSON(ctx, modelVersionRef(spec.Model, spec.Version), &existing)); {
	case gerr == nil:
		undo()
		return nil, exists()
	case provider.CodeOf(gerr) != provider.NotFound:
		undo()
		return nil, gerr
	}
	if err := w.putModelVersion(ctx, rec, what); err != nil {
		if !own {
			return nil, err
		}
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		// The PUT may have been applied before its answer was lost.
		if derr := w.deleteARM(cctx, modelVersionRef(spec.Model, spec.Version), what+" (removing the version after a failed PUT)"); derr != nil {
			return nil, fmt.Errorf("%w; the claim on the version stays, and repeating this create completes it", err)
		}
		if uerr := undo(); uerr != nil {
			return nil, fmt.Errorf("%w; the claim on the version stays (the version is not visible), and repeating this create completes it", err)
		}
		return nil, err
	}
	return rec.info(etag), nil
}

// putModelVersion PUTs r's mirror; when ARM answers that the model's
// container does not exist, it creates the container and PUTs again.
func (w *Workspace) putModelVersion(ctx context.Context, r *modelRecord, what string) error {
	ref := modelVersionRef(r.Model, r.Version)
	m := r.mirror()
	_, err := w.arm.putJSON(ctx, ref, &m, nil, nil)
	err = armError(op{what: what}, err)
	if provider.CodeOf(err) != provider.NotFound {
		return err
	}
	container := map[string]any{"properties": map[string]any{"description": "Model registered by Tideline"}}
	if _, err := w.arm.putJSON(ctx, modelRef(r.Model), container, nil, nil); err != nil {
		return armError(op{what: what + " (creating the model's container)"}, err)
	}
	_, err = w.arm.putJSON(ctx, ref, &m, nil, nil)
	return armError(op{what: what}, err)
}

// deleteARM deletes a resource, following a 202; a missing one is success.
func (w *Workspace) deleteARM(ctx context.Context, ref, what string) error {
	r, err := w.arm.deleteRef(ctx, ref)
	if err == nil {
		err = w.arm.wait(ctx, what, r)
	}
	if err = armError(op{what: what}, err); provider.CodeOf(err) == provider.NotFound {
		return nil
	}
	return err
}

// readRecord reads a version's record blob. Errors: NotFound; DataLoss
// for a record that does not parse.
func (w *Workspace) readRecord(ctx context.Context, model, version string) (*modelRecord, string, error) {
	b, etag, err := w.readBlob(ctx, recordBlob(model, version), "reading the record of model "+model+" version "+version)
	if err != nil {
		return nil, "", err
	}
	var rec modelRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.Format != recordFormat || rec.Model != model || rec.Version != version {
		return nil, "", provider.Errorf(provider.DataLoss, "azure: the record of model %q version %s (blob %s) is not one this driver wrote; restore it from a backup or remove the version", model, version, recordBlob(model, version))
	}
	return &rec, etag, nil
}

// versionState is what GetModelVersion reads: the record and Azure's
// version, fetched at once.
type versionState struct {
	rec     *modelRecord
	etag    string
	arm     *armModelVersion
	recErr  error
	armErr  error
	model   string
	version string
}

func (w *Workspace) readVersion(ctx context.Context, model, version string) *versionState {
	st := &versionState{model: model, version: version}
	var wg sync.WaitGroup
	wg.Go(func() { st.rec, st.etag, st.recErr = w.readRecord(ctx, model, version) })
	var v armModelVersion
	err := w.arm.getJSON(ctx, modelVersionRef(model, version), &v)
	st.armErr = armError(op{what: "reading model " + model + " version " + version}, err)
	if err == nil {
		st.arm = &v
	}
	wg.Wait()
	return st
}

// resolve turns a versionState into the version or the error: a version
// exists when Azure Machine Learning holds it (a record without it is a
// claim still being registered); with a record it is the record's, without
// one it was registered outside Tideline. A version whose modelUri is no
// longer the record's was replaced outside Tideline (ARM's PUT replaces)
// and is FailedPrecondition: what would be served is not what was
// registered and reviewed.
func (w *Workspace) resolve(st *versionState) (*provider.ModelVersionInfo, error) {
	switch {
	case provider.CodeOf(st.armErr) == provider.NotFound:
		return nil, provider.Errorf(provider.NotFound, "azure: model %q has no version %s; ListModelVersions shows the versions it has", st.model, st.version)
	case st.armErr != nil:
		return nil, st.armErr
	case provider.CodeOf(st.recErr) == provider.NotFound:
		return w.foreignInfo(st.model, st.version, st.arm), nil
	case st.recErr != nil:
		return nil, st.recErr
	case st.arm.Properties.ModelURI != st.rec.Artifact:
		return nil, provider.Errorf(provider.FailedPrecondition, "azure: model %q version %s in Azure Machine Learning no longer points at the artifact Tideline registered: it was replaced outside Tideline; register the artifact as a new version", st.model, st.version)
	}
	return st.rec.info(st.etag), nil
}

// GetModelVersion reads the version's record and Azure's version at once.
// Calls: 2 (blob GET, ARM GET), in parallel. Errors: NotFound.
func (w *Workspace) GetModelVersion(ctx context.Context, model, version string) (*provider.ModelVersionInfo, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	if err := checkModelVersion(model, version); err != nil {
		return nil, err
	}
	return w.resolve(w.readVersion(ctx, model, version))
}

// LatestModelVersion reads the model's container, whose latestVersion
// Azure Machine Learning keeps, and then that version. Calls: 3 (ARM GET,
// then blob GET and ARM GET in parallel). Errors: NotFound when the model
// has no version.
func (w *Workspace) LatestModelVersion(ctx context.Context, model string) (*provider.ModelVersionInfo, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	if err := provider.ValidateName("model name", model); err != nil {
		return nil, err
	}
	var c armModelContainer
	err := armError(op{what: "reading model " + model}, w.arm.getJSON(ctx, modelRef(model), &c))
	if err == nil && c.Properties.LatestVersion == "" || provider.CodeOf(err) == provider.NotFound {
		return nil, provider.Errorf(provider.NotFound, "azure: model %q has no version; register one with CreateModelVersion first", model)
	}
	if err != nil {
		return nil, err
	}
	if provider.ValidateModelVersion("", c.Properties.LatestVersion) != nil {
		return nil, provider.Errorf(provider.FailedPrecondition, "azure: model %q's latest version in Azure Machine Learning, %q, is not a whole number; it was registered outside Tideline", model, c.Properties.LatestVersion)
	}
	return w.GetModelVersion(ctx, model, c.Properties.LatestVersion)
}

// ListModels lists the model containers (following nextLink) and names
// those with a latest version, in ascending order. Calls: one ARM GET a
// page.
func (w *Workspace) ListModels(ctx context.Context) ([]string, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	out := []string{}
	for c, err := range listOf[armModelContainer](ctx, w.arm, "models") {
		if err != nil {
			return nil, armError(op{what: "listing models"}, err)
		}
		if c.Properties.LatestVersion != "" && provider.ValidateName("", c.Name) == nil {
			out = append(out, c.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// listConcurrency bounds the record reads of one ListModelVersions.
const listConcurrency = 8

// ListModelVersions lists the model's versions in Azure Machine Learning
// (following nextLink) and reads each one's record, in ascending numeric
// order; versions whose names are not whole numbers were made outside
// Tideline and are left out. Calls: one ARM GET a page, and one blob GET a
// version, eight at a time.
func (w *Workspace) ListModelVersions(ctx context.Context, model string) ([]*provider.ModelVersionInfo, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	if err := provider.ValidateName("model name", model); err != nil {
		return nil, err
	}
	var listed []armModelVersion
	for v, err := range listOf[armModelVersion](ctx, w.arm, armPath("models", model, "versions")) {
		if err = armError(op{what: "listing the versions of model " + model}, err); provider.CodeOf(err) == provider.NotFound {
			return []*provider.ModelVersionInfo{}, nil
		} else if err != nil {
			return nil, err
		}
		if provider.ValidateModelVersion("", v.Name) == nil {
			listed = append(listed, v)
		}
	}
	out := make([]*provider.ModelVersionInfo, len(listed))
	errs := make([]error, len(listed))
	sem := make(chan struct{}, listConcurrency)
	var wg sync.WaitGroup
	for i := range listed {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			st := &versionState{model: model, version: listed[i].Name, arm: &listed[i]}
			st.rec, st.etag, st.recErr = w.readRecord(ctx, model, listed[i].Name)
			out[i], errs[i] = w.resolve(st)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b *provider.ModelVersionInfo) int {
		x, _ := strconv.ParseUint(a.Version, 10, 64)
		y, _ := strconv.ParseUint(b.Version, 10, 64)
		return cmp.Compare(x, y)
	})
	out = slices.CompactFunc(out, func(a, b *provider.ModelVersionInfo) bool { return a.Version == b.Version })
	return out, nil
}

// updateRounds bounds the rounds of an update without IfMatch that loses
// to concurrent writers.
const updateRounds = 8

// UpdateModelVersion writes the new record with If-Match on the record's
// ETag — the caller's IfMatch, or the one just read, so that a concurrent
// update is never lost — and then PUTs Azure's version so the studio shows
// the change. The record is what every reader reads; Azure's copy follows
// it. After the PUT the record's ETag is read again: if another update
// came between, its state is PUT instead, so that Azure's copy ends on
// the last update whichever PUT lands last. If the PUT fails, the update
// stands and the error says so; repeating the same update (with the same
// IfMatch) recognises it as applied and repairs Azure's copy.
// Calls: 5 (blob GET and ARM GET in parallel, blob PUT, ARM PUT, blob
// HEAD); a round lost to a concurrent writer adds the reads and the write. Errors: NotFound; FailedPrecondition for a version registered
// outside Tideline; InvalidArgument for bad tags, metadata or approval
// state; Conflict when IfMatch is stale.
func (w *Workspace) UpdateModelVersion(ctx context.Context, upd *provider.ModelVersionUpdate) (*provider.ModelVersionInfo, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	if upd == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: UpdateModelVersion needs an update; got nil")
	}
	if err := checkModelVersion(upd.Model, upd.Version); err != nil {
		return nil, err
	}
	if err := provider.ValidateMetadata("model tags", upd.Tags); err != nil {
		return nil, err
	}
	if err := provider.ValidateMetadata("model metadata", upd.Metadata); err != nil {
		return nil, err
	}
	if upd.Approval != nil {
		if err := checkApprovalState(upd.Approval.State); err != nil {
			return nil, err
		}
	}
	fp := digest(upd)
	what := "updating model " + upd.Model + " version " + upd.Version
	name := recordBlob(upd.Model, upd.Version)
	for round := 1; ; round++ {
		st := w.readVersion(ctx, upd.Model, upd.Version)
		if _, err := w.resolve(st); err != nil {
			return nil, err
		}
		if st.rec == nil {
			return nil, provider.Errorf(provider.FailedPrecondition, "azure: model %q version %s was registered in Azure Machine Learning outside Tideline and has no record to guard its changes; register it through Tideline to review it", upd.Model, upd.Version)
		}
		rec, etag := st.rec, st.etag
		if upd.IfMatch != "" && upd.IfMatch != etag {
			if rec.Prev == upd.IfMatch && rec.Update == fp {
				// This very update, applied by an earlier try whose
				// answer was lost or whose mirror failed.
				if err := w.mirrorRecord(ctx, rec, etag, what); err != nil {
					return nil, err
				}
				return rec.info(etag), nil
			}
			return nil, provider.Errorf(provider.Conflict, "azure: model %q version %s changed since it was read (ETag %s, now %s); read it again and reapply the change", upd.Model, upd.Version, upd.IfMatch, etag)
		}
		next := *rec
		next.Tags = merged(rec.Tags, upd.Tags)
		next.Metadata = merged(rec.Metadata, upd.Metadata)
		if err := provider.ValidateMetadata("model tags after the merge", next.Tags); err != nil {
			return nil, err
		}
		if err := provider.ValidateMetadata("model metadata after the merge", next.Metadata); err != nil {
			return nil, err
		}
		if a := upd.Approval; a != nil {
			next.Approval = approvalRecord{State: a.State, By: a.By, Comment: a.Comment, At: a.At}
			if next.Approval.At.IsZero() {
				next.Approval.At = time.Now().UTC()
			}
		}
		next.Prev, next.Update = etag, fp
		body, err := json.Marshal(&next)
		if err != nil {
			return nil, provider.Errorf(provider.Internal, "azure: encoding the record of model %s version %s: %v", upd.Model, upd.Version, err)
		}
		newTag, err := w.writeBlob(ctx, name, body, blobCond{ifMatch: etag}, what)
		if provider.CodeOf(err) == provider.Conflict {
			// Changed since the read, or this write landed and its answer
			// was lost: the next round tells which.
			if round < updateRounds {
				if berr := backoff(ctx, round); berr != nil {
					return nil, berr
				}
				continue
			}
			return nil, provider.Errorf(provider.Conflict, "azure: model %q version %s kept changing during the update; read it again and reapply the change", upd.Model, upd.Version)
		}
		if err != nil {
			return nil, err
		}
		if err := w.mirrorRecord(ctx, &next, newTag, what); err != nil {
			return nil, err
		}
		return next.info(newTag), nil
	}
}

// mirrorRecord PUTs rec (whose ETag is etag) to Azure Machine Learning and
// then reads the record's ETag again; when another update came between, it
// PUTs that one's record, up to three times (past that, the later
// writers' own mirrors follow).
func (w *Workspace) mirrorRecord(ctx context.Context, rec *modelRecord, etag, what string) error {
	name := recordBlob(rec.Model, rec.Version)
	for range 3 {
		if err := w.putModelVersion(ctx, rec, what+" (showing the update in Azure Machine Learning)"); err != nil {
			return fmt.Errorf("%w; the update is stored in the registry's record, and repeating it brings Azure Machine Learning's copy up to date", err)
		}
		cur, err := w.blobETag(ctx, name, what+" (checking the record after the update)")
		if err != nil || cur == etag {
			return nil
		}
		if rec, etag, err = w.readRecord(ctx, rec.Model, rec.Version); err != nil {
			return nil
		}
	}
	return nil
}

// aliasRecord is the body of a model's alias blob.
type aliasRecord struct {
	Aliases map[string]string `json:"aliases"`
}

func (w *Workspace) readAliases(ctx context.Context, model string) (map[string]string, string, error) {
	b, etag, err := w.readBlob(ctx, aliasBlob(model), "reading the aliases of model "+model)
	if provider.CodeOf(err) == provider.NotFound {
		return map[string]string{}, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var a aliasRecord
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, "", provider.Errorf(provider.DataLoss, "azure: the aliases of model %q (blob %s) do not parse; restore the blob or delete it", model, aliasBlob(model))
	}
	if a.Aliases == nil {
		a.Aliases = map[string]string{}
	}
	return a.Aliases, etag, nil
}

// aliasRounds bounds the compare-and-swap rounds of one alias change.
const aliasRounds = 64

// changeAliases applies change to the model's aliases by compare-and-swap
// on the alias blob's ETag (If-None-Match: * when there is none yet),
// reading again after each 412. change returns false when there is nothing
// to write; its error ends the call. lost is true in rounds after a
// conditional write failed, which may have been this call's own write whose
// answer was lost.
func (w *Workspace) changeAliases(ctx context.Context, model, what string, change func(a map[string]string, lost bool) (bool, error)) error {
	lost := false
	for round := 1; round <= aliasRounds; round++ {
		a, etag, err := w.readAliases(ctx, model)
		if err != nil {
			return err
		}
		write, err := change(a, lost)
		if err != nil || !write {
			return err
		}
		body, _ := json.Marshal(aliasRecord{Aliases: a})
		_, err = w.writeBlob(ctx, aliasBlob(model), body, blobCond{ifMatch: etag, absent: etag == ""}, what)
		if provider.CodeOf(err) != provider.Conflict {
			return err
		}
		lost = true
		if err := backoff(ctx, round); err != nil {
			return err
		}
	}
	return provider.Errorf(provider.Conflict, "azure: %s: the aliases of model %q kept changing; try again", what, model)
}

// SetAlias checks that the version exists in Azure Machine Learning and
// then points alias at it by compare-and-swap on the model's alias blob:
// readers read one blob, which shows the old or the new version, never
// neither. Calls: 3 (ARM GET, blob GET, blob PUT), and a blob GET and PUT
// more for each concurrent writer that wins first. Errors: NotFound;
// InvalidArgument for a bad alias.
func (w *Workspace) SetAlias(ctx context.Context, model, alias, version string) error {
	if err := provider.CheckContext(ctx); err != nil {
		return err
	}
	if err := provider.ValidateName("alias", alias); err != nil {
		return err
	}
	if err := checkModelVersion(model, version); err != nil {
		return err
	}
	var v armModelVersion
	if err := armError(op{what: "reading model " + model + " version " + version}, w.arm.getJSON(ctx, modelVersionRef(model, version), &v)); provider.CodeOf(err) == provider.NotFound {
		return provider.Errorf(provider.NotFound, "azure: model %q has no version %s; SetAlias points at an existing version", model, version)
	} else if err != nil {
		return err
	}
	return w.changeAliases(ctx, model, "pointing alias "+alias+" of model "+model+" at version "+version, func(a map[string]string, _ bool) (bool, error) {
		if a[alias] == version {
			return false, nil
		}
		a[alias] = version
		return true, nil
	})
}

// DeleteAlias removes an alias by compare-and-swap on the model's alias
// blob. Calls: 2 (blob GET, blob PUT). Errors: NotFound.
func (w *Workspace) DeleteAlias(ctx context.Context, model, alias string) error {
	if err := provider.CheckContext(ctx); err != nil {
		return err
	}
	if err := provider.ValidateName("model name", model); err != nil {
		return err
	}
	if err := provider.ValidateName("alias", alias); err != nil {
		return err
	}
	return w.changeAliases(ctx, model, "deleting alias "+alias+" of model "+model, func(a map[string]string, lost bool) (bool, error) {
		if _, ok := a[alias]; !ok {
			if lost {
				return false, nil // gone, maybe by this call's own write
			}
			return false, provider.Errorf(provider.NotFound, "azure: model %q has no alias %q; Aliases shows the aliases it has", model, alias)
		}
		delete(a, alias)
		return true, nil
	})
}

// Aliases reads the model's alias blob. Calls: 1 (blob GET).
func (w *Workspace) Aliases(ctx context.Context, model string) (map[string]string, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	if err := provider.ValidateName("model name", model); err != nil {
		return nil, err
	}
	a, _, err := w.readAliases(ctx, model)
	return a, err
}
