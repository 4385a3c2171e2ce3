package mlops_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
)

var bob = mlops.Principal{ID: "bob@example.com"}

// splitEnv creates endpoint "fraud-api" in region with one deployment per
// name, each serving its own approved version of model "fraud", and sets the
// live split.
func splitEnv(t *testing.T, opts *mlops.ClientOptions, region string, split map[string]int, names ...string) (*env, *mlops.Endpoint, map[string]*mlops.ModelVersion) {
	t.Helper()
	e := newEnv(t, opts, nil)
	ep, err := e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: at(region)})
	require.NoError(t, err)
	models := map[string]*mlops.ModelVersion{}
	for _, n := range names {
		models[n] = e.approvedModel("fraud")
		_, err := ep.Deploy(e.ctx, n, models[n], nil)
		require.NoError(t, err)
	}
	require.NoError(t, ep.SetTraffic(e.ctx, split, nil))
	return e, ep, models
}

func (e *env) reject(mv *mlops.ModelVersion) {
	e.t.Helper()
	_, err := e.c.Models("").Reject(mlops.WithPrincipal(e.ctx, bob), mv, "drift found")
	require.NoError(e.t, err)
}

func failAt(pct int) func(context.Context, mlops.RolloutStep) error {
	return func(_ context.Context, s mlops.RolloutStep) error {
		if s.Percent == pct {
			return fmt.Errorf("error rate 4%% at %d%%", pct)
		}
		return nil
	}
}

func traffic(t *testing.T, e *env) map[string]int {
	t.Helper()
	ep, err := e.c.GetEndpoint(e.ctx, "fraud-api")
	require.NoError(t, err)
	return ep.Traffic
}

// Item 7: a rollback restores exactly the split recorded before the rollout
// began. Rescaling what was left invented {canary:100}; when the recorded
// split is no longer allowed, the endpoint stays where it is and the error
// says why, and a rejected model never gains traffic.
func TestRollbackInventsSplit(t *testing.T) {
	t.Run("restores the recorded split exactly", func(t *testing.T) {
		e, ep, _ := splitEnv(t, nil, "westeurope", map[string]int{"blue": 95, "canary": 5}, "blue", "canary")
		err := ep.Rollout(e.ctx, "blue", &mlops.RolloutOptions{Steps: []int{100}, Check: failAt(100)})
		var re *mlops.RolloutError
		require.True(t, errors.As(err, &re), "%v", err)
		require.NoError(t, re.RollbackErr)
		require.Equal(t, map[string]int{"blue": 95, "canary": 5}, re.RolledBackTo)
		require.Equal(t, map[string]int{"blue": 95, "canary": 5}, traffic(t, e))
	})
	for _, tc := range []struct {
		name   string
		policy *mlops.Policy
	}{
		{"rejected since, no policy", nil},
		{"rejected since, under policy", mlops.NewPolicy(mlops.RequireApprovedModels(), mlops.MaxTrafficStep(10))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ep, models := splitEnv(t, &mlops.ClientOptions{Policy: tc.policy}, "westeurope", map[string]int{"blue": 95, "canary": 5}, "blue", "canary")
			e.reject(models["canary"])
			err := ep.Rollout(e.ctx, "blue", &mlops.RolloutOptions{Steps: []int{100}, Check: failAt(100)})
			var re *mlops.RolloutError
			require.True(t, errors.As(err, &re), "%v", err)
			require.Nil(t, re.RolledBackTo)
			require.Error(t, re.RollbackErr)
			require.Contains(t, re.RollbackErr.Error(), "rejected")
			require.Contains(t, err.Error(), "{blue=95,canary=5}", "the error names the split it could not restore")
			got := traffic(t, e)
			require.LessOrEqual(t, got["canary"], 5, "a rejected model never gains traffic: %v", got)
			require.Equal(t, map[string]int{"blue": 100}, got, "the rollout stops where it stood")
			require.Equal(t, got, re.LeftAt)
		})
	}
}

// Item 8: a traffic change outside the rollout supersedes its record, so
// AbortRollout no longer restores a split from before it.
func TestStaleRolloutRecordRestoredAfterManualChange(t *testing.T) {
	e, ep, models := splitEnv(t, nil, "westeurope", map[string]int{"blue": 100}, "blue", "green", "red")
	require.NoError(t, ep.Rollout(e.ctx, "green", &mlops.RolloutOptions{Steps: []int{10}}))
	e.reject(models["blue"])
	require.NoError(t, ep.SetTraffic(e.ctx, map[string]int{"red": 90, "green": 10}, nil))
	_, rolling := ep.IsRollingOut()
	require.False(t, rolling, "SetTraffic ends the rollout in the same update")
	requireCode(t, ep.AbortRollout(e.ctx), mlops.FailedPrecondition, "no rollout in progress")
	require.Equal(t, map[string]int{"red": 90, "green": 10}, traffic(t, e))

	// Promote does the same.
	require.NoError(t, ep.Rollout(e.ctx, "green", &mlops.RolloutOptions{Steps: []int{50}}))
	require.NoError(t, ep.Promote(e.ctx, "red"))
	requireCode(t, ep.AbortRollout(e.ctx), mlops.FailedPrecondition, "no rollout in progress")
	require.Equal(t, map[string]int{"red": 100}, traffic(t, e))
}

// Item 9: two rollouts started at once on one endpoint: exactly one wins,
// every time; the other fails naming the rollout that holds the endpoint.
func TestTwoConcurrentRolloutsBothSucceed(t *testing.T) {
	t.Run("one starts between the other's read and write", func(t *testing.T) {
		e, w := interleavedEnv(t)
		ep, err := e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
		require.NoError(t, err)
		for _, n := range []string{"blue", "green", "red"} {
			_, err := ep.Deploy(e.ctx, n, e.approvedModel("fraud"), nil)
			require.NoError(t, err)
		}
		require.NoError(t, ep.Promote(e.ctx, "blue"))
		other, err := e.c.GetEndpoint(e.ctx, "fraud-api")
		require.NoError(t, err)
		w.setBefore(func() {
			require.NoError(t, other.Rollout(e.ctx, "red", &mlops.RolloutOptions{Steps: []int{50}}))
		})
		err = ep.Rollout(e.ctx, "green", nil)
		requireCode(t, err, mlops.Conflict, `deployment "red" holds it`)
		var re *mlops.RolloutError
		require.False(t, errors.As(err, &re), "a rollout that never took the endpoint has nothing to roll back: %v", err)
		require.NoError(t, ep.Refresh(e.ctx))
		require.Equal(t, map[string]int{"blue": 50, "red": 50}, ep.Traffic, "the winner's step stands")
		dep, rolling := ep.IsRollingOut()
		require.True(t, rolling)
		require.Equal(t, "red", dep)
	})
	t.Run("repeated trials", testConcurrentRolloutTrials)
}

func testConcurrentRolloutTrials(t *testing.T) {
	e, ep, _ := splitEnv(t, nil, "westeurope", map[string]int{"blue": 100}, "blue", "green", "red")
	const trials = 30
	conflicts := 0
	for trial := range trials {
		require.NoError(t, ep.Promote(e.ctx, "blue"))
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := map[string]error{}
		var mu sync.Mutex
		// A rollout holds its first step until the other one has ended or
		// holds a first step too, so that the two overlap every time: one
		// finishing before the other starts would be no race at all.
		var met sync.WaitGroup
		met.Add(2)
		for _, dep := range []string{"green", "red"} {
			h, err := e.c.GetEndpoint(e.ctx, "fraud-api") // a handle per goroutine
			require.NoError(t, err)
			var once sync.Once
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := h.Rollout(e.ctx, dep, &mlops.RolloutOptions{Steps: []int{50, 100}, Check: func(_ context.Context, s mlops.RolloutStep) error {
					if s.Index == 1 {
						once.Do(met.Done)
						met.Wait()
					}
					return nil
				}})
				once.Do(met.Done)
				mu.Lock()
				errs[dep] = err
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		var winners, losers []string
		for _, dep := range []string{"green", "red"} {
			if errs[dep] == nil {
				winners = append(winners, dep)
			} else {
				losers = append(losers, dep)
			}
		}
		require.Len(t, winners, 1, "trial %d: exactly one rollout must win; errors %v", trial, errs)
		loss := errs[losers[0]]
		code := mlops.Code(loss)
		require.True(t, code == mlops.Conflict || code == mlops.FailedPrecondition, "trial %d: %v", trial, loss)
		require.Contains(t, loss.Error(), winners[0], "the loser names the rollout holding the endpoint")
		if code == mlops.Conflict {
			conflicts++
		}
		require.Equal(t, map[string]int{winners[0]: 100}, traffic(t, e), "trial %d", trial)
	}
	t.Logf("%d of %d trials lost on the compare-and-swap (Conflict), the rest on reading the winner's record", conflicts, trials)
}

// Item 10: with no live traffic there is nothing to roll back to, so a
// rollout is refused before any traffic moves.
func TestFirstRolloutGoesStraightTo100(t *testing.T) {
	e := newEnv(t, nil, nil)
	mv := e.approvedModel("fraud")
	ep, err := e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	_, err = ep.Deploy(e.ctx, "green", mv, nil)
	require.NoError(t, err)
	e.mem.ResetCalls()
	checked := false
	err = ep.Rollout(e.ctx, "green", &mlops.RolloutOptions{Check: func(context.Context, mlops.RolloutStep) error {
		checked = true
		return errors.New("unhealthy")
	}})
	requireCode(t, err, mlops.FailedPrecondition, "Promote")
	require.False(t, checked)
	for _, c := range e.mem.Calls() {
		require.NotEqual(t, "UpdateEndpoint", c.Op, "no traffic may move")
	}
	require.Empty(t, traffic(t, e), "nothing serves")
}

// Item 11: a Deploy whose context ends while the deployment is still being
// created leaves it for a retry to adopt; a retry with another model is
// AlreadyExists naming the difference.
func TestDeployContextEndsWhileWaiting(t *testing.T) {
	e := newEnv(t, nil, &memprovider.Options{ManualDeployments: true})
	mv := e.approvedModel("fraud")
	other := e.approvedModel("fraud")
	ep, err := e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	short, cancel := context.WithCancel(e.ctx)
	defer cancel()
	go func() { // the caller gives up once the provider has started creating it
		for e.mem.Counts().Deployments == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err = ep.Deploy(short, "blue", mv, &mlops.DeployOptions{Instances: 2})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, e.mem.Counts().Deployments, "the provider is still creating it")

	_, err = ep.Deploy(e.ctx, "blue", other, &mlops.DeployOptions{Instances: 2})
	requireCode(t, err, mlops.AlreadyExists, "mem/fraud@"+mv.Version, "mem/fraud@"+other.Version)
	_, err = ep.Deploy(e.ctx, "blue", mv, &mlops.DeployOptions{Instances: 3})
	requireCode(t, err, mlops.AlreadyExists, "2 instances", "3")

	go func() {
		time.Sleep(10 * time.Millisecond)
		_ = e.mem.SetDeploymentState("fraud-api", "blue", provider.DeploymentReady, "")
	}()
	d, err := ep.Deploy(e.ctx, "blue", mv, &mlops.DeployOptions{Instances: 2})
	require.NoError(t, err, "a retry of the same deployment adopts it")
	require.Equal(t, mlops.DeploymentReady, d.State)
	require.Equal(t, 1, e.mem.Counts().Deployments)
}

// Item 23: a program that crashed after moving traffic to 50% and before
// that step's check; the resumed rollout checks 50% first.
func TestResumedRolloutSkipsHealthCheck(t *testing.T) {
	e, ep, _ := splitEnv(t, nil, "westeurope", map[string]int{"blue": 100}, "blue", "green")
	crashed := make(chan struct{})
	go func() {
		_ = ep.Rollout(e.ctx, "green", &mlops.RolloutOptions{Check: func(_ context.Context, s mlops.RolloutStep) error {
			if s.Percent == 50 {
				close(crashed)
				runtime.Goexit() // the program dies before the check
			}
			return nil
		}})
	}()
	<-crashed
	require.Equal(t, map[string]int{"blue": 50, "green": 50}, traffic(t, e))

	other := newEnvOver(t, e.mem, nil)
	ep2, err := other.c.GetEndpoint(other.ctx, "fraud-api")
	require.NoError(t, err)
	var checked, moved []int
	err = ep2.Rollout(other.ctx, "green", &mlops.RolloutOptions{
		OnStep: func(s mlops.RolloutStep) { moved = append(moved, s.Percent) },
		Check: func(ctx context.Context, s mlops.RolloutStep) error {
			checked = append(checked, s.Percent)
			return failAt(50)(ctx, s)
		},
	})
	var re *mlops.RolloutError
	require.True(t, errors.As(err, &re), "%v", err)
	require.Equal(t, []int{50}, checked, "the step it resumed at is checked first")
	require.Empty(t, moved, "no traffic moved past an unchecked step")
	require.Equal(t, 50, re.Percent)
	require.Equal(t, map[string]int{"blue": 100}, re.RolledBackTo)
	require.Equal(t, map[string]int{"blue": 100}, traffic(t, e))
}

// interleaved runs a function once, just before the next UpdateEndpoint
// reaches the provider: another writer that gets in between a read and a
// conditional write.
type interleaved struct {
	*memprovider.Provider
	mu     sync.Mutex
	before func()
}

var _ provider.Serving = (*interleaved)(nil)

func (p *interleaved) UpdateEndpoint(ctx context.Context, upd *provider.EndpointUpdate) (*provider.EndpointInfo, error) {
	p.mu.Lock()
	f := p.before
	p.before = nil
	p.mu.Unlock()
	if f != nil {
		f()
	}
	return p.Provider.UpdateEndpoint(ctx, upd)
}

func (p *interleaved) setBefore(f func()) {
	p.mu.Lock()
	p.before = f
	p.mu.Unlock()
}

// interleavedEnv is an env whose Client reaches the memprovider through an
// interleaved wrapper.
func interleavedEnv(t *testing.T) (*env, *interleaved) {
	t.Helper()
	mem := memprovider.New(nil)
	w := &interleaved{Provider: mem}
	var n atomic.Int64
	c, err := mlops.NewClient(mlops.Providers{"mem": w}, &mlops.ClientOptions{Principal: alice,
		PollInterval: time.Millisecond, Retry: mlops.RetryOptions{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond},
		NewID: func() string { return fmt.Sprintf("op-%d", n.Add(1)) }})
	require.NoError(t, err)
	return &env{t: t, ctx: t.Context(), mem: mem, c: c}, w
}

// Item 24: after a Conflict, the same traffic is not success unless the
// metadata this update wrote is in place too: a stale rollout record must
// not survive a "successful" AbortRollout.
func TestConflictRecoveryChecksOnlyTraffic(t *testing.T) {
	e, w := interleavedEnv(t)
	mem, c := e.mem, e.c
	blue, green := e.approvedModel("fraud"), e.approvedModel("fraud")
	ep, err := c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	_, err = ep.Deploy(e.ctx, "blue", blue, nil)
	require.NoError(t, err)
	_, err = ep.Deploy(e.ctx, "green", green, nil)
	require.NoError(t, err)
	require.NoError(t, ep.Promote(e.ctx, "blue"))
	require.NoError(t, ep.Rollout(e.ctx, "green", &mlops.RolloutOptions{Steps: []int{10}}))

	// An older writer puts the traffic back without touching the record,
	// between AbortRollout's read and its write.
	w.setBefore(func() {
		_, err := mem.UpdateEndpoint(e.ctx, &provider.EndpointUpdate{Endpoint: "fraud-api", Traffic: map[string]int{"blue": 100}})
		require.NoError(t, err)
	})
	err = ep.AbortRollout(e.ctx)
	require.NoError(t, ep.Refresh(e.ctx))
	_, rolling := ep.IsRollingOut()
	if err == nil {
		require.False(t, rolling, "AbortRollout reported success while the rollout record survived")
	}
	requireCode(t, err, mlops.Conflict)
	require.True(t, rolling)
	// A second try finds the endpoint as it is and completes.
	require.NoError(t, ep.AbortRollout(e.ctx))
	_, rolling = ep.IsRollingOut()
	require.False(t, rolling)
	require.Equal(t, map[string]int{"blue": 100}, ep.Traffic)
}

// Item 5b: a deployment created before its dataset was tightened receives
// no traffic outside the tightened constraint: SetTraffic, Rollout and
// Promote are residency-checked for every deployment gaining traffic, and a
// rollback that would give it traffic back stops instead.
func TestTrafficChangesNotResidencyChecked(t *testing.T) {
	e := newEnv(t, nil, nil)
	d := e.dataset("claims", "1", "x")
	job := e.trainedJob("fraud", d)
	reg := e.c.Models("")
	tight, err := reg.Register(e.ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	_, err = reg.Approve(mlops.WithPrincipal(e.ctx, bob), tight, "ok")
	require.NoError(t, err)
	ep, err := e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: at("eastus")})
	require.NoError(t, err)
	for name, mv := range map[string]*mlops.ModelVersion{"blue": e.approvedModel("fraud"), "red": e.approvedModel("fraud"), "green": tight} {
		_, err := ep.Deploy(e.ctx, name, mv, nil)
		require.NoError(t, err)
	}
	require.NoError(t, ep.SetTraffic(e.ctx, map[string]int{"blue": 50, "green": 50}, nil))
	require.NoError(t, d.Tighten(e.ctx, residency.MustParseConstraint("EEA")))

	requireDenied(t, ep.SetTraffic(e.ctx, map[string]int{"blue": 40, "green": 60}, nil), "dataset mem/claims@1", "eastus")
	requireDenied(t, ep.Promote(e.ctx, "green"), "dataset mem/claims@1", "eastus")
	requireDenied(t, ep.Rollout(e.ctx, "green", &mlops.RolloutOptions{Steps: []int{75, 100}}), "dataset mem/claims@1")
	require.Equal(t, map[string]int{"blue": 50, "green": 50}, traffic(t, e))

	// Taking traffic away is not gaining: allowed.
	require.NoError(t, ep.SetTraffic(e.ctx, map[string]int{"blue": 60, "green": 40}, nil))

	// A rollback that would give green its share back stops where it is.
	err = ep.Rollout(e.ctx, "red", &mlops.RolloutOptions{Steps: []int{50}, Check: failAt(50)})
	var re *mlops.RolloutError
	require.True(t, errors.As(err, &re), "%v", err)
	require.Nil(t, re.RolledBackTo)
	requireDenied(t, re.RollbackErr, "dataset mem/claims@1", "eastus")
	require.Equal(t, map[string]int{"blue": 30, "green": 20, "red": 50}, traffic(t, e))
	require.Equal(t, traffic(t, e), re.LeftAt)
}

// Steps at or below the deployment's share leave nothing to do: Rollout
// changes nothing and leaves no record.
func TestRolloutWithEveryStepBelowShare(t *testing.T) {
	e, ep, _ := splitEnv(t, nil, "westeurope", map[string]int{"blue": 50, "green": 50}, "blue", "green")
	e.mem.ResetCalls()
	require.NoError(t, ep.Rollout(e.ctx, "green", &mlops.RolloutOptions{Steps: []int{10, 50}}))
	for _, c := range e.mem.Calls() {
		require.NotEqual(t, "UpdateEndpoint", c.Op)
	}
	_, rolling := ep.IsRollingOut()
	require.False(t, rolling)
	require.Equal(t, map[string]int{"blue": 50, "green": 50}, traffic(t, e))
}

// Two Deploys of the same deployment at once: both end with it, and the
// endpoint holds one.
func TestConcurrentDeploysOfOneDeployment(t *testing.T) {
	e := newEnv(t, nil, nil)
	mv := e.approvedModel("fraud")
	_, err := e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		h, err := e.c.GetEndpoint(e.ctx, "fraud-api")
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.Deploy(e.ctx, "blue", mv, nil)
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Equal(t, 1, e.mem.Counts().Deployments)
}
