package coreweave_test

// The tests in this file run against the real Kubernetes API server that
// scripts/testenv.sh starts for make test (see internal/kubetest). They
// skip without it, and fail under TIDELINE_INTEGRATION=required. Each
// harness gets a namespace of its own, with coreweave.RoleYAML bound to
// kubetest.User: the provider runs with that user's token and nothing
// else, while coreweavetest's controller plays the Job controller, the
// Kubeflow operators, KServe and the garbage collector as the
// administrator.

import (
	"context"
	"net/http"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tideline-ml/tideline/internal/kubetest"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
	"github.com/tideline-ml/tideline/provider/providertest"
)

// realServer returns the test run's API server with the CRDs installed.
func realServer(tb testing.TB) *kubetest.Env {
	tb.Helper()
	env := kubetest.Start(tb)
	env.InstallCRDs(tb)
	return env
}

// realNamespace makes a namespace for one test and binds the provider's
// Role in it to kubetest.User.
func realNamespace(tb testing.TB, env *kubetest.Env, prefix string) string {
	tb.Helper()
	ns := env.Namespace(tb, prefix)
	env.BindRole(tb, ns, coreweave.RoleYAML, kubetest.User)
	return ns
}

// adminClients returns the administrator's clients, with which the tests
// play the controllers and read what the provider wrote.
func adminClients(tb testing.TB, env *kubetest.Env) (kubernetes.Interface, dynamic.Interface) {
	tb.Helper()
	cfg := env.AdminConfig()
	cfg.UserAgent = "tideline-test-controller"
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return kube, dyn
}

// realProvider returns a provider for namespace with the user's token,
// its transport wrapped by wrap when not nil.
func realProvider(tb testing.TB, env *kubetest.Env, cfg *rest.Config, namespace, region string, wrap func(http.RoundTripper) http.RoundTripper, adjust func(*coreweave.Config)) *coreweave.Provider {
	tb.Helper()
	if wrap != nil {
		cfg.Wrap(wrap)
	}
	c := coreweave.Config{RESTConfig: cfg, Namespace: namespace, Region: region}
	if adjust != nil {
		adjust(&c)
	}
	p, err := coreweave.New(c)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// realHarness is the conformance harness over the real API server:
// coreweavetest.Harness for jobs (its Controller with the administrator's
// clients) and KServe's status writes for endpoints, in a namespace per
// subtest, the provider holding the Role-bound user token. It claims every
// capability the provider has.
type realHarness struct {
	*coreweavetest.Harness
	dyn dynamic.Interface
}

func realMaker(env *kubetest.Env, mode coreweave.DeploymentMode, adjust func(*coreweave.Config)) providertest.HarnessMaker {
	return func(_ context.Context, tb testing.TB) (providertest.Harness, error) {
		ns := realNamespace(tb, env, "cw-conf")
		kube, dyn := adminClients(tb, env)
		cfg := coreweave.Config{RESTConfig: env.UserConfig(), Namespace: ns, Region: testRegion, Serving: coreweave.ServingConfig{Mode: mode, ModelFormat: "sklearn"}}
		if adjust != nil {
			adjust(&cfg)
		}
		return &realHarness{
			Harness: &coreweavetest.Harness{Config: cfg, Controller: &coreweavetest.Controller{Kube: kube, Dynamic: dyn, Namespace: ns}},
			dyn:     dyn,
		}, nil
	}
}

// Capabilities: training with watches and logs, and serving.
func (h *realHarness) Capabilities() []provider.Capability {
	return append(h.Harness.Capabilities(), provider.CapServing)
}

// SetDeploymentReady writes the InferenceService's status as KServe does.
func (h *realHarness) SetDeploymentReady(ctx context.Context, _ provider.Provider, endpoint, name string) error {
	return coreweavetest.SetDeploymentReady(ctx, h.dyn, h.Config.Namespace, endpoint, name)
}

// Settle is the garbage collector's part, for jobs and InferenceServices.
func (h *realHarness) Settle(ctx context.Context, p provider.Provider) error {
	if err := h.Harness.Settle(ctx, p); err != nil {
		return err
	}
	return coreweavetest.SettleInferenceServices(ctx, h.dyn, h.Config.Namespace)
}

// realOptions runs the leaf subtests in parallel, each in its namespace,
// and polls deployments less eagerly than the in-memory default.
func realOptions(prepare func(*provider.JobSpec)) *providertest.Options {
	return &providertest.Options{Parallel: true, Concurrency: 4, PollInterval: 20 * time.Millisecond, Timeout: 30 * time.Second, PrepareJob: prepare}
}

// TestRealConformanceKnative runs the whole suite on the real API server:
// single-node jobs (batch/v1 Jobs) and serving in Knative mode. The logs
// tests pass with the pods' logs empty: no kubelet runs, so there is no
// content to compare (TestConformance reads it on the fake).
func TestRealConformanceKnative(t *testing.T) {
	env := realServer(t)
	providertest.RunConformanceTests(t, realMaker(env, coreweave.DeploymentModeKnative, nil), realOptions(nil))
}

// TestRealConformanceStandard runs it with every job on two nodes (a
// PyTorchJob under its CRD's schema) and serving in Standard mode.
func TestRealConformanceStandard(t *testing.T) {
	env := realServer(t)
	providertest.RunConformanceTests(t, realMaker(env, coreweave.DeploymentModeStandard, nil), realOptions(func(s *provider.JobSpec) { s.Nodes = 2 }))
}
