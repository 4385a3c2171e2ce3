package mlops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
	"github.com/tideline-ml/tideline/secret"
)

// JobState is where a training job is in its life.
type JobState = provider.JobState

// The job states.
const (
	JobQueued    = provider.JobQueued
	JobRunning   = provider.JobRunning
	JobSucceeded = provider.JobSucceeded
	JobFailed    = provider.JobFailed
	JobCanceled  = provider.JobCanceled
)

// TrainJobSpec describes a training job.
type TrainJobSpec struct {
	// Name is the job's base name. With no Key, the submitted job is named
	// Name plus a digest of the spec, so submitting the same spec twice
	// yields one job. Default "train"; at most 21 characters then.
	Name string
	// Key, when set, is the job's name and its idempotency key: the same
	// spec under the same key returns the existing job, another spec under
	// the same key fails with Conflict. Follows the naming rules.
	Key string

	// Location is where the job runs.
	Location Location

	// Image is the container image reference,
	// [registry[:port]/]repository[:tag][@digest] as the OCI distribution
	// reference grammar has it ("myregistry.example/ml/train:1"); a
	// reference that does not parse is refused with InvalidArgument. Pin it
	// by digest ("...@sha256:<64 hex digits>") where the policy asks for it.
	Image   string
	Command []string
	Args    []string
	Env     map[string]string
	// SecretEnv are environment variables with secret values. They reach
	// the job through the cloud's secret store and appear nowhere else: not
	// in errors, audit records, lineage or printed specs. Their names, not
	// their values, are part of the spec's identity, so rotating a key does
	// not make a new job.
	SecretEnv map[string]secret.Secret

	GPU GPURequest
	// Nodes is the number of nodes; default 1, at most 4096. 4096 nodes of
	// 8 GPUs are 32768 GPUs, beyond the largest single training runs
	// published so far; the bound also keeps GPUs per node times nodes (at
	// most 64 × 4096) far from overflowing a quota's sums.
	Nodes int

	// Inputs are the datasets the job reads.
	Inputs []JobInput
	// OutputURI is where the job writes; empty lets the provider choose.
	OutputURI string

	// MaxDuration bounds the run; zero means no bound.
	MaxDuration time.Duration
	// Retries is how often a failed run is started again.
	Retries int
}

// GPURequest asks for accelerators per node.
type GPURequest struct {
	// Type names the accelerator ("H100"); empty means any.
	Type string
	// Count per node, at most 64. GPU nodes offered today carry 8 GPUs, a
	// few designs 16; 64 leaves room for denser nodes and for partitioned
	// GPUs (7 slices of each of 8) while refusing counts that can only be
	// mistakes.
	Count int
}

// JobInput is one dataset a job reads, under the name the job refers to it
// by.
type JobInput struct {
	Name    string
	Dataset DatasetRef
}

// TrainJob is a submitted training job. Its fields are a snapshot; Refresh
// and Wait update them.
type TrainJob struct {
	// ID identifies the job across processes: "<provider>/<name>". Pass it
	// to Client.GetJob to re-attach.
	ID       string
	Name     string
	Location Location
	// Spec is the spec as submitted, inputs resolved.
	Spec TrainJobSpec

	State   JobState
	Message string
	// Progress is the provider's estimate of how far the job is, from 0
	// (queued or just started) to 1 (done); 0 when the provider reports
	// none.
	Progress float64
	Attempts int
	// OutputURI is where the outputs are once the job succeeded.
	OutputURI                  string
	Created, Started, Finished time.Time
	// SubmittedBy is the principal that submitted the job.
	SubmittedBy string
	// ParentRun and ParentJob name the pipeline run that submitted the job
	// (WithParentRun), for lineage.
	ParentRun, ParentJob string

	// Inputs are the resolved input datasets, with their digests at submit
	// time.
	Inputs []provider.JobInput
	// Origins are the residency constraints recorded with the job: one
	// inherited origin per input dataset, as it was bound at submission;
	// Classification is the most sensitive of them. A model registered from
	// the job reads the inputs again.
	Origins        []Origin
	Classification residency.Classification
	originsErr     error

	revision string
	c        *Client
}

// JobError reports a job that ended without success. It matches
// ErrFailedPrecondition: what depends on the job's outputs cannot proceed.
type JobError struct {
	ID      string
	State   JobState
	Message string
}

func (e *JobError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("job %s ended %s", e.ID, e.State)
	}
	return fmt.Sprintf("job %s ended %s: %s", e.ID, e.State, e.Message)
}

// ErrorCode returns FailedPrecondition.
func (e *JobError) ErrorCode() ErrorCode { return FailedPrecondition }

// Is makes a *JobError match ErrFailedPrecondition.
func (e *JobError) Is(target error) bool { return target == ErrFailedPrecondition }

const maxJobBaseLen = provider.MaxNameLen - 11 // room for "-" and ten hex digits

// SubmitJob validates spec, resolves its inputs, passes the policy and
// submits the job. Submission is idempotent: see TrainJobSpec.Key. A call
// retried after a lost response, by this Client or by the caller, yields
// exactly one job.
func (c *Client) SubmitJob(ctx context.Context, spec TrainJobSpec) (*TrainJob, error) {
	if err := validateJobSpec(&spec); err != nil {
		return nil, err
	}
	loc, err := c.resolveLocation("TrainJobSpec.Location", spec.Location, provider.CapTrainer, hasTrainer)
	if err != nil {
		return nil, err
	}
	spec.Location = loc
	trainer, _ := c.trainer(loc.Provider)

	inputs := make([]*Dataset, len(spec.Inputs))
	resolved := make([]provider.JobInput, len(spec.Inputs))
	// The caller's spec is theirs: one spec may be submitted from several
	// goroutines, so the resolved inputs go into a copy.
	spec.Inputs = slices.Clone(spec.Inputs)
	known := make(map[string]origins, len(spec.Inputs))
	var from originSet
	for i, in := range spec.Inputs {
		d, err := c.GetDataset(ctx, in.Dataset)
		if err != nil {
			return nil, fmt.Errorf("job input %q: %w", in.Name, err)
		}
		spec.Inputs[i].Dataset.Provider = d.Location.Provider
		inputs[i] = d
		if known[datasetArtifact(d.Location.Provider, d.Name, d.Version)], err = d.origins(); err != nil {
			return nil, fmt.Errorf("job input %q: %w", in.Name, err)
		}
		from.add(Origin{Artifact: datasetArtifact(d.Location.Provider, d.Name, d.Version)})
		resolved[i] = provider.JobInput{Name: in.Name, URI: d.URI, Digest: d.Digest, Dataset: d.Name, Version: d.Version}
	}
	recorded, os, err := c.inheritAll(ctx, from.list, known)
	if err != nil {
		return nil, fmt.Errorf("job inputs: %w", err)
	}

	digest := specDigest(&spec, resolved)
	name := spec.Key
	if name == "" {
		name = spec.Name + "-" + digest[:10]
	}
	id := loc.Provider + "/" + name
	req := &Request{Action: ActionJobSubmit, Target: fmtTarget("job", name), Location: loc, Job: &spec, Inputs: inputs, Origins: os}
	res, err := c.govern(ctx, req, func(ctx context.Context, op *Operation) (any, error) {
		ps := &provider.JobSpec{
			Name: name, Region: loc.Region,
			Image: spec.Image, Command: slices.Clone(spec.Command), Args: slices.Clone(spec.Args), Env: cloneMap(spec.Env),
			SecretEnv: cloneMap(spec.SecretEnv),
			GPUType:   spec.GPU.Type, GPUs: spec.GPU.Count, Nodes: spec.Nodes,
			Inputs: resolved, OutputURI: spec.OutputURI,
			MaxDuration: spec.MaxDuration, MaxRetries: spec.Retries,
			Metadata: map[string]string{
				metaSpec:      digest,
				metaSubmitter: req.Principal.ID,
				metaOperation: op.ID,
				metaJobName:   spec.Name,
			},
		}
		if req.Principal.Team != "" {
			ps.Metadata[metaTeam] = req.Principal.Team
		}
		if len(inputs) > 0 {
			refs := make([]DatasetRef, len(inputs))
			for i, d := range inputs {
				refs[i] = d.Ref()
			}
			ps.Metadata[metaInputs] = joinRefs(refs)
		}
		if parent, ok := ctx.Value(parentRunKey{}).([2]string); ok {
			ps.Metadata[metaParentRun], ps.Metadata[metaParentJob] = parent[0], parent[1]
		}
		if err := putOrigins(ps.Metadata, "job "+name, recorded); err != nil {
			return nil, err
		}
		stripEmpty(ps.Metadata)
		for _, k := range sortedKeys(ps.SecretEnv) {
			op.Secrets = append(op.Secrets, ps.SecretEnv[k])
		}
		c.secrets.add(c.opts.Now(), time.Time{}, op.Secrets...)
		if err := c.grantInputs(ctx, loc.Provider, ps, inputs); err != nil {
			c.revokeGrants(ctx, ps, inputs, nil)
			return nil, err
		}
		for _, in := range ps.Inputs {
			if !in.Grant.IsZero() {
				op.Secrets = append(op.Secrets, in.Grant.URL)
				c.secrets.add(c.opts.Now(), in.Grant.Expires, in.Grant.URL)
			}
		}
		var info *provider.JobInfo
		err := c.retry(ctx, loc.Provider, func() (err error) {
			info, err = trainer.SubmitJob(ctx, ps)
			return err
		})
		if provider.CodeOf(err) == AlreadyExists && info != nil {
			// The job exists: with the grants of the call that made it,
			// which may be this one after a lost response. Grants minted
			// now and not in the job are of no use to anyone.
			c.revokeGrants(ctx, ps, inputs, &info.Spec)
			if info.Spec.Metadata[metaSpec] != digest {
				return nil, errorf(Conflict, "job %s exists with another spec (digest %s, not %s); use another key or resubmit the same spec", id, info.Spec.Metadata[metaSpec], digest)
			}
			err = nil
		} else if provider.CodeOf(err) == AlreadyExists {
			c.revokeGrants(ctx, ps, inputs, nil)
			return nil, errorf(Internal, "provider %q reported job %s as existing without returning it", loc.Provider, name)
		}
		if err != nil {
			c.revokeGrants(ctx, ps, inputs, nil)
			return nil, err
		}
		return c.jobFromInfo(loc.Provider, info), nil
	})
	if err != nil {
		return nil, err
	}
	return res.(*TrainJob), nil
}

// defaultGrantTTL is how long a read grant lives for a job without a
// MaxDuration.
const defaultGrantTTL = 24 * time.Hour

// grantInputs gives every input held by another provider a short-lived,
// read-only grant from that provider, expiring with the job, so that the
// job's cloud never holds the other cloud's keys. A store that cannot grant
// leaves the input with its URI alone.
func (c *Client) grantInputs(ctx context.Context, jobProvider string, ps *provider.JobSpec, inputs []*Dataset) error {
	ttl := ps.MaxDuration
	if ttl <= 0 {
		ttl = defaultGrantTTL
	}
	ps.Inputs = slices.Clone(ps.Inputs)
	for i, d := range inputs {
		if d.Location.Provider == jobProvider {
			continue
		}
		g, ok := c.providers[d.Location.Provider].(provider.Granter)
		if !ok {
			continue
		}
		var grant provider.Grant
		err := c.retry(ctx, d.Location.Provider, func() (err error) {
			grant, err = g.GrantRead(ctx, d.Name, d.Version, ttl)
			return err
		})
		if err != nil {
			return fmt.Errorf("read grant for input %q (%s) from provider %q: %w", ps.Inputs[i].Name, d.Ref(), d.Location.Provider, err)
		}
		ps.Inputs[i].Grant = grant
	}
	return nil
}

// revokeGrants ends the read grants minted for ps that no job holds — all
// of them after a failed submit, or those a job that existed already (kept)
// does not carry — where the granting store can end a grant early
// (provider.GrantRevoker). Elsewhere they lapse when they expire. It runs
// on a context that outlives the caller's, and a failure leaves the grant
// to expire: the submit's own outcome is what the caller needs to hear.
func (c *Client) revokeGrants(ctx context.Context, ps *provider.JobSpec, inputs []*Dataset, kept *provider.JobSpec) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for i, in := range ps.Inputs {
		if in.Grant.IsZero() || i >= len(inputs) {
			continue
		}
		if kept != nil && i < len(kept.Inputs) && kept.Inputs[i].Grant.URL.Reveal() == in.Grant.URL.Reveal() {
			continue
		}
		pn := inputs[i].Location.Provider
		r, ok := c.providers[pn].(provider.GrantRevoker)
		if !ok {
			continue
		}
		_ = c.retry(ctx, pn, func() error { return r.RevokeGrant(ctx, in.Grant) })
	}
}

// Bounds of a job's size; TrainJobSpec.Nodes and GPURequest.Count say why.
const (
	maxGPUsPerNode = 64
	maxNodes       = 4096
)

func validateJobSpec(s *TrainJobSpec) error {
	if s.Key != "" {
		if err := provider.ValidateName("job key", s.Key); err != nil {
			return err
		}
	}
	if s.Name == "" {
		s.Name = "train"
	}
	if err := provider.ValidateName("job name", s.Name); err != nil {
		return err
	}
	if s.Key == "" && len(s.Name) > maxJobBaseLen {
		return errorf(InvalidArgument, "job name %q has %d characters; without a Key the name gets a 10-digit spec digest appended, so it may have at most %d", s.Name, len(s.Name), maxJobBaseLen)
	}
	if strings.TrimSpace(s.Image) == "" {
		return errorf(InvalidArgument, "job %q: Image is empty; name the container image to run", s.Name)
	}
	if _, err := parseImageRef(s.Image); err != nil {
		return errorf(InvalidArgument, "job %q: Image %q is not a valid image reference: %v; write it as [registry[:port]/]repository[:tag][@sha256:<64 hex digits>]", s.Name, s.Image, err)
	}
	if s.GPU.Count < 0 {
		return errorf(InvalidArgument, "job %q: GPU.Count is %d; it must be zero or more", s.Name, s.GPU.Count)
	}
	if s.GPU.Type != "" && s.GPU.Count == 0 {
		return errorf(InvalidArgument, "job %q: GPU.Type is %q but GPU.Count is 0; ask for at least one GPU or leave the type empty", s.Name, s.GPU.Type)
	}
	if s.GPU.Count > maxGPUsPerNode {
		return errorf(InvalidArgument, "job %q: GPU.Count is %d; it counts GPUs per node and may be at most %d: spread the job over more Nodes", s.Name, s.GPU.Count, maxGPUsPerNode)
	}
	if s.Nodes < 0 {
		return errorf(InvalidArgument, "job %q: Nodes is %d; it must be zero (meaning 1) or more", s.Name, s.Nodes)
	}
	if s.Nodes > maxNodes {
		return errorf(InvalidArgument, "job %q: Nodes is %d; a job may span at most %d nodes", s.Name, s.Nodes, maxNodes)
	}
	if s.Nodes == 0 {
		s.Nodes = 1
	}
	if s.MaxDuration < 0 {
		return errorf(InvalidArgument, "job %q: MaxDuration is negative", s.Name)
	}
	if s.Retries < 0 {
		return errorf(InvalidArgument, "job %q: Retries is %d; it must be zero or more", s.Name, s.Retries)
	}
	for k := range s.Env {
		if !validEnvName(k) {
			return errorf(InvalidArgument, "job %q: environment variable name %q is not valid; use letters, digits and '_', not starting with a digit", s.Name, k)
		}
	}
	for k, v := range s.SecretEnv {
		if !validEnvName(k) {
			return errorf(InvalidArgument, "job %q: secret environment variable name %q is not valid; use letters, digits and '_', not starting with a digit", s.Name, k)
		}
		if _, dup := s.Env[k]; dup {
			return errorf(InvalidArgument, "job %q: %q is in both Env and SecretEnv; keep it in one", s.Name, k)
		}
		if v.IsZero() {
			return errorf(InvalidArgument, "job %q: secret environment variable %q is empty", s.Name, k)
		}
	}
	seen := map[string]bool{}
	for i, in := range s.Inputs {
		if !validEnvName(in.Name) {
			return errorf(InvalidArgument, "job %q: Inputs[%d].Name %q is not valid; use letters, digits and '_', not starting with a digit", s.Name, i, in.Name)
		}
		if seen[in.Name] {
			return errorf(InvalidArgument, "job %q: Inputs[%d].Name %q is used twice", s.Name, i, in.Name)
		}
		seen[in.Name] = true
		if err := provider.ValidateName(fmt.Sprintf("Inputs[%d].Dataset.Name", i), in.Dataset.Name); err != nil {
			return err
		}
		if err := provider.ValidateVersion(fmt.Sprintf("Inputs[%d].Dataset.Version", i), in.Dataset.Version); err != nil {
			return err
		}
	}
	return nil
}

func validEnvName(s string) bool {
	if s == "" || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// specDigest is the hex SHA-256 of everything that defines what the job
// does: two specs with the same digest are the same job. Secret values and
// grants are left out (rotating a key is not a new job); secret names are in.
func specDigest(s *TrainJobSpec, inputs []provider.JobInput) string {
	type input struct{ Name, URI, Digest, Dataset, Version string }
	ins := make([]input, len(inputs))
	for i, in := range inputs {
		ins[i] = input{in.Name, in.URI, in.Digest, in.Dataset, in.Version}
	}
	doc := struct {
		Region, Image string
		Command, Args []string
		Env           map[string]string
		SecretEnv     []string
		GPUType       string
		GPUs, Nodes   int
		Inputs        []input
		OutputURI     string
		MaxDuration   time.Duration
		Retries       int
		Name          string
	}{s.Location.Region, s.Image, s.Command, s.Args, s.Env, sortedKeys(s.SecretEnv), s.GPU.Type, s.GPU.Count, s.Nodes, ins, s.OutputURI, s.MaxDuration, s.Retries, s.Name}
	b, _ := json.Marshal(doc) // maps marshal with sorted keys: the encoding is stable
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (c *Client) jobFromInfo(providerName string, in *provider.JobInfo) *TrainJob {
	j := &TrainJob{c: c}
	j.update(providerName, in)
	return j
}

func (j *TrainJob) update(providerName string, in *provider.JobInfo) {
	s := in.Spec
	inputs := make([]JobInput, len(s.Inputs))
	refs := splitRefs(s.Metadata[metaInputs])
	for i, x := range s.Inputs {
		inputs[i] = JobInput{Name: x.Name, Dataset: DatasetRef{Name: x.Dataset, Version: x.Version}}
		if i < len(refs) && refs[i].Name == x.Dataset && refs[i].Version == x.Version {
			inputs[i].Dataset.Provider = refs[i].Provider
		}
	}
	j.ID = providerName + "/" + s.Name
	j.Name = s.Name
	j.Location = Location{Provider: providerName, Region: s.Region}
	base := s.Metadata[metaJobName]
	if base == "" {
		base = s.Name
	}
	j.Spec = TrainJobSpec{
		Name: base, Location: j.Location, Image: s.Image,
		Command: s.Command, Args: s.Args, Env: s.Env, SecretEnv: s.SecretEnv,
		GPU: GPURequest{Type: s.GPUType, Count: s.GPUs}, Nodes: s.Nodes,
		Inputs: inputs, OutputURI: s.OutputURI, MaxDuration: s.MaxDuration, Retries: s.MaxRetries,
	}
	j.Inputs = s.Inputs
	j.State, j.Message, j.Progress, j.Attempts = in.State, j.c.redact(in.Message, jobSecrets(&s)...), in.Progress, in.Attempts
	j.OutputURI = in.OutputURI
	j.Created, j.Started, j.Finished = in.Created, in.Started, in.Finished
	j.SubmittedBy = s.Metadata[metaSubmitter]
	j.ParentRun, j.ParentJob = s.Metadata[metaParentRun], s.Metadata[metaParentJob]
	j.revision = in.Revision
	os, err := j.c.readOrigins("job "+j.ID, s.Metadata, "")
	if err != nil {
		j.originsErr = fmt.Errorf("what job %s produced cannot be registered: %w", j.ID, err)
	}
	j.Origins, j.Classification = os, origins(os).classification()
}

// GetJob re-attaches to a job by the ID of a TrainJob, from this process or
// another.
func (c *Client) GetJob(ctx context.Context, id string) (*TrainJob, error) {
	pn, name, ok := strings.Cut(id, "/")
	if !ok {
		return nil, errorf(InvalidArgument, "job id %q is not of the form <provider>/<name>", id)
	}
	if _, ok := c.providers[pn]; !ok {
		return nil, errorf(InvalidArgument, "job id %q names provider %q, which is not a provider of this client (%s)", id, pn, strings.Join(c.names, ", "))
	}
	if err := provider.ValidateName("job name", name); err != nil {
		return nil, err
	}
	t, err := c.trainer(pn)
	if err != nil {
		return nil, err
	}
	var info *provider.JobInfo
	err = c.retry(ctx, pn, func() (err error) {
		info, err = t.GetJob(ctx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	j := c.jobFromInfo(pn, info)
	c.observeJob(ctx, j)
	return j, nil
}

// Refresh reads the job's current state.
func (j *TrainJob) Refresh(ctx context.Context) error {
	t, err := j.c.trainer(j.Location.Provider)
	if err != nil {
		return err
	}
	var info *provider.JobInfo
	err = j.c.retry(ctx, j.Location.Provider, func() (err error) {
		info, err = t.GetJob(ctx, j.Name)
		return err
	})
	if err != nil {
		return err
	}
	j.update(j.Location.Provider, info)
	j.c.observeJob(ctx, j)
	return nil
}

// Err returns a *JobError when the job ended without success, nil otherwise.
func (j *TrainJob) Err() error {
	if j.State == JobFailed || j.State == JobCanceled {
		return &JobError{ID: j.ID, State: j.State, Message: j.Message}
	}
	return nil
}

// WaitOptions configures TrainJob.Wait.
type WaitOptions struct {
	// OnChange, when not nil, is called with the job each time Wait sees
	// its state, progress or message changed. Wait sees what the provider
	// reports when it looks (at each watch event, or each poll): changes
	// between two looks are coalesced into one call with the latest
	// values, so a caller may miss a short-lived intermediate state but
	// always gets the final one.
	OnChange func(*TrainJob)
}

// Wait blocks until the job ends. It returns nil when the job succeeded, a
// *JobError when it failed or was cancelled, and ctx.Err() when ctx ends
// first. It watches where the provider offers a watch and polls with
// doubling intervals otherwise.
func (j *TrainJob) Wait(ctx context.Context, opts *WaitOptions) error {
	t, err := j.c.trainer(j.Location.Provider)
	if err != nil {
		return err
	}
	var onChange func(*TrainJob)
	if opts != nil {
		onChange = opts.OnChange
	}
	watcher, canWatch := t.(provider.JobWatcher)
	delay := j.c.opts.PollInterval
	last := ""
	for {
		if j.revision != last {
			last = j.revision
			if onChange != nil {
				onChange(j)
			}
		}
		if j.State.Terminal() {
			j.c.observeJob(ctx, j)
			return j.Err()
		}
		var info *provider.JobInfo
		if canWatch {
			err = j.c.retry(ctx, j.Location.Provider, func() (err error) {
				info, err = watcher.WatchJob(ctx, j.Name, j.revision)
				return err
			})
		} else {
			if err := sleep(ctx, delay); err != nil {
				return err
			}
			delay = min(2*delay, j.c.opts.MaxPollInterval)
			err = j.c.retry(ctx, j.Location.Provider, func() (err error) {
				info, err = t.GetJob(ctx, j.Name)
				return err
			})
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		j.update(j.Location.Provider, info)
	}
}

// Cancel asks the job to stop. Cancelling a job that already ended changes
// nothing.
func (j *TrainJob) Cancel(ctx context.Context) error {
	t, err := j.c.trainer(j.Location.Provider)
	if err != nil {
		return err
	}
	req := &Request{Action: ActionJobCancel, Target: fmtTarget("job", j.Name), Location: j.Location, Job: &j.Spec}
	_, err = j.c.govern(ctx, req, func(ctx context.Context, op *Operation) (any, error) {
		var info *provider.JobInfo
		err := j.c.retry(ctx, j.Location.Provider, func() (err error) {
			info, err = t.CancelJob(ctx, j.Name)
			return err
		})
		if err != nil {
			return nil, err
		}
		j.update(j.Location.Provider, info)
		return j, nil
	})
	return err
}

// Logs returns the job's log output so far. It fails with Unimplemented when
// the provider cannot stream logs.
func (j *TrainJob) Logs(ctx context.Context) (io.ReadCloser, error) {
	t, err := j.c.trainer(j.Location.Provider)
	if err != nil {
		return nil, err
	}
	l, ok := t.(provider.JobLogger)
	if !ok {
		return nil, errorf(Unimplemented, "provider %q (%s) does not offer job logs", j.Location.Provider, j.c.providers[j.Location.Provider].Kind())
	}
	return l.JobLogs(ctx, j.Name)
}

// ListJobs yields the jobs of every provider that trains, ordered by
// provider name and then by creation time. A failure is yielded once, with
// a nil *TrainJob, and ends the sequence.
func (c *Client) ListJobs(ctx context.Context) iter.Seq2[*TrainJob, error] {
	return func(yield func(*TrainJob, error) bool) {
		for _, pn := range c.capable(hasTrainer) {
			t, _ := c.trainer(pn)
			var infos []*provider.JobInfo
			err := c.retry(ctx, pn, func() (err error) {
				infos, err = t.ListJobs(ctx)
				return err
			})
			if err != nil {
				yield(nil, err)
				return
			}
			for _, in := range infos {
				if !yield(c.jobFromInfo(pn, in), nil) {
					return
				}
			}
		}
	}
}

// jobSecrets are the secret values a job spec carries: its secret
// environment and its inputs' read grants. A job's message (its own output,
// a provider's error) may echo them.
func jobSecrets(s *provider.JobSpec) []secret.Secret {
	var out []secret.Secret
	for _, v := range s.SecretEnv {
		out = append(out, v)
	}
	for _, in := range s.Inputs {
		if !in.Grant.IsZero() {
			out = append(out, in.Grant.URL)
		}
	}
	return out
}
