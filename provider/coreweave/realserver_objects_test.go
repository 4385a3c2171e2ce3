package coreweave_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
)

// warnings collects the API server's warnings to a client: a field the
// schema does not know is pruned with a warning rather than refused, so
// a clean write is one without warnings.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.list...)
}

// TestRealServerAcceptsWhatTheProviderWrites submits a job of each kind
// (one node with GPUs, a PyTorchJob and a TrainJob on three nodes, all with
// SecretEnv and input grants) and deploys in Standard and Knative mode
// (with a canary), with the Role-bound user's token; the API server
// validates each object under the built-in validation or the CRD's schema
// and CEL rules, with no warning of a pruned field, and the test reads
// each back as the administrator.
func TestRealServerAcceptsWhatTheProviderWrites(t *testing.T) {
	env := realServer(t)
	ns := realNamespace(t, env, "cw-accept")
	kube, dyn := adminClients(t, env)
	ctx := t.Context()
	warn := &warnings{}
	userConfig := func() *rest.Config {
		cfg := env.UserConfig()
		cfg.WarningHandler = warn
		return cfg
	}
	p := realProvider(t, env, userConfig(), ns, testRegion, nil, nil)
	ptj := realProvider(t, env, userConfig(), ns, testRegion, nil, func(c *coreweave.Config) { c.MultiNode = coreweave.MultiNodeTrainJob })

	one := jobSpec("train-one")
	pt := jobSpec("train-pytorch")
	pt.Nodes = 3
	tj := jobSpec("train-trainjob")
	tj.Nodes, tj.MaxRetries = 3, 0
	for _, c := range []struct {
		p    *coreweave.Provider
		spec *provider.JobSpec
	}{{p, one}, {p, pt}, {ptj, tj}} {
		info, err := c.p.SubmitJob(ctx, c.spec)
		if err != nil {
			t.Fatalf("SubmitJob(%s, %d nodes): %v", c.spec.Name, c.spec.Nodes, err)
		}
		if info.Spec.Nodes != c.spec.Nodes || info.Spec.GPUs != c.spec.GPUs {
			t.Errorf("%s read back with %d nodes of %d GPUs, want %d of %d", c.spec.Name, info.Spec.Nodes, info.Spec.GPUs, c.spec.Nodes, c.spec.GPUs)
		}
	}

	// What the server stored, read by the controller's inspection: the
	// secret values reach the container only from the Secret.
	ctl := &coreweavetest.Controller{Kube: kube, Dynamic: dyn, Namespace: ns}
	for _, name := range []string{one.Name, pt.Name, tj.Name} {
		view, err := ctl.Inspect(ctx, name)
		if err != nil {
			t.Fatalf("reading %s back: %v", name, err)
		}
		if strings.Contains(view.Definition, trackerKey) || strings.Contains(view.Definition, "sig=grant") {
			t.Errorf("%s: the stored definition holds a secret value", name)
		}
		if view.Secrets["TRACKER_API_KEY"] != trackerKey {
			t.Errorf("%s: TRACKER_API_KEY reaches the container as %q from its Secret, want the key", name, view.Secrets["TRACKER_API_KEY"])
		}
	}
	batchJob, err := kube.BatchV1().Jobs(ns).Get(ctx, one.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := batchJob.Spec.Template.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"]; got.Value() != 8 {
		t.Errorf("the Job's container asks for %s nvidia.com/gpu, want 8", got.String())
	}
	ptObj, err := dyn.Resource(coreweavetest.PyTorchJobs).Namespace(ns).Get(ctx, pt.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := unstructured.NestedInt64(ptObj.Object, "spec", "pytorchReplicaSpecs", "Worker", "replicas"); n != 2 {
		t.Errorf("the PyTorchJob has %d workers, want 2 beside its master", n)
	}
	tjObj, err := dyn.Resource(coreweavetest.TrainJobs).Namespace(ns).Get(ctx, tj.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := unstructured.NestedInt64(tjObj.Object, "spec", "trainer", "numNodes"); n != 3 {
		t.Errorf("the TrainJob has numNodes %d, want 3", n)
	}
	// One Secret per job, owned by it.
	secrets, err := kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]int{}
	for _, s := range secrets.Items {
		for _, o := range s.OwnerReferences {
			owners[o.Kind+"/"+o.Name]++
		}
	}
	for _, want := range []string{"Job/" + one.Name, "PyTorchJob/" + pt.Name, "TrainJob/" + tj.Name} {
		if owners[want] != 1 {
			t.Errorf("Secrets owned by %s: %d, want 1 (all: %v)", want, owners[want], owners)
		}
	}

	// Serving, in both modes.
	for _, mode := range []coreweave.DeploymentMode{coreweave.DeploymentModeStandard, coreweave.DeploymentModeKnative} {
		sp := realProvider(t, env, userConfig(), ns, servingRegion, nil, func(c *coreweave.Config) {
			c.Serving = coreweave.ServingConfig{Mode: mode, ModelFormat: "sklearn"}
		})
		ep := "scoring-" + strings.ToLower(string(mode))
		if _, err := sp.CreateEndpoint(ctx, &provider.EndpointSpec{Name: ep, Region: servingRegion, Metadata: map[string]string{"owner": "risk-team"}}); err != nil {
			t.Fatalf("CreateEndpoint in %s mode: %v", mode, err)
		}
		deps := []string{"blue"}
		if mode == coreweave.DeploymentModeKnative {
			deps = append(deps, "green")
		}
		for _, d := range deps {
			spec := &provider.DeploymentSpec{Endpoint: ep, Name: d, Model: "fraud", ModelVersion: "3", ArtifactURI: "s3://models/fraud/" + d, InstanceType: "gd-8xh100ib-i128", Instances: 2, Metadata: map[string]string{"release": d}}
			if _, err := sp.CreateDeployment(ctx, spec); err != nil {
				t.Fatalf("CreateDeployment %s in %s mode: %v", d, mode, err)
			}
			if err := coreweavetest.SetDeploymentReady(ctx, dyn, ns, ep, d); err != nil {
				t.Fatalf("KServe's status for %s in %s mode: %v", d, mode, err)
			}
		}
		if mode == coreweave.DeploymentModeKnative {
			if _, err := sp.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 90, "green": 10}}); err != nil {
				t.Fatalf("UpdateEndpoint to a 90/10 canary: %v", err)
			}
		}
		obj, err := dyn.Resource(coreweave.InferenceServiceResource).Namespace(ns).Get(ctx, ep, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading the InferenceService of %s: %v", ep, err)
		}
		if got := obj.GetAnnotations()["serving.kserve.io/deploymentMode"]; got != string(mode) {
			t.Errorf("%s: deploymentMode annotation %q, want %q", ep, got, mode)
		}
		uri, _, _ := unstructured.NestedString(obj.Object, "spec", "predictor", "model", "storageUri")
		if want := "s3://models/fraud/" + deps[len(deps)-1]; uri != want {
			t.Errorf("%s: predictor storageUri %q, want %q", ep, uri, want)
		}
		canary, has, _ := unstructured.NestedInt64(obj.Object, "spec", "predictor", "canaryTrafficPercent")
		if mode == coreweave.DeploymentModeKnative && (!has || canary != 10) {
			t.Errorf("%s: canaryTrafficPercent %d (set %v), want 10", ep, canary, has)
		}
	}
	if w := warn.all(); len(w) > 0 {
		t.Errorf("the API server warned the provider's client: %q; a field it prunes is a field the provider meant to write", w)
	}
}

// TestRealNobodyIsPermissionDenied: a token the Role is not bound to gets
// PermissionDenied for a submit and for CreateEndpoint, the message naming
// the verb, the resource and the namespace of the refused request, and
// nothing is created.
func TestRealNobodyIsPermissionDenied(t *testing.T) {
	env := realServer(t)
	ns := realNamespace(t, env, "cw-nobody")
	kube, _ := adminClients(t, env)
	ctx := t.Context()
	p := realProvider(t, env, env.NobodyConfig(), ns, testRegion, nil, func(c *coreweave.Config) {
		c.Serving = coreweave.ServingConfig{ModelFormat: "sklearn"}
	})
	plain := jobSpec("train-plain")
	plain.SecretEnv, plain.Inputs = nil, nil
	for _, c := range []struct {
		what string
		call func() error
		want []string
	}{
		{"SubmitJob with secrets", func() error { _, err := p.SubmitJob(ctx, jobSpec("train-secret")); return err }, []string{`"create"`, `"secrets"`, ns}},
		{"SubmitJob without secrets", func() error { _, err := p.SubmitJob(ctx, plain); return err }, []string{`"create"`, `"jobs"`, ns}},
		{"CreateEndpoint", func() error {
			_, err := p.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "scoring", Region: servingRegion})
			return err
		}, []string{"get", `"inferenceservices"`, ns}},
	} {
		err := c.call()
		if provider.CodeOf(err) != provider.PermissionDenied {
			t.Errorf("%s as %s: %v, want PermissionDenied", c.what, "the nobody token", err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: the error does not name %s: %v", c.what, w, err)
			}
		}
	}
	jobs, err := kube.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items)+len(secrets.Items) != 0 {
		t.Errorf("refused calls left %d Jobs and %d Secrets", len(jobs.Items), len(secrets.Items))
	}
}

// jobsAndSecrets counts the Jobs and the Secrets in namespace, as the
// administrator sees them.
func jobsAndSecrets(t *testing.T, ctx context.Context, kube kubernetes.Interface, ns string) (jobs, secrets int, owned map[string]string) {
	t.Helper()
	jl, err := kube.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owned = map[string]string{}
	for _, s := range sl.Items {
		owner := ""
		for _, o := range s.OwnerReferences {
			owner += o.Kind + "/" + o.Name
		}
		owned[s.Name] = owner
	}
	return len(jl.Items), len(sl.Items), owned
}

// TestRealConcurrentSubmitsLeaveOneJob: two providers submitting the same
// job at the same moment, five times over, leave one Job and one Secret
// for each name; one submission succeeds and the other is AlreadyExists.
func TestRealConcurrentSubmitsLeaveOneJob(t *testing.T) {
	env := realServer(t)
	ns := realNamespace(t, env, "cw-race")
	kube, _ := adminClients(t, env)
	ctx := t.Context()
	ps := []*coreweave.Provider{
		realProvider(t, env, env.UserConfig(), ns, testRegion, nil, nil),
		realProvider(t, env, env.UserConfig(), ns, testRegion, nil, nil),
	}
	const rounds = 5
	for r := range rounds {
		name := fmt.Sprintf("train-race-%d", r)
		start := make(chan struct{})
		errs := make([]error, len(ps))
		var wg sync.WaitGroup
		for i, p := range ps {
			wg.Go(func() {
				<-start
				_, errs[i] = p.SubmitJob(ctx, jobSpec(name))
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch provider.CodeOf(err) {
			case provider.OK:
				won++
			case provider.AlreadyExists:
			default:
				t.Errorf("%s: SubmitJob: %v", name, err)
			}
		}
		if won != 1 {
			t.Errorf("%s: %d submissions succeeded (%v), want 1 and the other AlreadyExists", name, won, errs)
		}
	}
	jobs, secrets, owned := jobsAndSecrets(t, ctx, kube, ns)
	if jobs != rounds || secrets != rounds {
		t.Errorf("%d concurrent pairs left %d Jobs and %d Secrets (%v), want %d of each", rounds, jobs, secrets, owned, rounds)
	}
	for name, owner := range owned {
		if !strings.HasPrefix(owner, "Job/") {
			t.Errorf("Secret %s is owned by %q, want its Job", name, owner)
		}
	}
}

// dropResponse lets one create of a resource reach the API server and
// then fails it as a connection reset before the response is read: the
// object exists, the client does not know.
type dropResponse struct {
	rt       http.RoundTripper
	resource string
	armed    atomic.Bool
}

var errReset = errors.New("connection reset by peer")

func (d *dropResponse) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.rt.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/"+d.resource) && d.armed.CompareAndSwap(true, false) {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: errReset}
	}
	return resp, err
}

// TestRealLostCreateResponse: the response to the Job's create is lost
// after the API server created it; the submission recognises its own job
// and succeeds, and the caller's retry returns it with AlreadyExists; one
// Job, one Secret, owned by it.
func TestRealLostCreateResponse(t *testing.T) {
	env := realServer(t)
	ns := realNamespace(t, env, "cw-lost")
	kube, _ := adminClients(t, env)
	ctx := t.Context()
	drop := &dropResponse{resource: "jobs"}
	p := realProvider(t, env, env.UserConfig(), ns, testRegion, func(rt http.RoundTripper) http.RoundTripper { drop.rt = rt; return drop }, nil)
	drop.armed.Store(true)
	spec := jobSpec("train-lost")
	if _, err := p.SubmitJob(ctx, spec); err != nil {
		t.Fatalf("SubmitJob whose create response was lost: %v", err)
	}
	if drop.armed.Load() {
		t.Fatal("the create was never sent")
	}
	if _, err := p.SubmitJob(ctx, jobSpec(spec.Name)); provider.CodeOf(err) != provider.AlreadyExists || !strings.Contains(err.Error(), "the same spec") {
		t.Errorf("retried SubmitJob: %v, want AlreadyExists with the same spec", err)
	}
	jobs, secrets, owned := jobsAndSecrets(t, ctx, kube, ns)
	if jobs != 1 || secrets != 1 {
		t.Errorf("a lost response and a retry left %d Jobs and %d Secrets (%v), want one of each", jobs, secrets, owned)
	}
	for name, owner := range owned {
		if owner != "Job/"+spec.Name {
			t.Errorf("Secret %s is owned by %q, want Job/%s", name, owner, spec.Name)
		}
	}
}

// TestRealLostSecretCreateResponse: the response to the Secret's create
// is lost; the submission fails as Unavailable and leaves no Secret behind
// (an unowned Secret would hold the job's secret values until someone
// deleted it by hand), and a retry leaves one Job and one Secret.
func TestRealLostSecretCreateResponse(t *testing.T) {
	env := realServer(t)
	ns := realNamespace(t, env, "cw-lostsecret")
	kube, _ := adminClients(t, env)
	ctx := t.Context()
	drop := &dropResponse{resource: "secrets"}
	p := realProvider(t, env, env.UserConfig(), ns, testRegion, func(rt http.RoundTripper) http.RoundTripper { drop.rt = rt; return drop }, nil)
	drop.armed.Store(true)
	spec := jobSpec("train-lostsecret")
	_, err := p.SubmitJob(ctx, spec)
	if provider.CodeOf(err) != provider.Unavailable {
		t.Errorf("SubmitJob whose Secret's create response was lost: %v, want Unavailable", err)
	}
	if jobs, secrets, owned := jobsAndSecrets(t, ctx, kube, ns); jobs != 0 || secrets != 0 {
		t.Errorf("the failed submission left %d Jobs and %d Secrets (%v), want none", jobs, secrets, owned)
	}
	if _, err := p.SubmitJob(ctx, jobSpec(spec.Name)); err != nil {
		t.Fatalf("retried SubmitJob: %v", err)
	}
	jobs, secrets, owned := jobsAndSecrets(t, ctx, kube, ns)
	if jobs != 1 || secrets != 1 {
		t.Errorf("a lost response and a retry left %d Jobs and %d Secrets (%v), want one of each", jobs, secrets, owned)
	}
}

// TestRealControllerWritesOnlySchemaFields: the controller's status writes
// for a Job, a PyTorchJob and a TrainJob, started and completed, and
// KServe's for an InferenceService, draw no warning of a pruned field from
// the API server: what the harness writes is what the CRDs hold, so a
// state the provider reads from status is really there.
func TestRealControllerWritesOnlySchemaFields(t *testing.T) {
	env := realServer(t)
	ns := realNamespace(t, env, "cw-ctl")
	ctx := t.Context()
	warn := &warnings{}
	cfg := env.AdminConfig()
	cfg.WarningHandler = warn
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctl := &coreweavetest.Controller{Kube: kube, Dynamic: dyn, Namespace: ns}
	p := realProvider(t, env, env.UserConfig(), ns, testRegion, nil, func(c *coreweave.Config) {
		c.Serving = coreweave.ServingConfig{ModelFormat: "sklearn"}
	})
	ptj := realProvider(t, env, env.UserConfig(), ns, testRegion, nil, func(c *coreweave.Config) { c.MultiNode = coreweave.MultiNodeTrainJob })
	one, pt, tj := jobSpec("ctl-one"), jobSpec("ctl-pytorch"), jobSpec("ctl-trainjob")
	pt.Nodes = 2
	tj.Nodes, tj.MaxRetries = 2, 0
	for _, c := range []struct {
		p    *coreweave.Provider
		spec *provider.JobSpec
	}{{p, one}, {p, pt}, {ptj, tj}} {
		if _, err := c.p.SubmitJob(ctx, c.spec); err != nil {
			t.Fatal(err)
		}
		if err := ctl.StartJob(ctx, c.spec.Name); err != nil {
			t.Fatalf("starting %s: %v", c.spec.Name, err)
		}
		if info, err := c.p.GetJob(ctx, c.spec.Name); err != nil || info.State != provider.JobRunning {
			t.Errorf("%s after its start: %v, %v; want running", c.spec.Name, info, err)
		}
		if err := ctl.CompleteJob(ctx, c.spec.Name, "s3://out/"+c.spec.Name); err != nil {
			t.Fatalf("completing %s: %v", c.spec.Name, err)
		}
		if info, err := c.p.GetJob(ctx, c.spec.Name); err != nil || info.State != provider.JobSucceeded {
			t.Errorf("%s after its completion: %v, %v; want succeeded", c.spec.Name, info, err)
		}
	}
	if _, err := p.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "scoring", Region: servingRegion}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateDeployment(ctx, &provider.DeploymentSpec{Endpoint: "scoring", Name: "blue", Model: "fraud", ModelVersion: "3", ArtifactURI: "s3://models/fraud/blue"}); err != nil {
		t.Fatal(err)
	}
	if err := coreweavetest.SetDeploymentReady(ctx, dyn, ns, "scoring", "blue"); err != nil {
		t.Fatal(err)
	}
	if w := warn.all(); len(w) > 0 {
		t.Errorf("the API server pruned what the controller wrote: %q", w)
	}
}
