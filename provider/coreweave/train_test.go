package coreweave_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
	"github.com/tideline-ml/tideline/secret"
)

// env is one provider over a fake cluster, with the controller a test
// plays.
type env struct {
	t       *testing.T
	ctx     context.Context
	cluster *coreweavetest.Cluster
	ctl     *coreweavetest.Controller
	p       *coreweave.Provider
}

func newEnv(t *testing.T, kubeflow bool, adjust func(*coreweave.Config)) *env {
	t.Helper()
	c := coreweavetest.NewCluster(kubeflow)
	cfg := coreweave.Config{Clientset: c.Kube, Dynamic: c.Dynamic, Namespace: testNamespace, Region: testRegion}
	if adjust != nil {
		adjust(&cfg)
	}
	p, err := coreweave.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// The controller has clients of its own, so that the provider's
	// clients record the provider's requests alone.
	kube, dyn := c.Clients()
	return &env{t: t, ctx: t.Context(), cluster: c, p: p,
		ctl: &coreweavetest.Controller{Kube: kube, Dynamic: dyn, Namespace: testNamespace}}
}

const (
	trackerKey = "trk-0123456789abcdef"
	grantURL   = "https://store.example.com/claims/v1?sig=grant-0123456789abcdef"
)

func jobSpec(name string) *provider.JobSpec {
	return &provider.JobSpec{
		Name:      name,
		Region:    testRegion,
		Image:     "registry.example.com/train@sha256:" + strings.Repeat("ab", 32),
		Command:   []string{"python", "-m", "train"},
		Args:      []string{"--epochs", "3"},
		Env:       map[string]string{"SEED": "7"},
		SecretEnv: map[string]secret.Secret{"TRACKER_API_KEY": secret.NewSecret(trackerKey)},
		GPUType:   "H100",
		GPUs:      8,
		Nodes:     1,
		Inputs: []provider.JobInput{{
			Name: "train", URI: "https://store.example.com/claims/v1", Digest: "sha256:00", Dataset: "claims", Version: "v1",
			Grant: provider.Grant{URL: secret.NewSecret(grantURL), Expires: time.Now().Add(time.Hour).UTC().Truncate(time.Second)},
		}},
		MaxDuration: 90 * time.Minute,
		MaxRetries:  2,
		Metadata:    map[string]string{"spec_digest": "sha256:abc", "tideline_operation": "op-1"},
	}
}

func (e *env) jobs() []batchv1.Job {
	e.t.Helper()
	l, err := e.cluster.Kube.BatchV1().Jobs(testNamespace).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return l.Items
}

func (e *env) secrets() []corev1.Secret {
	e.t.Helper()
	l, err := e.cluster.Kube.CoreV1().Secrets(testNamespace).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return l.Items
}

// TestJobObject checks what SubmitJob writes: retries, deadline, GPUs and
// placement, the Secret reference, labels and annotations.
func TestJobObject(t *testing.T) {
	e := newEnv(t, false, nil)
	spec := jobSpec("train-shape")
	if _, err := e.p.SubmitJob(e.ctx, spec); err != nil {
		t.Fatal(err)
	}
	jobs := e.jobs()
	if len(jobs) != 1 {
		t.Fatalf("%d Jobs, want 1", len(jobs))
	}
	j := jobs[0]
	if *j.Spec.BackoffLimit != 2 || j.Spec.ActiveDeadlineSeconds == nil || *j.Spec.ActiveDeadlineSeconds != 5400 {
		t.Errorf("backoffLimit %d, activeDeadlineSeconds %v; want 2 and 5400", *j.Spec.BackoffLimit, j.Spec.ActiveDeadlineSeconds)
	}
	pod := j.Spec.Template.Spec
	c := pod.Containers[0]
	if q := c.Resources.Limits[coreweave.ResourceGPU]; q.Value() != 8 {
		t.Errorf("nvidia.com/gpu limit %v, want 8", q.String())
	}
	req := pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0]
	if req.Key != coreweave.LabelInstanceType || len(req.Values) != 1 || req.Values[0] != "gd-8xh100ib-i128" {
		t.Errorf("node affinity %s %v, want %s in [gd-8xh100ib-i128]", req.Key, req.Values, coreweave.LabelInstanceType)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the training pod mounts a service account token; it needs no API access")
	}
	refs := map[string]string{}
	for _, ev := range c.Env {
		if strings.Contains(ev.Value, trackerKey) || strings.Contains(ev.Value, "grant-0123456789abcdef") {
			t.Errorf("plain env %s holds a secret value", ev.Name)
		}
		if ev.ValueFrom != nil && ev.ValueFrom.SecretKeyRef != nil {
			refs[ev.Name] = ev.ValueFrom.SecretKeyRef.Name
		}
	}
	if refs["TRACKER_API_KEY"] == "" || refs["TIDELINE_INPUT_TRAIN_GRANT"] == "" {
		t.Errorf("secret env references %v, want TRACKER_API_KEY and TIDELINE_INPUT_TRAIN_GRANT from the job's Secret", refs)
	}
	secs := e.secrets()
	if len(secs) != 1 || secs[0].Name != refs["TRACKER_API_KEY"] {
		t.Fatalf("Secrets %v, want the one the Job refers to", secs)
	}
	if o := secs[0].OwnerReferences; len(o) != 1 || o[0].UID != j.UID || o[0].Kind != "Job" {
		t.Errorf("Secret owners %+v, want the Job (uid %s)", o, j.UID)
	}
	if j.Labels[coreweave.LabelRegion] != "US-EAST-04" || j.Labels[coreweave.LabelJob] != "train-shape" {
		t.Errorf("labels %v", j.Labels)
	}
	if j.Annotations[coreweave.MetadataPrefix+"tideline_operation"] != "op-1" || !strings.HasPrefix(j.Annotations[coreweave.AnnotationSpecHash], "sha256:") {
		t.Errorf("annotations %v lack the metadata or the spec hash", j.Annotations)
	}
	if strings.Contains(j.Annotations[coreweave.AnnotationSpec], trackerKey) {
		t.Error("the spec annotation holds a secret value")
	}
}

// TestLegacyGPUClass places by gpu.nvidia.com/class when configured.
func TestLegacyGPUClass(t *testing.T) {
	e := newEnv(t, false, func(c *coreweave.Config) { c.LegacyGPUClass = true })
	spec := jobSpec("train-legacy")
	spec.GPUType = "A100-80GB"
	if _, err := e.p.SubmitJob(e.ctx, spec); err != nil {
		t.Fatal(err)
	}
	req := e.jobs()[0].Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0]
	if req.Key != coreweave.LabelGPUClass || strings.Join(req.Values, ",") != "A100_NVLINK_80GB,A100_PCIE_80GB" {
		t.Errorf("node affinity %s %v, want gpu.nvidia.com/class in the A100 80 GB classes", req.Key, req.Values)
	}
}

// TestGPURequestTheRegionCannotMeet is InvalidArgument naming what the
// region offers, and creates nothing.
func TestGPURequestTheRegionCannotMeet(t *testing.T) {
	for _, tc := range []struct {
		name, gpu string
		gpus      int
		want      string
	}{
		{"NotOffered", "A40", 1, "offers H100, H200, GB200"},
		{"Unknown", "TPU-v5", 1, "offers H100, H200, GB200"},
		{"TooManyPerNode", "GB200", 8, "a GB200 node has 4"},
		{"Negative", "", -1, "cannot be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false, nil)
			spec := jobSpec("train-gpu")
			spec.GPUType, spec.GPUs = tc.gpu, tc.gpus
			_, err := e.p.SubmitJob(e.ctx, spec)
			wantCode(t, err, provider.InvalidArgument, "SubmitJob")
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if n := len(e.cluster.Kube.Actions()); n != 0 {
				t.Errorf("%d API calls made for a request refused up front", n)
			}
		})
	}
}

// TestConfiguredOffers: Config.GPUs narrows what the region offers.
func TestConfiguredOffers(t *testing.T) {
	e := newEnv(t, false, func(c *coreweave.Config) { c.GPUs = []string{"h200"} })
	_, err := e.p.SubmitJob(e.ctx, jobSpec("train-h100"))
	wantCode(t, err, provider.InvalidArgument, "SubmitJob of H100 where only H200 is offered")
	if !strings.Contains(err.Error(), "offers H200 (Config.GPUs)") {
		t.Errorf("error %q does not name the offer", err)
	}
	for _, bad := range []coreweave.Config{{GPUs: []string{"TPU"}}, {GPUs: []string{"A40"}}, {GPUs: []string{"H200"}, LegacyGPUClass: true}, {MultiNode: "MPIJob"}} {
		bad.Clientset, bad.Dynamic, bad.Namespace, bad.Region = e.cluster.Kube, e.cluster.Dynamic, testNamespace, testRegion
		_, err := coreweave.New(bad)
		wantCode(t, err, provider.InvalidArgument, "New with a bad GPU or multi-node setting")
	}
}

// TestConcurrentSubmitsMakeOneJob: eight submissions of one name at once
// leave one Job and one Secret.
func TestConcurrentSubmitsMakeOneJob(t *testing.T) {
	e := newEnv(t, false, nil)
	var wg sync.WaitGroup
	codes := make([]provider.Code, 8)
	for i := range codes {
		wg.Go(func() {
			_, err := e.p.SubmitJob(e.ctx, jobSpec("train-race"))
			codes[i] = provider.CodeOf(err)
		})
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case provider.OK:
			ok++
		case provider.AlreadyExists:
		default:
			t.Errorf("a submission failed with %v", c)
		}
	}
	if ok != 1 || len(e.jobs()) != 1 || len(e.secrets()) != 1 {
		t.Errorf("%d submissions won, %d Jobs and %d Secrets exist; want 1, 1, 1", ok, len(e.jobs()), len(e.secrets()))
	}
}

// connReset is what client-go returns when the connection drops.
var connReset = &url.Error{Op: "Post", URL: "https://cluster.example.com/apis/batch/v1/namespaces/tideline/jobs", Err: syscall.ECONNRESET}

// TestLostCreateResponseIsRecognised: the Job is created, the response is
// lost; SubmitJob recognises its own job, and a retry returns it with
// AlreadyExists and the same spec; one Job, one Secret.
func TestLostCreateResponseIsRecognised(t *testing.T) {
	e := newEnv(t, false, nil)
	dropped := 0
	e.cluster.Kube.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if dropped > 0 {
			return false, nil, nil
		}
		dropped++
		if _, _, err := e.cluster.KubeReaction(a); err != nil {
			return true, nil, err
		}
		return true, nil, connReset
	})
	spec := jobSpec("train-lost")
	info, err := e.p.SubmitJob(e.ctx, spec)
	if err != nil {
		t.Fatalf("SubmitJob whose response was lost: %v", err)
	}
	if info.Spec.Metadata["spec_digest"] != "sha256:abc" {
		t.Errorf("returned spec %+v", info.Spec)
	}
	again, err := e.p.SubmitJob(e.ctx, jobSpec("train-lost"))
	wantCode(t, err, provider.AlreadyExists, "the retried SubmitJob")
	if again == nil || !strings.Contains(err.Error(), "the same spec") {
		t.Errorf("retry returned %v, %v; want the job and a message saying it is the same spec", again, err)
	}
	if len(e.jobs()) != 1 || len(e.secrets()) != 1 {
		t.Errorf("%d Jobs, %d Secrets after a lost response and a retry; want 1 and 1", len(e.jobs()), len(e.secrets()))
	}
	if o := e.secrets()[0].OwnerReferences; len(o) != 1 || o[0].UID != e.jobs()[0].UID {
		t.Errorf("the Secret is not owned by the Job: %+v", o)
	}
}

// TestLostCreateWithoutJobLeavesNothing: the connection drops before the
// Job is created; SubmitJob says Unavailable and removes the Secret.
func TestLostCreateWithoutJobLeavesNothing(t *testing.T) {
	e := newEnv(t, false, nil)
	e.cluster.Kube.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, connReset
	})
	_, err := e.p.SubmitJob(e.ctx, jobSpec("train-dropped"))
	wantCode(t, err, provider.Unavailable, "SubmitJob over a dropped connection")
	if len(e.jobs()) != 0 || len(e.secrets()) != 0 {
		t.Errorf("%d Jobs, %d Secrets left; want none", len(e.jobs()), len(e.secrets()))
	}
	if strings.Contains(err.Error(), trackerKey) {
		t.Error("the error holds a secret value")
	}
}

// TestRefusedCreateRemovesSecret: the API server refuses the Job; the
// Secret made for it goes.
func TestRefusedCreateRemovesSecret(t *testing.T) {
	e := newEnv(t, false, nil)
	e.cluster.Kube.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInvalid(schema.GroupKind{Group: "batch", Kind: "Job"}, "train-refused", field.ErrorList{field.Invalid(field.NewPath("spec"), "x", "refused")})
	})
	_, err := e.p.SubmitJob(e.ctx, jobSpec("train-refused"))
	wantCode(t, err, provider.InvalidArgument, "SubmitJob refused by the API server")
	if len(e.secrets()) != 0 {
		t.Errorf("%d Secrets left after the Job was refused; want none", len(e.secrets()))
	}
}

// TestForbiddenIsPermissionDenied names the missing permission.
func TestForbiddenIsPermissionDenied(t *testing.T) {
	for _, tc := range []struct{ verb, resource, want string }{
		{"create", "jobs", `permission "create" on "jobs.batch" in namespace "tideline"`},
		{"create", "secrets", `permission "create" on "secrets" in namespace "tideline"`},
		{"patch", "secrets", `permission "patch" on "secrets" in namespace "tideline"`},
		{"get", "configmaps", `permission "get" on "configmaps" in namespace "tideline"`},
	} {
		t.Run(tc.verb+"-"+tc.resource, func(t *testing.T) {
			e := newEnv(t, false, nil)
			e.cluster.Kube.PrependReactor(tc.verb, tc.resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: tc.resource}, "x", errors.New(`User "ci" cannot `+tc.verb+` resource "`+tc.resource+`"`))
			})
			_, err := e.p.SubmitJob(e.ctx, jobSpec("train-forbidden"))
			wantCode(t, err, provider.PermissionDenied, "SubmitJob without "+tc.verb+" "+tc.resource)
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "RoleYAML") {
				t.Errorf("error %q does not say %s and where the Role is", err, tc.want)
			}
			if len(e.jobs()) != 0 || len(e.secrets()) != 0 {
				t.Errorf("%d Jobs, %d Secrets left after PermissionDenied; want none", len(e.jobs()), len(e.secrets()))
			}
		})
	}
}

// TestAnnotationLimits: metadata that cannot be an annotation, or a spec
// too big for the annotations, is InvalidArgument before anything is made.
func TestAnnotationLimits(t *testing.T) {
	big := jobSpec("train-big")
	big.Env["BLOB"] = strings.Repeat("x", 300<<10)
	badKey := jobSpec("train-badkey")
	badKey.Metadata["trailing_"] = "v"
	for name, spec := range map[string]*provider.JobSpec{"TooBig": big, "BadKey": badKey} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, false, nil)
			_, err := e.p.SubmitJob(e.ctx, spec)
			wantCode(t, err, provider.InvalidArgument, "SubmitJob")
			if n := len(e.cluster.Kube.Actions()); n != 0 {
				t.Errorf("%d API calls for a spec refused up front", n)
			}
		})
	}
}

// TestCancelHeldByFinalizer: a canceled job reads Canceled while the
// foregroundDeletion finalizer holds it, and from its record once the
// garbage collector has removed it with its pods and Secret; the name stays
// taken.
func TestCancelHeldByFinalizer(t *testing.T) {
	e := newEnv(t, false, nil)
	spec := jobSpec("train-cancel")
	if _, err := e.p.SubmitJob(e.ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := e.ctl.StartJob(e.ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	info, err := e.p.CancelJob(e.ctx, spec.Name)
	if err != nil || info.State != provider.JobCanceled {
		t.Fatalf("CancelJob = %v, %v; want Canceled", info, err)
	}
	j := e.jobs()
	if len(j) != 1 || j[0].DeletionTimestamp == nil {
		t.Fatalf("the Job is not held for foreground deletion: %d jobs", len(j))
	}
	held, err := e.p.GetJob(e.ctx, spec.Name)
	if err != nil || held.State != provider.JobCanceled || held.Finished.IsZero() {
		t.Errorf("GetJob while held = %v, %v; want Canceled with Finished", held, err)
	}
	if err := e.ctl.Settle(e.ctx); err != nil {
		t.Fatal(err)
	}
	if len(e.jobs()) != 0 || len(e.secrets()) != 0 {
		t.Fatalf("after the garbage collector: %d Jobs, %d Secrets; want none", len(e.jobs()), len(e.secrets()))
	}
	gone, err := e.p.GetJob(e.ctx, spec.Name)
	if err != nil || gone.State != provider.JobCanceled || gone.Attempts != 1 || gone.Spec.Metadata["spec_digest"] != "sha256:abc" {
		t.Fatalf("GetJob after deletion = %+v, %v; want Canceled after 1 attempt with its spec", gone, err)
	}
	_, err = e.p.SubmitJob(e.ctx, spec)
	wantCode(t, err, provider.AlreadyExists, "SubmitJob of a canceled job's name")
	if len(e.jobs()) != 0 {
		t.Errorf("resubmitting a canceled name left a Job")
	}
	list, err := e.p.ListJobs(e.ctx)
	if err != nil || len(list) != 1 || list[0].State != provider.JobCanceled {
		t.Errorf("ListJobs = %v, %v; want the canceled job once", list, err)
	}
}

// TestFailedJobSaysWhy: the termination message of the last failed run
// reaches JobInfo.Message, with retries counted.
func TestFailedJobSaysWhy(t *testing.T) {
	e := newEnv(t, false, nil)
	spec := jobSpec("train-fail")
	spec.MaxRetries = 1
	if _, err := e.p.SubmitJob(e.ctx, spec); err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"node lost", "CUDA out of memory"} {
		if err := e.ctl.StartJob(e.ctx, spec.Name); err != nil {
			t.Fatal(err)
		}
		if err := e.ctl.FailJob(e.ctx, spec.Name, msg); err != nil {
			t.Fatal(err)
		}
	}
	info, err := e.p.GetJob(e.ctx, spec.Name)
	if err != nil || info.State != provider.JobFailed || info.Attempts != 2 || !strings.Contains(info.Message, "CUDA out of memory") {
		t.Fatalf("GetJob = %+v, %v; want Failed after 2 attempts saying CUDA out of memory", info, err)
	}
}

// TestMultiNode: a two-node job is a PyTorchJob where the Training Operator
// is installed, a TrainJob where only Trainer is, and FailedPrecondition
// where neither is.
func TestMultiNode(t *testing.T) {
	spec := jobSpec("train-multi")
	spec.Nodes = 4
	e := newEnv(t, true, nil)
	if _, err := e.p.SubmitJob(e.ctx, spec); err != nil {
		t.Fatal(err)
	}
	u, err := e.cluster.Dynamic.Resource(coreweavetest.PyTorchJobs).Namespace(testNamespace).Get(e.ctx, spec.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("no PyTorchJob: %v", err)
	}
	workers, _, _ := unstructuredInt(u.Object, "spec", "pytorchReplicaSpecs", "Worker", "replicas")
	backoff, _, _ := unstructuredInt(u.Object, "spec", "runPolicy", "backoffLimit")
	if workers != 3 || backoff != 2 {
		t.Errorf("PyTorchJob workers %d, backoffLimit %d; want 3 and 2", workers, backoff)
	}

	tj := newEnv(t, true, func(c *coreweave.Config) { c.MultiNode = coreweave.MultiNodeTrainJob })
	_, err = tj.p.SubmitJob(tj.ctx, spec)
	wantCode(t, err, provider.InvalidArgument, "a TrainJob with MaxRetries")
	spec.MaxRetries = 0
	if _, err := tj.p.SubmitJob(tj.ctx, spec); err != nil {
		t.Fatal(err)
	}
	u, err = tj.cluster.Dynamic.Resource(coreweavetest.TrainJobs).Namespace(testNamespace).Get(tj.ctx, spec.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("no TrainJob: %v", err)
	}
	nodes, _, _ := unstructuredInt(u.Object, "spec", "trainer", "numNodes")
	if nodes != 4 {
		t.Errorf("TrainJob numNodes %d, want 4", nodes)
	}
	if err := tj.ctl.StartJob(tj.ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	if err := tj.ctl.CompleteJob(tj.ctx, spec.Name, "s3://out/x"); err != nil {
		t.Fatal(err)
	}
	info, err := tj.p.GetJob(tj.ctx, spec.Name)
	if err != nil || info.State != provider.JobSucceeded || info.OutputURI != "s3://out/x" {
		t.Errorf("the completed TrainJob reads %+v, %v", info, err)
	}

	plain := newEnv(t, false, nil)
	_, err = plain.p.SubmitJob(plain.ctx, spec)
	wantCode(t, err, provider.FailedPrecondition, "a multi-node job without Kubeflow")
	if len(plain.secrets()) != 0 {
		t.Error("a refused multi-node job left a Secret")
	}
}

func unstructuredInt(obj map[string]any, fields ...string) (int64, bool, error) {
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, false, nil
		}
		cur = m[f]
	}
	n, ok := cur.(int64)
	return n, ok, nil
}

// TestSpecHashIgnoresCredentials: a resubmission that differs only in its
// credentials (a new read grant expiring later, rotated secret values) is
// the same spec; one with other arguments is not.
func TestSpecHashIgnoresCredentials(t *testing.T) {
	e := newEnv(t, false, nil)
	if _, err := e.p.SubmitJob(e.ctx, jobSpec("train-hash")); err != nil {
		t.Fatal(err)
	}
	again := jobSpec("train-hash")
	again.Inputs[0].Grant = provider.Grant{URL: secret.NewSecret(grantURL + "-new"), Expires: again.Inputs[0].Grant.Expires.Add(time.Hour)}
	again.SecretEnv["TRACKER_API_KEY"] = secret.NewSecret("trk-rotated")
	_, err := e.p.SubmitJob(e.ctx, again)
	wantCode(t, err, provider.AlreadyExists, "resubmission with new credentials")
	if !strings.Contains(err.Error(), "the same spec") {
		t.Errorf("a resubmission with new credentials is reported as %q; want the same spec", err)
	}
	other := jobSpec("train-hash")
	other.Args = []string{"--epochs", "99"}
	_, err = e.p.SubmitJob(e.ctx, other)
	if !strings.Contains(err.Error(), "another spec") {
		t.Errorf("a resubmission with other arguments is reported as %q; want another spec", err)
	}
}

// TestNameIsUniqueAcrossKinds: a name held by a single-node Job is not
// given to a PyTorchJob; the existing job comes back with AlreadyExists
// and the PyTorchJob made for the check is gone.
func TestNameIsUniqueAcrossKinds(t *testing.T) {
	e := newEnv(t, true, nil)
	if _, err := e.p.SubmitJob(e.ctx, jobSpec("train-kinds")); err != nil {
		t.Fatal(err)
	}
	multi := jobSpec("train-kinds")
	multi.Nodes = 2
	info, err := e.p.SubmitJob(e.ctx, multi)
	wantCode(t, err, provider.AlreadyExists, "SubmitJob of a multi-node job under a single-node job's name")
	if info == nil || info.Spec.Nodes != 1 || !strings.Contains(err.Error(), "another spec") {
		t.Errorf("got %+v, %v; want the single-node job", info, err)
	}
	l, err := e.cluster.Dynamic.Resource(coreweavetest.PyTorchJobs).Namespace(testNamespace).List(e.ctx, metav1.ListOptions{})
	if err != nil || len(l.Items) != 0 || len(e.secrets()) != 1 {
		t.Errorf("%d PyTorchJobs and %d Secrets left; want none and the first job's one", len(l.Items), len(e.secrets()))
	}
}
