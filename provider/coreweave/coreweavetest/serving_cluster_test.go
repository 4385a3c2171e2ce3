package coreweavetest_test

import (
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
)

// TestClusterActsLikeTheAPIServer checks the behaviour the serving code
// relies on and client-go's fake lacks: resourceVersions checked on update
// and delete, no new resourceVersion for an update that changes nothing,
// generation counting spec changes, status written only through its
// subresource, label selectors, and held deletes.
func TestClusterActsLikeTheAPIServer(t *testing.T) {
	ctx := t.Context()
	c := coreweavetest.NewServingCluster()
	isvcs := c.Dynamic().Resource(coreweave.InferenceServiceResource).Namespace("ns")
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
		"metadata": map[string]any{"name": "a", "labels": map[string]any{"team": "risk"}},
		"spec":     map[string]any{"predictor": map[string]any{"minReplicas": int64(1)}},
		"status":   map[string]any{"url": "http://ignored"},
	}}
	created, err := isvcs.Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.GetGeneration() != 1 || created.GetResourceVersion() == "" || created.Object["status"] != nil {
		t.Errorf("created: generation %d, resourceVersion %q, status %v; want 1, set, none", created.GetGeneration(), created.GetResourceVersion(), created.Object["status"])
	}
	if _, err := isvcs.Create(ctx, obj, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}

	same, err := isvcs.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil || same.GetResourceVersion() != created.GetResourceVersion() {
		t.Errorf("an update changing nothing: resourceVersion %q → %q, %v; want it kept", created.GetResourceVersion(), same.GetResourceVersion(), err)
	}
	changed := created.DeepCopy()
	_ = unstructured.SetNestedField(changed.Object, int64(2), "spec", "predictor", "minReplicas")
	changed.Object["status"] = map[string]any{"url": "http://ignored-too"}
	next, err := isvcs.Update(ctx, changed, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if next.GetGeneration() != 2 || next.GetResourceVersion() == created.GetResourceVersion() || next.Object["status"] != nil {
		t.Errorf("a spec change: generation %d, resourceVersion %q, status %v; want 2, new, none", next.GetGeneration(), next.GetResourceVersion(), next.Object["status"])
	}
	if _, err := isvcs.Update(ctx, changed, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("an update with a stale resourceVersion: %v, want Conflict", err)
	}

	withStatus := next.DeepCopy()
	withStatus.Object["status"] = map[string]any{"url": "http://a"}
	_ = unstructured.SetNestedField(withStatus.Object, int64(9), "spec", "predictor", "minReplicas")
	st, err := isvcs.UpdateStatus(ctx, withStatus, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if url, _, _ := unstructured.NestedString(st.Object, "status", "url"); url != "http://a" {
		t.Errorf("status url %q after UpdateStatus", url)
	}
	if n, _, _ := unstructured.NestedInt64(st.Object, "spec", "predictor", "minReplicas"); n != 2 || st.GetGeneration() != 2 {
		t.Errorf("UpdateStatus changed the spec: minReplicas %d generation %d", n, st.GetGeneration())
	}

	list, err := isvcs.List(ctx, metav1.ListOptions{LabelSelector: "team=other"})
	if err != nil || len(list.Items) != 0 {
		t.Errorf("list by another label: %d items, %v", len(list.Items), err)
	}
	list, err = isvcs.List(ctx, metav1.ListOptions{LabelSelector: "team=risk"})
	if err != nil || len(list.Items) != 1 {
		t.Errorf("list by label: %d items, %v", len(list.Items), err)
	}

	stale := created.GetResourceVersion()
	if err := isvcs.Delete(ctx, "a", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &stale}}); !apierrors.IsConflict(err) {
		t.Errorf("a delete with a stale precondition: %v, want Conflict", err)
	}
	c.DeferDeletes = true
	if err := isvcs.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	held, err := isvcs.Get(ctx, "a", metav1.GetOptions{})
	if err != nil || held.GetDeletionTimestamp() == nil {
		t.Errorf("a held delete: %v, deletionTimestamp %v; want the object, marked", err, held)
	}
	c.Settle()
	if _, err := isvcs.Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after Settle: %v, want NotFound", err)
	}
}
