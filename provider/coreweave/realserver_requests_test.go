package coreweave_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
)

// countingTransport records every request the provider sends, as verb and
// resource, and can cut the watch streams it has open.
type countingTransport struct {
	rt      http.RoundTripper
	mu      sync.Mutex
	reqs    []string
	watches []io.Closer
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	what := requestOf(r)
	resp, err := c.rt.RoundTrip(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs = append(c.reqs, what)
	if err == nil && strings.HasPrefix(what, "watch ") {
		c.watches = append(c.watches, resp.Body)
	}
	return resp, err
}

// requestOf names a request as RBAC would: the verb and the resource, or
// "discovery" for the API's description of itself.
func requestOf(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	i := 0
	for i < len(parts) && parts[i] != "namespaces" {
		i++
	}
	if i+2 >= len(parts) {
		return "discovery"
	}
	resource := parts[i+2]
	named := i+3 < len(parts)
	if i+4 < len(parts) {
		resource += "/" + parts[i+4]
	}
	verb := map[string]string{http.MethodPost: "create", http.MethodPut: "update", http.MethodPatch: "patch", http.MethodDelete: "delete"}[r.Method]
	if r.Method == http.MethodGet {
		switch {
		case r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1":
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	}
	return verb + " " + resource
}

func (c *countingTransport) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs)
}

// since lists the requests after the first n by kind, with counts.
func (c *countingTransport) since(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	by := map[string]int{}
	for _, r := range c.reqs[n:] {
		by[r]++
	}
	var parts []string
	for k, v := range by {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// cut closes the watch streams open so far, as a dropped connection does.
func (c *countingTransport) cut() {
	c.mu.Lock()
	ws := c.watches
	c.watches = nil
	c.mu.Unlock()
	for _, w := range ws {
		w.Close()
	}
}

// realLifecycle is the request count's cluster on the real API server: the
// provider's requests counted in its transport, the controller's not.
type realLifecycle struct {
	p   *coreweave.Provider
	ctl *coreweavetest.Controller
	tr  *countingTransport
}

func (r *realLifecycle) provider() *coreweave.Provider { return r.p }
func (r *realLifecycle) start(ctx context.Context, name string) error {
	return r.ctl.StartJob(ctx, name)
}
func (r *realLifecycle) complete(ctx context.Context, name string) error {
	return r.ctl.CompleteJob(ctx, name, "")
}
func (r *realLifecycle) requests() int { return r.tr.count() }

// expire cannot make the real server forget a version (its watch cache
// keeps the recent ones); it cuts the watch, which then resumes from the
// last version it saw.
func (r *realLifecycle) expire(context.Context) { r.tr.cut() }

// TestRealRequestsPerLifecycle is TestRequestsPerLifecycle on the real API
// server, the provider's requests counted in its client's transport:
// waiting by watch costs the same for a short job and a long one, a cut
// watch one request more, and the naive poll grows with the job's length.
// BENCHMARKS.md has the figures (the command is there).
func TestRealRequestsPerLifecycle(t *testing.T) {
	env := realServer(t)
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
		ns := realNamespace(t, env, "cw-count")
		kube, dyn := adminClients(t, env)
		tr := &countingTransport{}
		p := realProvider(t, env, env.UserConfig(), ns, testRegion, func(rt http.RoundTripper) http.RoundTripper { tr.rt = rt; return tr }, nil)
		l := &realLifecycle{p: p, ctl: &coreweavetest.Controller{Kube: kube, Dynamic: dyn, Namespace: ns}, tr: tr}
		counts[i] = countLifecycle(t, l, fmt.Sprintf("train-count-%d", i), r.mode, r.phase, poll, r.expireAt)
		mode := map[waitMode]string{byWatch: "watch", byPoll: "poll every 5ms"}[r.mode]
		t.Logf("%-15s job of 2×%v, watch cut: %-5v → %d requests (%s)", mode, r.phase, r.expireAt > 0, counts[i], tr.since(0))
	}
	if counts[0] != counts[1] {
		t.Errorf("waiting by watch took %d requests for a short job and %d for a long one; want the same", counts[0], counts[1])
	}
	if d := counts[2] - counts[1]; d != 1 {
		t.Errorf("a cut watch cost %d more requests, want 1 (the watch resumed from the last version)", d)
	}
	// Each read takes a round trip to the server, so the poll makes fewer
	// than on the fake, and fewer still on a loaded machine; it still
	// grows with the job's length.
	if counts[4] <= counts[3] || counts[4] < 3*counts[1] {
		t.Errorf("polling took %d requests for a 40 ms job and %d for a 400 ms one, watching %d; the baseline should grow with the job and cost several times more", counts[3], counts[4], counts[1])
	}
}
