package memprovider

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tideline-ml/tideline/provider"
)

// newEndpoint makes an endpoint "fraud-ep" with the named deployments.
func newEndpoint(t testing.TB, p *Provider, deployments ...string) *provider.EndpointInfo {
	t.Helper()
	ctx := context.Background()
	info, err := p.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "fraud-ep", Region: "westeurope", Metadata: map[string]string{"owner": "risk"}})
	mustOK(t, err)
	for _, d := range deployments {
		_, err := p.CreateDeployment(ctx, &provider.DeploymentSpec{Endpoint: "fraud-ep", Name: d, Model: "fraud", ModelVersion: "1", InstanceType: "Standard_DS3_v2", Instances: 1})
		mustOK(t, err)
	}
	return info
}

func TestEndpointBasics(t *testing.T) {
	p, _ := newFake(t, &Options{Name: "lab"})
	ctx := context.Background()
	info := newEndpoint(t, p)
	if info.URI != "mem://lab/endpoints/fraud-ep" || info.Traffic == nil || len(info.Traffic) != 0 || info.Mirror == nil || info.ETag == "" || !info.Created.Equal(epoch) {
		t.Fatalf("new endpoint: %+v", info)
	}
	_, err := p.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "fraud-ep", Region: "westeurope"})
	wantCode(t, err, provider.AlreadyExists)
	_, err = p.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "other-ep", Region: "centralus"})
	wantCode(t, err, provider.InvalidArgument)
	_, err = p.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "Other", Region: "westeurope"})
	wantCode(t, err, provider.InvalidArgument)
	_, err = p.CreateEndpoint(ctx, nil)
	wantCode(t, err, provider.InvalidArgument)

	_, err = p.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "alpha-ep", Region: "uksouth"})
	mustOK(t, err)
	list, err := p.ListEndpoints(ctx)
	mustOK(t, err)
	if len(list) != 2 || list[0].Name != "alpha-ep" || list[1].Name != "fraud-ep" {
		t.Fatalf("ListEndpoints = %v; want name order", list)
	}
	list[1].Metadata["owner"] = "nobody"
	if got, _ := p.GetEndpoint(ctx, "fraud-ep"); got.Metadata["owner"] != "risk" {
		t.Fatal("endpoint changed through a returned map")
	}

	_, err = p.CreateDeployment(ctx, &provider.DeploymentSpec{Endpoint: "fraud-ep", Name: "blue", Model: "fraud", ModelVersion: "1"})
	mustOK(t, err)
	mustOK(t, p.DeleteEndpoint(ctx, "fraud-ep"))
	if c := p.Counts(); c.Endpoints != 1 || c.Deployments != 0 {
		t.Fatalf("Counts = %+v; deleting an endpoint deletes its deployments", c)
	}
	wantCode(t, p.DeleteEndpoint(ctx, "fraud-ep"), provider.NotFound)
	_, err = p.GetEndpoint(ctx, "fraud-ep")
	wantCode(t, err, provider.NotFound)
	_, err = p.ListDeployments(ctx, "fraud-ep")
	wantCode(t, err, provider.NotFound)
}

func TestDeployments(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	newEndpoint(t, p, "green", "blue")
	d, err := p.GetDeployment(ctx, "fraud-ep", "blue")
	mustOK(t, err)
	if d.State != provider.DeploymentReady || d.Model != "fraud" || d.ModelVersion != "1" {
		t.Fatalf("deployment: %+v", d)
	}
	list, err := p.ListDeployments(ctx, "fraud-ep")
	mustOK(t, err)
	if len(list) != 2 || list[0].Name != "blue" || list[1].Name != "green" {
		t.Fatalf("ListDeployments = %v; want name order", list)
	}
	_, err = p.CreateDeployment(ctx, &provider.DeploymentSpec{Endpoint: "fraud-ep", Name: "blue", Model: "fraud", ModelVersion: "2"})
	wantCode(t, err, provider.AlreadyExists)
	_, err = p.CreateDeployment(ctx, &provider.DeploymentSpec{Endpoint: "none-ep", Name: "blue", Model: "fraud", ModelVersion: "2"})
	wantCode(t, err, provider.NotFound)
	_, err = p.GetDeployment(ctx, "fraud-ep", "red")
	wantCode(t, err, provider.NotFound)
	for name, spec := range map[string]*provider.DeploymentSpec{
		"Nil":              nil,
		"BadName":          {Endpoint: "fraud-ep", Name: "Red", Model: "fraud", ModelVersion: "1"},
		"BadModel":         {Endpoint: "fraud-ep", Name: "red", Model: "", ModelVersion: "1"},
		"BadModelVersion":  {Endpoint: "fraud-ep", Name: "red", Model: "fraud", ModelVersion: "v1"},
		"NegativeInstance": {Endpoint: "fraud-ep", Name: "red", Model: "fraud", ModelVersion: "1", Instances: -1},
		"BadMetadata":      {Endpoint: "fraud-ep", Name: "red", Model: "fraud", ModelVersion: "1", Metadata: map[string]string{"": "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := p.CreateDeployment(ctx, spec)
			wantCode(t, err, provider.InvalidArgument)
		})
	}
	if c := p.Counts(); c.Deployments != 2 {
		t.Fatalf("Counts = %+v", c)
	}
}

func TestManualDeployments(t *testing.T) {
	p := New(&Options{ManualDeployments: true})
	ctx := context.Background()
	newEndpoint(t, p, "blue")
	d, _ := p.GetDeployment(ctx, "fraud-ep", "blue")
	if d.State != provider.DeploymentCreating {
		t.Fatalf("state = %s; want Creating until the test moves it", d.State)
	}
	mustOK(t, p.SetDeploymentState("fraud-ep", "blue", provider.DeploymentFailed, "image pull failed"))
	d, _ = p.GetDeployment(ctx, "fraud-ep", "blue")
	if d.State != provider.DeploymentFailed || d.Message != "image pull failed" {
		t.Fatalf("deployment: %+v", d)
	}
	mustOK(t, p.SetDeploymentState("fraud-ep", "blue", provider.DeploymentReady, ""))
	wantCode(t, p.SetDeploymentState("fraud-ep", "blue", "Sleeping", ""), provider.InvalidArgument)
	wantCode(t, p.SetDeploymentState("fraud-ep", "red", provider.DeploymentReady, ""), provider.NotFound)
	wantCode(t, p.SetDeploymentState("none-ep", "blue", provider.DeploymentReady, ""), provider.NotFound)
}

func TestMaxDeployments(t *testing.T) {
	p := New(&Options{Serving: &provider.ServingCapabilities{MaxDeployments: 2}})
	ctx := context.Background()
	newEndpoint(t, p, "blue", "green")
	_, err := p.CreateDeployment(ctx, &provider.DeploymentSpec{Endpoint: "fraud-ep", Name: "red", Model: "fraud", ModelVersion: "3"})
	wantCode(t, err, provider.FailedPrecondition)
	if !strings.Contains(err.Error(), "blue, green") {
		t.Errorf("error %q should name the deployments in the way", err)
	}
	mustOK(t, p.DeleteDeployment(ctx, "fraud-ep", "green"))
	_, err = p.CreateDeployment(ctx, &provider.DeploymentSpec{Endpoint: "fraud-ep", Name: "red", Model: "fraud", ModelVersion: "3"})
	mustOK(t, err)
}

func TestUpdateEndpointValidation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deps     []string
		mirrorOK bool
		traffic  map[string]int
		mirror   map[string]int
		want     provider.Code
	}{
		{"AllToOne", []string{"blue"}, true, map[string]int{"blue": 100}, nil, provider.OK},
		{"Split", []string{"blue", "green"}, true, map[string]int{"blue": 90, "green": 10}, nil, provider.OK},
		{"ZeroShareKept", []string{"blue", "green"}, true, map[string]int{"blue": 100, "green": 0}, nil, provider.OK},
		{"EmptyWithoutDeployments", nil, true, map[string]int{}, nil, provider.OK},
		{"EmptyWithDeployments", []string{"blue"}, true, map[string]int{}, nil, provider.InvalidArgument},
		{"SumBelow100", []string{"blue", "green"}, true, map[string]int{"blue": 50, "green": 40}, nil, provider.InvalidArgument},
		{"SumAbove100", []string{"blue", "green"}, true, map[string]int{"blue": 60, "green": 50}, nil, provider.InvalidArgument},
		{"Negative", []string{"blue", "green"}, true, map[string]int{"blue": 110, "green": -10}, nil, provider.InvalidArgument},
		{"UnknownDeployment", []string{"blue"}, true, map[string]int{"blue": 50, "red": 50}, nil, provider.InvalidArgument},
		{"UnknownWithoutDeployments", nil, true, map[string]int{"blue": 100}, nil, provider.InvalidArgument},
		{"Mirror", []string{"blue", "green"}, true, map[string]int{"blue": 100}, map[string]int{"green": 50}, provider.OK},
		{"MirrorOver50", []string{"blue", "green"}, true, map[string]int{"blue": 100}, map[string]int{"green": 51}, provider.InvalidArgument},
		{"MirrorNegative", []string{"blue", "green"}, true, map[string]int{"blue": 100}, map[string]int{"green": -1}, provider.InvalidArgument},
		{"MirrorToLive", []string{"blue", "green"}, true, map[string]int{"blue": 50, "green": 50}, map[string]int{"green": 10}, provider.InvalidArgument},
		{"MirrorUnknown", []string{"blue"}, true, map[string]int{"blue": 100}, map[string]int{"red": 10}, provider.InvalidArgument},
		{"MirrorUnsupported", []string{"blue", "green"}, false, map[string]int{"blue": 100}, map[string]int{"green": 10}, provider.InvalidArgument},
		{"ZeroMirrorUnsupported", []string{"blue", "green"}, false, map[string]int{"blue": 100}, map[string]int{"green": 0}, provider.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(&Options{Serving: &provider.ServingCapabilities{Mirror: tc.mirrorOK}})
			before := newEndpoint(t, p, tc.deps...)
			info, err := p.UpdateEndpoint(context.Background(), &provider.EndpointUpdate{Endpoint: "fraud-ep", Traffic: tc.traffic, Mirror: tc.mirror, Metadata: map[string]string{"step": "1"}})
			wantCode(t, err, tc.want)
			after, _ := p.GetEndpoint(context.Background(), "fraud-ep")
			if tc.want != provider.OK {
				if info != nil || after.ETag != before.ETag || after.Metadata["step"] != "" || len(after.Traffic) != 0 {
					t.Fatalf("a refused update changed the endpoint: %+v", after)
				}
				return
			}
			if after.ETag == before.ETag || fmt.Sprint(after.Traffic) != fmt.Sprint(tc.traffic) || after.Metadata["step"] != "1" || after.Metadata["owner"] != "risk" {
				t.Fatalf("after the update: %+v", after)
			}
			if tc.mirror != nil && fmt.Sprint(after.Mirror) != fmt.Sprint(tc.mirror) {
				t.Fatalf("mirror = %v, want %v", after.Mirror, tc.mirror)
			}
		})
	}
}

func TestUpdateEndpointConflictAndPartial(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	before := newEndpoint(t, p, "blue", "green")
	one, err := p.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "fraud-ep", Traffic: map[string]int{"blue": 100}, IfMatch: before.ETag})
	mustOK(t, err)
	_, err = p.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "fraud-ep", Traffic: map[string]int{"green": 100}, IfMatch: before.ETag})
	wantCode(t, err, provider.Conflict)

	// A metadata-only update keeps the split and still changes the ETag.
	two, err := p.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "fraud-ep", Metadata: map[string]string{"owner": ""}})
	mustOK(t, err)
	if two.ETag == one.ETag || two.Traffic["blue"] != 100 || len(two.Metadata) != 0 {
		t.Fatalf("after a metadata-only update: %+v", two)
	}
	// New traffic that would make the current mirror target live is refused.
	_, err = p.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "fraud-ep", Mirror: map[string]int{"green": 20}})
	mustOK(t, err)
	_, err = p.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "fraud-ep", Traffic: map[string]int{"blue": 50, "green": 50}})
	wantCode(t, err, provider.InvalidArgument)
	// Moving traffic and clearing the mirror in one step is accepted.
	_, err = p.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "fraud-ep", Traffic: map[string]int{"blue": 50, "green": 50}, Mirror: map[string]int{}})
	mustOK(t, err)

	_, err = p.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "none-ep"})
	wantCode(t, err, provider.NotFound)
	_, err = p.UpdateEndpoint(ctx, nil)
	wantCode(t, err, provider.InvalidArgument)
}

func TestDeleteDeploymentWithTraffic(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	newEndpoint(t, p, "blue", "green", "shadow")
	_, err := p.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "fraud-ep", Traffic: map[string]int{"blue": 100, "green": 0}, Mirror: map[string]int{"shadow": 10}})
	mustOK(t, err)
	wantCode(t, p.DeleteDeployment(ctx, "fraud-ep", "blue"), provider.FailedPrecondition)
	wantCode(t, p.DeleteDeployment(ctx, "fraud-ep", "shadow"), provider.FailedPrecondition)

	before, _ := p.GetEndpoint(ctx, "fraud-ep")
	mustOK(t, p.DeleteDeployment(ctx, "fraud-ep", "green"))
	after, _ := p.GetEndpoint(ctx, "fraud-ep")
	if _, ok := after.Traffic["green"]; ok || after.ETag == before.ETag {
		t.Fatalf("deleting a zero-share deployment should drop its share and change the ETag: %+v", after)
	}
	wantCode(t, p.DeleteDeployment(ctx, "fraud-ep", "green"), provider.NotFound)
	wantCode(t, p.DeleteDeployment(ctx, "none-ep", "green"), provider.NotFound)
	if c := p.Counts(); c.Deployments != 2 {
		t.Fatalf("Counts = %+v", c)
	}
}
