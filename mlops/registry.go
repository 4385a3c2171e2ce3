package mlops

import (
	"context"
	"fmt"
	"iter"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
)

// ApprovalState is a model version's review state.
type ApprovalState = provider.ApprovalState

// The approval states: every version starts Pending and moves once to
// Approved or Rejected; an approved version may later be rejected (revoked),
// a rejected one is final.
const (
	ApprovalPending  = provider.ApprovalPending
	ApprovalApproved = provider.ApprovalApproved
	ApprovalRejected = provider.ApprovalRejected
)

// Approval records a review decision.
type Approval = provider.Approval

// ModelVersion is one registered version of a model.
type ModelVersion struct {
	Model, Version string
	Location       Location
	ArtifactURI    string
	Framework      string
	Metrics        map[string]float64
	Tags           map[string]string
	Approval       Approval
	// SourceJob is the ID of the job that produced the artifact, if any,
	// and TrainedBy the principal that submitted it.
	SourceJob, TrainedBy string
	// RegisteredBy is the principal that registered the version.
	RegisteredBy string
	// DerivedFrom are the datasets named by RegisterOptions.DerivedFrom.
	DerivedFrom []DatasetRef
	// Origins are the residency constraints recorded with the version: one
	// per dataset its job read or it names in DerivedFrom, as they were at
	// registration, or the restricted origin of an artifact Tideline could
	// not trace. Constraint is where what binds it now overlaps, and
	// Classification the most sensitive of that; every decision reads the
	// upstream datasets again, so a later tightening binds too. A
	// deployment must sit inside Constraint.
	Origins        []Origin
	Constraint     residency.Constraint
	Classification residency.Classification
	Created        time.Time

	etag string
}

// ModelRegistry registers, reviews and aliases model versions in one
// provider's registry. Get one from Client.Models.
type ModelRegistry struct {
	c    *Client
	name string
	err  error
}

// Models returns the registry of the named provider, or of the only provider
// that has one when providerName is empty. A registry that cannot be resolved
// reports why on every call.
func (c *Client) Models(providerName string) *ModelRegistry {
	name, err := c.resolveProvider("registry provider", providerName, provider.CapRegistry, hasRegistry)
	return &ModelRegistry{c: c, name: name, err: err}
}

// ModelSource says where a model version's artifact comes from: the output
// of a succeeded job, or an artifact URI.
type ModelSource struct {
	// Job is a TrainJob ID; the artifact is the job's output.
	Job string
	// ArtifactURI is used when Job is empty. A URI inside the output of a
	// job of this Client's providers (its OutputURI or a path below it)
	// resolves to that job: the version gets the job's origins and its
	// trainer, as with Job. Any other URI cannot be traced, so the version
	// is treated as restricted data unless RegisterOptions.DerivedFrom names
	// the datasets it was made from. The URI must not carry credentials:
	// one with user information or a query string is refused.
	ArtifactURI string
}

// RegisterOptions configures Register.
type RegisterOptions struct {
	// Location is where the version is registered. Provider may be empty
	// (it is the registry's, from Client.Models) and must otherwise name
	// the same provider; Region may be empty when the registry has one.
	Location  Location
	Framework string
	Metrics   map[string]float64
	Tags      map[string]string
	// DerivedFrom names the datasets a model was trained on, so that it
	// inherits their constraints, and so that lineage links them to it. A
	// model from a Job inherits its inputs' constraints without this; one
	// from an ArtifactURI Tideline cannot trace is restricted without it.
	DerivedFrom []DatasetRef
}

// Register adds the next version of model: versions are whole numbers from
// 1, monotonic per model even when several callers register at once. The
// version starts Pending approval.
func (r *ModelRegistry) Register(ctx context.Context, model string, src ModelSource, opts *RegisterOptions) (*ModelVersion, error) {
	if r.err != nil {
		return nil, r.err
	}
	if opts == nil {
		opts = &RegisterOptions{}
	}
	if err := provider.ValidateName("model name", model); err != nil {
		return nil, err
	}
	if (src.Job == "") == (src.ArtifactURI == "") {
		return nil, errorf(InvalidArgument, "model %q: ModelSource needs exactly one of Job and ArtifactURI", model)
	}
	if src.ArtifactURI != "" {
		if err := validateArtifactURI(model, src.ArtifactURI); err != nil {
			return nil, err
		}
	}
	if err := provider.ValidateMetadata("model tags", opts.Tags); err != nil {
		return nil, err
	}
	for k, v := range opts.Metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errorf(InvalidArgument, "model %q: metric %q is %v; metrics must be finite numbers", model, k, v)
		}
		if !validEnvName(k) {
			return nil, errorf(InvalidArgument, "model %q: metric name %q is not valid; use letters, digits and '_'", model, k)
		}
	}
	if opts.Location.Provider != "" && opts.Location.Provider != r.name {
		return nil, errorf(InvalidArgument, "model %q: RegisterOptions.Location.Provider is %q but this is the registry of provider %q; use Client.Models(%q)", model, opts.Location.Provider, r.name, opts.Location.Provider)
	}
	loc, err := r.c.resolveLocation("RegisterOptions.Location", Location{Provider: r.name, Region: opts.Location.Region}, provider.CapRegistry, hasRegistry)
	if err != nil {
		return nil, err
	}
	reg, _ := r.c.registry(loc.Provider)

	mv := &ModelVersion{Model: model, Location: loc, ArtifactURI: src.ArtifactURI, Framework: opts.Framework,
		Metrics: cloneMap(opts.Metrics), Tags: cloneMap(opts.Tags), Approval: Approval{State: ApprovalPending}}
	var job *TrainJob
	if src.Job != "" {
		job, err = r.c.GetJob(ctx, src.Job)
		if err != nil {
			return nil, fmt.Errorf("model %q source: %w", model, err)
		}
		if job.State != JobSucceeded {
			return nil, errorf(FailedPrecondition, "model %q: job %s is %s; register a model from a job once it succeeded", model, job.ID, job.State)
		}
		if job.originsErr != nil {
			return nil, job.originsErr
		}
		mv.ArtifactURI = job.OutputURI
		mv.SourceJob, mv.TrainedBy = job.ID, job.SubmittedBy
	}
	var from originSet
	if job != nil {
		from.add(job.Origins...)
	} else {
		traced, untraced, err := r.c.traceArtifact(ctx, model, src.ArtifactURI)
		if err != nil {
			return nil, err
		}
		if traced != nil {
			if traced.originsErr != nil {
				return nil, traced.originsErr
			}
			job = traced
			mv.SourceJob, mv.TrainedBy = traced.ID, traced.SubmittedBy
			from.add(traced.Origins...)
		} else if len(opts.DerivedFrom) == 0 {
			// Nothing says where the artifact's data came from: it is
			// treated as the most sensitive data could be.
			from.add(untraced)
		}
	}
	known := map[string]origins{}
	for i, ref := range opts.DerivedFrom {
		d, err := r.c.GetDataset(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("model %q DerivedFrom[%d]: %w", model, i, err)
		}
		a := datasetArtifact(d.Location.Provider, d.Name, d.Version)
		if known[a], err = d.origins(); err != nil {
			return nil, fmt.Errorf("model %q DerivedFrom[%d]: %w", model, i, err)
		}
		from.add(Origin{Artifact: a})
		mv.DerivedFrom = append(mv.DerivedFrom, d.Ref())
	}
	recorded, os, err := r.c.inheritAll(ctx, from.list, known)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", model, err)
	}
	mv.Origins, mv.Constraint, mv.Classification = recorded, os.constraint(), os.classification()
	req := &Request{Action: ActionModelRegister, Target: fmtTarget("model", model), Location: loc, Model: mv, Origins: os}
	if job != nil {
		req.Job = &job.Spec
	}
	res, err := r.c.govern(ctx, req, func(ctx context.Context, op *Operation) (any, error) {
		md := map[string]string{metaPrincipal: req.Principal.ID, metaOperation: op.ID}
		if job != nil {
			md[metaSourceJob] = job.ID
			md[metaTrainedBy] = job.SubmittedBy
		}
		if err := putOrigins(md, "model "+model, recorded); err != nil {
			return nil, err
		}
		stripEmpty(md)
		if len(mv.DerivedFrom) > 0 {
			md[metaDerivedFrom] = joinRefs(mv.DerivedFrom)
		}
		// Pick the next number; on a race another caller took it, so try
		// the one after. A lost response shows up as AlreadyExists for our
		// own version, recognised by the operation id.
		for attempt := 0; attempt < 16; attempt++ {
			version, err := r.nextVersion(ctx, reg, model)
			if err != nil {
				return nil, err
			}
			spec := &provider.ModelVersionSpec{Model: model, Version: version, Region: loc.Region,
				ArtifactURI: mv.ArtifactURI, Framework: mv.Framework, Metrics: mv.Metrics, Tags: mv.Tags,
				Metadata: md, Approval: mv.Approval}
			var info *provider.ModelVersionInfo
			err = r.c.retry(ctx, loc.Provider, func() (err error) {
				info, err = reg.CreateModelVersion(ctx, spec)
				return err
			})
			if provider.CodeOf(err) == AlreadyExists {
				existing, gerr := reg.GetModelVersion(ctx, model, version)
				if gerr == nil && existing.Metadata[metaOperation] == op.ID {
					return r.fromInfo(loc.Provider, existing)
				}
				continue
			}
			if err != nil {
				return nil, err
			}
			return r.fromInfo(loc.Provider, info)
		}
		return nil, errorf(Conflict, "model %q: could not claim a version number after 16 attempts; too many concurrent registrations, retry", model)
	})
	if err != nil {
		return nil, err
	}
	return res.(*ModelVersion), nil
}

// nextVersion returns the number after the model's highest version, "1"
// for a model without one.
func (r *ModelRegistry) nextVersion(ctx context.Context, reg provider.Registry, model string) (string, error) {
	latest, err := r.latestVersion(ctx, reg, model)
	if provider.CodeOf(err) == NotFound {
		return "1", nil
	}
	if err != nil {
		return "", err
	}
	n, _ := provider.VersionNumber(latest)
	return strconv.FormatUint(n+1, 10), nil
}

// latestVersion returns the model's highest version number. A registry
// that keeps it (provider.LatestModelVersionReader) answers at once; any
// other is listed, which costs time in the number of versions. Errors:
// NotFound when the model has no version.
func (r *ModelRegistry) latestVersion(ctx context.Context, reg provider.Registry, model string) (string, error) {
	var latest string
	err := r.c.retry(ctx, r.name, func() error {
		if lr, ok := reg.(provider.LatestModelVersionReader); ok {
			info, err := lr.LatestModelVersion(ctx, model)
			if err == nil {
				latest = info.Version
			}
			return err
		}
		infos, err := reg.ListModelVersions(ctx, model)
		if err != nil {
			return err
		}
		var highest uint64
		for _, in := range infos {
			if n, ok := provider.VersionNumber(in.Version); ok && n > highest {
				highest, latest = n, in.Version
			}
		}
		return nil
	})
	if err == nil && latest == "" || provider.CodeOf(err) == NotFound {
		return "", errorf(NotFound, "model %q has no version", model)
	}
	return latest, err
}

func (r *ModelRegistry) fromInfo(providerName string, in *provider.ModelVersionInfo) (*ModelVersion, error) {
	os, err := r.c.readOrigins("model "+providerName+"/"+in.Model+"@"+in.Version, in.Metadata, "")
	if err != nil {
		return nil, err
	}
	return &ModelVersion{
		Model: in.Model, Version: in.Version,
		Location:    Location{Provider: providerName, Region: in.Region},
		ArtifactURI: in.ArtifactURI, Framework: in.Framework,
		Metrics: in.Metrics, Tags: in.Tags, Approval: in.Approval,
		SourceJob:      in.Metadata[metaSourceJob],
		TrainedBy:      in.Metadata[metaTrainedBy],
		RegisteredBy:   in.Metadata[metaPrincipal],
		Origins:        os,
		DerivedFrom:    splitRefs(in.Metadata[metaDerivedFrom]),
		Constraint:     origins(os).constraint(),
		Classification: origins(os).classification(),
		Created:        in.Created,
		etag:           in.ETag,
	}, nil
}

// Get returns a model version; versionOrAlias may also be an alias such as
// "champion", or empty for the latest version (the highest number).
func (r *ModelRegistry) Get(ctx context.Context, model, versionOrAlias string) (*ModelVersion, error) {
	if r.err != nil {
		return nil, r.err
	}
	if err := provider.ValidateName("model name", model); err != nil {
		return nil, err
	}
	reg, _ := r.c.registry(r.name)
	version := versionOrAlias
	if version == "" {
		latest, err := r.latestVersion(ctx, reg, model)
		if err != nil {
			return nil, err
		}
		version = latest
	}
	if provider.ValidateModelVersion("", version) != nil {
		if err := provider.ValidateName("model version or alias", versionOrAlias); err != nil {
			return nil, err
		}
		var aliases map[string]string
		err := r.c.retry(ctx, r.name, func() (err error) {
			aliases, err = reg.Aliases(ctx, model)
			return err
		})
		if err != nil {
			return nil, err
		}
		v, ok := aliases[versionOrAlias]
		if !ok {
			return nil, errorf(NotFound, "model %q has no alias %q", model, versionOrAlias)
		}
		version = v
	}
	var info *provider.ModelVersionInfo
	err := r.c.retry(ctx, r.name, func() (err error) {
		info, err = reg.GetModelVersion(ctx, model, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r.fromInfo(r.name, info)
}

// ListModels yields the names of the registry's models that have a
// version, in ascending order. A failure is yielded once, with an empty
// name, and ends the sequence.
func (r *ModelRegistry) ListModels(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if r.err != nil {
			yield("", r.err)
			return
		}
		reg, _ := r.c.registry(r.name)
		var names []string
		err := r.c.retry(ctx, r.name, func() (err error) {
			names, err = reg.ListModels(ctx)
			return err
		})
		if err != nil {
			yield("", err)
			return
		}
		for _, n := range names {
			if !yield(n, nil) {
				return
			}
		}
	}
}

// List yields a model's versions in ascending order. A failure is yielded
// once, with a nil *ModelVersion, and ends the sequence.
func (r *ModelRegistry) List(ctx context.Context, model string) iter.Seq2[*ModelVersion, error] {
	return func(yield func(*ModelVersion, error) bool) {
		if r.err != nil {
			yield(nil, r.err)
			return
		}
		if err := provider.ValidateName("model name", model); err != nil {
			yield(nil, err)
			return
		}
		reg, _ := r.c.registry(r.name)
		var infos []*provider.ModelVersionInfo
		err := r.c.retry(ctx, r.name, func() (err error) {
			infos, err = reg.ListModelVersions(ctx, model)
			return err
		})
		if err != nil {
			yield(nil, err)
			return
		}
		for _, in := range infos {
			mv, err := r.fromInfo(r.name, in)
			if !yield(mv, err) || err != nil {
				return
			}
		}
	}
}

// Aliases returns alias → version for a model.
func (r *ModelRegistry) Aliases(ctx context.Context, model string) (map[string]string, error) {
	if r.err != nil {
		return nil, r.err
	}
	if err := provider.ValidateName("model name", model); err != nil {
		return nil, err
	}
	reg, _ := r.c.registry(r.name)
	var out map[string]string
	err := r.c.retry(ctx, r.name, func() (err error) {
		out, err = reg.Aliases(ctx, model)
		return err
	})
	return out, err
}

// SetAlias points alias at a version, atomically: readers of the alias see
// the old or the new version, never neither.
func (r *ModelRegistry) SetAlias(ctx context.Context, model, alias, version string) error {
	if r.err != nil {
		return r.err
	}
	if err := provider.ValidateName("alias", alias); err != nil {
		return err
	}
	if err := provider.ValidateModelVersion("model version", version); err != nil {
		return err
	}
	mv, err := r.Get(ctx, model, version)
	if err != nil {
		return err
	}
	reg, _ := r.c.registry(r.name)
	req := &Request{Action: ActionModelAlias, Target: fmtTarget("model", model, version) + " as " + alias, Location: mv.Location, Model: mv}
	_, err = r.c.govern(ctx, req, func(ctx context.Context, op *Operation) (any, error) {
		return mv, r.c.retry(ctx, r.name, func() error { return reg.SetAlias(ctx, model, alias, version) })
	})
	return err
}

// Approve marks a Pending version Approved, recording who and why. mv is a
// version from Register, Get or List of this registry; its approval is read
// again, so a stale copy cannot approve what was since rejected.
//
// Approving again what the same principal approved already succeeds and
// changes nothing, so a call retried after a lost response is harmless; a
// version someone else reviewed, or that was rejected, is
// FailedPrecondition.
func (r *ModelRegistry) Approve(ctx context.Context, mv *ModelVersion, comment string) (*ModelVersion, error) {
	return r.review(ctx, mv, ApprovalApproved, ActionModelApprove, comment)
}

// Reject marks a Pending or Approved version Rejected (a revoked approval).
// Rejecting again what the same principal rejected already succeeds and
// changes nothing.
func (r *ModelRegistry) Reject(ctx context.Context, mv *ModelVersion, comment string) (*ModelVersion, error) {
	return r.review(ctx, mv, ApprovalRejected, ActionModelReject, comment)
}

func (r *ModelRegistry) review(ctx context.Context, given *ModelVersion, to ApprovalState, action Action, comment string) (*ModelVersion, error) {
	if r.err != nil {
		return nil, r.err
	}
	if given == nil || given.Model == "" || given.Version == "" {
		return nil, errorf(InvalidArgument, "%s: the model version is missing; pass one from ModelRegistry.Register, Get or List", action)
	}
	if given.Location.Provider != "" && given.Location.Provider != r.name {
		return nil, errorf(InvalidArgument, "model %s version %s is in the registry of provider %q, not %q; use Client.Models(%q)", given.Model, given.Version, given.Location.Provider, r.name, given.Location.Provider)
	}
	model, version := given.Model, given.Version
	if err := provider.ValidateModelVersion("model version", version); err != nil {
		return nil, err
	}
	if len(comment) > provider.MaxMetaValueLen {
		return nil, errorf(InvalidArgument, "review comment has %d bytes; the limit is %d", len(comment), provider.MaxMetaValueLen)
	}
	mv, err := r.Get(ctx, model, version)
	if err != nil {
		return nil, err
	}
	from := mv.Approval.State
	if from == to {
		who, err := r.c.principal(ctx)
		if err != nil {
			return nil, err
		}
		if samePrincipal(who.ID, mv.Approval.By) {
			return mv, nil // done already, by this principal: a retry
		}
		return nil, errorf(FailedPrecondition, "model %s version %s was %s already by %s; a decision is made once (register a new version instead)", model, version, strings.ToLower(string(from)), mv.Approval.By)
	}
	if from == ApprovalRejected {
		return nil, errorf(FailedPrecondition, "model %s version %s is rejected; it cannot become %s (register a new version instead)", model, version, strings.ToLower(string(to)))
	}
	reg, _ := r.c.registry(r.name)
	req := &Request{Action: action, Target: fmtTarget("model", model, version), Location: mv.Location, Model: mv}
	res, err := r.c.govern(ctx, req, func(ctx context.Context, op *Operation) (any, error) {
		upd := &provider.ModelVersionUpdate{Model: model, Version: version, IfMatch: mv.etag,
			Approval: &Approval{State: to, By: req.Principal.ID, Comment: comment, At: r.c.opts.Now().UTC()}}
		var info *provider.ModelVersionInfo
		err := r.c.retry(ctx, r.name, func() (err error) {
			info, err = reg.UpdateModelVersion(ctx, upd)
			return err
		})
		if provider.CodeOf(err) == Conflict {
			// A retry after a lost response finds its own change applied.
			if cur, gerr := reg.GetModelVersion(ctx, model, version); gerr == nil && cur.Approval.State == to &&
				samePrincipal(req.Principal.ID, cur.Approval.By) && cur.Approval.Comment == comment {
				return r.fromInfo(r.name, cur)
			}
			return nil, errorf(Conflict, "model %s version %s changed while it was being reviewed; read it again and retry", model, version)
		}
		if err != nil {
			return nil, err
		}
		return r.fromInfo(r.name, info)
	})
	if err != nil {
		return nil, err
	}
	return res.(*ModelVersion), nil
}

// traceArtifact finds the job whose output holds uri. When none does, it
// returns the origin of an untraceable artifact: restricted, the strictest
// classification. Two jobs with different trainers writing to the same
// place make the URI ambiguous: separation of duties could not know who
// trained it.
func (c *Client) traceArtifact(ctx context.Context, model, uri string) (*TrainJob, Origin, error) {
	var found *TrainJob
	for j, err := range c.ListJobs(ctx) {
		if err != nil {
			return nil, Origin{}, fmt.Errorf("model %q: looking for the job that wrote %s: %w", model, uri, err)
		}
		out := strings.TrimSuffix(j.OutputURI, "/")
		if out == "" || (uri != out && !strings.HasPrefix(uri, out+"/")) {
			continue
		}
		if found != nil && found.SubmittedBy != j.SubmittedBy {
			return nil, Origin{}, errorf(FailedPrecondition, "model %q: %s lies in the outputs of jobs %s and %s, submitted by different principals; register it from the job that produced it (ModelSource.Job)", model, uri, found.ID, j.ID)
		}
		if found == nil || len(j.OutputURI) > len(found.OutputURI) {
			if found != nil {
				j.Origins = origins(j.Origins).merge(found.Origins...)
			}
			found = j
		} else {
			found.Origins = origins(found.Origins).merge(j.Origins...)
		}
	}
	if found != nil {
		if found.State != JobSucceeded {
			return nil, Origin{}, errorf(FailedPrecondition, "model %q: %s is the output of job %s, which is %s; register it once the job succeeded", model, uri, found.ID, found.State)
		}
		return found, Origin{}, nil
	}
	rule, err := c.opts.Rules.For(residency.Restricted)
	if err != nil {
		return nil, Origin{}, errorf(InvalidArgument, "model %q: %v", model, err)
	}
	return nil, Origin{Artifact: "artifact " + uri, Classification: residency.Restricted, Rule: rule.Name + " (untraced artifact)", Constraint: rule.Constraint}, nil
}

// validateArtifactURI refuses a URI that is not absolute or that could carry
// a credential, without echoing it.
func validateArtifactURI(model, uri string) error {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "" && u.Path == "") {
		return errorf(InvalidArgument, "model %q: ArtifactURI is not an absolute URI (scheme://location/path)", model)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(uri, " \t\r\n") {
		return errorf(InvalidArgument, "model %q: ArtifactURI carries user information, a query string, a fragment or white space; registries keep the URI in the clear, so pass it without credentials (grant the registry access instead)", model)
	}
	return nil
}
