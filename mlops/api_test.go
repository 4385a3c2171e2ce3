package mlops_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
)

// When the context ends while a transient failure waits to be retried, the
// call returns the context's error, not the provider's.
func TestRetryReturnsContextErrorDuringBackoff(t *testing.T) {
	e := newEnv(t, &mlops.ClientOptions{Retry: mlops.RetryOptions{MaxAttempts: 10, MinBackoff: time.Second, MaxBackoff: time.Second}}, nil)
	e.mem.InjectFault(memprovider.Fault{Op: "GetDataset"})
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Millisecond)
	defer cancel()
	_, err := e.c.GetDataset(ctx, mlops.DatasetRef{Name: "claims", Version: "1"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, mlops.DeadlineExceeded, mlops.Code(err), "%v", err)
	require.Contains(t, err.Error(), "waiting to retry")
}

// A failing reader's error comes back with the subject, and still matches.
func TestReaderErrorNamesTheDataset(t *testing.T) {
	e := newEnv(t, nil, nil)
	cause := errors.New("disk unplugged")
	_, err := e.c.CreateDataset(e.ctx, "claims", "1", io.MultiReader(strings.NewReader("abc"), brokenReader{cause}), &mlops.CreateDatasetOptions{Location: euWest})
	require.ErrorIs(t, err, cause)
	require.Contains(t, err.Error(), "dataset claims@1: reading source: disk unplugged")
	require.Zero(t, e.mem.Counts().Datasets)
}

type brokenReader struct{ err error }

func (r brokenReader) Read([]byte) (int, error) { return 0, r.err }

// Progress reports the total when the reader knows it, -1 otherwise.
func TestUploadProgressTotal(t *testing.T) {
	e := newEnv(t, nil, nil)
	var totals []int64
	opts := &mlops.CreateDatasetOptions{Location: euWest, Progress: func(_, total int64) { totals = append(totals, total) }}
	_, err := e.c.CreateDataset(e.ctx, "claims", "1", io.MultiReader(strings.NewReader("abc")), opts)
	require.NoError(t, err)
	require.Equal(t, int64(-1), totals[0])
	totals = nil
	_, err = e.c.CreateDataset(e.ctx, "claims", "2", strings.NewReader("abcd"), opts)
	require.NoError(t, err)
	require.Equal(t, int64(4), totals[0])
}

type spanKey struct{}

// spanHook puts a value in the context, as a tracing hook puts a span, and
// checks that its After gets it back.
type spanHook struct {
	sawInAfter []any
}

func (h *spanHook) Before(ctx context.Context, op *mlops.Operation) (context.Context, error) {
	return context.WithValue(ctx, spanKey{}, "span-"+op.ID), nil
}

func (h *spanHook) After(ctx context.Context, op *mlops.Operation) {
	h.sawInAfter = append(h.sawInAfter, ctx.Value(spanKey{}))
}

// ctxProbe is a provider whose PutDataset records the span it was called
// under.
type ctxProbe struct {
	*memprovider.Provider
	saw any
}

func (p *ctxProbe) PutDataset(ctx context.Context, req *provider.PutDatasetRequest) (*provider.DatasetInfo, error) {
	p.saw = ctx.Value(spanKey{})
	return p.Provider.PutDataset(ctx, req)
}

// A hook's Before can wrap the provider call in its own context.
func TestHookBeforeContextReachesProvider(t *testing.T) {
	probe := &ctxProbe{Provider: memprovider.New(nil)}
	h := &spanHook{}
	c, err := mlops.NewClient(mlops.Providers{"mem": probe}, &mlops.ClientOptions{Principal: alice, Hooks: []mlops.Hook{h}, NewID: func() string { return "op1" }})
	require.NoError(t, err)
	_, err = c.CreateDataset(t.Context(), "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest})
	require.NoError(t, err)
	require.Equal(t, "span-op1", probe.saw)
	require.Equal(t, []any{"span-op1"}, h.sawInAfter)
}

// Lists are sequences: a caller may stop early, and a failure is one
// element that ends the sequence.
func TestListsIterate(t *testing.T) {
	e := newEnv(t, nil, nil)
	for _, v := range []string{"1", "2", "3"} {
		e.dataset("claims", v, "rows "+v)
	}
	n := 0
	for d, err := range e.c.ListDatasets(e.ctx, "claims") {
		require.NoError(t, err)
		require.Equal(t, "1", d.Version)
		n++
		break
	}
	require.Equal(t, 1, n)
	var errs []error
	for d, err := range e.c.ListDatasets(e.ctx, "BAD") {
		require.Nil(t, d)
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	requireCode(t, errs[0], mlops.InvalidArgument, "dataset name")
	all, err := mlops.Collect(e.c.ListDatasets(e.ctx, ""))
	require.NoError(t, err)
	require.Len(t, all, 3)
}

// Errors name a provider by the Client's name for it, not the driver's.
func TestErrorsNameProviderAsTheClientDoes(t *testing.T) {
	mem := memprovider.New(nil) // calls itself "mem"
	c, err := mlops.NewClient(mlops.Providers{"lab": mem}, &mlops.ClientOptions{Principal: alice, Retry: mlops.RetryOptions{MaxAttempts: 1}})
	require.NoError(t, err)
	mem.InjectFault(memprovider.Fault{Op: "PutDataset", Err: provider.Errorf(provider.Internal, "disk on fire")})
	_, err = c.CreateDataset(t.Context(), "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: mlops.Location{Region: "westeurope"}})
	requireCode(t, err, mlops.Internal, `provider "lab" (memory): disk on fire`)
	require.NotContains(t, err.Error(), `"mem"`)

	ep, err := c.CreateEndpoint(t.Context(), "fraud-api", &mlops.EndpointOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	_, err = c.CreateEndpoint(t.Context(), "fraud-api", &mlops.EndpointOptions{Location: mlops.Location{Region: "westeurope"}})
	requireCode(t, err, mlops.AlreadyExists, `provider "lab"`)
	require.NotContains(t, err.Error(), `"mem"`)
	require.NoError(t, ep.Delete(t.Context()))
}

func TestListModels(t *testing.T) {
	e := newEnv(t, nil, nil)
	reg := e.c.Models("")
	names, err := mlops.Collect(reg.ListModels(e.ctx))
	require.NoError(t, err)
	require.Empty(t, names)
	for _, m := range []string{"fraud", "churn", "fraud"} {
		_, err := reg.Register(e.ctx, m, mlops.ModelSource{ArtifactURI: "mem://mem/" + m}, &mlops.RegisterOptions{Location: euWest})
		require.NoError(t, err)
	}
	names, err = mlops.Collect(reg.ListModels(e.ctx))
	require.NoError(t, err)
	require.Equal(t, []string{"churn", "fraud"}, names)
}

// SubmitJob does not write into the caller's spec: one spec submitted from
// several goroutines — the idempotent retry the API advertises — is safe
// (run with -race).
func TestSubmitDoesNotWriteCallerSpec(t *testing.T) {
	e := newEnv(t, nil, nil)
	d := e.dataset("claims", "1", "rows")
	spec := mlops.TrainJobSpec{Name: "fraud", Location: euGPU, Image: pinnedImage,
		Inputs: []mlops.JobInput{{Name: "in", Dataset: mlops.DatasetRef{Name: d.Name, Version: d.Version}}}}
	done := make(chan string, 4)
	for range 4 {
		go func() {
			j, err := e.c.SubmitJob(e.ctx, spec)
			if err != nil {
				done <- err.Error()
				return
			}
			done <- j.ID
		}()
	}
	ids := map[string]bool{}
	for range 4 {
		ids[<-done] = true
	}
	require.Len(t, ids, 1, "one job: %v", ids)
	require.Empty(t, spec.Inputs[0].Dataset.Provider, "the caller's spec is unchanged")
}
