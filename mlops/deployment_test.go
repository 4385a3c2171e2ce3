package mlops_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
)

// servingEnv has an endpoint with "blue" serving all traffic and "green"
// deployed with none, both approved.
func servingEnv(t *testing.T, opts *mlops.ClientOptions, memOpts *memprovider.Options) (*env, *mlops.Endpoint) {
	t.Helper()
	e := newEnv(t, opts, memOpts)
	blue := e.approvedModel("fraud")
	green := e.approvedModel("fraud")
	ep, err := e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	_, err = ep.Deploy(e.ctx, "blue", blue, nil)
	require.NoError(t, err)
	require.NoError(t, ep.SetTraffic(e.ctx, map[string]int{"blue": 100}, nil))
	_, err = ep.Deploy(e.ctx, "green", green, nil)
	require.NoError(t, err)
	return e, ep
}

func TestRolloutSucceeds(t *testing.T) {
	e, ep := servingEnv(t, nil, nil)
	var steps []map[string]int
	err := ep.Rollout(e.ctx, "green", &mlops.RolloutOptions{
		Check:  func(ctx context.Context, s mlops.RolloutStep) error { return nil },
		OnStep: func(s mlops.RolloutStep) { steps = append(steps, s.Split) },
	})
	require.NoError(t, err)
	require.Equal(t, []map[string]int{{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"green": 100}}, steps)
	require.Equal(t, map[string]int{"green": 100}, ep.Traffic)
	_, rolling := ep.IsRollingOut()
	require.False(t, rolling)
}

func TestRolloutRollsBackOnFailedCheck(t *testing.T) {
	e, ep := servingEnv(t, nil, nil)
	err := ep.Rollout(e.ctx, "green", &mlops.RolloutOptions{
		Check: func(ctx context.Context, s mlops.RolloutStep) error {
			if s.Percent == 50 {
				return errors.New("p99 latency 900ms over the 300ms budget")
			}
			return nil
		},
	})
	var re *mlops.RolloutError
	require.True(t, errors.As(err, &re), "%v", err)
	require.Equal(t, 2, re.Step)
	require.Equal(t, 50, re.Percent)
	require.Equal(t, map[string]int{"blue": 100}, re.RolledBackTo)
	require.Contains(t, err.Error(), "step 2 (50%)")
	require.Contains(t, err.Error(), "p99 latency")
	require.NoError(t, ep.Refresh(e.ctx))
	require.Equal(t, map[string]int{"blue": 100}, ep.Traffic)
}

// The acceptance case: the provider fails the traffic change of the second
// step; the endpoint ends at its previous split and the error names the step.
func TestRolloutProviderFailureAtSecondStep(t *testing.T) {
	e, ep := servingEnv(t, nil, nil)
	e.mem.InjectFault(memprovider.Fault{Op: "UpdateEndpoint", Nth: 2,
		Err: provider.Errorf(provider.Internal, "endpoint update rejected by the service")})
	err := ep.Rollout(e.ctx, "green", nil)
	var re *mlops.RolloutError
	require.True(t, errors.As(err, &re), "%v", err)
	require.Equal(t, 2, re.Step)
	require.Contains(t, err.Error(), "step 2 (50%)")
	require.Contains(t, err.Error(), "rejected by the service")
	require.Equal(t, mlops.Internal, mlops.Code(err))

	fresh, err := e.c.GetEndpoint(e.ctx, "fraud-api")
	require.NoError(t, err)
	require.Equal(t, map[string]int{"blue": 100}, fresh.Traffic)
	_, rolling := fresh.IsRollingOut()
	require.False(t, rolling)
}

func TestRolloutRollsBackWhenContextEnds(t *testing.T) {
	e, ep := servingEnv(t, nil, nil)
	ctx, cancel := context.WithCancel(e.ctx)
	err := ep.Rollout(ctx, "green", &mlops.RolloutOptions{
		Bake: time.Millisecond,
		OnStep: func(s mlops.RolloutStep) {
			if s.Index == 2 {
				cancel()
			}
		},
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, mlops.Canceled, mlops.Code(err))
	require.NoError(t, ep.Refresh(e.ctx))
	require.Equal(t, map[string]int{"blue": 100}, ep.Traffic)
}

// A program that stopped mid-rollout: another Client resumes from the
// endpoint's own record.
func TestRolloutResumesAfterCrash(t *testing.T) {
	e, ep := servingEnv(t, nil, nil)
	// Hold at 50: the first program "crashes" there.
	require.NoError(t, ep.Rollout(e.ctx, "green", &mlops.RolloutOptions{Steps: []int{10, 50}}))
	require.Equal(t, map[string]int{"blue": 50, "green": 50}, ep.Traffic)

	other := newEnvOver(t, e.mem, nil)
	ep2, err := other.c.GetEndpoint(other.ctx, "fraud-api")
	require.NoError(t, err)
	dep, rolling := ep2.IsRollingOut()
	require.True(t, rolling)
	require.Equal(t, "green", dep)

	// Another deployment cannot start while this rollout is open.
	err = ep2.Rollout(other.ctx, "blue", nil)
	requireCode(t, err, mlops.FailedPrecondition, "middle of a rollout")

	var percents []int
	err = ep2.Rollout(other.ctx, "green", &mlops.RolloutOptions{
		OnStep: func(s mlops.RolloutStep) { percents = append(percents, s.Percent) },
		Check: func(ctx context.Context, s mlops.RolloutStep) error {
			if s.Percent == 100 {
				return errors.New("error rate 4%")
			}
			return nil
		},
	})
	require.Equal(t, []int{100}, percents, "steps at or below the current share are skipped")
	var re *mlops.RolloutError
	require.True(t, errors.As(err, &re))
	// The rollback restores the split from before the first program began.
	require.Equal(t, map[string]int{"blue": 100}, re.RolledBackTo)
}

func TestAbortRollout(t *testing.T) {
	e, ep := servingEnv(t, nil, nil)
	requireCode(t, ep.AbortRollout(e.ctx), mlops.FailedPrecondition)
	require.NoError(t, ep.Rollout(e.ctx, "green", &mlops.RolloutOptions{Steps: []int{25}}))
	require.Equal(t, map[string]int{"blue": 75, "green": 25}, ep.Traffic)
	require.NoError(t, ep.AbortRollout(e.ctx))
	require.Equal(t, map[string]int{"blue": 100}, ep.Traffic)
}

func TestTrafficRequiresApprovedModel(t *testing.T) {
	e := newEnv(t, &mlops.ClientOptions{Policy: mlops.NewPolicy(mlops.RequireApprovedModels())}, nil)
	blue := e.approvedModel("fraud")
	mv, err := e.c.Models("").Register(e.ctx, "fraud", mlops.ModelSource{ArtifactURI: "mem://mem/x"}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	ep, err := e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	_, err = ep.Deploy(e.ctx, "blue", blue, nil)
	require.NoError(t, err)
	require.NoError(t, ep.Promote(e.ctx, "blue"))
	_, err = ep.Deploy(e.ctx, "green", mv, nil)
	require.NoError(t, err, "deploying without traffic is allowed")

	err = ep.Rollout(e.ctx, "green", nil)
	require.ErrorIs(t, err, mlops.ErrPolicyDenied)
	var pe *mlops.PolicyError
	require.True(t, errors.As(err, &pe))
	require.Contains(t, pe.Reasons[0].Message, "pending")
	require.NoError(t, ep.Refresh(e.ctx))
	require.Equal(t, map[string]int{"blue": 100}, ep.Traffic)

	// Approval read fresh: approve through another client, then it works.
	other := newEnvOver(t, e.mem, &mlops.ClientOptions{Principal: mlops.Principal{ID: "bob@example.com"}})
	_, err = other.c.Models("").Approve(other.ctx, mv, "ok")
	require.NoError(t, err)
	require.NoError(t, ep.Rollout(e.ctx, "green", nil))
}

func TestTrafficValidation(t *testing.T) {
	e, ep := servingEnv(t, nil, nil)
	before := e.mem.Counts()
	for _, tc := range []struct {
		name   string
		split  map[string]int
		mirror map[string]int
		code   mlops.ErrorCode
		msg    string
	}{
		{"sum below 100", map[string]int{"blue": 60, "green": 30}, nil, mlops.InvalidArgument, "sum to 90"},
		{"sum above 100", map[string]int{"blue": 60, "green": 50}, nil, mlops.InvalidArgument, "sum to 110"},
		{"negative", map[string]int{"blue": 110, "green": -10}, nil, mlops.InvalidArgument, "from 0 to 100"},
		{"unknown deployment", map[string]int{"blue": 50, "red": 50}, nil, mlops.NotFound, `no deployment "red"`},
		{"unknown deployment at zero", map[string]int{"blue": 100, "red": 0}, nil, mlops.NotFound, `no deployment "red"`},
		{"unknown mirror", map[string]int{"blue": 100}, map[string]int{"red": 10}, mlops.NotFound, `no deployment "red"`},
		{"bad name", map[string]int{"Blue": 100}, nil, mlops.InvalidArgument, "deployment name"},
		{"empty", map[string]int{}, nil, mlops.InvalidArgument, "sum to 0"},
		{"mirror over 50", map[string]int{"blue": 100}, map[string]int{"green": 60}, mlops.InvalidArgument, "at most 50"},
		{"mirror on live", map[string]int{"blue": 50, "green": 50}, map[string]int{"green": 10}, mlops.InvalidArgument, "both receive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts *mlops.TrafficOptions
			if tc.mirror != nil {
				opts = &mlops.TrafficOptions{Mirror: tc.mirror}
			}
			err := ep.SetTraffic(e.ctx, tc.split, opts)
			requireCode(t, err, tc.code, tc.msg)
		})
	}
	require.NoError(t, ep.Refresh(e.ctx))
	require.Equal(t, map[string]int{"blue": 100}, ep.Traffic)
	require.Equal(t, before, e.mem.Counts())

	require.NoError(t, ep.SetTraffic(e.ctx, map[string]int{"blue": 100}, &mlops.TrafficOptions{Mirror: map[string]int{"green": 20}}))
	require.Equal(t, map[string]int{"green": 20}, ep.Mirror)
}

func TestDeleteDeploymentWithTraffic(t *testing.T) {
	e, ep := servingEnv(t, nil, nil)
	requireCode(t, ep.DeleteDeployment(e.ctx, "blue"), mlops.FailedPrecondition, "still receives traffic")
	require.NoError(t, ep.DeleteDeployment(e.ctx, "green"))
	require.Nil(t, ep.Deployment("green"))
	requireCode(t, ep.DeleteDeployment(e.ctx, "green"), mlops.NotFound)
	require.NoError(t, ep.Delete(e.ctx))
	_, err := e.c.GetEndpoint(e.ctx, "fraud-api")
	requireCode(t, err, mlops.NotFound)
}

// KServe keeps two revisions: a third deployment is a clear
// FailedPrecondition, not a surprise from the cluster.
func TestTwoWayCanaryProvider(t *testing.T) {
	e, ep := servingEnv(t, nil, &memprovider.Options{Serving: &provider.ServingCapabilities{MaxDeployments: 2}})
	require.Equal(t, 2, ep.Capabilities.MaxDeployments)
	mv := e.approvedModel("fraud")
	before := e.mem.Counts()
	_, err := ep.Deploy(e.ctx, "red", mv, nil)
	requireCode(t, err, mlops.FailedPrecondition, "holds 2 deployments")
	require.Equal(t, before, e.mem.Counts())

	err = ep.SetTraffic(e.ctx, map[string]int{"blue": 100}, &mlops.TrafficOptions{Mirror: map[string]int{"green": 10}})
	requireCode(t, err, mlops.Unimplemented, "cannot mirror")
	require.NoError(t, ep.Rollout(e.ctx, "green", nil))
}

func TestDeployWaitsUntilReady(t *testing.T) {
	e := newEnv(t, nil, &memprovider.Options{ManualDeployments: true})
	mv := e.approvedModel("fraud")
	ep, err := e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	go func() {
		time.Sleep(10 * time.Millisecond)
		_ = e.mem.SetDeploymentState("fraud-api", "blue", provider.DeploymentReady, "")
	}()
	d, err := ep.Deploy(e.ctx, "blue", mv, nil)
	require.NoError(t, err)
	require.Equal(t, mlops.DeploymentReady, d.State)

	go func() {
		time.Sleep(10 * time.Millisecond)
		_ = e.mem.SetDeploymentState("fraud-api", "green", provider.DeploymentFailed, "image pull back-off")
	}()
	_, err = ep.Deploy(e.ctx, "green", mv, nil)
	requireCode(t, err, mlops.FailedPrecondition, "image pull back-off")
}

func TestCreateEndpointExisting(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, err := e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	_, err = e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	requireCode(t, err, mlops.AlreadyExists, "GetEndpoint")

	// A lost response on create: the retry recognises its own endpoint.
	e.mem.InjectFault(memprovider.Fault{Op: "CreateEndpoint", Nth: 1, AfterEffect: true})
	_, err = e.c.CreateEndpoint(e.ctx, "scoring", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	require.Equal(t, 2, e.mem.Counts().Endpoints)
}

func TestListJobsAndEndpoints(t *testing.T) {
	e, _ := servingEnv(t, nil, nil)
	jobs, err := mlops.Collect(e.c.ListJobs(e.ctx))
	require.NoError(t, err)
	require.Len(t, jobs, 1, "the two models came from one job spec")
	require.Equal(t, mlops.JobSucceeded, jobs[0].State)
	_, err = e.c.CreateEndpoint(e.ctx, "other-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	eps, err := mlops.Collect(e.c.ListEndpoints(e.ctx))
	require.NoError(t, err)
	require.Len(t, eps, 2)
	require.Equal(t, "fraud-api", eps[0].Name)
	require.Len(t, eps[0].Deployments, 2)
	require.Equal(t, map[string]int{"blue": 100}, eps[0].Traffic)
	require.Equal(t, "other-api", eps[1].Name)
}
