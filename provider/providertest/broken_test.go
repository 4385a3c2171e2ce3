package providertest_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
	// latest is what mode latest-dataset-stale answers.
	latest map[string]*provider.DatasetInfo
	// credentials maps "name@version" to the query of the last grant issued
	// for it (mode grant-in-uri).
	credentials map[string]string
}

func (b *broken) mem() *memprovider.Provider { return b.Provider }

func (b *broken) PutDataset(ctx context.Context, req *provider.PutDatasetRequest) (*provider.DatasetInfo, error) {
	info, err := b.Provider.PutDataset(ctx, req)
	if err == nil && b.mode == "latest-dataset-stale" {
		// The highest number is kept on the side as versions are stored,
		// and never lowered when its version is deleted.
		b.mu.Lock()
		n, _ := provider.VersionNumber(info.Version)
		if old := b.latest[info.Name]; old == nil || n > numberOf(provider.VersionNumber(old.Version)) {
			if b.latest == nil {
				b.latest = map[string]*provider.DatasetInfo{}
			}
			b.latest[info.Name] = info
		}
		b.mu.Unlock()
	}
	if err != nil && provider.CodeOf(err) == provider.Unknown {
		switch b.mode {
		case "lose-read-error":
			// %v, not %w: the reader's error is spelt out and lost.
			return nil, provider.Errorf(provider.Unknown, "storing the dataset: %v", err)
		case "wrap-read-error":
			// Wrapped, as a cloud SDK's upload wraps it: still reachable.
			return nil, provider.Wrap(provider.Unknown, err, "uploading the dataset's blob")
		}
	}
	return info, err
}

func (b *broken) GetDataset(ctx context.Context, name, version string) (*provider.DatasetInfo, error) {
	if b.mode == "ignore-context" {
		ctx = context.WithoutCancel(ctx)
	}
	info, err := b.Provider.GetDataset(ctx, name, version)
	if err == nil {
		b.credentialInURI(info)
	}
	return info, err
}

func (b *broken) ListDatasets(ctx context.Context, name string) ([]*provider.DatasetInfo, error) {
	list, err := b.Provider.ListDatasets(ctx, name)
	if b.mode == "datasets-by-version" {
		slices.SortStableFunc(list, func(x, y *provider.DatasetInfo) int {
			return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Version, y.Version))
		})
	}
	for _, d := range list {
		b.credentialInURI(d)
	}
	return list, err
}

// credentialInURI appends the last grant's credential to a version's URI, as
// a driver that hands out its SAS-signed URLs as plain URIs would.
func (b *broken) credentialInURI(d *provider.DatasetInfo) {
	if b.mode != "grant-in-uri" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if q := b.credentials[d.Name+"@"+d.Version]; q != "" {
		d.URI += "?" + q
	}
}

func (b *broken) GrantRead(ctx context.Context, name, version string, ttl time.Duration) (provider.Grant, error) {
	g, err := b.Provider.GrantRead(ctx, name, version, ttl)
	if err == nil && b.mode == "grant-in-uri" {
		_, q, _ := strings.Cut(g.URL.Reveal(), "?")
		b.mu.Lock()
		if b.credentials == nil {
			b.credentials = map[string]string{}
		}
		b.credentials[name+"@"+version] = q
		b.mu.Unlock()
	}
	return g, err
}

func (b *broken) SubmitJob(ctx context.Context, spec *provider.JobSpec) (*provider.JobInfo, error) {
	if spec != nil {
		s := *spec
		switch b.mode {
		case "secret-in-env":
			// The secrets go into the plain job definition.
			s.Env = maps.Clone(spec.Env)
			for k, v := range spec.SecretEnv {
				s.Env[k] = v.Reveal()
			}
		case "grant-dropped":
			s.Inputs = slices.Clone(spec.Inputs)
			for i := range s.Inputs {
				s.Inputs[i].Grant = provider.Grant{}
			}
		case "drops-gpu-type-and-output":
			s.GPUType, s.OutputURI = "", ""
		}
		spec = &s
	}
	info, err := b.Provider.SubmitJob(ctx, spec)
	switch {
	case b.mode == "duplicate-submit-nil" && provider.CodeOf(err) == provider.AlreadyExists:
		return nil, err
	case b.mode == "secret-in-error" && provider.CodeOf(err) == provider.AlreadyExists:
		var env []string
		for k, v := range spec.SecretEnv {
			env = append(env, k+"="+v.Reveal())
		}
		return info, provider.Errorf(provider.AlreadyExists, "job %q exists; the submitted spec sets %s", spec.Name, strings.Join(env, " "))
	}
	return info, err
}

func (b *broken) JobLogs(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := b.Provider.JobLogs(ctx, name)
	if err != nil || b.mode != "secret-in-logs" {
		return rc, err
	}
	// The driver logs the environment it started the job with.
	info, err := b.Provider.GetJob(ctx, name)
	if err != nil {
		rc.Close()
		return nil, err
	}
	var env strings.Builder
	for k, v := range info.Spec.SecretEnv {
		fmt.Fprintf(&env, "starting with %s=%s\n", k, v.Reveal())
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(rc, strings.NewReader(env.String())), rc}, nil
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

func numberOf(n uint64, _ bool) uint64 { return n }

func (b *broken) LatestDataset(ctx context.Context, name string) (*provider.DatasetInfo, error) {
	switch b.mode {
	case "latest-dataset-newest":
		// The version stored last, as a driver reading the newest blob
		// would answer.
		list, err := b.Provider.ListDatasets(ctx, name)
		if err == nil && len(list) == 0 {
			err = provider.Errorf(provider.NotFound, "dataset %q has no version", name)
		}
		if err != nil {
			return nil, err
		}
		return list[len(list)-1], nil
	case "latest-dataset-stale":
		b.mu.Lock()
		info := b.latest[name]
		b.mu.Unlock()
		if info != nil {
			return info, nil
		}
	}
	return b.Provider.LatestDataset(ctx, name)
}

func (b *broken) LatestModelVersion(ctx context.Context, model string) (*provider.ModelVersionInfo, error) {
	if b.mode == "latest-model-newest" {
		// The version created last rather than the highest number.
		list, err := b.Provider.ListModelVersions(ctx, model)
		if err == nil && len(list) == 0 {
			err = provider.Errorf(provider.NotFound, "model %q has no version", model)
		}
		if err != nil {
			return nil, err
		}
		slices.SortStableFunc(list, func(x, y *provider.ModelVersionInfo) int { return x.Created.Compare(y.Created) })
		return list[len(list)-1], nil
	}
	return b.Provider.LatestModelVersion(ctx, model)
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
// inside it. Some modes break the harness's side instead: the claims it
// makes, or the storage service that UseGrant plays.
type brokenHarness struct {
	memHarness
	mode string
}

// wrapper is a provider built over a memprovider, which the harness drives.
type wrapper interface{ mem() *memprovider.Provider }

func (h *brokenHarness) MakeProvider(ctx context.Context) (provider.Provider, error) {
	p := memprovider.New(h.opts)
	switch h.mode {
	case "hide-datastore":
		// Only Kind and Regions: the harness claims more than the type has.
		return struct{ provider.Provider }{p}, nil
	case "deletes-settled-by-harness":
		return &lagging{Provider: p}, nil
	case "deletes-settle-later":
		return &lagging{Provider: p, after: 30 * time.Millisecond}, nil
	case "controller-writes-etags":
		return &restless{Provider: p}, nil
	}
	return &broken{Provider: p, mode: h.mode}, nil
}

func inner(p provider.Provider) provider.Provider {
	if w, ok := p.(wrapper); ok {
		return w.mem()
	}
	return p
}

func (h *brokenHarness) Capabilities() []provider.Capability {
	caps := h.memHarness.Capabilities()
	if h.mode == "under-claim" {
		// memprovider grants, but the harness does not say so.
		caps = slices.DeleteFunc(caps, func(c provider.Capability) bool { return c == provider.CapGrants })
	}
	return caps
}

func (h *brokenHarness) Settle(ctx context.Context, p provider.Provider) error {
	if l, ok := p.(*lagging); ok {
		l.settle()
	}
	return nil
}

func (h *brokenHarness) InspectJob(ctx context.Context, p provider.Provider, name string) (*providertest.JobView, error) {
	return h.memHarness.InspectJob(ctx, inner(p), name)
}

// UseGrant plays a storage service that is broken in the modes that say so.
func (h *brokenHarness) UseGrant(ctx context.Context, p provider.Provider, g provider.Grant, op providertest.GrantOp, name, version string, data []byte) ([]byte, error) {
	m := inner(p).(*memprovider.Provider)
	perm := grantPerm[op]
	target, version2 := name, version
	switch h.mode {
	case "grant-reads-other-versions":
		// The credential is checked against the version it was issued
		// for, wherever it is used: a container-wide SAS.
		target, version2 = grantedVersion(g)
	case "grant-allows-writes":
		perm = "r"
	}
	err := m.CheckGrant(g.URL, perm, target, version2)
	if err != nil && h.mode == "expired-grant-honoured" && strings.Contains(err.Error(), "expired") {
		err = nil
	}
	if err != nil && h.mode == "revoked-grant-honoured" && strings.Contains(err.Error(), "revoked") {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	return grantedOp(ctx, m, op, name, version, data)
}

// grantedVersion returns the dataset version a memprovider grant was issued
// for, from its URL path "/datasets/NAME/VERSION".
func grantedVersion(g provider.Grant) (string, string) {
	u, _ := url.Parse(g.URL.Reveal())
	parts := strings.Split(strings.TrimPrefix(u.Path, "/datasets/"), "/")
	if len(parts) != 2 {
		return "", ""
	}
	return parts[0], parts[1]
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
// starts, where it is expected to fail (or, for the modes that break
// nothing, to pass).
func TestBrokenProvider(t *testing.T) {
	mode := os.Getenv(brokenEnv)
	if mode == "" {
		t.Skip("runs only in the child processes of TestSuiteCatchesBrokenProviders")
	}
	providertest.RunConformanceTests(t, brokenMaker(mode, nil), nil)
}

func brokenMaker(mode string, opts *memprovider.Options) providertest.HarnessMaker {
	return func(context.Context, testing.TB) (providertest.Harness, error) {
		return &brokenHarness{memHarness: memHarness{opts: opts}, mode: mode}, nil
	}
}

// brokenCase is one run of TestSuiteCatchesBrokenProviders: the mode, the
// subtest named after the sentence it breaks, and what the subtest must
// report. A case with pass set breaks nothing the contract promises (a
// delete that finishes later, an ETag a controller changed) and must pass;
// outcome "SKIP" must skip instead.
type brokenCase struct {
	mode, subtest, want string
	outcome             string // "FAIL" (the default), "PASS" or "SKIP"
	env                 []string
}

func brokenCases() []brokenCase {
	required := []string{"TIDELINE_INTEGRATION=required"}
	optional := []string{"TIDELINE_INTEGRATION="}
	return []brokenCase{
		{mode: "lose-read-error", subtest: "DataStore/ReadErrorLeavesNothing", want: "reachable through errors.Is"},
		{mode: "ignore-context", subtest: "DataStore/CanceledContext", want: "GetDataset: got code OK"},
		{mode: "datasets-by-version", subtest: "DataStore/ListOrder", want: "ListDatasets"},
		{mode: "hide-datastore", subtest: "DataStore/PutThenGet", want: "does not implement provider.DataStore"},
		{mode: "duplicate-submit-nil", subtest: "Trainer/DuplicateSubmitReturnsExisting", want: "returned no *JobInfo"},
		{mode: "cancel-ended-fails", subtest: "Trainer/CancelEndedJobUnchanged", want: "(code FailedPrecondition)"},
		{mode: "jobs-by-name", subtest: "Trainer/ListOrder", want: "ListJobs"},
		{mode: "watch-at-once", subtest: "Trainer/WatchWakesOnChange", want: "returned before anything changed"},
		{mode: "lexical-versions", subtest: "Registry/ListNumericOrder", want: "ascending numeric order"},
		{mode: "latest-dataset-newest", subtest: "DataStore/LatestIsHighestNumber", want: "want version 10: the highest whole number"},
		{mode: "latest-dataset-stale", subtest: "DataStore/LatestFollowsDeletes", want: "LatestDataset answering 2 once 3 is deleted"},
		{mode: "latest-model-newest", subtest: "Registry/LatestIsHighestVersion", want: "want version 10: the highest number"},
		{mode: "shared-results", subtest: "Registry/ReturnedValuesAreCopies", want: "after changing"},
		{mode: "delete-missing-alias-ok", subtest: "Registry/DeleteMissingAliasIsNotFound", want: "got code OK"},
		{mode: "ignore-ifmatch", subtest: "Serving/StaleETagIsConflict", want: "with a stale ETag: got code OK"},
		{mode: "swallow-precondition", subtest: "Serving/DeleteDeploymentWithTrafficIsFailedPrecondition", want: "got code OK"},

		{mode: "secret-in-env", subtest: "Trainer/SecretEnvGoesToTheSecretStore", want: "plain environment sets HF_TOKEN to the value of SecretEnv HF_TOKEN"},
		{mode: "secret-in-env", subtest: "Trainer/SecretsNeverInResultsLogsOrErrors", want: "the JobInfo SubmitJob returned holds the value of SecretEnv"},
		{mode: "secret-in-logs", subtest: "Trainer/SecretsNeverInResultsLogsOrErrors", want: "JobLogs holds the value of SecretEnv"},
		{mode: "secret-in-error", subtest: "Trainer/SecretsNeverInResultsLogsOrErrors", want: "the error of SubmitJob of an existing name holds the value of SecretEnv"},
		{mode: "grant-dropped", subtest: "Trainer/GrantReachesJobAsSecret", want: "the read grant of input train does not reach the job"},
		{mode: "drops-gpu-type-and-output", subtest: "Trainer/SubmitThenGet", want: "differs from the spec as submitted in GPUType, OutputURI"},
		{mode: "grant-reads-other-versions", subtest: "Grants/GrantReadsOnlyItsVersion", want: "read another version of its dataset"},
		{mode: "grant-allows-writes", subtest: "Grants/GrantIsReadOnly", want: "a read grant overwrote the version"},
		{mode: "expired-grant-honoured", subtest: "Grants/ExpiredGrantIsRefused", want: "is still honoured"},
		{mode: "revoked-grant-honoured", subtest: "Grants/RevokedGrantIsRefused", want: "a revoked grant is still honoured"},
		{mode: "grant-in-uri", subtest: "Grants/GrantNeverPrintsItself", want: "the DatasetInfo GetDataset returned holds the grant's"},
		{mode: "under-claim", subtest: "Provider/CapabilitiesMatchClaims", want: `implements grants but the harness does not claim it`, env: required},

		// Not broken: the suite must pass, or skip, and say so.
		{mode: "under-claim", subtest: "Provider/CapabilitiesMatchClaims", want: "set TIDELINE_INTEGRATION=required to fail instead", outcome: "SKIP", env: optional},
		{mode: "wrap-read-error", subtest: "DataStore/ReadErrorLeavesNothing", outcome: "PASS"},
		{mode: "deletes-settled-by-harness", subtest: "Serving/DeleteEndpointRemovesDeployments", outcome: "PASS"},
		{mode: "deletes-settle-later", subtest: "DataStore/DeleteRemovesVersion", outcome: "PASS"},
		{mode: "deletes-settle-later", subtest: "Trainer/CancelRunningJob", outcome: "PASS"},
		{mode: "controller-writes-etags", subtest: "Serving/StaleETagIsConflict", outcome: "PASS"},
		{mode: "controller-writes-etags", subtest: "Trainer/WatchWakesOnChange", outcome: "PASS"},
	}
}

// TestSuiteCatchesBrokenProviders breaks one contract sentence at a time and
// checks that the subtest named after it fails, saying why; and runs
// providers that differ from memprovider only in ways the contract allows,
// checking that the subtest passes. Each case runs the one subtest in a
// child process, since a failing subtest cannot be contained within this
// one.
func TestSuiteCatchesBrokenProviders(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("already in a child process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary to run it again: %v", err)
	}
	cases := brokenCases()
	broken := map[string]bool{}
	for _, c := range cases {
		if c.outcome == "" {
			broken[c.mode] = true
		}
	}
	if len(broken) < 20 {
		t.Errorf("only %d broken modes; the suite is checked against at least 20", len(broken))
	}
	for _, c := range cases {
		outcome := cmp.Or(c.outcome, "FAIL")
		t.Run(c.mode+"/"+strings.ReplaceAll(c.subtest, "/", "-")+"/"+outcome, func(t *testing.T) {
			group, name, _ := strings.Cut(c.subtest, "/")
			cmd := exec.CommandContext(t.Context(), exe,
				"-test.run=^TestBrokenProvider$/^"+group+"$/^"+name+"$", "-test.v", "-test.count=1")
			cmd.Env = append(append(os.Environ(), brokenEnv+"="+c.mode), c.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			switch {
			case outcome == "FAIL" && !errors.As(err, &exit):
				t.Fatalf("the child run did not fail (err %v); output:\n%s", err, out)
			case outcome != "FAIL" && err != nil:
				t.Fatalf("the child run failed (%v) where the provider keeps the contract; output:\n%s", err, out)
			}
			if !strings.Contains(string(out), "--- "+outcome+": TestBrokenProvider/"+c.subtest+" ") {
				t.Errorf("subtest %s did not report %s in mode %s; output:\n%s", c.subtest, outcome, c.mode, out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Errorf("the output does not say %q; output:\n%s", c.want, out)
			}
		})
	}
}
