package providertest_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/provider/providertest"
)

// lagging is memprovider whose deletes and cancels take effect after the
// call returns, as on a cloud where a delete is a long-running operation
// (HTTP 202) or an object waits for its finalizers and the garbage
// collector. Until then the thing is still there: found, listed, its name
// taken, a cancelled job still running. The contract allows all of it.
type lagging struct {
	*memprovider.Provider
	// after, when positive, finishes each delete or cancel by itself that
	// long after the call; otherwise only settle, the harness's Settle,
	// does.
	after time.Duration

	mu      sync.Mutex
	pending map[string]func()
}

func (l *lagging) mem() *memprovider.Provider { return l.Provider }

// later records op under key (once) and arranges for it to be done.
func (l *lagging) later(key string, op func(ctx context.Context) error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = map[string]func(){}
	}
	if _, ok := l.pending[key]; ok {
		return
	}
	// The outcome is the cloud's to report through reads: what the
	// operation returns here is what a long-running operation's status
	// would say, and nobody reads it.
	l.pending[key] = func() { _ = op(context.Background()) }
	if l.after > 0 {
		time.AfterFunc(l.after, func() { l.finish(key) })
	}
}

func (l *lagging) finish(key string) {
	l.mu.Lock()
	op, ok := l.pending[key]
	delete(l.pending, key)
	l.mu.Unlock()
	if ok {
		op()
	}
}

// settle finishes every pending operation, as the controllers would.
func (l *lagging) settle() {
	l.mu.Lock()
	keys := make([]string, 0, len(l.pending))
	for k := range l.pending {
		keys = append(keys, k)
	}
	l.mu.Unlock()
	sort.Strings(keys)
	for _, k := range keys {
		l.finish(k)
	}
}

func (l *lagging) DeleteDataset(ctx context.Context, name, version string) error {
	if _, err := l.Provider.GetDataset(ctx, name, version); err != nil {
		return err
	}
	l.later("dataset/"+name+"@"+version, func(ctx context.Context) error { return l.Provider.DeleteDataset(ctx, name, version) })
	return nil
}

func (l *lagging) DeleteAlias(ctx context.Context, model, alias string) error {
	a, err := l.Provider.Aliases(ctx, model)
	if err != nil {
		return err
	}
	if _, ok := a[alias]; !ok {
		// The delete of an unknown alias still fails at once.
		return l.Provider.DeleteAlias(ctx, model, alias)
	}
	l.later("alias/"+model+"/"+alias, func(ctx context.Context) error { return l.Provider.DeleteAlias(ctx, model, alias) })
	return nil
}

func (l *lagging) DeleteEndpoint(ctx context.Context, name string) error {
	if _, err := l.Provider.GetEndpoint(ctx, name); err != nil {
		return err
	}
	l.later("endpoint/"+name, func(ctx context.Context) error { return l.Provider.DeleteEndpoint(ctx, name) })
	return nil
}

func (l *lagging) DeleteDeployment(ctx context.Context, endpoint, name string) error {
	ep, err := l.Provider.GetEndpoint(ctx, endpoint)
	if err != nil {
		return err
	}
	if _, err := l.Provider.GetDeployment(ctx, endpoint, name); err != nil {
		return err
	}
	if ep.Traffic[name] > 0 || ep.Mirror[name] > 0 {
		// Refused at once, as the cloud validates before it accepts.
		return l.Provider.DeleteDeployment(ctx, endpoint, name)
	}
	l.later("deployment/"+endpoint+"/"+name, func(ctx context.Context) error { return l.Provider.DeleteDeployment(ctx, endpoint, name) })
	return nil
}

// CancelJob returns the job still in its state, stopping, as the contract
// allows a driver whose cloud cancels asynchronously to do.
func (l *lagging) CancelJob(ctx context.Context, name string) (*provider.JobInfo, error) {
	info, err := l.Provider.GetJob(ctx, name)
	if err != nil || info.State.Terminal() {
		return info, err
	}
	l.later("job/"+name, func(ctx context.Context) error {
		_, err := l.Provider.CancelJob(ctx, name)
		return err
	})
	info.Message = "stopping: cancellation requested"
	return info, nil
}

// restless is memprovider with a controller that writes status after every
// change to an endpoint or a job, as KServe's controller does to an
// InferenceService and Kubernetes' job controller to a Job. The response to
// a client's write carries the ETag or Revision of that write ("-0"); by the
// next read the controller has written, and the same state carries another
// ("-1"). The contract allows it: a conditional update with the ETag from
// the write meets Conflict, and a watch from the write's revision wakes at
// once.
type restless struct {
	*memprovider.Provider

	// wmu makes the check of an update's ETag and the update one step.
	wmu sync.Mutex
}

func (r *restless) mem() *memprovider.Provider { return r.Provider }

// As the writer sees it, and as everyone sees it after the controller.
func written(tag string) string { return tag + "-0" }
func read(tag string) string    { return tag + "-1" }

func (r *restless) endpoint(info *provider.EndpointInfo, err error, as func(string) string) (*provider.EndpointInfo, error) {
	if info != nil {
		info.ETag = as(info.ETag)
	}
	return info, err
}

func (r *restless) job(info *provider.JobInfo, err error, as func(string) string) (*provider.JobInfo, error) {
	if info != nil {
		info.Revision = as(info.Revision)
	}
	return info, err
}

func (r *restless) CreateEndpoint(ctx context.Context, spec *provider.EndpointSpec) (*provider.EndpointInfo, error) {
	info, err := r.Provider.CreateEndpoint(ctx, spec)
	return r.endpoint(info, err, written)
}

func (r *restless) GetEndpoint(ctx context.Context, name string) (*provider.EndpointInfo, error) {
	info, err := r.Provider.GetEndpoint(ctx, name)
	return r.endpoint(info, err, read)
}

func (r *restless) ListEndpoints(ctx context.Context) ([]*provider.EndpointInfo, error) {
	list, err := r.Provider.ListEndpoints(ctx)
	for _, info := range list {
		r.endpoint(info, nil, read)
	}
	return list, err
}

func (r *restless) UpdateEndpoint(ctx context.Context, upd *provider.EndpointUpdate) (*provider.EndpointInfo, error) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if upd != nil && upd.IfMatch != "" {
		cur, err := r.Provider.GetEndpoint(ctx, upd.Endpoint)
		if err != nil {
			return nil, err
		}
		if upd.IfMatch != read(cur.ETag) {
			return nil, provider.Errorf(provider.Conflict, "endpoint %q changed since ETag %q was read", upd.Endpoint, upd.IfMatch)
		}
		u := *upd
		u.IfMatch = cur.ETag
		upd = &u
	}
	info, err := r.Provider.UpdateEndpoint(ctx, upd)
	return r.endpoint(info, err, written)
}

func (r *restless) SubmitJob(ctx context.Context, spec *provider.JobSpec) (*provider.JobInfo, error) {
	info, err := r.Provider.SubmitJob(ctx, spec)
	if provider.CodeOf(err) == provider.AlreadyExists {
		return r.job(info, err, read)
	}
	return r.job(info, err, written)
}

func (r *restless) GetJob(ctx context.Context, name string) (*provider.JobInfo, error) {
	info, err := r.Provider.GetJob(ctx, name)
	return r.job(info, err, read)
}

func (r *restless) CancelJob(ctx context.Context, name string) (*provider.JobInfo, error) {
	info, err := r.Provider.CancelJob(ctx, name)
	return r.job(info, err, written)
}

func (r *restless) ListJobs(ctx context.Context) ([]*provider.JobInfo, error) {
	list, err := r.Provider.ListJobs(ctx)
	for _, info := range list {
		r.job(info, nil, read)
	}
	return list, err
}

// WatchJob wakes at once for a revision the controller has since written
// over, and otherwise when the job changes.
func (r *restless) WatchJob(ctx context.Context, name, after string) (*provider.JobInfo, error) {
	inner, ok := strings.CutSuffix(after, "-1")
	if !ok {
		inner = ""
	}
	info, err := r.Provider.WatchJob(ctx, name, inner)
	return r.job(info, err, read)
}

// TestSuiteWaitsForDeletesThatSettleLater runs the whole suite over a
// provider whose deletes and cancels take effect after the call: once the
// harness's Settle finishes them, and by themselves a little later. Both keep
// the contract, so both pass.
func TestSuiteWaitsForDeletesThatSettleLater(t *testing.T) {
	t.Run("SettledByTheHarness", func(t *testing.T) {
		providertest.RunConformanceTests(t, brokenMaker("deletes-settled-by-harness", nil), nil)
	})
	t.Run("SettlingByThemselves", func(t *testing.T) {
		// KServe-like, so that MaxDeploymentsEnforced runs: a deployment
		// being deleted still counts against the limit.
		providertest.RunConformanceTests(t, brokenMaker("deletes-settle-later", &memprovider.Options{
			Serving:           &provider.ServingCapabilities{MaxDeployments: 2},
			ManualDeployments: true,
		}), nil)
	})
}

// TestSuiteToleratesControllerWrittenETags runs the whole suite over a
// provider whose ETags and revisions also change when a controller writes
// status; the suite compares what the contract promises, not ETags, and
// passes.
func TestSuiteToleratesControllerWrittenETags(t *testing.T) {
	providertest.RunConformanceTests(t, brokenMaker("controller-writes-etags", nil), nil)
}
