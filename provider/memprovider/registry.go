package memprovider

import (
	"cmp"
	"context"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/tideline-ml/tideline/provider"
)

type model struct {
	versions map[string]*provider.ModelVersionInfo
	aliases  map[string]string // alias → version
	// latest is the version with the highest number (LatestModelVersion);
	// versions are never deleted, so it only moves up.
	latest        *provider.ModelVersionInfo
	latestVersion uint64
}

func copyModelVersion(v *provider.ModelVersionInfo) *provider.ModelVersionInfo {
	out := *v
	out.Metrics = cloneFloats(v.Metrics)
	out.Tags = cloneStrings(v.Tags)
	out.Metadata = cloneStrings(v.Metadata)
	return &out
}

func checkApproval(s provider.ApprovalState) error {
	switch s {
	case provider.ApprovalPending, provider.ApprovalApproved, provider.ApprovalRejected:
		return nil
	}
	return provider.Errorf(provider.InvalidArgument, "approval state %q is not one of %s, %s, %s", s, provider.ApprovalPending, provider.ApprovalApproved, provider.ApprovalRejected)
}

func (p *Provider) validateModelVersionSpec(spec *provider.ModelVersionSpec) error {
	if spec == nil {
		return provider.Errorf(provider.InvalidArgument, "CreateModelVersion needs a spec; got nil")
	}
	if err := provider.ValidateName("model name", spec.Model); err != nil {
		return err
	}
	if err := provider.ValidateModelVersion("model version", spec.Version); err != nil {
		return err
	}
	if err := p.checkRegion("model region", spec.Region); err != nil {
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
			return provider.Errorf(provider.InvalidArgument, "model metric %q = %v is not valid: metrics need a name and a finite value", k, v)
		}
	}
	if spec.Approval.State != "" {
		return checkApproval(spec.Approval.State)
	}
	return nil
}

// CreateModelVersion stores a new version. An empty Approval.State becomes
// Pending; an empty ArtifactURI becomes "mem://NAME/models/<model>/<version>".
// Errors: AlreadyExists; InvalidArgument for bad names, a region the provider
// lacks, bad tags or metadata, a metric that is NaN or infinite, or an
// unknown approval state.
func (p *Provider) CreateModelVersion(ctx context.Context, spec *provider.ModelVersionSpec) (*provider.ModelVersionInfo, error) {
	target := ""
	if spec != nil {
		target = spec.Model + "@" + spec.Version
	}
	c, err := p.enter(ctx, "CreateModelVersion", target)
	if err != nil {
		return nil, err
	}
	info, err := p.createModelVersion(spec)
	return finish(c, info, err)
}

func (p *Provider) createModelVersion(spec *provider.ModelVersionSpec) (*provider.ModelVersionInfo, error) {
	if err := p.validateModelVersionSpec(spec); err != nil {
		return nil, err
	}
	v := &provider.ModelVersionInfo{ModelVersionSpec: *spec}
	v.Metrics = cloneFloats(spec.Metrics)
	v.Tags = cloneStrings(spec.Tags)
	v.Metadata = cloneStrings(spec.Metadata)
	v.Approval.State = cmp.Or(v.Approval.State, provider.ApprovalPending)
	v.ArtifactURI = cmp.Or(v.ArtifactURI, p.uri("models", spec.Model, spec.Version))

	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.models[spec.Model]
	if m == nil {
		m = &model{versions: make(map[string]*provider.ModelVersionInfo), aliases: make(map[string]string)}
		p.models[spec.Model] = m
	}
	if _, ok := m.versions[spec.Version]; ok {
		return nil, provider.Errorf(provider.AlreadyExists, "model %q version %s already exists; register the next version number instead", spec.Model, spec.Version)
	}
	v.Created = p.now()
	v.ETag = p.tagLocked()
	m.versions[spec.Version] = v
	if n, _ := provider.VersionNumber(spec.Version); m.latest == nil || n > m.latestVersion {
		m.latest, m.latestVersion = v, n
	}
	return copyModelVersion(v), nil
}

func (p *Provider) modelVersionLocked(model, version string) (*provider.ModelVersionInfo, error) {
	m := p.models[model]
	if m == nil || len(m.versions) == 0 {
		return nil, provider.Errorf(provider.NotFound, "model %q does not exist; register a version with CreateModelVersion first", model)
	}
	v, ok := m.versions[version]
	if !ok {
		return nil, provider.Errorf(provider.NotFound, "model %q has no version %q; ListModelVersions shows the versions it has", model, version)
	}
	return v, nil
}

// GetModelVersion returns one version. Errors: NotFound.
func (p *Provider) GetModelVersion(ctx context.Context, model, version string) (*provider.ModelVersionInfo, error) {
	c, err := p.enter(ctx, "GetModelVersion", model+"@"+version)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	v, err := p.modelVersionLocked(model, version)
	var info *provider.ModelVersionInfo
	if err == nil {
		info = copyModelVersion(v)
	}
	p.mu.Unlock()
	return finish(c, info, err)
}

// LatestModelVersion returns the version of model with the highest
// number, kept as versions are created, so that it costs the same however
// many versions the model has. Errors: NotFound when the model has no
// version.
func (p *Provider) LatestModelVersion(ctx context.Context, model string) (*provider.ModelVersionInfo, error) {
	c, err := p.enter(ctx, "LatestModelVersion", model)
	if err != nil {
		return nil, err
	}
	if err := provider.ValidateName("model name", model); err != nil {
		return finish[*provider.ModelVersionInfo](c, nil, err)
	}
	p.mu.Lock()
	var info *provider.ModelVersionInfo
	if m := p.models[model]; m != nil && m.latest != nil {
		info = copyModelVersion(m.latest)
	} else {
		err = provider.Errorf(provider.NotFound, "model %q has no version; register one with CreateModelVersion first", model)
	}
	p.mu.Unlock()
	return finish(c, info, err)
}

// ListModelVersions returns a model's versions in ascending numeric order;
// an unknown model gives an empty list.
// ListModels implements provider.Registry.
func (p *Provider) ListModels(ctx context.Context) ([]string, error) {
	c, err := p.enter(ctx, "ListModels", "")
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	out := make([]string, 0, len(p.models))
	for name, m := range p.models {
		if len(m.versions) > 0 {
			out = append(out, name)
		}
	}
	p.mu.Unlock()
	slices.Sort(out)
	return finish(c, out, nil)
}

// ListModelVersions implements provider.Registry.
func (p *Provider) ListModelVersions(ctx context.Context, model string) ([]*provider.ModelVersionInfo, error) {
	c, err := p.enter(ctx, "ListModelVersions", model)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	var out []*provider.ModelVersionInfo
	if m := p.models[model]; m != nil {
		out = make([]*provider.ModelVersionInfo, 0, len(m.versions))
		for _, v := range m.versions {
			out = append(out, copyModelVersion(v))
		}
	}
	p.mu.Unlock()
	// Versions passed ValidateModelVersion, so they parse.
	slices.SortFunc(out, func(a, b *provider.ModelVersionInfo) int {
		x, _ := strconv.ParseUint(a.Version, 10, 64)
		y, _ := strconv.ParseUint(b.Version, 10, 64)
		return cmp.Compare(x, y)
	})
	if out == nil {
		out = []*provider.ModelVersionInfo{}
	}
	return finish(c, out, nil)
}

// UpdateModelVersion replaces the approval (when upd.Approval is not nil; a
// zero At becomes the clock's time) and merges tags and metadata, an empty
// value deleting a key. Every successful update gives a new ETag. Errors:
// NotFound; Conflict if upd.IfMatch is not empty and stale; InvalidArgument
// for bad tags, metadata or approval state.
func (p *Provider) UpdateModelVersion(ctx context.Context, upd *provider.ModelVersionUpdate) (*provider.ModelVersionInfo, error) {
	target := ""
	if upd != nil {
		target = upd.Model + "@" + upd.Version
	}
	c, err := p.enter(ctx, "UpdateModelVersion", target)
	if err != nil {
		return nil, err
	}
	info, err := p.updateModelVersion(upd)
	return finish(c, info, err)
}

func (p *Provider) updateModelVersion(upd *provider.ModelVersionUpdate) (*provider.ModelVersionInfo, error) {
	if upd == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "UpdateModelVersion needs an update; got nil")
	}
	if err := provider.ValidateMetadata("model tags", upd.Tags); err != nil {
		return nil, err
	}
	if err := provider.ValidateMetadata("model metadata", upd.Metadata); err != nil {
		return nil, err
	}
	if upd.Approval != nil {
		if err := checkApproval(upd.Approval.State); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.modelVersionLocked(upd.Model, upd.Version)
	if err != nil {
		return nil, err
	}
	if upd.IfMatch != "" && upd.IfMatch != v.ETag {
		return nil, provider.Errorf(provider.Conflict, "model %q version %s changed since it was read (ETag %q, now %q); read it again and reapply the change", upd.Model, upd.Version, upd.IfMatch, v.ETag)
	}
	tags := merged(v.Tags, upd.Tags)
	if err := provider.ValidateMetadata("model tags after the merge", tags); err != nil {
		return nil, err
	}
	md := merged(v.Metadata, upd.Metadata)
	if err := provider.ValidateMetadata("model metadata after the merge", md); err != nil {
		return nil, err
	}
	v.Tags, v.Metadata = tags, md
	if upd.Approval != nil {
		v.Approval = *upd.Approval
		if v.Approval.At.IsZero() {
			v.Approval.At = p.now()
		}
	}
	v.ETag = p.tagLocked()
	return copyModelVersion(v), nil
}

// SetAlias points alias at version. The move happens under one lock, so a
// reader sees the old version or the new one. Errors: NotFound if the version
// does not exist; InvalidArgument for a bad alias name.
func (p *Provider) SetAlias(ctx context.Context, model, alias, version string) error {
	c, err := p.enter(ctx, "SetAlias", model+"/"+alias)
	if err != nil {
		return err
	}
	return c.exit(p.setAlias(model, alias, version))
}

func (p *Provider) setAlias(model, alias, version string) error {
	if err := provider.ValidateName("alias", alias); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.modelVersionLocked(model, version); err != nil {
		return err
	}
	p.models[model].aliases[alias] = version
	return nil
}

// DeleteAlias removes an alias. Errors: NotFound.
func (p *Provider) DeleteAlias(ctx context.Context, model, alias string) error {
	c, err := p.enter(ctx, "DeleteAlias", model+"/"+alias)
	if err != nil {
		return err
	}
	p.mu.Lock()
	m := p.models[model]
	if m != nil {
		if _, ok := m.aliases[alias]; ok {
			delete(m.aliases, alias)
		} else {
			m = nil
		}
	}
	p.mu.Unlock()
	if m == nil {
		err = provider.Errorf(provider.NotFound, "model %q has no alias %q; Aliases shows the aliases it has", model, alias)
	}
	return c.exit(err)
}

// Aliases returns a copy of alias → version for a model; empty, not nil, for
// a model without aliases or an unknown model.
func (p *Provider) Aliases(ctx context.Context, model string) (map[string]string, error) {
	c, err := p.enter(ctx, "Aliases", model)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	p.mu.Lock()
	if m := p.models[model]; m != nil {
		for k, v := range m.aliases {
			out[k] = v
		}
	}
	p.mu.Unlock()
	return finish(c, out, nil)
}
