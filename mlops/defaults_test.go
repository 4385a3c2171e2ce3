package mlops_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
)

// 22. With no Policy, a person cannot approve their own model, an
// unapproved model gets no traffic and a job runs only a pinned image.
func TestNoPolicyAllowsSelfApprovalAndUnapprovedTraffic(t *testing.T) {
	mem := memprovider.New(nil)
	c, err := mlops.NewClient(mlops.Providers{"mem": mem}, &mlops.ClientOptions{Principal: alice, Hooks: []mlops.Hook{mlops.NewMemoryAuditHook()}})
	require.NoError(t, err)
	ctx := t.Context()

	_, err = c.SubmitJob(ctx, mlops.TrainJobSpec{Name: "fraud", Location: euGPU, Image: "registry.example/ml/train:1"})
	requireCode(t, err, mlops.PermissionDenied, "pinned by digest")
	job, err := c.SubmitJob(ctx, mlops.TrainJobSpec{Name: "fraud", Location: euGPU, Image: pinnedImage})
	require.NoError(t, err)
	require.NoError(t, mem.StartJob(job.Name))
	require.NoError(t, mem.CompleteJob(job.Name, ""))
	require.NoError(t, job.Wait(ctx, nil))

	mv, err := c.Models("").Register(ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	_, err = c.Models("").Approve(ctx, mv, "looks fine to me")
	requireCode(t, err, mlops.PermissionDenied, "may not also approve it")

	ep, err := c.CreateEndpoint(ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	_, err = ep.Deploy(ctx, "blue", mv, nil)
	require.NoError(t, err)
	err = ep.Promote(ctx, "blue")
	requireCode(t, err, mlops.PermissionDenied, "approve it before it receives traffic")

	bob := mlops.WithPrincipal(ctx, mlops.Principal{ID: "bob@example.com"})
	_, err = c.Models("").Approve(bob, mv, "reviewed")
	require.NoError(t, err)
	require.NoError(t, ep.Promote(ctx, "blue"))
}

// 22. Relaxing the default is explicit and on the record; residency is
// never relaxed.
func TestPermissivePolicyIsAudited(t *testing.T) {
	hook := mlops.NewMemoryAuditHook()
	c, err := mlops.NewClient(mlops.Providers{"mem": memprovider.New(nil)}, &mlops.ClientOptions{Principal: alice, Policy: mlops.Permissive(), Hooks: []mlops.Hook{hook}})
	require.NoError(t, err)
	ctx := t.Context()
	_, err = c.SubmitJob(ctx, mlops.TrainJobSpec{Name: "fraud", Location: euGPU, Image: "registry.example/ml/train:1"})
	require.NoError(t, err)
	_, err = c.CreateDataset(ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: usEast, Classification: residency.Restricted})
	requireCode(t, err, mlops.PermissionDenied, "EU/EEA")

	recs, err := hook.MemorySink().Records()
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	for _, r := range recs {
		require.Equal(t, "permissive", r.Attrs["policy"], "record %d (%s)", r.Seq, r.Action)
	}
}

// 22. A mutating call on confidential or restricted data with no audit hook
// fails, names the option, and does nothing; public and internal data need
// none.
func TestSensitiveDataWithoutAuditHook(t *testing.T) {
	mem := memprovider.New(nil)
	c, err := mlops.NewClient(mlops.Providers{"mem": mem}, &mlops.ClientOptions{Principal: alice})
	require.NoError(t, err)
	ctx := t.Context()
	for _, class := range []residency.Classification{residency.Confidential, residency.Restricted} {
		_, err = c.CreateDataset(ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest, Classification: class})
		requireCode(t, err, mlops.FailedPrecondition, "NewAuditHook", "NewMemoryAuditHook")
	}
	require.Equal(t, memprovider.Counts{}, mem.Counts())
	_, err = c.CreateDataset(ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Internal})
	require.NoError(t, err)

	// Data stored by another, audited Client: jobs reading it need the
	// hook too.
	audited, err := mlops.NewClient(mlops.Providers{"mem": mem}, &mlops.ClientOptions{Principal: alice, Hooks: []mlops.Hook{mlops.NewMemoryAuditHook()}})
	require.NoError(t, err)
	secret, err := audited.CreateDataset(ctx, "secret", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Restricted})
	require.NoError(t, err)
	_, err = c.SubmitJob(ctx, mlops.TrainJobSpec{Name: "fraud", Location: euGPU, Image: pinnedImage, Inputs: []mlops.JobInput{{Name: "in", Dataset: secret.Ref()}}})
	requireCode(t, err, mlops.FailedPrecondition, "restricted", "audit hook")
	jobs, err := mlops.Collect(c.ListJobs(ctx))
	require.NoError(t, err)
	require.Empty(t, jobs)
}
