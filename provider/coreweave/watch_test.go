package coreweave_test

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tideline-ml/tideline/provider"
)

// count returns how many of the provider's requests so far have verb on
// resource.
func count(actions []k8stesting.Action, verb, resource string) int {
	n := 0
	for _, a := range actions {
		if a.GetVerb() == verb && a.GetResource().Resource == resource && a.GetSubresource() == "" {
			n++
		}
	}
	return n
}

// waitWatches waits until n watches are open.
func waitWatches(t *testing.T, e *env, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.cluster.Watches() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d watches open, want %d", e.cluster.Watches(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWatchResumesAndRelistsOnExpiry: a watch that ends is resumed from the
// last version seen; a version that expired meanwhile (410) costs one read
// of the job and a new watch, not a poll.
func TestWatchResumesAndRelistsOnExpiry(t *testing.T) {
	e := newEnv(t, false, nil)
	sub, err := e.p.SubmitJob(e.ctx, jobSpec("train-watch"))
	if err != nil {
		t.Fatal(err)
	}
	before := len(e.cluster.Kube.Actions())
	type result struct {
		info *provider.JobInfo
		err  error
	}
	got := make(chan result, 1)
	go func() {
		info, err := e.p.WatchJob(e.ctx, "train-watch", sub.Revision)
		got <- result{info, err}
	}()
	waitWatches(t, e, 1)
	// Something else is written, then the history is compacted and the
	// watch dropped: the version the provider resumes from has expired.
	if _, err := e.cluster.Kube.CoreV1().ConfigMaps(testNamespace).Create(e.ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unrelated"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.cluster.Compact()
	e.cluster.CloseWatches()
	waitWatches(t, e, 1)
	select {
	case r := <-got:
		t.Fatalf("WatchJob returned before the job changed: %v, %v", r.info, r.err)
	case <-time.After(20 * time.Millisecond):
	}
	if err := e.ctl.StartJob(e.ctx, "train-watch"); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil || r.info.State != provider.JobRunning || r.info.Revision == sub.Revision {
		t.Fatalf("WatchJob = %+v, %v; want the running job at a new revision", r.info, r.err)
	}
	acts := e.cluster.Kube.Actions()[before:]
	// One read at the start and one list after the 410; the first watch,
	// its resumption answered 410, and the one from the list's version
	// that saw the change.
	if gets, lists, watches := count(acts, "get", "jobs"), count(acts, "list", "jobs"), count(acts, "watch", "jobs"); gets != 1 || lists != 1 || watches != 3 {
		t.Errorf("WatchJob made %d reads, %d lists and %d watches of the job; want 1, 1 and 3", gets, lists, watches)
	}
}

// TestWatchContextEnds returns ctx.Err() itself and leaves no watch open.
func TestWatchContextEnds(t *testing.T) {
	e := newEnv(t, false, nil)
	sub, err := e.p.SubmitJob(e.ctx, jobSpec("train-watch"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Millisecond)
	defer cancel()
	_, err = e.p.WatchJob(ctx, "train-watch", sub.Revision)
	if !errors.Is(err, context.DeadlineExceeded) || provider.CodeOf(err) != provider.DeadlineExceeded {
		t.Errorf("WatchJob = %v, want context.DeadlineExceeded", err)
	}
	if n := e.cluster.Watches(); n != 0 {
		t.Errorf("%d watches left open", n)
	}
}

// TestWatchSeesCancellationThroughDeletion: a job canceled and deleted
// while watched is returned from its record.
func TestWatchSeesCancellationThroughDeletion(t *testing.T) {
	e := newEnv(t, false, nil)
	sub, err := e.p.SubmitJob(e.ctx, jobSpec("train-watch"))
	if err != nil {
		t.Fatal(err)
	}
	rev := sub.Revision
	if _, err := e.p.CancelJob(e.ctx, "train-watch"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		info, err := e.p.WatchJob(e.ctx, "train-watch", rev)
		if err != nil {
			t.Fatal(err)
		}
		if info.State != provider.JobCanceled {
			t.Fatalf("watch woke with %s, want Canceled", info.State)
		}
		if err := e.ctl.Settle(e.ctx); err != nil {
			t.Fatal(err)
		}
		rev = info.Revision
		if _, err := e.cluster.Kube.BatchV1().Jobs(testNamespace).Get(e.ctx, "train-watch", metav1.GetOptions{}); err != nil {
			break
		}
	}
	info, err := e.p.GetJob(e.ctx, "train-watch")
	if err != nil || info.State != provider.JobCanceled {
		t.Fatalf("after deletion GetJob = %v, %v", info, err)
	}
}

// TestWatchClosedAtOnceBacksOff: a server that ends every watch at once is
// not asked again in a tight loop.
func TestWatchClosedAtOnceBacksOff(t *testing.T) {
	e := newEnv(t, false, nil)
	sub, err := e.p.SubmitJob(e.ctx, jobSpec("train-watch"))
	if err != nil {
		t.Fatal(err)
	}
	watches := 0
	e.cluster.Kube.PrependWatchReactor("jobs", func(k8stesting.Action) (bool, watch.Interface, error) {
		watches++
		w := watch.NewFake()
		w.Stop()
		return true, w, nil
	})
	ctx, cancel := context.WithTimeout(e.ctx, 400*time.Millisecond)
	defer cancel()
	if _, err := e.p.WatchJob(ctx, "train-watch", sub.Revision); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WatchJob = %v, want the deadline", err)
	}
	if watches > 6 {
		t.Errorf("%d watches in 400 ms against a server that closes them at once; want a few, backing off", watches)
	}
}
