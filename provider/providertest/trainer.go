package providertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/secret"
)

// jobSpec builds a complete spec, every field set, so that a provider that
// drops a field fails the round trip. Its secrets — two SecretEnv values and
// the read grant of its input, held by another cloud — are fresh random
// text, so that the suite can look for them wherever they must not be.
func (e *env) jobSpec(name string) *provider.JobSpec {
	spec := &provider.JobSpec{
		Name:    name,
		Region:  e.region,
		Image:   "registry.example.com/train@sha256:" + strings.Repeat("ab", 32),
		Command: []string{"python", "-m", "train"},
		Args:    []string{"--epochs", "3"},
		Env:     map[string]string{"SEED": "7", "MODE": "conformance"},
		SecretEnv: map[string]secret.Secret{
			"TRACKER_API_KEY": secret.NewSecret("trk-" + randomToken()),
			"HF_TOKEN":        secret.NewSecret("hf-" + randomToken()),
		},
		GPUType: "H100",
		GPUs:    1,
		Nodes:   1,
		Inputs: []provider.JobInput{{
			Name:    "train",
			URI:     "https://store.example.com/datasets/claims/v1",
			Digest:  digestOf([]byte(name)),
			Dataset: "claims",
			Version: "v1",
			Grant: provider.Grant{
				URL:     secret.NewSecret("https://store.example.com/datasets/claims/v1?sp=r&se=2099-01-01T00%3A00%3A00Z&sig=" + randomToken()),
				Expires: time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second),
			},
		}},
		OutputURI:   "mem://conformance/outputs/" + name,
		MaxDuration: 2 * time.Hour,
		Metadata:    map[string]string{"spec_digest": digestOf([]byte("spec " + name)), "principal": "conformance"},
	}
	if e.o.PrepareJob != nil {
		e.o.PrepareJob(spec)
		spec.Name, spec.Region = name, e.region
	}
	return spec
}

// randomToken returns 32 random hex digits.
func randomToken() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("providertest: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

func cloneJobSpec(s *provider.JobSpec) provider.JobSpec {
	c := *s
	c.Command = slices.Clone(s.Command)
	c.Args = slices.Clone(s.Args)
	c.Env = cloneStrings(s.Env)
	c.SecretEnv = maps.Clone(s.SecretEnv)
	c.Inputs = slices.Clone(s.Inputs)
	c.Metadata = cloneStrings(s.Metadata)
	return c
}

// secretValue is one secret value of a job spec and where it came from; where
// names it in messages, which never show the value.
type secretValue struct{ where, value string }

// secretsOf lists the secret values in spec: its SecretEnv values and its
// inputs' grants.
func secretsOf(spec *provider.JobSpec) []secretValue {
	var out []secretValue
	for _, k := range slices.Sorted(maps.Keys(spec.SecretEnv)) {
		out = append(out, secretValue{"the value of SecretEnv " + k, spec.SecretEnv[k].Reveal()})
	}
	for _, in := range spec.Inputs {
		if !in.Grant.IsZero() {
			out = append(out, secretValue{"the read grant of input " + in.Name, in.Grant.URL.Reveal()})
		}
	}
	return out
}

// leak returns where the first of secrets that text holds came from — as it
// is, or escaped the way a URL, a query or JSON would carry it — or "".
func leak(text string, secrets []secretValue) string {
	for _, s := range secrets {
		if s.value == "" {
			continue
		}
		quoted, _ := json.Marshal(s.value)
		for _, form := range []string{s.value, url.QueryEscape(s.value), url.PathEscape(s.value), string(quoted[1 : len(quoted)-1])} {
			if strings.Contains(text, form) {
				return s.where
			}
		}
	}
	return ""
}

// renderings prints v every way a log line, an error or an API response
// would.
func renderings(v any) []string {
	js, _ := json.Marshal(v)
	return []string{fmt.Sprint(v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), string(js)}
}

// checkNoLeak reports each secret that any rendering of v holds.
func checkNoLeak(t *testing.T, what string, v any, secrets []secretValue) {
	t.Helper()
	for _, r := range renderings(v) {
		if where := leak(r, secrets); where != "" {
			t.Errorf("%s holds %s; a secret shows nowhere but where it is used", what, where)
			return
		}
	}
}

func (e *env) mustSubmit(t *testing.T, spec *provider.JobSpec) *provider.JobInfo {
	t.Helper()
	info, err := e.tr.SubmitJob(e.ctx, spec)
	return mustInfo(t, info, err, fmt.Sprintf("SubmitJob(%s)", spec.Name))
}

func (e *env) mustGetJob(t *testing.T, name string) *provider.JobInfo {
	t.Helper()
	info, err := e.tr.GetJob(e.ctx, name)
	return mustInfo(t, info, err, fmt.Sprintf("GetJob(%s)", name))
}

// startJob has the harness start the job's next run and waits until the
// provider reports it running.
func (e *env) startJob(t *testing.T, name string, attempt int) *provider.JobInfo {
	t.Helper()
	must(t, e.h.StartJob(e.ctx, e.p, name), fmt.Sprintf("harness StartJob(%s)", name))
	return e.waitJob(t, name, fmt.Sprintf("Running (attempt %d)", attempt), func(j *provider.JobInfo) bool {
		return j.State == provider.JobRunning && j.Attempts >= attempt || j.State.Terminal()
	})
}

// inspect has the harness read what the cloud holds for the job.
func (e *env) inspect(t *testing.T, name string) *JobView {
	t.Helper()
	view, err := e.inspector.InspectJob(e.ctx, e.p, name)
	return mustInfo(t, view, err, fmt.Sprintf("harness InspectJob(%s)", name))
}

func (e *env) waitTerminal(t *testing.T, name string) *provider.JobInfo {
	t.Helper()
	return e.waitJob(t, name, "terminal", func(j *provider.JobInfo) bool { return j.State.Terminal() })
}

// checkSpec compares a job's spec with the one submitted, field by field.
// Secrets are compared by name alone: the contract lets a driver echo
// SecretEnv and grants only as the redacting type, and a driver that reads
// its spec back from the cloud holds references to the secret store, not
// the values.
func checkSpec(t *testing.T, call string, got, want provider.JobSpec) {
	t.Helper()
	g, w := comparableSpec(got), comparableSpec(want)
	gv, wv := reflect.ValueOf(g), reflect.ValueOf(w)
	var differ []string
	for i := range gv.NumField() {
		if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			differ = append(differ, gv.Type().Field(i).Name)
		}
	}
	if len(differ) > 0 {
		t.Errorf("%s: Spec differs from the spec as submitted in %s:\ngot  %+v\nwant %+v", call, strings.Join(differ, ", "), g, w)
	}
}

// comparableSpec returns s with every secret value blanked and empty maps
// and slices made nil.
func comparableSpec(s provider.JobSpec) provider.JobSpec {
	s = cloneJobSpec(&s)
	for k := range s.SecretEnv {
		s.SecretEnv[k] = secret.Secret{}
	}
	for i := range s.Inputs {
		s.Inputs[i].Grant = provider.Grant{}
	}
	if len(s.SecretEnv) == 0 {
		s.SecretEnv = nil
	}
	if len(s.Env) == 0 {
		s.Env = nil
	}
	if len(s.Metadata) == 0 {
		s.Metadata = nil
	}
	if len(s.Inputs) == 0 {
		s.Inputs = nil
	}
	return s
}

func trainerTests() []test {
	watch := []provider.Capability{provider.CapJobWatch}
	logs := []provider.Capability{provider.CapJobLogs}
	return []test{
		{name: "SubmitThenGet", fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			want := cloneJobSpec(spec)
			sub := e.mustSubmit(t, spec)
			got := e.mustGetJob(t, spec.Name)
			for call, info := range map[string]*provider.JobInfo{"SubmitJob": sub, "GetJob": got} {
				checkSpec(t, call, info.Spec, want)
				if info.State.Terminal() || info.State == "" {
					t.Errorf("%s: a job nobody ran is in state %q, want %s or %s", call, info.State, provider.JobQueued, provider.JobRunning)
				}
				if info.Created.IsZero() || info.Revision == "" {
					t.Errorf("%s: Created %v, Revision %q; both must be set", call, info.Created, info.Revision)
				}
				if !info.Finished.IsZero() || info.OutputURI != "" {
					t.Errorf("%s: a job that has not ended has Finished %v and OutputURI %q", call, info.Finished, info.OutputURI)
				}
			}
		}},
		{name: "SecretEnvGoesToTheSecretStore", fn: func(t *testing.T, e *env) {
			e.needInspector(t)
			spec := e.jobSpec(e.name("train"))
			env := secretsOf(&provider.JobSpec{SecretEnv: spec.SecretEnv})
			e.mustSubmit(t, spec)
			view := e.inspect(t, spec.Name)
			for _, k := range slices.Sorted(maps.Keys(view.Env)) {
				if where := leak(k+"="+view.Env[k], env); where != "" {
					t.Errorf("the job's plain environment sets %s to %s; SecretEnv goes into the cloud's secret store, never into a plain job definition", k, where)
				}
			}
			if where := leak(view.Definition, env); where != "" {
				t.Errorf("the job's stored definition holds %s; it may name the secret, never hold its value", where)
			}
			for _, k := range slices.Sorted(maps.Keys(spec.SecretEnv)) {
				if got, ok := view.Secrets[k]; !ok || got != spec.SecretEnv[k].Reveal() {
					t.Errorf("SecretEnv %s does not reach the job from the cloud's secret store (found: %v); the job would run without it", k, ok)
				}
			}
		}},
		{name: "GrantReachesJobAsSecret", fn: func(t *testing.T, e *env) {
			e.needInspector(t)
			spec := e.jobSpec(e.name("train"))
			grants := secretsOf(&provider.JobSpec{Inputs: spec.Inputs})
			e.mustSubmit(t, spec)
			view := e.inspect(t, spec.Name)
			for _, k := range slices.Sorted(maps.Keys(view.Env)) {
				if where := leak(view.Env[k], grants); where != "" {
					t.Errorf("the job's plain environment sets %s to %s; a grant reaches the job as a secret", k, where)
				}
			}
			if where := leak(view.Definition, grants); where != "" {
				t.Errorf("the job's stored definition holds %s; a grant reaches the job as a secret", where)
			}
			for _, g := range grants {
				if !slices.Contains(slices.Collect(maps.Values(view.Secrets)), g.value) {
					t.Errorf("%s does not reach the job from the cloud's secret store; the job could not read its input", g.where)
				}
			}
		}},
		{name: "SecretsNeverInResultsLogsOrErrors", fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			secrets := secretsOf(spec)
			sub := e.mustSubmit(t, spec)
			checkNoLeak(t, "the JobInfo SubmitJob returned", sub, secrets)
			// A second spec under the same name, with other secrets: the
			// AlreadyExists error and the job it returns hold neither set.
			dup := e.jobSpec(spec.Name)
			both := append(secretsOf(dup), secrets...)
			info, err := e.tr.SubmitJob(e.ctx, dup)
			checkCode(t, err, provider.AlreadyExists, "SubmitJob of an existing name")
			if err != nil {
				checkNoLeak(t, "the error of SubmitJob of an existing name", err.Error(), both)
			}
			if info != nil {
				checkNoLeak(t, "the JobInfo of SubmitJob of an existing name", info, both)
			}
			bad := e.jobSpec(e.name("train"))
			bad.Region = e.otherRegion
			_, err = e.tr.SubmitJob(e.ctx, bad)
			checkCode(t, err, provider.InvalidArgument, fmt.Sprintf("SubmitJob in region %q", e.otherRegion))
			if err != nil {
				checkNoLeak(t, "the error of SubmitJob in an unknown region", err.Error(), secretsOf(bad))
			}
			e.startJob(t, spec.Name, 1)
			checkNoLeak(t, "the JobInfo GetJob returned", e.mustGetJob(t, spec.Name), secrets)
			list, err := e.tr.ListJobs(e.ctx)
			must(t, err, "ListJobs")
			for _, j := range list {
				if j != nil && j.Spec.Name == spec.Name {
					checkNoLeak(t, "the JobInfo ListJobs returned", j, secrets)
				}
			}
			if e.watcher != nil {
				w, err := e.watcher.WatchJob(e.ctx, spec.Name, "")
				checkNoLeak(t, "the JobInfo WatchJob returned", mustInfo(t, w, err, "WatchJob"), secrets)
			}
			if e.logger != nil {
				rc, err := e.logger.JobLogs(e.ctx, spec.Name)
				must(t, err, "JobLogs")
				if rc == nil {
					t.Fatal("JobLogs returned a nil reader and no error")
				}
				logs, err := io.ReadAll(rc)
				rc.Close()
				must(t, err, "reading the logs")
				if where := leak(string(logs), secrets); where != "" {
					t.Errorf("JobLogs holds %s; a driver never logs a secret", where)
				}
			}
			must(t, e.h.FailJob(e.ctx, e.p, spec.Name, "CUDA out of memory"), "harness FailJob")
			done := e.waitTerminal(t, spec.Name)
			checkNoLeak(t, "the JobInfo of the failed job", done, secrets)
			c, err := e.tr.CancelJob(e.ctx, spec.Name)
			checkNoLeak(t, "the JobInfo CancelJob returned", mustInfo(t, c, err, "CancelJob"), secrets)
		}},
		{name: "DuplicateSubmitReturnsExisting", fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			want := cloneJobSpec(spec)
			first := e.mustSubmit(t, spec)
			other := e.jobSpec(spec.Name)
			other.Args = []string{"--epochs", "99"}
			other.Metadata["spec_digest"] = "sha256:other"
			info, err := e.tr.SubmitJob(e.ctx, other)
			checkCode(t, err, provider.AlreadyExists, "SubmitJob of an existing name")
			if info == nil {
				t.Fatal("SubmitJob of an existing name returned no *JobInfo; the contract returns the existing job with AlreadyExists")
			}
			checkSpec(t, "SubmitJob of an existing name", info.Spec, want)
			// Not the Revision: a controller writing status may have changed
			// it; what a duplicate submit must not change is the job.
			if info.State != first.State || !info.Created.Equal(first.Created) || info.Attempts != first.Attempts {
				t.Errorf("a duplicate submit returned the job %s created %v after %d attempts, want it unchanged: %s %v %d",
					info.State, info.Created, info.Attempts, first.State, first.Created, first.Attempts)
			}
			checkSpec(t, "GetJob after a duplicate submit", e.mustGetJob(t, spec.Name).Spec, want)
		}},
		{name: "GetMissingIsNotFound", fn: func(t *testing.T, e *env) {
			_, err := e.tr.GetJob(e.ctx, e.name("missing"))
			checkCode(t, err, provider.NotFound, "GetJob of an unknown job")
		}},
		{name: "CancelMissingIsNotFound", fn: func(t *testing.T, e *env) {
			_, err := e.tr.CancelJob(e.ctx, e.name("missing"))
			checkCode(t, err, provider.NotFound, "CancelJob of an unknown job")
		}},
		{name: "UnknownRegionIsInvalidArgument", fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			spec.Region = e.otherRegion
			_, err := e.tr.SubmitJob(e.ctx, spec)
			checkCode(t, err, provider.InvalidArgument, fmt.Sprintf("SubmitJob in region %q", e.otherRegion))
			_, err = e.tr.GetJob(e.ctx, spec.Name)
			checkCode(t, err, provider.NotFound, "GetJob after a rejected submit")
			// The name stays free.
			e.mustSubmit(t, e.jobSpec(spec.Name))
		}},
		{name: "Reattach", fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			want := cloneJobSpec(spec)
			sub := e.mustSubmit(t, spec)
			p2, err := e.h.Reopen(e.ctx, e.p)
			must(t, err, "harness Reopen")
			tr2, ok := p2.(provider.Trainer)
			if !ok {
				t.Fatalf("the reopened provider %T is not a provider.Trainer", p2)
			}
			got, err := tr2.GetJob(e.ctx, spec.Name)
			got = mustInfo(t, got, err, "GetJob through the reopened provider")
			checkSpec(t, "GetJob through the reopened provider", got.Spec, want)
			if got.State != sub.State || got.Revision == "" || !got.Created.Equal(sub.Created) {
				t.Errorf("reopened provider sees state %s revision %q created %v, want %s, a revision and %v",
					got.State, got.Revision, got.Created, sub.State, sub.Created)
			}
			e.startJob(t, spec.Name, 1)
			got, err = tr2.GetJob(e.ctx, spec.Name)
			got = mustInfo(t, got, err, "GetJob through the reopened provider")
			if got.State != provider.JobRunning {
				t.Errorf("after the job started the reopened provider sees %s, want %s", got.State, provider.JobRunning)
			}
			list, err := tr2.ListJobs(e.ctx)
			must(t, err, "ListJobs through the reopened provider")
			if !slices.ContainsFunc(list, func(j *provider.JobInfo) bool { return j != nil && j.Spec.Name == spec.Name }) {
				t.Errorf("ListJobs through the reopened provider does not list %s", spec.Name)
			}
		}},
		{name: "Lifecycle", fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			sub := e.mustSubmit(t, spec)
			running := e.startJob(t, spec.Name, 1)
			if running.State != provider.JobRunning {
				t.Fatalf("after StartJob the job is %s (%q), want %s", running.State, running.Message, provider.JobRunning)
			}
			if running.Attempts != 1 {
				t.Errorf("Attempts = %d after the first start, want 1", running.Attempts)
			}
			if running.Started.IsZero() || running.Started.Before(sub.Created) {
				t.Errorf("Started = %v, want a time not before Created %v", running.Started, sub.Created)
			}
			if running.Revision == sub.Revision {
				t.Errorf("Revision %q did not change when the job started", running.Revision)
			}
			must(t, e.h.CompleteJob(e.ctx, e.p, spec.Name, ""), "harness CompleteJob")
			done := e.waitTerminal(t, spec.Name)
			if done.State != provider.JobSucceeded {
				t.Fatalf("after CompleteJob the job is %s (%q), want %s", done.State, done.Message, provider.JobSucceeded)
			}
			if done.OutputURI == "" {
				t.Error("OutputURI is empty on a succeeded job; it must say where the outputs are")
			}
			if spec.OutputURI != "" && done.OutputURI != spec.OutputURI {
				t.Errorf("OutputURI = %q on a succeeded job whose spec asked for %q; the job writes where its spec says", done.OutputURI, spec.OutputURI)
			}
			if done.Finished.IsZero() || done.Finished.Before(done.Started) {
				t.Errorf("Finished = %v, want a time not before Started %v", done.Finished, done.Started)
			}
			for _, j := range []*provider.JobInfo{sub, running, done} {
				if j.Progress < 0 || j.Progress > 1 {
					t.Errorf("Progress = %v in state %s; it is a fraction from 0 to 1", j.Progress, j.State)
				}
			}
			if done.Revision == running.Revision || done.Attempts != 1 {
				t.Errorf("after success: revision %q (was %q), attempts %d; want a new revision and 1 attempt", done.Revision, running.Revision, done.Attempts)
			}
		}},
		{name: "FailureWithoutRetries", fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			e.mustSubmit(t, spec)
			e.startJob(t, spec.Name, 1)
			must(t, e.h.FailJob(e.ctx, e.p, spec.Name, "CUDA out of memory"), "harness FailJob")
			done := e.waitTerminal(t, spec.Name)
			if done.State != provider.JobFailed || done.Attempts != 1 {
				t.Errorf("with MaxRetries 0 a failed run leaves the job %s after %d attempts, want %s after 1", done.State, done.Attempts, provider.JobFailed)
			}
			if !strings.Contains(done.Message, "CUDA out of memory") {
				t.Errorf("Message = %q, want it to say why the job failed (%q)", done.Message, "CUDA out of memory")
			}
			if done.Finished.IsZero() {
				t.Error("Finished is zero on a failed job")
			}
		}},
		{name: "RetryAfterFailure", fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			spec.MaxRetries = 1
			e.mustSubmit(t, spec)
			first := e.startJob(t, spec.Name, 1)
			must(t, e.h.FailJob(e.ctx, e.p, spec.Name, "node lost"), "harness FailJob")
			retry := e.waitJob(t, spec.Name, "queued for a retry", func(j *provider.JobInfo) bool {
				return j.State == provider.JobQueued || j.Attempts >= 2 || j.State.Terminal()
			})
			if retry.State.Terminal() {
				t.Fatalf("with MaxRetries 1 the first failure ended the job (%s, %q); it must be retried", retry.State, retry.Message)
			}
			if retry.Revision == first.Revision {
				t.Errorf("Revision %q did not change when the run failed", retry.Revision)
			}
			if retry.State == provider.JobQueued {
				retry = e.startJob(t, spec.Name, 2)
			}
			if retry.State != provider.JobRunning || retry.Attempts != 2 {
				t.Fatalf("the retry is %s after %d attempts, want %s after 2", retry.State, retry.Attempts, provider.JobRunning)
			}
			must(t, e.h.FailJob(e.ctx, e.p, spec.Name, "node lost again"), "harness FailJob")
			done := e.waitTerminal(t, spec.Name)
			if done.State != provider.JobFailed || done.Attempts != 2 {
				t.Errorf("after the retry failed too the job is %s after %d attempts, want %s after 2", done.State, done.Attempts, provider.JobFailed)
			}
			if !strings.Contains(done.Message, "node lost again") {
				t.Errorf("Message = %q, want the last failure (%q)", done.Message, "node lost again")
			}
		}},
		{name: "CancelQueuedJob", fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			e.mustSubmit(t, spec)
			info, err := e.tr.CancelJob(e.ctx, spec.Name)
			mustInfo(t, info, err, "CancelJob")
			done := e.waitTerminal(t, spec.Name)
			if done.State != provider.JobCanceled || done.Finished.IsZero() {
				t.Errorf("a canceled job ends %s with Finished %v, want %s and a time", done.State, done.Finished, provider.JobCanceled)
			}
		}},
		{name: "CancelRunningJob", fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			e.mustSubmit(t, spec)
			e.startJob(t, spec.Name, 1)
			info, err := e.tr.CancelJob(e.ctx, spec.Name)
			info = mustInfo(t, info, err, "CancelJob")
			if info.State == provider.JobSucceeded || info.State == provider.JobFailed {
				t.Errorf("CancelJob of a running job returned %s", info.State)
			}
			if done := e.waitTerminal(t, spec.Name); done.State != provider.JobCanceled {
				t.Errorf("a canceled running job ends %s, want %s", done.State, provider.JobCanceled)
			}
		}},
		{name: "CancelEndedJobUnchanged", fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			e.mustSubmit(t, spec)
			e.startJob(t, spec.Name, 1)
			must(t, e.h.CompleteJob(e.ctx, e.p, spec.Name, ""), "harness CompleteJob")
			done := e.waitTerminal(t, spec.Name)
			for _, call := range []string{"first", "second"} {
				info, err := e.tr.CancelJob(e.ctx, spec.Name)
				info = mustInfo(t, info, err, call+" CancelJob of a succeeded job")
				if info.State != done.State || info.Attempts != done.Attempts || info.OutputURI != done.OutputURI || !info.Finished.Equal(done.Finished) {
					t.Errorf("%s CancelJob of an ended job returned %s after %d attempts, output %q, finished %v; want it unchanged: %s %d %q %v",
						call, info.State, info.Attempts, info.OutputURI, info.Finished, done.State, done.Attempts, done.OutputURI, done.Finished)
				}
			}
			// Settle, so that a cancellation the provider wrongly accepted
			// has the time to show.
			must(t, e.settle(e.ctx), "waiting for the cloud")
			if got := e.mustGetJob(t, spec.Name); got.State != provider.JobSucceeded || !got.Finished.Equal(done.Finished) {
				t.Errorf("after CancelJob the succeeded job reads %s finished %v, want it unchanged", got.State, got.Finished)
			}
		}},
		{name: "ListOrder", fn: func(t *testing.T, e *env) {
			// Names in reverse of submission order, so that listing by name
			// is caught.
			names := []string{e.name("c"), e.name("b"), e.name("a")}
			slices.Sort(names)
			slices.Reverse(names)
			for _, n := range names {
				e.mustSubmit(t, e.jobSpec(n))
			}
			all, err := e.tr.ListJobs(e.ctx)
			must(t, err, "ListJobs")
			var ours []*provider.JobInfo
			for i, j := range all {
				if j == nil {
					t.Fatalf("ListJobs()[%d] is nil", i)
				}
				if slices.Contains(names, j.Spec.Name) {
					ours = append(ours, j)
				}
			}
			if len(ours) != len(names) {
				t.Fatalf("ListJobs lists %d of the %d jobs just submitted", len(ours), len(names))
			}
			for i := 1; i < len(ours); i++ {
				if ours[i].Created.Before(ours[i-1].Created) {
					t.Errorf("ListJobs is not ordered by creation time: %s (created %v) before %s (created %v)",
						ours[i-1].Spec.Name, ours[i-1].Created, ours[i].Spec.Name, ours[i].Created)
				}
			}
			if ours[0].Created.Before(ours[1].Created) && ours[1].Created.Before(ours[2].Created) {
				for i, j := range ours {
					if j.Spec.Name != names[i] {
						t.Errorf("ListJobs position %d is %s, want %s (submitted %s)", i, j.Spec.Name, names[i], []string{"first", "second", "third"}[i])
					}
				}
			}
		}},
		{name: "ReturnedValuesAreCopies", fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			want := cloneJobSpec(spec)
			mutate := func(j *provider.JobInfo) {
				j.Spec.Env["SEED"] = "mutated"
				if j.Spec.SecretEnv != nil {
					j.Spec.SecretEnv["MUTATED"] = secret.NewSecret("mutated")
				}
				j.Spec.Metadata["principal"] = "mutated"
				if len(j.Spec.Command) > 0 {
					j.Spec.Command[0] = "mutated"
				}
				if len(j.Spec.Inputs) > 0 {
					j.Spec.Inputs[0].URI = "mutated"
				}
			}
			mutate(e.mustSubmit(t, spec))
			got := e.mustGetJob(t, spec.Name)
			checkSpec(t, "GetJob after changing SubmitJob's result", got.Spec, want)
			mutate(got)
			list, err := e.tr.ListJobs(e.ctx)
			must(t, err, "ListJobs")
			for _, j := range list {
				if j != nil && j.Spec.Name == spec.Name {
					checkSpec(t, "ListJobs after changing GetJob's result", j.Spec, want)
					mutate(j)
				}
			}
			cancel, err := e.tr.CancelJob(e.ctx, spec.Name)
			cancel = mustInfo(t, cancel, err, "CancelJob")
			checkSpec(t, "CancelJob after changing ListJobs' result", cancel.Spec, want)
			mutate(cancel)
			checkSpec(t, "GetJob after changing CancelJob's result", e.mustGetJob(t, spec.Name).Spec, want)
		}},
		{name: "RequestIsNotRetained", fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			want := cloneJobSpec(spec)
			e.mustSubmit(t, spec)
			spec.Env["SEED"] = "mutated"
			spec.Metadata["principal"] = "mutated"
			spec.Command[0] = "mutated"
			spec.Args[0] = "mutated"
			spec.Inputs[0].Digest = "mutated"
			spec.SecretEnv["MUTATED"] = secret.NewSecret("mutated")
			checkSpec(t, "GetJob after changing the submitted spec", e.mustGetJob(t, spec.Name).Spec, want)
		}},
		{name: "InvalidNamesAreInvalidArgument", fn: func(t *testing.T, e *env) {
			runBad(t, badNames(), func(name string) error {
				spec := e.jobSpec(e.name("train"))
				spec.Name = name
				_, err := e.tr.SubmitJob(e.ctx, spec)
				return err
			})
		}},
		{name: "CanceledContext", fn: func(t *testing.T, e *env) {
			checkJobDoneContext(t, e, e.canceledCtx(), provider.Canceled)
		}},
		{name: "ExpiredContext", fn: func(t *testing.T, e *env) {
			checkJobDoneContext(t, e, e.expiredCtx(), provider.DeadlineExceeded)
		}},
		{name: "ConcurrentSubmitsOfOneNameOneWins", fn: func(t *testing.T, e *env) {
			name := e.name("train")
			specs := make([]*provider.JobSpec, e.o.Concurrency)
			for i := range specs {
				specs[i] = e.jobSpec(name)
				specs[i].Metadata["spec_digest"] = fmt.Sprint("sha256:", i)
			}
			infos := make([]*provider.JobInfo, len(specs))
			errs := concurrently(len(specs), func(i int) error {
				var err error
				infos[i], err = e.tr.SubmitJob(e.ctx, specs[i])
				return err
			})
			winner := checkOneWinner(t, errs, provider.AlreadyExists, "SubmitJob of one name")
			if winner < 0 {
				return
			}
			wantDigest := fmt.Sprint("sha256:", winner)
			for i, info := range infos {
				if info == nil {
					t.Errorf("SubmitJob call %d returned no *JobInfo (code %v)", i, provider.CodeOf(errs[i]))
				} else if info.Spec.Metadata["spec_digest"] != wantDigest {
					t.Errorf("SubmitJob call %d returned the spec of call %q, want the winner's (%d)", i, info.Spec.Metadata["spec_digest"], winner)
				}
			}
			if got := e.mustGetJob(t, name); got.Spec.Metadata["spec_digest"] != wantDigest {
				t.Errorf("the stored job has spec_digest %q, want the winner's %q", got.Spec.Metadata["spec_digest"], wantDigest)
			}
		}},
		{name: "ConcurrentUse", fn: func(t *testing.T, e *env) {
			const perWorker = 3
			names := make([][]string, e.o.Concurrency)
			for i := range names {
				for range perWorker {
					names[i] = append(names[i], e.name("train"))
				}
			}
			errs := concurrently(e.o.Concurrency, func(i int) error {
				for j, name := range names[i] {
					if _, err := e.tr.SubmitJob(e.ctx, e.jobSpec(name)); err != nil {
						return fmt.Errorf("SubmitJob(%s): %w", name, err)
					}
					if _, err := e.tr.GetJob(e.ctx, name); err != nil {
						return fmt.Errorf("GetJob(%s): %w", name, err)
					}
					if _, err := e.tr.ListJobs(e.ctx); err != nil {
						return fmt.Errorf("ListJobs: %w", err)
					}
					if j == 0 {
						if _, err := e.tr.CancelJob(e.ctx, name); err != nil {
							return fmt.Errorf("CancelJob(%s): %w", name, err)
						}
					}
				}
				return nil
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
				}
			}
			list, err := e.tr.ListJobs(e.ctx)
			must(t, err, "ListJobs")
			seen := map[string]int{}
			for _, j := range list {
				if j != nil {
					seen[j.Spec.Name]++
				}
			}
			for _, ns := range names {
				for _, n := range ns {
					if seen[n] != 1 {
						t.Errorf("ListJobs lists %s %d times, want once", n, seen[n])
					}
				}
			}
		}},
		{name: "WatchEmptyRevisionReturnsAtOnce", needs: watch, fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			sub := e.mustSubmit(t, spec)
			ctx, cancel := e.waitCtx()
			defer cancel()
			info, err := e.watcher.WatchJob(ctx, spec.Name, "")
			info = mustInfo(t, info, err, "WatchJob with an empty revision")
			if info.Spec.Name != spec.Name || info.State != sub.State || info.Revision == "" {
				t.Errorf("WatchJob(\"\") = %s %s revision %q, want the current job: %s %s and its revision", info.Spec.Name, info.State, info.Revision, spec.Name, sub.State)
			}
		}},
		{name: "WatchOtherRevisionReturnsAtOnce", needs: watch, fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			sub := e.mustSubmit(t, spec)
			ctx, cancel := e.waitCtx()
			defer cancel()
			other := sub.Revision + "-not-current"
			info, err := e.watcher.WatchJob(ctx, spec.Name, other)
			info = mustInfo(t, info, err, "WatchJob with a revision that is not the current one")
			if info.Revision == other || info.State != sub.State {
				t.Errorf("WatchJob returned %s revision %q, want the current job (%s) at its current revision", info.State, info.Revision, sub.State)
			}
		}},
		{name: "WatchWakesOnChange", needs: watch, fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			sub := e.mustSubmit(t, spec)
			ctx, cancel := e.waitCtx()
			defer cancel()
			type result struct {
				info *provider.JobInfo
				err  error
			}
			got := make(chan result, 1)
			rev := sub.Revision
			// A controller writing status (a Kubernetes Job's conditions)
			// changes the revision without anything the suite did; a watch
			// that wakes for such a write is right, and the suite watches on
			// from the new revision, a bounded number of times.
			for round := 1; ; round++ {
				go func() {
					info, err := e.watcher.WatchJob(ctx, spec.Name, rev)
					got <- result{info, err}
				}()
				var r result
				select {
				case r = <-got:
				case <-time.After(20 * time.Millisecond):
				}
				if r.info == nil && r.err == nil {
					break
				}
				if r.err != nil || r.info.Revision == rev || r.info.State != sub.State || round == conflictRounds {
					t.Fatalf("WatchJob at the current revision %q returned before anything changed: %v, %v", rev, describeJob(r.info), r.err)
				}
				rev = r.info.Revision
			}
			must(t, e.h.StartJob(e.ctx, e.p, spec.Name), "harness StartJob")
			r := <-got
			info := mustInfo(t, r.info, r.err, "WatchJob")
			if info.Revision == rev {
				t.Errorf("WatchJob returned the revision it was told to wait past (%q)", info.Revision)
			}
			if info.State != provider.JobRunning && !info.State.Terminal() {
				t.Errorf("WatchJob woke with state %s, want the started job", info.State)
			}
		}},
		{name: "WatchReturnsContextError", needs: watch, fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			sub := e.mustSubmit(t, spec)
			rev := sub.Revision
			var err error
			// A watch may wake for a controller's write of status; the suite
			// watches on from there, a bounded number of times.
			for round := 1; ; round++ {
				ctx, cancel := context.WithTimeout(e.ctx, 30*time.Millisecond)
				var info *provider.JobInfo
				info, err = e.watcher.WatchJob(ctx, spec.Name, rev)
				cancel()
				if err != nil || info == nil || info.Revision == rev || info.State != sub.State || round == conflictRounds {
					break
				}
				rev = info.Revision
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("WatchJob whose context timed out returned %v, want ctx.Err() (%v)", err, context.DeadlineExceeded)
			}
			checkCode(t, err, provider.DeadlineExceeded, "WatchJob whose context timed out")
			_, err = e.watcher.WatchJob(e.canceledCtx(), spec.Name, rev)
			checkCode(t, err, provider.Canceled, "WatchJob with a canceled context")
		}},
		{name: "WatchMissingIsNotFound", needs: watch, fn: func(t *testing.T, e *env) {
			ctx, cancel := e.waitCtx()
			defer cancel()
			_, err := e.watcher.WatchJob(ctx, e.name("missing"), "")
			checkCode(t, err, provider.NotFound, "WatchJob of an unknown job")
		}},
		{name: "LogsReadable", needs: logs, fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			e.mustSubmit(t, spec)
			e.startJob(t, spec.Name, 1)
			rc, err := e.logger.JobLogs(e.ctx, spec.Name)
			must(t, err, "JobLogs")
			if rc == nil {
				t.Fatal("JobLogs returned a nil reader and no error")
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Errorf("reading the logs: %v", err)
			}
			if err := rc.Close(); err != nil {
				t.Errorf("closing the logs: %v", err)
			}
		}},
		{name: "LogsMissingIsNotFound", needs: logs, fn: func(t *testing.T, e *env) {
			rc, err := e.logger.JobLogs(e.ctx, e.name("missing"))
			if rc != nil {
				rc.Close()
			}
			checkCode(t, err, provider.NotFound, "JobLogs of an unknown job")
		}},
	}
}

// checkJobDoneContext calls every Trainer method with a done context and
// expects the context's code; nothing may be created or changed.
func checkJobDoneContext(t *testing.T, e *env, done context.Context, want provider.Code) {
	existing := e.jobSpec(e.name("train"))
	before := e.mustSubmit(t, existing)
	fresh := e.jobSpec(e.name("train"))
	_, err := e.tr.SubmitJob(done, fresh)
	checkCode(t, err, want, "SubmitJob")
	_, err = e.tr.GetJob(done, existing.Name)
	checkCode(t, err, want, "GetJob")
	_, err = e.tr.ListJobs(done)
	checkCode(t, err, want, "ListJobs")
	_, err = e.tr.CancelJob(done, existing.Name)
	checkCode(t, err, want, "CancelJob")
	if e.logger != nil {
		rc, err := e.logger.JobLogs(done, existing.Name)
		if rc != nil {
			rc.Close()
		}
		checkCode(t, err, want, "JobLogs")
	}
	if e.watcher != nil {
		_, err := e.watcher.WatchJob(done, existing.Name, "")
		checkCode(t, err, want, "WatchJob")
	}

	_, err = e.tr.GetJob(e.ctx, fresh.Name)
	checkCode(t, err, provider.NotFound, "GetJob of the job submitted with a done context")
	must(t, e.settle(e.ctx), "waiting for the cloud")
	if after := e.mustGetJob(t, existing.Name); after.State != before.State || after.Attempts != before.Attempts || !after.Finished.IsZero() {
		t.Errorf("CancelJob with a done context changed the job: %s after %d attempts, finished %v; was %s after %d", after.State, after.Attempts, after.Finished, before.State, before.Attempts)
	}
}
