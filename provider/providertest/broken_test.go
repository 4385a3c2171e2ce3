package providertest_test

import (
	"cmp"
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/provider/providertest"
)

// brokenEnv selects, in a child process, which contract sentence the broken
// provider breaks.
const brokenEnv = "TIDELINE_PROVIDERTEST_BROKEN"

// broken is memprovider with one contract sentence broken, chosen by mode.
// It shows that the suite's subtests fail when the sentence they name is
// not kept.
type broken struct {
	*memprovider.Provider
	mode string

	mu     sync.Mutex
	cached map[string]*provider.ModelVersionInfo
}

func (b *broken) PutDataset(ctx context.Context, req *provider.PutDatasetRequest) (*provider.DatasetInfo, error) {
	info, err := b.Provider.PutDataset(ctx, req)
	if b.mode == "wrap-read-error" && err != nil {
		return nil, provider.Wrap(provider.Unknown, err, "storing the dataset")
	}
	return info, err
}

func (b *broken) GetDataset(ctx context.Context, name, version string) (*provider.DatasetInfo, error) {
	if b.mode == "ignore-context" {
		ctx = context.WithoutCancel(ctx)
	}
	return b.Provider.GetDataset(ctx, name, version)
}

func (b *broken) ListDatasets(ctx context.Context, name string) ([]*provider.DatasetInfo, error) {
	list, err := b.Provider.ListDatasets(ctx, name)
	if b.mode == "datasets-by-version" {
		slices.SortStableFunc(list, func(x, y *provider.DatasetInfo) int {
			return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Version, y.Version))
		})
	}
	return list, err
}

func (b *broken) SubmitJob(ctx context.Context, spec *provider.JobSpec) (*provider.JobInfo, error) {
	info, err := b.Provider.SubmitJob(ctx, spec)
	if b.mode == "duplicate-submit-nil" && provider.CodeOf(err) == provider.AlreadyExists {
		return nil, err
	}
	return info, err
}

func (b *broken) CancelJob(ctx context.Context, name string) (*provider.JobInfo, error) {
	if b.mode == "cancel-ended-fails" {
		if info, err := b.Provider.GetJob(ctx, name); err == nil && info.State.Terminal() {
			return nil, provider.Errorf(provider.FailedPrecondition, "job %q already ended", name)
		}
	}
	return b.Provider.CancelJob(ctx, name)
}

func (b *broken) ListJobs(ctx context.Context) ([]*provider.JobInfo, error) {
	list, err := b.Provider.ListJobs(ctx)
	if b.mode == "jobs-by-name" {
		slices.SortStableFunc(list, func(x, y *provider.JobInfo) int { return cmp.Compare(x.Spec.Name, y.Spec.Name) })
	}
	return list, err
}

func (b *broken) WatchJob(ctx context.Context, name, after string) (*provider.JobInfo, error) {
	if b.mode == "watch-at-once" {
		return b.Provider.GetJob(ctx, name)
	}
	return b.Provider.WatchJob(ctx, name, after)
}

func (b *broken) GetModelVersion(ctx context.Context, model, version string) (*provider.ModelVersionInfo, error) {
	if b.mode != "shared-results" {
		return b.Provider.GetModelVersion(ctx, model, version)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.cached[model+"/"+version]; ok {
		return v, nil
	}
	v, err := b.Provider.GetModelVersion(ctx, model, version)
	if err == nil {
		if b.cached == nil {
			b.cached = map[string]*provider.ModelVersionInfo{}
		}
		b.cached[model+"/"+version] = v
	}
	return v, err
}

func (b *broken) ListModelVersions(ctx context.Context, model string) ([]*provider.ModelVersionInfo, error) {
	list, err := b.Provider.ListModelVersions(ctx, model)
	if b.mode == "lexical-versions" {
		slices.SortFunc(list, func(x, y *provider.ModelVersionInfo) int { return cmp.Compare(x.Version, y.Version) })
	}
	return list, err
}

func (b *broken) DeleteAlias(ctx context.Context, model, alias string) error {
	err := b.Provider.DeleteAlias(ctx, model, alias)
	if b.mode == "delete-missing-alias-ok" && provider.CodeOf(err) == provider.NotFound {
		return nil
	}
	return err
}

func (b *broken) UpdateEndpoint(ctx context.Context, upd *provider.EndpointUpdate) (*provider.EndpointInfo, error) {
	if b.mode == "ignore-ifmatch" {
		u := *upd
		u.IfMatch = ""
		upd = &u
	}
	return b.Provider.UpdateEndpoint(ctx, upd)
}

func (b *broken) DeleteDeployment(ctx context.Context, endpoint, name string) error {
	err := b.Provider.DeleteDeployment(ctx, endpoint, name)
	if b.mode == "swallow-precondition" && provider.CodeOf(err) == provider.FailedPrecondition {
		return nil
	}
	return err
}

// brokenHarness hands the suite a broken provider and drives the memprovider
// inside it.
type brokenHarness struct {
	memHarness
	mode string
}

func (h *brokenHarness) MakeProvider(ctx context.Context) (provider.Provider, error) {
	p := memprovider.New(nil)
	if h.mode == "hide-datastore" {
		// Only Kind and Regions: the harness claims more than the type has.
		return struct{ provider.Provider }{p}, nil
	}
	return &broken{Provider: p, mode: h.mode}, nil
}

func inner(p provider.Provider) provider.Provider {
	if b, ok := p.(*broken); ok {
		return b.Provider
	}
	return p
}

func (h *brokenHarness) StartJob(ctx context.Context, p provider.Provider, name string) error {
	return h.memHarness.StartJob(ctx, inner(p), name)
}

func (h *brokenHarness) CompleteJob(ctx context.Context, p provider.Provider, name, uri string) error {
	return h.memHarness.CompleteJob(ctx, inner(p), name, uri)
}

func (h *brokenHarness) FailJob(ctx context.Context, p provider.Provider, name, msg string) error {
	return h.memHarness.FailJob(ctx, inner(p), name, msg)
}

func (h *brokenHarness) SetDeploymentReady(ctx context.Context, p provider.Provider, endpoint, name string) error {
	return h.memHarness.SetDeploymentReady(ctx, inner(p), endpoint, name)
}

// TestBrokenProvider runs the suite over a broken provider. It does
// something only in the child processes that TestSuiteCatchesBrokenProviders
// starts, where it is expected to fail.
func TestBrokenProvider(t *testing.T) {
	mode := os.Getenv(brokenEnv)
	if mode == "" {
		t.Skip("runs only in the child processes of TestSuiteCatchesBrokenProviders")
	}
	providertest.RunConformanceTests(t, func(context.Context, testing.TB) (providertest.Harness, error) {
		return &brokenHarness{mode: mode}, nil
	}, nil)
}

// TestSuiteCatchesBrokenProviders breaks one contract sentence at a time and
// checks that the subtest named after it fails, saying why. Each case runs
// the one subtest in a child process, since a failing subtest cannot be
// contained within this one.
func TestSuiteCatchesBrokenProviders(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("already in a child process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary to run it again: %v", err)
	}
	for _, c := range []struct {
		mode, subtest, want string
	}{
		{"wrap-read-error", "DataStore/ReadErrorLeavesNothing", "comes back unchanged"},
		{"ignore-context", "DataStore/CanceledContext", "GetDataset: got code OK"},
		{"datasets-by-version", "DataStore/ListOrder", "ListDatasets"},
		{"hide-datastore", "DataStore/PutThenGet", "does not implement provider.DataStore"},
		{"duplicate-submit-nil", "Trainer/DuplicateSubmitReturnsExisting", "returned no *JobInfo"},
		{"cancel-ended-fails", "Trainer/CancelEndedJobUnchanged", "(code FailedPrecondition)"},
		{"jobs-by-name", "Trainer/ListOrder", "ListJobs"},
		{"watch-at-once", "Trainer/WatchWakesOnChange", "returned before anything changed"},
		{"lexical-versions", "Registry/ListNumericOrder", "ascending numeric order"},
		{"shared-results", "Registry/ReturnedValuesAreCopies", "after changing"},
		{"delete-missing-alias-ok", "Registry/DeleteMissingAliasIsNotFound", "got code OK"},
		{"ignore-ifmatch", "Serving/StaleETagIsConflict", "with a stale ETag: got code OK"},
		{"swallow-precondition", "Serving/DeleteDeploymentWithTrafficIsFailedPrecondition", "got code OK"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			group, name, _ := strings.Cut(c.subtest, "/")
			cmd := exec.CommandContext(t.Context(), exe,
				"-test.run=^TestBrokenProvider$/^"+group+"$/^"+name+"$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+c.mode)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the child run did not fail (err %v); output:\n%s", err, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestBrokenProvider/"+c.subtest+" ") {
				t.Errorf("subtest %s did not fail when the provider breaks its sentence (%s); output:\n%s", c.subtest, c.mode, out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Errorf("the failure does not say %q; output:\n%s", c.want, out)
			}
		})
	}
}
