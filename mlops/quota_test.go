package mlops_test

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
)

// Eight concurrent submissions of eight GPUs each under a quota of eight:
// exactly one may pass, every time. The provider's SubmitJob is slowed so
// that the submissions overlap.
func TestGPUQuotaRace(t *testing.T) {
	for trial := range 20 {
		e := newEnv(t, &mlops.ClientOptions{Policy: mlops.NewPolicy(mlops.GPUQuota(8, 0))}, nil)
		e.mem.InjectFault(memprovider.Fault{Op: "SubmitJob", Latency: 2 * time.Millisecond})
		var (
			wg             sync.WaitGroup
			mu             sync.Mutex
			accepted, deny int
			other          []error
		)
		for i := range 8 {
			wg.Go(func() {
				spec := jobSpec() // 8 GPUs on one node
				spec.Args = []string{"--seed", fmt.Sprint(i)}
				_, err := e.c.SubmitJob(e.ctx, spec)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					accepted++
				case errors.Is(err, mlops.ErrPolicyDenied):
					deny++
				default:
					other = append(other, err)
				}
			})
		}
		wg.Wait()
		require.Empty(t, other, "trial %d", trial)
		require.Equal(t, 1, accepted, "trial %d: %d of 8 submissions of 8 GPUs accepted under a quota of 8", trial, accepted)
		require.Equal(t, 7, deny, "trial %d", trial)
		require.Equal(t, 1, e.mem.Counts().Jobs, "trial %d", trial)
	}
}

// What a submission holds while it is in flight is given back when it
// fails or is denied, and identical concurrent submissions, which make one
// job, ask for its GPUs once.
func TestGPUQuotaRaceReservationIsReleased(t *testing.T) {
	e := newEnv(t, &mlops.ClientOptions{Policy: mlops.NewPolicy(mlops.GPUQuota(8, 0))}, &memprovider.Options{})
	remove := e.mem.InjectFault(memprovider.Fault{Op: "SubmitJob", Err: provider.Errorf(provider.InvalidArgument, "no capacity")})
	_, err := e.c.SubmitJob(e.ctx, jobSpec())
	requireCode(t, err, mlops.InvalidArgument, "no capacity")
	remove()

	over := jobSpec()
	over.Nodes = 2
	_, err = e.c.SubmitJob(e.ctx, over)
	requireDenied(t, err, "holds 0 GPUs", "asks for 16 more")

	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = e.c.SubmitJob(e.ctx, jobSpec()) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err, "the same spec submitted eight times is one job of 8 GPUs")
	}
	require.Equal(t, 1, e.mem.Counts().Jobs)
}

// Nodes of MaxInt/8+2 made GPUs times nodes wrap negative, and the quota
// then let every later job pass.
func TestGPUQuotaOverflow(t *testing.T) {
	e := newEnv(t, &mlops.ClientOptions{Policy: mlops.NewPolicy(mlops.GPUQuota(8, 0))}, nil)
	huge := jobSpec()
	huge.Nodes = math.MaxInt/8 + 2
	_, err := e.c.SubmitJob(e.ctx, huge)
	requireCode(t, err, mlops.InvalidArgument, "Nodes", "at most 4096")
	many := jobSpec()
	many.GPU.Count = 65
	_, err = e.c.SubmitJob(e.ctx, many)
	requireCode(t, err, mlops.InvalidArgument, "GPU.Count", "at most 64")
	require.Zero(t, e.mem.Counts().Jobs)

	// A job written at the provider by someone else may carry any numbers:
	// a count that overflows is a denial, never a pass.
	_, err = e.mem.SubmitJob(e.ctx, &provider.JobSpec{Name: "foreign", Region: euGPU.Region, Image: "x", GPUs: 8, Nodes: math.MaxInt/8 + 2,
		Metadata: map[string]string{"tideline_submitter": alice.ID}})
	require.NoError(t, err)
	small := jobSpec()
	small.GPU.Count = 1
	_, err = e.c.SubmitJob(e.ctx, small)
	requireDenied(t, err, "more GPUs than can be counted")

	// Policy.Decide is public: a request built by hand that asks for more
	// than an int holds is denied too.
	pol := mlops.NewPolicy(mlops.GPUQuota(8, 8))
	for _, job := range []*mlops.TrainJobSpec{
		{GPU: mlops.GPURequest{Count: 8}, Nodes: math.MaxInt/8 + 2},
		{GPU: mlops.GPURequest{Count: -8}, Nodes: 1},
	} {
		d := pol.Decide(e.ctx, &mlops.Request{Action: mlops.ActionJobSubmit, Principal: alice, Job: job, Usage: &mlops.GPUUsage{}})
		require.False(t, d.Allowed, "%+v", job)
	}
	for _, u := range []mlops.GPUUsage{{Principal: math.MaxInt}, {Team: math.MaxInt}, {Principal: -100}} {
		d := pol.Decide(e.ctx, &mlops.Request{Action: mlops.ActionJobSubmit, Principal: alice, Job: &mlops.TrainJobSpec{GPU: mlops.GPURequest{Count: 1}}, Usage: &u})
		require.False(t, d.Allowed, "%+v", u)
	}
}
