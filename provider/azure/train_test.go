package azure

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/azure/azuretest"
	"github.com/tideline-ml/tideline/secret"
)

const (
	trackerKey = "trk-RECOGNISABLE-SECRET-5e1d"
	grantSig   = "sig-RECOGNISABLE-GRANT-77aa"
)

func trainSpec(name string) *provider.JobSpec {
	return &provider.JobSpec{
		Name: name, Region: "westeurope",
		Image:     "registry.example.com/train@sha256:" + strings.Repeat("ab", 32),
		Command:   []string{"python", "-m", "train"},
		Args:      []string{"--note", "it's here"},
		Env:       map[string]string{"SEED": "7"},
		SecretEnv: map[string]secret.Secret{"TRACKER_API_KEY": secret.NewSecret(trackerKey)},
		Nodes:     1,
		Inputs: []provider.JobInput{{
			Name: "train", URI: "https://other.blob.core.windows.net/data/datasets/claims/1", Digest: "sha256:00", Dataset: "claims", Version: "1",
			Grant: provider.Grant{URL: secret.NewSecret("https://other.blob.core.windows.net/data/datasets/claims/1?sp=r&sig=" + grantSig), Expires: time.Now().Add(time.Hour).UTC().Truncate(time.Second)},
		}},
		Metadata: map[string]string{"spec_digest": "sha256:one"},
	}
}

func (e *armEnv) countRoute(route string) int {
	n := 0
	for _, r := range e.srv.Requests() {
		if r.Route == route {
			n++
		}
	}
	return n
}

func TestSubmitLostResponseLeavesOneJob(t *testing.T) {
	e := newJobEnv(t, azuretest.Options{}, nil)
	e.srv.Inject("PUT jobs/{name}", 1, azuretest.Fault{Kind: azuretest.FaultLoseResponse})
	info, err := e.w.SubmitJob(t.Context(), trainSpec("lost-answer"))
	e.noToken(t, err)
	if err != nil {
		t.Fatalf("SubmitJob after a lost answer: %v; the retried PUT found the job this call created", err)
	}
	if info.Spec.Name != "lost-answer" || info.State != provider.JobQueued {
		t.Errorf("SubmitJob returned %s %s", info.Spec.Name, info.State)
	}
	if jobs := e.srv.List(azuretest.JobKind, ""); len(jobs) != 1 {
		t.Errorf("%d jobs on the server, want exactly one", len(jobs))
	}
	if n := e.countRoute("PUT jobs/{name}"); n != 2 {
		t.Errorf("%d PUTs, want the lost one and its retry", n)
	}
	// The job's claim lives beside the datasets, not among them.
	if ds, err := e.w.ListDatasets(t.Context(), ""); err != nil || len(ds) != 0 {
		t.Errorf("ListDatasets after a submit: %d datasets, %v; want none", len(ds), err)
	}
	if n := len(e.srv.List(azuretest.VaultKind, "")); n != 2 {
		t.Errorf("%d secrets in the key vault, want 2 (the secret env and the grant), none left over", n)
	}
}

func TestSubmitConcurrentSameNameOneJob(t *testing.T) {
	e := newJobEnv(t, azuretest.Options{}, nil)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			s := trainSpec("race")
			s.Metadata["spec_digest"] = "sha256:" + string(rune('a'+i))
			_, errs[i] = e.w.SubmitJob(t.Context(), s)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch provider.CodeOf(err) {
		case provider.OK:
			ok++
		case provider.AlreadyExists:
		default:
			t.Errorf("SubmitJob: %v, want OK or AlreadyExists", err)
		}
	}
	if ok != 1 || len(e.srv.List(azuretest.JobKind, "")) != 1 {
		t.Errorf("%d submits succeeded and %d jobs exist, want one of each", ok, len(e.srv.List(azuretest.JobKind, "")))
	}
	// The losers' secrets are gone: one job's two secrets remain.
	if got := len(e.srv.List(azuretest.VaultKind, "")); got != 2 {
		t.Errorf("%d secrets in the key vault, want the winner's 2", got)
	}
}

func TestSubmitExistingCostsOneCall(t *testing.T) {
	e := newJobEnv(t, azuretest.Options{}, nil)
	first, err := e.w.SubmitJob(t.Context(), trainSpec("twice"))
	if err != nil {
		t.Fatal(err)
	}
	before := len(e.srv.Requests())
	other := trainSpec("twice")
	other.Args = []string{"--other"}
	info, err := e.w.SubmitJob(t.Context(), other)
	if provider.CodeOf(err) != provider.AlreadyExists || info == nil || info.Spec.Args[0] != first.Spec.Args[0] {
		t.Fatalf("%v, %+v; want AlreadyExists with the first job", err, info)
	}
	if n := len(e.srv.Requests()) - before; n != 1 {
		t.Errorf("a submit of an existing name made %d calls, want 1 (the GET)", n)
	}
}

func TestSubmitFailureLeavesNothing(t *testing.T) {
	e := newJobEnv(t, azuretest.Options{}, nil)
	e.srv.Inject("PUT jobs/{name}", 10, azuretest.Fault{Kind: azuretest.FaultUnavailable})
	_, err := e.w.SubmitJob(t.Context(), trainSpec("refused"))
	e.noToken(t, err)
	if provider.CodeOf(err) != provider.Unavailable {
		t.Fatalf("%v, want Unavailable", err)
	}
	if strings.Contains(err.Error(), trackerKey) || strings.Contains(err.Error(), grantSig) {
		t.Errorf("the error %q holds a secret", err)
	}
	if len(e.srv.List(azuretest.JobKind, "")) != 0 || len(e.srv.List(azuretest.VaultKind, "")) != 0 {
		t.Errorf("after the failed submit: %d jobs and %d secrets, want none", len(e.srv.List(azuretest.JobKind, "")), len(e.srv.List(azuretest.VaultKind, "")))
	}
	if _, _, err := e.w.readBlob(t.Context(), jobClaimBlob("refused"), "test"); provider.CodeOf(err) != provider.NotFound {
		t.Errorf("the claim on the name after the failed submit: %v, want it released (NotFound)", err)
	}
	// The name is free at once: no wait for a stale claim.
	e.srv.ClearFaults("PUT jobs/{name}")
	start := time.Now()
	if _, err := e.w.SubmitJob(t.Context(), trainSpec("refused")); err != nil {
		t.Fatalf("the submit after the failed one: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the submit after the failed one took %v", d)
	}
}

// A submit whose PUT and the GET after it both failed does not know
// whether its job exists, and keeps its claim and secrets. Retried through
// the same Workspace once the service is back, it takes its own claim over
// at once rather than waiting for it to go stale, and the job is made once.
func TestSubmitRetryAfterUnknownOutcomeDoesNotWait(t *testing.T) {
	cut := &cutJobTransport{job: "unsettled"}
	e := newJobEnv(t, azuretest.Options{}, func(c *Config, _ *azuretest.Server) {
		cut.inner = c.ClientOptions.Transport
		c.ClientOptions.Transport = cut
	})
	cut.on.Store(true)
	_, err := e.w.SubmitJob(t.Context(), trainSpec("unsettled"))
	if provider.CodeOf(err) != provider.Unavailable {
		t.Fatalf("SubmitJob with the service gone: %v, want Unavailable", err)
	}
	if n := len(e.srv.List(azuretest.VaultKind, "")); n != 2 {
		t.Fatalf("%d secrets after the unknown outcome, want its 2 kept", n)
	}
	cut.on.Store(false)
	ctx, cancel := context.WithTimeout(t.Context(), jobClaimTTL/4)
	defer cancel()
	start := time.Now()
	if _, err := e.w.SubmitJob(ctx, trainSpec("unsettled")); err != nil {
		t.Fatalf("the retry once the service is back: %v (after %v)", err, time.Since(start))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the retry took %v; it waited for its own claim", d)
	}
	if n := len(e.srv.List(azuretest.JobKind, "")); n != 1 {
		t.Errorf("%d jobs, want 1", n)
	}
	if n := len(e.srv.List(azuretest.VaultKind, "")); n != 2 {
		t.Errorf("%d secrets, want the job's 2: the first submit's are deleted", n)
	}
}

// cutJobTransport, while on, fails every PUT of one job's resource and
// every GET of it after such a PUT, as a connection to a service that has
// gone away would.
type cutJobTransport struct {
	inner      policy.Transporter
	job        string
	on, sawPut atomic.Bool
}

func (c *cutJobTransport) Do(req *http.Request) (*http.Response, error) {
	if c.on.Load() && strings.Contains(req.URL.Path, "/workspaces/") && strings.HasSuffix(req.URL.Path, "/jobs/"+c.job) {
		switch {
		case req.Method == http.MethodPut:
			c.sawPut.Store(true)
			return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
		case req.Method == http.MethodGet && c.sawPut.Load():
			return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
		}
	}
	return c.inner.Do(req)
}

// writeClaim puts a claim on job's name as another submit would have,
// claimed at the given time.
func (e *armEnv) writeClaim(t *testing.T, job string, at time.Time) {
	t.Helper()
	b, _ := json.Marshal(jobClaim{Format: 1, Job: job, Submission: "other", Claimed: at})
	if _, err := e.w.writeBlob(t.Context(), jobClaimBlob(job), b, blobCond{absent: true}, "test"); err != nil {
		t.Fatal(err)
	}
}

// A claim whose submit died before its PUT holds the name for
// jobClaimTTL; after that the next submit takes it over.
func TestSubmitTakesOverAnAbandonedClaim(t *testing.T) {
	e := newJobEnv(t, azuretest.Options{}, nil)
	e.writeClaim(t, "abandoned", time.Now().Add(-jobClaimTTL-time.Minute))
	info, err := e.w.SubmitJob(t.Context(), trainSpec("abandoned"))
	if err != nil {
		t.Fatalf("SubmitJob over an abandoned claim: %v", err)
	}
	if info.State != provider.JobQueued || len(e.srv.List(azuretest.JobKind, "")) != 1 {
		t.Errorf("state %s, %d jobs; want one queued job", info.State, len(e.srv.List(azuretest.JobKind, "")))
	}
	b, _, err := e.w.readBlob(t.Context(), jobClaimBlob("abandoned"), "test")
	var c jobClaim
	if err != nil || json.Unmarshal(b, &c) != nil || c.Submission == "other" {
		t.Errorf("the claim after the takeover: %s %v; want this submit's", b, err)
	}
}

// A fresh claim without its job is another submit about to PUT: a submit
// of the same name waits for that job and creates none of its own.
func TestSubmitWaitsOnAFreshClaim(t *testing.T) {
	e := newJobEnv(t, azuretest.Options{}, nil)
	e.writeClaim(t, "claimed", time.Now())
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := e.w.SubmitJob(ctx, trainSpec("claimed"))
	if provider.CodeOf(err) != provider.DeadlineExceeded {
		t.Fatalf("SubmitJob while another holds a fresh claim: %v, want DeadlineExceeded after waiting", err)
	}
	if n, m := len(e.srv.List(azuretest.JobKind, "")), len(e.srv.List(azuretest.VaultKind, "")); n != 0 || m != 0 {
		t.Errorf("%d jobs and %d secrets, want none: the waiting submit wrote nothing", n, m)
	}
	if n := e.countRoute("PUT jobs/{name}"); n != 0 {
		t.Errorf("%d job PUTs, want none", n)
	}
}

func TestSubmitRefusesBeforeAnyCall(t *testing.T) {
	e := newJobEnv(t, azuretest.Options{}, nil)
	for _, tc := range []struct {
		name string
		edit func(*provider.JobSpec)
		want string
	}{
		{"Region", func(s *provider.JobSpec) { s.Region = "eastus" }, "Region"},
		{"NoCommand", func(s *provider.JobSpec) { s.Command = nil }, "Command"},
		{"EnvAndSecretEnv", func(s *provider.JobSpec) { s.Env["TRACKER_API_KEY"] = "x" }, "TRACKER_API_KEY"},
		{"InputURIWithQuery", func(s *provider.JobSpec) { s.Inputs[0].URI += "?sig=" + grantSig }, "URI"},
		{"InputName", func(s *provider.JobSpec) { s.Inputs[0].Name = "train-set" }, "input name"},
		{"Negative", func(s *provider.JobSpec) { s.Nodes = -1 }, "Nodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := trainSpec("bad-" + strings.ToLower(tc.name))
			tc.edit(s)
			_, err := e.w.SubmitJob(t.Context(), s)
			if provider.CodeOf(err) != provider.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want InvalidArgument naming %s", err, tc.want)
			}
			if strings.Contains(err.Error(), grantSig) || strings.Contains(err.Error(), trackerKey) {
				t.Errorf("the error %q holds a secret", err)
			}
		})
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d calls for refused specs, want none", n)
	}
	noVault := newJobEnv(t, azuretest.Options{}, func(c *Config, _ *azuretest.Server) { c.KeyVaultURL = "" })
	if _, err := noVault.w.SubmitJob(t.Context(), trainSpec("no-vault")); provider.CodeOf(err) != provider.InvalidArgument || !strings.Contains(err.Error(), "KeyVaultURL") {
		t.Errorf("secrets without a key vault: %v, want InvalidArgument naming Config.KeyVaultURL", err)
	}
	if n := len(noVault.srv.Requests()); n != 0 {
		t.Errorf("secrets without a key vault: %d calls before the refusal, want none", n)
	}
	noCompute := newJobEnv(t, azuretest.Options{}, func(c *Config, _ *azuretest.Server) { c.Compute = "" })
	if _, err := noCompute.w.SubmitJob(t.Context(), trainSpec("no-compute")); provider.CodeOf(err) != provider.InvalidArgument || !strings.Contains(err.Error(), "Config.Compute") {
		t.Errorf("without a compute: %v, want InvalidArgument naming Config.Compute", err)
	}
	gpus := newJobEnv(t, azuretest.Options{}, func(c *Config, _ *azuretest.Server) { c.GPUComputes = map[string]string{"A100": "a100-cluster"} })
	s := trainSpec("no-h100")
	s.GPUType = "H100"
	if _, err := gpus.w.SubmitJob(t.Context(), s); provider.CodeOf(err) != provider.InvalidArgument || !strings.Contains(err.Error(), "H100") {
		t.Errorf("a GPU type no compute has: %v, want InvalidArgument naming it", err)
	}
}

func TestJobDefinition(t *testing.T) {
	e := newJobEnv(t, azuretest.Options{}, func(c *Config, _ *azuretest.Server) {
		c.GPUComputes = map[string]string{"H100": "h100-cluster"}
	})
	s := trainSpec("multi-node")
	s.GPUType, s.GPUs, s.Nodes = "H100", 8, 4
	s.MaxDuration = 90 * time.Minute
	s.OutputURI = "azureml://datastores/workspaceblobstore/paths/out/"
	if _, err := e.w.SubmitJob(t.Context(), s); err != nil {
		t.Fatal(err, e.srv.Violations())
	}
	def, _ := e.srv.JobDefinition("multi-node")
	raw, _ := json.Marshal(def)
	if strings.Contains(string(raw), trackerKey) || strings.Contains(string(raw), grantSig) {
		t.Fatalf("the stored definition holds a secret: %s", raw)
	}
	var j armJob
	json.Unmarshal(raw, &j)
	p := j.Properties
	var refs map[string]string
	json.Unmarshal([]byte(p.EnvironmentVariables[SecretsEnvVar]), &refs)
	for _, c := range []struct{ what, got, want string }{
		{"computeId", p.ComputeID, e.w.arm.workspace + "/computes/h100-cluster"},
		{"command", p.Command, `python -m train --note 'it'"'"'s here'`},
		{"distribution", jsonOf(p.Distribution), `{"distributionType":"PyTorch","processCountPerInstance":8}`},
		{"resources", jsonOf(p.Resources), `{"instanceCount":4}`},
		{"limits", jsonOf(p.Limits), `{"jobLimitsType":"Command","timeout":"PT5400S"}`},
		{"input", jsonOf(p.Inputs["train"]), `{"jobInputType":"uri_file","uri":"https://other.blob.core.windows.net/data/datasets/claims/1","mode":"Direct"}`},
		{"output", jsonOf(p.Outputs["default"]), `{"jobOutputType":"uri_folder","uri":"azureml://datastores/workspaceblobstore/paths/out/","mode":"ReadWriteMount"}`},
		{"env", strings.Join(sortedKeysOf(p.EnvironmentVariables), ","), "SEED," + SecretsEnvVar},
		{"identity", jsonOf(p.Identity), `{"identityType":"Managed"}`},
		{"secret names", strings.Join(sortedKeysOf(refs), ","), "TIDELINE_GRANT_TRAIN,TRACKER_API_KEY"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.what, c.got, c.want)
		}
	}
	for env, uri := range refs {
		name := uri[strings.LastIndex(uri, "/")+1:]
		v, ok := e.srv.SecretValue(name)
		want := map[string]string{"TRACKER_API_KEY": trackerKey, "TIDELINE_GRANT_TRAIN": s.Inputs[0].Grant.URL.Reveal()}[env]
		if !ok || v != want {
			t.Errorf("secret of %s in the key vault: found %v, right value %v", env, ok, v == want)
		}
		wantExp := time.Time{}
		if env == "TIDELINE_GRANT_TRAIN" {
			wantExp = s.Inputs[0].Grant.Expires
		}
		if got := e.srv.SecretExpiry(name); !got.Equal(wantExp) {
			t.Errorf("secret of %s expires %v, want %v (a grant's secret lapses with the grant)", env, got, wantExp)
		}
	}
	if v := e.srv.Violations(); len(v) > 0 {
		t.Errorf("the request differs from Microsoft's example: %q", v)
	}
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

func sortedKeysOf[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func TestJobStatusMapping(t *testing.T) {
	e := newJobEnv(t, azuretest.Options{}, nil)
	for _, tc := range []struct {
		status  string
		started bool
		want    provider.JobState
	}{
		{"NotStarted", false, provider.JobQueued},
		{"Starting", false, provider.JobQueued},
		{"Provisioning", false, provider.JobQueued},
		{"Preparing", false, provider.JobQueued},
		{"Queued", false, provider.JobQueued},
		{"Running", true, provider.JobRunning},
		{"Finalizing", true, provider.JobRunning},
		{"CancelRequested", true, provider.JobRunning},
		{"CancelRequested", false, provider.JobQueued},
		{"NotResponding", true, provider.JobRunning},
		{"Paused", true, provider.JobRunning},
		{"Unknown", false, provider.JobQueued},
		{"Completed", true, provider.JobSucceeded},
		{"Failed", true, provider.JobFailed},
		{"Canceled", false, provider.JobCanceled},
		{"Hibernating", true, provider.JobRunning}, // not documented: tolerated
	} {
		name := "st-" + strings.ToLower(tc.status)
		if tc.started {
			name += "-s"
		}
		t.Run(name, func(t *testing.T) {
			if _, err := e.w.SubmitJob(t.Context(), trainSpec(name)); err != nil {
				t.Fatal(err)
			}
			if tc.started {
				if err := e.srv.StartJob(name); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.srv.SetJobStatus(name, tc.status); err != nil {
				t.Fatal(err)
			}
			info, err := e.w.GetJob(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			if info.State != tc.want {
				t.Errorf("status %s: state %s (%q), want %s", tc.status, info.State, info.Message, tc.want)
			}
			if tc.status == "Hibernating" && !strings.Contains(info.Message, "Hibernating") {
				t.Errorf("an unknown status gives the message %q, want it named", info.Message)
			}
		})
	}
}

func TestCancelFollowsOperation(t *testing.T) {
	for _, style := range []azuretest.LROStyle{azuretest.StyleLocation, azuretest.StyleAsyncOperation} {
		e := newJobEnv(t, azuretest.Options{OperationPolls: 3}, nil)
		e.srv.SetLROStyle("POST jobs/{name}/cancel", style)
		if _, err := e.w.SubmitJob(t.Context(), trainSpec("to-cancel")); err != nil {
			t.Fatal(err)
		}
		e.srv.StartJob("to-cancel")
		info, err := e.w.CancelJob(t.Context(), "to-cancel")
		if err != nil || info.State != provider.JobCanceled || info.Finished.IsZero() {
			t.Fatalf("style %d: CancelJob = %+v, %v; want Canceled with Finished, the operation followed to its end", style, info, err)
		}
		polls := 0
		for _, r := range e.srv.Requests() {
			if strings.Contains(r.Path, "/mfeOperation") {
				polls++
			}
		}
		if polls != 3 {
			t.Errorf("style %d: %d polls, want 3", style, polls)
		}
	}
}

func TestDeleteOperationFollowedToItsEnd(t *testing.T) {
	e := newJobEnv(t, azuretest.Options{OperationPolls: 2}, nil)
	if _, err := e.w.SubmitJob(t.Context(), trainSpec("to-delete")); err != nil {
		t.Fatal(err)
	}
	r, err := e.w.arm.deleteRef(t.Context(), armPath("jobs", "to-delete"))
	if err != nil || r.status != http.StatusAccepted {
		t.Fatalf("DELETE: %v %+v", err, r)
	}
	if _, ok := e.srv.JobStatus("to-delete"); !ok {
		t.Fatal("the job went before its operation ended")
	}
	if err := e.w.arm.wait(t.Context(), "deleting job to-delete", r); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.srv.JobStatus("to-delete"); ok {
		t.Error("the job is still there after its delete operation ended")
	}
	if _, err := e.w.GetJob(t.Context(), "to-delete"); provider.CodeOf(err) != provider.NotFound {
		t.Errorf("GetJob after the delete: %v, want NotFound", err)
	}
}

func TestCancelWithContextEndingDuringOperation(t *testing.T) {
	e := newJobEnv(t, azuretest.Options{HoldOperations: true}, nil)
	if _, err := e.w.SubmitJob(t.Context(), trainSpec("slow-cancel")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := e.w.CancelJob(ctx, "slow-cancel")
	if provider.CodeOf(err) != provider.DeadlineExceeded {
		t.Fatalf("%v, want DeadlineExceeded while the cancellation is still going", err)
	}
	e.noToken(t, err)
}

// Every answer to the PUT is lost, so the pipeline gives up with a broken
// connection; the job the first try created is this call's, and a GET
// says so.
func TestSubmitEveryAnswerLostFindsItsJob(t *testing.T) {
	e := newJobEnv(t, azuretest.Options{}, nil)
	e.srv.Inject("PUT jobs/{name}", 10, azuretest.Fault{Kind: azuretest.FaultLoseResponse})
	info, err := e.w.SubmitJob(t.Context(), trainSpec("all-lost"))
	if err != nil || info.Spec.Name != "all-lost" {
		t.Fatalf("SubmitJob = %v, %v; want the job its first try created", info, err)
	}
	if n := e.countRoute("PUT jobs/{name}"); n < 2 {
		t.Errorf("%d PUTs, want the pipeline's retries", n)
	}
	if len(e.srv.List(azuretest.JobKind, "")) != 1 || len(e.srv.List(azuretest.VaultKind, "")) != 2 {
		t.Errorf("%d jobs and %d secrets, want 1 and its 2", len(e.srv.List(azuretest.JobKind, "")), len(e.srv.List(azuretest.VaultKind, "")))
	}
}

func TestListJobsFollowsPagesInCreationOrder(t *testing.T) {
	e := newJobEnv(t, azuretest.Options{PageSize: 2}, nil)
	names := []string{"job-e", "job-d", "job-c", "job-b", "job-a"}
	for _, n := range names {
		if _, err := e.w.SubmitJob(t.Context(), trainSpec(n)); err != nil {
			t.Fatal(err)
		}
	}
	// The service lists in an order of its own: here the jobs' creation
	// times say job-a came first, though the server lists it last.
	base := time.Now().Add(-time.Hour)
	for i, n := range names {
		e.srv.Update(azuretest.JobKind, n, func(r *azuretest.Resource) {
			r.Body["systemData"].(map[string]any)["createdAt"] = base.Add(time.Duration(len(names)-i) * time.Minute).Format(time.RFC3339Nano)
		})
	}
	before := e.countRoute("GET jobs")
	list, err := e.w.ListJobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range list {
		got = append(got, j.Spec.Name)
	}
	if want := "job-a job-b job-c job-d job-e"; strings.Join(got, " ") != want {
		t.Errorf("ListJobs = %v, want creation order %s", got, want)
	}
	if n := e.countRoute("GET jobs") - before; n != 3 {
		t.Errorf("%d pages read, want 3 (5 jobs, 2 a page)", n)
	}
}
