package mlops

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// DeploymentState is where a deployment is in its life.
type DeploymentState = provider.DeploymentState

// The deployment states.
const (
	DeploymentCreating = provider.DeploymentCreating
	DeploymentReady    = provider.DeploymentReady
	DeploymentFailed   = provider.DeploymentFailed
)

// ServingCapabilities says what a provider's endpoints can do.
type ServingCapabilities = provider.ServingCapabilities

// Endpoint is a serving endpoint: named deployments behind one address, and
// a traffic split over them. Its fields are a snapshot; Refresh updates them.
type Endpoint struct {
	Name     string
	Location Location
	URI      string
	// Traffic maps deployment names to whole percentages summing to 100
	// (empty before anything is deployed); Mirror maps deployments to the
	// share of requests copied to them.
	Traffic, Mirror map[string]int
	Deployments     []*Deployment
	// Capabilities says what the provider's endpoints can do: KServe holds
	// at most two deployments (a canary), Azure ML any number.
	Capabilities ServingCapabilities
	Created      time.Time

	meta map[string]string
	etag string
	c    *Client
}

// Deployment is one model version behind an endpoint.
type Deployment struct {
	Endpoint, Name string
	// ModelRef names the model version served: "<registry provider>/<model>@<version>".
	ModelRef     string
	Model        string
	ModelVersion string
	InstanceType string
	Instances    int
	State        DeploymentState
	Message      string
	Created      time.Time
}

// EndpointOptions configures CreateEndpoint.
type EndpointOptions struct {
	// Location is where the endpoint serves from.
	Location Location
}

// CreateEndpoint creates an endpoint with no deployments.
func (c *Client) CreateEndpoint(ctx context.Context, name string, opts *EndpointOptions) (*Endpoint, error) {
	if opts == nil {
		opts = &EndpointOptions{}
	}
	if err := provider.ValidateName("endpoint name", name); err != nil {
		return nil, err
	}
	loc, err := c.resolveLocation("EndpointOptions.Location", opts.Location, provider.CapServing, hasServing)
	if err != nil {
		return nil, err
	}
	srv, _ := c.serving(loc.Provider)
	req := &Request{Action: ActionEndpointCreate, Target: fmtTarget("endpoint", name), Location: loc}
	res, err := c.govern(ctx, req, func(ctx context.Context, op *Operation) (any, error) {
		spec := &provider.EndpointSpec{Name: name, Region: loc.Region,
			Metadata: map[string]string{metaPrincipal: req.Principal.ID, metaOperation: op.ID}}
		var info *provider.EndpointInfo
		err := c.retry(ctx, loc.Provider, func() (err error) {
			info, err = srv.CreateEndpoint(ctx, spec)
			return err
		})
		if provider.CodeOf(err) == AlreadyExists {
			// Ours, if a retry after a lost response; someone else's otherwise.
			if cur, gerr := srv.GetEndpoint(ctx, name); gerr == nil && cur.Metadata[metaOperation] == op.ID {
				info, err = cur, nil
			} else {
				return nil, errorf(AlreadyExists, "endpoint %q already exists in provider %q; use GetEndpoint, or pick another name", name, loc.Provider)
			}
		}
		if err != nil {
			return nil, err
		}
		return c.endpointFromInfo(loc.Provider, srv, info, nil), nil
	})
	if err != nil {
		return nil, err
	}
	return res.(*Endpoint), nil
}

// GetEndpoint returns an endpoint with its deployments. Every provider that
// serves is asked; the endpoint must exist in exactly one.
func (c *Client) GetEndpoint(ctx context.Context, name string) (*Endpoint, error) {
	if err := provider.ValidateName("endpoint name", name); err != nil {
		return nil, err
	}
	var found *Endpoint
	for _, pn := range c.capable(hasServing) {
		e := &Endpoint{Name: name, Location: Location{Provider: pn}, c: c}
		err := e.Refresh(ctx)
		if Code(err) == NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		if found != nil {
			return nil, errorf(InvalidArgument, "endpoint %q exists in providers %q and %q; use Client.Provider for the one you mean", name, found.Location.Provider, pn)
		}
		found = e
	}
	if found == nil {
		return nil, errorf(NotFound, "endpoint %q not found", name)
	}
	return found, nil
}

func (c *Client) endpointFromInfo(pn string, srv provider.Serving, in *provider.EndpointInfo, deps []*provider.DeploymentInfo) *Endpoint {
	e := &Endpoint{c: c}
	e.set(pn, srv, in, deps)
	return e
}

func (e *Endpoint) set(pn string, srv provider.Serving, in *provider.EndpointInfo, deps []*provider.DeploymentInfo) {
	e.Name = in.Name
	e.Location = Location{Provider: pn, Region: in.Region}
	e.URI = in.URI
	e.Traffic, e.Mirror = nonZero(in.Traffic), nonZero(in.Mirror)
	e.Capabilities = srv.ServingCapabilities()
	e.Created = in.Created
	e.meta = in.Metadata
	e.etag = in.ETag
	e.Deployments = e.Deployments[:0]
	for _, d := range deps {
		e.Deployments = append(e.Deployments, deploymentFromInfo(d))
	}
}

func deploymentFromInfo(d *provider.DeploymentInfo) *Deployment {
	return &Deployment{Endpoint: d.Endpoint, Name: d.Name, ModelRef: d.Metadata[metaModel],
		Model: d.Model, ModelVersion: d.ModelVersion, InstanceType: d.InstanceType, Instances: d.Instances,
		State: d.State, Message: d.Message, Created: d.Created}
}

func nonZero(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// Refresh reads the endpoint and its deployments again.
func (e *Endpoint) Refresh(ctx context.Context) error {
	srv, err := e.c.serving(e.Location.Provider)
	if err != nil {
		return err
	}
	var info *provider.EndpointInfo
	var deps []*provider.DeploymentInfo
	err = e.c.retry(ctx, e.Location.Provider, func() (err error) {
		if info, err = srv.GetEndpoint(ctx, e.Name); err != nil {
			return err
		}
		deps, err = srv.ListDeployments(ctx, e.Name)
		return err
	})
	if err != nil {
		return err
	}
	e.set(e.Location.Provider, srv, info, deps)
	return nil
}

// Deployment returns the named deployment from the snapshot, or nil.
func (e *Endpoint) Deployment(name string) *Deployment {
	for _, d := range e.Deployments {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// DeployOptions configures Deploy.
type DeployOptions struct {
	// InstanceType names the machine size ("Standard_DS3_v2", "gpu-a100");
	// empty lets the provider choose.
	InstanceType string
	// Instances defaults to 1.
	Instances int
}

// Deploy puts a model version behind the endpoint as a new deployment with
// no traffic, and waits until it is ready. Give it traffic with SetTraffic
// or Rollout (or Promote, for an endpoint's first traffic).
//
// A Deploy cut short while waiting — its context ended, or the program
// stopped — leaves the deployment the provider is still creating. Calling
// Deploy again with the same name, model version and instance settings
// adopts it and waits for it (a deployment that is ready already is returned
// as it is); one that differs in any of them is AlreadyExists naming the
// difference. DeleteDeployment removes a deployment nobody will adopt. An
// adoption is decided by the policy and residency as a creation is.
func (e *Endpoint) Deploy(ctx context.Context, name string, mv *ModelVersion, opts *DeployOptions) (*Deployment, error) {
	if opts == nil {
		opts = &DeployOptions{}
	}
	if err := provider.ValidateName("deployment name", name); err != nil {
		return nil, err
	}
	if mv == nil || mv.Model == "" || mv.Version == "" {
		return nil, errorf(InvalidArgument, "deployment %q: the model version is missing; pass one from ModelRegistry.Register or Get", name)
	}
	if opts.Instances < 0 {
		return nil, errorf(InvalidArgument, "deployment %q: Instances is %d; it must be zero (meaning 1) or more", name, opts.Instances)
	}
	instances := max(opts.Instances, 1)
	srv, err := e.c.serving(e.Location.Provider)
	if err != nil {
		return nil, err
	}
	// The registry's copy decides, not the caller's: its residency origins
	// and approval are what another process would see.
	mv, err = e.c.Models(mv.Location.Provider).Get(ctx, mv.Model, mv.Version)
	if err != nil {
		return nil, fmt.Errorf("deployment %q: %w", name, err)
	}
	os, err := e.c.refreshOrigins(ctx, mv.Origins)
	if err != nil {
		return nil, fmt.Errorf("deployment %q of model %s version %s: %w", name, mv.Model, mv.Version, err)
	}
	if err := e.Refresh(ctx); err != nil {
		return nil, err
	}
	ref := mv.Location.Provider + "/" + mv.Model + "@" + mv.Version
	existing := e.Deployment(name)
	if existing != nil {
		if diff := deploymentDiff(existing, ref, opts.InstanceType, instances); diff != "" {
			return nil, errorf(AlreadyExists, "endpoint %q already has a deployment %q %s; pick another name, or delete it first", e.Name, name, diff)
		}
	} else if limit := e.Capabilities.MaxDeployments; limit > 0 && len(e.Deployments) >= limit {
		return nil, errorf(FailedPrecondition, "endpoint %q holds %d deployments, the most provider %q (%s) allows; promote one and delete the other first", e.Name, len(e.Deployments), e.Location.Provider, e.c.providers[e.Location.Provider].Kind())
	}
	req := &Request{Action: ActionDeploymentCreate, Target: fmtTarget("deployment", e.Name+"/"+name), Location: e.Location, Model: mv, Origins: os}
	res, err := e.c.govern(ctx, req, func(ctx context.Context, op *Operation) (any, error) {
		if existing != nil {
			// Adopted: the deployment a call cut short left behind.
			var info *provider.DeploymentInfo
			err := e.c.retry(ctx, e.Location.Provider, func() (err error) {
				info, err = srv.GetDeployment(ctx, e.Name, name)
				return err
			})
			if err != nil {
				return nil, err
			}
			if info, err = e.waitReady(ctx, srv, info); err != nil {
				return nil, err
			}
			return deploymentFromInfo(info), nil
		}
		spec := &provider.DeploymentSpec{Endpoint: e.Name, Name: name, Model: mv.Model, ModelVersion: mv.Version,
			ArtifactURI: mv.ArtifactURI, InstanceType: opts.InstanceType, Instances: instances,
			Metadata: map[string]string{metaModel: ref, metaPrincipal: req.Principal.ID, metaOperation: op.ID}}
		var info *provider.DeploymentInfo
		err := e.c.retry(ctx, e.Location.Provider, func() (err error) {
			info, err = srv.CreateDeployment(ctx, spec)
			return err
		})
		if provider.CodeOf(err) == AlreadyExists {
			// Ours after a lost response; another call's of the same
			// deployment is adopted as above.
			cur, gerr := srv.GetDeployment(ctx, e.Name, name)
			if gerr != nil {
				return nil, errorf(AlreadyExists, "endpoint %q already has a deployment %q", e.Name, name)
			}
			if cur.Metadata[metaOperation] != op.ID {
				if diff := deploymentDiff(deploymentFromInfo(cur), ref, opts.InstanceType, instances); diff != "" {
					return nil, errorf(AlreadyExists, "endpoint %q already has a deployment %q %s; pick another name, or delete it first", e.Name, name, diff)
				}
			}
			info, err = cur, nil
		}
		if err != nil {
			return nil, err
		}
		info, err = e.waitReady(ctx, srv, info)
		if err != nil {
			return nil, err
		}
		return deploymentFromInfo(info), nil
	})
	if err != nil {
		return nil, err
	}
	_ = e.Refresh(ctx) // the snapshot is a convenience; the deployment exists either way
	return res.(*Deployment), nil
}

// deploymentDiff says how an existing deployment differs from what a Deploy
// asks for, or "" when the call may adopt it.
func deploymentDiff(d *Deployment, ref, instanceType string, instances int) string {
	var diffs []string
	switch {
	case d.ModelRef == "":
		diffs = append(diffs, fmt.Sprintf("that was not deployed through Tideline (this call deploys %s)", ref))
	case d.ModelRef != ref:
		diffs = append(diffs, fmt.Sprintf("serving %s (this call deploys %s)", d.ModelRef, ref))
	}
	if instanceType != "" && d.InstanceType != instanceType {
		diffs = append(diffs, fmt.Sprintf("on instance type %q (this call asks for %q)", d.InstanceType, instanceType))
	}
	if d.Instances != instances {
		diffs = append(diffs, fmt.Sprintf("with %d instances (this call asks for %d)", d.Instances, instances))
	}
	return strings.Join(diffs, ", ")
}

func (e *Endpoint) waitReady(ctx context.Context, srv provider.Serving, info *provider.DeploymentInfo) (*provider.DeploymentInfo, error) {
	delay := e.c.opts.PollInterval
	for {
		switch info.State {
		case DeploymentReady:
			return info, nil
		case DeploymentFailed:
			return nil, errorf(FailedPrecondition, "deployment %s/%s failed: %s; delete it with DeleteDeployment and deploy again", info.Endpoint, info.Name, info.Message)
		}
		if err := sleep(ctx, delay); err != nil {
			return nil, err
		}
		delay = min(2*delay, e.c.opts.MaxPollInterval)
		err := e.c.retry(ctx, e.Location.Provider, func() (err error) {
			info, err = srv.GetDeployment(ctx, info.Endpoint, info.Name)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
}

// TrafficOptions configures SetTraffic.
type TrafficOptions struct {
	// Mirror, when not nil, replaces the mirror split: each share is the
	// percentage of requests copied to a deployment that has no live
	// traffic; they sum to at most 50.
	Mirror map[string]int
}

// SetTraffic replaces the live split. Shares are whole percentages summing
// to 100; deployments left out get none. The policy sees the change, and so
// does residency: every deployment whose share rises is checked against the
// endpoint's region with its model version's residency origins, the
// upstream datasets read again so that a later Dataset.Tighten binds, and
// must serve an approved model version when RequireApprovedModels is in
// force. The change ends a rollout in progress (its record is removed in
// the same atomic update), so a later AbortRollout restores nothing.
func (e *Endpoint) SetTraffic(ctx context.Context, split map[string]int, opts *TrafficOptions) error {
	var mirror map[string]int
	if opts != nil {
		mirror = opts.Mirror
	}
	if err := validateSplit("traffic", split, 100, true); err != nil {
		return fmt.Errorf("endpoint %q: %w", e.Name, err)
	}
	if mirror != nil {
		if err := validateSplit("mirror", mirror, 50, false); err != nil {
			return fmt.Errorf("endpoint %q: %w", e.Name, err)
		}
		for d, v := range mirror {
			if v > 0 && split[d] > 0 {
				return errorf(InvalidArgument, "endpoint %q: deployment %q cannot both receive live traffic (%d%%) and mirrored traffic (%d%%)", e.Name, d, split[d], v)
			}
		}
	}
	return e.changeTraffic(ctx, split, mirror, map[string]string{metaRollout: ""})
}

// validateSplit checks shares: names valid, each 0..100, summing to exactly
// want (exact) or at most want.
func validateSplit(what string, split map[string]int, want int, exact bool) error {
	sum := 0
	for _, d := range sortedKeys(split) {
		v := split[d]
		if err := provider.ValidateName(what+" deployment name", d); err != nil {
			return err
		}
		if v < 0 || v > 100 {
			return errorf(InvalidArgument, "%s share of %q is %d; shares are whole percentages from 0 to 100", what, d, v)
		}
		sum += v
	}
	if exact && sum != want {
		return errorf(InvalidArgument, "%s shares sum to %d; they must sum to %d", what, sum, want)
	}
	if !exact && sum > want {
		return errorf(InvalidArgument, "%s shares sum to %d; they may sum to at most %d", what, sum, want)
	}
	return nil
}

// changeTraffic reads the endpoint and then changes its traffic: the path
// of a change that names its whole result, as SetTraffic and Promote do.
func (e *Endpoint) changeTraffic(ctx context.Context, split, mirror map[string]int, meta map[string]string) error {
	if err := e.Refresh(ctx); err != nil {
		return err
	}
	return e.applyTraffic(ctx, split, mirror, meta, false)
}

// applyTraffic is the one governed path every traffic change takes. It
// decides on the snapshot e holds and writes only if the endpoint still has
// that snapshot's ETag, so a change decided on a stale read is a Conflict,
// never a lost update. meta is merged into the endpoint's metadata in the
// same atomic update. rollback marks a change to exactly the split recorded
// before a rollout began; it may give traffic back only to deployments that
// still exist, are ready and serve a model version that is not rejected,
// whatever the policy says, and is decided by the policy and residency like
// any other change.
func (e *Endpoint) applyTraffic(ctx context.Context, split, mirror map[string]int, meta map[string]string, rollback bool) error {
	srv, err := e.c.serving(e.Location.Provider)
	if err != nil {
		return err
	}
	if len(mirror) > 0 && !e.Capabilities.Mirror {
		return errorf(Unimplemented, "endpoint %q: provider %q (%s) cannot mirror traffic", e.Name, e.Location.Provider, e.c.providers[e.Location.Provider].Kind())
	}
	var blocked []string
	for _, d := range sortedKeys(split) {
		if e.Deployment(d) != nil {
			continue
		}
		if !rollback {
			// Every deployment named must exist, even with a share of 0: a
			// misspelt name is a mistake, not a no-op.
			return errorf(NotFound, "endpoint %q has no deployment %q; it has [%s]", e.Name, d, strings.Join(e.deploymentNames(), ", "))
		}
		if split[d] > 0 {
			blocked = append(blocked, fmt.Sprintf("deployment %q no longer exists", d))
		}
	}
	split = nonZero(split)
	if len(blocked) > 0 {
		return notRestorable(split, blocked)
	}
	for d := range mirror {
		if e.Deployment(d) == nil {
			return errorf(NotFound, "endpoint %q has no deployment %q to mirror to", e.Name, d)
		}
	}
	models, os, err := e.gaining(ctx, split)
	if err != nil {
		return err
	}
	if rollback {
		for _, d := range sortedKeys(models) {
			if dep := e.Deployment(d); dep.State != DeploymentReady {
				blocked = append(blocked, fmt.Sprintf("deployment %q is %s", d, dep.State))
			}
			if mv := models[d]; mv != nil && mv.Approval.State == ApprovalRejected {
				blocked = append(blocked, fmt.Sprintf("deployment %q serves model %s version %s, which is rejected", d, mv.Model, mv.Version))
			}
		}
		if len(blocked) > 0 {
			return notRestorable(split, blocked)
		}
	}
	tc := &TrafficChange{Endpoint: e.Name, Before: maps.Clone(e.Traffic), After: maps.Clone(split), Models: models, Rollback: rollback}
	req := &Request{Action: ActionTrafficSet, Target: fmtTarget("endpoint", e.Name) + " traffic " + fmtSplit(split), Location: e.Location, Traffic: tc, Origins: os}
	_, err = e.c.govern(ctx, req, func(ctx context.Context, op *Operation) (any, error) {
		upd := &provider.EndpointUpdate{Endpoint: e.Name, Traffic: split, Mirror: mirror, Metadata: meta, IfMatch: e.etag}
		var info *provider.EndpointInfo
		err := e.c.retry(ctx, e.Location.Provider, func() (err error) {
			info, err = srv.UpdateEndpoint(ctx, upd)
			return err
		})
		if provider.CodeOf(err) == Conflict {
			// After a lost response the retry finds the whole change
			// applied: the traffic and the metadata it wrote.
			cur, gerr := srv.GetEndpoint(ctx, e.Name)
			if gerr != nil || !applied(cur, upd) {
				msg := fmt.Sprintf("endpoint %q changed while its traffic was being set", e.Name)
				if gerr == nil {
					snap := &Endpoint{Name: e.Name, Traffic: nonZero(cur.Traffic), meta: cur.Metadata}
					msg += "; " + snap.holder()
				}
				return nil, errorf(Conflict, "%s; refresh it and retry", msg)
			}
			info, err = cur, nil
		}
		if err != nil {
			return nil, err
		}
		e.Traffic, e.Mirror, e.meta, e.etag = nonZero(info.Traffic), nonZero(info.Mirror), info.Metadata, info.ETag
		return e, nil
	})
	return err
}

// applied reports whether an endpoint shows everything upd wrote.
func applied(cur *provider.EndpointInfo, upd *provider.EndpointUpdate) bool {
	if !maps.Equal(nonZero(cur.Traffic), nonZero(upd.Traffic)) {
		return false
	}
	if upd.Mirror != nil && !maps.Equal(nonZero(cur.Mirror), nonZero(upd.Mirror)) {
		return false
	}
	for k, v := range upd.Metadata {
		if cur.Metadata[k] != v {
			return false
		}
	}
	return true
}

func notRestorable(split map[string]int, why []string) error {
	return errorf(FailedPrecondition, "the split before the rollout, %s, can no longer be restored: %s; choose a split with SetTraffic or Promote, which ends the rollout", fmtSplit(split), strings.Join(why, "; "))
}

// gaining resolves every deployment whose share rises above the snapshot's:
// its model version, read fresh from the registry so that the policy
// decides on the current approval, and the residency origins that bind it,
// with the upstream datasets read again so that a later tightening binds
// too. A deployment not made through Tideline maps to nil and adds no
// origins: the policy decides on it.
func (e *Endpoint) gaining(ctx context.Context, after map[string]int) (map[string]*ModelVersion, origins, error) {
	models := make(map[string]*ModelVersion, len(after))
	var os originSet
	for _, d := range sortedKeys(after) {
		if after[d] <= e.Traffic[d] {
			continue
		}
		dep := e.Deployment(d)
		pn, rest, ok := strings.Cut(dep.ModelRef, "/")
		model, version, ok2 := strings.Cut(rest, "@")
		if !ok || !ok2 {
			models[d] = nil
			continue
		}
		mv, err := e.c.Models(pn).Get(ctx, model, version)
		if err != nil {
			return nil, nil, fmt.Errorf("deployment %q serves %s: %w", d, dep.ModelRef, err)
		}
		models[d] = mv
		mo, err := e.c.refreshOrigins(ctx, mv.Origins)
		if err != nil {
			return nil, nil, fmt.Errorf("deployment %q of model %s version %s: %w", d, mv.Model, mv.Version, err)
		}
		os.add(mo...)
	}
	return models, os.list, nil
}

func (e *Endpoint) deploymentNames() []string {
	names := make([]string, len(e.Deployments))
	for i, d := range e.Deployments {
		names[i] = d.Name
	}
	return names
}

// Promote sends all traffic to one deployment and stops all mirroring. It
// is how an endpoint gets its first traffic, and it ends a rollout in
// progress (its record is removed in the same atomic update). It is governed
// as SetTraffic is: the deployment, if its share rises, must pass the policy
// and the residency of its model version's origins.
func (e *Endpoint) Promote(ctx context.Context, deployment string) error {
	if err := provider.ValidateName("deployment name", deployment); err != nil {
		return err
	}
	return e.changeTraffic(ctx, map[string]int{deployment: 100}, map[string]int{}, map[string]string{metaRollout: ""})
}

// DeleteDeployment deletes a deployment that receives no traffic.
func (e *Endpoint) DeleteDeployment(ctx context.Context, name string) error {
	if err := provider.ValidateName("deployment name", name); err != nil {
		return err
	}
	srv, err := e.c.serving(e.Location.Provider)
	if err != nil {
		return err
	}
	if err := e.Refresh(ctx); err != nil {
		return err
	}
	if e.Deployment(name) == nil {
		return errorf(NotFound, "endpoint %q has no deployment %q", e.Name, name)
	}
	if e.Traffic[name] > 0 || e.Mirror[name] > 0 {
		return errorf(FailedPrecondition, "deployment %s/%s still receives traffic (%d%% live, %d%% mirrored); move its traffic away first", e.Name, name, e.Traffic[name], e.Mirror[name])
	}
	dep := e.Deployment(name)
	req := &Request{Action: ActionDeploymentDelete, Target: fmtTarget("deployment", e.Name+"/"+name), Location: e.Location}
	_, err = e.c.govern(ctx, req, func(ctx context.Context, op *Operation) (any, error) {
		err := e.c.retry(ctx, e.Location.Provider, func() error { return srv.DeleteDeployment(ctx, e.Name, name) })
		if provider.CodeOf(err) == NotFound {
			err = nil // deleted by a try whose response was lost
		}
		return dep, err
	})
	if err != nil {
		return err
	}
	return e.Refresh(ctx)
}

// Delete deletes the endpoint and all its deployments.
func (e *Endpoint) Delete(ctx context.Context) error {
	srv, err := e.c.serving(e.Location.Provider)
	if err != nil {
		return err
	}
	if err := e.Refresh(ctx); err != nil {
		return err
	}
	req := &Request{Action: ActionEndpointDelete, Target: fmtTarget("endpoint", e.Name), Location: e.Location}
	_, err = e.c.govern(ctx, req, func(ctx context.Context, op *Operation) (any, error) {
		err := e.c.retry(ctx, e.Location.Provider, func() error { return srv.DeleteEndpoint(ctx, e.Name) })
		if provider.CodeOf(err) == NotFound {
			err = nil // deleted by a try whose response was lost
		}
		return e, err
	})
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// fmtSplit formats a split deterministically: "blue=90,green=10".
func fmtSplit(split map[string]int) string {
	var b strings.Builder
	for i, k := range sortedKeys(split) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%d", k, split[k])
	}
	return "{" + b.String() + "}"
}

// ListEndpoints yields the endpoints of every provider that serves, with
// their deployments, ordered by provider name and then by endpoint name. A
// failure is yielded once, with a nil *Endpoint, and ends the sequence.
func (c *Client) ListEndpoints(ctx context.Context) iter.Seq2[*Endpoint, error] {
	return func(yield func(*Endpoint, error) bool) {
		for _, pn := range c.capable(hasServing) {
			srv, _ := c.serving(pn)
			var infos []*provider.EndpointInfo
			err := c.retry(ctx, pn, func() (err error) {
				infos, err = srv.ListEndpoints(ctx)
				return err
			})
			if err != nil {
				yield(nil, err)
				return
			}
			for _, in := range infos {
				e := &Endpoint{Name: in.Name, Location: Location{Provider: pn}, c: c}
				if err := e.Refresh(ctx); err != nil {
					if Code(err) == NotFound {
						continue // deleted since the listing
					}
					yield(nil, err)
					return
				}
				if !yield(e, nil) {
					return
				}
			}
		}
	}
}
