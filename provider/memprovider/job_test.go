package memprovider

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

func jobSpec(name string) *provider.JobSpec {
	return &provider.JobSpec{
		Name: name, Region: "EU-SOUTH-03", Image: "registry.example/train@sha256:" + strings.Repeat("ab", 32),
		Command: []string{"python", "train.py"}, Env: map[string]string{"EPOCHS": "3"},
		GPUType: "H100", GPUs: 8, Nodes: 1,
		Inputs:   []provider.JobInput{{Name: "claims", URI: "mem://mem/datasets/claims/1", Dataset: "claims", Version: "1"}},
		Metadata: map[string]string{"spec_digest": "abc"},
	}
}

func getJob(t testing.TB, p *Provider, name string) *provider.JobInfo {
	t.Helper()
	info, err := p.GetJob(context.Background(), name)
	mustOK(t, err)
	return info
}

func TestJobLifecycle(t *testing.T) {
	p, clock := newFake(t, nil)
	ctx := context.Background()
	info, err := p.SubmitJob(ctx, jobSpec("train-fraud"))
	mustOK(t, err)
	if info.State != provider.JobQueued || info.Attempts != 0 || info.Revision == "" || !info.Created.Equal(epoch) || !info.Started.IsZero() {
		t.Fatalf("after submit: %+v", info)
	}
	revs := map[string]bool{info.Revision: true}
	step := func(what string, f func() error) *provider.JobInfo {
		t.Helper()
		mustOK(t, f())
		info := getJob(t, p, "train-fraud")
		if revs[info.Revision] {
			t.Fatalf("%s: revision %q was seen before; it must change on every change", what, info.Revision)
		}
		revs[info.Revision] = true
		return info
	}

	clock.Advance(time.Minute)
	info = step("start", func() error { return p.StartJob("train-fraud") })
	if info.State != provider.JobRunning || info.Attempts != 1 || !info.Started.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("after start: %+v", info)
	}
	info = step("progress", func() error { return p.SetJobProgress("train-fraud", 0.5) })
	if info.Progress != 0.5 {
		t.Fatalf("Progress = %v", info.Progress)
	}
	// Reporting the same progress changes nothing, so the revision stays.
	mustOK(t, p.SetJobProgress("train-fraud", 0.5))
	if same := getJob(t, p, "train-fraud"); same.Revision != info.Revision {
		t.Error("revision changed although nothing did")
	}
	clock.Advance(time.Hour)
	info = step("complete", func() error { return p.CompleteJob("train-fraud", "") })
	if info.State != provider.JobSucceeded || info.Progress != 1 || info.OutputURI != "mem://mem/jobs/train-fraud/outputs" || !info.Finished.Equal(epoch.Add(61*time.Minute)) {
		t.Fatalf("after complete: %+v", info)
	}

	wantCode(t, p.StartJob("train-fraud"), provider.FailedPrecondition)
	wantCode(t, p.CompleteJob("train-fraud", ""), provider.FailedPrecondition)
	wantCode(t, p.FailJob("train-fraud", "late"), provider.FailedPrecondition)
	wantCode(t, p.SetJobProgress("train-fraud", 0.1), provider.FailedPrecondition)
	if after := getJob(t, p, "train-fraud"); after.Revision != info.Revision {
		t.Error("a refused control changed the job")
	}
}

func TestJobOutputURI(t *testing.T) {
	p := New(&Options{Name: "lab"})
	ctx := context.Background()
	for _, tc := range []struct{ specURI, arg, want string }{
		{"", "", "mem://lab/jobs/out-default/outputs"},
		{"mem://lab/custom", "", "mem://lab/custom"},
		{"mem://lab/custom", "mem://lab/actual", "mem://lab/actual"},
	} {
		name := "out-default"
		if tc.specURI != "" {
			name = "out-spec"
			if tc.arg != "" {
				name = "out-arg"
			}
		}
		spec := jobSpec(name)
		spec.OutputURI = tc.specURI
		_, err := p.SubmitJob(ctx, spec)
		mustOK(t, err)
		// Completing straight from Queued counts one run.
		mustOK(t, p.CompleteJob(name, tc.arg))
		info := getJob(t, p, name)
		if info.OutputURI != tc.want || info.Attempts != 1 || info.Started.IsZero() {
			t.Errorf("%s: OutputURI %q attempts %d started %v; want %q, 1, set", name, info.OutputURI, info.Attempts, info.Started, tc.want)
		}
	}
}

func TestJobRetries(t *testing.T) {
	p, _ := newFake(t, nil)
	spec := jobSpec("train-retry")
	spec.MaxRetries = 2
	_, err := p.SubmitJob(context.Background(), spec)
	mustOK(t, err)
	for attempt := 1; attempt <= 3; attempt++ {
		mustOK(t, p.StartJob("train-retry"))
		mustOK(t, p.SetJobProgress("train-retry", 0.7))
		mustOK(t, p.FailJob("train-retry", "CUDA out of memory"))
		info := getJob(t, p, "train-retry")
		if info.Attempts != attempt {
			t.Fatalf("attempt %d: Attempts = %d", attempt, info.Attempts)
		}
		if attempt < 3 {
			if info.State != provider.JobQueued || info.Progress != 0 || !strings.Contains(info.Message, "CUDA out of memory") || !info.Finished.IsZero() {
				t.Fatalf("attempt %d: want a retry, got %+v", attempt, info)
			}
			continue
		}
		if info.State != provider.JobFailed || info.Message != "CUDA out of memory" || info.Finished.IsZero() {
			t.Fatalf("after the last attempt: %+v", info)
		}
	}
}

func TestFailQueuedJobCountsAnAttempt(t *testing.T) {
	p, _ := newFake(t, nil)
	_, err := p.SubmitJob(context.Background(), jobSpec("train-pull"))
	mustOK(t, err)
	mustOK(t, p.FailJob("train-pull", "image pull failed"))
	info := getJob(t, p, "train-pull")
	if info.State != provider.JobFailed || info.Attempts != 1 || info.Message != "image pull failed" {
		t.Fatalf("failing a queued job without retries: %+v", info)
	}
}

func TestJobDurationRetryRestarts(t *testing.T) {
	p, clock := newFake(t, &Options{JobDuration: 10 * time.Minute})
	spec := jobSpec("train-auto")
	spec.MaxRetries = 1
	info, err := p.SubmitJob(context.Background(), spec)
	mustOK(t, err)
	if info.State != provider.JobRunning || info.Attempts != 1 || !info.Started.Equal(epoch) {
		t.Fatalf("with JobDuration a job runs on submission: %+v", info)
	}
	clock.Advance(4 * time.Minute)
	mustOK(t, p.FailJob("train-auto", "node lost"))
	info = getJob(t, p, "train-auto")
	if info.State != provider.JobRunning || info.Attempts != 2 || !strings.Contains(info.Message, "node lost") {
		t.Fatalf("a retry restarts at once with JobDuration: %+v", info)
	}
	// JobDuration counts from the retry's start, not the first start.
	clock.Advance(10*time.Minute - time.Nanosecond)
	if info = getJob(t, p, "train-auto"); info.State != provider.JobRunning {
		t.Fatalf("finished early: %+v", info)
	}
	clock.Advance(time.Nanosecond)
	info = getJob(t, p, "train-auto")
	if info.State != provider.JobSucceeded || !info.Finished.Equal(epoch.Add(14*time.Minute)) || !info.Started.Equal(epoch) {
		t.Fatalf("after JobDuration of the second run: %+v", info)
	}
}

// waitForWatcher returns once some goroutine waits on clock's next Advance.
func waitForWatcher(t *testing.T, clock *FakeClock) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		clock.mu.Lock()
		waiting := clock.advanced != nil
		clock.mu.Unlock()
		if waiting {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no watcher started waiting on the clock")
}

func TestJobDurationWakesWatcher(t *testing.T) {
	p, clock := newFake(t, &Options{JobDuration: time.Hour})
	info, err := p.SubmitJob(context.Background(), jobSpec("train-watch"))
	mustOK(t, err)
	type result struct {
		info *provider.JobInfo
		err  error
	}
	done := make(chan result, 1)
	go func() {
		info, err := p.WatchJob(context.Background(), "train-watch", info.Revision)
		done <- result{info, err}
	}()
	waitForWatcher(t, clock)
	select {
	case r := <-done:
		t.Fatalf("WatchJob returned before anything changed: %+v, %v", r.info, r.err)
	default:
	}
	clock.Advance(59 * time.Minute)
	waitForWatcher(t, clock) // the watcher woke, found nothing new and waits again
	clock.Advance(time.Minute)
	select {
	case r := <-done:
		mustOK(t, r.err)
		if r.info.State != provider.JobSucceeded || !r.info.Finished.Equal(epoch.Add(time.Hour)) {
			t.Fatalf("watcher saw %+v", r.info)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Advance did not wake the watcher")
	}
}

func TestJobDurationRealClock(t *testing.T) {
	p := New(&Options{JobDuration: 30 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := p.SubmitJob(ctx, jobSpec("train-real"))
	mustOK(t, err)
	info, err = p.WatchJob(ctx, "train-real", info.Revision)
	mustOK(t, err)
	if info.State != provider.JobSucceeded {
		t.Fatalf("after waiting on the real clock: %+v", info)
	}
	if d := info.Finished.Sub(info.Started); d != 30*time.Millisecond {
		t.Errorf("Finished - Started = %v; want exactly JobDuration", d)
	}
}

func TestMaxDuration(t *testing.T) {
	for _, tc := range []struct {
		name        string
		jobDuration time.Duration
		advance     time.Duration
		want        provider.JobState
		finished    time.Duration
	}{
		{"AtTheLimitStillRuns", 0, 10 * time.Minute, provider.JobRunning, 0},
		{"PastTheLimitFails", 0, 10*time.Minute + time.Nanosecond, provider.JobFailed, 10 * time.Minute},
		{"LongAfterFailsAtTheLimit", 0, 3 * time.Hour, provider.JobFailed, 10 * time.Minute},
		{"FinishingAtTheLimitSucceeds", 10 * time.Minute, time.Hour, provider.JobSucceeded, 10 * time.Minute},
		{"FinishingBeforeSucceeds", 5 * time.Minute, time.Hour, provider.JobSucceeded, 5 * time.Minute},
		{"FinishingAfterFails", 20 * time.Minute, time.Hour, provider.JobFailed, 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, clock := newFake(t, &Options{JobDuration: tc.jobDuration})
			spec := jobSpec("train-bounded")
			spec.MaxDuration = 10 * time.Minute
			spec.MaxRetries = 3 // a timeout is final, as activeDeadlineSeconds is
			_, err := p.SubmitJob(context.Background(), spec)
			mustOK(t, err)
			if tc.jobDuration == 0 {
				mustOK(t, p.StartJob("train-bounded"))
			}
			clock.Advance(tc.advance)
			info := getJob(t, p, "train-bounded")
			if info.State != tc.want {
				t.Fatalf("state %s (%s); want %s", info.State, info.Message, tc.want)
			}
			if tc.finished != 0 && !info.Finished.Equal(epoch.Add(tc.finished)) {
				t.Errorf("Finished = %v; want %v after the start", info.Finished.Sub(epoch), tc.finished)
			}
			if tc.want == provider.JobFailed && (!strings.Contains(info.Message, "MaxDuration") || info.Attempts != 1) {
				t.Errorf("a timed-out job: message %q, attempts %d", info.Message, info.Attempts)
			}
		})
	}
}

func TestMaxDurationWakesWatcher(t *testing.T) {
	p, clock := newFake(t, nil)
	spec := jobSpec("train-timeout")
	spec.MaxDuration = time.Minute
	_, err := p.SubmitJob(context.Background(), spec)
	mustOK(t, err)
	mustOK(t, p.StartJob("train-timeout"))
	rev := getJob(t, p, "train-timeout").Revision
	done := make(chan *provider.JobInfo, 1)
	go func() {
		info, err := p.WatchJob(context.Background(), "train-timeout", rev)
		if err != nil {
			t.Error(err)
		}
		done <- info
	}()
	waitForWatcher(t, clock)
	clock.Advance(2 * time.Minute)
	select {
	case info := <-done:
		if info == nil || info.State != provider.JobFailed {
			t.Fatalf("watcher saw %+v", info)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Advance past MaxDuration did not wake the watcher")
	}
}

func TestCancelJob(t *testing.T) {
	p, clock := newFake(t, nil)
	ctx := context.Background()
	_, err := p.SubmitJob(ctx, jobSpec("train-cancel"))
	mustOK(t, err)
	mustOK(t, p.StartJob("train-cancel"))
	clock.Advance(time.Second)
	info, err := p.CancelJob(ctx, "train-cancel")
	mustOK(t, err)
	if info.State != provider.JobCanceled || !info.Finished.Equal(epoch.Add(time.Second)) {
		t.Fatalf("after cancel: %+v", info)
	}
	again, err := p.CancelJob(ctx, "train-cancel")
	mustOK(t, err)
	if again.Revision != info.Revision || again.State != provider.JobCanceled {
		t.Fatalf("cancelling a canceled job changed it: %+v", again)
	}
	wantCode(t, p.CompleteJob("train-cancel", ""), provider.FailedPrecondition)

	_, err = p.SubmitJob(ctx, jobSpec("train-done"))
	mustOK(t, err)
	mustOK(t, p.CompleteJob("train-done", ""))
	done := getJob(t, p, "train-done")
	info, err = p.CancelJob(ctx, "train-done")
	mustOK(t, err)
	if info.State != provider.JobSucceeded || info.Revision != done.Revision {
		t.Fatalf("cancelling a finished job changed it: %+v", info)
	}
	_, err = p.CancelJob(ctx, "train-nothing")
	wantCode(t, err, provider.NotFound)
}

func TestSubmitJobDuplicate(t *testing.T) {
	p, _ := newFake(t, nil)
	ctx := context.Background()
	first, err := p.SubmitJob(ctx, jobSpec("train-once"))
	mustOK(t, err)
	other := jobSpec("train-once")
	other.GPUs = 2
	other.Image = "other"
	info, err := p.SubmitJob(ctx, other)
	wantCode(t, err, provider.AlreadyExists)
	if info == nil || info.Spec.GPUs != 8 || info.Revision != first.Revision {
		t.Fatalf("a duplicate submit must return the existing job; got %+v", info)
	}
	if c := p.Counts(); c.Jobs != 1 {
		t.Fatalf("Counts = %+v", c)
	}
}

func TestSubmitJobInvalid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*provider.JobSpec)
	}{
		{"BadName", func(s *provider.JobSpec) { s.Name = "Train" }},
		{"UnknownRegion", func(s *provider.JobSpec) { s.Region = "EU-MOON-01" }},
		{"TooManyGPUsPerNode", func(s *provider.JobSpec) { s.GPUs = 16 }},
		{"NegativeGPUs", func(s *provider.JobSpec) { s.GPUs = -1 }},
		{"NegativeNodes", func(s *provider.JobSpec) { s.Nodes = -1 }},
		{"NegativeMaxDuration", func(s *provider.JobSpec) { s.MaxDuration = -time.Second }},
		{"NegativeMaxRetries", func(s *provider.JobSpec) { s.MaxRetries = -1 }},
		{"BadMetadata", func(s *provider.JobSpec) { s.Metadata = map[string]string{"k": "line\nbreak"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(nil)
			spec := jobSpec("train-bad")
			tc.change(spec)
			info, err := p.SubmitJob(context.Background(), spec)
			wantCode(t, err, provider.InvalidArgument)
			if info != nil || p.Counts().Jobs != 0 {
				t.Fatal("a refused submit left a job or returned one")
			}
		})
	}
	t.Run("Nil", func(t *testing.T) {
		_, err := New(nil).SubmitJob(context.Background(), nil)
		wantCode(t, err, provider.InvalidArgument)
	})
	t.Run("RegionMessage", func(t *testing.T) {
		spec := jobSpec("train-bad")
		spec.Region = "US-EAST-99"
		_, err := New(&Options{Regions: []provider.Region{{Name: "EU-SOUTH-03", Cloud: "coreweave"}, {Name: "US-EAST-04", Cloud: "coreweave"}}}).SubmitJob(context.Background(), spec)
		for _, want := range []string{"US-EAST-99", "EU-SOUTH-03, US-EAST-04"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v does not mention %q", err, want)
			}
		}
	})
}

func TestJobInfoIsACopy(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	spec := jobSpec("train-copy")
	info, err := p.SubmitJob(ctx, spec)
	mustOK(t, err)
	spec.Command[0] = "rm"
	spec.Env["EPOCHS"] = "0"
	spec.Inputs[0].URI = "elsewhere"
	spec.Metadata["spec_digest"] = "forged"
	info.Spec.Args = append(info.Spec.Args, "--evil")
	info.Spec.Env["X"] = "y"
	got := getJob(t, p, "train-copy")
	if got.Spec.Command[0] != "python" || got.Spec.Env["EPOCHS"] != "3" || len(got.Spec.Env) != 1 ||
		got.Spec.Inputs[0].URI != "mem://mem/datasets/claims/1" || got.Spec.Metadata["spec_digest"] != "abc" || len(got.Spec.Args) != 0 {
		t.Fatalf("the stored spec changed through a caller's value: %+v", got.Spec)
	}
}

func TestListJobsOrder(t *testing.T) {
	p, clock := newFake(t, nil)
	ctx := context.Background()
	for _, name := range []string{"zeta", "alpha", "mid"} {
		_, err := p.SubmitJob(ctx, jobSpec(name))
		mustOK(t, err)
		if name == "alpha" {
			clock.Advance(time.Second)
		}
	}
	jobs, err := p.ListJobs(ctx)
	mustOK(t, err)
	var names []string
	for _, j := range jobs {
		names = append(names, j.Spec.Name)
	}
	if strings.Join(names, " ") != "zeta alpha mid" {
		t.Fatalf("ListJobs order = %v; want creation order", names)
	}
}

func TestWatchJob(t *testing.T) {
	p, _ := newFake(t, nil)
	ctx := context.Background()
	info, err := p.SubmitJob(ctx, jobSpec("train-w"))
	mustOK(t, err)

	t.Run("EmptyRevisionReturnsAtOnce", func(t *testing.T) {
		got, err := p.WatchJob(ctx, "train-w", "")
		mustOK(t, err)
		if got.Revision != info.Revision {
			t.Fatalf("got revision %q, want %q", got.Revision, info.Revision)
		}
	})
	t.Run("StaleRevisionReturnsAtOnce", func(t *testing.T) {
		got, err := p.WatchJob(ctx, "train-w", "not-a-revision")
		mustOK(t, err)
		if got.Revision != info.Revision {
			t.Fatalf("got revision %q", got.Revision)
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		go func() {
			time.Sleep(20 * time.Millisecond)
			cancel()
		}()
		got, err := p.WatchJob(ctx, "train-w", info.Revision)
		if err != context.Canceled || got != nil {
			t.Fatalf("WatchJob = %v, %v; want nil and context.Canceled unwrapped", got, err)
		}
	})
	t.Run("Deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := p.WatchJob(ctx, "train-w", info.Revision)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WatchJob = %v; want DeadlineExceeded", err)
		}
	})
	t.Run("WakesOnChange", func(t *testing.T) {
		done := make(chan *provider.JobInfo, 1)
		go func() {
			got, err := p.WatchJob(ctx, "train-w", info.Revision)
			if err != nil {
				t.Error(err)
			}
			done <- got
		}()
		time.Sleep(10 * time.Millisecond)
		mustOK(t, p.StartJob("train-w"))
		select {
		case got := <-done:
			if got.State != provider.JobRunning {
				t.Fatalf("watcher saw %+v", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("StartJob did not wake the watcher")
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		_, err := p.WatchJob(ctx, "train-none", "1")
		wantCode(t, err, provider.NotFound)
	})
}

func TestJobLogs(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	_, err := p.SubmitJob(ctx, jobSpec("train-logs"))
	mustOK(t, err)
	rev := getJob(t, p, "train-logs").Revision
	mustOK(t, p.AppendJobLog("train-logs", "epoch 1 loss 0.9\n"))
	early, err := p.JobLogs(ctx, "train-logs")
	mustOK(t, err)
	mustOK(t, p.AppendJobLog("train-logs", "epoch 2 loss 0.5\n"))
	b, err := io.ReadAll(early)
	mustOK(t, err)
	if string(b) != "epoch 1 loss 0.9\n" {
		t.Fatalf("early reader = %q; it should hold the logs as they were when opened", b)
	}
	late, err := p.JobLogs(ctx, "train-logs")
	mustOK(t, err)
	b, _ = io.ReadAll(late)
	if string(b) != "epoch 1 loss 0.9\nepoch 2 loss 0.5\n" {
		t.Fatalf("logs = %q", b)
	}
	if getJob(t, p, "train-logs").Revision != rev {
		t.Error("appending logs changed the revision; logs are not part of JobInfo")
	}
	_, err = p.JobLogs(ctx, "train-none")
	wantCode(t, err, provider.NotFound)
}

func TestJobControlsErrors(t *testing.T) {
	p := New(nil)
	for name, call := range map[string]func() error{
		"StartJob":       func() error { return p.StartJob("nothing") },
		"SetJobProgress": func() error { return p.SetJobProgress("nothing", 0.5) },
		"AppendJobLog":   func() error { return p.AppendJobLog("nothing", "x") },
		"CompleteJob":    func() error { return p.CompleteJob("nothing", "") },
		"FailJob":        func() error { return p.FailJob("nothing", "x") },
	} {
		t.Run(name+"NotFound", func(t *testing.T) { wantCode(t, call(), provider.NotFound) })
	}
	_, err := p.SubmitJob(context.Background(), jobSpec("train-ctl"))
	mustOK(t, err)
	wantCode(t, p.SetJobProgress("train-ctl", 0.5), provider.FailedPrecondition) // still Queued
	mustOK(t, p.StartJob("train-ctl"))
	wantCode(t, p.StartJob("train-ctl"), provider.FailedPrecondition)
	for _, bad := range []float64{-0.1, 1.1} {
		wantCode(t, p.SetJobProgress("train-ctl", bad), provider.InvalidArgument)
	}
}
