package azuretest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// callWithHeader is call with request headers, for ARM's audience.
func callWithHeader(t *testing.T, s *Server, method, path string, body any, h http.Header) (int, map[string]any, http.Header) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.URL+path, bytes.NewReader(b))
	for k, v := range h {
		req.Header[k] = v
	}
	tok, err := s.Credential().GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{ARMAudience + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}

func modelPath(s *Server, rel string) string {
	return s.WorkspacePath() + "/" + rel + "?api-version=2025-12-01"
}

func modelVersionBody(uri string) map[string]any {
	return map[string]any{"properties": map[string]any{
		"modelUri": uri, "modelType": "custom_model", "isAnonymous": false, "description": "d",
		"flavors":    map[string]any{"pytorch": map[string]any{"data": map[string]any{}}},
		"properties": map[string]any{"a": "b"}, "tags": map[string]any{"t": "v"},
	}}
}

// The model routes keep latestVersion as the highest whole number, page
// through nextLink, need the container, and — as Azure — have no
// conditional write: If-Match and If-None-Match change nothing, and no
// answer carries an etag.
func TestModelRoutes(t *testing.T) {
	s := NewServer(Options{PageSize: 2})
	defer s.Close()
	if st, _, _ := call(t, s, http.MethodPut, modelPath(s, "models/m/versions/1"), ARMAudience, modelVersionBody("https://x/1")); st != http.StatusNotFound {
		t.Fatalf("PUT of a version without its container: %d, want 404", st)
	}
	if st, _, _ := call(t, s, http.MethodPut, modelPath(s, "models/m"), ARMAudience, map[string]any{"properties": map[string]any{"description": "d"}}); st != http.StatusCreated {
		t.Fatalf("PUT of the container: %d, want 201", st)
	}
	for _, v := range []string{"2", "10", "9"} {
		if st, b, _ := call(t, s, http.MethodPut, modelPath(s, "models/m/versions/"+v), ARMAudience, modelVersionBody("https://x/"+v)); st != http.StatusCreated {
			t.Fatalf("PUT of version %s: %d %v", v, st, b)
		}
	}
	_, c, _ := call(t, s, http.MethodGet, modelPath(s, "models/m"), ARMAudience, nil)
	props := c["properties"].(map[string]any)
	if props["latestVersion"] != "10" || props["nextVersion"] != "11" {
		t.Errorf("container %v, want latestVersion 10 and nextVersion 11", props)
	}
	// latestVersion and nextVersion are read-only fields of the API that
	// the example leaves out; the rest is the example's shape.
	shape := deepCopy(c)
	delete(shape["properties"].(map[string]any), "latestVersion")
	delete(shape["properties"].(map[string]any), "nextVersion")
	if p := CheckShape(s.ExampleResponse("models/ModelContainer/get.json", 200), shape); len(p) > 0 {
		t.Errorf("the container's answer differs from the example's: %v", p)
	}

	// A PUT with If-None-Match: * over an existing version replaces it.
	st, b, h := callWithHeader(t, s, http.MethodPut, modelPath(s, "models/m/versions/2"), modelVersionBody("https://x/replaced"), http.Header{"If-None-Match": {"*"}, "If-Match": {`"stale"`}})
	if st != http.StatusOK || b["properties"].(map[string]any)["modelUri"] != "https://x/replaced" {
		t.Errorf("PUT with If-None-Match: * over a version: %d %v; want 200 and the version replaced, as Azure does", st, b)
	}
	if _, ok := b["etag"]; ok || h.Get("ETag") != "" {
		t.Errorf("the answer carries an etag (%v, %q); Azure's model versions have none", b["etag"], h.Get("ETag"))
	}

	var names []string
	next := modelPath(s, "models/m/versions")
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("the list does not end")
		}
		_, page, _ := call(t, s, http.MethodGet, next, ARMAudience, nil)
		for _, v := range page["value"].([]any) {
			names = append(names, v.(map[string]any)["name"].(string))
		}
		next, _ = page["nextLink"].(string)
		if len(next) > len(s.URL) {
			next = next[len(s.URL):]
		}
	}
	if len(names) != 3 {
		t.Errorf("listed %v, want the three versions over two pages", names)
	}
	if st, _, _ := call(t, s, http.MethodDelete, modelPath(s, "models/m/versions/10"), ARMAudience, nil); st != http.StatusOK {
		t.Errorf("DELETE: %d", st)
	}
	_, c, _ = call(t, s, http.MethodGet, modelPath(s, "models/m"), ARMAudience, nil)
	if got := c["properties"].(map[string]any)["latestVersion"]; got != "9" {
		t.Errorf("latestVersion after deleting 10 = %v, want 9", got)
	}
	if v := s.Violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
}

func TestDataRoutes(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	version := map[string]any{"properties": map[string]any{"dataType": "uri_file", "dataUri": "https://acct.blob.core.windows.net/c/d", "isAnonymous": false,
		"properties": map[string]any{"k": "v"}}}
	if st, _, _ := call(t, s, http.MethodPut, modelPath(s, "data/d/versions/v1"), ARMAudience, version); st != http.StatusNotFound {
		t.Fatalf("PUT of a data version without its container: %d, want 404", st)
	}
	if st, _, _ := call(t, s, http.MethodPut, modelPath(s, "data/d"), ARMAudience, map[string]any{"properties": map[string]any{"dataType": "uri_file"}}); st != http.StatusCreated {
		t.Fatalf("PUT of the data container: %d", st)
	}
	if st, b, _ := call(t, s, http.MethodPut, modelPath(s, "data/d/versions/v1"), ARMAudience, version); st != http.StatusCreated {
		t.Fatalf("PUT of the data version: %d %v", st, b)
	}
	bad := map[string]any{"properties": map[string]any{"dataType": "table", "dataUri": "x"}}
	if st, _, _ := call(t, s, http.MethodPut, modelPath(s, "data/d/versions/v2"), ARMAudience, bad); st != http.StatusBadRequest {
		t.Errorf("PUT of an unknown data type: %d, want 400", st)
	}
	_, got, _ := call(t, s, http.MethodGet, modelPath(s, "data/d/versions/v1"), ARMAudience, nil)
	if p := CheckShape(s.ExampleResponse("data/DataVersionBase/get.json", 200), got); len(p) > 0 {
		t.Errorf("the data version's answer differs from the example's: %v", p)
	}
	if st, _, _ := call(t, s, http.MethodDelete, modelPath(s, "data/d/versions/v1"), ARMAudience, nil); st != http.StatusOK {
		t.Errorf("DELETE: %d", st)
	}
	if st, _, _ := call(t, s, http.MethodGet, modelPath(s, "data/d/versions/v1"), ARMAudience, nil); st != http.StatusNotFound {
		t.Errorf("GET after DELETE: %d, want 404", st)
	}
}
