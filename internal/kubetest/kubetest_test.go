package kubetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tideline-ml/tideline/internal/fixtures"
	"github.com/tideline-ml/tideline/internal/testenv"
)

// The resources of the CRDs, for the dynamic client.
var (
	pytorchJobs       = schema.GroupVersionResource{Group: "kubeflow.org", Version: "v1", Resource: "pytorchjobs"}
	trainJobs         = schema.GroupVersionResource{Group: "trainer.kubeflow.org", Version: "v1alpha1", Resource: "trainjobs"}
	inferenceServices = schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1beta1", Resource: "inferenceservices"}
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return c
}

func typed(t *testing.T, cfg *rest.Config) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func dyn(t *testing.T, cfg *rest.Config) *dynamic.DynamicClient {
	t.Helper()
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// obj decodes a JSON object for the dynamic client.
func obj(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal([]byte(s), &u.Object); err != nil {
		t.Fatalf("test object: %v", err)
	}
	return u
}

// job is a minimal valid batch/v1 Job.
func job(name string) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			BackoffLimit: i32(0),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "train", Image: "busybox", Command: []string{"true"}}},
			}},
		},
	}
}

const pytorchJobJSON = `{
  "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
  "metadata": {"name": "ddp"},
  "spec": {"pytorchReplicaSpecs": {
    "Master": {"replicas": 1, "restartPolicy": "OnFailure",
      "template": {"spec": {"containers": [{"name": "pytorch", "image": "trainer:1"}]}}},
    "Worker": {"replicas": 2, "restartPolicy": "OnFailure",
      "template": {"spec": {"containers": [{"name": "pytorch", "image": "trainer:1"}]}}}
  }}
}`

const trainJobJSON = `{
  "apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob",
  "metadata": {"name": "finetune"},
  "spec": {"runtimeRef": {"name": "torch-distributed"}, "trainer": {"numNodes": 2, "image": "trainer:1"}}
}`

const inferenceServiceJSON = `{
  "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
  "metadata": {"name": "sentiment"},
  "spec": {"predictor": {"canaryTrafficPercent": 10,
    "model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://models/sentiment/2"}}}
}`

func TestInstallCRDsEstablishesEach(t *testing.T) {
	env := Start(t)
	env.InstallCRDs(t)
	env.InstallCRDs(t) // the second call in a process does nothing

	// Installing again, as another test process sharing the server does,
	// meets AlreadyExists for every CRD and succeeds.
	if err := installCRDs(ctx(t), env.AdminConfig()); err != nil {
		t.Fatalf("installing the CRDs a second time: %v", err)
	}

	files, err := fs.Glob(fixtures.CRDs(), "*.json")
	if err != nil || len(files) != 3 {
		t.Fatalf("fixtures hold %d CRDs (%v), want 3", len(files), err)
	}
	d := dyn(t, env.AdminConfig())
	for _, f := range files {
		name := strings.TrimSuffix(f, ".json")
		group, plural, _ := strings.Cut(name, "_")
		crd, err := d.Resource(CRDResource).Get(ctx(t), plural+"."+group, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("CRD of %s: %v", f, err)
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		established := slices.ContainsFunc(conds, func(c any) bool {
			m := c.(map[string]any)
			return m["type"] == "Established" && m["status"] == "True"
		})
		if !established {
			t.Errorf("CRD %s is not established: %v", crd.GetName(), conds)
		}
	}
}

func TestServerAcceptsTheWorkloads(t *testing.T) {
	env := Start(t)
	env.InstallCRDs(t)
	ns := env.Namespace(t, t.Name())
	cfg := env.AdminConfig()

	if _, err := typed(t, cfg).BatchV1().Jobs(ns).Create(ctx(t), job("train"), metav1.CreateOptions{}); err != nil {
		t.Errorf("creating a batch/v1 Job: %v", err)
	}
	d := dyn(t, cfg)
	for _, tc := range []struct {
		gvr  schema.GroupVersionResource
		json string
	}{
		{pytorchJobs, pytorchJobJSON},
		{trainJobs, trainJobJSON},
		{inferenceServices, inferenceServiceJSON},
	} {
		got, err := d.Resource(tc.gvr).Namespace(ns).Create(ctx(t), obj(t, tc.json), metav1.CreateOptions{})
		if err != nil {
			t.Errorf("creating a %s: %v", tc.gvr.Resource, err)
			continue
		}
		if tc.gvr == inferenceServices {
			pct, ok, _ := unstructured.NestedInt64(got.Object, "spec", "predictor", "canaryTrafficPercent")
			if !ok || pct != 10 {
				t.Errorf("canaryTrafficPercent read back as %d (present %v), want 10", pct, ok)
			}
		}
		if tc.gvr == trainJobs {
			// The CRD's defaults apply: runtimeRef.kind and apiGroup.
			kind, _, _ := unstructured.NestedString(got.Object, "spec", "runtimeRef", "kind")
			if kind != "ClusterTrainingRuntime" {
				t.Errorf("TrainJob runtimeRef.kind = %q, want the CRD's default ClusterTrainingRuntime", kind)
			}
		}
	}
}

func TestServerValidatesAgainstTheSchemas(t *testing.T) {
	env := Start(t)
	env.InstallCRDs(t)
	ns := env.Namespace(t, t.Name())
	d := dyn(t, env.AdminConfig())

	for _, tc := range []struct {
		name string
		gvr  schema.GroupVersionResource
		json string
	}{
		{"canary percent not a number", inferenceServices,
			strings.Replace(inferenceServiceJSON, `"canaryTrafficPercent": 10`, `"canaryTrafficPercent": "ten"`, 1)},
		{"no predictor", inferenceServices,
			`{"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "x"}, "spec": {}}`},
		{"no replica specs", pytorchJobs,
			`{"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "metadata": {"name": "x"}, "spec": {}}`},
		{"no runtime", trainJobs,
			`{"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob", "metadata": {"name": "x"}, "spec": {}}`},
		{"name against the CEL rule", trainJobs, strings.Replace(trainJobJSON, `"finetune"`, `"fine.tune"`, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.Resource(tc.gvr).Namespace(ns).Create(ctx(t), obj(t, tc.json), metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Errorf("create = %v, want Invalid", err)
			}
		})
	}
}

func TestNobodyIsForbidden(t *testing.T) {
	env := Start(t)
	env.InstallCRDs(t)
	ns := env.Namespace(t, t.Name())
	for _, who := range []struct {
		name string
		cfg  *rest.Config
	}{
		{Nobody, env.NobodyConfig()},
		{User + " before a binding", env.UserConfig()},
	} {
		t.Run(who.name, func(t *testing.T) {
			_, err := typed(t, who.cfg).BatchV1().Jobs(ns).List(ctx(t), metav1.ListOptions{})
			if !apierrors.IsForbidden(err) {
				t.Errorf("listing Jobs = %v, want Forbidden", err)
			}
			_, err = dyn(t, who.cfg).Resource(inferenceServices).Namespace(ns).Create(ctx(t), obj(t, inferenceServiceJSON), metav1.CreateOptions{})
			if !apierrors.IsForbidden(err) {
				t.Errorf("creating an InferenceService = %v, want Forbidden", err)
			}
		})
	}
}

func TestWrongTokenIsUnauthorized(t *testing.T) {
	env := Start(t)
	cfg := env.NobodyConfig()
	cfg.BearerToken = "not-a-token-of-this-run"
	_, err := typed(t, cfg).CoreV1().Namespaces().List(ctx(t), metav1.ListOptions{})
	if !apierrors.IsUnauthorized(err) {
		t.Errorf("listing namespaces with an unknown token = %v, want Unauthorized", err)
	}
}

const roleYAML = `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: trainer
  namespace: somewhere-else
rules:
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["create", "get", "list"]
- apiGroups: ["serving.kserve.io"]
  resources: ["inferenceservices"]
  verbs: ["get"]
`

func TestBindRoleGrantsExactlyTheRole(t *testing.T) {
	env := Start(t)
	env.InstallCRDs(t)
	ns := env.Namespace(t, t.Name())
	other := env.Namespace(t, t.Name()+"-other")
	env.BindRole(t, ns, []byte(roleYAML), User)

	user := typed(t, env.UserConfig())
	jobs := user.BatchV1().Jobs(ns)
	if _, err := jobs.Create(ctx(t), job("allowed"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a Job as %s: %v", User, err)
	}
	if _, err := jobs.Get(ctx(t), "allowed", metav1.GetOptions{}); err != nil {
		t.Errorf("getting the Job: %v", err)
	}
	if _, err := jobs.List(ctx(t), metav1.ListOptions{}); err != nil {
		t.Errorf("listing Jobs: %v", err)
	}

	forbidden := map[string]error{}
	_, forbidden["get the Job's status"] = user.BatchV1().RESTClient().Get().Namespace(ns).Resource("jobs").Name("allowed").SubResource("status").Do(ctx(t)).Get()
	forbidden["delete the Job"] = jobs.Delete(ctx(t), "allowed", metav1.DeleteOptions{})
	_, forbidden["create a Job in another namespace"] = user.BatchV1().Jobs(other).Create(ctx(t), job("elsewhere"), metav1.CreateOptions{})
	_, forbidden["list Pods"] = user.CoreV1().Pods(ns).List(ctx(t), metav1.ListOptions{})
	_, forbidden["list InferenceServices"] = dyn(t, env.UserConfig()).Resource(inferenceServices).Namespace(ns).List(ctx(t), metav1.ListOptions{})
	_, forbidden["list Jobs as nobody"] = typed(t, env.NobodyConfig()).BatchV1().Jobs(ns).List(ctx(t), metav1.ListOptions{})
	for what, err := range forbidden {
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want Forbidden", what, err)
		}
	}

	// Exactly: what the user may do in the namespace is what Nobody may do
	// (RBAC's grants to every authenticated user) plus the Role's rules.
	rules := func(cfg *rest.Config) []string {
		r, err := typed(t, cfg).AuthorizationV1().SelfSubjectRulesReviews().Create(ctx(t),
			&authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: ns}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("reviewing rules: %v", err)
		}
		var out []string
		for _, rr := range r.Status.ResourceRules {
			for _, g := range rr.APIGroups {
				for _, res := range rr.Resources {
					for _, v := range rr.Verbs {
						out = append(out, fmt.Sprintf("%s/%s:%s", g, res, v))
					}
				}
			}
		}
		return out
	}
	base := rules(env.NobodyConfig())
	var extra []string
	for _, r := range rules(env.UserConfig()) {
		if !slices.Contains(base, r) {
			extra = append(extra, r)
		}
	}
	slices.Sort(extra)
	want := []string{"batch/jobs:create", "batch/jobs:get", "batch/jobs:list", "serving.kserve.io/inferenceservices:get"}
	if !slices.Equal(extra, want) {
		t.Errorf("the user's rules beyond nobody's = %v, want %v", extra, want)
	}
}

func TestBindRoleTakesEffectAtOnce(t *testing.T) {
	env := Start(t)
	// Each round binds a fresh Role and uses it on the next line: BindRole
	// must not return before the server applies the binding.
	for i := range 5 {
		ns := env.Namespace(t, fmt.Sprintf("%s-%d", t.Name(), i))
		env.BindRole(t, ns, []byte(`{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
			"metadata": {"name": "lister"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]}`), User)
		if _, err := typed(t, env.UserConfig()).CoreV1().ConfigMaps(ns).List(ctx(t), metav1.ListOptions{}); err != nil {
			t.Fatalf("round %d: listing ConfigMaps right after BindRole: %v", i, err)
		}
	}
}

func TestNamespaceIsDeletedAtCleanup(t *testing.T) {
	env := Start(t)
	var name string
	t.Run("inner", func(t *testing.T) {
		name = env.Namespace(t, "Inner/Test_Name")
		if !strings.HasPrefix(name, "inner-test-name-") {
			t.Errorf("namespace %q, want the prefix inner-test-name-", name)
		}
	})
	ns, err := typed(t, env.AdminConfig()).CoreV1().Namespaces().Get(ctx(t), name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		t.Fatal(err)
	case ns.DeletionTimestamp == nil:
		t.Errorf("namespace %s outlived its test without being deleted", name)
	}
}

// TestJobStatusAsTheController plays the Job controller, which this server
// does not run, through the status subresource: what the package doc says
// about status writes is checked here.
func TestJobStatusAsTheController(t *testing.T) {
	env := Start(t)
	ns := env.Namespace(t, t.Name())
	jobs := typed(t, env.AdminConfig()).BatchV1().Jobs(ns)
	j, err := jobs.Create(ctx(t), job("train"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	start := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	j.Status.StartTime = &start
	j.Status.Active = 1
	j.Status.Ready = i32(1)
	if j, err = jobs.UpdateStatus(ctx(t), j, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("running: %v", err)
	}

	now := metav1.NewTime(time.Now().Truncate(time.Second))
	complete := batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now, Reason: "Done"}
	met := batchv1.JobCondition{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now, Reason: batchv1.JobReasonCompletionsReached}

	// Complete alone, without SuccessCriteriaMet, is refused.
	bad := j.DeepCopy()
	bad.Status.Active, bad.Status.Ready, bad.Status.Succeeded = 0, i32(0), 1
	bad.Status.CompletionTime = &now
	bad.Status.Conditions = []batchv1.JobCondition{complete}
	_, err = jobs.UpdateStatus(ctx(t), bad, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("Complete without SuccessCriteriaMet = %v, want Invalid", err)
	}
	t.Logf("Complete without SuccessCriteriaMet: %v", err)

	// SuccessCriteriaMet first, while the pod still counts as active...
	j.Status.Conditions = []batchv1.JobCondition{met}
	if j, err = jobs.UpdateStatus(ctx(t), j, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("SuccessCriteriaMet: %v", err)
	}
	// ...then Complete with completionTime, nothing active, one succeeded.
	j.Status.Active, j.Status.Ready, j.Status.Succeeded = 0, i32(0), 1
	j.Status.CompletionTime = &now
	j.Status.Conditions = []batchv1.JobCondition{met, complete}
	if j, err = jobs.UpdateStatus(ctx(t), j, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if j.Status.CompletionTime == nil || j.Status.Succeeded != 1 || len(j.Status.Conditions) != 2 {
		t.Errorf("status after completion = %+v", j.Status)
	}
}

func TestStartWithoutTheServer(t *testing.T) {
	for _, name := range []string{URLEnv, CAFileEnv, AdminTokenEnv, UserTokenEnv, NobodyTokenEnv} {
		t.Setenv(name, "")
	}
	for _, tc := range []struct {
		integration string
		wantFailed  bool
	}{{"", false}, {"required", true}} {
		t.Run("TIDELINE_INTEGRATION="+tc.integration, func(t *testing.T) {
			t.Setenv("TIDELINE_INTEGRATION", tc.integration)
			out := runFake(t, func(tb testing.TB) { Start(tb) })
			if out.skipped == tc.wantFailed || out.failed != tc.wantFailed || !strings.Contains(out.msg, "make test") {
				t.Errorf("Start without the variables: %+v, want failed=%v and a message naming make test", out, tc.wantFailed)
			}
		})
	}
	t.Run("partly set", func(t *testing.T) {
		t.Setenv(URLEnv, "https://127.0.0.1:1")
		out := runFake(t, func(tb testing.TB) { Start(tb) })
		if !out.failed || !strings.Contains(out.msg, CAFileEnv) {
			t.Errorf("Start with only %s set: %+v, want a failure naming %s", URLEnv, out, CAFileEnv)
		}
	})
}

func TestParseRole(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, wantErr string
	}{
		{"misspelt key", strings.Replace(roleYAML, "verbs:", "verb:", 1), "unknown field"},
		{"cluster role", strings.Replace(roleYAML, "kind: Role", "kind: ClusterRole", 1), "kind Role"},
		{"no name", strings.Replace(roleYAML, "name: trainer", "", 1), "no metadata.name"},
		{"no rules", "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n", "no rules"},
		{"not YAML", "kind: [", "neither YAML nor JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseRole([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseRole = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
	r, err := parseRole([]byte(roleYAML))
	if err != nil || r.Name != "trainer" || len(r.Rules) != 2 {
		t.Errorf("parseRole(roleYAML) = %+v, %v", r, err)
	}
}

func TestNamePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"TestFoo/bar_baz":        "testfoo-bar-baz",
		"--x--":                  "x",
		"":                       "t",
		"9lives":                 "t9lives",
		strings.Repeat("a", 100): strings.Repeat("a", 40),
	} {
		if got := namePrefix(in); got != want {
			t.Errorf("namePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// outcome records how a function under test ended a fake test.
type outcome struct {
	skipped, failed bool
	msg             string
}

// fakeTB records a Skip or Fatal and ends only the goroutine runFake starts,
// as the testing package does.
type fakeTB struct {
	testing.TB
	out outcome
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.out = outcome{skipped: true, msg: fmt.Sprintf(format, args...)}
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.out = outcome{failed: true, msg: fmt.Sprintf(format, args...)}
	runtime.Goexit()
}

func runFake(t *testing.T, fn func(tb testing.TB)) outcome {
	t.Helper()
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.out
}

func i32(v int32) *int32 { return &v }

// TestCRDStatusAsTheControllers writes the status of each CRD as its
// operator would, and checks what the package doc says the schemas
// require.
func TestCRDStatusAsTheControllers(t *testing.T) {
	env := Start(t)
	env.InstallCRDs(t)
	ns := env.Namespace(t, t.Name())
	d := dyn(t, env.AdminConfig())
	now := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)

	// writeStatus replaces the status of cur and writes it through the
	// status subresource, returning the stored object (cur on failure).
	writeStatus := func(gvr schema.GroupVersionResource, cur *unstructured.Unstructured, status string) (*unstructured.Unstructured, error) {
		c := cur.DeepCopy()
		c.Object["status"] = obj(t, status).Object
		got, err := d.Resource(gvr).Namespace(ns).UpdateStatus(ctx(t), c, metav1.UpdateOptions{})
		if err != nil {
			return cur, err
		}
		return got, nil
	}
	create := func(gvr schema.GroupVersionResource, s string) *unstructured.Unstructured {
		u, err := d.Resource(gvr).Namespace(ns).Create(ctx(t), obj(t, s), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating a %s: %v", gvr.Resource, err)
		}
		return u
	}
	wantInvalid := func(what string, err error) {
		t.Helper()
		if !apierrors.IsInvalid(err) {
			t.Errorf("%s: %v, want Invalid", what, err)
		}
	}

	t.Run("PyTorchJob", func(t *testing.T) {
		pj := create(pytorchJobs, pytorchJobJSON)
		_, err := writeStatus(pytorchJobs, pj, `{"conditions": [{"type": "Running"}]}`)
		wantInvalid("a condition without status", err)
		_, err = writeStatus(pytorchJobs, pj, `{"startTime": "yesterday"}`)
		wantInvalid("a startTime that is no date-time", err)

		pj, err = writeStatus(pytorchJobs, pj, `{"startTime": "`+now+`",
			"conditions": [{"type": "Created", "status": "True", "reason": "PyTorchJobCreated", "lastTransitionTime": "`+now+`"},
			               {"type": "Running", "status": "True", "reason": "PyTorchJobRunning", "lastTransitionTime": "`+now+`"}],
			"replicaStatuses": {"Master": {"active": 1}, "Worker": {"active": 2}}}`)
		if err != nil {
			t.Fatalf("running: %v", err)
		}
		pj, err = writeStatus(pytorchJobs, pj, `{"startTime": "`+now+`", "completionTime": "`+now+`",
			"conditions": [{"type": "Created", "status": "True"}, {"type": "Running", "status": "False"},
			               {"type": "Succeeded", "status": "True", "reason": "PyTorchJobSucceeded", "message": "done"}],
			"replicaStatuses": {"Master": {"succeeded": 1}, "Worker": {"succeeded": 2}}}`)
		if err != nil {
			t.Fatalf("succeeded: %v", err)
		}
		if n, _, _ := unstructured.NestedInt64(pj.Object, "status", "replicaStatuses", "Worker", "succeeded"); n != 2 {
			t.Errorf("Worker succeeded read back as %d, want 2", n)
		}
		// Nothing keeps a finished job finished, and unknown fields go.
		pj, err = writeStatus(pytorchJobs, pj, `{"startTime": "`+now+`", "conditions": [{"type": "Running", "status": "True"}], "notInTheSchema": 1}`)
		if err != nil {
			t.Fatalf("running again after success: %v", err)
		}
		if _, found := pj.Object["status"].(map[string]any)["notInTheSchema"]; found {
			t.Errorf("an unknown status field was kept, want it pruned")
		}

		// A status in a plain Update is dropped.
		c := pj.DeepCopy()
		c.Object["status"] = obj(t, `{"startTime": "2020-01-01T00:00:00Z"}`).Object
		got, err := d.Resource(pytorchJobs).Namespace(ns).Update(ctx(t), c, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st, _, _ := unstructured.NestedString(got.Object, "status", "startTime"); st != now {
			t.Errorf("startTime after a plain Update = %q, want it unchanged (%s)", st, now)
		}
	})

	t.Run("TrainJob", func(t *testing.T) {
		tj := create(trainJobs, trainJobJSON)
		_, err := writeStatus(trainJobs, tj, `{"conditions": [{"type": "Complete", "status": "True"}]}`)
		wantInvalid("a condition without reason, message and lastTransitionTime", err)
		_, err = writeStatus(trainJobs, tj, `{"conditions": [{"type": "Complete", "status": "Yes", "reason": "JobsCompleted", "message": "done", "lastTransitionTime": "`+now+`"}]}`)
		wantInvalid("a condition status outside True, False, Unknown", err)
		tj, err = writeStatus(trainJobs, tj, `{
			"conditions": [{"type": "Complete", "status": "True", "reason": "JobsCompleted", "message": "done", "lastTransitionTime": "`+now+`"}],
			"jobsStatus": [{"name": "node", "active": 0, "ready": 0, "succeeded": 2, "failed": 0, "suspended": 0}]}`)
		if err != nil {
			t.Fatalf("complete: %v", err)
		}
		c := tj.DeepCopy()
		if err := unstructured.SetNestedField(c.Object, "other", "spec", "runtimeRef", "name"); err != nil {
			t.Fatal(err)
		}
		_, err = d.Resource(trainJobs).Namespace(ns).Update(ctx(t), c, metav1.UpdateOptions{})
		wantInvalid("changing spec.runtimeRef", err)
	})

	t.Run("InferenceService", func(t *testing.T) {
		is := create(inferenceServices, inferenceServiceJSON)
		_, err := writeStatus(inferenceServices, is, `{"address": {"url": 5}}`)
		wantInvalid("a numeric address.url", err)
		_, err = writeStatus(inferenceServices, is, `{"modelStatus": {"transitionStatus": "Sideways"}}`)
		wantInvalid("a transitionStatus outside the schema's values", err)

		is, err = writeStatus(inferenceServices, is, `{"url": "http://sentiment.example.com", "observedGeneration": 1,
			"conditions": [{"type": "PredictorReady", "status": "True"}, {"type": "Ready", "status": "True", "lastTransitionTime": "`+now+`"}],
			"components": {"predictor": {"url": "http://sentiment-predictor.example.com",
				"latestCreatedRevision": "sentiment-predictor-00002", "latestReadyRevision": "sentiment-predictor-00002",
				"previousRolledoutRevision": "sentiment-predictor-00001",
				"traffic": [{"revisionName": "sentiment-predictor-00002", "percent": 10, "latestRevision": true, "tag": "latest"},
				            {"revisionName": "sentiment-predictor-00001", "percent": 90, "tag": "prev"}]}},
			"modelStatus": {"states": {"activeModelState": "Loaded"}},
			"notInTheSchema": true}`)
		if err != nil {
			t.Fatalf("ready with a canary split: %v", err)
		}
		traffic, _, _ := unstructured.NestedSlice(is.Object, "status", "components", "predictor", "traffic")
		if len(traffic) != 2 || traffic[1].(map[string]any)["percent"] != int64(90) {
			t.Errorf("traffic read back as %v", traffic)
		}
		if ts, _, _ := unstructured.NestedString(is.Object, "status", "modelStatus", "transitionStatus"); ts != "UpToDate" {
			t.Errorf("transitionStatus = %q, want the schema's default UpToDate", ts)
		}
		if _, found := is.Object["status"].(map[string]any)["notInTheSchema"]; !found {
			t.Errorf("an unknown status field was pruned, want it kept (the schema preserves unknown fields)")
		}

		// Only the schema checks the spec: a canary share above 100 passes.
		c := is.DeepCopy()
		if err := unstructured.SetNestedField(c.Object, int64(150), "spec", "predictor", "canaryTrafficPercent"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Resource(inferenceServices).Namespace(ns).Update(ctx(t), c, metav1.UpdateOptions{}); err != nil {
			t.Errorf("canaryTrafficPercent 150: %v, want it accepted (no KServe webhook runs)", err)
		}
	})
}

// TestNothingActsOnObjects checks what the package doc says the server
// leaves undone without controllers and kubelets.
func TestNothingActsOnObjects(t *testing.T) {
	env := Start(t)
	ns := env.Namespace(t, t.Name())
	cs := typed(t, env.AdminConfig())

	pod, err := cs.CoreV1().Pods(ns).Create(ctx(t), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Spec.NodeName != "" || pod.Status.Phase != corev1.PodPending {
		t.Errorf("new Pod: node %q, phase %q; want none and Pending", pod.Spec.NodeName, pod.Status.Phase)
	}
	logs, err := cs.CoreV1().Pods(ns).GetLogs("p", &corev1.PodLogOptions{}).DoRaw(ctx(t))
	if err != nil || len(logs) != 0 {
		t.Errorf("log of an unscheduled Pod = %q, %v; want empty", logs, err)
	}

	jobs := cs.BatchV1().Jobs(ns)
	for _, tc := range []struct {
		policy  metav1.DeletionPropagation
		lingers bool
		jobName string
	}{
		{metav1.DeletePropagationForeground, true, "fg"},
		{metav1.DeletePropagationBackground, false, "bg"},
	} {
		if _, err := jobs.Create(ctx(t), job(tc.jobName), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := jobs.Delete(ctx(t), tc.jobName, metav1.DeleteOptions{PropagationPolicy: &tc.policy}); err != nil {
			t.Fatal(err)
		}
		got, err := jobs.Get(ctx(t), tc.jobName, metav1.GetOptions{})
		switch {
		case tc.lingers && err != nil:
			t.Errorf("after a %s delete: %v, want the Job kept with its finalizer", tc.policy, err)
		case tc.lingers && !slices.Contains(got.Finalizers, metav1.FinalizerDeleteDependents):
			t.Errorf("after a %s delete: finalizers %v, want %s", tc.policy, got.Finalizers, metav1.FinalizerDeleteDependents)
		case !tc.lingers && !apierrors.IsNotFound(err):
			t.Errorf("after a %s delete: %v, want NotFound", tc.policy, err)
		}
	}
}

// TestRepoRootPassesTheWrapperModules runs from inside the nested modules
// that build etcd and kube-apiserver: the repository root must still be
// the directory above them, not the wrapper module itself.
func TestRepoRootPassesTheWrapperModules(t *testing.T) {
	root := testenv.RepoRoot(t)
	for _, dir := range []string{"scripts/kube/apiserver", "scripts/kube/etcd"} {
		t.Run(dir, func(t *testing.T) {
			wrapper := filepath.Join(root, filepath.FromSlash(dir))
			if _, err := os.Stat(filepath.Join(wrapper, "go.mod")); err != nil {
				t.Fatalf("the wrapper module's go.mod: %v", err)
			}
			t.Chdir(wrapper)
			if got := testenv.RepoRoot(t); got != root {
				t.Errorf("RepoRoot from %s = %s, want %s", dir, got, root)
			}
		})
	}
}
