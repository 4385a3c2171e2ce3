package azure

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/secret"
)

var _ provider.Trainer = (*Workspace)(nil)

// Keys of a job's properties dictionary (properties.properties). The
// driver writes the first three; a retry controller or the service's run
// history writes the rest, which the driver reads when present.
const (
	// propSpec is the submitted spec as JSON, secrets as names alone.
	propSpec = "tideline.spec"
	// propSubmission is a random id of the SubmitJob call that wrote the
	// job, which tells a retried PUT of the driver's own from another's.
	propSubmission = "tideline.submission"
	// propMaxRetries is JobSpec.MaxRetries, for whatever plays the retry
	// controller; Azure Machine Learning runs a command job once.
	propMaxRetries = "tideline.maxRetries"
	// propAttempts counts the runs started, written by a retry controller.
	propAttempts = "tideline.attempts"
	// The run's first start, its end and its failure, as run history
	// records them.
	propStartTime    = "StartTimeUtc"
	propEndTime      = "EndTimeUtc"
	propErrorMessage = "ErrorMessage"

	// secretEnvGrantPrefix names an input's read grant among a job's
	// secrets: TIDELINE_GRANT_<INPUT>.
	secretEnvGrantPrefix = "TIDELINE_GRANT_"
)

// SecretsEnvVar is the environment variable through which a job learns
// where its secrets are: a JSON object from each secret's name — a
// SecretEnv name, or TIDELINE_GRANT_<INPUT> for an input's read grant — to
// the URI of the key vault secret that holds its value. The job reads the
// values with its managed identity. The command job of the 2025-12-01 API
// has no field that injects a key vault secret into a job's environment,
// so the definition carries references, never values.
const SecretsEnvVar = "TIDELINE_SECRETS"

// Command job request and answer types, the fields the driver uses of the
// 2025-12-01 API.
type (
	armJob struct {
		ID         string        `json:"id,omitempty"`
		Name       string        `json:"name,omitempty"`
		Properties jobProperties `json:"properties"`
		SystemData *systemData   `json:"systemData,omitempty"`
	}
	jobProperties struct {
		JobType              string               `json:"jobType"`
		DisplayName          string               `json:"displayName,omitempty"`
		ExperimentName       string               `json:"experimentName,omitempty"`
		Command              string               `json:"command"`
		ComputeID            string               `json:"computeId"`
		EnvironmentID        string               `json:"environmentId"`
		EnvironmentVariables map[string]string    `json:"environmentVariables,omitempty"`
		Inputs               map[string]jobInput  `json:"inputs,omitempty"`
		Outputs              map[string]jobOutput `json:"outputs,omitempty"`
		Resources            *jobResources        `json:"resources,omitempty"`
		Distribution         *jobDistribution     `json:"distribution,omitempty"`
		Limits               *jobLimits           `json:"limits,omitempty"`
		Identity             *jobIdentity         `json:"identity,omitempty"`
		Properties           map[string]string    `json:"properties,omitempty"`
		Tags                 map[string]string    `json:"tags,omitempty"`
		Status               string               `json:"status,omitempty"`
	}
	jobInput struct {
		JobInputType string `json:"jobInputType"`
		URI          string `json:"uri"`
		Mode         string `json:"mode,omitempty"`
	}
	jobOutput struct {
		JobOutputType string `json:"jobOutputType"`
		URI           string `json:"uri,omitempty"`
		Mode          string `json:"mode,omitempty"`
	}
	jobResources struct {
		InstanceCount int `json:"instanceCount"`
	}
	jobDistribution struct {
		DistributionType        string `json:"distributionType"`
		ProcessCountPerInstance int    `json:"processCountPerInstance,omitempty"`
	}
	jobLimits struct {
		JobLimitsType string `json:"jobLimitsType"`
		Timeout       string `json:"timeout,omitempty"`
	}
	// jobIdentity is the identity the job runs as; "Managed" is the
	// compute's managed identity, which reads the job's secrets from the
	// key vault.
	jobIdentity struct {
		IdentityType string `json:"identityType"`
	}
	systemData struct {
		CreatedAt      time.Time `json:"createdAt"`
		LastModifiedAt time.Time `json:"lastModifiedAt"`
	}
)

// storedSpec is JobSpec as the job's properties keep it: secrets by name.
type storedSpec struct {
	Name        string            `json:"name"`
	Region      string            `json:"region"`
	Image       string            `json:"image"`
	Command     []string          `json:"command,omitempty"`
	Args        []string          `json:"args,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	SecretEnv   []string          `json:"secretEnv,omitempty"`
	GPUType     string            `json:"gpuType,omitempty"`
	GPUs        int               `json:"gpus,omitempty"`
	Nodes       int               `json:"nodes,omitempty"`
	Inputs      []storedInput     `json:"inputs,omitempty"`
	OutputURI   string            `json:"outputUri,omitempty"`
	MaxDuration time.Duration     `json:"maxDuration,omitempty"`
	MaxRetries  int               `json:"maxRetries,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

type storedInput struct {
	Name, URI, Digest, Dataset, Version string
	// GrantExpires is set when the input had a grant; the grant itself is
	// in the key vault.
	GrantExpires time.Time `json:",omitzero"`
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// SubmitJob creates the command job spec.Name and returns it.
//
// The job's name is the idempotency key. Azure's PUT of a job creates or
// replaces it and has no conditional form, so the driver makes it
// create-only with a claim blob in the workspace's storage container
// (see jobClaimPrefix): a GET first (an existing job is AlreadyExists at
// the cost of that one call), then the claim, created with
// If-None-Match: *, then the PUT, carrying a random submission id in the
// job's properties. Of concurrent submits of one name, one claims it and
// PUTs; the others wait until that job appears and return AlreadyExists
// with it. A claim left by a submit that died before its PUT holds the
// name for two minutes, then the next submit takes it over; one left by
// an earlier call through this Workspace value whose outcome stayed
// unknown (below) is taken over at once, so that a retry after such a
// failure does not wait.
//
// SecretEnv values and the inputs' read grants are written to the
// workspace's key vault (Config.KeyVaultURL) as secrets named after the
// job and the submission; the job's environment variable SecretsEnvVar
// maps each name to its secret's URI, and the job runs with the compute's
// managed identity, which reads them: the definition names the secrets,
// never holds them. The image becomes an environment version
// (tl-img-<digest of the reference>, version 1), written once per
// Workspace value.
//
// A PUT whose answer was lost is sent again by the pipeline's retry
// policy with the same body, which the service applies as a no-op. When
// the PUT fails in the end, a GET (past the caller's cancellation) tells
// whether this call's job exists: then it is returned as created. A
// submit that created no job deletes the secrets it wrote and releases
// its claim; one whose outcome stays unknown (that GET failed too) keeps
// them, since the job may refer to them.
//
// Calls: a new job costs a GET, the claim's blob PUT, the environment PUT
// (once per image and Workspace value), one key vault PUT per secret and
// the job's PUT; an existing name costs the GET alone; a failed PUT adds
// a GET.
func (w *Workspace) SubmitJob(ctx context.Context, spec *provider.JobSpec) (*provider.JobInfo, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	if spec == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: SubmitJob: the spec is nil")
	}
	body, expiries, secrets, err := w.jobRequest(spec)
	if err != nil {
		return nil, err
	}
	what := "submitting job " + spec.Name
	ref := armPath("jobs", spec.Name)
	var existing armJob
	switch err := w.arm.getJSON(ctx, ref, &existing); provider.CodeOf(armError(op{what: what}, err)) {
	case provider.OK:
		return w.alreadyExists(spec.Name, &existing)
	case provider.NotFound:
	default:
		return nil, armError(op{what: what + " (looking for an existing job)"}, err)
	}

	submission := newSubmissionID()
	claim, found, err := w.claimJob(ctx, spec.Name, submission, what)
	switch {
	case err != nil:
		return nil, err
	case found != nil:
		return w.alreadyExists(spec.Name, found)
	}
	// abandon undoes what this submit wrote, once it knows it created no
	// job: the first n secrets and the claim.
	abandon := func(n int) {
		w.dropSecrets(ctx, spec.Name, submission, n)
		w.releaseJobClaim(ctx, spec.Name, claim, what)
	}

	envID, err := w.environment(ctx, spec.Image)
	if err != nil {
		abandon(0)
		return nil, err
	}
	body.Properties.EnvironmentID = envID
	body.Properties.Properties[propSubmission] = submission
	if len(secrets) > 0 {
		refs := map[string]string{}
		for i, envName := range slices.Sorted(maps.Keys(secrets)) {
			sname := secretName(spec.Name, submission, i)
			if err := w.vault.setSecret(ctx, sname, secrets[envName].Reveal(), map[string]string{"tideline-job": spec.Name}, expiries[envName]); err != nil {
				abandon(i)
				return nil, err
			}
			refs[envName] = w.vault.secretURI(sname)
		}
		raw, _ := json.Marshal(refs)
		if body.Properties.EnvironmentVariables == nil {
			body.Properties.EnvironmentVariables = map[string]string{}
		}
		body.Properties.EnvironmentVariables[SecretsEnvVar] = string(raw)
		body.Properties.Identity = &jobIdentity{IdentityType: "Managed"}
	}

	var created armJob
	_, err = w.arm.putJSON(ctx, ref, body, &created, nil)
	if err == nil {
		return w.jobInfo(&created)
	}
	perr := armError(op{what: what}, err)
	var refused bool
	switch provider.CodeOf(perr) {
	case provider.InvalidArgument, provider.PermissionDenied, provider.FailedPrecondition,
		provider.ResourceExhausted, provider.NotFound, provider.Conflict, provider.AlreadyExists:
		refused = true // the service answered no: the PUT took no effect
	}
	// The job as it is now says whether the PUT took effect — an answer
	// lost, a context that ended after the request went out — read past
	// the caller's cancellation.
	gctx, cancel := cleanupContext(ctx)
	defer cancel()
	var now armJob
	gerr := w.arm.getJSON(gctx, ref, &now)
	switch {
	case gerr == nil && now.Properties.Properties[propSubmission] == submission:
		return w.jobInfo(&now)
	case gerr == nil:
		// Created by another submit that took over this one's claim.
		w.dropSecrets(ctx, spec.Name, submission, len(secrets))
		return w.alreadyExists(spec.Name, &now)
	case refused, provider.CodeOf(armError(op{}, gerr)) == provider.NotFound:
		abandon(len(secrets))
		return nil, perr
	}
	// Whether the job exists is unknown: its secrets and claim stay, since
	// the job may refer to them. A later submit of the name through this
	// value may take the claim over at once (see unsettledSubmission).
	w.unsettled.Store(spec.Name, &unsettledSubmission{submission: submission, secrets: len(secrets)})
	return nil, perr
}

func (w *Workspace) alreadyExists(name string, j *armJob) (*provider.JobInfo, error) {
	info, err := w.jobInfo(j)
	if err != nil {
		return nil, err
	}
	return info, provider.Errorf(provider.AlreadyExists, "azure: job %s exists; submit under another name, or compare its spec with yours", name)
}

// dropSecrets deletes the first n secrets of a submission that did not
// create its job, best effort and past the caller's cancellation.
func (w *Workspace) dropSecrets(ctx context.Context, job, submission string, n int) {
	if w.vault == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for i := range n {
		w.vault.deleteSecret(ctx, secretName(job, submission, i))
	}
}

func secretName(job, submission string, i int) string {
	return fmt.Sprintf("tl-%s-%s-%d", job, submission, i)
}

func newSubmissionID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// jobRequest checks spec and builds the job's PUT body (without its
// environment id and secret references), the secrets by their name among
// the job's secrets, and the expiry of those that expire (the grants).
// It makes no call.
func (w *Workspace) jobRequest(spec *provider.JobSpec) (*armJob, map[string]time.Time, map[string]secret.Secret, error) {
	bad := func(format string, args ...any) (*armJob, map[string]time.Time, map[string]secret.Secret, error) {
		return nil, nil, nil, provider.Errorf(provider.InvalidArgument, "azure: job %q: "+format, append([]any{spec.Name}, args...)...)
	}
	if err := provider.ValidateName("JobSpec.Name", spec.Name); err != nil {
		return nil, nil, nil, err
	}
	if spec.Region != w.location.Name {
		return bad("JobSpec.Region %q is not the workspace's region; its jobs run in %s only", spec.Region, w.location.Name)
	}
	if spec.Image == "" || strings.ContainsAny(spec.Image, " \t\n") {
		return bad("JobSpec.Image %q is not a container image reference", spec.Image)
	}
	if len(spec.Command) == 0 {
		return bad("JobSpec.Command is empty; a command job needs a command")
	}
	if spec.GPUs < 0 || spec.Nodes < 0 || spec.MaxRetries < 0 || spec.MaxDuration < 0 {
		return bad("GPUs %d, Nodes %d, MaxRetries %d and MaxDuration %v must not be negative", spec.GPUs, spec.Nodes, spec.MaxRetries, spec.MaxDuration)
	}
	if err := provider.ValidateMetadata("JobSpec.Metadata", spec.Metadata); err != nil {
		return nil, nil, nil, err
	}
	compute := w.compute
	if spec.GPUType != "" && len(w.gpuComputes) > 0 {
		c, ok := w.gpuComputes[spec.GPUType]
		if !ok {
			return bad("no compute of the workspace has GPU type %q (Config.GPUComputes knows %s)", spec.GPUType, strings.Join(slices.Sorted(maps.Keys(w.gpuComputes)), ", "))
		}
		compute = c
	}
	if compute == "" {
		return bad("no compute to run on: set Config.Compute (or Config.GPUComputes for GPU type %q)", spec.GPUType)
	}
	secrets := map[string]secret.Secret{}
	expiries := map[string]time.Time{}
	for k, v := range spec.SecretEnv {
		if !envNameRE.MatchString(k) {
			return bad("SecretEnv name %q is not an environment variable name", k)
		}
		if _, ok := spec.Env[k]; ok {
			return bad("%s is set in both Env and SecretEnv", k)
		}
		if v.IsZero() {
			return bad("SecretEnv %s is empty", k)
		}
		secrets[k] = v
	}
	for k := range spec.Env {
		if !envNameRE.MatchString(k) {
			return bad("Env name %q is not an environment variable name", k)
		}
		if k == SecretsEnvVar {
			return bad("Env sets %s, which the driver sets to the job's secret references", k)
		}
	}
	props := jobProperties{
		JobType: "Command", DisplayName: spec.Name, ExperimentName: "tideline",
		Command:              shellJoin(append(slices.Clone(spec.Command), spec.Args...)),
		ComputeID:            w.arm.workspace + "/computes/" + url.PathEscape(compute),
		EnvironmentVariables: maps.Clone(spec.Env),
		Inputs:               map[string]jobInput{},
		Properties:           map[string]string{propMaxRetries: strconv.Itoa(spec.MaxRetries)},
	}
	st := &storedSpec{
		Name: spec.Name, Region: spec.Region, Image: spec.Image,
		Command: slices.Clone(spec.Command), Args: slices.Clone(spec.Args), Env: maps.Clone(spec.Env),
		SecretEnv: slices.Sorted(maps.Keys(spec.SecretEnv)),
		GPUType:   spec.GPUType, GPUs: spec.GPUs, Nodes: spec.Nodes, OutputURI: spec.OutputURI,
		MaxDuration: spec.MaxDuration, MaxRetries: spec.MaxRetries, Metadata: maps.Clone(spec.Metadata),
	}
	for _, in := range spec.Inputs {
		if !envNameRE.MatchString(in.Name) {
			return bad("input name %q is not an identifier (letters, digits and underscores, not starting with a digit)", in.Name)
		}
		if _, dup := props.Inputs[in.Name]; dup {
			return bad("two inputs are named %q", in.Name)
		}
		u, err := url.Parse(in.URI)
		if err != nil || u.Scheme == "" || u.RawQuery != "" || u.User != nil {
			return bad("input %s: URI %q is not a URI without query or credentials; a credential goes in the input's Grant", in.Name, redactURL(in.URI))
		}
		ji := jobInput{JobInputType: "uri_file", URI: in.URI, Mode: "ReadOnlyMount"}
		if strings.HasSuffix(u.Path, "/") {
			ji.JobInputType = "uri_folder"
		}
		sin := storedInput{Name: in.Name, URI: in.URI, Digest: in.Digest, Dataset: in.Dataset, Version: in.Version}
		if !in.Grant.IsZero() {
			// The job reads the bytes itself with the grant, which it
			// receives as a secret; the identity of the compute has no
			// right to mount them.
			ji.Mode = "Direct"
			env := secretEnvGrantPrefix + strings.ToUpper(in.Name)
			if _, clash := secrets[env]; clash {
				return bad("input %s's grant would be in %s, which SecretEnv sets too", in.Name, env)
			}
			if _, clash := spec.Env[env]; clash {
				return bad("input %s's grant would be in %s, which Env sets too", in.Name, env)
			}
			secrets[env] = in.Grant.URL
			expiries[env] = in.Grant.Expires
			sin.GrantExpires = in.Grant.Expires
		}
		props.Inputs[in.Name] = ji
		st.Inputs = append(st.Inputs, sin)
	}
	out := spec.OutputURI
	if out == "" {
		out = "azureml://datastores/workspaceblobstore/paths/tideline/jobs/" + spec.Name + "/"
	} else if u, err := url.Parse(out); err != nil || u.Scheme == "" || u.RawQuery != "" || u.User != nil {
		return bad("OutputURI %q is not a URI without query or credentials (azureml://, https://, abfss://)", redactURL(out))
	}
	props.Outputs = map[string]jobOutput{"default": {JobOutputType: "uri_folder", URI: out, Mode: "ReadWriteMount"}}
	nodes := max(spec.Nodes, 1)
	props.Resources = &jobResources{InstanceCount: nodes}
	if nodes > 1 {
		props.Distribution = &jobDistribution{DistributionType: "PyTorch", ProcessCountPerInstance: max(spec.GPUs, 1)}
	}
	if spec.MaxDuration > 0 {
		secs := int64((spec.MaxDuration + time.Second - 1) / time.Second)
		props.Limits = &jobLimits{JobLimitsType: "Command", Timeout: "PT" + strconv.FormatInt(secs, 10) + "S"}
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, nil, nil, provider.Errorf(provider.Internal, "azure: encoding job %s's spec: %v", spec.Name, err)
	}
	props.Properties[propSpec] = string(raw)
	if len(secrets) > 0 && w.vault == nil {
		return bad("it has secrets (SecretEnv or an input's grant) and Config.KeyVaultURL is empty; set it to the workspace's key vault, where the driver keeps them")
	}
	return &armJob{Properties: props}, expiries, secrets, nil
}

// shellJoin quotes words for a POSIX shell, the way the job's command
// line runs them.
func shellJoin(words []string) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		if w != "" && strings.IndexFunc(w, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@+%", r))
		}) < 0 {
			b.WriteString(w)
			continue
		}
		b.WriteString("'" + strings.ReplaceAll(w, "'", `'"'"'`) + "'")
	}
	return b.String()
}

// environment returns the ARM id of the environment version that runs
// image, writing it the first time this Workspace value needs it. The PUT
// is idempotent: the name and version derive from the image reference.
func (w *Workspace) environment(ctx context.Context, image string) (string, error) {
	sum := sha256.Sum256([]byte(image))
	name := "tl-img-" + hex.EncodeToString(sum[:8])
	ref := armPath("environments", name, "versions", "1")
	id := w.arm.workspace + "/" + ref
	if _, ok := w.envs.Load(image); ok {
		return id, nil
	}
	body := map[string]any{"properties": map[string]any{"image": image, "tags": map[string]string{"tideline": "image"}}}
	if _, err := w.arm.putJSON(ctx, ref, body, nil, nil); err != nil {
		return "", armError(op{what: "registering the environment of image " + image}, err)
	}
	w.envs.Store(image, true)
	return id, nil
}

// GetJob reads the job by GET. Calls: one.
func (w *Workspace) GetJob(ctx context.Context, name string) (*provider.JobInfo, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	if err := provider.ValidateName("job name", name); err != nil {
		return nil, err
	}
	var j armJob
	if err := w.arm.getJSON(ctx, armPath("jobs", name), &j); err != nil {
		return nil, armError(op{what: "reading job " + name}, err)
	}
	return w.jobInfo(&j)
}

// ListJobs lists the workspace's jobs, every page of them, ordered by
// creation time. Jobs written by other tools are listed too, with the
// spec their definition shows. Calls: one per page.
func (w *Workspace) ListJobs(ctx context.Context) ([]*provider.JobInfo, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return nil, err
	}
	var out []*provider.JobInfo
	for j, err := range listOf[armJob](ctx, w.arm, "jobs") {
		if err != nil {
			return nil, armError(op{what: "listing jobs"}, err)
		}
		if j.Properties.JobType != "" && j.Properties.JobType != "Command" {
			continue
		}
		info, err := w.jobInfo(&j)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	slices.SortStableFunc(out, func(a, b *provider.JobInfo) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// CancelJob cancels a job that has not ended: a POST to its cancel action,
// a long-running operation the driver follows to its end (Location or
// Azure-AsyncOperation, pausing as Retry-After says within
// [Config.PollInterval, MaxPollInterval]), then a GET. A job that ended
// is returned unchanged after the first GET. Calls: a GET, then for a
// job still going the POST, the polls and a GET.
func (w *Workspace) CancelJob(ctx context.Context, name string) (*provider.JobInfo, error) {
	info, err := w.GetJob(ctx, name)
	if err != nil || info.State.Terminal() {
		return info, err
	}
	what := "canceling job " + name
	r, err := w.arm.postJSON(ctx, armPath("jobs", name, "cancel"), nil, nil)
	if err != nil {
		return nil, armError(op{what: what}, err)
	}
	if err := w.arm.wait(ctx, what, r); err != nil {
		return nil, err
	}
	return w.GetJob(ctx, name)
}

// jobInfo turns a job as ARM answers with it into a JobInfo.
func (w *Workspace) jobInfo(j *armJob) (*provider.JobInfo, error) {
	p := &j.Properties
	info := &provider.JobInfo{}
	if raw, ok := p.Properties[propSpec]; ok {
		var st storedSpec
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return nil, provider.Errorf(provider.DataLoss, "azure: job %s: its stored spec (properties %s) is not the JSON the driver writes", j.Name, propSpec)
		}
		info.Spec = st.jobSpec()
	} else {
		info.Spec = provider.JobSpec{Name: j.Name, Region: w.location.Name, Command: []string{p.Command}, Env: maps.Clone(p.EnvironmentVariables)}
	}
	if j.SystemData != nil {
		info.Created = j.SystemData.CreatedAt
	}
	started := parseTime(p.Properties[propStartTime])
	ended := parseTime(p.Properties[propEndTime])
	info.State, info.Message = jobState(p.Status, !started.IsZero())
	attempts, err := strconv.Atoi(p.Properties[propAttempts])
	if err != nil {
		attempts = 0
		if !started.IsZero() || info.State == provider.JobRunning || info.State == provider.JobSucceeded {
			attempts = 1
		}
	}
	info.Attempts = attempts
	info.Started = started
	if info.Started.IsZero() && attempts > 0 && j.SystemData != nil {
		info.Started = j.SystemData.LastModifiedAt
	}
	if info.State.Terminal() {
		info.Finished = cmp.Or(ended, lastModified(j))
		if info.Finished.Before(info.Started) {
			info.Finished = info.Started
		}
	}
	switch info.State {
	case provider.JobFailed:
		if m := p.Properties[propErrorMessage]; m != "" {
			info.Message = "the job failed: " + m
		}
	case provider.JobSucceeded:
		info.Progress = 1
		if o, ok := p.Outputs["default"]; ok {
			info.OutputURI = o.URI
		}
	case provider.JobQueued:
		if m := p.Properties[propErrorMessage]; m != "" && attempts > 0 {
			info.Message = "queued for another run after a failure: " + m
		}
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00%s\x00%s\x00%s\x00%s", p.Status, attempts, p.Properties[propStartTime], p.Properties[propEndTime],
		p.Properties[propErrorMessage], lastModified(j).Format(time.RFC3339Nano), outputsKey(p.Outputs))
	info.Revision = hex.EncodeToString(h.Sum(nil)[:8])
	return info, nil
}

func outputsKey(o map[string]jobOutput) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(o)) {
		b.WriteString(k + "=" + o[k].URI + ";")
	}
	return b.String()
}

func lastModified(j *armJob) time.Time {
	if j.SystemData == nil {
		return time.Time{}
	}
	return j.SystemData.LastModifiedAt
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// jobState maps an Azure ML job status. Every documented status has a
// place; an unknown one is taken as not ended, Running once the job has
// started and Queued before, with a Message naming it.
func jobState(status string, started bool) (provider.JobState, string) {
	going := provider.JobQueued
	if started {
		going = provider.JobRunning
	}
	switch status {
	case "NotStarted", "Queued":
		return provider.JobQueued, ""
	case "Starting", "Provisioning", "Preparing":
		return provider.JobQueued, "the job is " + strings.ToLower(status)
	case "Running":
		return provider.JobRunning, ""
	case "Finalizing":
		return provider.JobRunning, "the job is finalizing"
	case "CancelRequested":
		return going, "cancellation requested; the job is stopping"
	case "NotResponding":
		return going, "the job is not responding"
	case "Paused":
		return going, "the job is paused"
	case "Unknown", "":
		return going, "the service reports the job's status as unknown"
	case "Completed":
		return provider.JobSucceeded, ""
	case "Failed":
		return provider.JobFailed, "the job failed"
	case "Canceled":
		return provider.JobCanceled, ""
	}
	return going, "the service reports status " + strconv.Quote(status) + ", which the driver does not know; taken as not ended"
}

// jobSpec rebuilds the submitted spec; secrets come back as names with
// empty values, the grants as their expiry alone.
func (st *storedSpec) jobSpec() provider.JobSpec {
	s := provider.JobSpec{
		Name: st.Name, Region: st.Region, Image: st.Image,
		Command: slices.Clone(st.Command), Args: slices.Clone(st.Args), Env: maps.Clone(st.Env),
		GPUType: st.GPUType, GPUs: st.GPUs, Nodes: st.Nodes, OutputURI: st.OutputURI,
		MaxDuration: st.MaxDuration, MaxRetries: st.MaxRetries, Metadata: maps.Clone(st.Metadata),
	}
	if len(st.SecretEnv) > 0 {
		s.SecretEnv = make(map[string]secret.Secret, len(st.SecretEnv))
		for _, k := range st.SecretEnv {
			s.SecretEnv[k] = secret.Secret{}
		}
	}
	for _, in := range st.Inputs {
		s.Inputs = append(s.Inputs, provider.JobInput{
			Name: in.Name, URI: in.URI, Digest: in.Digest, Dataset: in.Dataset, Version: in.Version,
			Grant: provider.Grant{Expires: in.GrantExpires},
		})
	}
	return s
}
