package coreweave_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
)

// lifecycle is what the request count needs of a cluster: the provider,
// the controller's moves, and the provider's requests so far. It is an
// interface so that a harness over a real API server (counting requests in
// its transport) can run the same count.
type lifecycle interface {
	provider() *coreweave.Provider
	start(ctx context.Context, name string) error
	complete(ctx context.Context, name string) error
	requests() int
	// expire makes the version a watch resumes from expire (a compaction
	// and a dropped watch), or, where that cannot be forced, drops the
	// watch.
	expire(ctx context.Context)
}

type fakeLifecycle struct{ e *env }

func (f fakeLifecycle) provider() *coreweave.Provider { return f.e.p }
func (f fakeLifecycle) start(ctx context.Context, name string) error {
	return f.e.ctl.StartJob(ctx, name)
}
func (f fakeLifecycle) complete(ctx context.Context, name string) error {
	return f.e.ctl.CompleteJob(ctx, name, "")
}
func (f fakeLifecycle) requests() int {
	return len(f.e.cluster.Kube.Actions()) + len(f.e.cluster.Dynamic.Actions())
}
func (f fakeLifecycle) expire(ctx context.Context) {
	// Another client writes, so the cluster's version moves past the
	// watch's, and the history is compacted.
	_, _ = f.e.ctl.Kube.CoreV1().ConfigMaps(testNamespace).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unrelated"}}, metav1.CreateOptions{})
	f.e.cluster.Compact()
	f.e.cluster.CloseWatches()
}

// waitMode is how the caller learns that a job ended.
type waitMode int

const (
	byWatch waitMode = iota
	byPoll
)

// countLifecycle submits a job, has the controller start it after phase
// and complete it after another, and waits for the end with WatchJob or by
// polling GetJob every pollEvery. expireAt, when not zero, expires the
// watch that long after the start. It returns the provider's requests from
// the submit to the terminal state.
func countLifecycle(t *testing.T, l lifecycle, name string, mode waitMode, phase, pollEvery, expireAt time.Duration) int {
	t.Helper()
	ctx := t.Context()
	p := l.provider()
	before := l.requests()
	info, err := p.SubmitJob(ctx, jobSpec(name))
	if err != nil {
		t.Fatal(err)
	}
	ctl := make(chan error, 1)
	go func() {
		time.Sleep(phase)
		if err := l.start(ctx, name); err != nil {
			ctl <- err
			return
		}
		if expireAt > 0 {
			time.Sleep(expireAt)
			l.expire(ctx)
		}
		time.Sleep(phase)
		ctl <- l.complete(ctx, name)
	}()
	for !info.State.Terminal() {
		switch mode {
		case byWatch:
			info, err = p.WatchJob(ctx, name, info.Revision)
		case byPoll:
			time.Sleep(pollEvery)
			info, err = p.GetJob(ctx, name)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := <-ctl; err != nil {
		t.Fatal(err)
	}
	if info.State != provider.JobSucceeded {
		t.Fatalf("the job ended %s", info.State)
	}
	return l.requests() - before
}

// TestRequestsPerLifecycle counts the provider's API requests across one
// job's life, submit to Succeeded, waiting by watch and by a naive poll of
// GetJob every 5 ms (the conformance suite's default poll interval). The
// watch's count does not grow with the job's duration; the poll's does.
// BENCHMARKS.md has the figures (go test -run TestRequestsPerLifecycle -v).
func TestRequestsPerLifecycle(t *testing.T) {
	const poll = 5 * time.Millisecond
	rows := []struct {
		mode     waitMode
		phase    time.Duration
		expireAt time.Duration
	}{
		{byWatch, 20 * time.Millisecond, 0},
		{byWatch, 200 * time.Millisecond, 0},
		{byWatch, 200 * time.Millisecond, 100 * time.Millisecond},
		{byPoll, 20 * time.Millisecond, 0},
		{byPoll, 200 * time.Millisecond, 0},
	}
	counts := make([]int, len(rows))
	for i, r := range rows {
		e := newEnv(t, false, nil)
		counts[i] = countLifecycle(t, fakeLifecycle{e}, fmt.Sprintf("train-count-%d", i), r.mode, r.phase, poll, r.expireAt)
		mode := map[waitMode]string{byWatch: "watch", byPoll: "poll every 5ms"}[r.mode]
		t.Logf("%-15s job of 2×%v, watch expired: %-5v → %d requests (%s)", mode, r.phase, r.expireAt > 0, counts[i], breakdown(e))
	}
	if counts[0] != counts[1] {
		t.Errorf("waiting by watch took %d requests for a short job and %d for a long one; want the same", counts[0], counts[1])
	}
	// A watch dropped with its version expired: the resumption answered
	// 410, the list, the watch from the list's version.
	if counts[2]-counts[1] != 3 {
		t.Errorf("an expired watch cost %d more requests, want 3 (a watch answered 410, a list, a new watch)", counts[2]-counts[1])
	}
	if counts[4] < 5*counts[1] {
		t.Errorf("polling a 400 ms job took %d requests, watching %d; the baseline should cost many times more", counts[4], counts[1])
	}
}

// breakdown lists the provider's requests by verb and resource.
func breakdown(e *env) string {
	n := map[string]int{}
	for _, p := range append(actionsOf(e.cluster.Kube.Actions()), actionsOf(e.cluster.Dynamic.Actions())...) {
		n[p.verb+" "+p.resource]++
	}
	var parts []string
	for k, v := range n {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
