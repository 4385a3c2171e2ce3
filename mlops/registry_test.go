package mlops_test

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
)

func TestRegisterFromJob(t *testing.T) {
	e := newEnv(t, nil, nil)
	d := e.dataset("claims", "1", "x")
	job := e.trainedJob("fraud", d)
	reg := e.c.Models("")
	mv, err := reg.Register(e.ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{
		Location: mlops.Location{Region: "westeurope"}, Framework: "pytorch", Metrics: map[string]float64{"auc": 0.91}, Tags: map[string]string{"team": "risk"}})
	require.NoError(t, err)
	require.Equal(t, "1", mv.Version)
	require.Equal(t, job.OutputURI, mv.ArtifactURI)
	require.Equal(t, job.ID, mv.SourceJob)
	require.Equal(t, mlops.ApprovalPending, mv.Approval.State)
	require.Equal(t, alice.ID, mv.RegisteredBy)

	mv2, err := reg.Register(e.ctx, "fraud", mlops.ModelSource{ArtifactURI: "mem://mem/elsewhere"}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	require.Equal(t, "2", mv2.Version)
	list, err := mlops.Collect(reg.List(e.ctx, "fraud"))
	require.NoError(t, err)
	require.Len(t, list, 2)
}

func TestRegisterFromUnfinishedJob(t *testing.T) {
	e := newEnv(t, nil, nil)
	j, err := e.c.SubmitJob(e.ctx, jobSpec())
	require.NoError(t, err)
	_, err = e.c.Models("").Register(e.ctx, "fraud", mlops.ModelSource{Job: j.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	requireCode(t, err, mlops.FailedPrecondition, "Queued")
	require.Equal(t, 0, e.mem.Counts().ModelVersions)
}

func TestConcurrentRegistrationsAreMonotonic(t *testing.T) {
	e := newEnv(t, nil, nil)
	reg := e.c.Models("mem")
	const n = 12
	versions := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mv, err := reg.Register(e.ctx, "fraud", mlops.ModelSource{ArtifactURI: fmt.Sprintf("mem://mem/a/%d", i)}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
			if err == nil {
				versions[i] = mv.Version
			}
		}()
	}
	wg.Wait()
	nums := make([]int, n)
	for i, v := range versions {
		nums[i], _ = strconv.Atoi(v)
	}
	sort.Ints(nums)
	for i := range nums {
		require.Equal(t, i+1, nums[i])
	}
}

func TestRegisterRetriedAfterLostResponseYieldsOneVersion(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.mem.InjectFault(memprovider.Fault{Op: "CreateModelVersion", Nth: 1, AfterEffect: true})
	mv, err := e.c.Models("").Register(e.ctx, "fraud", mlops.ModelSource{ArtifactURI: "mem://mem/a"}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	require.Equal(t, "1", mv.Version)
	require.Equal(t, 1, e.mem.Counts().ModelVersions)
}

func TestApprovalStateMachine(t *testing.T) {
	e := newEnv(t, nil, nil)
	reg := e.c.Models("")
	mv, err := reg.Register(e.ctx, "fraud", mlops.ModelSource{ArtifactURI: "mem://mem/a"}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	bob := mlops.WithPrincipal(e.ctx, mlops.Principal{ID: "bob@example.com"})
	approved, err := reg.Approve(bob, mv, "looks good")
	require.NoError(t, err)
	require.Equal(t, mlops.ApprovalApproved, approved.Approval.State)
	require.Equal(t, "bob@example.com", approved.Approval.By)
	require.Equal(t, "looks good", approved.Approval.Comment)

	// The same decision by the same principal again is a retry: it succeeds
	// and changes nothing. Anyone else finds the decision made.
	again, err := reg.Approve(bob, mv, "again")
	require.NoError(t, err)
	require.Equal(t, "looks good", again.Approval.Comment)
	_, err = reg.Approve(mlops.WithPrincipal(e.ctx, mlops.Principal{ID: "carol@example.com"}), mv, "me too")
	requireCode(t, err, mlops.FailedPrecondition, "approved already by bob@example.com")

	rejected, err := reg.Reject(bob, mv, "drift found")
	require.NoError(t, err)
	require.Equal(t, mlops.ApprovalRejected, rejected.Approval.State)
	_, err = reg.Approve(bob, mv, "")
	requireCode(t, err, mlops.FailedPrecondition, "rejected")

	_, err = reg.Approve(bob, &mlops.ModelVersion{Model: "fraud", Version: "7"}, "")
	requireCode(t, err, mlops.NotFound)
	_, err = reg.Approve(bob, nil, "")
	requireCode(t, err, mlops.InvalidArgument, "model version is missing")
}

func TestAliasesMoveAtomically(t *testing.T) {
	e := newEnv(t, nil, nil)
	reg := e.c.Models("")
	for i := 0; i < 3; i++ {
		_, err := reg.Register(e.ctx, "fraud", mlops.ModelSource{ArtifactURI: "mem://mem/a"}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
		require.NoError(t, err)
	}
	require.NoError(t, reg.SetAlias(e.ctx, "fraud", "champion", "1"))
	mv, err := reg.Get(e.ctx, "fraud", "champion")
	require.NoError(t, err)
	require.Equal(t, "1", mv.Version)

	// Readers during concurrent moves always see one of the versions.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mv, err := reg.Get(e.ctx, "fraud", "champion")
				if err != nil || (mv.Version != "1" && mv.Version != "2" && mv.Version != "3") {
					t.Errorf("alias read gave %v, %v", mv, err)
					return
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		require.NoError(t, reg.SetAlias(e.ctx, "fraud", "champion", strconv.Itoa(2+i%2)))
	}
	close(stop)
	wg.Wait()
	aliases, err := reg.Aliases(e.ctx, "fraud")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"champion": "3"}, aliases)

	requireCode(t, reg.SetAlias(e.ctx, "fraud", "champion", "9"), mlops.NotFound)
	_, err = reg.Get(e.ctx, "fraud", "nobody")
	requireCode(t, err, mlops.NotFound, "alias")
}

func TestModelsWithoutRegistry(t *testing.T) {
	c, err := mlops.NewClient(mlops.Providers{"data": dataOnly{memprovider.New(nil)}}, &mlops.ClientOptions{Principal: alice})
	require.NoError(t, err)
	_, err = c.Models("").Register(t.Context(), "fraud", mlops.ModelSource{ArtifactURI: "x://y"}, nil)
	requireCode(t, err, mlops.Unimplemented, "registry")
}

// dataOnly is a provider that offers no capability at all.
type dataOnly struct{ m *memprovider.Provider }

func (d dataOnly) Kind() string               { return d.m.Kind() }
func (d dataOnly) Regions() []provider.Region { return d.m.Regions() }

// A review retried by the caller after a lost response succeeds: the
// decision it asked for is in place, by the same principal.
func TestApproveRetriedAfterLostResponse(t *testing.T) {
	e := newEnv(t, &mlops.ClientOptions{Retry: mlops.RetryOptions{MaxAttempts: 1}}, nil)
	reg := e.c.Models("")
	mv, err := reg.Register(e.ctx, "fraud", mlops.ModelSource{ArtifactURI: "mem://mem/a"}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	bob := mlops.WithPrincipal(e.ctx, mlops.Principal{ID: "bob@example.com"})
	e.mem.InjectFault(memprovider.Fault{Op: "UpdateModelVersion", Nth: 1, AfterEffect: true})
	_, err = reg.Approve(bob, mv, "reviewed")
	requireCode(t, err, mlops.Unavailable)
	approved, err := reg.Approve(bob, mv, "reviewed")
	require.NoError(t, err, "the retry finds its decision made")
	require.Equal(t, mlops.ApprovalApproved, approved.Approval.State)
	_, err = reg.Reject(bob, mv, "changed my mind")
	require.NoError(t, err, "another decision is a new review, allowed from approved")
	_, err = reg.Approve(bob, mv, "and back")
	requireCode(t, err, mlops.FailedPrecondition, "rejected")
}
