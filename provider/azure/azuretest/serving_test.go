package azuretest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func endpointPath(s *Server, rel string) string {
	return s.WorkspacePath() + "/onlineEndpoints/" + rel + "?api-version=2025-12-01"
}

func endpointBody(traffic, mirror map[string]any, tags map[string]any) map[string]any {
	props := map[string]any{"authMode": "AMLToken"}
	if traffic != nil {
		props["traffic"] = traffic
	}
	if mirror != nil {
		props["mirrorTraffic"] = mirror
	}
	b := map[string]any{"location": DefaultLocation, "properties": props}
	if tags != nil {
		b["tags"] = tags
	}
	return b
}

func deploymentBody() map[string]any {
	return map[string]any{"location": DefaultLocation, "sku": map[string]any{"name": "Default", "capacity": 1},
		"properties": map[string]any{"endpointComputeType": "Managed", "model": "azureml:fraud:1", "instanceType": "Standard_DS3_v2"}}
}

// TestEndpointTrafficCheckedAsAzureDoes holds the server to the service's
// checks of an endpoint's traffic, mirror traffic and tags.
func TestEndpointTrafficCheckedAsAzureDoes(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	if st, b, h := call(t, s, http.MethodPut, endpointPath(s, "scoring"), ARMAudience, endpointBody(nil, nil, nil)); st != http.StatusCreated || h.Get("Azure-AsyncOperation") == "" {
		t.Fatalf("create: %d %v, want 201 with Azure-AsyncOperation", st, b)
	}
	s.FinishOperations()
	for _, d := range []string{"blue", "green", "red"} {
		if st, b, _ := call(t, s, http.MethodPut, endpointPath(s, "scoring/deployments/"+d), ARMAudience, deploymentBody()); st != http.StatusCreated {
			t.Fatalf("deployment %s: %d %v", d, st, b)
		}
	}
	long := strings.Repeat("x", MaxTagValueLen+1)
	many := map[string]any{}
	for i := range MaxTags + 1 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	for _, tc := range []struct {
		name            string
		traffic, mirror map[string]any
		tags            map[string]any
		want            int
	}{
		{"SumTo100", map[string]any{"blue": 90, "green": 10}, nil, nil, http.StatusOK},
		{"AllZero", map[string]any{"blue": 0}, nil, nil, http.StatusOK},
		{"SumTo90", map[string]any{"blue": 80, "green": 10}, nil, nil, http.StatusBadRequest},
		{"UnknownDeployment", map[string]any{"blue": 50, "purple": 50}, nil, nil, http.StatusBadRequest},
		{"NotWhole", map[string]any{"blue": 99.5, "green": 0.5}, nil, nil, http.StatusBadRequest},
		{"MirrorFifty", map[string]any{"blue": 100}, map[string]any{"green": 50}, nil, http.StatusOK},
		{"MirrorOverFifty", map[string]any{"blue": 100}, map[string]any{"green": 51}, nil, http.StatusBadRequest},
		{"MirrorTwoDeployments", map[string]any{"blue": 100}, map[string]any{"green": 10, "red": 10}, nil, http.StatusBadRequest},
		{"MirrorLiveDeployment", map[string]any{"blue": 100}, map[string]any{"blue": 10}, nil, http.StatusBadRequest},
		{"TagTooLong", nil, nil, map[string]any{"note": long}, http.StatusBadRequest},
		{"TooManyTags", nil, nil, many, http.StatusBadRequest},
		{"TagName", nil, nil, map[string]any{"a/b": "v"}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, b, _ := call(t, s, http.MethodPut, endpointPath(s, "scoring"), ARMAudience, endpointBody(tc.traffic, tc.mirror, tc.tags))
			if st != tc.want {
				t.Errorf("%d %v, want %d", st, b, tc.want)
			}
			s.FinishOperations()
		})
	}
	body := endpointBody(nil, nil, nil)
	body["location"] = "eastus"
	if st, b, _ := call(t, s, http.MethodPut, endpointPath(s, "elsewhere"), ARMAudience, body); st != http.StatusBadRequest {
		t.Errorf("an endpoint outside the workspace's region: %d %v", st, b)
	}
}

// TestEndpointUpdateTakesEffectWhenItsOperationEnds checks that a PUT of an
// existing endpoint answers 200 Updating and applies at the operation's
// end, and that the server offers no conditional request Azure lacks.
func TestEndpointUpdateTakesEffectWhenItsOperationEnds(t *testing.T) {
	s := NewServer(Options{HoldOperations: true})
	defer s.Close()
	call(t, s, http.MethodPut, endpointPath(s, "scoring"), ARMAudience, endpointBody(nil, nil, map[string]any{"stage": "a"}))
	s.FinishOperations()
	st, b, h := call(t, s, http.MethodPut, endpointPath(s, "scoring"), ARMAudience, endpointBody(nil, nil, map[string]any{"stage": "b"}))
	if st != http.StatusOK || h.Get("Azure-AsyncOperation") == "" || provisioningState(b) != StateUpdating {
		t.Fatalf("update: %d %v, want 200 Updating with Azure-AsyncOperation", st, b)
	}
	ep, _ := s.OnlineEndpoint("scoring")
	if ep["tags"].(map[string]any)["stage"] != "a" || provisioningState(ep) != StateUpdating {
		t.Errorf("during the operation the endpoint reads %v", ep)
	}
	if _, ok := ep["etag"]; ok {
		t.Error("the endpoint has an etag, which Azure Machine Learning's endpoints lack")
	}
	s.FinishOperations()
	ep, _ = s.OnlineEndpoint("scoring")
	if ep["tags"].(map[string]any)["stage"] != "b" || provisioningState(ep) != StateSucceeded {
		t.Errorf("after the operation the endpoint reads %v", ep)
	}
}

func TestDeploymentLimitAndHooks(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	call(t, s, http.MethodPut, endpointPath(s, "scoring"), ARMAudience, endpointBody(nil, nil, nil))
	s.FinishOperations()
	for i := range MaxDeploymentsPerEndpoint {
		if st, b, _ := call(t, s, http.MethodPut, endpointPath(s, fmt.Sprintf("scoring/deployments/rev%d", i)), ARMAudience, deploymentBody()); st != http.StatusCreated {
			t.Fatalf("deployment %d: %d %v", i, st, b)
		}
	}
	if st, _, _ := call(t, s, http.MethodPut, endpointPath(s, "scoring/deployments/onemore"), ARMAudience, deploymentBody()); st != http.StatusBadRequest {
		t.Errorf("deployment beyond the limit: %d, want 400", st)
	}
	if err := s.SetDeploymentReady("scoring", "rev0"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDeploymentFailed("scoring", "rev1", "image pull failed"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"rev0": StateSucceeded, "rev1": StateFailed, "rev2": StateCreating} {
		_, b, _ := call(t, s, http.MethodGet, endpointPath(s, "scoring/deployments/"+name), ARMAudience, nil)
		if got := provisioningState(b); got != want {
			t.Errorf("%s is %s, want %s", name, got, want)
		}
	}
	if err := s.SetDeploymentReady("scoring", "missing"); err == nil {
		t.Error("SetDeploymentReady of a missing deployment succeeded")
	}
}
