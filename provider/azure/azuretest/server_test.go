package azuretest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// call sends one request with a token for audience and returns the status
// and the decoded body.
func call(t *testing.T, s *Server, method, path, audience string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.URL+path, rd)
	if audience != "" {
		tok, err := s.Credential().GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{audience + "/.default"}})
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.Token)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		return 0, nil, nil
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}

func jobPath(s *Server, name string) string {
	return s.WorkspacePath() + "/jobs/" + name + "?api-version=2025-12-01"
}

func validJob() map[string]any {
	return map[string]any{"properties": map[string]any{
		"jobType": "Command", "command": "python train.py", "computeId": "c", "environmentId": "e",
		"inputs":   map[string]any{"train": map[string]any{"jobInputType": "uri_folder", "uri": "https://x/y", "mode": "ReadOnlyMount"}},
		"tags":     map[string]any{"a": "b"},
		"limits":   map[string]any{"jobLimitsType": "Command", "timeout": "PT1H"},
		"services": map[string]any{},
	}}
}

func TestRequestsNeedTokenOfRouteAudience(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	for _, tc := range []struct {
		name, audience string
		want           int
	}{
		{"NoToken", "", 401},
		{"VaultToken", VaultAudience, 401},
		{"ARMToken", ARMAudience, 404},
	} {
		status, body, _ := call(t, s, http.MethodGet, jobPath(s, "missing"), tc.audience, nil)
		if status != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, status, body, tc.want)
		}
	}
	other := NewCredential()
	tok, _ := other.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{ARMAudience + "/.default"}})
	req, _ := http.NewRequest(http.MethodGet, s.URL+jobPath(s, "x"), nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || strings.Contains(string(b), tok.Token) {
		t.Errorf("another credential's token: %d %s, want 401 without the token", resp.StatusCode, b)
	}
}

func TestRequestBodiesAreCheckedAgainstExamples(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	if status, body, _ := call(t, s, http.MethodPut, jobPath(s, "good"), ARMAudience, validJob()); status != 201 {
		t.Fatalf("a job shaped like the example: %d %v, want 201", status, body)
	}
	for _, tc := range []struct {
		name string
		edit func(p map[string]any)
		want string
	}{
		{"UnknownField", func(p map[string]any) { p["imageReference"] = "x" }, "properties.imageReference is not a field"},
		{"WrongType", func(p map[string]any) { p["command"] = []any{"python"} }, "properties.command is an array"},
		{"MapValueShape", func(p map[string]any) { p["tags"] = map[string]any{"a": 1} }, "properties.tags.a is a number"},
		{"NestedUnknown", func(p map[string]any) {
			p["inputs"].(map[string]any)["train"].(map[string]any)["sasToken"] = "x"
		}, "properties.inputs.train.sasToken is not a field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := validJob()
			tc.edit(job["properties"].(map[string]any))
			status, body, _ := call(t, s, http.MethodPut, jobPath(s, strings.ToLower(tc.name)), ARMAudience, job)
			msg, _ := body["error"].(map[string]any)["message"].(string)
			if status != 400 || !strings.Contains(msg, tc.want) {
				t.Fatalf("%d %q, want 400 saying %q", status, msg, tc.want)
			}
		})
	}
	if len(s.Violations()) != 4 {
		t.Errorf("Violations() = %q, want the 4 mismatches", s.Violations())
	}
}

func TestAnswersHaveTheExamplesShape(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	status, put, _ := call(t, s, http.MethodPut, jobPath(s, "j"), ARMAudience, validJob())
	if status != 201 {
		t.Fatal(status, put)
	}
	_, got, _ := call(t, s, http.MethodGet, jobPath(s, "j"), ARMAudience, nil)
	want := s.ExampleResponse("jobs/CommandJob/get.json", 200)
	// The example's input is a literal; the job's is a uri_folder.
	want["properties"].(map[string]any)["inputs"].(map[string]any)["string"] = map[string]any{"jobInputType": "s", "uri": "s", "mode": "s"}
	if p := CheckShape(want, got); len(p) > 0 {
		t.Errorf("the GET answer differs from the example's: %q", p)
	}
	wantPut := s.ExampleResponse("jobs/CommandJob/createOrUpdate.json", 201)
	wantPut["properties"].(map[string]any)["inputs"] = want["properties"].(map[string]any)["inputs"]
	if p := CheckShape(wantPut, put); len(p) > 0 {
		t.Errorf("the PUT answer differs from the example's: %q", p)
	}
}

func TestLostResponseAppliesTheRequest(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.Inject("PUT jobs/{name}", 1, Fault{Kind: FaultLoseResponse})
	if status, _, _ := call(t, s, http.MethodPut, jobPath(s, "j"), ARMAudience, validJob()); status != 0 {
		t.Fatalf("status %d, want a closed connection", status)
	}
	if _, ok := s.JobStatus("j"); !ok {
		t.Fatal("the job of the lost answer does not exist")
	}
	s.Inject("PUT jobs/{name}", 1, Fault{Kind: FaultDrop})
	call(t, s, http.MethodPut, jobPath(s, "k"), ARMAudience, validJob())
	if _, ok := s.JobStatus("k"); ok {
		t.Fatal("a dropped request was applied")
	}
}

// The job PUT has no conditional form, as in Azure Machine Learning: the
// conditional headers change nothing, a repeated definition succeeds, and
// a changed definition of an existing job is refused.
func TestJobPutIsNotConditional(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	put := func(body string, h http.Header) int {
		req, _ := http.NewRequest(http.MethodPut, s.URL+jobPath(s, "j"), strings.NewReader(body))
		tok, _ := s.Credential().GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{ARMAudience + "/.default"}})
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	first, _ := json.Marshal(validJob())
	if st := put(string(first), http.Header{"If-Match": {`"no-such-etag"`}}); st != http.StatusCreated {
		t.Fatalf("a new job's PUT with a stale If-Match: %d, want 201 (the header is ignored)", st)
	}
	if st := put(string(first), http.Header{"If-None-Match": {"*"}}); st != http.StatusOK {
		t.Fatalf("the same definition again with If-None-Match: *: %d, want 200 (the header is ignored)", st)
	}
	changed := validJob()
	changed["properties"].(map[string]any)["command"] = "python other.py"
	b, _ := json.Marshal(changed)
	if st := put(string(b), nil); st != http.StatusBadRequest {
		t.Fatalf("a changed command over an existing job: %d, want 400", st)
	}
	if def, _ := s.JobDefinition("j"); def["properties"].(map[string]any)["command"] != "python train.py" {
		t.Error("the refused PUT replaced the job")
	}
	retagged := validJob()
	retagged["properties"].(map[string]any)["tags"] = map[string]any{"team": "risk"}
	b, _ = json.Marshal(retagged)
	if st := put(string(b), nil); st != http.StatusOK {
		t.Fatalf("new tags over an existing job: %d, want 200", st)
	}
	if len(s.List(JobKind, "")) != 1 {
		t.Errorf("%d jobs, want 1", len(s.List(JobKind, "")))
	}
}

// A supplement written with Go numbers checks a request's JSON numbers.
func TestSupplementNumbersMatchJSONNumbers(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.Supplement("jobs/CommandJob/createOrUpdate.json", "properties.resources", map[string]any{"shmSizeGb": 8})
	job := validJob()
	job["properties"].(map[string]any)["distribution"] = map[string]any{"distributionType": "PyTorch", "processCountPerInstance": 2}
	job["properties"].(map[string]any)["resources"] = map[string]any{"instanceCount": 2, "shmSizeGb": 16}
	if status, body, _ := call(t, s, http.MethodPut, jobPath(s, "numbers"), ARMAudience, job); status != 201 {
		t.Fatalf("%d %v, want 201", status, body)
	}
}

func TestAPIVersionIsChecked(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	for v, want := range map[string]int{"2025-12-01": 404, "2024-10-01": 400, "": 400} {
		p := s.WorkspacePath() + "/jobs/x"
		if v != "" {
			p += "?api-version=" + v
		}
		if status, _, _ := call(t, s, http.MethodGet, p, ARMAudience, nil); status != want {
			t.Errorf("api-version %q: %d, want %d", v, status, want)
		}
	}
}

func TestClearFaults(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.Inject("PUT jobs/{name}", 3, Fault{Kind: FaultUnavailable})
	s.Inject("GET jobs/{name}", 1, Fault{Kind: FaultUnavailable})
	if n := s.ClearFaults("PUT jobs/{name}"); n != 3 {
		t.Errorf("ClearFaults dropped %d, want 3", n)
	}
	if status, _, _ := call(t, s, http.MethodPut, jobPath(s, "j"), ARMAudience, validJob()); status != http.StatusCreated {
		t.Errorf("a PUT after its faults were cleared: %d, want 201", status)
	}
	if n := s.ClearFaults(""); n != 1 {
		t.Errorf("ClearFaults(\"\") dropped %d, want the GET's 1", n)
	}
}
