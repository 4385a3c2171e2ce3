package memprovider

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/tideline-ml/tideline/provider"
)

// maxMirrorShare is the largest share of requests one deployment may
// receive as a mirror, as on Azure ML online endpoints.
const maxMirrorShare = 50

type endpoint struct {
	info        provider.EndpointInfo
	deployments map[string]*provider.DeploymentInfo
}

func (ep *endpoint) copyInfo() *provider.EndpointInfo {
	info := ep.info
	info.Traffic = cloneInts(ep.info.Traffic)
	info.Mirror = cloneInts(ep.info.Mirror)
	info.Metadata = cloneStrings(ep.info.Metadata)
	return &info
}

func copyDeployment(d *provider.DeploymentInfo) *provider.DeploymentInfo {
	out := *d
	out.Metadata = cloneStrings(d.Metadata)
	return &out
}

// ServingCapabilities returns Options.Serving, or no deployment limit with
// mirroring when that was nil.
func (p *Provider) ServingCapabilities() provider.ServingCapabilities { return p.serving }

// CreateEndpoint creates an endpoint with no deployments and empty traffic
// and mirror splits, at "mem://NAME/endpoints/<endpoint>". Errors:
// AlreadyExists; InvalidArgument for a bad name or metadata or a region the
// provider lacks.
func (p *Provider) CreateEndpoint(ctx context.Context, spec *provider.EndpointSpec) (*provider.EndpointInfo, error) {
	target := ""
	if spec != nil {
		target = spec.Name
	}
	c, err := p.enter(ctx, "CreateEndpoint", target)
	if err != nil {
		return nil, err
	}
	info, err := p.createEndpoint(spec)
	return finish(c, info, err)
}

func (p *Provider) createEndpoint(spec *provider.EndpointSpec) (*provider.EndpointInfo, error) {
	if spec == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "CreateEndpoint needs a spec; got nil")
	}
	if err := provider.ValidateName("endpoint name", spec.Name); err != nil {
		return nil, err
	}
	if err := p.checkRegion("endpoint region", spec.Region); err != nil {
		return nil, err
	}
	if err := provider.ValidateMetadata("endpoint metadata", spec.Metadata); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.endpoints[spec.Name]; ok {
		return nil, provider.Errorf(provider.AlreadyExists, "endpoint %q already exists; choose another name or reuse it", spec.Name)
	}
	ep := &endpoint{
		info: provider.EndpointInfo{
			Name:     spec.Name,
			Region:   spec.Region,
			URI:      p.uri("endpoints", spec.Name),
			Traffic:  map[string]int{},
			Mirror:   map[string]int{},
			Metadata: cloneStrings(spec.Metadata),
			Created:  p.now(),
			ETag:     p.tagLocked(),
		},
		deployments: make(map[string]*provider.DeploymentInfo),
	}
	p.endpoints[spec.Name] = ep
	return ep.copyInfo(), nil
}

func (p *Provider) endpointLocked(name string) (*endpoint, error) {
	ep, ok := p.endpoints[name]
	if !ok {
		return nil, provider.Errorf(provider.NotFound, "endpoint %q does not exist; create it with CreateEndpoint first", name)
	}
	return ep, nil
}

func (p *Provider) deploymentLocked(endpoint, name string) (*endpoint, *provider.DeploymentInfo, error) {
	ep, err := p.endpointLocked(endpoint)
	if err != nil {
		return nil, nil, err
	}
	d, ok := ep.deployments[name]
	if !ok {
		return nil, nil, provider.Errorf(provider.NotFound, "endpoint %q has no deployment %q; ListDeployments shows the deployments it has", endpoint, name)
	}
	return ep, d, nil
}

// GetEndpoint returns an endpoint. Errors: NotFound.
func (p *Provider) GetEndpoint(ctx context.Context, name string) (*provider.EndpointInfo, error) {
	c, err := p.enter(ctx, "GetEndpoint", name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	ep, err := p.endpointLocked(name)
	var info *provider.EndpointInfo
	if err == nil {
		info = ep.copyInfo()
	}
	p.mu.Unlock()
	return finish(c, info, err)
}

// ListEndpoints returns every endpoint ordered by name.
func (p *Provider) ListEndpoints(ctx context.Context) ([]*provider.EndpointInfo, error) {
	c, err := p.enter(ctx, "ListEndpoints", "")
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	out := make([]*provider.EndpointInfo, 0, len(p.endpoints))
	for _, name := range slices.Sorted(maps.Keys(p.endpoints)) {
		out = append(out, p.endpoints[name].copyInfo())
	}
	p.mu.Unlock()
	return finish(c, out, nil)
}

// DeleteEndpoint deletes an endpoint and its deployments, whatever their
// traffic. Errors: NotFound.
func (p *Provider) DeleteEndpoint(ctx context.Context, name string) error {
	c, err := p.enter(ctx, "DeleteEndpoint", name)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if _, err = p.endpointLocked(name); err == nil {
		delete(p.endpoints, name)
	}
	p.mu.Unlock()
	return c.exit(err)
}

// CreateDeployment adds a deployment with no traffic. It is Ready at once,
// or Creating until SetDeploymentState when Options.ManualDeployments is set.
// Errors: NotFound if the endpoint does not exist; AlreadyExists;
// FailedPrecondition when the endpoint holds MaxDeployments deployments;
// InvalidArgument for a bad name, model name, model version, instance count
// or metadata.
func (p *Provider) CreateDeployment(ctx context.Context, spec *provider.DeploymentSpec) (*provider.DeploymentInfo, error) {
	target := ""
	if spec != nil {
		target = spec.Endpoint + "/" + spec.Name
	}
	c, err := p.enter(ctx, "CreateDeployment", target)
	if err != nil {
		return nil, err
	}
	info, err := p.createDeployment(spec)
	return finish(c, info, err)
}

func (p *Provider) createDeployment(spec *provider.DeploymentSpec) (*provider.DeploymentInfo, error) {
	if spec == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "CreateDeployment needs a spec; got nil")
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
		return nil, provider.Errorf(provider.InvalidArgument, "deployment %q asks for %d instances; the count cannot be negative", spec.Name, spec.Instances)
	}
	if err := provider.ValidateMetadata("deployment metadata", spec.Metadata); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ep, err := p.endpointLocked(spec.Endpoint)
	if err != nil {
		return nil, err
	}
	if _, ok := ep.deployments[spec.Name]; ok {
		return nil, provider.Errorf(provider.AlreadyExists, "endpoint %q already has a deployment %q; choose another name", spec.Endpoint, spec.Name)
	}
	if limit := p.serving.MaxDeployments; limit > 0 && len(ep.deployments) >= limit {
		return nil, provider.Errorf(provider.FailedPrecondition, "endpoint %q already holds %d deployments (%s), the most this provider allows; delete one without traffic first",
			spec.Endpoint, len(ep.deployments), strings.Join(slices.Sorted(maps.Keys(ep.deployments)), ", "))
	}
	d := &provider.DeploymentInfo{DeploymentSpec: *spec, State: provider.DeploymentReady, Created: p.now()}
	d.Metadata = cloneStrings(spec.Metadata)
	if p.manualDeployments {
		d.State = provider.DeploymentCreating
	}
	ep.deployments[spec.Name] = d
	return copyDeployment(d), nil
}

// GetDeployment returns a deployment. Errors: NotFound.
func (p *Provider) GetDeployment(ctx context.Context, endpoint, name string) (*provider.DeploymentInfo, error) {
	c, err := p.enter(ctx, "GetDeployment", endpoint+"/"+name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	_, d, err := p.deploymentLocked(endpoint, name)
	var info *provider.DeploymentInfo
	if err == nil {
		info = copyDeployment(d)
	}
	p.mu.Unlock()
	return finish(c, info, err)
}

// ListDeployments returns an endpoint's deployments ordered by name.
// Errors: NotFound if the endpoint does not exist.
func (p *Provider) ListDeployments(ctx context.Context, endpoint string) ([]*provider.DeploymentInfo, error) {
	c, err := p.enter(ctx, "ListDeployments", endpoint)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	var out []*provider.DeploymentInfo
	ep, err := p.endpointLocked(endpoint)
	if err == nil {
		out = make([]*provider.DeploymentInfo, 0, len(ep.deployments))
		for _, name := range slices.Sorted(maps.Keys(ep.deployments)) {
			out = append(out, copyDeployment(ep.deployments[name]))
		}
	}
	p.mu.Unlock()
	return finish(c, out, err)
}

// DeleteDeployment deletes a deployment. A zero share it held in the traffic
// or mirror split is removed with it, which changes the endpoint's ETag.
// Errors: NotFound; FailedPrecondition if it still receives live or mirrored
// traffic.
func (p *Provider) DeleteDeployment(ctx context.Context, endpoint, name string) error {
	c, err := p.enter(ctx, "DeleteDeployment", endpoint+"/"+name)
	if err != nil {
		return err
	}
	return c.exit(p.deleteDeployment(endpoint, name))
}

func (p *Provider) deleteDeployment(endpoint, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep, _, err := p.deploymentLocked(endpoint, name)
	if err != nil {
		return err
	}
	live, mirrored := ep.info.Traffic[name], ep.info.Mirror[name]
	if live > 0 || mirrored > 0 {
		return provider.Errorf(provider.FailedPrecondition, "deployment %q of endpoint %q still receives %d%% of live traffic and %d%% mirrored; move its traffic to other deployments with UpdateEndpoint first", name, endpoint, live, mirrored)
	}
	delete(ep.deployments, name)
	_, inTraffic := ep.info.Traffic[name]
	_, inMirror := ep.info.Mirror[name]
	if inTraffic || inMirror {
		delete(ep.info.Traffic, name)
		delete(ep.info.Mirror, name)
		ep.info.ETag = p.tagLocked()
	}
	return nil
}

// UpdateEndpoint replaces the traffic split and the mirror split (each when
// not nil) and merges metadata, all or nothing, and gives the endpoint a new
// ETag. Errors: NotFound; Conflict if upd.IfMatch is not empty and stale;
// InvalidArgument if a share names an unknown deployment or is negative, the
// live shares do not sum to 100 (0 with no deployments), a mirror share
// exceeds 50 or targets a deployment with live traffic, a mirror share is
// not zero while ServingCapabilities says Mirror is false, or the metadata is
// bad.
func (p *Provider) UpdateEndpoint(ctx context.Context, upd *provider.EndpointUpdate) (*provider.EndpointInfo, error) {
	target := ""
	if upd != nil {
		target = upd.Endpoint
	}
	c, err := p.enter(ctx, "UpdateEndpoint", target)
	if err != nil {
		return nil, err
	}
	info, err := p.updateEndpoint(upd)
	return finish(c, info, err)
}

func (p *Provider) updateEndpoint(upd *provider.EndpointUpdate) (*provider.EndpointInfo, error) {
	if upd == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "UpdateEndpoint needs an update; got nil")
	}
	if err := provider.ValidateMetadata("endpoint metadata", upd.Metadata); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ep, err := p.endpointLocked(upd.Endpoint)
	if err != nil {
		return nil, err
	}
	if upd.IfMatch != "" && upd.IfMatch != ep.info.ETag {
		return nil, provider.Errorf(provider.Conflict, "endpoint %q changed since it was read (ETag %q, now %q); read it again and recompute the split", upd.Endpoint, upd.IfMatch, ep.info.ETag)
	}
	traffic, mirror := ep.info.Traffic, ep.info.Mirror
	if upd.Traffic != nil {
		if err := p.checkShares(ep, "traffic", upd.Traffic, 100); err != nil {
			return nil, err
		}
		sum := 0
		for _, v := range upd.Traffic {
			sum += v
		}
		want := 100
		if len(ep.deployments) == 0 {
			want = 0
		}
		if sum != want {
			return nil, provider.Errorf(provider.InvalidArgument, "traffic shares of endpoint %q sum to %d; they must sum to 100 (or be empty while it has no deployments)", upd.Endpoint, sum)
		}
		traffic = cloneInts(upd.Traffic)
	}
	if upd.Mirror != nil {
		if err := p.checkShares(ep, "mirror", upd.Mirror, maxMirrorShare); err != nil {
			return nil, err
		}
		if !p.serving.Mirror {
			for _, k := range slices.Sorted(maps.Keys(upd.Mirror)) {
				if upd.Mirror[k] > 0 {
					return nil, provider.Errorf(provider.InvalidArgument, "mirror share of deployment %q: this provider is configured without traffic mirroring (ServingCapabilities.Mirror is false); leave Mirror empty", k)
				}
			}
		}
		mirror = cloneInts(upd.Mirror)
	}
	for _, k := range slices.Sorted(maps.Keys(mirror)) {
		if mirror[k] > 0 && traffic[k] > 0 {
			return nil, provider.Errorf(provider.InvalidArgument, "deployment %q of endpoint %q would receive %d%% of live traffic and a %d%% mirror; a deployment cannot mirror traffic it already serves", k, upd.Endpoint, traffic[k], mirror[k])
		}
	}
	md := merged(ep.info.Metadata, upd.Metadata)
	if err := provider.ValidateMetadata("endpoint metadata after the merge", md); err != nil {
		return nil, err
	}
	ep.info.Traffic, ep.info.Mirror, ep.info.Metadata = traffic, mirror, md
	ep.info.ETag = p.tagLocked()
	return ep.copyInfo(), nil
}

// checkShares checks that every share names a deployment of ep and lies in
// 0..limit. Keys are visited in order so that the error is deterministic.
func (p *Provider) checkShares(ep *endpoint, what string, shares map[string]int, limit int) error {
	for _, k := range slices.Sorted(maps.Keys(shares)) {
		v := shares[k]
		if _, ok := ep.deployments[k]; !ok {
			have := strings.Join(slices.Sorted(maps.Keys(ep.deployments)), ", ")
			if have == "" {
				have = "none"
			}
			return provider.Errorf(provider.InvalidArgument, "%s share names deployment %q, which endpoint %q does not have (its deployments: %s)", what, k, ep.info.Name, have)
		}
		if v < 0 || v > limit {
			return provider.Errorf(provider.InvalidArgument, "%s share of deployment %q on endpoint %q is %d; shares are whole percentages from 0 to %d", what, k, ep.info.Name, v, limit)
		}
	}
	return nil
}

// SetDeploymentState sets a deployment's state and message, as the cloud's
// controller would when a rollout finishes or breaks. Every move between the
// three states is allowed: a cloud updates a Ready deployment (Creating
// again) and retries a Failed one. Errors: NotFound; InvalidArgument for an
// unknown state.
func (p *Provider) SetDeploymentState(endpoint, name string, state provider.DeploymentState, message string) error {
	switch state {
	case provider.DeploymentCreating, provider.DeploymentReady, provider.DeploymentFailed:
	default:
		return provider.Errorf(provider.InvalidArgument, "deployment state %q is not one of %s, %s, %s", state, provider.DeploymentCreating, provider.DeploymentReady, provider.DeploymentFailed)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, d, err := p.deploymentLocked(endpoint, name)
	if err != nil {
		return err
	}
	d.State, d.Message = state, message
	return nil
}
