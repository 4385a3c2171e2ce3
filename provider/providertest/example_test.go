package providertest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/provider/providertest"
)

// memHarness wires the suite to memprovider. A cloud provider's harness has
// the same shape: MakeProvider connects to the account or cluster under
// test, and the controller methods write the status that the cloud's own
// controllers would write (Kubernetes Job or InferenceService status, the
// Azure contract server's state).
type memHarness struct{ opts *memprovider.Options }

func newMemHarness(_ context.Context, _ testing.TB) (providertest.Harness, error) {
	return &memHarness{}, nil
}

func (h *memHarness) Capabilities() []provider.Capability {
	return []provider.Capability{
		provider.CapDataStore, provider.CapTrainer, provider.CapRegistry,
		provider.CapServing, provider.CapJobWatch, provider.CapJobLogs,
	}
}

func (h *memHarness) MakeProvider(context.Context) (provider.Provider, error) {
	return memprovider.New(h.opts), nil
}

// Reopen returns p: a memprovider's state lives in the value itself.
func (h *memHarness) Reopen(_ context.Context, p provider.Provider) (provider.Provider, error) {
	return p, nil
}

func (h *memHarness) StartJob(_ context.Context, p provider.Provider, name string) error {
	return p.(*memprovider.Provider).StartJob(name)
}

func (h *memHarness) CompleteJob(_ context.Context, p provider.Provider, name, outputURI string) error {
	return p.(*memprovider.Provider).CompleteJob(name, outputURI)
}

func (h *memHarness) FailJob(_ context.Context, p provider.Provider, name, message string) error {
	return p.(*memprovider.Provider).FailJob(name, message)
}

func (h *memHarness) SetDeploymentReady(_ context.Context, p provider.Provider, endpoint, name string) error {
	return p.(*memprovider.Provider).SetDeploymentState(endpoint, name, provider.DeploymentReady, "")
}

func (h *memHarness) Close() {}

// Example_harness shows a harness playing the training controller. A
// provider's test hands the same harness to the suite:
//
//	func TestConformance(t *testing.T) {
//		providertest.RunConformanceTests(t, newMemHarness, nil)
//	}
func Example_harness() {
	var newHarness providertest.HarnessMaker = newMemHarness
	ctx := context.Background()
	h, _ := newHarness(ctx, nil)
	defer h.Close()
	p, _ := h.MakeProvider(ctx)
	tr := p.(provider.Trainer)

	spec := &provider.JobSpec{Name: "train-claims", Region: "EU-SOUTH-03", Image: "train:1", GPUs: 8, Nodes: 1}
	job, err := tr.SubmitJob(ctx, spec)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("submitted:", job.State)

	// Nothing runs the job in a test: the harness moves it, as the cloud's
	// controller would, and the provider reports the change.
	_ = h.StartJob(ctx, p, spec.Name)
	job, _ = tr.GetJob(ctx, spec.Name)
	fmt.Println("started:", job.State, "attempt", job.Attempts)

	_ = h.CompleteJob(ctx, p, spec.Name, "")
	job, _ = tr.GetJob(ctx, spec.Name)
	fmt.Println("completed:", job.State, job.OutputURI)
	// Output:
	// submitted: Queued
	// started: Running attempt 1
	// completed: Succeeded mem://mem/jobs/train-claims/outputs
}
