package azure

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
)

// Serving on Azure Machine Learning: an endpoint is a managed online
// endpoint of the workspace and a deployment a managed online deployment
// of it. The concurrency guard the contract's conditional updates need
// lives in Blob Storage (serving_guard.go), and metadata in tags, with
// values longer than a tag holds beside them (serving_meta.go).
const (
	// MaxDeploymentsPerEndpoint is what ServingCapabilities reports: the
	// number of deployments one managed online endpoint holds by default,
	// as Azure Machine Learning's quota documentation gives it (a support
	// request can raise it for a subscription; the driver keeps to the
	// default).
	MaxDeploymentsPerEndpoint = 20
	// MaxMirrorShare is the largest share of an endpoint's requests Azure
	// Machine Learning mirrors, to one deployment alone.
	MaxMirrorShare = 50
	// DefaultInstanceType is the VM size of a deployment whose spec names
	// none.
	DefaultInstanceType = "Standard_DS3_v2"

	// endpointAuthMode is how clients authenticate to an endpoint: Azure
	// Machine Learning tokens, which expire, rather than keys, which do
	// not. The scoring URI carries no credential either way.
	endpointAuthMode = "AMLToken"
	// propArtifactURI is the key, in a deployment's property dictionary,
	// of the model version's artifact URI.
	propArtifactURI = "tideline_artifact_uri"
)

var _ provider.Serving = (*Workspace)(nil)

// created is when ARM says the resource was made; zero without systemData.
func (s *armSystemData) created() time.Time {
	if s == nil {
		return time.Time{}
	}
	return s.CreatedAt
}

type armIdentity struct {
	Type                   string                     `json:"type,omitempty"`
	UserAssignedIdentities map[string]json.RawMessage `json:"userAssignedIdentities,omitempty"`
	PrincipalID            string                     `json:"principalId,omitempty"`
	TenantID               string                     `json:"tenantId,omitempty"`
}

// onlineEndpoint is a managed online endpoint as Resource Manager answers
// with it; forPut makes the body of a PUT from it.
type onlineEndpoint struct {
	ID         string             `json:"id,omitempty"`
	Name       string             `json:"name,omitempty"`
	Type       string             `json:"type,omitempty"`
	Location   string             `json:"location"`
	Kind       string             `json:"kind,omitempty"`
	Identity   *armIdentity       `json:"identity,omitempty"`
	SKU        json.RawMessage    `json:"sku,omitempty"`
	Tags       map[string]string  `json:"tags"`
	Properties endpointProperties `json:"properties"`
	SystemData *armSystemData     `json:"systemData,omitempty"`
}

type endpointProperties struct {
	AuthMode            string            `json:"authMode"`
	Compute             string            `json:"compute,omitempty"`
	Description         string            `json:"description,omitempty"`
	Properties          map[string]string `json:"properties,omitempty"`
	Traffic             map[string]int    `json:"traffic"`
	MirrorTraffic       map[string]int    `json:"mirrorTraffic"`
	PublicNetworkAccess string            `json:"publicNetworkAccess,omitempty"`
	// Read-only.
	ProvisioningState string `json:"provisioningState,omitempty"`
	ScoringURI        string `json:"scoringUri,omitempty"`
	SwaggerURI        string `json:"swaggerUri,omitempty"`
}

// forPut returns the writable part of e: a PUT replaces the whole
// endpoint, so whatever else was set on it (identity, description,
// network access, tags set outside Tideline) is sent back as it was.
func (e *onlineEndpoint) forPut() *onlineEndpoint {
	c := *e
	c.ID, c.Name, c.Type, c.SystemData = "", "", "", nil
	c.Properties.ProvisioningState, c.Properties.ScoringURI, c.Properties.SwaggerURI = "", "", ""
	if e.Identity != nil {
		id := armIdentity{Type: e.Identity.Type}
		if len(e.Identity.UserAssignedIdentities) > 0 {
			id.UserAssignedIdentities = map[string]json.RawMessage{}
			for k := range e.Identity.UserAssignedIdentities {
				id.UserAssignedIdentities[k] = json.RawMessage("{}")
			}
		}
		c.Identity = &id
	}
	return &c
}

// onlineDeployment is a managed online deployment.
type onlineDeployment struct {
	ID         string               `json:"id,omitempty"`
	Name       string               `json:"name,omitempty"`
	Type       string               `json:"type,omitempty"`
	Location   string               `json:"location"`
	Tags       map[string]string    `json:"tags"`
	SKU        *deploymentSKU       `json:"sku,omitempty"`
	Properties deploymentProperties `json:"properties"`
	SystemData *armSystemData       `json:"systemData,omitempty"`
}

type deploymentSKU struct {
	Name     string `json:"name"`
	Capacity int    `json:"capacity"`
}

type deploymentProperties struct {
	EndpointComputeType string            `json:"endpointComputeType"`
	Model               string            `json:"model"`
	InstanceType        string            `json:"instanceType"`
	ScaleSettings       *scaleSettings    `json:"scaleSettings,omitempty"`
	Properties          map[string]string `json:"properties,omitempty"`
	ProvisioningState   string            `json:"provisioningState,omitempty"`
}

type scaleSettings struct {
	ScaleType string `json:"scaleType"`
}

func endpointRef(name string) string { return armPath("onlineEndpoints", name) }

func deploymentRef(endpoint, name string) string {
	return armPath("onlineEndpoints", endpoint, "deployments", name)
}

// modelID is the resource id of a model version of the workspace, as a
// deployment names its model.
func (w *Workspace) modelID(model, version string) string {
	return w.arm.workspace + "/models/" + url.PathEscape(model) + "/versions/" + url.PathEscape(version)
}

// parseModelID reads a model name and version out of a model version's
// resource id or its short form azureml:<name>:<version>.
func parseModelID(id string) (model, version string) {
	if rest, ok := strings.CutPrefix(id, "azureml:"); ok {
		m, v, _ := strings.Cut(rest, ":")
		return m, v
	}
	i := strings.LastIndex(id, "/models/")
	if i < 0 {
		return "", ""
	}
	m, v, ok := strings.Cut(id[i+len("/models/"):], "/versions/")
	if !ok {
		return "", ""
	}
	mu, err1 := url.PathUnescape(m)
	vu, err2 := url.PathUnescape(v)
	if err1 != nil || err2 != nil {
		return m, v
	}
	return mu, vu
}

// canonicalRegion is the residency catalog's name of an ARM location.
func canonicalRegion(location string) string {
	if r, err := residency.DefaultCatalog().Lookup(Kind, location); err == nil {
		return r.Name
	}
	return location
}

func positive(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v > 0 {
			out[k] = v
		}
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ServingCapabilities reports Azure Machine Learning's managed online
// endpoints: MaxDeploymentsPerEndpoint deployments each, and mirroring.
func (w *Workspace) ServingCapabilities() provider.ServingCapabilities {
	return provider.ServingCapabilities{MaxDeployments: MaxDeploymentsPerEndpoint, Mirror: true}
}

func (w *Workspace) getEndpoint(ctx context.Context, name string) (*onlineEndpoint, error) {
	var ep onlineEndpoint
	if err := w.arm.getJSON(ctx, endpointRef(name), &ep); err != nil {
		return nil, armError(op{what: "reading endpoint " + name}, err)
	}
	if ep.Name == "" {
		ep.Name = name
	}
	return &ep, nil
}

// settledEndpoint reads an endpoint once no operation of Azure's runs on
// it (Creating, Updating): what a writer edits must include the outcome of
// any update before it, including one whose writer died.
func (w *Workspace) settledEndpoint(ctx context.Context, name string) (*onlineEndpoint, error) {
	for {
		ep, err := w.getEndpoint(ctx, name)
		if err != nil {
			return nil, err
		}
		switch ep.Properties.ProvisioningState {
		case "Creating", "Updating":
		default:
			return ep, nil
		}
		if err := sleepCtx(ctx, w.arm.pollEvery); err != nil {
			return nil, armError(op{what: "waiting for the running operation of endpoint " + name + " to end"}, err)
		}
	}
}

// follow waits for the operation a PUT or DELETE started. A PUT that
// replaces a resource may answer 200 with Azure-AsyncOperation: the
// resource is then still being updated, and the operation is followed
// like an accepted one.
func (w *Workspace) follow(ctx context.Context, what string, r *armResponse) error {
	if r.status == http.StatusOK && r.header.Get("Azure-AsyncOperation") != "" {
		c := *r
		c.status = http.StatusAccepted
		r = &c
	}
	return w.arm.wait(ctx, what, r)
}

// workspaceLocation reads the workspace's region.
func (w *Workspace) workspaceLocation(ctx context.Context) (string, error) {
	var ws struct {
		Location string `json:"location"`
	}
	if err := w.arm.getJSON(ctx, w.arm.workspace, &ws); err != nil {
		return "", armError(op{what: "reading the workspace"}, err)
	}
	return ws.Location, nil
}

func (w *Workspace) endpointInfo(ep *onlineEndpoint, overflow map[string]string, etag string) (*provider.EndpointInfo, []string) {
	md, _, missing := decodeMeta(ep.Tags, overflow)
	return &provider.EndpointInfo{
		Name:     ep.Name,
		Region:   canonicalRegion(ep.Location),
		URI:      ep.Properties.ScoringURI,
		Traffic:  positive(ep.Properties.Traffic),
		Mirror:   positive(ep.Properties.MirrorTraffic),
		Metadata: md,
		Created:  ep.SystemData.created(),
		ETag:     etag,
	}, missing
}

func missingMeta(what string, keys []string) error {
	slices.Sort(keys)
	return provider.Errorf(provider.DataLoss, "azure: %s: the tags of %s refer to metadata values kept in the workspace's storage container that are not there; the values of %s are lost", what, what, strings.Join(keys, ", "))
}

// checkEndpointName answers NotFound for a name no endpoint can have,
// before any call.
func checkEndpointName(name string) error {
	if provider.ValidateName("endpoint name", name) != nil {
		return provider.Errorf(provider.NotFound, "azure: endpoint %q does not exist (it is not a valid endpoint name: %s)", name, provider.NameRule)
	}
	return nil
}

// CreateEndpoint creates a managed online endpoint in the workspace, with
// AMLToken authentication, no deployments and no traffic; its metadata
// goes into tags. Costs: Resource Manager 3 calls (workspace, endpoint,
// PUT) and the polls of the operation, then a GET for the scoring URI;
// Blob Storage 5 (lease, guard read, two guard writes, release), 2 more
// when the guard is new. Errors: AlreadyExists; InvalidArgument for a bad
// name or metadata, or a region other than the workspace's, before any
// call; FailedPrecondition when the workspace is not where it was configured
// to be.
func (w *Workspace) CreateEndpoint(ctx context.Context, spec *provider.EndpointSpec) (*provider.EndpointInfo, error) {
	if spec == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: CreateEndpoint needs a spec; got nil")
	}
	if err := provider.ValidateName("endpoint name", spec.Name); err != nil {
		return nil, err
	}
	if r, err := residency.DefaultCatalog().Lookup(Kind, spec.Region); err != nil || r.Name != w.location.Name {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: endpoint region %q: Azure Machine Learning creates a workspace's online endpoints in the workspace's region, %s", spec.Region, w.location.Name)
	}
	if err := provider.ValidateMetadata("endpoint metadata", spec.Metadata); err != nil {
		return nil, err
	}
	enc, err := encodeMeta("endpoint metadata", spec.Metadata, nil)
	if err != nil {
		return nil, err
	}
	loc, err := w.workspaceLocation(ctx)
	if err != nil {
		return nil, err
	}
	if canonicalRegion(loc) != w.location.Name {
		return nil, provider.Errorf(provider.FailedPrecondition, "azure: the workspace is in %s but was configured as in %s; endpoints are made in the workspace's region: set Config.WorkspaceRegion to it, or open the workspace with OpenWorkspace, which reads it", loc, w.location.Name)
	}
	what := "creating endpoint " + spec.Name
	l, err := w.lockEndpoint(ctx, spec.Name, "")
	if err != nil {
		return nil, err
	}
	defer l.release()
	_, err = w.getEndpoint(ctx, spec.Name)
	switch provider.CodeOf(err) {
	case provider.OK:
		return nil, provider.Errorf(provider.AlreadyExists, "azure: endpoint %q already exists (or is still being deleted); choose another name or reuse it", spec.Name)
	case provider.NotFound:
	default:
		return nil, err
	}
	if _, err := l.write(ctx, guardState{Overflow: enc.overflow, Pending: newOperationID()}); err != nil {
		return nil, err
	}
	body := &onlineEndpoint{Location: loc, Tags: enc.tags, Properties: endpointProperties{
		AuthMode: endpointAuthMode, Traffic: map[string]int{}, MirrorTraffic: map[string]int{},
	}}
	r, err := w.arm.putJSON(ctx, endpointRef(spec.Name), body, nil, nil)
	if err != nil {
		err = armError(op{what: what, exists: provider.AlreadyExists}, err)
		// Refused, or lost on the way: the guard goes unless the endpoint
		// came to exist after all.
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if _, gerr := w.getEndpoint(cctx, spec.Name); provider.CodeOf(gerr) == provider.NotFound {
			l.deleteGuard(cctx)
		}
		return nil, err
	}
	if err := w.follow(ctx, what, r); err != nil {
		if c := provider.CodeOf(err); c == provider.Canceled || c == provider.DeadlineExceeded {
			return nil, provider.Wrap(c, err, "azure: "+what+": Azure accepted the endpoint and goes on creating it; GetEndpoint shows it")
		}
		// The creation failed: remove what Azure kept of it.
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		w.arm.deleteRef(cctx, endpointRef(spec.Name))
		l.deleteGuard(cctx)
		return nil, err
	}
	etag, err := l.write(ctx, guardState{Overflow: enc.overflow})
	if err != nil {
		return nil, err
	}
	ep, err := w.getEndpoint(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	info, missing := w.endpointInfo(ep, enc.overflow, etag)
	if len(missing) > 0 {
		return nil, missingMeta("endpoint "+spec.Name, missing)
	}
	return info, nil
}

// cleanupContext is for the calls that undo a failed step: they run even
// when the caller's context has ended, for a bounded time.

// GetEndpoint returns an endpoint. Costs: one guard read, then one
// Resource Manager GET. Errors: NotFound.
func (w *Workspace) GetEndpoint(ctx context.Context, name string) (*provider.EndpointInfo, error) {
	if err := checkEndpointName(name); err != nil {
		return nil, err
	}
	var missing []string
	// A reader between an update's guard write and its PUT may see tags
	// referring to values it read the guard too early for; it reads again.
	for range 3 {
		g, etag, err := w.readGuard(ctx, name)
		if err != nil {
			return nil, err
		}
		ep, err := w.getEndpoint(ctx, name)
		if err != nil {
			return nil, err
		}
		var info *provider.EndpointInfo
		if info, missing = w.endpointInfo(ep, g.Overflow, etag); len(missing) == 0 {
			return info, nil
		}
	}
	return nil, missingMeta("endpoint "+name, missing)
}

// ListEndpoints returns every online endpoint of the workspace ordered by
// name. Costs: one Blob Storage list of the guards and one Resource
// Manager list (a call per page of each), and two calls more for each
// endpoint with a metadata value longer than a tag holds.
func (w *Workspace) ListEndpoints(ctx context.Context) ([]*provider.EndpointInfo, error) {
	etags := map[string]string{}
	prefix := guardPrefix
	pager := w.containerC.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, mapError(op{what: "listing the guards of the endpoints"}, err)
		}
		for _, item := range page.Segment.BlobItems {
			if item.Name == nil || item.Properties == nil || item.Properties.ETag == nil {
				continue
			}
			etags[strings.TrimPrefix(*item.Name, guardPrefix)] = string(*item.Properties.ETag)
		}
	}
	var out []*provider.EndpointInfo
	for ep, err := range listOf[onlineEndpoint](ctx, w.arm, "onlineEndpoints") {
		if err != nil {
			return nil, armError(op{what: "listing endpoints"}, err)
		}
		if len(referenced(ep.Tags)) > 0 {
			info, err := w.GetEndpoint(ctx, ep.Name)
			switch provider.CodeOf(err) {
			case provider.OK:
				out = append(out, info)
			case provider.NotFound: // deleted meanwhile
			default:
				return nil, err
			}
			continue
		}
		etag, ok := etags[ep.Name]
		if !ok {
			etag = noGuardETag
		}
		info, _ := w.endpointInfo(&ep, nil, etag)
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b *provider.EndpointInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteEndpoint deletes an endpoint and its deployments, following
// Azure's operation to its end. Costs: Resource Manager GET and DELETE and
// the polls; Blob Storage lease and guard read, guard delete. Errors:
// NotFound. When ctx ends while the operation runs, the delete goes on in
// Azure and the error says so.
func (w *Workspace) DeleteEndpoint(ctx context.Context, name string) error {
	if err := checkEndpointName(name); err != nil {
		return err
	}
	l, err := w.lockEndpoint(ctx, name, "")
	if err != nil {
		return err
	}
	defer l.release()
	if _, err := w.getEndpoint(ctx, name); err != nil {
		if provider.CodeOf(err) == provider.NotFound {
			l.deleteGuard(ctx)
		}
		return err
	}
	what := "deleting endpoint " + name
	r, err := w.arm.deleteRef(ctx, endpointRef(name))
	if err != nil {
		return armError(op{what: what}, err)
	}
	l.deleteGuard(ctx)
	l.release()
	return w.follow(ctx, what+" (Azure accepted the delete, which goes on if this call stops waiting)", r)
}

// UpdateEndpoint replaces the traffic and mirror splits and merges the
// metadata in one PUT of the endpoint, under the endpoint's lease, and
// changes the ETag (see serving_guard.go). Every check of the update that
// needs no state is made before any call; those that need the deployments
// before anything is written. Costs: Blob Storage 5 calls (lease with
// If-Match when conditional, guard read, two guard writes, release), one
// write and no PUT when nothing but the ETag changes; Resource Manager a
// GET of the endpoint (more while an earlier operation runs), a list of
// its deployments when the traffic or mirror changes, the PUT and the
// polls of its operation.
func (w *Workspace) UpdateEndpoint(ctx context.Context, upd *provider.EndpointUpdate) (*provider.EndpointInfo, error) {
	if upd == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: UpdateEndpoint needs an update; got nil")
	}
	if err := checkEndpointName(upd.Endpoint); err != nil {
		return nil, err
	}
	if err := provider.ValidateMetadata("endpoint metadata", upd.Metadata); err != nil {
		return nil, err
	}
	if err := checkSplits(upd); err != nil {
		return nil, err
	}
	name := upd.Endpoint
	l, err := w.lockEndpoint(ctx, name, upd.IfMatch)
	if err != nil {
		return nil, err
	}
	defer l.release()
	ep, err := w.settledEndpoint(ctx, name)
	if err != nil {
		if provider.CodeOf(err) == provider.NotFound {
			l.deleteGuard(ctx)
		}
		return nil, err
	}
	if ep.Properties.ProvisioningState == "Deleting" {
		return nil, provider.Errorf(provider.FailedPrecondition, "azure: endpoint %q is being deleted", name)
	}
	if l.state.Pending != "" && upd.IfMatch != "" {
		// An update whose end was never recorded: whatever ETag the caller
		// read may predate its outcome. Move the ETag, then refuse.
		if _, err := l.write(ctx, guardState{Overflow: l.state.Overflow}); err != nil {
			return nil, err
		}
		return nil, provider.Errorf(provider.Conflict, "azure: endpoint %q: an earlier update did not record its end; its outcome is in place now: read the endpoint again and recompute the change", name)
	}
	cur, foreign, missing := decodeMeta(ep.Tags, l.state.Overflow)
	if len(missing) > 0 {
		return nil, missingMeta("endpoint "+name, missing)
	}
	md := merged(cur, upd.Metadata)
	if err := provider.ValidateMetadata("endpoint metadata after the merge", md); err != nil {
		return nil, err
	}
	enc, err := encodeMeta("endpoint metadata after the merge", md, foreign)
	if err != nil {
		return nil, err
	}
	traffic, mirror := positive(ep.Properties.Traffic), positive(ep.Properties.MirrorTraffic)
	if upd.Traffic != nil || upd.Mirror != nil {
		var deps []string
		for d, err := range listOf[onlineDeployment](ctx, w.arm, armPath("onlineEndpoints", name, "deployments")) {
			if err != nil {
				return nil, armError(op{what: "listing the deployments of endpoint " + name}, err)
			}
			deps = append(deps, d.Name)
		}
		if err := checkSplitNames(name, upd, deps); err != nil {
			return nil, err
		}
		if upd.Traffic != nil {
			traffic = positive(upd.Traffic)
		}
		if upd.Mirror != nil {
			mirror = positive(upd.Mirror)
		}
		for _, k := range slices.Sorted(maps.Keys(mirror)) {
			if traffic[k] > 0 {
				return nil, provider.Errorf(provider.InvalidArgument, "azure: deployment %q of endpoint %q would receive %d%% of live traffic and a %d%% mirror; a deployment takes live or mirrored traffic, not both", k, name, traffic[k], mirror[k])
			}
		}
	}
	changed := !maps.Equal(ep.Tags, enc.tags) || !maps.Equal(positive(ep.Properties.Traffic), traffic) ||
		!maps.Equal(positive(ep.Properties.MirrorTraffic), mirror) || len(ep.Properties.Traffic) != len(traffic) ||
		len(ep.Properties.MirrorTraffic) != len(mirror)
	if changed {
		if err := w.putEndpoint(ctx, l, ep, enc, traffic, mirror); err != nil {
			return nil, err
		}
	}
	etag, err := l.write(ctx, guardState{Overflow: enc.overflow})
	if err != nil {
		if changed {
			return nil, provider.Wrap(provider.CodeOf(err), err, "azure: updating endpoint "+name+": the update is in place, but its end could not be recorded; read the endpoint again")
		}
		return nil, err
	}
	info, _ := w.endpointInfo(ep, nil, etag)
	info.Traffic, info.Mirror, info.Metadata = maps.Clone(traffic), maps.Clone(mirror), md
	return info, nil
}

// putEndpoint writes the pending mark and sends the update, and follows
// its operation. On a refusal the mark is cleared (the endpoint is as it
// was); when the outcome is unknown (the caller's context ended, the
// connection broke) it stays, for the next writer to settle.
func (w *Workspace) putEndpoint(ctx context.Context, l *endpointLock, ep *onlineEndpoint, enc encodedMeta, traffic, mirror map[string]int) error {
	name := ep.Name
	what := "updating endpoint " + name
	before := l.state.Overflow
	pre := guardState{Overflow: maps.Clone(before), Pending: newOperationID()}
	if pre.Overflow == nil {
		pre.Overflow = map[string]string{}
	}
	maps.Copy(pre.Overflow, enc.overflow)
	if _, err := l.write(ctx, pre); err != nil {
		return err
	}
	body := ep.forPut()
	body.Tags = enc.tags
	body.Properties.Traffic, body.Properties.MirrorTraffic = traffic, mirror
	clearPending := func() {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		l.write(cctx, guardState{Overflow: before})
	}
	r, err := w.arm.putJSON(ctx, endpointRef(name), body, nil, nil)
	if err != nil {
		err = armError(op{what: what}, err)
		switch c := provider.CodeOf(err); c {
		case provider.Unavailable, provider.Unknown, provider.Canceled, provider.DeadlineExceeded, provider.Internal:
			return provider.Wrap(c, err, "azure: "+what+": the update may have reached Azure and may still apply it; read the endpoint again")
		}
		clearPending()
		return err
	}
	if err := w.follow(ctx, what, r); err != nil {
		if c := provider.CodeOf(err); c == provider.Canceled || c == provider.DeadlineExceeded {
			return provider.Wrap(c, err, "azure: "+what+": Azure accepted the update and may still apply it; read the endpoint again")
		}
		clearPending()
		return err
	}
	return nil
}

// checkSplits makes the checks of an update's shares that need no state.
func checkSplits(upd *provider.EndpointUpdate) error {
	bad := func(format string, args ...any) error {
		return provider.Errorf(provider.InvalidArgument, "azure: endpoint %q: "+format, append([]any{upd.Endpoint}, args...)...)
	}
	if upd.Traffic != nil {
		sum := 0
		for _, k := range slices.Sorted(maps.Keys(upd.Traffic)) {
			v := upd.Traffic[k]
			if v < 0 || v > 100 {
				return bad("traffic share of deployment %q is %d; shares are whole percentages from 0 to 100", k, v)
			}
			sum += v
		}
		if sum != 100 && sum != 0 {
			return bad("traffic shares sum to %d; they must sum to 100 (or be empty while the endpoint has no deployments)", sum)
		}
	}
	if upd.Mirror != nil {
		sum, targets := 0, 0
		for _, k := range slices.Sorted(maps.Keys(upd.Mirror)) {
			v := upd.Mirror[k]
			if v < 0 || v > MaxMirrorShare {
				return bad("mirror share of deployment %q is %d; mirror shares are whole percentages from 0 to %d", k, v, MaxMirrorShare)
			}
			if v > 0 {
				targets++
			}
			sum += v
		}
		if sum > MaxMirrorShare {
			return bad("mirror shares sum to %d; Azure Machine Learning mirrors at most %d%% of the requests", sum, MaxMirrorShare)
		}
		if targets > 1 {
			return bad("mirror shares go to %d deployments; Azure Machine Learning mirrors traffic to one deployment alone", targets)
		}
	}
	if upd.Traffic != nil && upd.Mirror != nil {
		for _, k := range slices.Sorted(maps.Keys(upd.Mirror)) {
			if upd.Mirror[k] > 0 && upd.Traffic[k] > 0 {
				return bad("deployment %q would receive %d%% of live traffic and a %d%% mirror; a deployment takes live or mirrored traffic, not both", k, upd.Traffic[k], upd.Mirror[k])
			}
		}
	}
	return nil
}

// checkSplitNames checks an update's shares against the endpoint's
// deployments.
func checkSplitNames(endpoint string, upd *provider.EndpointUpdate, deps []string) error {
	have := strings.Join(deps, ", ")
	if have == "" {
		have = "none"
	}
	for _, split := range []struct {
		what string
		m    map[string]int
	}{{"traffic", upd.Traffic}, {"mirror", upd.Mirror}} {
		what := split.what
		for _, k := range slices.Sorted(maps.Keys(split.m)) {
			if !slices.Contains(deps, k) {
				return provider.Errorf(provider.InvalidArgument, "azure: %s share names deployment %q, which endpoint %q does not have (its deployments: %s)", what, k, endpoint, have)
			}
		}
	}
	if upd.Traffic != nil {
		sum := 0
		for _, v := range upd.Traffic {
			sum += v
		}
		if len(deps) > 0 && sum != 100 {
			return provider.Errorf(provider.InvalidArgument, "azure: traffic shares of endpoint %q sum to %d; an endpoint with deployments splits all its traffic, so they must sum to 100", endpoint, sum)
		}
	}
	return nil
}

func (w *Workspace) getDeployment(ctx context.Context, endpoint, name string) (*onlineDeployment, error) {
	var d onlineDeployment
	if err := w.arm.getJSON(ctx, deploymentRef(endpoint, name), &d); err != nil {
		return nil, armError(op{what: "reading deployment " + endpoint + "/" + name}, err)
	}
	if d.Name == "" {
		d.Name = name
	}
	return &d, nil
}

func (w *Workspace) deploymentInfo(endpoint string, d *onlineDeployment, overflow map[string]string) (*provider.DeploymentInfo, []string) {
	md, _, missing := decodeMeta(d.Tags, overflow)
	model, version := parseModelID(d.Properties.Model)
	info := &provider.DeploymentInfo{
		DeploymentSpec: provider.DeploymentSpec{
			Endpoint: endpoint, Name: d.Name, Model: model, ModelVersion: version,
			ArtifactURI: d.Properties.Properties[propArtifactURI], InstanceType: d.Properties.InstanceType, Metadata: md,
		},
		State:   provider.DeploymentCreating,
		Created: d.SystemData.created(),
	}
	if d.SKU != nil {
		info.Instances = d.SKU.Capacity
	}
	switch st := d.Properties.ProvisioningState; st {
	case "Succeeded":
		info.State = provider.DeploymentReady
	case "Failed", "Canceled":
		info.State = provider.DeploymentFailed
		info.Message = "Azure Machine Learning could not provision the deployment (provisioning state " + st + "); the deployment's logs in the workspace say why"
	case "Deleting":
		info.Message = "the deployment is being deleted"
	}
	return info, missing
}

// resolveDeployment turns a deployment into its info, reading its
// metadata blob when a tag refers to a value kept there.
func (w *Workspace) resolveDeployment(ctx context.Context, endpoint string, d *onlineDeployment) (*provider.DeploymentInfo, error) {
	info, missing := w.deploymentInfo(endpoint, d, nil)
	if len(missing) == 0 {
		return info, nil
	}
	var ob overflowBlob
	name := deploymentMetaBlobName(endpoint, d.Name)
	if _, _, err := w.readJSONBlob(ctx, name, "the metadata of deployment "+endpoint+"/"+d.Name, &ob); err != nil {
		return nil, err
	}
	if info, missing = w.deploymentInfo(endpoint, d, ob.Overflow); len(missing) > 0 {
		return nil, missingMeta("deployment "+endpoint+"/"+d.Name, missing)
	}
	return info, nil
}

// CreateDeployment adds a managed online deployment of the workspace's
// model version spec.Model/spec.ModelVersion, with no traffic, and
// returns once Azure has accepted it (Creating); the deployment becomes
// Ready when its provisioning succeeds. The model version must be one that
// deploys without a scoring script (MLflow). Costs: Resource Manager a list
// of the endpoint's deployments and the PUT; Blob Storage the lease, the
// guard read and the release, and one write more when a metadata value is
// longer than a tag holds. Errors: NotFound; AlreadyExists;
// FailedPrecondition when the endpoint holds MaxDeploymentsPerEndpoint;
// InvalidArgument for a bad spec, before any call.
func (w *Workspace) CreateDeployment(ctx context.Context, spec *provider.DeploymentSpec) (*provider.DeploymentInfo, error) {
	if spec == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: CreateDeployment needs a spec; got nil")
	}
	if err := provider.ValidateName("deployment name", spec.Name); err != nil {
		return nil, err
	}
	if err := provider.ValidateName("deployment model name", spec.Model); err != nil {
		return nil, err
	}
	if err := provider.ValidateModelVersion("deployment model version", spec.ModelVersion); err != nil {
		return nil, err
	}
	if spec.Instances < 0 {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: deployment %q asks for %d instances; the count cannot be negative", spec.Name, spec.Instances)
	}
	if strings.ContainsAny(spec.InstanceType, "/?#%") {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: deployment %q: instance type %q is not an Azure VM size such as %s", spec.Name, spec.InstanceType, DefaultInstanceType)
	}
	if err := provider.ValidateMetadata("deployment metadata", spec.Metadata); err != nil {
		return nil, err
	}
	enc, err := encodeMeta("deployment metadata", spec.Metadata, nil)
	if err != nil {
		return nil, err
	}
	if err := checkEndpointName(spec.Endpoint); err != nil {
		return nil, err
	}
	ep, name := spec.Endpoint, spec.Name
	what := "creating deployment " + ep + "/" + name
	l, err := w.lockEndpoint(ctx, ep, "")
	if err != nil {
		return nil, err
	}
	defer l.release()
	count, err := w.countDeployments(ctx, ep, name)
	if err != nil {
		if provider.CodeOf(err) == provider.NotFound {
			l.deleteGuard(ctx)
		}
		return nil, err
	}
	if count < 0 {
		return nil, provider.Errorf(provider.AlreadyExists, "azure: endpoint %q already has a deployment %q; choose another name", ep, name)
	}
	if count >= MaxDeploymentsPerEndpoint {
		return nil, w.tooMany(ep, count)
	}
	metaBlob := w.containerC.NewBlockBlobClient(deploymentMetaBlobName(ep, name))
	if len(enc.overflow) > 0 {
		b, _ := json.Marshal(overflowBlob{Overflow: enc.overflow})
		if _, err := metaBlob.Upload(ctx, streaming.NopCloser(strings.NewReader(string(b))), &blockblob.UploadOptions{
			HTTPHeaders: &blob.HTTPHeaders{BlobContentType: ptr("application/json")},
		}); err != nil {
			return nil, mapError(op{what: "writing the metadata of deployment " + ep + "/" + name}, err)
		}
	}
	instanceType := cmpOr(spec.InstanceType, DefaultInstanceType)
	body := &onlineDeployment{
		Location: w.location.Name, Tags: enc.tags, SKU: &deploymentSKU{Name: "Default", Capacity: max(spec.Instances, 1)},
		Properties: deploymentProperties{
			EndpointComputeType: "Managed", Model: w.modelID(spec.Model, spec.ModelVersion), InstanceType: instanceType,
			ScaleSettings: &scaleSettings{ScaleType: "Default"},
			Properties:    map[string]string{propArtifactURI: spec.ArtifactURI},
		},
	}
	var out onlineDeployment
	if _, err := w.arm.putJSON(ctx, deploymentRef(ep, name), body, &out, nil); err != nil {
		err = armError(op{what: what, exists: provider.AlreadyExists}, err)
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if provider.CodeOf(err) == provider.InvalidArgument {
			// Azure refuses a deployment beyond its limit, which a writer
			// outside Tideline may have reached meanwhile.
			if n, cerr := w.countDeployments(cctx, ep, name); cerr == nil && n >= MaxDeploymentsPerEndpoint {
				err = w.tooMany(ep, n)
			}
		}
		if len(enc.overflow) > 0 {
			if _, gerr := w.getDeployment(cctx, ep, name); provider.CodeOf(gerr) == provider.NotFound {
				metaBlob.Delete(cctx, nil)
			}
		}
		return nil, err
	}
	if out.Name == "" {
		out = *body
		out.Name = name
	}
	info, missing := w.deploymentInfo(ep, &out, enc.overflow)
	if len(missing) > 0 {
		return nil, missingMeta("deployment "+ep+"/"+name, missing)
	}
	return info, nil
}

// countDeployments counts an endpoint's deployments; -1 when one is named
// name.
func (w *Workspace) countDeployments(ctx context.Context, endpoint, name string) (int, error) {
	n := 0
	for d, err := range listOf[onlineDeployment](ctx, w.arm, armPath("onlineEndpoints", endpoint, "deployments")) {
		if err != nil {
			return 0, armError(op{what: "listing the deployments of endpoint " + endpoint}, err)
		}
		if d.Name == name {
			return -1, nil
		}
		n++
	}
	return n, nil
}

func (w *Workspace) tooMany(endpoint string, n int) error {
	return provider.Errorf(provider.FailedPrecondition, "azure: endpoint %q already holds %d deployments, the most a managed online endpoint holds (%d); delete one without traffic first", endpoint, n, MaxDeploymentsPerEndpoint)
}

// GetDeployment returns a deployment. Costs: one Resource Manager GET,
// and a blob read when a metadata value is longer than a tag holds.
// Errors: NotFound.
func (w *Workspace) GetDeployment(ctx context.Context, endpoint, name string) (*provider.DeploymentInfo, error) {
	if err := checkEndpointName(endpoint); err != nil {
		return nil, err
	}
	if provider.ValidateName("deployment name", name) != nil {
		return nil, provider.Errorf(provider.NotFound, "azure: endpoint %q has no deployment %q (it is not a valid deployment name)", endpoint, name)
	}
	d, err := w.getDeployment(ctx, endpoint, name)
	if err != nil {
		return nil, err
	}
	return w.resolveDeployment(ctx, endpoint, d)
}

// ListDeployments returns an endpoint's deployments ordered by name.
// Costs: a Resource Manager call per page. Errors: NotFound.
func (w *Workspace) ListDeployments(ctx context.Context, endpoint string) ([]*provider.DeploymentInfo, error) {
	if err := checkEndpointName(endpoint); err != nil {
		return nil, err
	}
	out := []*provider.DeploymentInfo{}
	for d, err := range listOf[onlineDeployment](ctx, w.arm, armPath("onlineEndpoints", endpoint, "deployments")) {
		if err != nil {
			return nil, armError(op{what: "listing the deployments of endpoint " + endpoint}, err)
		}
		info, err := w.resolveDeployment(ctx, endpoint, &d)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b *provider.DeploymentInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteDeployment deletes a deployment that has neither live nor
// mirrored traffic, decided under the endpoint's lease so that no update
// gives it traffic meanwhile, and follows Azure's operation to its end
// without the lease. Costs: Resource Manager GETs of the endpoint and the
// deployment, the DELETE and its polls; Blob Storage lease, guard read and
// release, and the deletion of the deployment's metadata blob. Errors:
// NotFound; FailedPrecondition when it still receives traffic.
func (w *Workspace) DeleteDeployment(ctx context.Context, endpoint, name string) error {
	if err := checkEndpointName(endpoint); err != nil {
		return err
	}
	if provider.ValidateName("deployment name", name) != nil {
		return provider.Errorf(provider.NotFound, "azure: endpoint %q has no deployment %q (it is not a valid deployment name)", endpoint, name)
	}
	l, err := w.lockEndpoint(ctx, endpoint, "")
	if err != nil {
		return err
	}
	defer l.release()
	ep, err := w.settledEndpoint(ctx, endpoint)
	if err != nil {
		if provider.CodeOf(err) == provider.NotFound {
			l.deleteGuard(ctx)
		}
		return err
	}
	if _, err := w.getDeployment(ctx, endpoint, name); err != nil {
		return err
	}
	if live, mirrored := ep.Properties.Traffic[name], ep.Properties.MirrorTraffic[name]; live > 0 || mirrored > 0 {
		return provider.Errorf(provider.FailedPrecondition, "azure: deployment %q of endpoint %q still receives %d%% of live traffic and %d%% mirrored; move its traffic to other deployments with UpdateEndpoint first", name, endpoint, live, mirrored)
	}
	what := "deleting deployment " + endpoint + "/" + name
	r, err := w.arm.deleteRef(ctx, deploymentRef(endpoint, name))
	if err != nil {
		return armError(op{what: what}, err)
	}
	l.release()
	if err := w.follow(ctx, what+" (Azure accepted the delete, which goes on if this call stops waiting)", r); err != nil {
		return err
	}
	_, err = w.containerC.NewBlobClient(deploymentMetaBlobName(endpoint, name)).Delete(ctx, nil)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return mapError(op{what: "deleting the metadata of deployment " + endpoint + "/" + name}, err)
	}
	return nil
}
