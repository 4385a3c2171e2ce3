package mlops_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider/memprovider"
)

const pinned = "registry.example/ml/train@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestPolicyListsEveryReasonAndCreatesNothing(t *testing.T) {
	pol := mlops.NewPolicy(
		mlops.AllowProviders("mem"),
		mlops.AllowRegions("westeurope", "EU-SOUTH-03"),
		mlops.AllowImages(true, "registry.example/ml/"),
	)
	e := newEnv(t, &mlops.ClientOptions{Policy: pol}, nil)
	spec := jobSpec()
	spec.Location = mlops.Location{Provider: "mem", Region: "US-EAST-04"}
	spec.Image = "docker.example/random/train:latest"
	_, err := e.c.SubmitJob(e.ctx, spec)
	require.ErrorIs(t, err, mlops.ErrPolicyDenied)
	require.ErrorIs(t, err, mlops.ErrPermissionDenied)
	require.Equal(t, mlops.PermissionDenied, mlops.Code(err))
	var pe *mlops.PolicyError
	require.True(t, errors.As(err, &pe))
	require.Equal(t, mlops.ActionJobSubmit, pe.Action)
	require.Len(t, pe.Reasons, 3, "every objection is listed: %v", pe.Reasons)
	require.Equal(t, "region-allowlist", pe.Reasons[0].Rule)
	require.Contains(t, pe.Reasons[0].Message, "US-EAST-04")
	require.Contains(t, pe.Reasons[1].Message, "not from an allowed registry")
	require.Contains(t, pe.Reasons[2].Message, "not pinned by digest")
	require.Equal(t, memprovider.Counts{}, e.mem.Counts())
	require.Empty(t, e.mem.Calls(), "a denied call reaches no provider")

	spec.Location = euGPU
	spec.Image = pinned
	_, err = e.c.SubmitJob(e.ctx, spec)
	require.NoError(t, err)
}

func TestPinnedByDigest(t *testing.T) {
	for img, want := range map[string]bool{
		pinned:                               true,
		"train:1":                            false,
		"train@sha256:abc":                   false,
		"@sha256:" + strings.Repeat("a", 64): false,
		"train@sha256:" + strings.Repeat("A", 64): false,
		"train@sha256:" + strings.Repeat("a", 65): false,
	} {
		require.Equal(t, want, mlops.PinnedByDigest(img), img)
	}
}

// recorder is a hook that remembers what it saw.
type recorder struct {
	before, after []string
	fail          error
}

func (r *recorder) Before(ctx context.Context, op *mlops.Operation) (context.Context, error) {
	d := "allow"
	if !op.Decision.Allowed {
		d = "deny"
	}
	r.before = append(r.before, string(op.Request.Action)+" "+d)
	return ctx, r.fail
}

func (r *recorder) After(_ context.Context, op *mlops.Operation) {
	out := "ok"
	if op.Err != nil {
		out = mlops.Code(op.Err).String()
	}
	r.after = append(r.after, string(op.Request.Action)+" "+out)
}

func TestHooksSeeEveryAttempt(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, &mlops.ClientOptions{Hooks: []mlops.Hook{rec}, Policy: mlops.NewPolicy(mlops.AllowRegions("westeurope"))}, nil)
	e.dataset("claims", "1", "x")
	_, err := e.c.CreateDataset(e.ctx, "claims", "2", strings.NewReader("y"), &mlops.CreateDatasetOptions{Location: mlops.Location{Provider: "mem", Region: "eastus"}})
	require.ErrorIs(t, err, mlops.ErrPolicyDenied)
	require.Equal(t, []string{"dataset.create allow", "dataset.create deny"}, rec.before)
	require.Equal(t, []string{"dataset.create ok", "dataset.create PermissionDenied"}, rec.after)
}

// A hook that cannot record (the audit log is down) stops the call: nothing
// is created.
func TestHookFailureFailsClosed(t *testing.T) {
	rec := &recorder{fail: errors.New("audit log unavailable: disk full")}
	e := newEnv(t, &mlops.ClientOptions{Hooks: []mlops.Hook{rec}}, nil)
	_, err := e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest})
	require.ErrorContains(t, err, "disk full")
	require.Equal(t, memprovider.Counts{}, e.mem.Counts())
	require.Empty(t, rec.after, "After runs only for hooks whose Before succeeded")
}

func TestPrincipalFromContext(t *testing.T) {
	mem := memprovider.New(nil)
	c, err := mlops.NewClient(mlops.Providers{"mem": mem}, nil)
	require.NoError(t, err)
	_, err = c.CreateDataset(t.Context(), "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest})
	requireCode(t, err, mlops.InvalidArgument, "no principal")
	ctx := mlops.WithPrincipal(t.Context(), mlops.Principal{ID: "carol@example.com"})
	d, err := c.CreateDataset(ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest})
	require.NoError(t, err)
	require.Equal(t, "carol@example.com", d.CreatedBy)
}

func BenchmarkPolicyDecide(b *testing.B) {
	pol := mlops.NewPolicy(
		mlops.AllowProviders("azure", "coreweave"),
		mlops.AllowRegions("westeurope", "northeurope", "EU-SOUTH-03"),
		mlops.AllowImages(true, "registry.example/ml/"),
		mlops.RequireApprovedModels(),
	)
	spec := &mlops.TrainJobSpec{Image: pinned}
	req := &mlops.Request{Action: mlops.ActionJobSubmit, Principal: alice, Location: mlops.Location{Provider: "coreweave", Region: "EU-SOUTH-03"}, Job: spec}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if d := pol.Decide(ctx, req); !d.Allowed {
			b.Fatal(d.Reasons)
		}
	}
}
