package memprovider

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// maxGPUsPerNode is the most GPUs one node offers, as on the 8-GPU HGX nodes
// of CoreWeave and Azure's ND series; a job asking for more per node cannot
// be placed.
const maxGPUsPerNode = 8

type job struct {
	info provider.JobInfo
	// attemptStart is when the current run started; JobDuration counts
	// from it, while MaxDuration counts from info.Started, the first start,
	// because it bounds the whole job as Kubernetes' activeDeadlineSeconds
	// does.
	attemptStart time.Time
	logs         []byte
	seq          uint64
}

func (j *job) copyInfo() *provider.JobInfo {
	info := j.info
	info.Spec = cloneJobSpec(j.info.Spec)
	return &info
}

func cloneJobSpec(s provider.JobSpec) provider.JobSpec {
	s.Command = slices.Clone(s.Command)
	s.Args = slices.Clone(s.Args)
	s.Env = cloneStrings(s.Env)
	s.SecretEnv = maps.Clone(s.SecretEnv)
	s.Inputs = slices.Clone(s.Inputs)
	s.Metadata = cloneStrings(s.Metadata)
	return s
}

func (p *Provider) validateJobSpec(spec *provider.JobSpec) error {
	if spec == nil {
		return provider.Errorf(provider.InvalidArgument, "SubmitJob needs a job spec; got nil")
	}
	if err := provider.ValidateName("job name", spec.Name); err != nil {
		return err
	}
	if err := p.checkRegion("job region", spec.Region); err != nil {
		return err
	}
	switch {
	case spec.GPUs < 0:
		return provider.Errorf(provider.InvalidArgument, "job %q asks for %d GPUs; the count cannot be negative", spec.Name, spec.GPUs)
	case spec.GPUs > maxGPUsPerNode:
		return provider.Errorf(provider.InvalidArgument, "job %q asks for %d GPUs per node, but no node in region %s has more than %d; spread the job over more nodes", spec.Name, spec.GPUs, spec.Region, maxGPUsPerNode)
	case spec.Nodes < 0:
		return provider.Errorf(provider.InvalidArgument, "job %q asks for %d nodes; the count cannot be negative", spec.Name, spec.Nodes)
	case spec.MaxDuration < 0:
		return provider.Errorf(provider.InvalidArgument, "job %q has MaxDuration %v; use zero for no bound", spec.Name, spec.MaxDuration)
	case spec.MaxRetries < 0:
		return provider.Errorf(provider.InvalidArgument, "job %q has MaxRetries %d; use zero for no retries", spec.Name, spec.MaxRetries)
	}
	return provider.ValidateMetadata("job metadata", spec.Metadata)
}

// SubmitJob creates a job. It is Queued, or Running at once when
// Options.JobDuration is set. Errors: AlreadyExists with the existing job;
// InvalidArgument for a bad name, a region the provider lacks, a negative
// count or more than 8 GPUs per node.
func (p *Provider) SubmitJob(ctx context.Context, spec *provider.JobSpec) (*provider.JobInfo, error) {
	target := ""
	if spec != nil {
		target = spec.Name
	}
	c, err := p.enter(ctx, "SubmitJob", target)
	if err != nil {
		return nil, err
	}
	info, err := p.submitJob(spec)
	return finish(c, info, err)
}

func (p *Provider) submitJob(spec *provider.JobSpec) (*provider.JobInfo, error) {
	if err := p.validateJobSpec(spec); err != nil {
		return nil, err
	}
	s := cloneJobSpec(*spec)
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if j, ok := p.jobs[s.Name]; ok {
		p.tickLocked(j, now)
		return j.copyInfo(), provider.Errorf(provider.AlreadyExists, "job %q already exists (state %s); job names are unique, so compare its spec or choose another name", s.Name, j.info.State)
	}
	j := &job{
		info: provider.JobInfo{Spec: s, State: provider.JobQueued, Created: now},
		seq:  p.nextLocked(),
	}
	if p.jobDuration > 0 {
		p.startLocked(j, now)
	}
	p.touchLocked(j)
	p.jobs[s.Name] = j
	return j.copyInfo(), nil
}

// touchLocked gives j a new revision and wakes every watcher.
func (p *Provider) touchLocked(j *job) {
	j.info.Revision = p.tagLocked()
	close(p.changed)
	p.changed = make(chan struct{})
}

// startLocked begins a run. The caller touches the job.
func (p *Provider) startLocked(j *job, now time.Time) {
	j.info.State = provider.JobRunning
	j.info.Attempts++
	j.info.Progress = 0
	if j.info.Started.IsZero() {
		j.info.Started = now
	}
	j.attemptStart = now
}

// succeedLocked ends j successfully at the given time. The caller touches it.
func (p *Provider) succeedLocked(j *job, at time.Time, outputURI string) {
	if j.info.Attempts == 0 {
		// A job completed straight from Queued still ran once.
		j.info.Attempts = 1
		j.info.Started = at
		j.attemptStart = at
	}
	j.info.State = provider.JobSucceeded
	j.info.Progress = 1
	j.info.Finished = at
	j.info.Message = ""
	j.info.OutputURI = cmp.Or(outputURI, j.info.Spec.OutputURI, p.uri("jobs", j.info.Spec.Name, "outputs"))
}

// tickLocked applies the clock to a running job: it succeeds once
// JobDuration has elapsed in its current run, and fails once it has run
// longer than its MaxDuration, whichever came first. Finished is the moment
// it happened, not the moment it was noticed, so the outcome does not depend
// on when the job is read.
func (p *Provider) tickLocked(j *job, now time.Time) {
	if j.info.State != provider.JobRunning {
		return
	}
	var doneAt, deadAt time.Time
	done := false
	if p.jobDuration > 0 {
		doneAt = j.attemptStart.Add(p.jobDuration)
		done = !now.Before(doneAt)
	}
	dead := false
	if limit := j.info.Spec.MaxDuration; limit > 0 {
		deadAt = j.info.Started.Add(limit)
		dead = now.After(deadAt)
	}
	switch {
	case done && (!dead || !doneAt.After(deadAt)):
		p.succeedLocked(j, doneAt, "")
	case dead:
		j.info.State = provider.JobFailed
		j.info.Finished = deadAt
		j.info.Message = fmt.Sprintf("job ran longer than its MaxDuration of %v and was stopped; raise MaxDuration or make the job faster", j.info.Spec.MaxDuration)
	default:
		return
	}
	p.touchLocked(j)
}

// nextEventLocked returns when the clock next changes j by itself.
func (p *Provider) nextEventLocked(j *job) (time.Time, bool) {
	if j.info.State != provider.JobRunning {
		return time.Time{}, false
	}
	var next time.Time
	if p.jobDuration > 0 {
		next = j.attemptStart.Add(p.jobDuration)
	}
	if limit := j.info.Spec.MaxDuration; limit > 0 {
		// MaxDuration is exceeded only after its last nanosecond.
		if dead := j.info.Started.Add(limit + time.Nanosecond); next.IsZero() || dead.Before(next) {
			next = dead
		}
	}
	return next, !next.IsZero()
}

// jobLocked finds a job and brings it up to date with the clock.
func (p *Provider) jobLocked(name string) (*job, error) {
	j, ok := p.jobs[name]
	if !ok {
		return nil, provider.Errorf(provider.NotFound, "job %q does not exist; ListJobs shows the jobs it has", name)
	}
	p.tickLocked(j, p.now())
	return j, nil
}

// GetJob returns a job's current state. Errors: NotFound.
func (p *Provider) GetJob(ctx context.Context, name string) (*provider.JobInfo, error) {
	c, err := p.enter(ctx, "GetJob", name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	j, err := p.jobLocked(name)
	var info *provider.JobInfo
	if err == nil {
		info = j.copyInfo()
	}
	p.mu.Unlock()
	return finish(c, info, err)
}

// ListJobs returns every job ordered by creation time, then creation order.
func (p *Provider) ListJobs(ctx context.Context) ([]*provider.JobInfo, error) {
	c, err := p.enter(ctx, "ListJobs", "")
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	now := p.now()
	jobs := make([]*job, 0, len(p.jobs))
	for _, j := range p.jobs {
		p.tickLocked(j, now)
		jobs = append(jobs, j)
	}
	slices.SortFunc(jobs, func(a, b *job) int {
		return cmp.Or(a.info.Created.Compare(b.info.Created), cmp.Compare(a.seq, b.seq))
	})
	out := make([]*provider.JobInfo, len(jobs))
	for i, j := range jobs {
		out[i] = j.copyInfo()
	}
	p.mu.Unlock()
	return finish(c, out, nil)
}

// CancelJob cancels a Queued or Running job and returns it; a job that already
// ended is returned unchanged. Errors: NotFound.
func (p *Provider) CancelJob(ctx context.Context, name string) (*provider.JobInfo, error) {
	c, err := p.enter(ctx, "CancelJob", name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	j, err := p.jobLocked(name)
	var info *provider.JobInfo
	if err == nil {
		if !j.info.State.Terminal() {
			j.info.State = provider.JobCanceled
			j.info.Finished = p.now()
			j.info.Message = "canceled by request"
			p.touchLocked(j)
		}
		info = j.copyInfo()
	}
	p.mu.Unlock()
	return finish(c, info, err)
}

// WatchJob blocks until the job's Revision differs from afterRevision and
// returns the job; an empty afterRevision returns at once. It wakes on every
// change to any job, on every Advance of a FakeClock, and, on any other
// clock, when the job's JobDuration or MaxDuration runs out. It returns
// ctx.Err() when ctx ends first. Errors: NotFound.
func (p *Provider) WatchJob(ctx context.Context, name, afterRevision string) (*provider.JobInfo, error) {
	c, err := p.enter(ctx, "WatchJob", name)
	if err != nil {
		return nil, err
	}
	info, err := p.watchJob(ctx, name, afterRevision)
	return finish(c, info, err)
}

func (p *Provider) watchJob(ctx context.Context, name, after string) (*provider.JobInfo, error) {
	fake, _ := p.clock.(*FakeClock)
	for {
		// The clock's channel is taken before the clock is read, so that an
		// Advance after the read cannot be missed.
		var advanced <-chan struct{}
		if fake != nil {
			advanced = fake.wait()
		}
		p.mu.Lock()
		j, err := p.jobLocked(name)
		if err != nil {
			p.mu.Unlock()
			return nil, err
		}
		if after == "" || j.info.Revision != after {
			info := j.copyInfo()
			p.mu.Unlock()
			return info, nil
		}
		changed := p.changed
		next, timed := p.nextEventLocked(j)
		now := p.now()
		p.mu.Unlock()

		var timer *time.Timer
		var fired <-chan time.Time
		if fake == nil && timed {
			// Clocks other than FakeClock are assumed to move with real time.
			timer = time.NewTimer(max(next.Sub(now), time.Millisecond))
			fired = timer.C
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil, ctx.Err()
		case <-changed:
		case <-advanced:
		case <-fired:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// JobLogs returns a copy of the job's log output so far. Errors: NotFound.
func (p *Provider) JobLogs(ctx context.Context, name string) (io.ReadCloser, error) {
	c, err := p.enter(ctx, "JobLogs", name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	var r io.ReadCloser
	j, ok := p.jobs[name]
	if ok {
		r = io.NopCloser(bytes.NewReader(bytes.Clone(j.logs)))
	} else {
		err = provider.Errorf(provider.NotFound, "job %q does not exist, so it has no logs", name)
	}
	p.mu.Unlock()
	return finish(c, r, err)
}

// StartJob starts a Queued job's next run, as the cloud's scheduler would:
// Running, one more attempt, Started set on the first run. Errors: NotFound;
// FailedPrecondition unless the job is Queued.
func (p *Provider) StartJob(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	j, err := p.jobLocked(name)
	if err != nil {
		return err
	}
	if j.info.State != provider.JobQueued {
		return provider.Errorf(provider.FailedPrecondition, "job %q is %s; only a Queued job can start", name, j.info.State)
	}
	p.startLocked(j, p.now())
	p.touchLocked(j)
	return nil
}

// SetJobProgress reports the fraction of a Running job that is done.
// Errors: NotFound; InvalidArgument for a fraction outside 0..1;
// FailedPrecondition unless the job is Running.
func (p *Provider) SetJobProgress(name string, fraction float64) error {
	if math.IsNaN(fraction) || fraction < 0 || fraction > 1 {
		return provider.Errorf(provider.InvalidArgument, "job progress %v is not a fraction from 0 to 1", fraction)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	j, err := p.jobLocked(name)
	if err != nil {
		return err
	}
	if j.info.State != provider.JobRunning {
		return provider.Errorf(provider.FailedPrecondition, "job %q is %s; only a Running job reports progress", name, j.info.State)
	}
	if j.info.Progress != fraction {
		j.info.Progress = fraction
		p.touchLocked(j)
	}
	return nil
}

// AppendJobLog appends text to the job's log, in any state: a job's last lines
// often arrive after it ended. Logs are not part of JobInfo, so the revision
// does not change. Errors: NotFound.
func (p *Provider) AppendJobLog(name, text string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	j, ok := p.jobs[name]
	if !ok {
		return provider.Errorf(provider.NotFound, "job %q does not exist; submit it before writing its logs", name)
	}
	j.logs = append(j.logs, text...)
	return nil
}

// unfinishedJobLocked returns a job that has not ended, for a control that
// would move it (verb: "complete", "fail").
func (p *Provider) unfinishedJobLocked(name, verb string) (*job, error) {
	j, err := p.jobLocked(name)
	if err != nil {
		return nil, err
	}
	if j.info.State.Terminal() {
		return nil, provider.Errorf(provider.FailedPrecondition, "job %q already ended %s; it cannot %s", name, j.info.State, verb)
	}
	return j, nil
}

// CompleteJob ends a Running or Queued job successfully. The output URI is
// outputURI, else the spec's OutputURI, else "mem://NAME/jobs/<job>/outputs".
// Errors: NotFound; FailedPrecondition if the job already ended.
func (p *Provider) CompleteJob(name, outputURI string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	j, err := p.unfinishedJobLocked(name, "complete")
	if err != nil {
		return err
	}
	p.succeedLocked(j, p.now(), outputURI)
	p.touchLocked(j)
	return nil
}

// FailJob ends the current run of a Running or Queued job with a failure; a
// Queued job's failure counts as a run that failed to start. While Attempts
// is at most the spec's MaxRetries the job goes back to Queued (and starts
// again at once when Options.JobDuration is set); otherwise it is Failed with
// message. Errors: NotFound; FailedPrecondition if the job already ended.
func (p *Provider) FailJob(name, message string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	j, err := p.unfinishedJobLocked(name, "fail")
	if err != nil {
		return err
	}
	now := p.now()
	if j.info.State == provider.JobQueued {
		j.info.Attempts++
		if j.info.Started.IsZero() {
			j.info.Started = now
		}
	}
	message = cmp.Or(message, "the run failed")
	if j.info.Attempts <= j.info.Spec.MaxRetries {
		j.info.State = provider.JobQueued
		j.info.Progress = 0
		j.info.Message = fmt.Sprintf("attempt %d of %d failed: %s; retrying", j.info.Attempts, j.info.Spec.MaxRetries+1, message)
		if p.jobDuration > 0 {
			p.startLocked(j, now)
		}
	} else {
		j.info.State = provider.JobFailed
		j.info.Finished = now
		j.info.Message = message
	}
	p.touchLocked(j)
	return nil
}
