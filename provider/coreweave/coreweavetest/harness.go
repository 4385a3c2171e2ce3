package coreweavetest

import (
	"context"
	"testing"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/providertest"
)

// Harness connects the conformance suite to the provider over any
// cluster: Config says how the provider reaches it, Controller plays the
// controllers with its own credentials. Over the fake Cluster both use its
// clients (Controller the second pair, from Clients); over a real API
// server both are built from its rest.Config.
type Harness struct {
	Config     coreweave.Config
	Controller *Controller
}

var (
	_ providertest.Harness      = (*Harness)(nil)
	_ providertest.JobInspector = (*Harness)(nil)
)

// FakeHarness returns a HarnessMaker over a fresh fake Cluster per subtest,
// serving the Kubeflow resources when kubeflow is set. adjust, when not
// nil, changes the provider's Config.
func FakeHarness(namespace, region string, kubeflow bool, adjust func(*coreweave.Config)) providertest.HarnessMaker {
	return func(context.Context, testing.TB) (providertest.Harness, error) {
		c := NewCluster(kubeflow)
		cfg := coreweave.Config{Clientset: c.Kube, Dynamic: c.Dynamic, Namespace: namespace, Region: region}
		if adjust != nil {
			adjust(&cfg)
		}
		kube, dyn := c.Clients()
		return &Harness{Config: cfg, Controller: &Controller{Kube: kube, Dynamic: dyn, Namespace: namespace}}, nil
	}
}

// Capabilities: the trainer with watches and logs.
func (h *Harness) Capabilities() []provider.Capability {
	return []provider.Capability{provider.CapTrainer, provider.CapJobWatch, provider.CapJobLogs}
}

// MakeProvider returns a provider for Config.
func (h *Harness) MakeProvider(context.Context) (provider.Provider, error) {
	return coreweave.New(h.Config)
}

// Reopen returns a second provider for Config: the provider keeps nothing
// of a job but in the cluster.
func (h *Harness) Reopen(context.Context, provider.Provider) (provider.Provider, error) {
	return coreweave.New(h.Config)
}

// StartJob is Controller.StartJob.
func (h *Harness) StartJob(ctx context.Context, _ provider.Provider, name string) error {
	return h.Controller.StartJob(ctx, name)
}

// CompleteJob is Controller.CompleteJob.
func (h *Harness) CompleteJob(ctx context.Context, _ provider.Provider, name, outputURI string) error {
	return h.Controller.CompleteJob(ctx, name, outputURI)
}

// FailJob is Controller.FailJob.
func (h *Harness) FailJob(ctx context.Context, _ provider.Provider, name, message string) error {
	return h.Controller.FailJob(ctx, name, message)
}

// SetDeploymentReady is not this harness's: it claims no serving.
func (h *Harness) SetDeploymentReady(context.Context, provider.Provider, string, string) error {
	return provider.Errorf(provider.Unimplemented, "coreweavetest: the training harness claims no serving")
}

// Settle is Controller.Settle: the garbage collector's work.
func (h *Harness) Settle(ctx context.Context, _ provider.Provider) error {
	return h.Controller.Settle(ctx)
}

// InspectJob is Controller.Inspect.
func (h *Harness) InspectJob(ctx context.Context, _ provider.Provider, name string) (*providertest.JobView, error) {
	return h.Controller.Inspect(ctx, name)
}

// Close releases nothing.
func (h *Harness) Close() {}
