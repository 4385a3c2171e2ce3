package azure_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/azure"
	"github.com/tideline-ml/tideline/provider/azure/azuretest"
)

// tokenRecorder hands out the contract server's tokens and remembers them,
// so that a test can look for them in errors.
type tokenRecorder struct {
	inner  *azuretest.Credential
	mu     sync.Mutex
	tokens []string
}

func (c *tokenRecorder) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	t, err := c.inner.GetToken(ctx, o)
	c.mu.Lock()
	c.tokens = append(c.tokens, t.Token)
	c.mu.Unlock()
	return t, err
}

// wsEnv is a Workspace over a contract server and a container of its own
// on Azurite.
type wsEnv struct {
	srv        *azuretest.Server
	cred       *tokenRecorder
	accountURL string
	container  string
}

func newWSEnv(t testing.TB, opts azuretest.Options) *wsEnv {
	t.Helper()
	accountURL := azurite(t)
	srv := azuretest.NewServer(opts)
	t.Cleanup(func() {
		if v := srv.Violations(); len(v) > 0 {
			t.Errorf("requests that differ from Microsoft's examples:\n%s", strings.Join(v, "\n"))
		}
		srv.Close()
	})
	return &wsEnv{srv: srv, cred: &tokenRecorder{inner: srv.Credential()}, accountURL: accountURL, container: newContainer(t, accountURL)}
}

func (e *wsEnv) config() azure.Config {
	k, _ := container.NewSharedKeyCredential(devAccount, devKey)
	o := e.srv.Options()
	return azure.Config{
		AccountURL: e.accountURL, Container: e.container, Region: "westeurope", SharedKey: k,
		BlockSize: 256 << 10, Credential: e.cred,
		SubscriptionID: o.SubscriptionID, ResourceGroup: o.ResourceGroup, Workspace: o.Workspace,
		ARMEndpoint: e.srv.URL, ClientOptions: e.srv.ClientOptions(), PollInterval: 5 * time.Millisecond,
	}
}

func (e *wsEnv) workspace(t testing.TB) *azure.Workspace {
	t.Helper()
	w, err := azure.NewWorkspace(e.config())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// noSecret fails the test when err's text holds a bearer token the
// credential issued, the storage key, or a SAS.
func (e *wsEnv) noSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	s := err.Error()
	e.cred.mu.Lock()
	tokens := slices.Clone(e.cred.tokens)
	e.cred.mu.Unlock()
	for _, tok := range tokens {
		if strings.Contains(s, tok) {
			t.Errorf("the error %q holds a bearer token", s)
		}
	}
	for _, bad := range []string{"azuretest.", devKey, "sig=", "Bearer", "Authorization"} {
		if strings.Contains(s, bad) {
			t.Errorf("the error %q holds %q", s, bad)
		}
	}
}

func modelSpec(model, version, artifact string) *provider.ModelVersionSpec {
	return &provider.ModelVersionSpec{
		Model: model, Version: version, Region: "westeurope",
		ArtifactURI: artifact, Framework: "pytorch",
		Metrics:  map[string]float64{"auc": 0.9},
		Tags:     map[string]string{"team": "risk"},
		Metadata: map[string]string{"tideline_operation": "op-" + version},
	}
}

// TestSetAliasAtomicUnderConcurrentWriters moves one alias from many
// goroutines through two Workspace values while readers on both watch it:
// every read names one of the versions, never none, and afterwards both
// read the same single alias.
func TestSetAliasAtomicUnderConcurrentWriters(t *testing.T) {
	env := newWSEnv(t, azuretest.Options{})
	w1, w2 := env.workspace(t), env.workspace(t)
	ctx := t.Context()
	versions := []string{"1", "2", "3", "4", "5"}
	for _, v := range versions {
		if _, err := w1.CreateModelVersion(ctx, modelSpec("fraud", v, "https://acct.blob.core.windows.net/models/fraud/"+v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w1.SetAlias(ctx, "fraud", "prod", "1"); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	readErrs := make(chan error, 2)
	for _, w := range []*azure.Workspace{w1, w2} {
		wg.Go(func() {
			for !stop.Load() {
				a, err := w.Aliases(ctx, "fraud")
				if err != nil {
					readErrs <- err
					return
				}
				reads.Add(1)
				if v, ok := a["prod"]; !ok || !slices.Contains(versions, v) || len(a) != 1 {
					readErrs <- fmt.Errorf("a reader saw aliases %v: prod must always name one of %v", a, versions)
					return
				}
			}
		})
	}
	const writers, moves = 8, 6
	var moved sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		moved.Go(func() {
			w := []*azure.Workspace{w1, w2}[i%2]
			for j := range moves {
				if err := w.SetAlias(ctx, "fraud", "prod", versions[(i+j)%len(versions)]); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	moved.Wait()
	stop.Store(true)
	wg.Wait()
	close(readErrs)
	for err := range readErrs {
		t.Error(err)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	a1, err1 := w1.Aliases(ctx, "fraud")
	a2, err2 := w2.Aliases(ctx, "fraud")
	if err1 != nil || err2 != nil || len(a1) != 1 || !slices.Contains(versions, a1["prod"]) || a1["prod"] != a2["prod"] {
		t.Errorf("after the moves: %v (%v) and %v (%v); want one alias prod naming one version, the same through both", a1, err1, a2, err2)
	}
	t.Logf("%d writers × %d moves, %d reads during them", writers, moves, reads.Load())
}

// TestConcurrentCreatesOfOneVersion races creators of one version through
// two Workspace values: exactly one succeeds, the others are
// AlreadyExists, and Azure holds the winner's version alone.
func TestConcurrentCreatesOfOneVersion(t *testing.T) {
	env := newWSEnv(t, azuretest.Options{})
	ws := []*azure.Workspace{env.workspace(t), env.workspace(t)}
	ctx := t.Context()
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = ws[i%2].CreateModelVersion(ctx, modelSpec("fraud", "1", fmt.Sprintf("https://acct.blob.core.windows.net/models/writer-%d", i)))
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both created version 1", winner, i)
		case err == nil:
			winner = i
		case provider.CodeOf(err) != provider.AlreadyExists:
			t.Errorf("writer %d: %v, want AlreadyExists", i, err)
		}
		env.noSecret(t, err)
	}
	if winner < 0 {
		t.Fatal("no writer created version 1")
	}
	want := fmt.Sprintf("https://acct.blob.core.windows.net/models/writer-%d", winner)
	got, err := ws[0].GetModelVersion(ctx, "fraud", "1")
	if err != nil || got.ArtifactURI != want {
		t.Fatalf("GetModelVersion = %+v, %v; want the winner's artifact %s", got, err, want)
	}
	res, ok := env.srv.Get(azuretest.ModelVersionKind, "fraud/1")
	if !ok || res.Body["properties"].(map[string]any)["modelUri"] != want {
		t.Errorf("Azure holds %v, want the winner's modelUri %s", res, want)
	}
	if list, err := ws[1].ListModelVersions(ctx, "fraud"); err != nil || len(list) != 1 {
		t.Errorf("ListModelVersions = %d versions, %v; want 1", len(list), err)
	}
}

// TestCreateLostResponse: a PUT whose answer is lost is retried and leaves
// one version; a PUT that keeps failing leaves nothing, and the version
// can be registered afterwards.
func TestCreateLostResponse(t *testing.T) {
	env := newWSEnv(t, azuretest.Options{})
	w := env.workspace(t)
	ctx := t.Context()
	const route = "PUT models/{name}/versions/{version}"
	env.srv.Inject(route, 1, azuretest.Fault{Kind: azuretest.FaultLoseResponse})
	if _, err := w.CreateModelVersion(ctx, modelSpec("fraud", "1", "https://acct.blob.core.windows.net/models/a")); err != nil {
		t.Fatalf("create with one lost answer: %v", err)
	}
	if list, err := w.ListModelVersions(ctx, "fraud"); err != nil || len(list) != 1 {
		t.Fatalf("after a lost answer: %d versions, %v; want 1", len(list), err)
	}

	// Every try of the PUT is applied and its answer lost: the create
	// fails, and the version it made is removed with its claim.
	env.srv.Inject(route, 4, azuretest.Fault{Kind: azuretest.FaultLoseResponse})
	_, err := w.CreateModelVersion(ctx, modelSpec("fraud", "2", "https://acct.blob.core.windows.net/models/b"))
	if code := provider.CodeOf(err); code != provider.Unavailable {
		t.Fatalf("create whose answers are all lost: %v (%v), want Unavailable", err, code)
	}
	env.noSecret(t, err)
	if _, err := w.GetModelVersion(ctx, "fraud", "2"); provider.CodeOf(err) != provider.NotFound {
		t.Errorf("after the failed create GetModelVersion = %v, want NotFound", err)
	}
	if _, ok := env.srv.Get(azuretest.ModelVersionKind, "fraud/2"); ok {
		t.Error("Azure still holds the version of the failed create")
	}
	if _, err := w.CreateModelVersion(ctx, modelSpec("fraud", "2", "https://acct.blob.core.windows.net/models/c")); err != nil {
		t.Errorf("registering the version again after the failure: %v", err)
	}
	if l, err := w.LatestModelVersion(ctx, "fraud"); err != nil || l.Version != "2" {
		t.Errorf("LatestModelVersion = %+v, %v; want version 2", l, err)
	}
}

// TestVersionMadeOutsideIsAlreadyExists: a version that Azure holds
// without Tideline's record (registered in the studio) is not replaced.
func TestVersionMadeOutsideIsAlreadyExists(t *testing.T) {
	env := newWSEnv(t, azuretest.Options{})
	w := env.workspace(t)
	ctx := t.Context()
	if _, err := w.CreateModelVersion(ctx, modelSpec("fraud", "1", "https://acct.blob.core.windows.net/models/a")); err != nil {
		t.Fatal(err)
	}
	// Another client PUTs version 2 straight to ARM.
	env.srv.Lock()
	env.srv.PutLocked(&azuretest.Resource{Kind: azuretest.ModelVersionKind, Key: "fraud/2", Body: map[string]any{
		"name": "2", "properties": map[string]any{"modelUri": "https://elsewhere/model", "tags": map[string]any{"owner": "studio"}},
	}})
	env.srv.Unlock()
	_, err := w.CreateModelVersion(ctx, modelSpec("fraud", "2", "https://acct.blob.core.windows.net/models/b"))
	if provider.CodeOf(err) != provider.AlreadyExists {
		t.Fatalf("create over a version made outside: %v, want AlreadyExists", err)
	}
	got, err := w.GetModelVersion(ctx, "fraud", "2")
	if err != nil || got.ArtifactURI != "https://elsewhere/model" || got.Tags["owner"] != "studio" || got.Approval.State != provider.ApprovalPending {
		t.Errorf("the outside version reads %+v, %v; want its own artifact and tags, Pending", got, err)
	}
	// Its claim was removed: the record blob does not exist.
	if _, err := w.UpdateModelVersion(ctx, &provider.ModelVersionUpdate{Model: "fraud", Version: "2", Tags: map[string]string{"a": "b"}}); provider.CodeOf(err) != provider.FailedPrecondition {
		t.Errorf("updating a version made outside: %v, want FailedPrecondition", err)
	}
	// Version 1, registered through Tideline, is replaced outside it.
	env.srv.Update(azuretest.ModelVersionKind, "fraud/1", func(r *azuretest.Resource) {
		r.Body["properties"].(map[string]any)["modelUri"] = "https://elsewhere/swapped"
	})
	if _, err := w.GetModelVersion(ctx, "fraud", "1"); provider.CodeOf(err) != provider.FailedPrecondition {
		t.Errorf("reading a version whose artifact was swapped outside: %v, want FailedPrecondition", err)
	}
}

// TestUpdateGuards: a stale IfMatch is Conflict and changes nothing;
// concurrent updates without IfMatch through two Workspace values never
// lose one; Azure's copy ends on the last state.
func TestUpdateGuards(t *testing.T) {
	env := newWSEnv(t, azuretest.Options{})
	w1, w2 := env.workspace(t), env.workspace(t)
	ctx := t.Context()
	created, err := w1.CreateModelVersion(ctx, modelSpec("fraud", "1", "https://acct.blob.core.windows.net/models/a"))
	if err != nil {
		t.Fatal(err)
	}
	upd, err := w1.UpdateModelVersion(ctx, &provider.ModelVersionUpdate{Model: "fraud", Version: "1", Tags: map[string]string{"stage": "a"}, IfMatch: created.ETag})
	if err != nil {
		t.Fatal(err)
	}
	approved := provider.Approval{State: provider.ApprovalApproved, By: "late@example.com"}
	_, err = w2.UpdateModelVersion(ctx, &provider.ModelVersionUpdate{Model: "fraud", Version: "1", Approval: &approved, IfMatch: created.ETag})
	if provider.CodeOf(err) != provider.Conflict {
		t.Fatalf("update with a stale ETag: %v, want Conflict", err)
	}
	env.noSecret(t, err)
	if got, _ := w2.GetModelVersion(ctx, "fraud", "1"); got.Approval.State != provider.ApprovalPending || got.ETag != upd.ETag {
		t.Errorf("after the Conflict: approval %s ETag %s, want Pending and %s", got.Approval.State, got.ETag, upd.ETag)
	}

	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = []*azure.Workspace{w1, w2}[i%2].UpdateModelVersion(ctx, &provider.ModelVersionUpdate{
				Model: "fraud", Version: "1", Tags: map[string]string{"writer_" + strconv.Itoa(i): "yes"}})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	got, err := w1.GetModelVersion(ctx, "fraud", "1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got.Tags["writer_"+strconv.Itoa(i)] != "yes" {
			t.Errorf("writer %d's tag was lost: tags %v", i, got.Tags)
		}
	}
	res, _ := env.srv.Get(azuretest.ModelVersionKind, "fraud/1")
	tags, _ := res.Body["properties"].(map[string]any)["tags"].(map[string]any)
	for k, v := range got.Tags {
		if tags[k] != v {
			t.Errorf("Azure's copy has tag %s=%v, the record %s", k, tags[k], v)
		}
	}
}

// TestUpdateRetryAfterFailedMirror: when the PUT that shows an update in
// Azure fails, the update stands; repeating it with the same IfMatch
// recognises it and repairs Azure's copy.
func TestUpdateRetryAfterFailedMirror(t *testing.T) {
	env := newWSEnv(t, azuretest.Options{})
	w := env.workspace(t)
	ctx := t.Context()
	created, err := w.CreateModelVersion(ctx, modelSpec("fraud", "1", "https://acct.blob.core.windows.net/models/a"))
	if err != nil {
		t.Fatal(err)
	}
	env.srv.Inject("PUT models/{name}/versions/{version}", 4, azuretest.Fault{Kind: azuretest.FaultUnavailable})
	approval := provider.Approval{State: provider.ApprovalApproved, By: "reviewer@example.com", At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	upd := &provider.ModelVersionUpdate{Model: "fraud", Version: "1", Approval: &approval, IfMatch: created.ETag}
	_, err = w.UpdateModelVersion(ctx, upd)
	if provider.CodeOf(err) != provider.Unavailable || !strings.Contains(err.Error(), "repeating it") {
		t.Fatalf("update whose mirror fails: %v, want Unavailable saying a repeat repairs it", err)
	}
	env.noSecret(t, err)
	if got, _ := w.GetModelVersion(ctx, "fraud", "1"); got.Approval.State != provider.ApprovalApproved {
		t.Errorf("the stored update reads %s, want Approved", got.Approval.State)
	}
	again, err := w.UpdateModelVersion(ctx, upd)
	if err != nil || again.Approval.State != provider.ApprovalApproved {
		t.Fatalf("repeating the update: %+v, %v; want it recognised as applied", again, err)
	}
	res, _ := env.srv.Get(azuretest.ModelVersionKind, "fraud/1")
	if tags := res.Body["properties"].(map[string]any)["tags"].(map[string]any); tags["tideline.approval"] != "Approved" {
		t.Errorf("Azure's copy after the repeat has approval %v, want Approved", tags["tideline.approval"])
	}
	other := &provider.ModelVersionUpdate{Model: "fraud", Version: "1", Tags: map[string]string{"x": "y"}, IfMatch: created.ETag}
	if _, err := w.UpdateModelVersion(ctx, other); provider.CodeOf(err) != provider.Conflict {
		t.Errorf("another update with the old ETag: %v, want Conflict", err)
	}
}

// TestLongMetadataRoundTrips: values past Azure's tag limit are kept whole
// in the record and named in Azure's copy; a value the contract cannot
// hold is refused before anything is created.
func TestLongMetadataRoundTrips(t *testing.T) {
	env := newWSEnv(t, azuretest.Options{})
	w := env.workspace(t)
	ctx := t.Context()
	v300 := strings.Repeat("é", 150)                                        // 300 bytes, 150 characters
	v300ascii := strings.Repeat("o", 300)                                   // 300 characters
	origins := `{"eu":[` + strings.Repeat(`"dataset azure/claims@1",`, 120) // about 3000 characters, split as mlops does
	origins = origins[:3000]
	spec := modelSpec("fraud", "1", "https://acct.blob.core.windows.net/models/a")
	spec.Metadata = map[string]string{"short": "eu", "long": v300ascii, "accented": v300,
		"tideline_origins": origins[:provider.MaxMetaValueLen], "tideline_origins_1": origins[provider.MaxMetaValueLen:], "tideline_origins_n": "2"}
	spec.Tags = map[string]string{"note": strings.Repeat("n", 257)}
	if _, err := w.CreateModelVersion(ctx, spec); err != nil {
		t.Fatal(err)
	}
	for _, read := range []func() (*provider.ModelVersionInfo, error){
		func() (*provider.ModelVersionInfo, error) { return w.GetModelVersion(ctx, "fraud", "1") },
		func() (*provider.ModelVersionInfo, error) {
			l, err := w.ListModelVersions(ctx, "fraud")
			if err != nil || len(l) != 1 {
				return nil, fmt.Errorf("%d versions, %v", len(l), err)
			}
			return l[0], nil
		},
	} {
		got, err := read()
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range spec.Metadata {
			if got.Metadata[k] != v {
				t.Errorf("metadata %s: %d bytes back, want %d exactly", k, len(got.Metadata[k]), len(v))
			}
		}
		if got.Tags["note"] != spec.Tags["note"] {
			t.Errorf("tag note: %d bytes back, want 257", len(got.Tags["note"]))
		}
	}
	res, _ := env.srv.Get(azuretest.ModelVersionKind, "fraud/1")
	tags := res.Body["properties"].(map[string]any)["tags"].(map[string]any)
	if tags["tideline.meta.short"] != "eu" || tags["tideline.meta.accented"] != v300 {
		t.Errorf("Azure's copy lacks the values that fit: %v", tags)
	}
	omitted, _ := tags["tideline.omitted"].(string)
	for _, k := range []string{"note", "tideline.meta.long", "tideline.meta.tideline_origins", "tideline.meta.tideline_origins_1"} {
		if _, ok := tags[k]; ok || !strings.Contains(omitted, k) {
			t.Errorf("tag %s: in Azure's copy %v, named in tideline.omitted %q; want it left out and named", k, ok, omitted)
		}
	}

	tooLong := modelSpec("fraud", "2", "https://acct.blob.core.windows.net/models/b")
	tooLong.Metadata["tideline_origins"] = origins
	before := len(env.srv.Requests())
	if _, err := w.CreateModelVersion(ctx, tooLong); provider.CodeOf(err) != provider.InvalidArgument {
		t.Fatalf("a 3000-character value: %v, want InvalidArgument", err)
	}
	if n := len(env.srv.Requests()) - before; n != 0 {
		t.Errorf("the refused create made %d requests to Azure Resource Manager", n)
	}
	if _, err := w.CreateModelVersion(ctx, modelSpec("fraud", "2", "https://acct.blob.core.windows.net/models/b")); err != nil {
		t.Errorf("version 2 after the refusal (no claim may be left): %v", err)
	}

	// More tags than a resource holds: Azure's copy keeps 50, the record
	// all of them.
	many := modelSpec("fraud", "3", "https://acct.blob.core.windows.net/models/c")
	for i := range 60 {
		many.Tags[fmt.Sprintf("t%02d", i)] = "v"
	}
	if _, err := w.CreateModelVersion(ctx, many); err != nil {
		t.Fatal(err)
	}
	if got, err := w.GetModelVersion(ctx, "fraud", "3"); err != nil || len(got.Tags) != len(many.Tags) {
		t.Errorf("the record holds %d tags (%v), want %d", len(got.Tags), err, len(many.Tags))
	}
	res, _ = env.srv.Get(azuretest.ModelVersionKind, "fraud/3")
	tags = res.Body["properties"].(map[string]any)["tags"].(map[string]any)
	if len(tags) > 50 || tags["tideline.approval"] != "Pending" || tags["tideline.omitted"] == nil {
		t.Errorf("Azure's copy has %d tags, approval %v, omitted %v; want at most 50, the approval kept and the rest named", len(tags), tags["tideline.approval"], tags["tideline.omitted"])
	}
}

// TestArtifactURIWithSASIsRefused: Azure's copy is readable by everyone in
// the workspace, so a URI with a query is refused, without echoing it.
func TestArtifactURIWithSASIsRefused(t *testing.T) {
	env := newWSEnv(t, azuretest.Options{})
	w := env.workspace(t)
	_, err := w.CreateModelVersion(t.Context(), modelSpec("fraud", "1", "https://acct.blob.core.windows.net/models/a?sv=2024&sig=c2VjcmV0"))
	if provider.CodeOf(err) != provider.InvalidArgument {
		t.Fatalf("%v, want InvalidArgument", err)
	}
	env.noSecret(t, err)
	if strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("the error %q echoes the SAS", err)
	}
}

// TestDataAssetFollowsDataset: each dataset version is a data asset
// pointing at its blob (without a SAS) and goes with it.
func TestDataAssetFollowsDataset(t *testing.T) {
	env := newWSEnv(t, azuretest.Options{})
	w := env.workspace(t)
	ctx := t.Context()
	for _, v := range []string{"v1", "v2"} {
		if _, err := w.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: v, Region: "westeurope",
			Content: provider.NewContent(strings.NewReader("data "+v), nil)}); err != nil {
			t.Fatal(err)
		}
	}
	info, err := w.GetDataset(ctx, "claims", "v1")
	if err != nil {
		t.Fatal(err)
	}
	res, ok := env.srv.Get(azuretest.DataVersionKind, "claims/v1")
	if !ok {
		t.Fatal("no data asset for claims@v1")
	}
	props := res.Body["properties"].(map[string]any)
	if props["dataType"] != "uri_file" || props["dataUri"] != info.URI || strings.Contains(info.URI, "?") {
		t.Errorf("data asset %v, want uri_file at %s", props, info.URI)
	}
	if _, ok := env.srv.Get(azuretest.DataKind, "claims"); !ok {
		t.Error("no data container claims")
	}
	if err := w.DeleteDataset(ctx, "claims", "v1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := env.srv.Get(azuretest.DataVersionKind, "claims/v1"); ok {
		t.Error("the data asset of the deleted version stays")
	}
	if _, ok := env.srv.Get(azuretest.DataVersionKind, "claims/v2"); !ok {
		t.Error("deleting v1 removed v2's data asset")
	}
	if _, err := w.GetDataset(ctx, "claims", "v1"); provider.CodeOf(err) != provider.NotFound {
		t.Errorf("GetDataset after delete: %v, want NotFound", err)
	}
}

// TestDataAssetFailureLeavesNoVersion: when the data asset cannot be
// registered, the committed blob is removed and the error returned.
func TestDataAssetFailureLeavesNoVersion(t *testing.T) {
	env := newWSEnv(t, azuretest.Options{})
	w := env.workspace(t)
	ctx := t.Context()
	env.srv.Inject("PUT data/{name}/versions/{version}", 4, azuretest.Fault{Kind: azuretest.FaultUnavailable})
	_, err := w.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "v1", Region: "westeurope",
		Content: provider.NewContent(strings.NewReader("data"), nil)})
	if provider.CodeOf(err) != provider.Unavailable {
		t.Fatalf("PutDataset whose asset fails: %v, want Unavailable", err)
	}
	env.noSecret(t, err)
	if _, err := w.GetDataset(ctx, "claims", "v1"); provider.CodeOf(err) != provider.NotFound {
		t.Errorf("GetDataset after the failure: %v, want NotFound", err)
	}
	if l, err := w.ListDatasets(ctx, "claims"); err != nil || len(l) != 0 {
		t.Errorf("ListDatasets after the failure: %d, %v; want none", len(l), err)
	}
	if _, err := w.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "v1", Region: "westeurope",
		Content: provider.NewContent(strings.NewReader("data"), nil)}); err != nil {
		t.Errorf("storing the version again: %v", err)
	}
}

// TestCreateClaimLeftBehindIsCompletedByItsRetry: when the PUT fails and
// so does its undo, the claim stays; the version is not visible, a create
// with another spec is AlreadyExists, and a retry of the same create
// completes it.
func TestCreateClaimLeftBehindIsCompletedByItsRetry(t *testing.T) {
	env := newWSEnv(t, azuretest.Options{})
	w := env.workspace(t)
	ctx := t.Context()
	spec := modelSpec("fraud", "1", "https://acct.blob.core.windows.net/models/a")
	env.srv.Lock()
	env.srv.PutLocked(&azuretest.Resource{Kind: azuretest.ModelKind, Key: "fraud", Request: map[string]any{"properties": map[string]any{}}})
	env.srv.Unlock()
	env.srv.Inject("PUT models/{name}/versions/{version}", 4, azuretest.Fault{Kind: azuretest.FaultUnavailable})
	env.srv.Inject("DELETE models/{name}/versions/{version}", 4, azuretest.Fault{Kind: azuretest.FaultUnavailable})
	_, err := w.CreateModelVersion(ctx, spec)
	if provider.CodeOf(err) != provider.Unavailable || !strings.Contains(err.Error(), "claim") {
		t.Fatalf("create whose PUT and undo fail: %v, want Unavailable naming the claim left", err)
	}
	env.noSecret(t, err)
	if _, err := w.GetModelVersion(ctx, "fraud", "1"); provider.CodeOf(err) != provider.NotFound {
		t.Errorf("a claimed version without its PUT reads %v, want NotFound", err)
	}
	if l, err := w.ListModelVersions(ctx, "fraud"); err != nil || len(l) != 0 {
		t.Errorf("ListModelVersions = %d, %v; want none", len(l), err)
	}
	other := modelSpec("fraud", "1", "https://acct.blob.core.windows.net/models/b")
	if _, err := w.CreateModelVersion(ctx, other); provider.CodeOf(err) != provider.AlreadyExists {
		t.Errorf("another create of the claimed version: %v, want AlreadyExists", err)
	}
	got, err := w.CreateModelVersion(ctx, spec)
	if err != nil || got.ArtifactURI != spec.ArtifactURI {
		t.Fatalf("the same create again: %+v, %v; want it completed", got, err)
	}
	if g, err := w.GetModelVersion(ctx, "fraud", "1"); err != nil || g.ETag != got.ETag {
		t.Errorf("GetModelVersion = %+v, %v; want the completed version", g, err)
	}
}

// audienceCred asks for a fixed scope whatever it is asked for.
type audienceCred struct {
	inner *tokenRecorder
	scope string
}

func (c *audienceCred) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return c.inner.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.scope}})
}

// TestRefusedCreateLeavesNoClaim: when Resource Manager refuses the
// credential, the create is PermissionDenied without a token in its text,
// and its claim is removed, so the version can be registered once the
// credential is right.
func TestRefusedCreateLeavesNoClaim(t *testing.T) {
	env := newWSEnv(t, azuretest.Options{})
	cfg := env.config()
	cfg.Credential = &audienceCred{inner: env.cred, scope: azuretest.VaultAudience + "/.default"}
	wrong, err := azure.NewWorkspace(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	spec := modelSpec("fraud", "1", "https://acct.blob.core.windows.net/models/a")
	_, err = wrong.CreateModelVersion(ctx, spec)
	if provider.CodeOf(err) != provider.PermissionDenied {
		t.Fatalf("create with a token of another audience: %v, want PermissionDenied", err)
	}
	env.noSecret(t, err)
	other := modelSpec("fraud", "1", "https://acct.blob.core.windows.net/models/b")
	if _, err := env.workspace(t).CreateModelVersion(ctx, other); err != nil {
		t.Errorf("registering the version with the right credential after the refusal: %v", err)
	}
}

// holdPolicy holds the first ARM PUT of a model version whose body holds
// match until release is closed, closing held when it does.
type holdPolicy struct {
	match   string
	held    chan struct{}
	release chan struct{}
	once    sync.Once
}

func (p *holdPolicy) Do(req *policy.Request) (*http.Response, error) {
	r := req.Raw()
	if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/workspaces/") && r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
		if bytes.Contains(b, []byte(p.match)) {
			p.once.Do(func() {
				close(p.held)
				<-p.release
			})
		}
	}
	return req.Next()
}

// TestLateMirrorIsRepaired: an update whose PUT to Azure lands after a
// later update's PUT finds the record changed and PUTs the later state,
// so Azure's copy ends on the last update.
func TestLateMirrorIsRepaired(t *testing.T) {
	env := newWSEnv(t, azuretest.Options{})
	hold := &holdPolicy{match: `"writer":"a"`, held: make(chan struct{}), release: make(chan struct{})}
	cfg := env.config()
	cfg.ClientOptions.PerCallPolicies = []policy.Policy{hold}
	slow, err := azure.NewWorkspace(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fast := env.workspace(t)
	ctx := t.Context()
	if _, err := fast.CreateModelVersion(ctx, modelSpec("fraud", "1", "https://acct.blob.core.windows.net/models/a")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := slow.UpdateModelVersion(ctx, &provider.ModelVersionUpdate{Model: "fraud", Version: "1", Tags: map[string]string{"writer": "a"}})
		done <- err
	}()
	<-hold.held // a's record is written, its PUT to Azure held
	if _, err := fast.UpdateModelVersion(ctx, &provider.ModelVersionUpdate{Model: "fraud", Version: "1", Tags: map[string]string{"writer": "b"}}); err != nil {
		t.Fatal(err)
	}
	close(hold.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := fast.GetModelVersion(ctx, "fraud", "1")
	if err != nil || got.Tags["writer"] != "b" {
		t.Fatalf("the record: %v, %v; want writer=b", got, err)
	}
	res, _ := env.srv.Get(azuretest.ModelVersionKind, "fraud/1")
	if w := res.Body["properties"].(map[string]any)["tags"].(map[string]any)["writer"]; w != "b" {
		t.Errorf("Azure's copy ends with writer=%v, want b: the late PUT of a's update was not followed by b's state", w)
	}
}
