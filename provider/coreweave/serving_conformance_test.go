package coreweave_test

import (
	"context"
	"fmt"
	"testing"

	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
	"github.com/tideline-ml/tideline/provider/providertest"
)

const (
	servingNamespace = "serving"
	servingRegion    = "US-EAST-04"
)

// servingHarness runs the conformance suite's serving tests against the
// provider over coreweavetest.ServingCluster, which enforces resourceVersions,
// counts generations and keeps status apart as the API server does.
// SetDeploymentReady writes the InferenceService's status as KServe's
// controller would; Settle finishes deletes the ServingCluster holds back (with
// deferDeletes, as KServe's finalizer and foreground deletion do).
//
// It claims CapServing and hands the suite the serving part of the
// provider (see part_test.go).
type servingHarness struct {
	cluster *coreweavetest.ServingCluster
	cfg     coreweave.ServingConfig
}

func servingMaker(mode coreweave.DeploymentMode, deferDeletes bool) providertest.HarnessMaker {
	return func(ctx context.Context, tb testing.TB) (providertest.Harness, error) {
		c := coreweavetest.NewServingCluster()
		c.DeferDeletes = deferDeletes
		return &servingHarness{cluster: c, cfg: coreweave.ServingConfig{Mode: mode, ModelFormat: "sklearn"}}, nil
	}
}

func (h *servingHarness) Capabilities() []provider.Capability {
	return []provider.Capability{provider.CapServing}
}

func (h *servingHarness) MakeProvider(context.Context) (provider.Provider, error) {
	p, err := coreweave.New(coreweave.Config{
		Clientset: kubefake.NewClientset(),
		Dynamic:   h.cluster.Dynamic(),
		Namespace: servingNamespace,
		Region:    servingRegion,
		Serving:   h.cfg,
	})
	if err != nil {
		return nil, err
	}
	return asServingPart(p), nil
}

// Reopen returns a second provider over the same cluster: the provider
// keeps no state of its own.
func (h *servingHarness) Reopen(ctx context.Context, _ provider.Provider) (provider.Provider, error) {
	return h.MakeProvider(ctx)
}

func (h *servingHarness) StartJob(context.Context, provider.Provider, string) error {
	return fmt.Errorf("the serving harness does not run jobs")
}

func (h *servingHarness) CompleteJob(context.Context, provider.Provider, string, string) error {
	return fmt.Errorf("the serving harness does not run jobs")
}

func (h *servingHarness) FailJob(context.Context, provider.Provider, string, string) error {
	return fmt.Errorf("the serving harness does not run jobs")
}

func (h *servingHarness) SetDeploymentReady(ctx context.Context, _ provider.Provider, endpoint, name string) error {
	return coreweavetest.SetDeploymentReady(ctx, h.cluster.Dynamic(), servingNamespace, endpoint, name)
}

func (h *servingHarness) Settle(context.Context, provider.Provider) error {
	h.cluster.Settle()
	return nil
}

func (h *servingHarness) Close() {}

// TestConformanceServingKnative runs the suite in Knative mode: two
// deployments per endpoint (a canary), no mirror, deletes held until
// Settle.
func TestConformanceServingKnative(t *testing.T) {
	providertest.RunConformanceTests(t, servingMaker(coreweave.DeploymentModeKnative, true), nil)
}

// TestConformanceServingStandard runs the suite in Standard mode: one
// deployment per endpoint, so the tests that need two skip by name.
func TestConformanceServingStandard(t *testing.T) {
	providertest.RunConformanceTests(t, servingMaker(coreweave.DeploymentModeStandard, false), nil)
}

// TestConformanceServingParallel runs the Knative suite's subtests in
// parallel, deletes completing at once.
func TestConformanceServingParallel(t *testing.T) {
	if testing.Short() {
		t.Skip("repeats TestConformanceServingKnative; skipped in -short mode")
	}
	providertest.RunConformanceTests(t, servingMaker(coreweave.DeploymentModeKnative, false), &providertest.Options{Parallel: true, Concurrency: 4})
}
