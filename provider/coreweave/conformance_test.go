package coreweave_test

import (
	"context"
	"testing"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
	"github.com/tideline-ml/tideline/provider/providertest"
)

const (
	testNamespace = "tideline"
	testRegion    = "US-EAST-04A"
)

// fakeHarness runs the conformance suite on the fake cluster, with
// coreweavetest.Controller playing the Job controller, the Kubeflow
// operators and the garbage collector. The same Controller works against a
// real API server.
type fakeHarness struct {
	cluster *coreweavetest.Cluster
	ctl     *coreweavetest.Controller
	cfg     coreweave.Config
}

func newFakeHarness(kubeflow bool, adjust func(*coreweave.Config)) providertest.HarnessMaker {
	return func(ctx context.Context, tb testing.TB) (providertest.Harness, error) {
		c := coreweavetest.NewCluster(kubeflow)
		cfg := coreweave.Config{Clientset: c.Kube, Dynamic: c.Dynamic, Namespace: testNamespace, Region: testRegion}
		if adjust != nil {
			adjust(&cfg)
		}
		return &fakeHarness{
			cluster: c,
			ctl:     &coreweavetest.Controller{Kube: c.Kube, Dynamic: c.Dynamic, Namespace: testNamespace},
			cfg:     cfg,
		}, nil
	}
}

func (h *fakeHarness) Capabilities() []provider.Capability {
	return []provider.Capability{provider.CapTrainer, provider.CapJobWatch, provider.CapJobLogs}
}

func (h *fakeHarness) MakeProvider(context.Context) (provider.Provider, error) {
	return coreweave.New(h.cfg)
}

// Reopen makes a second provider over the same cluster: the provider keeps
// nothing of a job but in the cluster.
func (h *fakeHarness) Reopen(context.Context, provider.Provider) (provider.Provider, error) {
	return coreweave.New(h.cfg)
}

func (h *fakeHarness) StartJob(ctx context.Context, _ provider.Provider, name string) error {
	return h.ctl.StartJob(ctx, name)
}

func (h *fakeHarness) CompleteJob(ctx context.Context, _ provider.Provider, name, outputURI string) error {
	return h.ctl.CompleteJob(ctx, name, outputURI)
}

func (h *fakeHarness) FailJob(ctx context.Context, _ provider.Provider, name, message string) error {
	return h.ctl.FailJob(ctx, name, message)
}

func (h *fakeHarness) SetDeploymentReady(context.Context, provider.Provider, string, string) error {
	return provider.Errorf(provider.Unimplemented, "serving is not part of this harness")
}

func (h *fakeHarness) Settle(ctx context.Context, _ provider.Provider) error {
	return h.ctl.Settle(ctx)
}

func (h *fakeHarness) InspectJob(ctx context.Context, _ provider.Provider, name string) (*providertest.JobView, error) {
	return h.ctl.Inspect(ctx, name)
}

func (h *fakeHarness) Close() {}

// TestConformance runs the suite with single-node jobs (batch/v1 Jobs).
func TestConformance(t *testing.T) {
	providertest.RunConformanceTests(t, newFakeHarness(false, nil), nil)
}

// TestConformancePyTorchJob runs the suite with every job on two nodes, so
// every job is a PyTorchJob.
func TestConformancePyTorchJob(t *testing.T) {
	providertest.RunConformanceTests(t, newFakeHarness(true, nil), &providertest.Options{
		PrepareJob: func(s *provider.JobSpec) { s.Nodes = 2 },
	})
}
