package providertest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/tideline-ml/tideline/provider"
)

func (e *env) endpointSpec(name string) *provider.EndpointSpec {
	return &provider.EndpointSpec{Name: name, Region: e.region, Metadata: map[string]string{"owner": "risk-team"}}
}

// mustEndpoint creates an endpoint named after tag and returns its name.
func (e *env) mustEndpoint(t *testing.T, tag string) string {
	t.Helper()
	spec := e.endpointSpec(e.name(tag))
	info, err := e.srv.CreateEndpoint(e.ctx, spec)
	mustInfo(t, info, err, fmt.Sprintf("CreateEndpoint(%s)", spec.Name))
	return spec.Name
}

func (e *env) deploymentSpec(endpoint, name string) *provider.DeploymentSpec {
	spec := &provider.DeploymentSpec{
		Endpoint:     endpoint,
		Name:         name,
		Model:        "fraud",
		ModelVersion: "3",
		ArtifactURI:  "mem://conformance/models/fraud/3",
		InstanceType: "Standard_DS3_v2",
		Instances:    2,
		Metadata:     map[string]string{"release": name},
	}
	if e.o.PrepareDeployment != nil {
		e.o.PrepareDeployment(spec)
		spec.Endpoint, spec.Name = endpoint, name
	}
	return spec
}

func cloneDeploymentSpec(s *provider.DeploymentSpec) provider.DeploymentSpec {
	c := *s
	c.Metadata = cloneStrings(s.Metadata)
	return c
}

// mustDeployment creates a deployment, has the harness mark it ready and
// waits until the provider says so.
func (e *env) mustDeployment(t *testing.T, endpoint, name string) *provider.DeploymentInfo {
	t.Helper()
	info, err := e.srv.CreateDeployment(e.ctx, e.deploymentSpec(endpoint, name))
	mustInfo(t, info, err, fmt.Sprintf("CreateDeployment(%s/%s)", endpoint, name))
	must(t, e.h.SetDeploymentReady(e.ctx, e.p, endpoint, name), fmt.Sprintf("harness SetDeploymentReady(%s/%s)", endpoint, name))
	return e.waitDeployment(t, endpoint, name, string(provider.DeploymentReady), func(d *provider.DeploymentInfo) bool {
		return d.State == provider.DeploymentReady
	})
}

func (e *env) mustGetEndpoint(t *testing.T, name string) *provider.EndpointInfo {
	t.Helper()
	info, err := e.srv.GetEndpoint(e.ctx, name)
	return mustInfo(t, info, err, fmt.Sprintf("GetEndpoint(%s)", name))
}

func (e *env) update(upd *provider.EndpointUpdate) (*provider.EndpointInfo, error) {
	return e.srv.UpdateEndpoint(e.ctx, upd)
}

func (e *env) mustUpdate(t *testing.T, upd *provider.EndpointUpdate) *provider.EndpointInfo {
	t.Helper()
	info, err := e.update(upd)
	return mustInfo(t, info, err, fmt.Sprintf("UpdateEndpoint(%s, traffic %v, mirror %v)", upd.Endpoint, upd.Traffic, upd.Mirror))
}

// blueGreen makes an endpoint with deployments blue (all live traffic) and
// green (none).
func (e *env) blueGreen(t *testing.T) (string, *provider.EndpointInfo) {
	t.Helper()
	e.needDeployments(t, 2)
	ep := e.mustEndpoint(t, "scoring")
	e.mustDeployment(t, ep, "blue")
	e.mustDeployment(t, ep, "green")
	return ep, e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 100}})
}

// needDeployments skips a test that needs n deployments on one endpoint
// when the provider's endpoints hold fewer.
func (e *env) needDeployments(t *testing.T, n int) {
	t.Helper()
	if m := e.srv.ServingCapabilities().MaxDeployments; m != 0 && m < n {
		t.Skipf("the test needs %d deployments on one endpoint; ServingCapabilities().MaxDeployments is %d", n, m)
	}
}

func (e *env) needMirror(t *testing.T) {
	t.Helper()
	if !e.srv.ServingCapabilities().Mirror {
		t.Skip("ServingCapabilities().Mirror is false: the provider cannot mirror traffic")
	}
}

// liveShares drops zero shares, which a provider may or may not keep.
func liveShares(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func sameShares(a, b map[string]int) bool { return sameMap(liveShares(a), liveShares(b)) }

// checkUnchanged checks that a rejected update left the endpoint as it was.
// It compares what the endpoint holds, not its ETag, which a controller
// writing status may change at any time.
func (e *env) checkUnchanged(t *testing.T, before *provider.EndpointInfo, after string) {
	t.Helper()
	got := e.mustGetEndpoint(t, before.Name)
	if !sameShares(got.Traffic, before.Traffic) || !sameShares(got.Mirror, before.Mirror) || !sameMap(got.Metadata, before.Metadata) {
		t.Errorf("after %s the endpoint reads traffic %v mirror %v metadata %v, want it unchanged: %v %v %v", after,
			got.Traffic, got.Mirror, got.Metadata, before.Traffic, before.Mirror, before.Metadata)
	}
}

// currentETag reads an endpoint's ETag now.
func (e *env) currentETag(t *testing.T, ep string) string {
	t.Helper()
	return e.mustGetEndpoint(t, ep).ETag
}

// deploymentGone waits until a deleted deployment is neither found nor
// listed.
func (e *env) deploymentGone(t *testing.T, ep, name string) {
	t.Helper()
	if err := e.pollDeploymentGone(ep, name); err != nil {
		t.Fatal(err)
	}
}

func (e *env) pollDeploymentGone(ep, name string) error {
	return e.poll(fmt.Sprintf("deployment %s/%s being deleted", ep, name), func(ctx context.Context) (bool, string, error) {
		_, err := e.srv.GetDeployment(ctx, ep, name)
		switch provider.CodeOf(err) {
		case provider.OK:
			return false, "GetDeployment still finds it", nil
		case provider.NotFound:
		default:
			return false, "", err
		}
		list, err := e.srv.ListDeployments(ctx, ep)
		if err != nil {
			return false, "", err
		}
		if slices.ContainsFunc(list, func(d *provider.DeploymentInfo) bool { return d != nil && d.Name == name }) {
			return false, "ListDeployments still lists it", nil
		}
		return true, "", nil
	})
}

func servingTests() []test {
	return []test{
		{name: "CreateEndpointThenGet", fn: func(t *testing.T, e *env) {
			spec := e.endpointSpec(e.name("scoring"))
			created, err := e.srv.CreateEndpoint(e.ctx, spec)
			created = mustInfo(t, created, err, "CreateEndpoint")
			got := e.mustGetEndpoint(t, spec.Name)
			for call, info := range map[string]*provider.EndpointInfo{"CreateEndpoint": created, "GetEndpoint": got} {
				if info.Name != spec.Name || info.Region != e.region || !sameMap(info.Metadata, spec.Metadata) {
					t.Errorf("%s: %s in %q metadata %v, want %s in %q metadata %v", call, info.Name, info.Region, info.Metadata, spec.Name, e.region, spec.Metadata)
				}
				if len(liveShares(info.Traffic)) != 0 || len(liveShares(info.Mirror)) != 0 {
					t.Errorf("%s: a new endpoint has traffic %v mirror %v, want none", call, info.Traffic, info.Mirror)
				}
				if info.URI == "" || info.ETag == "" || info.Created.IsZero() {
					t.Errorf("%s: URI %q, ETag %q, Created %v; all must be set", call, info.URI, info.ETag, info.Created)
				}
			}
			if list, err := e.srv.ListDeployments(e.ctx, spec.Name); err != nil || len(list) != 0 {
				t.Errorf("ListDeployments of a new endpoint = %d entries, %v; want none", len(list), err)
			}
		}},
		{name: "DuplicateEndpointIsAlreadyExists", fn: func(t *testing.T, e *env) {
			ep := e.mustEndpoint(t, "scoring")
			spec := e.endpointSpec(ep)
			spec.Metadata = map[string]string{"owner": "someone-else"}
			_, err := e.srv.CreateEndpoint(e.ctx, spec)
			checkCode(t, err, provider.AlreadyExists, "CreateEndpoint of an existing name")
			if got := e.mustGetEndpoint(t, ep); got.Metadata["owner"] != "risk-team" {
				t.Errorf("a rejected duplicate changed the endpoint's metadata to %v", got.Metadata)
			}
		}},
		{name: "EndpointUnknownRegionIsInvalidArgument", fn: func(t *testing.T, e *env) {
			spec := e.endpointSpec(e.name("scoring"))
			spec.Region = e.otherRegion
			_, err := e.srv.CreateEndpoint(e.ctx, spec)
			checkCode(t, err, provider.InvalidArgument, fmt.Sprintf("CreateEndpoint in region %q", e.otherRegion))
			_, err = e.srv.GetEndpoint(e.ctx, spec.Name)
			checkCode(t, err, provider.NotFound, "GetEndpoint after a rejected create")
		}},
		{name: "MissingEndpointIsNotFound", fn: func(t *testing.T, e *env) {
			name := e.name("missing")
			_, err := e.srv.GetEndpoint(e.ctx, name)
			checkCode(t, err, provider.NotFound, "GetEndpoint")
			checkCode(t, e.srv.DeleteEndpoint(e.ctx, name), provider.NotFound, "DeleteEndpoint")
			_, err = e.update(&provider.EndpointUpdate{Endpoint: name, Metadata: map[string]string{"a": "b"}})
			checkCode(t, err, provider.NotFound, "UpdateEndpoint")
			_, err = e.srv.ListDeployments(e.ctx, name)
			checkCode(t, err, provider.NotFound, "ListDeployments")
			_, err = e.srv.CreateDeployment(e.ctx, e.deploymentSpec(name, "blue"))
			checkCode(t, err, provider.NotFound, "CreateDeployment")
		}},
		{name: "ListEndpointsOrderedByName", fn: func(t *testing.T, e *env) {
			names := []string{e.name("c"), e.name("b"), e.name("a")}
			for _, n := range slices.Backward(slices.Sorted(slices.Values(names))) {
				_, err := e.srv.CreateEndpoint(e.ctx, e.endpointSpec(n))
				must(t, err, "CreateEndpoint")
			}
			all, err := e.srv.ListEndpoints(e.ctx)
			must(t, err, "ListEndpoints")
			var got []string
			for i, ep := range all {
				if ep == nil {
					t.Fatalf("ListEndpoints()[%d] is nil", i)
				}
				if slices.Contains(names, ep.Name) {
					got = append(got, ep.Name)
				}
				if i > 0 && all[i-1] != nil && all[i-1].Name >= ep.Name {
					t.Errorf("ListEndpoints is not ordered by name: %s before %s", all[i-1].Name, ep.Name)
				}
			}
			if want := slices.Sorted(slices.Values(names)); !slices.Equal(got, want) {
				t.Errorf("ListEndpoints lists %v of ours, want %v", got, want)
			}
		}},
		{name: "CreateDeploymentThenGet", fn: func(t *testing.T, e *env) {
			ep := e.mustEndpoint(t, "scoring")
			spec := e.deploymentSpec(ep, "blue")
			want := cloneDeploymentSpec(spec)
			created, err := e.srv.CreateDeployment(e.ctx, spec)
			created = mustInfo(t, created, err, "CreateDeployment")
			got, err := e.srv.GetDeployment(e.ctx, ep, "blue")
			got = mustInfo(t, got, err, "GetDeployment")
			for call, info := range map[string]*provider.DeploymentInfo{"CreateDeployment": created, "GetDeployment": got} {
				gs := info.DeploymentSpec
				if gs.Endpoint != want.Endpoint || gs.Name != want.Name || gs.Model != want.Model || gs.ModelVersion != want.ModelVersion ||
					gs.ArtifactURI != want.ArtifactURI || gs.InstanceType != want.InstanceType || gs.Instances != want.Instances || !sameMap(gs.Metadata, want.Metadata) {
					t.Errorf("%s: spec %+v, want %+v", call, gs, want)
				}
				if info.State != provider.DeploymentCreating && info.State != provider.DeploymentReady {
					t.Errorf("%s: a new deployment is %q, want %s or %s", call, info.State, provider.DeploymentCreating, provider.DeploymentReady)
				}
				if info.Created.IsZero() {
					t.Errorf("%s: Created is zero", call)
				}
			}
			if share := e.mustGetEndpoint(t, ep).Traffic["blue"]; share != 0 {
				t.Errorf("a new deployment receives %d%% of the traffic; CreateDeployment adds it with none", share)
			}
		}},
		{name: "DeploymentBecomesReady", fn: func(t *testing.T, e *env) {
			ep := e.mustEndpoint(t, "scoring")
			d := e.mustDeployment(t, ep, "blue")
			if d.State != provider.DeploymentReady {
				t.Errorf("state %s, want %s", d.State, provider.DeploymentReady)
			}
			list, err := e.srv.ListDeployments(e.ctx, ep)
			must(t, err, "ListDeployments")
			if len(list) != 1 || list[0] == nil || list[0].State != provider.DeploymentReady {
				t.Errorf("ListDeployments does not show the ready deployment: %d entries", len(list))
			}
		}},
		{name: "DuplicateDeploymentIsAlreadyExists", fn: func(t *testing.T, e *env) {
			ep := e.mustEndpoint(t, "scoring")
			e.mustDeployment(t, ep, "blue")
			other := e.deploymentSpec(ep, "blue")
			other.ModelVersion = "4"
			_, err := e.srv.CreateDeployment(e.ctx, other)
			checkCode(t, err, provider.AlreadyExists, "CreateDeployment of an existing name")
			got, err := e.srv.GetDeployment(e.ctx, ep, "blue")
			if got = mustInfo(t, got, err, "GetDeployment"); got.ModelVersion != "3" {
				t.Errorf("a rejected duplicate changed the deployment's model version to %q", got.ModelVersion)
			}
		}},
		{name: "MissingDeploymentIsNotFound", fn: func(t *testing.T, e *env) {
			ep := e.mustEndpoint(t, "scoring")
			_, err := e.srv.GetDeployment(e.ctx, ep, "blue")
			checkCode(t, err, provider.NotFound, "GetDeployment of an unknown deployment")
			checkCode(t, e.srv.DeleteDeployment(e.ctx, ep, "blue"), provider.NotFound, "DeleteDeployment of an unknown deployment")
			_, err = e.srv.GetDeployment(e.ctx, e.name("missing"), "blue")
			checkCode(t, err, provider.NotFound, "GetDeployment on an unknown endpoint")
		}},
		{name: "ListDeploymentsOrderedByName", fn: func(t *testing.T, e *env) {
			e.needDeployments(t, 2)
			ep := e.mustEndpoint(t, "scoring")
			e.mustDeployment(t, ep, "green")
			e.mustDeployment(t, ep, "blue")
			list, err := e.srv.ListDeployments(e.ctx, ep)
			must(t, err, "ListDeployments")
			var got []string
			for _, d := range list {
				if d == nil {
					t.Fatal("ListDeployments holds a nil entry")
				}
				got = append(got, d.Name)
			}
			if want := []string{"blue", "green"}; !slices.Equal(got, want) {
				t.Errorf("ListDeployments = %v, want %v", got, want)
			}
		}},
		{name: "TrafficSplit", fn: func(t *testing.T, e *env) {
			ep, first := e.blueGreen(t)
			if !sameShares(first.Traffic, map[string]int{"blue": 100}) {
				t.Errorf("traffic %v, want blue:100", first.Traffic)
			}
			split := e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 90, "green": 10}})
			if !sameShares(split.Traffic, map[string]int{"blue": 90, "green": 10}) {
				t.Errorf("UpdateEndpoint returned traffic %v, want blue:90 green:10", split.Traffic)
			}
			if split.ETag == "" || split.ETag == first.ETag {
				t.Errorf("ETag after a traffic change = %q, want a new value (was %q)", split.ETag, first.ETag)
			}
			got := e.mustGetEndpoint(t, ep)
			if !sameShares(got.Traffic, split.Traffic) || got.ETag == first.ETag {
				t.Errorf("GetEndpoint traffic %v etag %q, want %v and an ETag other than the one before the change (%q)", got.Traffic, got.ETag, split.Traffic, first.ETag)
			}
			all := e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"green": 100}})
			if !sameShares(all.Traffic, map[string]int{"green": 100}) {
				t.Errorf("after moving everything to green: traffic %v", all.Traffic)
			}
		}},
		{name: "TrafficMustSumTo100", fn: func(t *testing.T, e *env) {
			ep, before := e.blueGreen(t)
			for _, c := range []struct {
				why     string
				traffic map[string]int
			}{
				{"Under", map[string]int{"blue": 80, "green": 10}},
				{"Over", map[string]int{"blue": 100, "green": 10}},
				{"Zero", map[string]int{"blue": 0, "green": 0}},
				{"Empty", map[string]int{}},
			} {
				t.Run(c.why, func(t *testing.T) {
					_, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Traffic: c.traffic})
					checkCode(t, err, provider.InvalidArgument, fmt.Sprintf("UpdateEndpoint with traffic %v on an endpoint with deployments", c.traffic))
					e.checkUnchanged(t, before, "a rejected split")
				})
			}
		}},
		{name: "EmptyEndpointTrafficSumsToZero", fn: func(t *testing.T, e *env) {
			ep := e.mustEndpoint(t, "scoring")
			info := e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{}})
			if len(liveShares(info.Traffic)) != 0 {
				t.Errorf("traffic %v on an endpoint without deployments, want none", info.Traffic)
			}
			_, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 100}})
			checkCode(t, err, provider.InvalidArgument, "UpdateEndpoint sending traffic to a deployment of an empty endpoint")
		}},
		{name: "TrafficUnknownDeploymentIsInvalidArgument", fn: func(t *testing.T, e *env) {
			ep, before := e.blueGreen(t)
			_, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 50, "purple": 50}})
			checkCode(t, err, provider.InvalidArgument, "UpdateEndpoint with a share for an unknown deployment")
			e.checkUnchanged(t, before, "a rejected split")
		}},
		{name: "TrafficNegativeShareIsInvalidArgument", fn: func(t *testing.T, e *env) {
			ep, before := e.blueGreen(t)
			_, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 110, "green": -10}})
			checkCode(t, err, provider.InvalidArgument, "UpdateEndpoint with a negative share summing to 100")
			e.checkUnchanged(t, before, "a rejected split")
		}},
		{name: "NilTrafficKeepsSplit", fn: func(t *testing.T, e *env) {
			ep, _ := e.blueGreen(t)
			split := e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 70, "green": 30}})
			md := e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: ep, Metadata: map[string]string{"stage": "canary"}})
			if !sameShares(md.Traffic, split.Traffic) || !sameShares(md.Mirror, split.Mirror) {
				t.Errorf("an update without Traffic or Mirror changed the split to %v mirror %v, want %v %v", md.Traffic, md.Mirror, split.Traffic, split.Mirror)
			}
		}},
		{name: "FailedUpdateChangesNothing", fn: func(t *testing.T, e *env) {
			ep, before := e.blueGreen(t)
			_, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 50, "green": 40}, Metadata: map[string]string{"stage": "half"}})
			checkCode(t, err, provider.InvalidArgument, "UpdateEndpoint with a bad split and metadata")
			e.checkUnchanged(t, before, "a rejected update that also carried metadata")
			if e.srv.ServingCapabilities().Mirror {
				_, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 90, "green": 10}, Mirror: map[string]int{"green": 60}})
				checkCode(t, err, provider.InvalidArgument, "UpdateEndpoint with a good split and a bad mirror")
				e.checkUnchanged(t, before, "a rejected update with a good split and a bad mirror")
			}
		}},
		{name: "MirrorUpToFifty", fn: func(t *testing.T, e *env) {
			e.needMirror(t)
			ep, _ := e.blueGreen(t)
			info := e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: ep, Mirror: map[string]int{"green": 50}})
			if !sameShares(info.Mirror, map[string]int{"green": 50}) || !sameShares(info.Traffic, map[string]int{"blue": 100}) {
				t.Errorf("after mirroring: traffic %v mirror %v, want blue:100 and mirror green:50", info.Traffic, info.Mirror)
			}
			if got := e.mustGetEndpoint(t, ep); !sameShares(got.Mirror, info.Mirror) {
				t.Errorf("GetEndpoint mirror %v, want %v", got.Mirror, info.Mirror)
			}
			off := e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: ep, Mirror: map[string]int{}})
			if len(liveShares(off.Mirror)) != 0 {
				t.Errorf("an empty Mirror map left mirror %v, want none", off.Mirror)
			}
		}},
		{name: "MirrorOverFiftyIsInvalidArgument", fn: func(t *testing.T, e *env) {
			e.needMirror(t)
			ep, before := e.blueGreen(t)
			_, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Mirror: map[string]int{"green": 51}})
			checkCode(t, err, provider.InvalidArgument, "UpdateEndpoint mirroring 51%")
			e.checkUnchanged(t, before, "a rejected mirror")
		}},
		{name: "MirrorOnLiveDeploymentIsInvalidArgument", fn: func(t *testing.T, e *env) {
			e.needMirror(t)
			ep, before := e.blueGreen(t)
			_, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Mirror: map[string]int{"blue": 10}})
			checkCode(t, err, provider.InvalidArgument, "UpdateEndpoint mirroring to the deployment with live traffic")
			_, err = e.update(&provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 90, "green": 10}, Mirror: map[string]int{"green": 10}})
			checkCode(t, err, provider.InvalidArgument, "UpdateEndpoint giving one deployment live and mirrored traffic at once")
			e.checkUnchanged(t, before, "a rejected mirror")
		}},
		{name: "MirrorUnknownDeploymentIsInvalidArgument", fn: func(t *testing.T, e *env) {
			e.needMirror(t)
			ep, before := e.blueGreen(t)
			_, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Mirror: map[string]int{"purple": 10}})
			checkCode(t, err, provider.InvalidArgument, "UpdateEndpoint mirroring to an unknown deployment")
			e.checkUnchanged(t, before, "a rejected mirror")
		}},
		{name: "MirrorUnsupportedIsInvalidArgument", fn: func(t *testing.T, e *env) {
			if e.srv.ServingCapabilities().Mirror {
				t.Skip("ServingCapabilities().Mirror is true; this test is for providers that cannot mirror")
			}
			ep, before := e.blueGreen(t)
			_, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Mirror: map[string]int{"green": 10}})
			checkCode(t, err, provider.InvalidArgument, "UpdateEndpoint with a mirror on a provider that cannot mirror")
			e.checkUnchanged(t, before, "a rejected mirror")
		}},
		{name: "MaxDeploymentsEnforced", fn: func(t *testing.T, e *env) {
			limit := e.srv.ServingCapabilities().MaxDeployments
			if limit == 0 {
				t.Skip("ServingCapabilities().MaxDeployments is 0: the provider's endpoints hold any number of deployments")
			}
			ep := e.mustEndpoint(t, "scoring")
			for i := range limit {
				e.mustDeployment(t, ep, fmt.Sprintf("rev-%d", i))
			}
			_, err := e.srv.CreateDeployment(e.ctx, e.deploymentSpec(ep, "one-too-many"))
			checkCode(t, err, provider.FailedPrecondition, fmt.Sprintf("CreateDeployment beyond MaxDeployments (%d)", limit))
			_, err = e.srv.GetDeployment(e.ctx, ep, "one-too-many")
			checkCode(t, err, provider.NotFound, "GetDeployment of the rejected deployment")
			must(t, e.srv.DeleteDeployment(e.ctx, ep, "rev-0"), "DeleteDeployment")
			// The limit counts a deployment until its delete has finished.
			e.deploymentGone(t, ep, "rev-0")
			e.mustDeployment(t, ep, "one-too-many")
		}},
		{name: "DeleteDeploymentWithTrafficIsFailedPrecondition", fn: func(t *testing.T, e *env) {
			ep, _ := e.blueGreen(t)
			checkCode(t, e.srv.DeleteDeployment(e.ctx, ep, "blue"), provider.FailedPrecondition, "DeleteDeployment of the live deployment")
			e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 99, "green": 1}})
			checkCode(t, e.srv.DeleteDeployment(e.ctx, ep, "green"), provider.FailedPrecondition, "DeleteDeployment of a deployment with 1% of the traffic")
			for _, name := range []string{"blue", "green"} {
				_, err := e.srv.GetDeployment(e.ctx, ep, name)
				must(t, err, "GetDeployment after a refused delete of "+name)
			}
		}},
		{name: "DeleteMirroredDeploymentIsFailedPrecondition", fn: func(t *testing.T, e *env) {
			e.needMirror(t)
			ep, _ := e.blueGreen(t)
			e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: ep, Mirror: map[string]int{"green": 20}})
			checkCode(t, e.srv.DeleteDeployment(e.ctx, ep, "green"), provider.FailedPrecondition, "DeleteDeployment of a mirrored deployment")
			e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: ep, Mirror: map[string]int{}})
			must(t, e.srv.DeleteDeployment(e.ctx, ep, "green"), "DeleteDeployment once the mirror is off")
		}},
		{name: "DeleteDeploymentWithoutTraffic", fn: func(t *testing.T, e *env) {
			ep, _ := e.blueGreen(t)
			must(t, e.srv.DeleteDeployment(e.ctx, ep, "green"), "DeleteDeployment of a deployment without traffic")
			e.deploymentGone(t, ep, "green")
			list, err := e.srv.ListDeployments(e.ctx, ep)
			must(t, err, "ListDeployments")
			if len(list) != 1 || list[0] == nil || list[0].Name != "blue" {
				t.Errorf("ListDeployments after deleting green has %d entries, want blue alone", len(list))
			}
			if got := e.mustGetEndpoint(t, ep); !sameShares(got.Traffic, map[string]int{"blue": 100}) {
				t.Errorf("deleting a deployment without traffic changed the split to %v", got.Traffic)
			}
		}},
		{name: "MetadataMergeAndDelete", fn: func(t *testing.T, e *env) {
			ep := e.mustEndpoint(t, "scoring")
			before := e.mustGetEndpoint(t, ep)
			upd := e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: ep, Metadata: map[string]string{"owner": "", "stage": "canary"}})
			if !sameMap(upd.Metadata, map[string]string{"stage": "canary"}) {
				t.Errorf("metadata after a merge = %v, want {stage:canary}", upd.Metadata)
			}
			if upd.ETag == "" || upd.ETag == before.ETag {
				t.Errorf("ETag after a metadata change = %q, want a new value (was %q)", upd.ETag, before.ETag)
			}
			if got := e.mustGetEndpoint(t, ep); !sameMap(got.Metadata, upd.Metadata) || got.ETag == before.ETag {
				t.Errorf("GetEndpoint after the merge: metadata %v etag %q, want %v and an ETag other than the one before the change (%q)", got.Metadata, got.ETag, upd.Metadata, before.ETag)
			}
		}},
		{name: "StaleETagIsConflict", fn: func(t *testing.T, e *env) {
			ep, first := e.blueGreen(t)
			var split *provider.EndpointInfo
			used := first.ETag
			retryConflict(t, "UpdateEndpoint with the current ETag", first.ETag, func() (string, error) {
				return e.currentETag(t, ep), nil
			}, func(etag string) (err error) {
				used = etag
				split, err = e.update(&provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 90, "green": 10}, IfMatch: etag})
				return err
			})
			split = mustInfo(t, split, nil, "UpdateEndpoint with the current ETag")
			_, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 50, "green": 50}, IfMatch: used})
			checkCode(t, err, provider.Conflict, "UpdateEndpoint with a stale ETag")
			e.checkUnchanged(t, split, "a Conflict")
		}},
		{name: "ConcurrentConditionalUpdatesOneWins", fn: func(t *testing.T, e *env) {
			ep, first := e.blueGreen(t)
			w := e.oneWinner(t, "UpdateEndpoint with the same ETag", first.ETag, func() string { return e.currentETag(t, ep) }, func(i int, etag string) error {
				_, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 100 - i, "green": i}, IfMatch: etag})
				return err
			})
			if w >= 0 {
				if got := e.mustGetEndpoint(t, ep); !sameShares(got.Traffic, map[string]int{"blue": 100 - w, "green": w}) {
					t.Errorf("stored traffic %v, want the winner's (call %d)", got.Traffic, w)
				}
			}
		}},
		{name: "ConcurrentTrafficUpdatesAreAtomic", fn: func(t *testing.T, e *env) {
			ep, _ := e.blueGreen(t)
			splits := make([]map[string]int, e.o.Concurrency)
			for i := range splits {
				splits[i] = map[string]int{"blue": 100 - 10*(i%10), "green": 10 * (i % 10)}
			}
			errs := concurrently(len(splits), func(i int) error {
				_, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Traffic: splits[i], Metadata: map[string]string{"writer": strconv.Itoa(i)}})
				return err
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("UpdateEndpoint %d: %v", i, err)
				}
			}
			got := e.mustGetEndpoint(t, ep)
			w, err := strconv.Atoi(got.Metadata["writer"])
			if err != nil || w < 0 || w >= len(splits) {
				t.Fatalf("after the updates metadata writer=%q, want one of the writers", got.Metadata["writer"])
			}
			if !sameShares(got.Traffic, splits[w]) {
				t.Errorf("the endpoint's traffic %v and metadata (writer %d, split %v) come from different updates; an update is one atomic step", got.Traffic, w, splits[w])
			}
		}},
		{name: "DeleteEndpointRemovesDeployments", fn: func(t *testing.T, e *env) {
			ep, _ := e.blueGreen(t)
			must(t, e.srv.DeleteEndpoint(e.ctx, ep), "DeleteEndpoint")
			// Deleting an endpoint is a long-running operation on Azure ML
			// and garbage collection of its dependents on Kubernetes, so the
			// suite waits for the outcome.
			e.eventually(t, "GetEndpoint of the deleted endpoint answering NotFound", gone(func(ctx context.Context) error {
				_, err := e.srv.GetEndpoint(ctx, ep)
				return err
			}))
			for _, name := range []string{"blue", "green"} {
				e.eventually(t, "GetDeployment of "+name+" answering NotFound after DeleteEndpoint", gone(func(ctx context.Context) error {
					_, err := e.srv.GetDeployment(ctx, ep, name)
					return err
				}))
			}
			e.eventually(t, "ListDeployments of the deleted endpoint answering NotFound", gone(func(ctx context.Context) error {
				_, err := e.srv.ListDeployments(ctx, ep)
				return err
			}))
			e.eventually(t, "ListEndpoints no longer listing the deleted endpoint", func(ctx context.Context) (bool, string, error) {
				all, err := e.srv.ListEndpoints(ctx)
				listed := slices.ContainsFunc(all, func(i *provider.EndpointInfo) bool { return i != nil && i.Name == ep })
				return !listed, "still listed", err
			})
			// The name is free again, and nothing of the old endpoint is in it.
			_, err := e.srv.CreateEndpoint(e.ctx, e.endpointSpec(ep))
			must(t, err, "CreateEndpoint with the deleted endpoint's name")
			list, err := e.srv.ListDeployments(e.ctx, ep)
			must(t, err, "ListDeployments of the new endpoint")
			if len(list) != 0 {
				t.Errorf("a new endpoint under a deleted one's name has %d deployments, want none", len(list))
			}
		}},
		{name: "ReturnedValuesAreCopies", fn: func(t *testing.T, e *env) {
			ep, first := e.blueGreen(t)
			want := maps.Clone(first.Traffic)
			mutateEP := func(i *provider.EndpointInfo) {
				if i.Traffic == nil {
					return
				}
				i.Traffic["blue"] = 1
				i.Traffic["green"] = 99
				if i.Metadata != nil {
					i.Metadata["owner"] = "mutated"
				}
				if i.Mirror != nil {
					i.Mirror["green"] = 50
				}
			}
			check := func(after string) {
				t.Helper()
				got := e.mustGetEndpoint(t, ep)
				if !sameShares(got.Traffic, want) || got.Metadata["owner"] != "risk-team" || len(liveShares(got.Mirror)) != 0 {
					t.Errorf("after changing %s's result the endpoint reads traffic %v metadata %v mirror %v", after, got.Traffic, got.Metadata, got.Mirror)
				}
			}
			mutateEP(first)
			check("UpdateEndpoint")
			got := e.mustGetEndpoint(t, ep)
			mutateEP(got)
			check("GetEndpoint")
			all, err := e.srv.ListEndpoints(e.ctx)
			must(t, err, "ListEndpoints")
			for _, i := range all {
				if i != nil && i.Name == ep {
					mutateEP(i)
				}
			}
			check("ListEndpoints")

			d, err := e.srv.GetDeployment(e.ctx, ep, "blue")
			d = mustInfo(t, d, err, "GetDeployment")
			d.Metadata["release"] = "mutated"
			d.ModelVersion = "mutated"
			list, err := e.srv.ListDeployments(e.ctx, ep)
			must(t, err, "ListDeployments")
			for _, li := range list {
				if li != nil && li.Name == "blue" {
					if li.Metadata["release"] != "blue" || li.ModelVersion != "3" {
						t.Errorf("after changing GetDeployment's result ListDeployments shows release=%q version %q", li.Metadata["release"], li.ModelVersion)
					}
					li.Metadata["release"] = "mutated"
				}
			}
			again, err := e.srv.GetDeployment(e.ctx, ep, "blue")
			if again = mustInfo(t, again, err, "GetDeployment"); again.Metadata["release"] != "blue" {
				t.Errorf("after changing ListDeployments' result GetDeployment shows release=%q", again.Metadata["release"])
			}
		}},
		{name: "RequestIsNotRetained", fn: func(t *testing.T, e *env) {
			e.needDeployments(t, 2)
			spec := e.endpointSpec(e.name("scoring"))
			_, err := e.srv.CreateEndpoint(e.ctx, spec)
			must(t, err, "CreateEndpoint")
			spec.Metadata["owner"] = "mutated"
			dspec := e.deploymentSpec(spec.Name, "blue")
			_, err = e.srv.CreateDeployment(e.ctx, dspec)
			must(t, err, "CreateDeployment")
			dspec.Metadata["release"] = "mutated"
			e.mustDeployment(t, spec.Name, "green")
			must(t, e.h.SetDeploymentReady(e.ctx, e.p, spec.Name, "blue"), "harness SetDeploymentReady")
			traffic := map[string]int{"blue": 60, "green": 40}
			e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: spec.Name, Traffic: traffic})
			traffic["blue"], traffic["green"] = 0, 100
			got := e.mustGetEndpoint(t, spec.Name)
			if got.Metadata["owner"] != "risk-team" || !sameShares(got.Traffic, map[string]int{"blue": 60, "green": 40}) {
				t.Errorf("changing the caller's maps after the calls changed the endpoint: metadata %v traffic %v", got.Metadata, got.Traffic)
			}
			d, err := e.srv.GetDeployment(e.ctx, spec.Name, "blue")
			if d = mustInfo(t, d, err, "GetDeployment"); d.Metadata["release"] != "blue" {
				t.Errorf("changing the deployment spec's metadata afterwards changed the stored deployment: release=%q", d.Metadata["release"])
			}
		}},
		{name: "InvalidNamesAreInvalidArgument", fn: func(t *testing.T, e *env) {
			t.Run("Endpoint", func(t *testing.T) {
				runBad(t, badNames(), func(name string) error {
					_, err := e.srv.CreateEndpoint(e.ctx, e.endpointSpec(name))
					return err
				})
			})
			t.Run("Deployment", func(t *testing.T) {
				ep := e.mustEndpoint(t, "scoring")
				runBad(t, badNames(), func(name string) error {
					_, err := e.srv.CreateDeployment(e.ctx, e.deploymentSpec(ep, name))
					return err
				})
			})
		}},
		{name: "CanceledContext", fn: func(t *testing.T, e *env) {
			checkServingDoneContext(t, e, e.canceledCtx(), provider.Canceled)
		}},
		{name: "ExpiredContext", fn: func(t *testing.T, e *env) {
			checkServingDoneContext(t, e, e.expiredCtx(), provider.DeadlineExceeded)
		}},
		{name: "ConcurrentUse", fn: func(t *testing.T, e *env) {
			e.needDeployments(t, 2)
			errs := concurrently(e.o.Concurrency, func(i int) error {
				ep := e.name("scoring")
				if _, err := e.srv.CreateEndpoint(e.ctx, e.endpointSpec(ep)); err != nil {
					return fmt.Errorf("CreateEndpoint(%s): %w", ep, err)
				}
				for _, d := range []string{"blue", "green"} {
					if _, err := e.srv.CreateDeployment(e.ctx, e.deploymentSpec(ep, d)); err != nil {
						return fmt.Errorf("CreateDeployment(%s/%s): %w", ep, d, err)
					}
					if err := e.h.SetDeploymentReady(e.ctx, e.p, ep, d); err != nil {
						return fmt.Errorf("harness SetDeploymentReady(%s/%s): %w", ep, d, err)
					}
				}
				for _, tr := range []map[string]int{{"blue": 100}, {"blue": 50, "green": 50}, {"green": 100}} {
					if _, err := e.update(&provider.EndpointUpdate{Endpoint: ep, Traffic: tr}); err != nil {
						return fmt.Errorf("UpdateEndpoint(%s, %v): %w", ep, tr, err)
					}
					if _, err := e.srv.ListEndpoints(e.ctx); err != nil {
						return fmt.Errorf("ListEndpoints: %w", err)
					}
				}
				if err := e.srv.DeleteDeployment(e.ctx, ep, "blue"); err != nil {
					return fmt.Errorf("DeleteDeployment(%s/blue): %w", ep, err)
				}
				if err := e.pollDeploymentGone(ep, "blue"); err != nil {
					return err
				}
				if list, err := e.srv.ListDeployments(e.ctx, ep); err != nil || len(list) != 1 {
					return fmt.Errorf("ListDeployments(%s) = %d entries, %v; want 1", ep, len(list), err)
				}
				if err := e.srv.DeleteEndpoint(e.ctx, ep); err != nil {
					return fmt.Errorf("DeleteEndpoint(%s): %w", ep, err)
				}
				return nil
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
				}
			}
		}},
	}
}

// checkServingDoneContext calls every Serving method with a done context
// and expects the context's code; nothing may be created or changed.
func checkServingDoneContext(t *testing.T, e *env, done context.Context, want provider.Code) {
	ep := e.mustEndpoint(t, "scoring")
	e.mustDeployment(t, ep, "blue")
	before := e.mustUpdate(t, &provider.EndpointUpdate{Endpoint: ep, Traffic: map[string]int{"blue": 100}})
	other := e.name("scoring")
	_, err := e.srv.CreateEndpoint(done, e.endpointSpec(other))
	checkCode(t, err, want, "CreateEndpoint")
	_, err = e.srv.GetEndpoint(done, ep)
	checkCode(t, err, want, "GetEndpoint")
	_, err = e.srv.ListEndpoints(done)
	checkCode(t, err, want, "ListEndpoints")
	_, err = e.srv.CreateDeployment(done, e.deploymentSpec(ep, "green"))
	checkCode(t, err, want, "CreateDeployment")
	_, err = e.srv.GetDeployment(done, ep, "blue")
	checkCode(t, err, want, "GetDeployment")
	_, err = e.srv.ListDeployments(done, ep)
	checkCode(t, err, want, "ListDeployments")
	_, err = e.srv.UpdateEndpoint(done, &provider.EndpointUpdate{Endpoint: ep, Metadata: map[string]string{"stage": "x"}})
	checkCode(t, err, want, "UpdateEndpoint")
	checkCode(t, e.srv.DeleteDeployment(done, ep, "blue"), want, "DeleteDeployment")
	checkCode(t, e.srv.DeleteEndpoint(done, ep), want, "DeleteEndpoint")

	_, err = e.srv.GetEndpoint(e.ctx, other)
	checkCode(t, err, provider.NotFound, "GetEndpoint of the endpoint created with a done context")
	_, err = e.srv.GetDeployment(e.ctx, ep, "green")
	checkCode(t, err, provider.NotFound, "GetDeployment of the deployment created with a done context")
	e.checkUnchanged(t, before, "calls with a done context")
	_, err = e.srv.GetDeployment(e.ctx, ep, "blue")
	must(t, err, "GetDeployment of the deployment deleted with a done context")
}
