package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/tideline-ml/tideline/audit"
	"github.com/tideline-ml/tideline/internal/azuritetest"
	"github.com/tideline-ml/tideline/internal/kubetest"
	"github.com/tideline-ml/tideline/lineage"
	"github.com/tideline-ml/tideline/lineage/lineagetest"
	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/azure"
	"github.com/tideline-ml/tideline/provider/azure/azuretest"
	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
	"github.com/tideline-ml/tideline/residency"
	"github.com/tideline-ml/tideline/secret"
)

// Azurite's account and key, from the emulator's documentation.
const (
	devAccount = azuritetest.Account
	devKey     = azuritetest.Key
)

// The image the policy allows, pinned by digest, as in the quickstart.
const image = "registry.example/ml/fraud-train@sha256:4f1c2a7be0d9a6c3e58f7b21d04c9e6a8b3f5d7e9c1a2b4d6f8e0a1c3b5d7e9f"

// A secret environment value a job gets, recognisable wherever it leaks.
const wandbKey = "wandb-key-e2e-5c1f9a7d3b-do-not-leak"

var (
	alice = mlops.Principal{ID: "alice@bank.example", Team: "fraud-ml"}
	bob   = mlops.Principal{ID: "bob@bank.example", Team: "model-risk"}

	westEurope = mlops.Location{Provider: "azure", Region: "westeurope"}
)

func azurite(t *testing.T) string { t.Helper(); return azuritetest.URL(t) }

func newContainer(t *testing.T, accountURL string) string {
	t.Helper()
	return azuritetest.NewContainer(t, accountURL)
}

func sharedKey(t *testing.T) *container.SharedKeyCredential {
	t.Helper()
	return azuritetest.SharedKey(t)
}

// tokenRecorder hands out the contract server's tokens and remembers each,
// so that the test can look for them where they must not be.
type tokenRecorder struct {
	cred   azcore.TokenCredential
	mu     sync.Mutex
	tokens []string
}

func (r *tokenRecorder) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := r.cred.GetToken(ctx, opts)
	if err == nil {
		r.mu.Lock()
		r.tokens = append(r.tokens, tok.Token)
		r.mu.Unlock()
	}
	return tok, err
}

func (r *tokenRecorder) issued() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.tokens)
}

// workspace is an Azure Machine Learning workspace on the contract server,
// its storage a container of its own on Azurite.
type workspace struct {
	*azure.Workspace
	srv       *azuretest.Server
	container string
	tokens    *tokenRecorder
}

// openWorkspace starts a contract server for a workspace in location and
// opens it as a user would, with OpenWorkspace, which reads the workspace's
// and the storage account's regions from Resource Manager.
func openWorkspace(t *testing.T, ctx context.Context, accountURL, location string) *workspace {
	t.Helper()
	srv := azuretest.NewServer(azuretest.Options{Location: location})
	t.Cleanup(func() {
		if v := srv.Violations(); len(v) > 0 {
			t.Errorf("requests that differ from Microsoft's examples:\n%s", strings.Join(v, "\n"))
		}
		srv.Close()
	})
	rec := &tokenRecorder{cred: srv.Credential()}
	o := srv.Options()
	cfg := azure.Config{
		AccountURL: accountURL, Container: newContainer(t, accountURL), SharedKey: sharedKey(t),
		Credential:     rec,
		SubscriptionID: o.SubscriptionID, ResourceGroup: o.ResourceGroup, Workspace: o.Workspace,
		ARMEndpoint: srv.URL, KeyVaultURL: srv.URL,
		Compute: "cpu-cluster", GPUComputes: map[string]string{"H100": "h100-cluster"},
		PollInterval: 5 * time.Millisecond,
	}
	// One transport for both services: it trusts the contract server's
	// certificate and speaks plain HTTP to Azurite.
	cfg.ClientOptions.Transport = srv.Client()
	ws, err := azure.OpenWorkspace(ctx, cfg)
	require.NoError(t, err)
	require.Equal(t, []provider.Region{{Name: location, Cloud: "azure"}}, regionsOf(ws.Regions()), "the workspace's regions as Resource Manager reports them")
	return &workspace{Workspace: ws, srv: srv, container: cfg.Container, tokens: rec}
}

func regionsOf(rs []provider.Region) []provider.Region {
	out := make([]provider.Region, 0, len(rs))
	for _, r := range rs {
		if !slices.ContainsFunc(out, func(o provider.Region) bool { return o.Name == r.Name }) {
			out = append(out, provider.Region{Name: r.Name, Cloud: r.Cloud})
		}
	}
	return out
}

// provisionDeployments plays Azure Machine Learning's controller for
// managed online deployments: every deployment still provisioning is made
// ready, until ctx ends.
func provisionDeployments(ctx context.Context, srv *azuretest.Server) {
	for {
		for _, ep := range srv.List(azuretest.EndpointKind, "") {
			for _, d := range srv.OnlineDeployments(ep.Key) {
				props, _ := d["properties"].(map[string]any)
				if props["provisioningState"] == azuretest.StateCreating || props["provisioningState"] == azuretest.StateUpdating {
					_ = srv.SetDeploymentReady(ep.Key, fmt.Sprint(d["name"]))
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// governance is what the quickstart gives a Client beside its providers:
// an HMAC-chained audit log on disk, lineage with OpenLineage events in a
// file, and a hook that keeps every error a call ended with.
type governance struct {
	dir                        string
	auditKey                   secret.Secret
	log                        *audit.Log
	auditHook                  *mlops.AuditHook
	events                     *lineage.FileTransport
	graph                      *lineage.FileStore
	recorder                   *mlops.LineageRecorder
	errs                       *errorHook
	auditPath, eventsPath, jnl string
}

func newGovernance(t *testing.T, ctx context.Context) *governance {
	t.Helper()
	g := &governance{dir: t.TempDir(), auditKey: secret.NewSecret("e2e-audit-hmac-key-0123456789abcdef"), errs: &errorHook{}}
	g.auditPath, g.eventsPath, g.jnl = filepath.Join(g.dir, "audit.jsonl"), filepath.Join(g.dir, "events.jsonl"), filepath.Join(g.dir, "lineage.jsonl")
	sink, err := audit.OpenFile(ctx, g.auditPath, nil)
	require.NoError(t, err)
	g.log, err = audit.New(ctx, sink, &audit.Options{Key: g.auditKey})
	require.NoError(t, err)
	g.auditHook, err = mlops.NewAuditHook(g.log, nil)
	require.NoError(t, err)
	g.events, err = lineage.NewFileTransport(g.eventsPath, nil)
	require.NoError(t, err)
	emitter, err := lineage.NewEmitter(g.events, nil)
	require.NoError(t, err)
	g.graph, err = lineage.OpenFileStore(ctx, g.jnl, nil)
	require.NoError(t, err)
	g.recorder, err = mlops.NewLineageRecorder(g.graph, &mlops.LineageOptions{Emitter: emitter})
	require.NoError(t, err)
	return g
}

func (g *governance) hooks() []mlops.Hook { return []mlops.Hook{g.auditHook, g.recorder, g.errs} }

// bankPolicy is the quickstart's: the default rules and two of the bank's own.
func bankPolicy() *mlops.Policy {
	return mlops.NewPolicy(append(mlops.DefaultPolicyRules(),
		mlops.AllowImages(true, "registry.example/ml/"),
		mlops.MaxTrafficStep(50),
	)...)
}

// finish closes the logs, verifies the audit chain and returns the text of
// the audit log, the OpenLineage events and the lineage journal.
func (g *governance) finish(t *testing.T, ctx context.Context) map[string]string {
	t.Helper()
	require.NoError(t, g.recorder.Err(), "lineage")
	require.NoError(t, g.events.Close(ctx))
	require.NoError(t, g.graph.Close())
	require.NoError(t, g.log.Close())
	require.NoError(t, g.auditHook.Err(), "audit")
	last, err := audit.VerifyFile(ctx, g.auditPath, &audit.VerifyOptions{Key: g.auditKey})
	require.NoError(t, err, "the audit log verifies")
	require.Greater(t, last.Seq, uint64(10), "the pipeline's calls are in the audit log")
	out := map[string]string{}
	for name, path := range map[string]string{"audit log": g.auditPath, "OpenLineage events": g.eventsPath, "lineage journal": g.jnl} {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NotEmpty(t, b, name)
		out[name] = string(b)
	}
	require.NoError(t, lineagetest.NewValidator(t).ValidateLines([]byte(out["OpenLineage events"])))
	return out
}

// errorHook keeps the text of every error a governed call ended with,
// denials included.
type errorHook struct {
	mu   sync.Mutex
	errs []string
}

func (h *errorHook) Before(ctx context.Context, _ *mlops.Operation) (context.Context, error) {
	return ctx, nil
}

func (h *errorHook) After(_ context.Context, op *mlops.Operation) {
	if op.Err != nil {
		h.add(op.Err)
	}
}

func (h *errorHook) add(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errs = append(h.errs, err.Error())
}

func (h *errorHook) text() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.errs, "\n")
}

// requireDenied checks that err is a policy denial and returns it.
func requireDenied(t *testing.T, errs *errorHook, err error, action mlops.Action) *mlops.PolicyError {
	t.Helper()
	var denied *mlops.PolicyError
	require.ErrorAs(t, err, &denied)
	require.Equal(t, action, denied.Action)
	errs.add(err)
	return denied
}

// reasons joins a denial's reasons.
func reasons(d *mlops.PolicyError) string {
	var b strings.Builder
	for _, r := range d.Reasons {
		b.WriteString(r.String())
		b.WriteString("\n")
	}
	return b.String()
}

// requireNoSecret fails when any of the values appears in any of the texts,
// or in their JSON or URL escapings. The failure names the value and where
// it was found, never the value or the text around it.
func requireNoSecret(t *testing.T, texts map[string]string, values map[string]string) {
	t.Helper()
	for vname, v := range values {
		require.NotEmpty(t, v, "%s: nothing to look for", vname)
		j, _ := json.Marshal(v)
		forms := []string{v, string(j[1 : len(j)-1]), url.QueryEscape(v)}
		for tname, text := range texts {
			for _, f := range forms {
				if i := strings.Index(text, f); i >= 0 {
					t.Errorf("%s leaked into the %s, at byte %d", vname, tname, i)
					break
				}
			}
		}
	}
}

// grantValues names the parts of a SAS that would let a reader use it: the
// whole URL and its signature.
func grantValues(prefix string, g secret.Secret) map[string]string {
	u, _ := url.Parse(g.Reveal())
	return map[string]string{prefix + " (SAS URL)": g.Reveal(), prefix + " (SAS signature)": u.Query().Get("sig")}
}

func tokenValues(prefix string, tokens []string) map[string]string {
	out := map[string]string{}
	for i, tok := range tokens {
		out[fmt.Sprintf("%s bearer token %d", prefix, i)] = tok
	}
	return out
}

// claimsCSV is the quickstart's restricted claims data, n rows.
func claimsCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("claim_id,policy_id,amount_eur,country,fraud\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,P%06d,%d.%02d,%s,%d\n", 100000+i, (i*7919)%1000000, (i*37)%5000, i%100, []string{"DE", "FR", "NL", "ES"}[i%4], i%53/52)
	}
	return b.Bytes()
}

// healthCheck records the rollout's steps and passes them all.
type healthCheck struct {
	mu    sync.Mutex
	steps []int
}

func (h *healthCheck) check(_ context.Context, s mlops.RolloutStep) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.steps = append(h.steps, s.Percent)
	return nil
}

// serveCanary registers a baseline from the dataset, approves both
// versions as bob after alice is refused, and rolls mv out on a managed
// online endpoint in westeurope beside the baseline, 10% → 50% → 100%.
// It returns the endpoint.
func serveCanary(t *testing.T, ctx context.Context, c *mlops.Client, g *governance, ws *workspace, claims *mlops.Dataset, mv *mlops.ModelVersion) *mlops.Endpoint {
	t.Helper()
	reg := c.Models("azure")
	baseline, err := reg.Register(ctx, "fraud", mlops.ModelSource{ArtifactURI: "azureml://datastores/workspaceblobstore/paths/fraud/baseline/"},
		&mlops.RegisterOptions{Location: westEurope, Framework: "sklearn", Metrics: map[string]float64{"auc": 0.87},
			DerivedFrom: []mlops.DatasetRef{claims.Ref()}})
	require.NoError(t, err)

	// The trainer may not approve what she trained.
	_, err = reg.Approve(ctx, mv, "looks fine to me")
	denied := requireDenied(t, g.errs, err, mlops.ActionModelApprove)
	require.Contains(t, reasons(denied), alice.ID)
	asBob := mlops.WithPrincipal(ctx, bob)
	baseline, err = reg.Approve(asBob, baseline, "baseline, in production since Q2")
	require.NoError(t, err)
	mv, err = reg.Approve(asBob, mv, "validation report MRM-2291 reviewed")
	require.NoError(t, err)
	require.Equal(t, mlops.ApprovalApproved, mv.Approval.State)
	require.Equal(t, bob.ID, mv.Approval.By)
	// The approval is in Azure's copy of the version, for the studio.
	res, ok := ws.srv.Get(azuretest.ModelVersionKind, "fraud/"+mv.Version)
	require.True(t, ok)
	require.Contains(t, fmt.Sprint(res.Body["properties"]), bob.ID)

	ep, err := c.CreateEndpoint(ctx, "fraud-scoring", &mlops.EndpointOptions{Location: westEurope})
	require.NoError(t, err)
	_, err = ep.Deploy(ctx, "blue", baseline, &mlops.DeployOptions{InstanceType: "Standard_DS3_v2", Instances: 2})
	require.NoError(t, err)
	require.NoError(t, ep.Promote(ctx, "blue"))
	_, err = ep.Deploy(ctx, "green", mv, &mlops.DeployOptions{InstanceType: "Standard_DS3_v2", Instances: 2})
	require.NoError(t, err)
	health := &healthCheck{}
	require.NoError(t, ep.Rollout(ctx, "green", &mlops.RolloutOptions{Steps: []int{10, 50, 100}, Check: health.check}))
	require.Equal(t, []int{10, 50, 100}, health.steps, "a health check after each step")
	require.NoError(t, ep.DeleteDeployment(ctx, "blue"))

	// What Azure serves: the managed online endpoint's own traffic.
	azEP, ok := ws.srv.OnlineEndpoint("fraud-scoring")
	require.True(t, ok)
	props, _ := azEP["properties"].(map[string]any)
	require.Equal(t, map[string]any{"green": float64(100)}, props["traffic"])
	deps := ws.srv.OnlineDeployments("fraud-scoring")
	require.Len(t, deps, 1)
	require.Equal(t, "green", deps[0]["name"])
	return ep
}

// requireImpact checks that the dataset's impact is the chain dataset →
// job → model → deployment, ending at the live deployment.
func requireImpact(t *testing.T, ctx context.Context, g *governance, claims *mlops.Dataset, job *mlops.TrainJob, mv *mlops.ModelVersion, ep *mlops.Endpoint) {
	t.Helper()
	impact, err := g.graph.Impact(ctx, mlops.DatasetNodeID(claims.Ref()))
	require.NoError(t, err)
	want := lineage.Path{mlops.DatasetNodeID(claims.Ref()), mlops.JobNodeID(job.ID), mlops.ModelNodeID(mv), mlops.DeploymentNodeID("azure", ep.Name, "green")}
	require.Contains(t, impact, want, "impact of %s: %v", claims.Ref(), impact)
	for _, p := range impact {
		require.Equal(t, mlops.DeploymentNodeID("azure", ep.Name, "green"), p[len(p)-1], "only the live deployment: %v", impact)
	}
}

// TestPipelineOnAzure runs the quickstart's pipeline on Azure alone: one
// Client over an Azure Machine Learning workspace in westeurope (the
// contract server and Azurite), and a second workspace in eastus where
// nothing of the restricted data may go.
func TestPipelineOnAzure(t *testing.T) {
	accountURL := azurite(t)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws := openWorkspace(t, ctx, accountURL, "westeurope")
	us := openWorkspace(t, ctx, accountURL, "eastus")
	ctl, stop := context.WithCancel(ctx)
	defer stop()
	go provisionDeployments(ctl, ws.srv)
	go provisionDeployments(ctl, us.srv)

	g := newGovernance(t, ctx)
	c, err := mlops.NewClient(mlops.Providers{"azure": ws, "azure-us": us}, &mlops.ClientOptions{
		Principal: alice, Policy: bankPolicy(), Hooks: g.hooks(),
		PollInterval: 10 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond,
	})
	require.NoError(t, err)

	// 1. A restricted dataset in Blob Storage, registered as a data asset.
	rows := claimsCSV(2000)
	claims, err := c.CreateDataset(ctx, "claims", "", bytes.NewReader(rows), &mlops.CreateDatasetOptions{
		Location: westEurope, Classification: residency.Restricted,
		Labels: map[string]string{"owner": "fraud_ml"},
	})
	require.NoError(t, err)
	require.Equal(t, "EU/EEA", claims.Constraint().String())
	_, ok := ws.srv.Get(azuretest.DataVersionKind, "claims/"+claims.Version)
	require.True(t, ok, "the version is a data asset of the workspace")

	// 2. Training: denied in eastus, run as an Azure ML command job in
	// westeurope.
	spec := mlops.TrainJobSpec{
		Name: "fraud", Image: image,
		Command: []string{"python", "-m", "fraud.train"}, Args: []string{"--epochs", "3"},
		GPU:         mlops.GPURequest{Type: "H100", Count: 8},
		Inputs:      []mlops.JobInput{{Name: "claims", Dataset: claims.Ref()}},
		SecretEnv:   map[string]secret.Secret{"WANDB_API_KEY": secret.NewSecret(wandbKey)},
		MaxDuration: 6 * time.Hour,
		Location:    mlops.Location{Provider: "azure-us", Region: "eastus"},
	}
	_, err = c.SubmitJob(ctx, spec)
	denied := requireDenied(t, g.errs, err, mlops.ActionJobSubmit)
	require.Contains(t, reasons(denied), "dataset azure/claims@1 is restricted")
	require.Contains(t, reasons(denied), "(rule restricted→EU/EEA)")
	require.Contains(t, reasons(denied), "region eastus (azure-us) is in US")
	require.Empty(t, us.srv.List(azuretest.JobKind, ""), "a denied job reaches no workspace")

	spec.Location = westEurope
	job, err := c.SubmitJob(ctx, spec)
	require.NoError(t, err)
	def, ok := ws.srv.JobDefinition(job.Name)
	require.True(t, ok)
	rawDef, _ := json.Marshal(def)
	require.Contains(t, string(rawDef), "h100-cluster", "the H100 job runs on the H100 cluster")
	require.NotContains(t, string(rawDef), wandbKey, "the secret is in the key vault, not the job")
	name := job.Name
	output := "azureml://datastores/workspaceblobstore/paths/fraud/" + name + "/model/"
	played := make(chan error, 1)
	go func() {
		if err := ws.srv.StartJob(name); err != nil {
			played <- err
			return
		}
		time.Sleep(30 * time.Millisecond)
		played <- ws.srv.CompleteJob(name, output)
	}()
	require.NoError(t, job.Wait(ctx, nil))
	require.NoError(t, <-played)
	require.Equal(t, mlops.JobSucceeded, job.State)
	require.Equal(t, output, job.OutputURI)

	// 3. The model, registered from the job, inherits the EU constraint.
	reg := c.Models("azure")
	mv, err := reg.Register(ctx, "fraud", mlops.ModelSource{Job: job.ID},
		&mlops.RegisterOptions{Location: westEurope, Framework: "pytorch", Metrics: map[string]float64{"auc": 0.93}})
	require.NoError(t, err)
	require.Equal(t, job.ID, mv.SourceJob)
	require.Equal(t, output, mv.ArtifactURI)
	require.Equal(t, "EU/EEA", mv.Constraint.String())
	require.Equal(t, "dataset azure/claims@1", mv.Origins[0].Artifact)

	// 4 and 5. Serving it from eastus is denied; a second principal
	// approves and it rolls out in westeurope.
	usEP, err := c.CreateEndpoint(ctx, "fraud-scoring-us", &mlops.EndpointOptions{Location: mlops.Location{Provider: "azure-us", Region: "eastus"}})
	require.NoError(t, err)
	_, err = usEP.Deploy(ctx, "blue", mv, nil)
	denied = requireDenied(t, g.errs, err, mlops.ActionDeploymentCreate)
	require.Contains(t, reasons(denied), "region eastus (azure-us) is in US")
	require.Empty(t, us.srv.OnlineDeployments("fraud-scoring-us"), "a denied deployment reaches no workspace")
	require.NoError(t, usEP.Delete(ctx))
	mv, err = reg.Get(ctx, "fraud", mv.Version)
	require.NoError(t, err)
	ep := serveCanary(t, ctx, c, g, ws, claims, mv)

	// 6. Lineage, audit, and no secret anywhere.
	requireImpact(t, ctx, g, claims, job, mv, ep)
	texts := g.finish(t, ctx)
	texts["errors"] = g.errs.text()
	vaulted, ok := ws.srv.SecretValue(vaultSecretName(t, def, "WANDB_API_KEY"))
	require.True(t, ok)
	require.Equal(t, wandbKey, vaulted, "the job's secret is in the workspace's key vault")
	values := map[string]string{"the account key": devKey, "the secret environment value": wandbKey}
	for k, v := range tokenValues("Azure", append(ws.tokens.issued(), us.tokens.issued()...)) {
		values[k] = v
	}
	require.NotEmpty(t, ws.tokens.issued())
	requireNoSecret(t, texts, values)
	t.Logf("the pipeline on Azure took %s", time.Since(start).Round(time.Millisecond))
}

// vaultSecretName reads, from a job's definition, the key vault secret its
// reference for name points at.
func vaultSecretName(t *testing.T, def map[string]any, name string) string {
	t.Helper()
	props, _ := def["properties"].(map[string]any)
	env, _ := props["environmentVariables"].(map[string]any)
	var refs map[string]string
	require.NoError(t, json.Unmarshal([]byte(fmt.Sprint(env[azure.SecretsEnvVar])), &refs))
	ref, ok := refs[name]
	require.True(t, ok, "no key vault reference for %s in %v", name, refs)
	return ref[strings.LastIndex(ref, "/")+1:]
}

// TestPipelineAcrossClouds runs the quickstart's shape on the real parts:
// datasets, the registry and serving on the Azure workspace (the contract
// server and Azurite), training on CoreWeave over the real kube-apiserver,
// the provider holding only its Role.
func TestPipelineAcrossClouds(t *testing.T) {
	accountURL := azurite(t)
	kube := kubetest.Start(t)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kube.InstallCRDs(t)
	ns := kube.Namespace(t, "e2e-pipeline")
	kube.BindRole(t, ns, coreweave.RoleYAML, kubetest.User)
	admin := kube.AdminConfig()
	adminKube, err := kubernetes.NewForConfig(admin)
	require.NoError(t, err)
	adminDyn, err := dynamic.NewForConfig(admin)
	require.NoError(t, err)
	cluster := &coreweavetest.Controller{Kube: adminKube, Dynamic: adminDyn, Namespace: ns}
	cw, err := coreweave.New(coreweave.Config{RESTConfig: kube.UserConfig(), Namespace: ns, Region: "EU-SOUTH-03"})
	require.NoError(t, err)
	cwUS, err := coreweave.New(coreweave.Config{RESTConfig: kube.UserConfig(), Namespace: ns, Region: "US-EAST-04"})
	require.NoError(t, err)

	ws := openWorkspace(t, ctx, accountURL, "westeurope")
	ctl, stop := context.WithCancel(ctx)
	defer stop()
	go provisionDeployments(ctl, ws.srv)

	g := newGovernance(t, ctx)
	c, err := mlops.NewClient(mlops.Providers{"azure": ws, "coreweave": cw, "coreweave-us": cwUS}, &mlops.ClientOptions{
		Principal: alice, Policy: bankPolicy(), Hooks: g.hooks(),
		PollInterval: 10 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond,
	})
	require.NoError(t, err)

	// 1. The restricted dataset in Blob Storage.
	rows := claimsCSV(2000)
	claims, err := c.CreateDataset(ctx, "claims", "", bytes.NewReader(rows), &mlops.CreateDatasetOptions{
		Location: westEurope, Classification: residency.Restricted,
	})
	require.NoError(t, err)

	// 2. Training on CoreWeave: denied in US-EAST-04, run in EU-SOUTH-03.
	spec := mlops.TrainJobSpec{
		Name: "fraud", Image: image,
		Command: []string{"python", "-m", "fraud.train"}, Args: []string{"--epochs", "3"},
		GPU:         mlops.GPURequest{Type: "H100", Count: 8},
		Inputs:      []mlops.JobInput{{Name: "claims", Dataset: claims.Ref()}},
		MaxDuration: 6 * time.Hour,
		Location:    mlops.Location{Provider: "coreweave-us", Region: "US-EAST-04"},
	}
	_, err = c.SubmitJob(ctx, spec)
	denied := requireDenied(t, g.errs, err, mlops.ActionJobSubmit)
	require.Contains(t, reasons(denied), "dataset azure/claims@1 is restricted")
	require.Contains(t, reasons(denied), "(rule restricted→EU/EEA)")
	require.Contains(t, reasons(denied), "region US-EAST-04 (coreweave-us) is in US")
	jobs, err := adminKube.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, jobs.Items, "a denied job reaches no cluster")

	spec.Location = mlops.Location{Provider: "coreweave", Region: "EU-SOUTH-03"}
	job, err := c.SubmitJob(ctx, spec)
	require.NoError(t, err)
	// What the cluster holds, read as its administrator: the read grant
	// is in the Job's Secret, and nowhere in the Job. (The provider does
	// not echo the grant in the job it returns, which the contract allows,
	// so the Secret is where the test finds it.)
	k8sJob, err := adminKube.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"gd-8xh100ib-i128"}, nodeInstanceTypes(k8sJob.Spec.Template.Spec.Affinity), "placed on H100 nodes")
	ctr := k8sJob.Spec.Template.Spec.Containers[0]
	gpus := ctr.Resources.Limits["nvidia.com/gpu"]
	require.Equal(t, "8", gpus.String(), "8 GPUs")
	var secretName, secretKey string
	for _, e := range ctr.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secretName, secretKey = e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key
		}
	}
	require.NotEmpty(t, secretName, "the grant reaches the container from a Secret: %+v", ctr.Env)
	sec, err := adminKube.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{})
	require.NoError(t, err)
	grant := secret.NewSecret(string(sec.Data[secretKey]))
	sas, err := url.Parse(grant.Reveal())
	require.NoError(t, err, "the Secret holds a URL")
	require.Equal(t, "/"+devAccount+"/"+ws.container+"/datasets/claims/1", sas.Path, "a grant for the dataset's version alone")
	require.Equal(t, "r", sas.Query().Get("sp"), "read-only")
	sig := sas.Query().Get("sig")
	require.NotEmpty(t, sig, "the Secret holds a SAS")
	expires, err := time.Parse(time.RFC3339, sas.Query().Get("se"))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(6*time.Hour), expires, time.Minute, "the grant expires with the job")
	rawJob, _ := json.Marshal(k8sJob)
	for _, form := range []string{sig, url.QueryEscape(sig)} {
		require.NotContains(t, string(rawJob), form, "the SAS is in the Job")
	}
	for _, e := range ctr.Env {
		require.NotContains(t, e.Value, sig, "the SAS is in the plain env %s", e.Name)
	}

	// The cluster plays its part: the container reads the data through
	// the SAS it was given, as a job in another cloud does, and finishes.
	require.NoError(t, cluster.StartJob(ctx, job.Name))
	got := readThroughGrant(t, ctx, grant.Reveal())
	require.Equal(t, rows, got, "the job reads the dataset through the grant")
	output := accountURL + "/models/fraud/" + job.Name + "/"
	require.NoError(t, cluster.CompleteJob(ctx, job.Name, output))
	require.NoError(t, job.Wait(ctx, nil))
	require.Equal(t, mlops.JobSucceeded, job.State)
	require.Equal(t, output, job.OutputURI)

	// 3 to 5. The model in the Azure registry, inheriting the EU
	// constraint through the CoreWeave job; approved and rolled out.
	mv, err := c.Models("azure").Register(ctx, "fraud", mlops.ModelSource{Job: job.ID},
		&mlops.RegisterOptions{Location: westEurope, Framework: "pytorch", Metrics: map[string]float64{"auc": 0.93}})
	require.NoError(t, err)
	require.Equal(t, "EU/EEA", mv.Constraint.String())
	require.Equal(t, "dataset azure/claims@1", mv.Origins[0].Artifact)
	require.Equal(t, alice.ID, mv.TrainedBy)
	ep := serveCanary(t, ctx, c, g, ws, claims, mv)

	// 6. Lineage across the clouds, audit, and no secret anywhere.
	requireImpact(t, ctx, g, claims, job, mv, ep)
	texts := g.finish(t, ctx)
	texts["errors"] = g.errs.text()
	values := map[string]string{"the account key": devKey, "the cluster user's token": kube.UserConfig().BearerToken, "the cluster administrator's token": admin.BearerToken}
	for k, v := range grantValues("the job's read grant", grant) {
		values[k] = v
	}
	for k, v := range tokenValues("Azure", ws.tokens.issued()) {
		values[k] = v
	}
	requireNoSecret(t, texts, values)
	t.Logf("the pipeline across Azure and CoreWeave took %s", time.Since(start).Round(time.Millisecond))
}

// readThroughGrant reads a blob with nothing but its SAS URL.
func readThroughGrant(t *testing.T, ctx context.Context, sasURL string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sasURL, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "reading through the grant")
	return b
}

// nodeInstanceTypes are the instance types a pod's required node affinity
// asks for.
func nodeInstanceTypes(a *corev1.Affinity) []string {
	var out []string
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if e.Key == "node.kubernetes.io/instance-type" {
				out = append(out, e.Values...)
			}
		}
	}
	return out
}
