package azure_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/azure"
	"github.com/tideline-ml/tideline/provider/azure/azuretest"
	"github.com/tideline-ml/tideline/provider/providertest"
)

// workspaceHarness runs the conformance suite on a Workspace: training
// against a contract server of its own, and, with storage (Azurite), the
// DataStore, Grants, Registry and Serving groups too (their guards live in
// the storage account). It plays the cloud's controllers
// through the server's hooks.
type workspaceHarness struct {
	tb      testing.TB
	storage *azuriteHarness
	srv     *azuretest.Server
}

func newWorkspaceHarness(tb testing.TB, storage *azuriteHarness) *workspaceHarness {
	// Three to a page, so that every list the suite reads spans pages.
	return &workspaceHarness{tb: tb, storage: storage, srv: azuretest.NewServer(azuretest.Options{PageSize: 3})}
}

func (h *workspaceHarness) Capabilities() []provider.Capability {
	return []provider.Capability{provider.CapDataStore, provider.CapTrainer, provider.CapGrants, provider.CapRegistry, provider.CapLatestModel, provider.CapServing}
}

func (h *workspaceHarness) config() azure.Config {
	cfg := h.storage.config()
	o := h.srv.Options()
	cfg.Credential = h.srv.Credential()
	cfg.SubscriptionID, cfg.ResourceGroup, cfg.Workspace = o.SubscriptionID, o.ResourceGroup, o.Workspace
	cfg.ARMEndpoint, cfg.KeyVaultURL = h.srv.URL, h.srv.URL
	cfg.Compute = "gpu-cluster"
	cfg.PollInterval = 5 * time.Millisecond
	// One transport for both: the server's client trusts its own
	// certificate and speaks plain HTTP to Azurite.
	cfg.ClientOptions.Transport = h.srv.Client()
	return cfg
}

func (h *workspaceHarness) MakeProvider(context.Context) (provider.Provider, error) {
	return azure.NewWorkspace(h.config())
}

// Reopen makes a second Workspace over the same workspace: the driver
// keeps the job's spec in the job itself.
func (h *workspaceHarness) Reopen(context.Context, provider.Provider) (provider.Provider, error) {
	return azure.NewWorkspace(h.config())
}

func (h *workspaceHarness) StartJob(_ context.Context, _ provider.Provider, name string) error {
	return h.srv.StartJob(name)
}

func (h *workspaceHarness) CompleteJob(_ context.Context, _ provider.Provider, name, outputURI string) error {
	return h.srv.CompleteJob(name, outputURI)
}

// FailJob ends the run Failed and plays a retry controller: while the
// runs started are no more than the retries the driver recorded in the
// job's properties, the job goes back to the queue. Azure Machine Learning
// itself runs a command job once.
func (h *workspaceHarness) FailJob(_ context.Context, _ provider.Provider, name, message string) error {
	if err := h.srv.FailJob(name, message); err != nil {
		return err
	}
	res, ok := h.srv.Get(azuretest.JobKind, name)
	if !ok {
		return fmt.Errorf("no job %s", name)
	}
	pp, _ := res.Body["properties"].(map[string]any)["properties"].(map[string]any)
	retries, _ := strconv.Atoi(fmt.Sprint(pp["tideline.maxRetries"]))
	attempts, _ := strconv.Atoi(fmt.Sprint(pp[azuretest.PropAttempts]))
	if attempts <= retries {
		return h.srv.RequeueJob(name)
	}
	return nil
}

func (h *workspaceHarness) SetDeploymentReady(_ context.Context, _ provider.Provider, endpoint, name string) error {
	return h.srv.SetDeploymentReady(endpoint, name)
}

// Settle ends the long-running operations still going (cancellations).
func (h *workspaceHarness) Settle(context.Context, provider.Provider) error {
	h.srv.FinishOperations()
	return nil
}

// Close fails the subtest when a request differed from Microsoft's
// examples.
func (h *workspaceHarness) Close() {
	if v := h.srv.Violations(); len(v) > 0 {
		h.tb.Errorf("requests that differ from Microsoft's examples:\n%s", strings.Join(v, "\n"))
	}
	h.srv.Close()
}

// InspectJob reads the job's definition as the workspace stores it (the
// body of its PUT), the plain environment it sets, and the values the
// key vault holds for the secrets its references name.
func (h *workspaceHarness) InspectJob(_ context.Context, _ provider.Provider, name string) (*providertest.JobView, error) {
	def, ok := h.srv.JobDefinition(name)
	if !ok {
		return nil, provider.Errorf(provider.NotFound, "no job %s on the server", name)
	}
	raw, _ := json.Marshal(def)
	view := &providertest.JobView{Definition: string(raw), Env: map[string]string{}, Secrets: map[string]string{}}
	props, _ := def["properties"].(map[string]any)
	env, _ := props["environmentVariables"].(map[string]any)
	for k, v := range env {
		view.Env[k] = fmt.Sprint(v)
	}
	// The job reads its secrets from the key vault by the references in
	// azure.SecretsEnvVar, as the harness does here.
	var refs map[string]string
	if raw, ok := view.Env[azure.SecretsEnvVar]; ok {
		if err := json.Unmarshal([]byte(raw), &refs); err != nil {
			return nil, fmt.Errorf("%s is not a JSON object of secret references: %v", azure.SecretsEnvVar, err)
		}
	}
	for name, uri := range refs {
		if v, ok := h.srv.SecretValue(path.Base(uri)); ok {
			view.Secrets[name] = v
		}
	}
	return view, nil
}

func (h *workspaceHarness) UseGrant(ctx context.Context, p provider.Provider, g provider.Grant, op providertest.GrantOp, name, version string, data []byte) ([]byte, error) {
	return h.storage.UseGrant(ctx, p, g, op, name, version, data)
}

// TestWorkspaceConformance runs the whole conformance suite on one
// Workspace value, every capability claimed: Resource Manager is the
// contract server, storage is Azurite (datasets, grants, the registry's
// records, the endpoints' guards and the jobs' claims). Without the
// emulator it ends by testenv's rule: a skip, or a failure under
// TIDELINE_INTEGRATION=required.
func TestWorkspaceConformance(t *testing.T) {
	accountURL := azurite(t)
	storage := &azuriteHarness{accountURL: accountURL, container: newContainer(t, accountURL)}
	providertest.RunConformanceTests(t, func(_ context.Context, tb testing.TB) (providertest.Harness, error) {
		return newWorkspaceHarness(tb, storage), nil
	}, &providertest.Options{Parallel: true, Timeout: 30 * time.Second})
}
