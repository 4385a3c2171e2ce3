package coreweavetest_test

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
)

func newJob(name string) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "train", Image: "registry.example.com/train:1"}},
		}}},
	}
}

// TestClusterBehavesLikeAnAPIServer: versions, conflicts, status rules,
// foreground deletion and expired watches.
func TestClusterBehavesLikeAnAPIServer(t *testing.T) {
	ctx := context.Background()
	c := coreweavetest.NewCluster(false)
	jobs := c.Kube.BatchV1().Jobs("ns")
	j, err := jobs.Create(ctx, newJob("a"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.ResourceVersion == "" || j.UID == "" || j.CreationTimestamp.IsZero() {
		t.Fatalf("created job lacks a version, uid or creation time: %+v", j.ObjectMeta)
	}
	if _, err := jobs.Create(ctx, newJob("a"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("a second create = %v, want AlreadyExists", err)
	}
	stale := j.DeepCopy()
	j.Labels = map[string]string{"x": "1"}
	if j, err = jobs.Update(ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("an update at a stale version = %v, want Conflict", err)
	}
	bad := j.DeepCopy()
	bad.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	if _, err := jobs.UpdateStatus(ctx, bad, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("Complete without SuccessCriteriaMet = %v, want Invalid", err)
	}

	w, err := jobs.Watch(ctx, metav1.ListOptions{ResourceVersion: j.ResourceVersion, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	fg := metav1.DeletePropagationForeground
	if err := jobs.Delete(ctx, "a", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	held, err := jobs.Get(ctx, "a", metav1.GetOptions{})
	if err != nil || held.DeletionTimestamp == nil || len(held.Finalizers) != 1 {
		t.Fatalf("a foreground delete does not hold the job: %v, %v", held, err)
	}
	ctl := &coreweavetest.Controller{Kube: c.Kube, Namespace: "ns"}
	if err := ctl.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after Settle the job is still there: %v", err)
	}
	var types []watch.EventType
	for len(types) < 3 {
		select {
		case ev := <-w.ResultChan():
			types = append(types, ev.Type)
		case <-time.After(time.Second):
			t.Fatalf("watch events %v, want a bookmark, the deletion mark and the deletion", types)
		}
	}
	if types[0] != watch.Bookmark || types[1] != watch.Modified || types[2] != watch.Deleted {
		t.Errorf("watch events %v", types)
	}
	w.Stop()

	c.Compact()
	w, err = jobs.Watch(ctx, metav1.ListOptions{ResourceVersion: j.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	ev := <-w.ResultChan()
	if ev.Type != watch.Error || !apierrors.IsResourceExpired(apierrors.FromObject(ev.Object)) {
		t.Errorf("a watch from a compacted version sent %v %v, want 410 Expired", ev.Type, ev.Object)
	}
}
