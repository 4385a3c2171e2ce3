package mlops_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
)

var alice = mlops.Principal{ID: "alice@example.com", Team: "risk"}

// env is a Client over one memprovider named "mem", with fast polling and
// deterministic ids.
type env struct {
	t   testing.TB
	ctx context.Context
	mem *memprovider.Provider
	c   *mlops.Client
}

func newEnv(t testing.TB, opts *mlops.ClientOptions, memOpts *memprovider.Options) *env {
	t.Helper()
	mem := memprovider.New(memOpts)
	return newEnvOver(t, mem, opts)
}

func newEnvOver(t testing.TB, mem *memprovider.Provider, opts *mlops.ClientOptions) *env {
	t.Helper()
	o := mlops.ClientOptions{}
	if opts != nil {
		o = *opts
	}
	if o.Principal.ID == "" {
		o.Principal = alice
	}
	// Most tests are about one mechanism, not the default rules: they run
	// permissive unless they give a policy (TestDefaultPolicy* test the
	// default), and with an in-memory audit log unless they give one.
	if o.Policy == nil {
		o.Policy = mlops.Permissive()
	}
	if !slices.ContainsFunc(o.Hooks, func(h mlops.Hook) bool { _, ok := h.(*mlops.AuditHook); return ok }) {
		o.Hooks = append(slices.Clip(o.Hooks), mlops.NewMemoryAuditHook())
	}
	if o.PollInterval == 0 {
		o.PollInterval = time.Millisecond
		o.MaxPollInterval = 5 * time.Millisecond
	}
	if o.Retry.MinBackoff == 0 {
		o.Retry.MinBackoff = time.Millisecond
		o.Retry.MaxBackoff = 2 * time.Millisecond
	}
	if o.NewID == nil {
		var n atomic.Int64
		o.NewID = func() string { return fmt.Sprintf("op-%d", n.Add(1)) }
	}
	c, err := mlops.NewClient(mlops.Providers{"mem": mem}, &o)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &env{t: t, ctx: ctx, mem: mem, c: c}
}

var euWest = mlops.Location{Provider: "mem", Region: "westeurope"}
var euGPU = mlops.Location{Provider: "mem", Region: "EU-SOUTH-03"}

func (e *env) dataset(name, version, content string) *mlops.Dataset {
	e.t.Helper()
	d, err := e.c.CreateDataset(e.ctx, name, version, bytes.NewBufferString(content), &mlops.CreateDatasetOptions{Location: euWest})
	require.NoError(e.t, err)
	return d
}

// trainedJob submits a job and drives it to success.
func (e *env) trainedJob(name string, inputs ...*mlops.Dataset) *mlops.TrainJob {
	e.t.Helper()
	spec := mlops.TrainJobSpec{Name: name, Location: euGPU, Image: pinnedImage, GPU: mlops.GPURequest{Type: "H100", Count: 8}}
	for i, d := range inputs {
		spec.Inputs = append(spec.Inputs, mlops.JobInput{Name: fmt.Sprintf("in%d", i), Dataset: d.Ref()})
	}
	job, err := e.c.SubmitJob(e.ctx, spec)
	require.NoError(e.t, err)
	if job.State == mlops.JobQueued { // not a job submitted before with the same spec
		require.NoError(e.t, e.mem.StartJob(job.Name))
		require.NoError(e.t, e.mem.CompleteJob(job.Name, ""))
	}
	require.NoError(e.t, job.Wait(e.ctx, nil))
	return job
}

// approvedModel registers a model version from a succeeded job and approves
// it as another principal.
func (e *env) approvedModel(model string) *mlops.ModelVersion {
	e.t.Helper()
	job := e.trainedJob("train-" + model)
	mv, err := e.c.Models("").Register(e.ctx, model, mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}, Framework: "pytorch"})
	require.NoError(e.t, err)
	bob := mlops.WithPrincipal(e.ctx, mlops.Principal{ID: "bob@example.com"})
	mv, err = e.c.Models("").Approve(bob, mv, "metrics reviewed")
	require.NoError(e.t, err)
	return mv
}

func requireCode(t testing.TB, err error, code mlops.ErrorCode, contains ...string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, mlops.Code(err), "error: %v", err)
	for _, s := range contains {
		require.Contains(t, err.Error(), s)
	}
}

// noWatch hides the memprovider's JobWatcher, so that Wait has to poll.
type noWatch struct {
	*memprovider.Provider
}

// Only the capabilities below are visible through noWatch.
var (
	_ provider.Trainer   = noWatch{}
	_ provider.DataStore = noWatch{}
)

func (noWatch) WatchJob() {} // shadows the promoted method so the type no longer implements JobWatcher

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
