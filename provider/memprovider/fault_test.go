package memprovider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

func codesOf(calls []Call) []provider.Code {
	out := make([]provider.Code, len(calls))
	for i, c := range calls {
		out[i] = c.Code
	}
	return out
}

func TestFaultNth(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	_, err := p.SubmitJob(ctx, jobSpec("train-nth"))
	mustOK(t, err)
	p.ResetCalls()
	p.InjectFault(Fault{Op: "GetJob", Nth: 2})
	var codes []provider.Code
	for range 4 {
		_, err := p.GetJob(ctx, "train-nth")
		codes = append(codes, provider.CodeOf(err))
	}
	want := []provider.Code{provider.OK, provider.Unavailable, provider.OK, provider.OK}
	if !slices.Equal(codes, want) {
		t.Fatalf("codes = %v, want %v", codes, want)
	}
	if got := codesOf(p.Calls()); !slices.Equal(got, want) {
		t.Fatalf("recorded codes = %v, want %v", got, want)
	}
	// Other operations do not count towards an Op's Nth.
	p.InjectFault(Fault{Op: "ListJobs", Nth: 1})
	_, err = p.GetJob(ctx, "train-nth")
	mustOK(t, err)
	_, err = p.ListJobs(ctx)
	wantCode(t, err, provider.Unavailable)
}

func TestFaultDefaultError(t *testing.T) {
	p := New(nil)
	p.InjectFault(Fault{Op: "ListEndpoints"})
	for range 2 {
		_, err := p.ListEndpoints(context.Background())
		wantCode(t, err, provider.Unavailable)
		if !strings.Contains(err.Error(), "ListEndpoints") || !provider.CodeOf(err).IsRetryable() {
			t.Fatalf("default fault error %q should name the operation and be retryable", err)
		}
	}
}

func TestFaultCustomErrorUnchanged(t *testing.T) {
	p := New(nil)
	sentinel := errors.New("throttled by the emulated cloud")
	p.InjectFault(Fault{Op: "GetEndpoint", Err: sentinel})
	_, err := p.GetEndpoint(context.Background(), "anything")
	if err != sentinel {
		t.Fatalf("got %v; want the injected error unchanged", err)
	}
	quota := provider.Errorf(provider.ResourceExhausted, "quota of 8 H100 reached")
	p.InjectFault(Fault{Op: "SubmitJob", Err: quota})
	_, err = p.SubmitJob(context.Background(), jobSpec("train-quota"))
	wantCode(t, err, provider.ResourceExhausted)
	if p.Counts().Jobs != 0 {
		t.Fatal("a failed submit left a job behind")
	}
}

func TestFaultBeforeEffectLeavesNothing(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	p.InjectFault(Fault{})
	content := contentOf(pattern(100))
	_, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope", Content: content})
	wantCode(t, err, provider.Unavailable)
	_, err = p.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "fraud-ep", Region: "westeurope"})
	wantCode(t, err, provider.Unavailable)
	_, err = p.CreateModelVersion(ctx, &provider.ModelVersionSpec{Model: "fraud", Version: "1", Region: "westeurope"})
	wantCode(t, err, provider.Unavailable)
	if c := p.Counts(); c != (Counts{}) {
		t.Fatalf("Counts = %+v after faults before the effect", c)
	}
	if content.Size() != 0 {
		t.Error("a put failed by a fault read its content")
	}
}

func TestFaultAfterEffect(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	remove := p.InjectFault(Fault{Op: "SubmitJob", Nth: 1, AfterEffect: true})
	defer remove()
	info, err := p.SubmitJob(ctx, jobSpec("train-lost"))
	wantCode(t, err, provider.Unavailable)
	if info != nil {
		t.Error("a lost response still carried the job")
	}
	if p.Counts().Jobs != 1 {
		t.Fatal("AfterEffect did not perform the submit")
	}
	// The client's retry meets the job it created.
	info, err = p.SubmitJob(ctx, jobSpec("train-lost"))
	wantCode(t, err, provider.AlreadyExists)
	if info == nil || info.Spec.Name != "train-lost" {
		t.Fatalf("retry returned %+v", info)
	}

	p.InjectFault(Fault{Op: "PutDataset", AfterEffect: true, Err: provider.Errorf(provider.DeadlineExceeded, "gateway timeout")})
	_, err = p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope", Content: contentOf(pattern(10))})
	wantCode(t, err, provider.DeadlineExceeded)
	if _, err := p.GetDataset(ctx, "claims", "1"); err != nil {
		t.Fatalf("AfterEffect did not store the dataset: %v", err)
	}
	calls := p.Calls()
	if last := calls[len(calls)-1]; last.Op != "GetDataset" || calls[len(calls)-2].Code != provider.DeadlineExceeded {
		t.Fatalf("calls = %v", calls)
	}
}

func TestFaultBeforeWinsOverAfter(t *testing.T) {
	p := New(nil)
	p.InjectFault(Fault{Op: "CreateEndpoint", AfterEffect: true})
	p.InjectFault(Fault{Op: "CreateEndpoint", Err: provider.Errorf(provider.PermissionDenied, "no")})
	_, err := p.CreateEndpoint(context.Background(), &provider.EndpointSpec{Name: "fraud-ep", Region: "westeurope"})
	wantCode(t, err, provider.PermissionDenied)
	if p.Counts().Endpoints != 0 {
		t.Fatal("the operation ran although a fault failed it before the effect")
	}
}

func TestFaultLatency(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	p.InjectFault(Fault{Op: "ListJobs", Latency: 30 * time.Millisecond})
	start := time.Now()
	_, err := p.ListJobs(ctx)
	mustOK(t, err)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("ListJobs took %v; the injected latency is 30ms", d)
	}

	p.InjectFault(Fault{Op: "CreateEndpoint", Latency: time.Hour})
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	start = time.Now()
	_, err = p.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "fraud-ep", Region: "westeurope"})
	if err != context.Canceled {
		t.Fatalf("got %v; want context.Canceled when the context ends during the latency", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the call waited %v despite the canceled context", d)
	}
	if p.Counts().Endpoints != 0 {
		t.Fatal("a call canceled during its latency created the endpoint")
	}
	calls := p.Calls()
	if last := calls[len(calls)-1]; last != (Call{Op: "CreateEndpoint", Target: "fraud-ep", Code: provider.Canceled}) {
		t.Fatalf("last call = %+v", last)
	}
}

func TestFaultLatencyWithError(t *testing.T) {
	p := New(nil)
	p.InjectFault(Fault{Op: "GetJob", Latency: 10 * time.Millisecond, Err: provider.Errorf(provider.Unavailable, "slow and broken")})
	start := time.Now()
	_, err := p.GetJob(context.Background(), "x")
	wantCode(t, err, provider.Unavailable)
	if time.Since(start) < 10*time.Millisecond {
		t.Fatal("the latency was not applied before the error")
	}
}

func TestFaultEveryOpNth(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	p.InjectFault(Fault{Nth: 3})
	_, err1 := p.ListJobs(ctx)
	_, err2 := p.ListEndpoints(ctx)
	_, err3 := p.Aliases(ctx, "fraud")
	_, err4 := p.ListJobs(ctx)
	if err1 != nil || err2 != nil || err4 != nil {
		t.Fatalf("unexpected errors %v %v %v", err1, err2, err4)
	}
	wantCode(t, err3, provider.Unavailable)
}

func TestFaultRemove(t *testing.T) {
	p := New(nil)
	remove := p.InjectFault(Fault{Op: "ListJobs"})
	_, err := p.ListJobs(context.Background())
	wantCode(t, err, provider.Unavailable)
	remove()
	remove()
	_, err = p.ListJobs(context.Background())
	mustOK(t, err)
}

func TestInjectFaultPanics(t *testing.T) {
	for name, f := range map[string]Fault{
		"UnknownOp":        {Op: "PutDatasets"},
		"ControlIsNotAnOp": {Op: "StartJob"},
		"NegativeNth":      {Nth: -1},
		"NegativeLatency":  {Latency: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("InjectFault accepted a fault that can never be meant")
				}
			}()
			New(nil).InjectFault(f)
		})
	}
}

func TestCanceledContextIsRecorded(t *testing.T) {
	p := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.GetDataset(ctx, "claims", "1")
	if err != context.Canceled {
		t.Fatalf("got %v; want context.Canceled unwrapped", err)
	}
	if calls := p.Calls(); len(calls) != 1 || calls[0].Code != provider.Canceled {
		t.Fatalf("calls = %+v", calls)
	}
}

func TestRecordedCalls(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	secret := "sv=2026-01-01&sig=SECRETSIGNATURE"
	payload := "PAYLOAD-BYTES-THAT-MUST-NOT-LEAK"
	md := map[string]string{"grant": secret}

	_, _ = p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope", Metadata: md, Content: contentOf([]byte(payload))})
	_, _ = p.UpdateDatasetMetadata(ctx, "claims", "1", md, "")
	_, _ = p.ListDatasets(ctx, "")
	spec := jobSpec("train-rec")
	spec.Env = map[string]string{"SAS": secret}
	spec.Metadata = md
	_, _ = p.SubmitJob(ctx, spec)
	_, _ = p.CreateModelVersion(ctx, &provider.ModelVersionSpec{Model: "fraud", Version: "1", Region: "westeurope", Metadata: md})
	_ = p.SetAlias(ctx, "fraud", "champion", "1")
	_, _ = p.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "fraud-ep", Region: "westeurope", Metadata: md})
	_, _ = p.CreateDeployment(ctx, &provider.DeploymentSpec{Endpoint: "fraud-ep", Name: "blue", Model: "fraud", ModelVersion: "1", Metadata: md})
	_, _ = p.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "fraud-ep", Traffic: map[string]int{"blue": 100}, Metadata: md})
	_, _ = p.GetDataset(ctx, "claims", "2")

	want := []Call{
		{"PutDataset", "claims@1", provider.OK},
		{"UpdateDatasetMetadata", "claims@1", provider.OK},
		{"ListDatasets", "", provider.OK},
		{"SubmitJob", "train-rec", provider.OK},
		{"CreateModelVersion", "fraud@1", provider.OK},
		{"SetAlias", "fraud/champion", provider.OK},
		{"CreateEndpoint", "fraud-ep", provider.OK},
		{"CreateDeployment", "fraud-ep/blue", provider.OK},
		{"UpdateEndpoint", "fraud-ep", provider.OK},
		{"GetDataset", "claims@2", provider.NotFound},
	}
	got := p.Calls()
	if !slices.Equal(got, want) {
		t.Fatalf("Calls() =\n%v\nwant\n%v", got, want)
	}
	dump := fmt.Sprintf("%+v %#v", got, got)
	for _, leak := range []string{"SECRETSIGNATURE", payload} {
		if strings.Contains(dump, leak) {
			t.Errorf("recorded calls contain %q", leak)
		}
	}
	got[0].Op = "changed"
	if p.Calls()[0].Op != "PutDataset" {
		t.Error("Calls returned the provider's own slice")
	}
	p.ResetCalls()
	if len(p.Calls()) != 0 {
		t.Fatal("ResetCalls kept calls")
	}
}
