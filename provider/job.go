package provider

import (
	"context"
	"io"
	"time"

	"github.com/tideline-ml/tideline/secret"
)

// Trainer runs training jobs.
//
// Every method may be called concurrently. Job names are unique per provider
// and chosen by the caller, which is what makes submission idempotent: the
// mlops package derives the name from the caller's key or from the spec.
//
// Retries belong to the provider's side: the cloud's controller starts a
// failed run again as JobSpec.MaxRetries allows (a Kubernetes Job's
// backoffLimit, an Azure ML job's retry setting) and the job stays one job
// across its runs, which JobInfo.Attempts counts. mlops never resubmits a
// failed job, so a driver that ignores MaxRetries runs every job once.
type Trainer interface {
	// SubmitJob creates and starts a job named spec.Name.
	//
	// Errors: AlreadyExists if a job with that name exists, in which case the
	// returned *JobInfo is the existing job (so that the caller can compare
	// specs without another round trip); InvalidArgument if spec.Region is
	// not one of the provider's regions or the GPU request cannot be met
	// there. After any other error no job exists.
	SubmitJob(ctx context.Context, spec *JobSpec) (*JobInfo, error)

	// GetJob returns a job's current state. Errors: NotFound.
	GetJob(ctx context.Context, name string) (*JobInfo, error)

	// ListJobs returns every job, ordered by creation time.
	ListJobs(ctx context.Context) ([]*JobInfo, error)

	// CancelJob stops a job: a Queued or Running job ends Canceled, and the
	// returned state says so once the cloud has confirmed it (a driver whose
	// cloud cancels asynchronously waits for that or returns the job while it
	// is still stopping, with a Message saying so). Cancelling a job that
	// already ended is not an error: the job is returned unchanged.
	// Errors: NotFound.
	CancelJob(ctx context.Context, name string) (*JobInfo, error)
}

// JobWatcher is an optional capability of a Trainer: waiting for a change
// instead of polling.
type JobWatcher interface {
	// WatchJob blocks until the job's Revision differs from afterRevision,
	// then returns the job. An empty afterRevision returns at once. It
	// returns ctx.Err() when ctx ends first. Errors: NotFound.
	WatchJob(ctx context.Context, name, afterRevision string) (*JobInfo, error)
}

// JobLogger is an optional capability of a Trainer: reading a job's logs.
type JobLogger interface {
	// JobLogs returns the job's log output so far. Errors: NotFound.
	JobLogs(ctx context.Context, name string) (io.ReadCloser, error)
}

// JobSpec is a resolved training job: every dataset reference has become a
// URI and a digest, every default has been applied.
type JobSpec struct {
	Name   string
	Region string

	// Image is a container image reference, pinned by digest when the
	// policy requires it ("repo/image@sha256:...").
	Image   string
	Command []string
	Args    []string
	Env     map[string]string
	// SecretEnv are environment variables whose values are secrets (an API
	// key for an experiment tracker). Drivers put them into the cloud's
	// secret store (a Kubernetes Secret, a Key Vault reference), never into
	// a plain job definition, a log or an error; JobInfo.Spec echoes them
	// only as the redacting type they are.
	SecretEnv map[string]secret.Secret

	// GPUType names the accelerator ("H100", "A100"); empty means any.
	GPUType string
	// GPUs is the number of GPUs per node.
	GPUs int
	// Nodes is the number of nodes; 1 for a single-node job.
	Nodes int

	Inputs []JobInput
	// OutputURI is where the job writes its outputs; empty lets the provider
	// choose.
	OutputURI string

	// MaxDuration bounds the whole job, retries included, from its first
	// start; a job that runs past it fails for good. Zero means no bound.
	MaxDuration time.Duration
	// MaxRetries is how often a failed run is started again. The provider's
	// controller does it (see Trainer), never mlops.
	MaxRetries int

	// Metadata is stored with the job verbatim (the spec digest that makes
	// submission idempotent, the principal, residency facts).
	Metadata map[string]string
}

// JobInput is one dataset a job reads.
type JobInput struct {
	// Name is how the job refers to the input (a mount or an environment
	// variable name).
	Name string
	// URI and Digest locate and identify the bytes.
	URI    string
	Digest string
	// Dataset and Version name the dataset in Tideline's terms.
	Dataset, Version string
	// Grant, when not zero, is the read-only credential for a dataset held
	// by another provider. Drivers hand it to the job (a secret volume or
	// an environment variable from a secret), never log it, and may echo
	// it in JobInfo.Spec only as the redacting type it is.
	Grant Grant
}

// JobState is where a job is in its life.
type JobState string

// The job states. A job moves Queued → Running → one of the terminal
// states; it may go back from Running to Queued when a retry starts.
const (
	JobQueued    JobState = "Queued"
	JobRunning   JobState = "Running"
	JobSucceeded JobState = "Succeeded"
	JobFailed    JobState = "Failed"
	JobCanceled  JobState = "Canceled"
)

// Terminal reports whether s is a final state.
func (s JobState) Terminal() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCanceled
}

// JobInfo is a job's state.
type JobInfo struct {
	// Spec is the spec the job was submitted with.
	Spec JobSpec

	State JobState
	// Message says why the job is in its state (the failure, say).
	Message string
	// Progress is the reported fraction done, from 0 to 1.
	Progress float64
	// Attempts counts the runs started, retries included.
	Attempts int
	// OutputURI is where the outputs are; set once the job succeeded.
	OutputURI string

	// Started is the first start; retries do not move it.
	Created, Started, Finished time.Time
	// Revision changes whenever anything else in JobInfo changes. It may
	// also change when a controller writes status that JobInfo does not
	// show (a Kubernetes Job's conditions), so compare states, not
	// revisions, to learn whether a job moved.
	Revision string
}
