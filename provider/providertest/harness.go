package providertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/internal/testenv"
	"github.com/tideline-ml/tideline/provider"
)

// Harness connects the suite to one provider. A provider's own test
// implements it and hands a HarnessMaker to RunConformanceTests.
//
// The suite never assumes it owns the provider's state: a harness over a real
// cloud (or an emulator shared by several test binaries) may hand every
// subtest the same account, so each subtest uses names of its own and reads
// lists filtered by those names.
//
// The controller methods (StartJob, CompleteJob, FailJob,
// SetDeploymentReady, Settle) play the part of the cloud's own controllers,
// which nothing runs in a test: memprovider calls its controls, a Kubernetes
// harness writes Job or InferenceService status, an Azure harness changes
// the contract server's state. They are called with the provider value the
// harness returned from MakeProvider, and only for capabilities the harness
// claims.
type Harness interface {
	// Capabilities lists the capabilities the harness claims for its
	// provider. The suite fails a claimed capability that the provider does
	// not implement, and skips every test of an unclaimed one by name.
	Capabilities() []provider.Capability

	// MakeProvider returns the provider under test.
	MakeProvider(ctx context.Context) (provider.Provider, error)

	// Reopen returns a second provider value over the same state as p, as a
	// second process re-attaching by name would hold. A provider that keeps
	// no client-side state may return p itself.
	Reopen(ctx context.Context, p provider.Provider) (provider.Provider, error)

	// StartJob starts the job's next run: Queued → Running, one more
	// attempt counted.
	StartJob(ctx context.Context, p provider.Provider, name string) error

	// CompleteJob ends the job's run successfully. An empty outputURI leaves
	// the choice of output location to the provider.
	CompleteJob(ctx context.Context, p provider.Provider, name, outputURI string) error

	// FailJob ends the job's run with a failure described by message. What
	// follows is the provider's business, not the suite's: the cloud's
	// controller owns retries (a Kubernetes Job's backoffLimit, an Azure ML
	// job's retry setting) and starts the job again while its MaxRetries
	// allows, and mlops never resubmits a failed job. A harness whose
	// backend has no such controller running (an API server without a
	// controller manager, a contract server) plays it here: it records the
	// failed run and puts the job back in the queue, or ends it Failed once
	// the retries are spent.
	FailJob(ctx context.Context, p provider.Provider, name, message string) error

	// SetDeploymentReady marks a deployment as ready to serve.
	SetDeploymentReady(ctx context.Context, p provider.Provider, endpoint, name string) error

	// Settle finishes the asynchronous work that the cloud's controllers
	// would finish by themselves: a delete accepted as a long-running
	// operation (an HTTP 202), an object held by finalizers or waiting for
	// the garbage collector to remove its dependents, a cancellation still
	// stopping its pods. A real delete or cancel takes effect some time
	// after the call returns, so the suite never expects it at once: after
	// each one it calls Settle and polls until the provider reports the
	// outcome, up to Options.Timeout, calling Settle again on every round.
	// A harness whose backend runs its own controllers, or whose deletes
	// finish within the call (memprovider), returns nil.
	Settle(ctx context.Context, p provider.Provider) error

	// Close releases what the harness holds. The suite calls it once per
	// harness, when the subtest that made the harness ends.
	Close()
}

// JobInspector is implemented by the harness of a provider that claims
// provider.CapTrainer: the suite needs it, and fails a trainer harness
// without it, because where a job's secrets end up can only be seen in the
// cloud itself. A driver may echo the spec it was given faithfully while the
// job definition it wrote holds the secret in plain text.
type JobInspector interface {
	// InspectJob reads, from the backend rather than through the provider,
	// what the cloud holds for the job: its stored definition, the plain
	// environment that definition sets and the values the job receives from
	// the cloud's secret store (a Kubernetes Secret the pod references, a
	// Key Vault secret), which the harness may read with its own
	// credentials.
	InspectJob(ctx context.Context, p provider.Provider, name string) (*JobView, error)
}

// JobView is what the cloud holds for one job, as a JobInspector reads it.
type JobView struct {
	// Definition is the job as the cloud stores it, as text (a Kubernetes
	// Job as JSON, an Azure ML job's request body): what anyone allowed to
	// read job definitions sees. It may name secrets, never hold their
	// values.
	Definition string
	// Env is the plain environment the definition sets, name to value.
	Env map[string]string
	// Secrets are the values the job receives from the cloud's secret
	// store, by the name the job sees each under (an environment variable
	// name, an input's mount or variable name).
	Secrets map[string]string
}

// GrantOp is what the suite tries to do to a dataset version with nothing
// but a read grant.
type GrantOp string

// The operations of GrantUser.UseGrant.
const (
	GrantOpRead   GrantOp = "read"
	GrantOpWrite  GrantOp = "write"
	GrantOpDelete GrantOp = "delete"
)

// GrantUser is implemented by the harness of a provider that claims
// provider.CapGrants: the suite needs it, and fails a grants harness without
// it, because a grant's scope, read-only permission and expiry are decided
// by the cloud's storage, which only the harness can address the way a job
// in another cloud would.
type GrantUser interface {
	// UseGrant does op to the dataset version name@version holding nothing
	// but the credential in g, as a job in another cloud would: it applies
	// the credential to that version's address (a SAS token on the version's
	// blob URL) whatever version g was issued for. GrantOpRead returns the
	// bytes read; GrantOpWrite stores data as the version's bytes, replacing
	// them when it exists; GrantOpDelete removes it. When the storage
	// refuses the credential, UseGrant returns an error whose code is
	// PermissionDenied (an HTTP 403 maps to it), whatever the reason:
	// another version, a permission the grant lacks, expiry.
	UseGrant(ctx context.Context, p provider.Provider, g provider.Grant, op GrantOp, name, version string, data []byte) ([]byte, error)
}

// HarnessMaker makes a Harness. The suite calls it once for every subtest
// and benchmark, with that subtest's testing.TB, so a harness may use
// tb.Cleanup, tb.Skip or tb.Log.
type HarnessMaker func(ctx context.Context, tb testing.TB) (Harness, error)

// Options tunes the suite for a provider. A nil *Options means the
// defaults, which suit an in-memory provider.
type Options struct {
	// Timeout bounds each wait for a job or a deployment to reach a state
	// after the harness moved it. Zero means 10 seconds; a real cloud may
	// need minutes.
	Timeout time.Duration

	// PollInterval is the pause between reads when the suite waits by
	// polling (always for deployments, and for jobs when the provider has no
	// JobWatcher). Zero means 5 milliseconds.
	PollInterval time.Duration

	// Region is where the suite creates everything. Empty means the first
	// of the provider's Regions.
	Region string

	// Concurrency is the number of goroutines in the concurrency tests.
	// Zero means 8.
	Concurrency int

	// Parallel runs the leaf subtests in parallel (t.Parallel). Safe because
	// every subtest uses its own names; worth it when calls are slow.
	Parallel bool

	// ClockSkew is how far the storage's clock may be ahead of or behind
	// this machine's. The suite allows an expired grant to be honoured that
	// much longer, and gives the grant it lets expire that much more
	// lifetime. Zero suits a provider on this machine's clock.
	ClockSkew time.Duration

	// PrepareJob, when not nil, adjusts every job spec the suite builds
	// before submitting it (an image the backend can pull, a GPU type its
	// regions offer, an output URI it can write). It must not change Name,
	// Region, SecretEnv or Inputs.
	PrepareJob func(*provider.JobSpec)

	// PrepareDeployment, when not nil, adjusts every deployment spec the
	// suite builds before creating it (an instance type the backend knows).
	// It must not change Endpoint or Name.
	PrepareDeployment func(*provider.DeploymentSpec)
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Timeout <= 0 {
		r.Timeout = 10 * time.Second
	}
	if r.PollInterval <= 0 {
		r.PollInterval = 5 * time.Millisecond
	}
	if r.Concurrency <= 0 {
		r.Concurrency = 8
	}
	if r.ClockSkew < 0 {
		r.ClockSkew = 0
	}
	return r
}

// namer hands out names that no other subtest of this run, and no other run
// sharing the same account, will use: a random run id, then a counter, then
// a readable tag. Every name satisfies provider.ValidateName.
type namer struct {
	run string
	n   atomic.Int64
}

func newNamer() *namer {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; a fixed id only
		// risks collisions with other runs on a shared account.
		b = [3]byte{0x7e, 0x1d, 0xe0}
	}
	return &namer{run: "ct" + hex.EncodeToString(b[:])}
}

// name returns a fresh resource name ending in tag. Characters the naming
// rule does not allow become single hyphens, so any tag gives a valid name.
func (n *namer) name(tag string) string {
	prefix := n.run + "-" + strconv.FormatInt(n.n.Add(1), 36) + "-"
	var b strings.Builder
	for _, c := range strings.ToLower(tag) {
		switch {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
			b.WriteRune(c)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	tag = strings.Trim(b.String(), "-")
	if room := provider.MaxNameLen - len(prefix); len(tag) > room {
		tag = strings.TrimRight(tag[:room], "-")
	}
	if tag == "" {
		tag = "x"
	}
	return prefix + tag
}

// env is what one leaf subtest works with.
type env struct {
	ctx    context.Context
	h      Harness
	p      provider.Provider
	o      Options
	names  *namer
	claims map[provider.Capability]bool
	region string
	// otherRegion is a region name the provider does not have.
	otherRegion string

	ds  provider.DataStore
	tr  provider.Trainer
	reg provider.Registry
	srv provider.Serving
	// watcher is set only when the harness claims CapJobWatch.
	watcher provider.JobWatcher
	logger  provider.JobLogger
	granter provider.Granter
	// latestDS and latestModel are set only when the harness claims
	// CapLatestDataset and CapLatestModel.
	latestDS    provider.LatestDatasetReader
	latestModel provider.LatestModelVersionReader

	// inspector and grantUser are the harness's optional hooks, nil when it
	// lacks them; the tests that need them fail through needInspector and
	// needGrantUser.
	inspector JobInspector
	grantUser GrantUser
}

// suite is one run of the conformance tests.
type suite struct {
	newHarness HarnessMaker
	o          Options
	names      *namer
	claims     map[provider.Capability]bool
}

// test is one named contract sentence.
type test struct {
	name string
	// needs lists capabilities beyond the group's own that the test needs;
	// the test is skipped, by name, when the harness does not claim them.
	needs []provider.Capability
	fn    func(t *testing.T, e *env)
}

// RunConformanceTests runs the conformance suite against the provider that
// newHarness makes. Subtests are grouped by capability and named after the
// contract sentence they check, as in TestConformance/DataStore/PutThenGet.
// A nil opts means the defaults.
func RunConformanceTests(t *testing.T, newHarness HarnessMaker, opts *Options) {
	t.Helper()
	s := &suite{newHarness: newHarness, o: opts.withDefaults(), names: newNamer()}

	h, err := newHarness(t.Context(), t)
	if err != nil {
		t.Fatalf("making the harness: %v", err)
	}
	claimed := h.Capabilities()
	h.Close()
	s.claims = make(map[provider.Capability]bool, len(claimed))
	for _, c := range claimed {
		s.claims[c] = true
	}

	s.group(t, "Provider", "", providerTests())
	s.group(t, "DataStore", provider.CapDataStore, dataStoreTests())
	s.group(t, "Trainer", provider.CapTrainer, trainerTests())
	s.group(t, "Registry", provider.CapRegistry, registryTests())
	s.group(t, "Serving", provider.CapServing, servingTests())
	s.group(t, "Grants", provider.CapGrants, grantTests())
}

func (s *suite) group(t *testing.T, name string, capability provider.Capability, tests []test) {
	t.Run(name, func(t *testing.T) {
		if capability != "" && !s.claims[capability] {
			t.Skipf("harness does not claim capability %q; its %d tests are skipped", capability, len(tests))
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				for _, c := range tc.needs {
					if !s.claims[c] {
						t.Skipf("harness does not claim capability %q", c)
					}
				}
				if s.o.Parallel {
					t.Parallel()
				}
				tc.fn(t, s.newEnv(t))
			})
		}
	})
}

// newEnv makes a harness and a provider for one subtest and checks that the
// provider implements what the harness claims.
func (s *suite) newEnv(tb testing.TB) *env {
	tb.Helper()
	ctx := tb.Context()
	h, err := s.newHarness(ctx, tb)
	if err != nil {
		tb.Fatalf("making the harness: %v", err)
	}
	tb.Cleanup(h.Close)
	p, err := h.MakeProvider(ctx)
	if err != nil {
		tb.Fatalf("MakeProvider: %v", err)
	}
	if p == nil {
		tb.Fatal("MakeProvider returned a nil provider and no error")
	}
	e := &env{ctx: ctx, h: h, p: p, o: s.o, names: s.names, claims: s.claims}
	e.region = s.o.Region
	if e.region == "" {
		regions := p.Regions()
		if len(regions) == 0 {
			tb.Fatalf("%T.Regions() is empty; the suite needs a region to create things in (or set Options.Region)", p)
		}
		e.region = regions[0].Name
	}
	e.otherRegion = "nowhere-9"
	for i := 0; ; i++ {
		if _, ok := provider.HasRegion(p, e.otherRegion); !ok {
			break
		}
		e.otherRegion = fmt.Sprintf("nowhere-%d", i)
	}

	bind(tb, s.claims[provider.CapDataStore], provider.CapDataStore, p, &e.ds)
	bind(tb, s.claims[provider.CapTrainer], provider.CapTrainer, p, &e.tr)
	bind(tb, s.claims[provider.CapRegistry], provider.CapRegistry, p, &e.reg)
	bind(tb, s.claims[provider.CapServing], provider.CapServing, p, &e.srv)
	bind(tb, s.claims[provider.CapJobWatch], provider.CapJobWatch, p, &e.watcher)
	bind(tb, s.claims[provider.CapJobLogs], provider.CapJobLogs, p, &e.logger)
	bind(tb, s.claims[provider.CapGrants], provider.CapGrants, p, &e.granter)
	bind(tb, s.claims[provider.CapLatestDataset], provider.CapLatestDataset, p, &e.latestDS)
	bind(tb, s.claims[provider.CapLatestModel], provider.CapLatestModel, p, &e.latestModel)
	if e.granter != nil && e.ds == nil {
		tb.Fatalf("harness claims %q without %q; grants are for stored datasets", provider.CapGrants, provider.CapDataStore)
	}
	e.inspector, _ = h.(JobInspector)
	e.grantUser, _ = h.(GrantUser)
	return e
}

// bind sets *dst to p's implementation of a capability the harness claims,
// and fails the test when p does not implement it.
func bind[T any](tb testing.TB, claimed bool, c provider.Capability, p provider.Provider, dst *T) {
	tb.Helper()
	if !claimed {
		return
	}
	v, ok := p.(T)
	if !ok {
		tb.Fatalf("harness claims %q but %T does not implement %v", c, p, reflect.TypeFor[T]())
	}
	*dst = v
}

func (e *env) name(tag string) string { return e.names.name(tag) }

// needInspector fails the test when the harness cannot show what the cloud
// holds for a job.
func (e *env) needInspector(t *testing.T) {
	t.Helper()
	if e.inspector == nil {
		t.Fatalf("harness %T claims %q but does not implement providertest.JobInspector; the suite cannot see where a job's secrets went without it", e.h, provider.CapTrainer)
	}
}

// needGrantUser fails the test when the harness cannot use a grant the way
// a job in another cloud would.
func (e *env) needGrantUser(t *testing.T) {
	t.Helper()
	if e.grantUser == nil {
		t.Fatalf("harness %T claims %q but does not implement providertest.GrantUser; the suite cannot check a grant's scope, permission or expiry without it", e.h, provider.CapGrants)
	}
}

// settle asks the harness to finish what the cloud's controllers would.
func (e *env) settle(ctx context.Context) error {
	if err := e.h.Settle(ctx, e.p); err != nil {
		return fmt.Errorf("harness Settle: %w", err)
	}
	return nil
}

// poll calls Settle and then check, every Options.PollInterval, until check
// reports done, check fails, or Options.Timeout passes; last describes what
// check saw, for the error. It is safe to call from any goroutine.
func (e *env) poll(what string, check func(ctx context.Context) (done bool, last string, err error)) error {
	ctx, cancel := e.waitCtx()
	defer cancel()
	last := "nothing"
	for {
		if err := e.settle(ctx); err != nil && ctx.Err() == nil {
			return err
		}
		done, seen, err := check(ctx)
		if seen != "" {
			last = seen
		}
		switch {
		case err != nil && ctx.Err() == nil:
			return fmt.Errorf("waiting for %s: %w", what, err)
		case err == nil && done:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not happen within %v (Options.Timeout); last seen: %s", what, e.o.Timeout, last)
		case <-time.After(e.o.PollInterval):
		}
	}
}

// eventually is poll that fails the test.
func (e *env) eventually(t *testing.T, what string, check func(ctx context.Context) (done bool, last string, err error)) {
	t.Helper()
	if err := e.poll(what, check); err != nil {
		t.Fatal(err)
	}
}

// gone is a check for eventually: done once call reports NotFound.
func gone(call func(ctx context.Context) error) func(ctx context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		err := call(ctx)
		switch provider.CodeOf(err) {
		case provider.NotFound:
			return true, "", nil
		case provider.OK:
			return false, "still there", nil
		}
		return false, "", err
	}
}

// canceledCtx returns a context that is already canceled.
func (e *env) canceledCtx() context.Context {
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	return ctx
}

// expiredCtx returns a context whose deadline has passed.
func (e *env) expiredCtx() context.Context {
	ctx, cancel := context.WithDeadline(e.ctx, time.Now().Add(-time.Second))
	// The context is already done, so canceling it now releases its timer
	// without changing its error.
	cancel()
	return ctx
}

// waitCtx bounds one wait by Options.Timeout.
func (e *env) waitCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, e.o.Timeout)
}

// waitJob returns the job once cond holds for it, watching when the harness
// claims JobWatcher and polling GetJob otherwise. It fails the test when
// Options.Timeout passes first.
func (e *env) waitJob(t *testing.T, name, what string, cond func(*provider.JobInfo) bool) *provider.JobInfo {
	t.Helper()
	ctx, cancel := e.waitCtx()
	defer cancel()
	var last *provider.JobInfo
	rev := ""
	for {
		if err := e.settle(ctx); err != nil && ctx.Err() == nil {
			t.Fatalf("waiting for job %q to be %s: %v", name, what, err)
		}
		var info *provider.JobInfo
		var err error
		if e.watcher != nil {
			info, err = e.watcher.WatchJob(ctx, name, rev)
		} else {
			info, err = e.tr.GetJob(ctx, name)
		}
		switch {
		case err == nil && info == nil:
			t.Fatalf("waiting for job %q to be %s: the provider returned a nil *JobInfo and no error", name, what)
		case err == nil:
			last = info
			if cond(info) {
				return info
			}
			rev = info.Revision
		case ctx.Err() != nil:
			t.Fatalf("job %q did not become %s within %v; last seen: %s", name, what, e.o.Timeout, describeJob(last))
		default:
			t.Fatalf("waiting for job %q to be %s: %v", name, what, err)
		}
		if e.watcher == nil {
			select {
			case <-ctx.Done():
				t.Fatalf("job %q did not become %s within %v; last seen: %s", name, what, e.o.Timeout, describeJob(last))
			case <-time.After(e.o.PollInterval):
			}
		}
	}
}

func describeJob(j *provider.JobInfo) string {
	if j == nil {
		return "nothing"
	}
	return fmt.Sprintf("state %s, attempts %d, revision %q, message %q", j.State, j.Attempts, j.Revision, j.Message)
}

// waitDeployment polls GetDeployment until cond holds.
func (e *env) waitDeployment(t *testing.T, endpoint, name, what string, cond func(*provider.DeploymentInfo) bool) *provider.DeploymentInfo {
	t.Helper()
	ctx, cancel := e.waitCtx()
	defer cancel()
	var last *provider.DeploymentInfo
	for {
		info, err := e.srv.GetDeployment(ctx, endpoint, name)
		switch {
		case err == nil && info == nil:
			t.Fatalf("waiting for deployment %s/%s to be %s: the provider returned a nil *DeploymentInfo and no error", endpoint, name, what)
		case err == nil:
			last = info
			if cond(info) {
				return info
			}
		case ctx.Err() != nil:
		default:
			t.Fatalf("waiting for deployment %s/%s to be %s: %v", endpoint, name, what, err)
		}
		select {
		case <-ctx.Done():
			state := "nothing"
			if last != nil {
				state = fmt.Sprintf("state %s, message %q", last.State, last.Message)
			}
			t.Fatalf("deployment %s/%s did not become %s within %v; last seen: %s", endpoint, name, what, e.o.Timeout, state)
		case <-time.After(e.o.PollInterval):
		}
	}
}

// checkCode reports an error unless err carries the wanted code.
func checkCode(t testing.TB, err error, want provider.Code, call string) bool {
	t.Helper()
	if got := provider.CodeOf(err); got != want {
		t.Errorf("%s: got code %v (error: %v), want %v", call, got, err, want)
		return false
	}
	return true
}

// must fails the test at once when err is not nil.
func must(t testing.TB, err error, call string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v (code %v)", call, err, provider.CodeOf(err))
	}
}

// mustInfo fails the test when a call that returned no error returned a nil
// value, which the contract forbids.
func mustInfo[T any](t testing.TB, v *T, err error, call string) *T {
	t.Helper()
	must(t, err, call)
	if v == nil {
		t.Fatalf("%s returned nil and no error; the contract says the result is never nil on success", call)
	}
	return v
}

// sameMap compares two string maps, treating nil and empty as equal.
func sameMap[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// badNames break provider.ValidateName in every way NameRule lists.
func badNames() []struct{ why, name string } {
	return []struct{ why, name string }{
		{"Empty", ""},
		{"TooShort", "ab"},
		{"TooLong", "a" + strings.Repeat("b", provider.MaxNameLen)},
		{"UpperCase", "Claims"},
		{"LeadingDigit", "1claims"},
		{"LeadingHyphen", "-claims"},
		{"TrailingHyphen", "claims-"},
		{"DoubleHyphen", "cl--aims"},
		{"Underscore", "cl_aims"},
		{"Dot", "cl.aims"},
		{"Space", "cl aims"},
		{"NonASCII", "clàims"},
	}
}

// runBad runs one subtest per bad input, named after what is wrong with it,
// and checks that call rejects it with InvalidArgument.
func runBad(t *testing.T, cases []struct{ why, name string }, call func(name string) error) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.why, func(t *testing.T) {
			checkCode(t, call(c.name), provider.InvalidArgument, fmt.Sprintf("input %q", c.name))
		})
	}
}

func providerTests() []test {
	return []test{
		{name: "KindIsNotEmpty", fn: func(t *testing.T, e *env) {
			if strings.TrimSpace(e.p.Kind()) == "" {
				t.Errorf("%T.Kind() is empty; it names the backend in errors, audit records and lineage", e.p)
			}
		}},
		{name: "RegionsAreNamed", fn: func(t *testing.T, e *env) {
			regions := e.p.Regions()
			if regions == nil {
				t.Fatalf("%T.Regions() is nil; a usable provider lists the regions it acts in", e.p)
			}
			seen := map[string]bool{}
			for i, r := range regions {
				if r.Name == "" || r.Cloud == "" {
					t.Errorf("Regions()[%d] = %+v: Name and Cloud are how residency rules look a region up; both must be set", i, r)
				}
				if seen[r.Name] {
					t.Errorf("Regions() lists %q twice", r.Name)
				}
				seen[r.Name] = true
			}
			if e.o.Region != "" {
				if _, ok := provider.HasRegion(e.p, e.o.Region); !ok {
					t.Errorf("Options.Region %q is not one of the provider's regions", e.o.Region)
				}
			}
		}},
		{name: "CapabilitiesMatchClaims", fn: func(t *testing.T, e *env) {
			has := provider.Capabilities(e.p)
			for c := range e.claims {
				if !slices.Contains(has, c) {
					t.Errorf("harness claims %q but %T does not implement it", c, e.p)
				}
			}
			var unclaimed []string
			for _, c := range has {
				if !e.claims[c] {
					unclaimed = append(unclaimed, string(c))
				}
			}
			if len(unclaimed) > 0 {
				// A harness that claims less than its provider offers hides
				// the provider from the tests of what it left out: that is
				// an incomplete environment, which fails a required run.
				testenv.Missing(t, "%T implements %s but the harness does not claim it, so those tests did not run; claim every capability the provider has",
					e.p, strings.Join(unclaimed, ", "))
			}
		}},
	}
}
