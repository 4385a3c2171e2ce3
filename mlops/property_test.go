package mlops_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tideline-ml/tideline/lineage"
	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
)

// The governance properties, over random sequences of calls by two Clients
// that share nothing but the provider and a lineage graph:
//
//  1. nothing is ever placed — stored, trained, registered, deployed or
//     given traffic — in a region outside the strictest constraint of
//     every dataset it derives from, transitively, with every tightening
//     up to that moment, whether those datasets still exist or not;
//  2. the impact of a dataset always includes every live deployment whose
//     model derives from it.
//
// The test keeps its own account of what derives from what (the oracle)
// and checks every successful call against it. It runs a fixed set of
// seeds under `go test`; FuzzGovernance explores further.
func TestGovernanceProperties(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 10
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			runGovernance(t, rand.New(rand.NewPCG(uint64(seed), 0x71de)), 40)
		})
	}
}

func FuzzGovernance(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 42} {
		f.Add(s, s*7+1)
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		runGovernance(t, rand.New(rand.NewPCG(a, b)), 30)
	})
}

// oracle is the test's own account of the world.
type oracle struct {
	datasets map[string]*oDataset // by "name@version"
	jobs     []*oJob
	models   []*oModel
	deploys  map[string]*oDeploy // by "endpoint/name"
}

type oDataset struct {
	ref     mlops.DatasetRef
	own     residency.Constraint // the rule's, narrowed by every tightening
	parents []*oDataset
	deleted bool
	handle  *mlops.Dataset
}

type oJob struct {
	job    *mlops.TrainJob
	inputs []*oDataset
}

type oModel struct {
	mv      *mlops.ModelVersion
	derived []*oDataset
}

type oDeploy struct {
	model    *oModel
	endpoint *mlops.Endpoint
	name     string
	live     bool
}

// closure is every dataset upstream of from, from included.
func closure(from []*oDataset) map[*oDataset]bool {
	seen := map[*oDataset]bool{}
	var walk func(d *oDataset)
	walk = func(d *oDataset) {
		if seen[d] {
			return
		}
		seen[d] = true
		for _, p := range d.parents {
			walk(p)
		}
	}
	for _, d := range from {
		walk(d)
	}
	return seen
}

func strictest(from []*oDataset) residency.Constraint {
	k := residency.Anywhere()
	for d := range closure(from) {
		k = k.Intersect(d.own)
	}
	return k
}

var propRegions = []provider.Region{
	{Name: "westeurope", Cloud: "azure"}, {Name: "northeurope", Cloud: "azure"}, {Name: "germanywestcentral", Cloud: "azure"},
	{Name: "uksouth", Cloud: "azure"}, {Name: "eastus", Cloud: "azure"}, {Name: "EU-SOUTH-03", Cloud: "coreweave"}, {Name: "US-EAST-04", Cloud: "coreweave"},
}

var propTightenings = []string{"NL", "IE", "DE", "EU", "NL,IE", "EEA", "DE,NL"}

func runGovernance(t *testing.T, rng *rand.Rand, steps int) {
	ctx := context.Background()
	mem := memprovider.New(&memprovider.Options{Regions: propRegions})
	graph := lineage.NewGraph(nil)
	var clients []*mlops.Client
	for _, who := range []string{"alice@example.com", "bob@example.com"} {
		rec, err := mlops.NewLineageRecorder(graph, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := mlops.NewClient(mlops.Providers{"mem": mem}, &mlops.ClientOptions{
			Principal: mlops.Principal{ID: who},
			Policy:    mlops.Permissive(), // the rules are not the point here; residency is
			Hooks:     []mlops.Hook{mlops.NewMemoryAuditHook(), rec},
			NewID:     func() string { return fmt.Sprintf("%s-%d", who[:1], rng.Uint64()) },
		})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	cat := residency.DefaultCatalog()
	place := func(r provider.Region) residency.Region {
		reg, err := cat.Lookup(r.Cloud, r.Name)
		if err != nil {
			t.Fatal(err)
		}
		return reg
	}
	rules := residency.DefaultRules()
	o := &oracle{datasets: map[string]*oDataset{}, deploys: map[string]*oDeploy{}}
	endpoints := map[string]*mlops.Endpoint{}
	var log []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("after %s:\n"+format, append([]any{strings.Join(log, "\n  ")}, args...)...)
	}
	live := func() []*oDataset {
		var out []*oDataset
		for _, k := range sortedKeysOf(o.datasets) {
			if d := o.datasets[k]; !d.deleted {
				out = append(out, d)
			}
		}
		return out
	}
	pick := func(ds []*oDataset, n int) []*oDataset {
		var out []*oDataset
		for _, i := range rng.Perm(len(ds))[:min(n, len(ds))] {
			out = append(out, ds[i])
		}
		return out
	}
	// placed checks property 1 for a call that succeeded.
	placed := func(what string, r provider.Region, from []*oDataset, untraced bool) {
		t.Helper()
		k := strictest(from)
		if untraced {
			rule, _ := rules.For(residency.Restricted)
			k = k.Intersect(rule.Constraint)
		}
		if !k.Allows(place(r)) {
			fail("%s in %s succeeded, but what it derives from may live only in %s", what, r.Name, k)
		}
	}
	nextName := 0
	for step := 0; step < steps; step++ {
		c := clients[rng.IntN(len(clients))]
		r := propRegions[rng.IntN(len(propRegions))]
		loc := mlops.Location{Provider: "mem", Region: r.Name}
		switch op := rng.IntN(9); op {
		case 0, 1: // create, maybe derived
			nextName++
			class := residency.Classification(1 + rng.IntN(4))
			parents := pick(live(), rng.IntN(3))
			var refs []mlops.DatasetRef
			for _, p := range parents {
				refs = append(refs, p.ref)
			}
			name := fmt.Sprintf("data-%d", nextName)
			log = append(log, fmt.Sprintf("create %s %s in %s from %v", name, class, r.Name, refs))
			d, err := c.CreateDataset(ctx, name, "1", strings.NewReader(name), &mlops.CreateDatasetOptions{Location: loc, Classification: class, DerivedFrom: refs})
			if err != nil {
				continue
			}
			rule, _ := rules.For(class)
			od := &oDataset{ref: d.Ref(), own: rule.Constraint, parents: parents, handle: d}
			placed("dataset "+name, r, append([]*oDataset{od}, parents...), false)
			o.datasets[d.Ref().String()] = od
		case 2: // tighten
			ds := live()
			if len(ds) == 0 {
				continue
			}
			d := ds[rng.IntN(len(ds))]
			k := residency.MustParseConstraint(propTightenings[rng.IntN(len(propTightenings))])
			log = append(log, fmt.Sprintf("tighten %s to %s", d.ref, k))
			h, err := c.GetDataset(ctx, d.ref)
			if err != nil {
				fail("get %s: %v", d.ref, err)
			}
			if err := h.Tighten(ctx, k); err == nil {
				d.own = d.own.Intersect(k)
			}
		case 3: // delete
			ds := live()
			if len(ds) == 0 {
				continue
			}
			d := ds[rng.IntN(len(ds))]
			log = append(log, fmt.Sprintf("delete %s", d.ref))
			h, err := c.GetDataset(ctx, d.ref)
			if err != nil {
				fail("get %s: %v", d.ref, err)
			}
			if err := h.Delete(ctx); err != nil {
				fail("delete %s: %v", d.ref, err)
			}
			d.deleted = true
		case 4: // train
			inputs := pick(live(), 1+rng.IntN(2))
			var ins []mlops.JobInput
			for i, d := range inputs {
				ins = append(ins, mlops.JobInput{Name: fmt.Sprintf("in%d", i), Dataset: d.ref})
			}
			nextName++
			log = append(log, fmt.Sprintf("train on %v in %s", ins, r.Name))
			j, err := c.SubmitJob(ctx, mlops.TrainJobSpec{Key: fmt.Sprintf("job-%d", nextName), Location: loc, Image: pinnedImage, Inputs: ins})
			if err != nil {
				continue
			}
			placed("job "+j.ID, r, inputs, false)
			_ = mem.StartJob(j.Name)
			_ = mem.CompleteJob(j.Name, "")
			if err := j.Wait(ctx, nil); err != nil {
				fail("wait %s: %v", j.ID, err)
			}
			o.jobs = append(o.jobs, &oJob{job: j, inputs: inputs})
		case 5: // register: from a job, its output URI, or an untraced URI with or without sources
			var src mlops.ModelSource
			opts := &mlops.RegisterOptions{Location: mlops.Location{Region: r.Name}}
			var derived []*oDataset
			untraced := false
			switch {
			case len(o.jobs) > 0 && rng.IntN(3) > 0:
				j := o.jobs[rng.IntN(len(o.jobs))]
				derived = j.inputs
				src.Job = j.job.ID
				if rng.IntN(2) == 0 {
					src = mlops.ModelSource{ArtifactURI: j.job.OutputURI + "/model.onnx"}
				}
			default:
				src.ArtifactURI = fmt.Sprintf("https://models.example/m/%d", rng.IntN(1000))
				extra := pick(live(), rng.IntN(3))
				for _, d := range extra {
					opts.DerivedFrom = append(opts.DerivedFrom, d.ref)
				}
				derived = extra
				untraced = len(extra) == 0
			}
			log = append(log, fmt.Sprintf("register from %+v %v in %s", src, opts.DerivedFrom, r.Name))
			mv, err := c.Models("").Register(ctx, "fraud", src, opts)
			if err != nil {
				continue
			}
			placed("model version "+mv.Version, r, derived, untraced)
			o.models = append(o.models, &oModel{mv: mv, derived: append(derived, untracedMarker(untraced)...)})
		case 6: // deploy
			if len(o.models) == 0 {
				continue
			}
			m := o.models[rng.IntN(len(o.models))]
			epName := "ep-" + strings.ToLower(strings.ReplaceAll(r.Name, "_", "-"))
			ep := endpoints[epName]
			if ep == nil {
				var err error
				if ep, err = c.CreateEndpoint(ctx, epName, &mlops.EndpointOptions{Location: loc}); err != nil {
					fail("create endpoint %s: %v", epName, err)
				}
				endpoints[epName] = ep
			}
			name := []string{"blue", "green", "red"}[rng.IntN(3)]
			log = append(log, fmt.Sprintf("deploy model %s as %s/%s", m.mv.Version, epName, name))
			if _, err := ep.Deploy(ctx, name, m.mv, nil); err != nil {
				continue
			}
			placed("deployment "+epName+"/"+name, r, m.derived, isUntraced(m.derived))
			o.deploys[epName+"/"+name] = &oDeploy{model: m, endpoint: ep, name: name, live: true}
		case 7: // give a deployment all the traffic
			d := randomLive(rng, o.deploys)
			if d == nil {
				continue
			}
			log = append(log, fmt.Sprintf("promote %s/%s", d.endpoint.Name, d.name))
			ep, err := c.GetEndpoint(ctx, d.endpoint.Name)
			if err != nil {
				fail("get endpoint: %v", err)
			}
			before := ep.Traffic[d.name]
			if err := ep.Promote(ctx, d.name); err != nil {
				continue
			}
			if before < 100 { // traffic was given; a promote of what has it all already gives none
				reg, _ := provider.HasRegion(mem, ep.Location.Region)
				placed("traffic to "+d.name, reg, d.model.derived, isUntraced(d.model.derived))
			}
		case 8: // delete a deployment that has no traffic
			d := randomLive(rng, o.deploys)
			if d == nil {
				continue
			}
			ep, err := c.GetEndpoint(ctx, d.endpoint.Name)
			if err != nil {
				fail("get endpoint: %v", err)
			}
			log = append(log, fmt.Sprintf("delete deployment %s/%s", d.endpoint.Name, d.name))
			if err := ep.DeleteDeployment(ctx, d.name); err == nil {
				d.live = false
				delete(o.deploys, d.endpoint.Name+"/"+d.name)
			}
		}
		// Property 2.
		for _, k := range sortedKeysOf(o.datasets) {
			d := o.datasets[k]
			paths, err := graph.Impact(ctx, mlops.DatasetNodeID(d.ref))
			if err != nil {
				fail("impact of %s: %v", d.ref, err)
			}
			got := map[string]bool{}
			for _, p := range paths {
				got[p[len(p)-1]] = true
			}
			for _, dk := range sortedKeysOf(o.deploys) {
				dep := o.deploys[dk]
				if !dep.live || !closure(dep.model.derived)[d] {
					continue
				}
				id := mlops.DeploymentNodeID("mem", dep.endpoint.Name, dep.name)
				if !got[id] {
					fail("impact of %s misses live deployment %s (model %s)", d.ref, id, dep.model.mv.Version)
				}
			}
		}
	}
}

// untracedMarker stands in the oracle for the restricted origin of an
// artifact nothing traces.
var untracedDataset = &oDataset{own: func() residency.Constraint {
	r, _ := residency.DefaultRules().For(residency.Restricted)
	return r.Constraint
}()}

func untracedMarker(untraced bool) []*oDataset {
	if untraced {
		return []*oDataset{untracedDataset}
	}
	return nil
}

func isUntraced(ds []*oDataset) bool {
	for _, d := range ds {
		if d == untracedDataset {
			return true
		}
	}
	return false
}

func randomLive(rng *rand.Rand, m map[string]*oDeploy) *oDeploy {
	keys := sortedKeysOf(m)
	if len(keys) == 0 {
		return nil
	}
	return m[keys[rng.IntN(len(keys))]]
}

func sortedKeysOf[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
