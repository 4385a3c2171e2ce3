package coreweave_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
)

type servingEnv struct {
	t       *testing.T
	ctx     context.Context
	p       *coreweave.Provider
	cluster *coreweavetest.ServingCluster
}

func newServingEnv(t *testing.T, cfg coreweave.ServingConfig) *servingEnv {
	t.Helper()
	c := coreweavetest.NewServingCluster()
	if cfg.ModelFormat == "" {
		cfg.ModelFormat = "sklearn"
	}
	p, err := coreweave.New(coreweave.Config{
		Clientset: kubefake.NewClientset(), Dynamic: c.Dynamic(),
		Namespace: servingNamespace, Region: servingRegion, Serving: cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &servingEnv{t: t, ctx: t.Context(), p: p, cluster: c}
}

func knative(t *testing.T) *servingEnv {
	return newServingEnv(t, coreweave.ServingConfig{Mode: coreweave.DeploymentModeKnative})
}

func (e *servingEnv) endpoint(name string) {
	e.t.Helper()
	if _, err := e.p.CreateEndpoint(e.ctx, &provider.EndpointSpec{Name: name, Metadata: map[string]string{"owner": "risk-team"}}); err != nil {
		e.t.Fatalf("CreateEndpoint(%s): %v", name, err)
	}
}

func (e *servingEnv) spec(ep, name string) *provider.DeploymentSpec {
	return &provider.DeploymentSpec{
		Endpoint: ep, Name: name, Model: "fraud", ModelVersion: "3",
		ArtifactURI:  "s3://models/fraud/" + name,
		InstanceType: "gd-8xh100ib-i128", Instances: 2,
		Metadata: map[string]string{"release": name},
	}
}

// deploy creates a deployment and marks it ready.
func (e *servingEnv) deploy(ep, name string) {
	e.t.Helper()
	if _, err := e.p.CreateDeployment(e.ctx, e.spec(ep, name)); err != nil {
		e.t.Fatalf("CreateDeployment(%s/%s): %v", ep, name, err)
	}
	e.ready(ep, name)
}

func (e *servingEnv) ready(ep, name string) {
	e.t.Helper()
	if err := coreweavetest.SetDeploymentReady(e.ctx, e.cluster.Dynamic(), servingNamespace, ep, name); err != nil {
		e.t.Fatalf("SetDeploymentReady(%s/%s): %v", ep, name, err)
	}
}

func (e *servingEnv) traffic(ep string, split map[string]int) *provider.EndpointInfo {
	e.t.Helper()
	info, err := e.p.UpdateEndpoint(e.ctx, &provider.EndpointUpdate{Endpoint: ep, Traffic: split})
	if err != nil {
		e.t.Fatalf("UpdateEndpoint(%s, %v): %v", ep, split, err)
	}
	return info
}

func (e *servingEnv) isvc(name string) *unstructured.Unstructured {
	return e.cluster.Object(coreweave.InferenceServiceResource, servingNamespace, name)
}

func (e *servingEnv) configMap(name string) *unstructured.Unstructured {
	return e.cluster.Object(coreweavetest.ConfigMapResource, servingNamespace, name)
}

// canary returns spec.predictor.canaryTrafficPercent of the endpoint's
// InferenceService, or -1 when it is not set.
func (e *servingEnv) canary(name string) int64 {
	e.t.Helper()
	obj := e.isvc(name)
	if obj == nil {
		e.t.Fatalf("no InferenceService %q", name)
	}
	v, ok, _ := unstructured.NestedInt64(obj.Object, "spec", "predictor", "canaryTrafficPercent")
	if !ok {
		return -1
	}
	return v
}

func (e *servingEnv) storageURI(name string) string {
	s, _, _ := unstructured.NestedString(e.isvc(name).Object, "spec", "predictor", "model", "storageUri")
	return s
}

func (e *servingEnv) state(ep, name string) *provider.DeploymentInfo {
	e.t.Helper()
	d, err := e.p.GetDeployment(e.ctx, ep, name)
	if err != nil {
		e.t.Fatalf("GetDeployment(%s/%s): %v", ep, name, err)
	}
	return d
}

func wantCode(t *testing.T, err error, want provider.Code, call string, words ...string) {
	t.Helper()
	if got := provider.CodeOf(err); got != want {
		t.Fatalf("%s: code %v (%v), want %v", call, got, err, want)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not say %q", call, err, w)
		}
	}
}

func sameTraffic(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestServingObjectsMatchCRD checks every InferenceService the provider
// writes, and the status coreweavetest writes for it, against the schema
// of KServe's CRD with unknown fields refused; and that the check catches
// a misspelt field.
func TestServingObjectsMatchCRD(t *testing.T) {
	e := newServingEnv(t, coreweave.ServingConfig{Mode: coreweave.DeploymentModeKnative, Runtime: "kserve-sklearnserver", GPUs: 1})
	check := func(step string) {
		t.Helper()
		if err := validateISVC(t, e.isvc("scoring")); err != nil {
			t.Errorf("after %s the InferenceService does not match the CRD: %v", step, err)
		}
	}
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	check("the first deployment")
	if _, err := e.p.CreateDeployment(e.ctx, e.spec("scoring", "green")); err != nil {
		t.Fatal(err)
	}
	check("the canary deployment")
	e.ready("scoring", "green")
	check("the canary became ready")
	e.traffic("scoring", map[string]int{"blue": 90, "green": 10})
	check("a 90/10 split")
	e.traffic("scoring", map[string]int{"green": 100})
	e.ready("scoring", "green")
	check("promoting the canary")
	if err := coreweavetest.SetDeploymentFailed(e.ctx, e.cluster.Dynamic(), servingNamespace, "scoring", "green", "out of memory"); err != nil {
		t.Fatal(err)
	}
	check("a failed load")

	std := newServingEnv(t, coreweave.ServingConfig{})
	std.endpoint("single")
	std.deploy("single", "blue")
	std.traffic("single", map[string]int{"blue": 100})
	if err := validateISVC(t, std.isvc("single")); err != nil {
		t.Errorf("a Standard-mode InferenceService does not match the CRD: %v", err)
	}

	bad := e.isvc("scoring")
	if err := unstructured.SetNestedField(bad.Object, int64(5), "spec", "predictor", "canaryTrafficPercnt"); err != nil {
		t.Fatal(err)
	}
	if err := validateISVC(t, bad); err == nil {
		t.Error("the schema check accepts spec.predictor.canaryTrafficPercnt; it would not catch a misspelt field")
	}
}

// TestInferenceServiceShape shows what a deployment becomes: the model
// format, storage URI, runtime, GPUs, instance type and instances in the
// predictor, the deployment mode annotation, and the name on the predictor
// that makes every deployment its own revision.
func TestInferenceServiceShape(t *testing.T) {
	e := newServingEnv(t, coreweave.ServingConfig{Mode: coreweave.DeploymentModeKnative, Runtime: "kserve-sklearnserver", GPUs: 2})
	e.endpoint("scoring")
	spec := e.spec("scoring", "blue")
	spec.Metadata[coreweave.MetaModelFormat] = "xgboost"
	if _, err := e.p.CreateDeployment(e.ctx, spec); err != nil {
		t.Fatal(err)
	}
	obj := e.isvc("scoring")
	str := func(path ...string) string {
		v, _, _ := unstructured.NestedFieldNoCopy(obj.Object, path...)
		return fmt.Sprint(v)
	}
	for path, want := range map[string]string{
		"spec.predictor.model.modelFormat.name":                                                        "xgboost",
		"spec.predictor.model.storageUri":                                                              "s3://models/fraud/blue",
		"spec.predictor.model.runtime":                                                                 "kserve-sklearnserver",
		"spec.predictor.model.resources.limits.nvidia\\.com/gpu":                                       "2",
		"spec.predictor.nodeSelector.node\\.kubernetes\\.io/instance-type":                             "gd-8xh100ib-i128",
		"spec.predictor.minReplicas":                                                                   "2",
		"spec.predictor.maxReplicas":                                                                   "2",
		"spec.predictor.annotations." + strings.ReplaceAll(coreweave.AnnotationDeployment, ".", "\\."): "blue",
		"metadata.annotations.serving\\.kserve\\.io/deploymentMode":                                    "Knative",
	} {
		var parts []string
		for _, p := range strings.Split(strings.ReplaceAll(path, "\\.", "\x00"), ".") {
			parts = append(parts, strings.ReplaceAll(p, "\x00", "."))
		}
		if got := str(parts...); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if e.configMap("scoring") != nil {
		t.Error("the empty endpoint's ConfigMap is still there after the first deployment")
	}
}

// TestCanaryIsTwoWay walks the canary: a new deployment is the latest
// revision with canaryTrafficPercent 0, a split is the canary's share,
// all traffic to the canary rolls it out (the field goes) and retires the
// previous deployment, which can then receive no traffic again.
func TestCanaryIsTwoWay(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	if got := e.canary("scoring"); got != -1 {
		t.Errorf("one deployment: canaryTrafficPercent = %d, want unset", got)
	}
	e.deploy("scoring", "green")
	if got := e.canary("scoring"); got != 0 {
		t.Errorf("a new deployment: canaryTrafficPercent = %d, want 0", got)
	}
	if got := e.storageURI("scoring"); got != "s3://models/fraud/green" {
		t.Errorf("spec.predictor serves %q, want the newest deployment's model", got)
	}
	info, err := e.p.GetEndpoint(e.ctx, "scoring")
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Traffic) != 0 {
		t.Errorf("before any traffic was assigned the endpoint reports %v, want none", info.Traffic)
	}
	for _, c := range []struct {
		split  map[string]int
		canary int64
	}{
		{map[string]int{"blue": 100}, 0},
		{map[string]int{"blue": 70, "green": 30}, 30},
		{map[string]int{"blue": 100, "green": 0}, 0}, // rollback
		{map[string]int{"blue": 1, "green": 99}, 99},
	} {
		info := e.traffic("scoring", c.split)
		if got := e.canary("scoring"); got != c.canary {
			t.Errorf("split %v: canaryTrafficPercent = %d, want %d", c.split, got, c.canary)
		}
		want := map[string]int{}
		for k, v := range c.split {
			if v > 0 {
				want[k] = v
			}
		}
		if !sameTraffic(info.Traffic, want) {
			t.Errorf("split %v: the endpoint reports %v", c.split, info.Traffic)
		}
	}
	e.traffic("scoring", map[string]int{"green": 100})
	if got := e.canary("scoring"); got != -1 {
		t.Errorf("after promoting: canaryTrafficPercent = %d, want unset (KServe rolls the latest out)", got)
	}
	if d := e.state("scoring", "blue"); !strings.Contains(d.Message, "no traffic") {
		t.Errorf("the retired deployment's message %q does not say it receives no traffic", d.Message)
	}
	_, err = e.p.CreateDeployment(e.ctx, e.spec("scoring", "purple"))
	wantCode(t, err, provider.FailedPrecondition, "a third deployment while the retired one is kept", "two revisions", "blue")
	if err := e.p.DeleteDeployment(e.ctx, "scoring", "blue"); err != nil {
		t.Fatalf("deleting the retired deployment: %v", err)
	}
	e.deploy("scoring", "purple")
	if got := e.canary("scoring"); got != 0 {
		t.Errorf("a canary after a promotion: canaryTrafficPercent = %d, want 0", got)
	}
	got, err := e.p.GetEndpoint(e.ctx, "scoring")
	if err != nil || !sameTraffic(got.Traffic, map[string]int{"green": 100}) {
		t.Errorf("after adding a canary to a promoted endpoint: traffic %v, %v; want green:100", got.Traffic, err)
	}
}

// TestTrafficBackToRetiredDeploymentSwapsSlots: after a promotion KServe
// no longer routes to the previous revision; a split giving that deployment
// traffic again (a rollback after the last step of a rollout) serves its
// predictor as the newest revision with its share as the canary, against the
// promoted one, which KServe keeps as rolled out.
func TestTrafficBackToRetiredDeploymentSwapsSlots(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	e.deploy("scoring", "green")
	e.traffic("scoring", map[string]int{"blue": 50, "green": 50})
	e.traffic("scoring", map[string]int{"green": 100})

	info := e.traffic("scoring", map[string]int{"blue": 10, "green": 90})
	if !sameTraffic(info.Traffic, map[string]int{"blue": 10, "green": 90}) {
		t.Errorf("traffic %v, want blue:10 green:90", info.Traffic)
	}
	if got := e.storageURI("scoring"); got != "s3://models/fraud/blue" {
		t.Errorf("spec.predictor serves %q, want blue's model back as the newest revision", got)
	}
	if got := e.canary("scoring"); got != 10 {
		t.Errorf("canaryTrafficPercent = %d, want blue's 10", got)
	}
	if d := e.state("scoring", "blue"); d.State != provider.DeploymentCreating {
		t.Errorf("blue is %s until KServe reports its new revision ready, want Creating", d.State)
	}
	e.ready("scoring", "blue")
	e.ready("scoring", "green")
	for _, n := range []string{"blue", "green"} {
		if d := e.state("scoring", n); d.State != provider.DeploymentReady {
			t.Errorf("%s is %s (%s), want Ready", n, d.State, d.Message)
		}
	}
	if err := validateISVC(t, e.isvc("scoring")); err != nil {
		t.Errorf("after the swap the InferenceService does not match the CRD: %v", err)
	}
	// The full rollback: all traffic to blue rolls it out, green retires.
	e.traffic("scoring", map[string]int{"blue": 100})
	if got := e.canary("scoring"); got != -1 {
		t.Errorf("canaryTrafficPercent = %d after promoting blue, want unset", got)
	}
	if err := e.p.DeleteDeployment(e.ctx, "scoring", "green"); err != nil {
		t.Fatalf("deleting the retired green: %v", err)
	}
	// All traffic straight back to a retired deployment: its predictor
	// comes back without a canary.
	e.deploy("scoring", "green")
	e.traffic("scoring", map[string]int{"green": 100})
	e.traffic("scoring", map[string]int{"blue": 100})
	if got, uri := e.canary("scoring"), e.storageURI("scoring"); got != -1 || uri != "s3://models/fraud/blue" {
		t.Errorf("all traffic back to retired blue: canaryTrafficPercent %d, predictor %q; want unset and blue's model", got, uri)
	}
	info, _ = e.p.GetEndpoint(e.ctx, "scoring")
	if !sameTraffic(info.Traffic, map[string]int{"blue": 100}) {
		t.Errorf("traffic %v, want blue:100", info.Traffic)
	}
	if d := e.state("scoring", "green"); !strings.Contains(d.Message, "no traffic") {
		t.Errorf("green, rolled back from, reads %q; want it retired", d.Message)
	}
}

// TestThirdDeploymentIsFailedPrecondition: a KServe InferenceService holds
// two revisions; the third is refused, says why, and writes nothing.
func TestThirdDeploymentIsFailedPrecondition(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	e.deploy("scoring", "green")
	rv := e.isvc("scoring").GetResourceVersion()
	_, err := e.p.CreateDeployment(e.ctx, e.spec("scoring", "purple"))
	wantCode(t, err, provider.FailedPrecondition, "CreateDeployment of a third", "two revisions", "blue, green", "delete one")
	if got := e.isvc("scoring").GetResourceVersion(); got != rv {
		t.Errorf("a refused deployment changed the InferenceService (resourceVersion %s → %s)", rv, got)
	}
}

// TestDeleteCanaryRestoresPrevious: deleting the latest deployment puts the
// previous one's predictor back in spec.predictor, without a canary, and
// that deployment waits for its new revision.
func TestDeleteCanaryRestoresPrevious(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	e.deploy("scoring", "green")
	e.traffic("scoring", map[string]int{"blue": 100})
	if err := e.p.DeleteDeployment(e.ctx, "scoring", "green"); err != nil {
		t.Fatal(err)
	}
	if got := e.storageURI("scoring"); got != "s3://models/fraud/blue" {
		t.Errorf("after deleting the canary spec.predictor serves %q, want blue's model", got)
	}
	if got := e.canary("scoring"); got != -1 {
		t.Errorf("after deleting the canary canaryTrafficPercent = %d, want unset", got)
	}
	if d := e.state("scoring", "blue"); d.State != provider.DeploymentCreating {
		t.Errorf("blue is %s right after its predictor came back, want %s until KServe reports the new revision ready", d.State, provider.DeploymentCreating)
	}
	e.ready("scoring", "blue")
	if d := e.state("scoring", "blue"); d.State != provider.DeploymentReady {
		t.Errorf("blue is %s (%s), want Ready", d.State, d.Message)
	}
	info, _ := e.p.GetEndpoint(e.ctx, "scoring")
	if !sameTraffic(info.Traffic, map[string]int{"blue": 100}) {
		t.Errorf("traffic %v, want blue:100", info.Traffic)
	}
}

// TestDeletePreviousBeforeTrafficRollsOutLatest: before traffic was ever
// assigned, the previous deployment has none by the contract, so it may go:
// the latest is rolled out.
func TestDeletePreviousBeforeTrafficRollsOutLatest(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	e.deploy("scoring", "green")
	if err := e.p.DeleteDeployment(e.ctx, "scoring", "blue"); err != nil {
		t.Fatal(err)
	}
	if got := e.canary("scoring"); got != -1 {
		t.Errorf("canaryTrafficPercent = %d, want unset", got)
	}
	if got := e.storageURI("scoring"); got != "s3://models/fraud/green" {
		t.Errorf("spec.predictor serves %q, want green's model", got)
	}
	list, err := e.p.ListDeployments(e.ctx, "scoring")
	if err != nil || len(list) != 1 || list[0].Name != "green" {
		t.Errorf("ListDeployments = %v, %v; want green alone", list, err)
	}
}

// TestLastDeploymentBackToConfigMap: deleting the only deployment (never
// given traffic) deletes the InferenceService and keeps the endpoint, with
// its metadata, as a ConfigMap.
func TestLastDeploymentBackToConfigMap(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	if _, err := e.p.UpdateEndpoint(e.ctx, &provider.EndpointUpdate{Endpoint: "scoring", Metadata: map[string]string{"stage": "canary"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.p.DeleteDeployment(e.ctx, "scoring", "blue"); err != nil {
		t.Fatal(err)
	}
	if e.isvc("scoring") != nil {
		t.Error("the InferenceService is still there")
	}
	if e.configMap("scoring") == nil {
		t.Fatal("no ConfigMap holds the empty endpoint")
	}
	info, err := e.p.GetEndpoint(e.ctx, "scoring")
	if err != nil {
		t.Fatal(err)
	}
	if info.Metadata["owner"] != "risk-team" || info.Metadata["stage"] != "canary" || len(info.Traffic) != 0 {
		t.Errorf("the emptied endpoint reads metadata %v traffic %v", info.Metadata, info.Traffic)
	}
	e.deploy("scoring", "green")
}

// TestDeleteDeploymentWithTrafficRefused covers what the suite cannot in
// Standard mode: the only deployment with all traffic cannot go.
func TestDeleteDeploymentWithTrafficRefused(t *testing.T) {
	e := newServingEnv(t, coreweave.ServingConfig{})
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	e.traffic("scoring", map[string]int{"blue": 100})
	wantCode(t, e.p.DeleteDeployment(e.ctx, "scoring", "blue"), provider.FailedPrecondition, "DeleteDeployment of the live deployment", "100%")
	if err := e.p.DeleteEndpoint(e.ctx, "scoring"); err != nil {
		t.Fatal(err)
	}
	if e.isvc("scoring") != nil || e.configMap("scoring") != nil {
		t.Error("DeleteEndpoint left an object behind")
	}
}

// TestStandardModeHoldsOneDeployment: in Standard (raw) mode KServe has no
// revisions and no canary; the provider says MaxDeployments 1, refuses a
// second deployment saying so, and never writes canaryTrafficPercent.
func TestStandardModeHoldsOneDeployment(t *testing.T) {
	e := newServingEnv(t, coreweave.ServingConfig{})
	if got := e.p.ServingCapabilities(); got != (provider.ServingCapabilities{MaxDeployments: 1}) {
		t.Errorf("ServingCapabilities() = %+v, want MaxDeployments 1 and no mirror", got)
	}
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	if m := e.isvc("scoring").GetAnnotations()["serving.kserve.io/deploymentMode"]; m != "Standard" {
		t.Errorf("deploymentMode annotation %q, want Standard", m)
	}
	_, err := e.p.CreateDeployment(e.ctx, e.spec("scoring", "green"))
	wantCode(t, err, provider.FailedPrecondition, "a second deployment in Standard mode", "Standard", "Knative")
	e.traffic("scoring", map[string]int{"blue": 100})
	if got := e.canary("scoring"); got != -1 {
		t.Errorf("Standard mode wrote canaryTrafficPercent %d", got)
	}
	if d := e.state("scoring", "blue"); d.State != provider.DeploymentReady {
		t.Errorf("blue is %s (%s), want Ready from the Standard-mode status", d.State, d.Message)
	}
	if got := (knative(t)).p.ServingCapabilities(); got != (provider.ServingCapabilities{MaxDeployments: 2}) {
		t.Errorf("Knative ServingCapabilities() = %+v, want MaxDeployments 2 and no mirror", got)
	}
}

// TestDeploymentStateFromStatus: Creating until KServe observed the
// generation and reports the predictor ready, Failed with KServe's reason
// when the model fails to load.
func TestDeploymentStateFromStatus(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	d, err := e.p.CreateDeployment(e.ctx, e.spec("scoring", "blue"))
	if err != nil {
		t.Fatal(err)
	}
	if d.State != provider.DeploymentCreating {
		t.Errorf("a new deployment is %s, want Creating", d.State)
	}
	if err := coreweavetest.SetDeploymentFailed(e.ctx, e.cluster.Dynamic(), servingNamespace, "scoring", "blue", "CUDA out of memory"); err != nil {
		t.Fatal(err)
	}
	got := e.state("scoring", "blue")
	if got.State != provider.DeploymentFailed || !strings.Contains(got.Message, "ModelLoadFailed") || !strings.Contains(got.Message, "CUDA out of memory") {
		t.Errorf("after a failed load: %s %q, want Failed with KServe's reason and message", got.State, got.Message)
	}
	e.ready("scoring", "blue")
	if got := e.state("scoring", "blue"); got.State != provider.DeploymentReady {
		t.Errorf("after the predictor became ready: %s %q", got.State, got.Message)
	}
	// A controller that has not yet seen the newest generation says nothing
	// about it.
	e.cluster.Mutate(coreweave.InferenceServiceResource, servingNamespace, "scoring", func(o *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(o.Object, int64(0), "status", "observedGeneration")
	})
	if got := e.state("scoring", "blue"); got.State != provider.DeploymentCreating {
		t.Errorf("with observedGeneration 0: %s, want Creating", got.State)
	}
}

// TestEveryUpdateChangesETag: the API server keeps the resourceVersion of
// an update that changes nothing, yet the contract wants a new ETag.
func TestEveryUpdateChangesETag(t *testing.T) {
	e := knative(t)
	e.endpoint("empty")
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	e.traffic("scoring", map[string]int{"blue": 100})
	for _, ep := range []string{"empty", "scoring"} {
		a, err := e.p.UpdateEndpoint(e.ctx, &provider.EndpointUpdate{Endpoint: ep})
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.p.UpdateEndpoint(e.ctx, &provider.EndpointUpdate{Endpoint: ep, IfMatch: a.ETag})
		if err != nil {
			t.Fatal(err)
		}
		if a.ETag == "" || a.ETag == b.ETag {
			t.Errorf("%s: two empty updates gave ETags %q and %q; each must change it", ep, a.ETag, b.ETag)
		}
	}
}

// TestIfMatchReachesTheAPIServer: the ETag the caller read goes out as
// metadata.resourceVersion, so a write that lands between the provider's
// read and its update is caught by the API server, not missed.
func TestIfMatchReachesTheAPIServer(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	e.deploy("scoring", "green")
	first := e.traffic("scoring", map[string]int{"blue": 100})
	var raced atomic.Bool
	e.cluster.Fake().PrependReactor("update", "inferenceservices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "" && raced.CompareAndSwap(false, true) {
			e.cluster.Mutate(coreweave.InferenceServiceResource, servingNamespace, "scoring", func(o *unstructured.Unstructured) {
				ann := o.GetAnnotations()
				ann["someone"] = "else"
				o.SetAnnotations(ann)
			})
		}
		return false, nil, nil
	})
	_, err := e.p.UpdateEndpoint(e.ctx, &provider.EndpointUpdate{Endpoint: "scoring", Traffic: map[string]int{"blue": 50, "green": 50}, IfMatch: first.ETag})
	wantCode(t, err, provider.Conflict, "UpdateEndpoint racing another writer", "read it again")
	if got := e.canary("scoring"); got != 0 {
		t.Errorf("the refused update wrote canaryTrafficPercent %d", got)
	}
	// Without IfMatch the same race is read again and retried.
	raced.Store(false)
	if _, err := e.p.UpdateEndpoint(e.ctx, &provider.EndpointUpdate{Endpoint: "scoring", Traffic: map[string]int{"blue": 50, "green": 50}}); err != nil {
		t.Fatalf("an unconditional update after a race: %v", err)
	}
	if got := e.canary("scoring"); got != 50 {
		t.Errorf("canaryTrafficPercent = %d, want 50", got)
	}
}

// TestServingErrors maps what the API server answers to the provider's
// codes: 429 and 5xx are Unavailable, 403 PermissionDenied naming the
// missing permission, a missing CRD FailedPrecondition saying to install
// KServe, and a failed write leaves nothing behind.
func TestServingErrors(t *testing.T) {
	gr := coreweave.InferenceServiceResource.GroupResource()
	for _, c := range []struct {
		name  string
		verb  string
		err   error
		code  provider.Code
		words []string
	}{
		{"TooManyRequests", "get", apierrors.NewTooManyRequests("slow down", 1), provider.Unavailable, nil},
		{"InternalError", "create", apierrors.NewInternalError(errors.New("etcd leader changed")), provider.Unavailable, []string{"creating InferenceService"}},
		{"ServiceUnavailable", "create", apierrors.NewServiceUnavailable("apiserver shutting down"), provider.Unavailable, nil},
		{"Forbidden", "create", apierrors.NewForbidden(gr, "scoring", errors.New(`User "ci" cannot create resource "inferenceservices" in API group "serving.kserve.io" in the namespace "serving"`)), provider.PermissionDenied,
			[]string{"cannot create resource", "inferenceservices"}},
		{"NoCRD", "get", apierrors.NewNotFound(schema.GroupResource{}, ""), provider.FailedPrecondition, []string{"install KServe"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := knative(t)
			e.endpoint("scoring")
			e.cluster.FailWith(func(a k8stesting.Action) error {
				if a.GetVerb() == c.verb && a.GetResource() == coreweave.InferenceServiceResource {
					return c.err
				}
				return nil
			})
			_, err := e.p.CreateDeployment(e.ctx, e.spec("scoring", "blue"))
			wantCode(t, err, c.code, "CreateDeployment", c.words...)
			e.cluster.FailWith(nil)
			if e.isvc("scoring") != nil {
				t.Error("a failed CreateDeployment left an InferenceService")
			}
			info, err := e.p.GetEndpoint(e.ctx, "scoring")
			if err != nil || info.Metadata["owner"] != "risk-team" {
				t.Errorf("after the failure the endpoint reads %v, %v", info, err)
			}
		})
	}
}

// TestConflictsAreRetriedWithoutIfMatch: a 409 from a controller's status
// write between read and update is read again and retried; with IfMatch it
// is the caller's Conflict.
func TestConflictsAreRetriedWithoutIfMatch(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	e.deploy("scoring", "green")
	var conflicts atomic.Int32
	e.cluster.Fake().PrependReactor("update", "inferenceservices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "" && conflicts.Add(1) <= 3 {
			return true, nil, apierrors.NewConflict(coreweave.InferenceServiceResource.GroupResource(), "scoring", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	info := e.traffic("scoring", map[string]int{"blue": 80, "green": 20})
	if !sameTraffic(info.Traffic, map[string]int{"blue": 80, "green": 20}) {
		t.Errorf("traffic %v after retries", info.Traffic)
	}
	conflicts.Store(0)
	_, err := e.p.UpdateEndpoint(e.ctx, &provider.EndpointUpdate{Endpoint: "scoring", Traffic: map[string]int{"blue": 50, "green": 50}, IfMatch: info.ETag})
	wantCode(t, err, provider.Conflict, "a conditional update meeting 409")
	if n := conflicts.Load(); n != 1 {
		t.Errorf("a conditional update was tried %d times, want once", n)
	}
}

// TestFirstDeploymentKeepsMetadataWrittenMeanwhile: metadata written to the
// empty endpoint's ConfigMap after CreateDeployment read it is carried into
// the InferenceService before the ConfigMap goes.
func TestFirstDeploymentKeepsMetadataWrittenMeanwhile(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	var once atomic.Bool
	e.cluster.Fake().PrependReactor("create", "inferenceservices", func(k8stesting.Action) (bool, runtime.Object, error) {
		if once.CompareAndSwap(false, true) {
			e.cluster.Mutate(coreweavetest.ConfigMapResource, servingNamespace, "scoring", func(o *unstructured.Unstructured) {
				ann := o.GetAnnotations()
				ann[coreweave.AnnotationMetadata] = `{"owner":"risk-team","stage":"late"}`
				o.SetAnnotations(ann)
			})
		}
		return false, nil, nil
	})
	e.deploy("scoring", "blue")
	info, err := e.p.GetEndpoint(e.ctx, "scoring")
	if err != nil {
		t.Fatal(err)
	}
	if info.Metadata["stage"] != "late" {
		t.Errorf("metadata %v lost the value written while the InferenceService was created", info.Metadata)
	}
	if e.configMap("scoring") != nil {
		t.Error("the ConfigMap is still there")
	}
}

// TestCorruptAnnotationIsDataLoss: annotations changed by hand into
// something that does not parse are never guessed at.
func TestCorruptAnnotationIsDataLoss(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	e.cluster.Mutate(coreweave.InferenceServiceResource, servingNamespace, "scoring", func(o *unstructured.Unstructured) {
		ann := o.GetAnnotations()
		ann[coreweave.AnnotationDeployments] = "{not json"
		o.SetAnnotations(ann)
	})
	_, err := e.p.GetEndpoint(e.ctx, "scoring")
	wantCode(t, err, provider.DataLoss, "GetEndpoint", coreweave.AnnotationDeployments)
	_, err = e.p.UpdateEndpoint(e.ctx, &provider.EndpointUpdate{Endpoint: "scoring", Traffic: map[string]int{"blue": 100}})
	wantCode(t, err, provider.DataLoss, "UpdateEndpoint")
}

// TestForeignObjectsAreNotEndpoints: InferenceServices and ConfigMaps
// without the provider's label are neither listed nor read, and their
// names are taken.
func TestForeignObjectsAreNotEndpoints(t *testing.T) {
	e := knative(t)
	foreign := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
		"metadata": map[string]any{"name": "theirs", "namespace": servingNamespace},
		"spec":     map[string]any{"predictor": map[string]any{"model": map[string]any{"modelFormat": map[string]any{"name": "onnx"}}}},
	}}
	if _, err := e.cluster.Dynamic().Resource(coreweave.InferenceServiceResource).Namespace(servingNamespace).Create(e.ctx, foreign, metav1CreateOptions()); err != nil {
		t.Fatal(err)
	}
	_, err := e.p.GetEndpoint(e.ctx, "theirs")
	wantCode(t, err, provider.NotFound, "GetEndpoint of a foreign InferenceService")
	_, err = e.p.CreateEndpoint(e.ctx, &provider.EndpointSpec{Name: "theirs"})
	wantCode(t, err, provider.AlreadyExists, "CreateEndpoint over a foreign InferenceService")
	list, err := e.p.ListEndpoints(e.ctx)
	if err != nil || len(list) != 0 {
		t.Errorf("ListEndpoints = %d entries, %v; want none", len(list), err)
	}
}

// TestServingConfigChecked: New refuses a mode it does not know, and a
// deployment without a model format says where to set one.
func TestServingConfigChecked(t *testing.T) {
	_, err := coreweave.New(coreweave.Config{
		Clientset: kubefake.NewClientset(), Dynamic: coreweavetest.NewServingCluster().Dynamic(),
		Namespace: servingNamespace, Region: servingRegion, Serving: coreweave.ServingConfig{Mode: "Serverless"},
	})
	wantCode(t, err, provider.InvalidArgument, "New with mode Serverless", "Standard", "Knative")
	c := coreweavetest.NewServingCluster()
	p, err := coreweave.New(coreweave.Config{Clientset: kubefake.NewClientset(), Dynamic: c.Dynamic(), Namespace: servingNamespace, Region: servingRegion})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateEndpoint(t.Context(), &provider.EndpointSpec{Name: "scoring"}); err != nil {
		t.Fatal(err)
	}
	_, err = p.CreateDeployment(t.Context(), &provider.DeploymentSpec{Endpoint: "scoring", Name: "blue", Model: "fraud", ModelVersion: "1", ArtifactURI: "s3://m/1"})
	wantCode(t, err, provider.InvalidArgument, "CreateDeployment without a model format", coreweave.MetaModelFormat, "ModelFormat")
}

// TestDeploymentsRecordedInAnnotation shows the annotation other tools
// (and coreweavetest) read: both slots, named.
func TestDeploymentsRecordedInAnnotation(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	e.deploy("scoring", "green")
	var slots coreweave.Slots
	if err := json.Unmarshal([]byte(e.isvc("scoring").GetAnnotations()[coreweave.AnnotationDeployments]), &slots); err != nil {
		t.Fatal(err)
	}
	if slots.Previous == nil || slots.Previous.Name != "blue" || slots.Latest == nil || slots.Latest.Name != "green" || slots.Latest.Generation != 2 {
		t.Errorf("slots = %+v %+v, want previous blue and latest green at generation 2", slots.Previous, slots.Latest)
	}
}

func metav1CreateOptions() metav1.CreateOptions { return metav1.CreateOptions{} }

// TestListEndpointsDuringFirstDeployment: an endpoint that gets its first
// deployment while ListEndpoints runs (its InferenceService created, then
// its ConfigMap deleted, between the two lists) is still listed.
func TestListEndpointsDuringFirstDeployment(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	e.endpoint("other")
	e.deploy("other", "blue")
	isvc := e.isvc("other").DeepCopy()
	isvc.SetName("scoring")
	var lists atomic.Int32
	e.cluster.Fake().PrependReactor("list", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		if lists.Add(1) == 2 {
			// Between the two lists of ListEndpoints.
			e.cluster.Put(coreweave.InferenceServiceResource, isvc)
			e.cluster.Remove(coreweavetest.ConfigMapResource, servingNamespace, "scoring")
		}
		return false, nil, nil
	})
	list, err := e.p.ListEndpoints(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ep := range list {
		names = append(names, ep.Name)
	}
	if strings.Join(names, ",") != "other,scoring" {
		t.Errorf("ListEndpoints = %v, want other and scoring", names)
	}
}

// TestDeleteEndpointForeground: the InferenceService is deleted with
// foreground propagation, and while KServe's finalizer holds it the
// endpoint is still read and listed, and refuses new deployments saying it
// is being deleted.
func TestDeleteEndpointForeground(t *testing.T) {
	e := knative(t)
	e.cluster.DeferDeletes = true
	e.endpoint("scoring")
	e.deploy("scoring", "blue")
	if err := e.p.DeleteEndpoint(e.ctx, "scoring"); err != nil {
		t.Fatal(err)
	}
	var policy string
	for _, a := range e.cluster.Fake().Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource() == coreweave.InferenceServiceResource {
			if pp := d.GetDeleteOptions().PropagationPolicy; pp != nil {
				policy = string(*pp)
			}
		}
	}
	if policy != "Foreground" {
		t.Errorf("the InferenceService was deleted with propagation %q, want Foreground", policy)
	}
	if _, err := e.p.GetDeployment(e.ctx, "scoring", "blue"); err != nil {
		t.Errorf("while the delete is held, GetDeployment: %v; the contract lets it be found until the delete finishes", err)
	}
	_, err := e.p.CreateDeployment(e.ctx, e.spec("scoring", "green"))
	wantCode(t, err, provider.FailedPrecondition, "CreateDeployment on an endpoint being deleted", "being deleted")
	e.cluster.Settle()
	_, err = e.p.GetEndpoint(e.ctx, "scoring")
	wantCode(t, err, provider.NotFound, "GetEndpoint after the delete finished")
}

// TestConcurrentFirstDeployments: deployments created at once on an empty
// endpoint race to create its InferenceService; the losers read it again,
// so exactly MaxDeployments of them succeed and the rest are refused as
// over the limit, none half-made.
func TestConcurrentFirstDeployments(t *testing.T) {
	for _, mode := range []coreweave.DeploymentMode{coreweave.DeploymentModeKnative, coreweave.DeploymentModeStandard} {
		t.Run(string(mode), func(t *testing.T) {
			e := newServingEnv(t, coreweave.ServingConfig{Mode: mode})
			e.endpoint("scoring")
			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					_, errs[i] = e.p.CreateDeployment(e.ctx, e.spec("scoring", fmt.Sprintf("rev-%d", i)))
				})
			}
			wg.Wait()
			ok := 0
			for i, err := range errs {
				switch provider.CodeOf(err) {
				case provider.OK:
					ok++
				case provider.FailedPrecondition:
				default:
					t.Errorf("CreateDeployment rev-%d: %v", i, err)
				}
			}
			limit := e.p.ServingCapabilities().MaxDeployments
			list, err := e.p.ListDeployments(e.ctx, "scoring")
			if err != nil || ok != limit || len(list) != limit {
				t.Errorf("%d succeeded and %d are listed (%v), want %d", ok, len(list), err, limit)
			}
			if e.configMap("scoring") != nil {
				t.Error("the empty endpoint's ConfigMap survived its first deployment")
			}
		})
	}
}
