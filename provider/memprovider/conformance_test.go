package memprovider_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/provider/providertest"
)

// conformanceHarness plays the cloud's controller for the conformance suite through
// memprovider's own controls. Each subtest gets a fresh Provider, so state is
// never shared between subtests here; the suite does not rely on that.
type conformanceHarness struct {
	opts *memprovider.Options
}

func (h *conformanceHarness) Capabilities() []provider.Capability {
	return []provider.Capability{
		provider.CapDataStore, provider.CapTrainer, provider.CapRegistry,
		provider.CapServing, provider.CapJobWatch, provider.CapJobLogs, provider.CapGrants,
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
