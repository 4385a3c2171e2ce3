package memprovider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/provider/providertest"
)

// conformanceHarness plays the cloud's controller for the conformance suite through
// memprovider's own controls. Each subtest gets a fresh Provider, so state is
// never shared between subtests here; the suite does not rely on that.
//
// Retries belong to the cloud's controller (a Kubernetes Job's backoffLimit,
// Azure ML's retry setting), never to mlops; memprovider plays that
// controller itself, so FailJob puts a job with retries left back in the
// queue and the harness only reports the failed run.
//
// It also plays the parts of the cloud that are not the provider: Settle
// has nothing to finish because memprovider's deletes and cancels are done
// when the call returns; InspectJob reads the stored spec, where SecretEnv
// and grants are kept as secret.Secret values, memprovider's secret store;
// UseGrant is the storage service answering a request signed with a grant.
type conformanceHarness struct {
	opts *memprovider.Options
}

func (h *conformanceHarness) Capabilities() []provider.Capability {
	return []provider.Capability{
		provider.CapDataStore, provider.CapTrainer, provider.CapRegistry,
		provider.CapServing, provider.CapJobWatch, provider.CapJobLogs, provider.CapGrants,
		provider.CapLatestDataset, provider.CapLatestModel,
	}
}

func (h *conformanceHarness) MakeProvider(context.Context) (provider.Provider, error) {
	return memprovider.New(h.opts), nil
}

// Reopen returns p itself: a memprovider keeps all its state in the value, so
// a second handle on the same state is the same value.
func (h *conformanceHarness) Reopen(_ context.Context, p provider.Provider) (provider.Provider, error) {
	return p, nil
}

func asMem(p provider.Provider) (*memprovider.Provider, error) {
	m, ok := p.(*memprovider.Provider)
	if !ok {
		return nil, fmt.Errorf("the harness drives *memprovider.Provider, got %T", p)
	}
	return m, nil
}

func (h *conformanceHarness) StartJob(_ context.Context, p provider.Provider, name string) error {
	m, err := asMem(p)
	if err != nil {
		return err
	}
	return m.StartJob(name)
}

func (h *conformanceHarness) CompleteJob(_ context.Context, p provider.Provider, name, outputURI string) error {
	m, err := asMem(p)
	if err != nil {
		return err
	}
	return m.CompleteJob(name, outputURI)
}

func (h *conformanceHarness) FailJob(_ context.Context, p provider.Provider, name, message string) error {
	m, err := asMem(p)
	if err != nil {
		return err
	}
	return m.FailJob(name, message)
}

func (h *conformanceHarness) SetDeploymentReady(_ context.Context, p provider.Provider, endpoint, name string) error {
	m, err := asMem(p)
	if err != nil {
		return err
	}
	return m.SetDeploymentState(endpoint, name, provider.DeploymentReady, "")
}

// Settle returns nil: memprovider finishes every delete and cancel within
// the call.
func (h *conformanceHarness) Settle(context.Context, provider.Provider) error { return nil }

// InspectJob renders the stored spec as the job's definition. memprovider
// keeps SecretEnv and grants as secret.Secret values, which encode as
// "[REDACTED]": that is its secret store, and Secrets reveals what the job
// would receive from it.
func (h *conformanceHarness) InspectJob(ctx context.Context, p provider.Provider, name string) (*providertest.JobView, error) {
	m, err := asMem(p)
	if err != nil {
		return nil, err
	}
	info, err := m.GetJob(ctx, name)
	if err != nil {
		return nil, err
	}
	return jobView(info.Spec)
}

func jobView(spec provider.JobSpec) (*providertest.JobView, error) {
	def, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	view := &providertest.JobView{Definition: string(def), Env: spec.Env, Secrets: map[string]string{}}
	for k, v := range spec.SecretEnv {
		view.Secrets[k] = v.Reveal()
	}
	for _, in := range spec.Inputs {
		if !in.Grant.IsZero() {
			view.Secrets[in.Name] = in.Grant.URL.Reveal()
		}
	}
	return view, nil
}

// UseGrant applies the grant's credential to the address of name@version, as
// a job holding only the grant would, and lets memprovider's CheckGrant
// decide before it reads, writes or deletes.
func (h *conformanceHarness) UseGrant(ctx context.Context, p provider.Provider, g provider.Grant, op providertest.GrantOp, name, version string, data []byte) ([]byte, error) {
	m, err := asMem(p)
	if err != nil {
		return nil, err
	}
	return useGrant(ctx, m, g, op, name, version, data)
}

func useGrant(ctx context.Context, m *memprovider.Provider, g provider.Grant, op providertest.GrantOp, name, version string, data []byte) ([]byte, error) {
	perm := map[providertest.GrantOp]string{providertest.GrantOpRead: "r", providertest.GrantOpWrite: "w", providertest.GrantOpDelete: "d"}[op]
	if perm == "" {
		return nil, fmt.Errorf("unknown grant operation %q", op)
	}
	if err := m.CheckGrant(g.URL, perm, name, version); err != nil {
		return nil, err
	}
	switch op {
	case providertest.GrantOpRead:
		rc, err := m.OpenDataset(ctx, name, version)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	case providertest.GrantOpWrite:
		// A write replaces the version when it exists, as a blob PUT
		// would.
		if err := m.DeleteDataset(ctx, name, version); err != nil && provider.CodeOf(err) != provider.NotFound {
			return nil, err
		}
		_, err := m.PutDataset(ctx, &provider.PutDatasetRequest{Name: name, Version: version, Region: m.Regions()[0].Name,
			Content: provider.NewContent(bytes.NewReader(data), nil)})
		return nil, err
	default:
		return nil, m.DeleteDataset(ctx, name, version)
	}
}

func (h *conformanceHarness) Close() {}

// conformanceMaker returns a HarnessMaker over memprovider.New(opts).
func conformanceMaker(opts *memprovider.Options) providertest.HarnessMaker {
	return func(context.Context, testing.TB) (providertest.Harness, error) {
		return &conformanceHarness{opts: opts}, nil
	}
}

func TestConformance(t *testing.T) {
	providertest.RunConformanceTests(t, conformanceMaker(nil), nil)
}

// TestConformanceKServeLike runs the suite with serving capabilities like
// KServe's: at most two deployments per endpoint and no mirroring, with
// deployments that stay Creating until the harness marks them ready.
func TestConformanceKServeLike(t *testing.T) {
	providertest.RunConformanceTests(t, conformanceMaker(&memprovider.Options{
		Serving:           &provider.ServingCapabilities{MaxDeployments: 2, Mirror: false},
		ManualDeployments: true,
	}), nil)
}

// TestConformanceParallel runs the suite's subtests in parallel, as a slow
// cloud harness would, to show that no subtest depends on running alone.
func TestConformanceParallel(t *testing.T) {
	if testing.Short() {
		t.Skip("the parallel run repeats TestConformance; skipped in -short mode")
	}
	providertest.RunConformanceTests(t, conformanceMaker(nil), &providertest.Options{Parallel: true, Concurrency: 4})
}

func BenchmarkConformance(b *testing.B) {
	providertest.RunBenchmarks(b, conformanceMaker(nil), nil)
}
