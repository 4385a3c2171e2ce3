package azure_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/azure"
	"github.com/tideline-ml/tideline/provider/azure/azuretest"
)

// tokenLog hands out the contract server's tokens and remembers them, so
// that a test can look for them in errors.
type tokenLog struct {
	inner  azcore.TokenCredential
	mu     sync.Mutex
	issued []string
}

func (c *tokenLog) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	t, err := c.inner.GetToken(ctx, o)
	c.mu.Lock()
	c.issued = append(c.issued, t.Token)
	c.mu.Unlock()
	return t, err
}

func (c *tokenLog) check(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tok := range c.issued {
		if strings.Contains(err.Error(), tok) {
			t.Errorf("the error %q holds a bearer token", err)
		}
	}
	if strings.Contains(err.Error(), "azuretest.") {
		t.Errorf("the error %q holds what looks like a bearer token", err)
	}
}

// servingEnv is a Workspace over the contract server for Resource Manager
// and Azurite for its storage account.
type servingEnv struct {
	srv    *azuretest.Server
	tokens *tokenLog
	cfg    azure.Config
	w      *azure.Workspace
}

func newServingEnv(t testing.TB, opts azuretest.Options) *servingEnv {
	t.Helper()
	accountURL := azurite(t)
	srv := azuretest.NewServer(opts)
	t.Cleanup(srv.Close)
	tokens := &tokenLog{inner: srv.Credential()}
	o := srv.Options()
	cfg := azure.Config{
		AccountURL: accountURL, Container: newContainer(t, accountURL), Region: "westeurope",
		SharedKey: sharedKey(t), Credential: tokens,
		SubscriptionID: o.SubscriptionID, ResourceGroup: o.ResourceGroup, Workspace: o.Workspace,
		ARMEndpoint: srv.URL, ClientOptions: srv.ClientOptions(), PollInterval: 5 * time.Millisecond,
		BlockSize: 256 << 10,
	}
	w, err := azure.NewWorkspace(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &servingEnv{srv: srv, tokens: tokens, cfg: cfg, w: w}
}

// blueGreen makes an endpoint with ready deployments blue (all traffic)
// and green.
func (e *servingEnv) blueGreen(t *testing.T, ep string) *provider.EndpointInfo {
	t.Helper()
	ctx := t.Context()
	if _, err := e.w.CreateEndpoint(ctx, &provider.EndpointSpec{Name: ep, Region: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"blue", "green"} {
		if _, err := e.w.CreateDeployment(ctx, &provider.DeploymentSpec{Endpoint: ep, Name: d, Model: "fraud", ModelVersion: "3", Instances: 1}); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.SetDeploymentReady(ep, d); err != nil {
			t.Fatal(err)
		}
	}
	info, err := e.w.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 100}})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestServingConditionalUpdatesOneWins(t *testing.T) {
	e := newServingEnv(t, azuretest.Options{})
	first := e.blueGreen(t, "scoring")
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = e.w.UpdateEndpoint(t.Context(), &provider.EndpointUpdate{Endpoint: "scoring",
				Traffic: map[string]int{"blue": 100 - 10*(i+1), "green": 10 * (i + 1)}, IfMatch: first.ETag})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		e.tokens.check(t, err)
		switch provider.CodeOf(err) {
		case provider.OK:
			if winner >= 0 {
				t.Errorf("updates %d and %d both succeeded with the same ETag", winner, i)
			}
			winner = i
		case provider.Conflict:
		default:
			t.Errorf("update %d: %v, want OK or Conflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no update succeeded")
	}
	got, err := e.w.GetEndpoint(t.Context(), "scoring")
	if err != nil {
		t.Fatal(err)
	}
	if got.Traffic["green"] != 10*(winner+1) || got.ETag == first.ETag {
		t.Errorf("endpoint traffic %v etag %s; want the winner's split (green %d) and a new ETag", got.Traffic, got.ETag, 10*(winner+1))
	}
}

func TestServingConcurrentUpdatesLoseNothing(t *testing.T) {
	e := newServingEnv(t, azuretest.Options{})
	e.blueGreen(t, "scoring")
	const n = 8
	splits := make([]map[string]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		splits[i] = map[string]int{"blue": 100 - 5*i, "green": 5 * i}
		wg.Go(func() {
			<-start
			_, errs[i] = e.w.UpdateEndpoint(t.Context(), &provider.EndpointUpdate{Endpoint: "scoring",
				Traffic: splits[i], Metadata: map[string]string{fmt.Sprintf("writer_%d", i): "done", "last": fmt.Sprint(i)}})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	got, err := e.w.GetEndpoint(t.Context(), "scoring")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got.Metadata[fmt.Sprintf("writer_%d", i)] != "done" {
			t.Errorf("the metadata of update %d was lost: %v", i, got.Metadata)
		}
	}
	var last int
	fmt.Sscan(got.Metadata["last"], &last)
	if got.Traffic["green"] != splits[last]["green"] || got.Traffic["blue"] != splits[last]["blue"] {
		t.Errorf("traffic %v is not the split of the last writer (%d: %v)", got.Traffic, last, splits[last])
	}
}

func TestServingLongMetadataRoundTrips(t *testing.T) {
	e := newServingEnv(t, azuretest.Options{})
	long := strings.Repeat("é", 300) // 300 characters, 600 bytes
	spec := &provider.EndpointSpec{Name: "scoring", Region: "westeurope", Metadata: map[string]string{"note": long, "owner": "risk"}}
	created, err := e.w.CreateEndpoint(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if created.Metadata["note"] != long {
		t.Fatalf("CreateEndpoint returned note of %d bytes, want the 300 characters", len(created.Metadata["note"]))
	}
	body, _ := e.srv.OnlineEndpoint("scoring")
	tags := body["tags"].(map[string]any)
	if v := tags["note"].(string); len(v) > 256 || !strings.HasPrefix(v, "tideline-ref:") {
		t.Errorf("the tag holds %q; a value longer than 256 characters goes beside it", v)
	}
	longer := strings.Repeat("x", 300)
	if _, err := e.w.UpdateEndpoint(t.Context(), &provider.EndpointUpdate{Endpoint: "scoring", Metadata: map[string]string{"other": longer}}); err != nil {
		t.Fatal(err)
	}
	got, err := e.w.GetEndpoint(t.Context(), "scoring")
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata["note"] != long || got.Metadata["other"] != longer || got.Metadata["owner"] != "risk" {
		t.Errorf("metadata after an update: %v", got.Metadata)
	}
	list, err := e.w.ListEndpoints(t.Context())
	if err != nil || len(list) != 1 || list[0].Metadata["note"] != long || list[0].ETag != got.ETag {
		t.Errorf("ListEndpoints: %v, %v", list, err)
	}
	d, err := e.w.CreateDeployment(t.Context(), &provider.DeploymentSpec{Endpoint: "scoring", Name: "blue", Model: "fraud", ModelVersion: "1",
		Metadata: map[string]string{"note": longer}})
	if err != nil || d.Metadata["note"] != longer {
		t.Fatalf("CreateDeployment with a long value: %v", err)
	}
	gd, err := e.w.GetDeployment(t.Context(), "scoring", "blue")
	if err != nil || gd.Metadata["note"] != longer {
		t.Errorf("GetDeployment: %v", err)
	}
	// Too many keys for Azure's 50 tags: refused before anything is made.
	many := map[string]string{}
	for i := range 51 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	before := len(e.srv.Requests())
	_, err = e.w.CreateEndpoint(t.Context(), &provider.EndpointSpec{Name: "crowded", Region: "westeurope", Metadata: many})
	if provider.CodeOf(err) != provider.InvalidArgument {
		t.Errorf("51 metadata keys: %v, want InvalidArgument", err)
	}
	if after := len(e.srv.Requests()); after != before {
		t.Errorf("a refused create made %d calls to Resource Manager", after-before)
	}
}

func TestServingLROHonoursRetryAfter(t *testing.T) {
	e := newServingEnv(t, azuretest.Options{RetryAfter: 1})
	start := time.Now()
	if _, err := e.w.CreateEndpoint(t.Context(), &provider.EndpointSpec{Name: "scoring", Region: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("the create's operation said Retry-After: 1 and was followed in %v", d)
	}
	var polls int
	for _, r := range e.srv.Requests() {
		if strings.Contains(r.Path, "/mfeOperationsStatus/") {
			polls++
		}
	}
	if polls != 1 {
		t.Errorf("%d polls of the operation status, want 1 (the operation ends at its first poll)", polls)
	}
}

func TestServingDeleteFollowsOperation(t *testing.T) {
	e := newServingEnv(t, azuretest.Options{OperationPolls: 3})
	e.blueGreen(t, "scoring")
	if err := e.w.DeleteDeployment(t.Context(), "scoring", "green"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.w.GetDeployment(t.Context(), "scoring", "green"); provider.CodeOf(err) != provider.NotFound {
		t.Errorf("GetDeployment after DeleteDeployment returned: %v, want NotFound", err)
	}
	if err := e.w.DeleteEndpoint(t.Context(), "scoring"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.srv.OnlineEndpoint("scoring"); ok {
		t.Error("the endpoint is still on the server after DeleteEndpoint returned")
	}
	if n := e.srv.PendingOperations(); n != 0 {
		t.Errorf("%d operations still pending", n)
	}
	if _, err := e.w.GetEndpoint(t.Context(), "scoring"); provider.CodeOf(err) != provider.NotFound {
		t.Errorf("GetEndpoint after delete: %v", err)
	}
	// The name is free again.
	if _, err := e.w.CreateEndpoint(t.Context(), &provider.EndpointSpec{Name: "scoring", Region: "westeurope"}); err != nil {
		t.Errorf("CreateEndpoint of the deleted name: %v", err)
	}
}

func TestServingThrottledThenSucceeds(t *testing.T) {
	e := newServingEnv(t, azuretest.Options{})
	e.srv.Inject("PUT onlineEndpoints/{name}", 1, azuretest.Fault{Kind: azuretest.FaultThrottle, RetryAfter: 1})
	start := time.Now()
	info, err := e.w.CreateEndpoint(t.Context(), &provider.EndpointSpec{Name: "scoring", Region: "westeurope"})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second {
		t.Error("the 429's Retry-After: 1 was not waited for")
	}
	if info.URI == "" || strings.Contains(info.URI, "?") {
		t.Errorf("endpoint URI %q", info.URI)
	}
}

func TestServingConnectionResetDuringDeploymentPut(t *testing.T) {
	e := newServingEnv(t, azuretest.Options{})
	if _, err := e.w.CreateEndpoint(t.Context(), &provider.EndpointSpec{Name: "scoring", Region: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	e.srv.Inject("PUT onlineEndpoints/{endpoint}/deployments/{name}", 1, azuretest.Fault{Kind: azuretest.FaultLoseResponse})
	d, err := e.w.CreateDeployment(t.Context(), &provider.DeploymentSpec{Endpoint: "scoring", Name: "blue", Model: "fraud", ModelVersion: "2", Instances: 2})
	if err != nil {
		t.Fatal(err)
	}
	if d.Instances != 2 || d.Model != "fraud" || d.ModelVersion != "2" || d.InstanceType != azure.DefaultInstanceType {
		t.Errorf("deployment %+v", d.DeploymentSpec)
	}
	if n := len(e.srv.OnlineDeployments("scoring")); n != 1 {
		t.Errorf("%d deployments after a retried PUT, want 1", n)
	}
	puts := 0
	for _, r := range e.srv.Requests() {
		if r.Route == "PUT onlineEndpoints/{endpoint}/deployments/{name}" {
			puts++
		}
	}
	if puts != 2 {
		t.Errorf("%d deployment PUTs, want 2 (the lost answer and its retry)", puts)
	}
}

func TestServingErrorsHoldNoToken(t *testing.T) {
	e := newServingEnv(t, azuretest.Options{})
	ctx := t.Context()
	e.srv.Inject("GET onlineEndpoints/{name}", 8, azuretest.Fault{Kind: azuretest.FaultUnavailable})
	_, err := e.w.GetEndpoint(ctx, "scoring")
	if provider.CodeOf(err) != provider.Unavailable {
		t.Errorf("GetEndpoint through 503s: %v", err)
	}
	e.tokens.check(t, err)
	_, err = e.w.GetEndpoint(ctx, "missing")
	e.tokens.check(t, err)
	_, err = e.w.CreateDeployment(ctx, &provider.DeploymentSpec{Endpoint: "missing", Name: "blue", Model: "fraud", ModelVersion: "1"})
	if provider.CodeOf(err) != provider.NotFound {
		t.Errorf("CreateDeployment on a missing endpoint: %v", err)
	}
	e.tokens.check(t, err)
	_, err = e.w.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "missing", Metadata: map[string]string{"a": "b"}})
	e.tokens.check(t, err)
}

// TestServingUnfinishedUpdateInvalidatesETags stops waiting for an
// update's operation, as a writer that dies between its PUT and the guard
// write would: an ETag read while the update was unfinished must not let a
// conditional update through once it has taken effect.
func TestServingUnfinishedUpdateInvalidatesETags(t *testing.T) {
	e := newServingEnv(t, azuretest.Options{OperationPolls: 40})
	e.blueGreen(t, "scoring")
	puts := func() int {
		n := 0
		for _, r := range e.srv.Requests() {
			if r.Route == "PUT onlineEndpoints/{name}" && r.Status == 200 {
				n++
			}
		}
		return n
	}
	before := puts()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		// Stop waiting once Azure has accepted the update.
		for puts() == before {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := e.w.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "scoring", Traffic: map[string]int{"blue": 50, "green": 50}})
	cancel()
	if provider.CodeOf(err) != provider.Canceled || !strings.Contains(err.Error(), "may still apply it") {
		t.Fatalf("UpdateEndpoint cut short: %v, want Canceled saying the update may still apply", err)
	}
	during, err := e.w.GetEndpoint(t.Context(), "scoring")
	if err != nil {
		t.Fatal(err)
	}
	if during.Traffic["blue"] != 100 {
		t.Fatalf("the update took effect before its operation ended: %v", during.Traffic)
	}
	e.srv.FinishOperations() // Azure finishes the update by itself.
	_, err = e.w.UpdateEndpoint(t.Context(), &provider.EndpointUpdate{Endpoint: "scoring", Traffic: map[string]int{"blue": 90, "green": 10}, IfMatch: during.ETag})
	if provider.CodeOf(err) != provider.Conflict {
		t.Fatalf("a conditional update with the ETag read during the unfinished update: %v, want Conflict", err)
	}
	after, err := e.w.GetEndpoint(t.Context(), "scoring")
	if err != nil {
		t.Fatal(err)
	}
	if after.Traffic["green"] != 50 || after.ETag == during.ETag {
		t.Fatalf("after the operation ended: traffic %v etag %s (read during: %s)", after.Traffic, after.ETag, during.ETag)
	}
	if _, err := e.w.UpdateEndpoint(t.Context(), &provider.EndpointUpdate{Endpoint: "scoring", Traffic: map[string]int{"blue": 90, "green": 10}, IfMatch: after.ETag}); err != nil {
		t.Fatalf("a conditional update with the ETag read afterwards: %v", err)
	}
}

// callCounter counts the requests a Workspace sends, to Resource Manager
// (the contract server) and to Blob Storage (Azurite), operations' polls
// apart.
type callCounter struct {
	inner   policy.Transporter
	armHost string
	mu      sync.Mutex
	arm     int
	polls   int
	storage int
}

func (c *callCounter) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	switch {
	case req.URL.Host != c.armHost:
		c.storage++
	case strings.Contains(req.URL.Path, "/mfeOperation"):
		c.polls++
	default:
		c.arm++
	}
	c.mu.Unlock()
	return c.inner.Do(req)
}

func (c *callCounter) take() (arm, polls, storage int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	arm, polls, storage = c.arm, c.polls, c.storage
	c.arm, c.polls, c.storage = 0, 0, 0
	return
}

// TestServingCallCosts holds the driver to the costs the package
// documentation gives.
func TestServingCallCosts(t *testing.T) {
	e := newServingEnv(t, azuretest.Options{})
	u, _ := url.Parse(e.srv.URL)
	counter := &callCounter{inner: e.srv.Client(), armHost: u.Host}
	cfg := e.cfg
	cfg.ClientOptions.Transport = counter
	w, err := azure.NewWorkspace(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	check := func(what string, wantARM, wantPolls, wantStorage int) {
		t.Helper()
		arm, polls, storage := counter.take()
		if arm != wantARM || polls != wantPolls || storage != wantStorage {
			t.Errorf("%s: %d Resource Manager calls, %d polls, %d storage calls; the documentation says %d, %d, %d",
				what, arm, polls, storage, wantARM, wantPolls, wantStorage)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = w.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "scoring", Region: "westeurope"})
	must(err)
	check("CreateEndpoint", 4, 1, 7)
	_, err = w.GetEndpoint(ctx, "scoring")
	must(err)
	check("GetEndpoint", 1, 0, 1)
	for _, d := range []string{"blue", "green"} {
		_, err = w.CreateDeployment(ctx, &provider.DeploymentSpec{Endpoint: "scoring", Name: d, Model: "fraud", ModelVersion: "1"})
		must(err)
		check("CreateDeployment", 2, 0, 3)
		must(e.srv.SetDeploymentReady("scoring", d))
	}
	_, err = w.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "scoring", Traffic: map[string]int{"blue": 100}})
	must(err)
	check("UpdateEndpoint of the split", 3, 1, 5)
	_, err = w.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "scoring", Metadata: map[string]string{"stage": "canary"}})
	must(err)
	check("UpdateEndpoint of the metadata", 2, 1, 5)
	_, err = w.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "scoring"})
	must(err)
	check("UpdateEndpoint changing nothing", 1, 0, 4)
	_, err = w.GetDeployment(ctx, "scoring", "blue")
	must(err)
	check("GetDeployment", 1, 0, 0)
	must(w.DeleteDeployment(ctx, "scoring", "green"))
	check("DeleteDeployment", 3, 1, 4)
	must(w.DeleteEndpoint(ctx, "scoring"))
	check("DeleteEndpoint", 2, 1, 3)
}

// TestServingLostLeaseIsReported takes the guard's lease away from an
// update while its operation runs, as an expiry would when the storage is
// unreachable for longer than the lease: the updater must not record its
// update over the new holder's, and must say so.
func TestServingLostLeaseIsReported(t *testing.T) {
	e := newServingEnv(t, azuretest.Options{OperationPolls: 1000})
	ctx := t.Context()
	createDone := make(chan error, 1)
	go func() {
		_, err := e.w.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "scoring", Region: "westeurope"})
		createDone <- err
	}()
	for e.srv.PendingOperations() == 0 {
		time.Sleep(time.Millisecond)
	}
	e.srv.FinishOperations()
	if err := <-createDone; err != nil {
		t.Fatal(err)
	}
	before := e.srv.PendingOperations()
	done := make(chan error, 1)
	go func() {
		_, err := e.w.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "scoring", Metadata: map[string]string{"stage": "canary"}})
		done <- err
	}()
	for e.srv.PendingOperations() == before {
		time.Sleep(time.Millisecond)
	}
	// Another writer breaks the lease and takes the guard.
	cc, err := container.NewClientWithSharedKeyCredential(e.cfg.AccountURL+"/"+e.cfg.Container, sharedKey(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	bb := cc.NewBlockBlobClient("serving/guards/scoring")
	if _, err := bb.BlobClient().GetProperties(ctx, nil); err != nil {
		t.Fatalf("the guard blob: %v", err)
	}
	other, _ := lease.NewBlobClient(bb, nil)
	if _, err := other.BreakLease(ctx, &lease.BlobBreakOptions{BreakPeriod: ptrTo(int32(0))}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.AcquireLease(ctx, 60, nil); err != nil {
		t.Fatal(err)
	}
	e.srv.FinishOperations()
	err = <-done
	if err == nil || !strings.Contains(err.Error(), "could not be recorded") {
		t.Fatalf("the update that lost its lease: %v, want an error saying its end could not be recorded", err)
	}
	e.tokens.check(t, err)
	other.ReleaseLease(ctx, nil)
}

func ptrTo[T any](v T) *T { return &v }
