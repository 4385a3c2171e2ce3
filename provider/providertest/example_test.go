package providertest_test

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
		provider.CapServing, provider.CapJobWatch, provider.CapJobLogs, provider.CapGrants,
		provider.CapLatestDataset, provider.CapLatestModel,
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

// Settle has nothing to finish: memprovider's deletes and cancels are done
// when the call returns. A Kubernetes harness would remove finalizers and
// delete dependents here, as the garbage collector would; an Azure harness
// would complete the contract server's pending operations.
func (h *memHarness) Settle(context.Context, provider.Provider) error { return nil }

// InspectJob shows the job as memprovider stores it: the spec is the
// definition, and SecretEnv and grants, kept as secret.Secret values that
// encode as "[REDACTED]", are its secret store.
func (h *memHarness) InspectJob(ctx context.Context, p provider.Provider, name string) (*providertest.JobView, error) {
	info, err := p.(*memprovider.Provider).GetJob(ctx, name)
	if err != nil {
		return nil, err
	}
	def, err := json.Marshal(info.Spec)
	if err != nil {
		return nil, err
	}
	view := &providertest.JobView{Definition: string(def), Env: info.Spec.Env, Secrets: map[string]string{}}
	for k, v := range info.Spec.SecretEnv {
		view.Secrets[k] = v.Reveal()
	}
	for _, in := range info.Spec.Inputs {
		if !in.Grant.IsZero() {
			view.Secrets[in.Name] = in.Grant.URL.Reveal()
		}
	}
	return view, nil
}

// grantPerm maps the suite's operations to memprovider's permissions.
var grantPerm = map[providertest.GrantOp]string{providertest.GrantOpRead: "r", providertest.GrantOpWrite: "w", providertest.GrantOpDelete: "d"}

// UseGrant plays the storage service: memprovider's CheckGrant decides, as
// storage checks a SAS, and then the operation is done.
func (h *memHarness) UseGrant(ctx context.Context, p provider.Provider, g provider.Grant, op providertest.GrantOp, name, version string, data []byte) ([]byte, error) {
	m := p.(*memprovider.Provider)
	if err := m.CheckGrant(g.URL, grantPerm[op], name, version); err != nil {
		return nil, err
	}
	return grantedOp(ctx, m, op, name, version, data)
}

// grantedOp does what a grant was allowed to do. A write replaces the
// version when it exists, as a blob PUT would.
func grantedOp(ctx context.Context, m *memprovider.Provider, op providertest.GrantOp, name, version string, data []byte) ([]byte, error) {
	switch op {
	case providertest.GrantOpRead:
		rc, err := m.OpenDataset(ctx, name, version)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	case providertest.GrantOpWrite:
		if err := m.DeleteDataset(ctx, name, version); err != nil && provider.CodeOf(err) != provider.NotFound {
			return nil, err
		}
		_, err := m.PutDataset(ctx, &provider.PutDatasetRequest{Name: name, Version: version, Region: m.Regions()[0].Name,
			Content: provider.NewContent(bytes.NewReader(data), nil)})
		return nil, err
	case providertest.GrantOpDelete:
		return nil, m.DeleteDataset(ctx, name, version)
	}
	return nil, fmt.Errorf("unknown grant operation %q", op)
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
