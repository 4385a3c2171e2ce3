package providertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// jobSpec builds a complete spec, every field set, so that a provider that
// drops a field fails the round trip.
func (e *env) jobSpec(name string) *provider.JobSpec {
	spec := &provider.JobSpec{
		Name:    name,
		Region:  e.region,
		Image:   "registry.example.com/train@sha256:" + strings.Repeat("ab", 32),
		Command: []string{"python", "-m", "train"},
		Args:    []string{"--epochs", "3"},
		Env:     map[string]string{"SEED": "7", "MODE": "conformance"},
		GPUs:    1,
		Nodes:   1,
		Inputs: []provider.JobInput{{
			Name:    "train",
			URI:     "mem://conformance/datasets/claims/v1",
			Digest:  digestOf([]byte(name)),
			Dataset: "claims",
			Version: "v1",
		}},
		MaxDuration: 2 * time.Hour,
		Metadata:    map[string]string{"spec_digest": digestOf([]byte("spec " + name)), "principal": "conformance"},
	}
	if e.o.PrepareJob != nil {
		e.o.PrepareJob(spec)
		spec.Name, spec.Region = name, e.region
	}
	return spec
}

func cloneJobSpec(s *provider.JobSpec) provider.JobSpec {
	c := *s
	c.Command = slices.Clone(s.Command)
	c.Args = slices.Clone(s.Args)
	c.Env = cloneStrings(s.Env)
	c.Inputs = slices.Clone(s.Inputs)
	c.Metadata = cloneStrings(s.Metadata)
	return c
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

func (e *env) waitTerminal(t *testing.T, name string) *provider.JobInfo {
	t.Helper()
	return e.waitJob(t, name, "terminal", func(j *provider.JobInfo) bool { return j.State.Terminal() })
}

// checkSpec compares a job's spec with the one submitted.
func checkSpec(t *testing.T, call string, got, want provider.JobSpec) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: Spec = %+v\nwant the spec as submitted: %+v", call, got, want)
	}
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
			if info.Revision != first.Revision {
				t.Errorf("the existing job's Revision changed from %q to %q on a duplicate submit", first.Revision, info.Revision)
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
			if got.State != sub.State || got.Revision != sub.Revision || !got.Created.Equal(sub.Created) {
				t.Errorf("reopened provider sees state %s revision %q created %v, want %s %q %v",
					got.State, got.Revision, got.Created, sub.State, sub.Revision, sub.Created)
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
				if info.State != done.State || info.Revision != done.Revision || info.OutputURI != done.OutputURI || !info.Finished.Equal(done.Finished) {
					t.Errorf("%s CancelJob of an ended job returned %s revision %q, want it unchanged: %s revision %q",
						call, info.State, info.Revision, done.State, done.Revision)
				}
			}
			if got := e.mustGetJob(t, spec.Name); got.State != provider.JobSucceeded || got.Revision != done.Revision {
				t.Errorf("after CancelJob the succeeded job reads %s revision %q, want it unchanged", got.State, got.Revision)
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
			if info.Revision != sub.Revision || info.State != sub.State {
				t.Errorf("WatchJob(\"\") = %s revision %q, want the current job: %s %q", info.State, info.Revision, sub.State, sub.Revision)
			}
		}},
		{name: "WatchOtherRevisionReturnsAtOnce", needs: watch, fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			sub := e.mustSubmit(t, spec)
			ctx, cancel := e.waitCtx()
			defer cancel()
			info, err := e.watcher.WatchJob(ctx, spec.Name, sub.Revision+"-not-current")
			info = mustInfo(t, info, err, "WatchJob with a revision that is not the current one")
			if info.Revision != sub.Revision {
				t.Errorf("WatchJob returned revision %q, want the current %q", info.Revision, sub.Revision)
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
			go func() {
				info, err := e.watcher.WatchJob(ctx, spec.Name, sub.Revision)
				got <- result{info, err}
			}()
			select {
			case r := <-got:
				t.Fatalf("WatchJob at the current revision returned before anything changed: %v, %v", describeJob(r.info), r.err)
			case <-time.After(20 * time.Millisecond):
			}
			must(t, e.h.StartJob(e.ctx, e.p, spec.Name), "harness StartJob")
			r := <-got
			info := mustInfo(t, r.info, r.err, "WatchJob")
			if info.Revision == sub.Revision {
				t.Errorf("WatchJob returned the revision it was told to wait past (%q)", info.Revision)
			}
			if info.State != provider.JobRunning && !info.State.Terminal() {
				t.Errorf("WatchJob woke with state %s, want the started job", info.State)
			}
		}},
		{name: "WatchReturnsContextError", needs: watch, fn: func(t *testing.T, e *env) {
			spec := e.jobSpec(e.name("train"))
			sub := e.mustSubmit(t, spec)
			ctx, cancel := context.WithTimeout(e.ctx, 30*time.Millisecond)
			defer cancel()
			_, err := e.watcher.WatchJob(ctx, spec.Name, sub.Revision)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("WatchJob whose context timed out returned %v, want ctx.Err() (%v)", err, context.DeadlineExceeded)
			}
			checkCode(t, err, provider.DeadlineExceeded, "WatchJob whose context timed out")
			_, err = e.watcher.WatchJob(e.canceledCtx(), spec.Name, sub.Revision)
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
	if after := e.mustGetJob(t, existing.Name); after.State != before.State || after.Revision != before.Revision {
		t.Errorf("CancelJob with a done context changed the job: %s %q, was %s %q", after.State, after.Revision, before.State, before.Revision)
	}
}
