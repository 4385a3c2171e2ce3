package mlops

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tideline-ml/tideline/lineage"
)

// LineageRecorder is a Hook that records what a Client creates in a
// provenance graph — dataset versions, jobs, model versions, deployments and
// the edges between them — and, when it has an emitter, reports every
// training job as OpenLineage run events: START when it is submitted, then
// COMPLETE, FAIL or ABORT when a Client sees it end (TrainJob.Wait,
// Refresh, GetJob).
//
// Recording happens after the provider did the work; a failure to record
// does not undo it. Such failures go to OnError and are kept for Err.
type LineageRecorder struct {
	store   lineage.Store
	emitter *lineage.Emitter
	onError func(error)

	mu    sync.Mutex
	err   error
	ended map[string]bool // jobs whose end was already emitted
}

// LineageOptions configures NewLineageRecorder.
type LineageOptions struct {
	// Emitter, when not nil, receives OpenLineage run events for jobs.
	Emitter *lineage.Emitter
	// OnError, when not nil, is called with every failure to record.
	OnError func(error)
}

// NewLineageRecorder returns a recorder over store (lineage.NewGraph for
// memory, lineage.OpenFileStore for a file that outlives the process).
func NewLineageRecorder(store lineage.Store, opts *LineageOptions) (*LineageRecorder, error) {
	if store == nil {
		return nil, errorf(InvalidArgument, "lineage store is nil: use lineage.NewGraph or lineage.OpenFileStore")
	}
	r := &LineageRecorder{store: store, ended: map[string]bool{}}
	if opts != nil {
		r.emitter, r.onError = opts.Emitter, opts.OnError
	}
	return r, nil
}

// Err returns the first failure to record, or nil.
func (r *LineageRecorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *LineageRecorder) fail(err error) {
	if err == nil {
		return
	}
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	if r.onError != nil {
		r.onError(err)
	}
}

// DatasetNodeID is the lineage node id of a dataset version, named as the
// Client knows it: "dataset:lab/claims@1". Use it (and JobNodeID,
// ModelNodeID, DeploymentNodeID) to ask the graph about what a Client
// recorded.
func DatasetNodeID(d DatasetRef) string { return lineage.DatasetID(d.Provider+"/"+d.Name, d.Version) }

// JobNodeID is the lineage node id of a job, by TrainJob.ID:
// "job:lab/fraud-1a2b3c4d5e".
func JobNodeID(jobID string) string { return lineage.JobID(jobID) }

// ModelNodeID is the lineage node id of a model version: "model:lab/fraud@2".
func ModelNodeID(mv *ModelVersion) string {
	return lineage.ModelID(mv.Location.Provider+"/"+mv.Model, mv.Version)
}

// DeploymentNodeID is the lineage node id of a deployment:
// "deployment:lab/fraud-scoring/green".
func DeploymentNodeID(providerName, endpoint, deployment string) string {
	return lineage.DeploymentID(providerName + "/" + endpoint + "/" + deployment)
}

// Before records nothing: lineage is about what exists.
func (r *LineageRecorder) Before(ctx context.Context, _ *Operation) (context.Context, error) {
	return ctx, nil
}

// After records a successful operation's result.
func (r *LineageRecorder) After(ctx context.Context, op *Operation) {
	if op.Err != nil || !op.Decision.Allowed {
		return
	}
	req := op.Request
	switch req.Action {
	case ActionDatasetCreate:
		if d, ok := op.Result.(*Dataset); ok {
			r.fail(r.dataset(ctx, d))
		}
	case ActionJobSubmit:
		if j, ok := op.Result.(*TrainJob); ok {
			r.fail(r.jobStarted(ctx, j, req.Inputs, op.Decision))
		}
	case ActionModelRegister:
		if mv, ok := op.Result.(*ModelVersion); ok {
			r.fail(r.model(ctx, mv))
		}
	case ActionDeploymentCreate:
		if d, ok := op.Result.(*Deployment); ok {
			r.fail(r.deployment(ctx, req.Model, DeploymentNodeID(req.Location.Provider, d.Endpoint, d.Name)))
		}
	case ActionDeploymentDelete:
		if d, ok := op.Result.(*Deployment); ok {
			r.fail(r.retire(ctx, DeploymentNodeID(req.Location.Provider, d.Endpoint, d.Name)))
		}
	case ActionEndpointDelete:
		if e, ok := op.Result.(*Endpoint); ok {
			for _, d := range e.Deployments {
				r.fail(r.retire(ctx, DeploymentNodeID(req.Location.Provider, e.Name, d.Name)))
			}
		}
	}
}

// addUpstream records a node that an edge needs and that another process
// (or something before the recorder) may have recorded already.
func (r *LineageRecorder) addUpstream(ctx context.Context, n lineage.Node) error {
	if err := r.store.AddNode(ctx, n); err != nil && !errors.Is(err, lineage.ErrConflict) {
		return err
	}
	return nil
}

func (r *LineageRecorder) dataset(ctx context.Context, d *Dataset) error {
	n := lineage.NewDataset(d.Location.Provider+"/"+d.Name, d.Version, d.Digest)
	n.Attrs["region"] = d.Location.Region
	n.Attrs["classification"] = d.Classification().String()
	n.Attrs["constraint"] = d.Constraint().Encode()
	if err := r.store.AddNode(ctx, n); err != nil {
		return err
	}
	for _, p := range d.DerivedFrom {
		parent, err := r.store.Node(ctx, DatasetNodeID(p))
		if err != nil {
			return fmt.Errorf("recording %s derived from %s: %w", d.Ref(), p, err)
		}
		if err := r.store.AddEdge(ctx, lineage.Edge{From: parent.ID, To: n.ID, Kind: lineage.EdgeDerived}); err != nil {
			return err
		}
	}
	return nil
}

func (r *LineageRecorder) jobStarted(ctx context.Context, j *TrainJob, inputs []*Dataset, d Decision) error {
	id := JobNodeID(j.ID)
	if err := r.store.AddNode(ctx, lineage.Node{Kind: lineage.KindJob, ID: id, Attrs: map[string]string{"region": j.Location.Region, "image": j.Spec.Image}}); err != nil {
		return err
	}
	for _, in := range inputs {
		dn := lineage.NewDataset(in.Location.Provider+"/"+in.Name, in.Version, in.Digest)
		if err := r.addUpstream(ctx, dn); err != nil {
			return err
		}
		if err := r.store.AddEdge(ctx, lineage.Edge{From: dn.ID, To: id, Kind: lineage.EdgeConsumed}); err != nil {
			return err
		}
	}
	if r.emitter == nil {
		return nil
	}
	run := lineageRun(j, inputs)
	run.Policy = &lineage.PolicyDecision{Decision: "allow"}
	if d.WouldDeny {
		run.Policy.Decision = "audit"
	}
	for _, reason := range d.Reasons {
		run.Policy.Rules = append(run.Policy.Rules, reason.Rule)
		run.Policy.Reasons = append(run.Policy.Reasons, reason.Message)
	}
	return r.emitter.Start(ctx, run)
}

// lineageRun describes a job for the emitter: names, digests and residency
// only — never a URI or a credential.
func lineageRun(j *TrainJob, inputs []*Dataset) lineage.JobRun {
	run := lineage.JobRun{RunName: j.ID, Job: j.Spec.Name}
	if j.ParentRun != "" {
		run.Parent = &lineage.RunRef{RunName: j.ParentRun, Job: j.ParentJob}
	}
	for _, in := range inputs {
		ref := lineage.DatasetRef{Namespace: in.Location.Provider, Name: in.Name, Version: in.Version, Digest: in.Digest}
		if place := in.Place(); place.Country != "" {
			ref.Residency = &lineage.Residency{Classification: in.Classification().String(), Constraint: in.Constraint().Encode(),
				Region: in.Location.Region, Country: place.Country}
		}
		run.Inputs = append(run.Inputs, ref)
	}
	return run
}

// jobEnded emits the end of a job once per recorder.
func (r *LineageRecorder) jobEnded(ctx context.Context, j *TrainJob, inputs []*Dataset) {
	if r.emitter == nil || !j.State.Terminal() {
		return
	}
	r.mu.Lock()
	seen := r.ended[j.ID]
	r.ended[j.ID] = true
	r.mu.Unlock()
	if seen {
		return
	}
	run := lineageRun(j, inputs)
	switch j.State {
	case JobSucceeded:
		run.Outputs = append(run.Outputs, lineage.DatasetRef{Namespace: j.Location.Provider, Name: "jobs/" + j.Name + "/outputs"})
		r.fail(r.emitter.Complete(ctx, run))
	case JobFailed:
		r.fail(r.emitter.Fail(ctx, run, errors.New(j.Message)))
	case JobCanceled:
		r.fail(r.emitter.Abort(ctx, run))
	}
}

func (r *LineageRecorder) model(ctx context.Context, mv *ModelVersion) error {
	id := ModelNodeID(mv)
	if err := r.store.AddNode(ctx, lineage.Node{Kind: lineage.KindModel, ID: id, Attrs: map[string]string{"region": mv.Location.Region, "constraint": mv.Constraint.Encode()}}); err != nil {
		return err
	}
	// The datasets it names: residency binds the model to them, so the
	// impact of a deletion request must reach it through them too.
	for _, p := range mv.DerivedFrom {
		parent, err := r.store.Node(ctx, DatasetNodeID(p))
		if err != nil {
			return fmt.Errorf("recording model %s version %s derived from %s: %w", mv.Model, mv.Version, p, err)
		}
		if err := r.store.AddEdge(ctx, lineage.Edge{From: parent.ID, To: id, Kind: lineage.EdgeDerived}); err != nil {
			return err
		}
	}
	if mv.SourceJob == "" {
		return nil
	}
	job := JobNodeID(mv.SourceJob)
	if err := r.addUpstream(ctx, lineage.NewJob(mv.SourceJob)); err != nil {
		return err
	}
	return r.store.AddEdge(ctx, lineage.Edge{From: job, To: id, Kind: lineage.EdgeProduced})
}

func (r *LineageRecorder) deployment(ctx context.Context, mv *ModelVersion, id string) error {
	if err := r.store.AddNode(ctx, lineage.Node{Kind: lineage.KindDeployment, ID: id, Live: true}); err != nil {
		return err
	}
	if mv == nil {
		return nil
	}
	model := lineage.Node{Kind: lineage.KindModel, ID: ModelNodeID(mv)}
	if err := r.addUpstream(ctx, model); err != nil {
		return err
	}
	return r.store.AddEdge(ctx, lineage.Edge{From: model.ID, To: id, Kind: lineage.EdgeDeployedAs})
}

func (r *LineageRecorder) retire(ctx context.Context, id string) error {
	err := r.store.Retire(ctx, id)
	if errors.Is(err, lineage.ErrNotFound) {
		return nil // deployed before lineage was recorded
	}
	return err
}

// jobObserver is implemented by hooks that want to see jobs end.
type jobObserver interface {
	jobEnded(ctx context.Context, j *TrainJob, inputs []*Dataset)
}

// observeJob tells the hooks that care that a job has ended, with its input
// datasets as they are now (an input that cannot be read is left out).
func (c *Client) observeJob(ctx context.Context, j *TrainJob) {
	if !j.State.Terminal() {
		return
	}
	var observers []jobObserver
	for _, h := range c.opts.Hooks {
		if o, ok := h.(jobObserver); ok {
			observers = append(observers, o)
		}
	}
	if len(observers) == 0 {
		return
	}
	var inputs []*Dataset
	for _, in := range j.Spec.Inputs {
		if d, err := c.GetDataset(ctx, in.Dataset); err == nil {
			inputs = append(inputs, d)
		}
	}
	for _, o := range observers {
		o.jobEnded(context.WithoutCancel(ctx), j, inputs)
	}
}

type parentRunKey struct{}

// WithParentRun returns a context under which submitted jobs record the
// named run as their parent in lineage: the pipeline run that started them.
func WithParentRun(ctx context.Context, runName, job string) context.Context {
	return context.WithValue(ctx, parentRunKey{}, [2]string{runName, job})
}
