package mlops_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
)

func jobSpec(inputs ...*mlops.Dataset) mlops.TrainJobSpec {
	s := mlops.TrainJobSpec{Name: "fraud", Location: euGPU, Image: pinnedImage,
		Command: []string{"python", "train.py"}, GPU: mlops.GPURequest{Type: "H100", Count: 8}}
	for _, d := range inputs {
		s.Inputs = append(s.Inputs, mlops.JobInput{Name: "train", Dataset: d.Ref()})
	}
	return s
}

func TestSubmitIsIdempotent(t *testing.T) {
	e := newEnv(t, nil, nil)
	d := e.dataset("claims", "1", "x")
	j1, err := e.c.SubmitJob(e.ctx, jobSpec(d))
	require.NoError(t, err)
	j2, err := e.c.SubmitJob(e.ctx, jobSpec(d))
	require.NoError(t, err)
	require.Equal(t, j1.ID, j2.ID)
	require.Equal(t, 1, e.mem.Counts().Jobs)
	require.Equal(t, "mem/"+j1.Name, j1.ID)
	require.Equal(t, d.Digest, j1.Inputs[0].Digest)

	// Another spec without a key is another job.
	other := jobSpec(d)
	other.Args = []string{"--epochs", "3"}
	j3, err := e.c.SubmitJob(e.ctx, other)
	require.NoError(t, err)
	require.NotEqual(t, j1.ID, j3.ID)
	require.Equal(t, 2, e.mem.Counts().Jobs)
}

func TestSubmitKeyConflict(t *testing.T) {
	e := newEnv(t, nil, nil)
	spec := jobSpec()
	spec.Key = "nightly-2026-11-30"
	j, err := e.c.SubmitJob(e.ctx, spec)
	require.NoError(t, err)
	require.Equal(t, "nightly-2026-11-30", j.Name)
	_, err = e.c.SubmitJob(e.ctx, spec)
	require.NoError(t, err)

	spec.Args = []string{"--lr", "0.1"}
	_, err = e.c.SubmitJob(e.ctx, spec)
	requireCode(t, err, mlops.Conflict, "another spec")
	require.Equal(t, 1, e.mem.Counts().Jobs)
}

// A response lost after the provider created the job: the retry finds the
// job it created and returns it, so exactly one job exists.
func TestSubmitRetriedAfterLostResponseYieldsOneJob(t *testing.T) {
	e := newEnv(t, nil, nil)
	d := e.dataset("claims", "1", "x")
	e.mem.InjectFault(memprovider.Fault{Op: "SubmitJob", Nth: 1, AfterEffect: true,
		Err: provider.Errorf(provider.Unavailable, "connection reset after the request was sent")})
	j, err := e.c.SubmitJob(e.ctx, jobSpec(d))
	require.NoError(t, err)
	require.Equal(t, 1, e.mem.Counts().Jobs)

	submits := 0
	for _, call := range e.mem.Calls() {
		if call.Op == "SubmitJob" {
			submits++
		}
	}
	require.Equal(t, 2, submits, "the client retried once")

	// The caller retrying the whole call also gets the same job.
	again, err := e.c.SubmitJob(e.ctx, jobSpec(d))
	require.NoError(t, err)
	require.Equal(t, j.ID, again.ID)
	require.Equal(t, 1, e.mem.Counts().Jobs)
}

func TestConcurrentSubmitsOfOneSpecYieldOneJob(t *testing.T) {
	e := newEnv(t, nil, nil)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := e.c.SubmitJob(e.ctx, jobSpec())
			if err == nil {
				ids[i] = j.ID
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
	require.Equal(t, 1, e.mem.Counts().Jobs)
}

func TestWaitWatchesAndPolls(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(*memprovider.Provider) provider.Provider
	}{
		{"watch", func(m *memprovider.Provider) provider.Provider { return m }},
		{"poll", func(m *memprovider.Provider) provider.Provider { return noWatch{m} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memprovider.New(nil)
			c, err := mlops.NewClient(mlops.Providers{"mem": tc.wrap(mem)}, &mlops.ClientOptions{
				Principal: alice, PollInterval: time.Millisecond, MaxPollInterval: 4 * time.Millisecond})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			j, err := c.SubmitJob(ctx, jobSpec())
			require.NoError(t, err)
			require.Equal(t, mlops.JobQueued, j.State)
			name := j.Name
			go func() {
				time.Sleep(5 * time.Millisecond)
				_ = mem.StartJob(name)
				_ = mem.SetJobProgress(name, 0.5)
				time.Sleep(5 * time.Millisecond)
				_ = mem.CompleteJob(name, "mem://mem/jobs/out")
			}()
			var seen []mlops.JobState
			err = j.Wait(ctx, &mlops.WaitOptions{OnChange: func(j *mlops.TrainJob) { seen = append(seen, j.State) }})
			require.NoError(t, err)
			require.Equal(t, mlops.JobSucceeded, j.State)
			require.Equal(t, "mem://mem/jobs/out", j.OutputURI)
			require.Equal(t, mlops.JobQueued, seen[0])
			require.Equal(t, mlops.JobSucceeded, seen[len(seen)-1])
		})
	}
}

func TestWaitReportsFailureAndContext(t *testing.T) {
	e := newEnv(t, nil, nil)
	j, err := e.c.SubmitJob(e.ctx, jobSpec())
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Millisecond)
	defer cancel()
	err = j.Wait(ctx, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, mlops.DeadlineExceeded, mlops.Code(err))

	require.NoError(t, e.mem.StartJob(j.Name))
	require.NoError(t, e.mem.FailJob(j.Name, "CUDA out of memory"))
	err = j.Wait(e.ctx, nil)
	var je *mlops.JobError
	require.True(t, errors.As(err, &je))
	require.Equal(t, mlops.JobFailed, je.State)
	require.ErrorIs(t, err, mlops.ErrFailedPrecondition)
	require.Equal(t, mlops.FailedPrecondition, mlops.Code(err))
	require.Contains(t, err.Error(), "CUDA out of memory")
}

func TestReattachFromAnotherClient(t *testing.T) {
	e := newEnv(t, nil, nil)
	j, err := e.c.SubmitJob(e.ctx, jobSpec())
	require.NoError(t, err)

	// Another process: a new Client over the same provider state.
	other := newEnvOver(t, e.mem, &mlops.ClientOptions{Principal: mlops.Principal{ID: "ci@example.com"}})
	again, err := other.c.GetJob(other.ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, j.Spec.Image, again.Spec.Image)
	require.Equal(t, alice.ID, again.SubmittedBy)
	require.NoError(t, e.mem.StartJob(j.Name))
	require.NoError(t, e.mem.CompleteJob(j.Name, ""))
	require.NoError(t, again.Wait(other.ctx, nil))

	for _, bad := range []string{"no-slash", "nope/fraud-job", "mem/Bad_Name"} {
		_, err := other.c.GetJob(other.ctx, bad)
		requireCode(t, err, mlops.InvalidArgument)
	}
	_, err = other.c.GetJob(other.ctx, "mem/missing-job")
	requireCode(t, err, mlops.NotFound)
}

func TestCancelAndLogs(t *testing.T) {
	e := newEnv(t, nil, nil)
	j, err := e.c.SubmitJob(e.ctx, jobSpec())
	require.NoError(t, err)
	require.NoError(t, e.mem.StartJob(j.Name))
	require.NoError(t, e.mem.AppendJobLog(j.Name, "epoch 1 loss 0.3\n"))
	rc, err := j.Logs(e.ctx)
	require.NoError(t, err)
	b, _ := io.ReadAll(rc)
	require.Equal(t, "epoch 1 loss 0.3\n", string(b))

	require.NoError(t, j.Cancel(e.ctx))
	require.Equal(t, mlops.JobCanceled, j.State)
	require.NoError(t, j.Cancel(e.ctx), "cancelling an ended job changes nothing")
	require.ErrorIs(t, j.Wait(e.ctx, nil), mlops.ErrFailedPrecondition)
}

func TestLogsUnimplemented(t *testing.T) {
	mem := memprovider.New(nil)
	c, err := mlops.NewClient(mlops.Providers{"mem": noLogs{mem}}, &mlops.ClientOptions{Principal: alice})
	require.NoError(t, err)
	j, err := c.SubmitJob(context.Background(), jobSpec())
	require.NoError(t, err)
	_, err = j.Logs(context.Background())
	requireCode(t, err, mlops.Unimplemented, "does not offer job logs")
}

type noLogs struct{ *memprovider.Provider }

func (noLogs) JobLogs() {} // shadows JobLogger

// pinnedImage is an image reference pinned by digest, as the default policy
// asks.
const pinnedImage = "registry.example/ml/train@sha256:0d5e1bc0a6b3c4f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6"
