package lineage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/tideline-ml/tideline/lineage"
)

// The reference pipeline's provenance: a restricted dataset, the training
// run that read it, the model it produced and the deployment serving it.
// The upstream query from the deployment explains where it came from.
func Example() {
	ctx := context.Background()
	g := lineage.NewGraph(nil)

	claims := lineage.NewDataset("claims", "3", "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	train := lineage.NewJob("train-42")
	model := lineage.NewModel("claims-risk", "1")
	scorer := lineage.NewDeployment("claims-scorer")
	for _, n := range []lineage.Node{claims, train, model, scorer} {
		if err := g.AddNode(ctx, n); err != nil {
			log.Fatal(err)
		}
	}
	for _, e := range []lineage.Edge{
		{From: claims.ID, To: train.ID, Kind: lineage.EdgeConsumed},
		{From: train.ID, To: model.ID, Kind: lineage.EdgeProduced},
		{From: model.ID, To: scorer.ID, Kind: lineage.EdgeDeployedAs},
	} {
		if err := g.AddEdge(ctx, e); err != nil {
			log.Fatal(err)
		}
	}

	paths, err := g.Upstream(ctx, scorer.ID, &lineage.QueryOptions{Kinds: []lineage.Kind{lineage.KindDataset}})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range paths {
		fmt.Println(strings.Join(p, " <- "))
	}
	// Output:
	// deployment:claims-scorer <- model:claims-risk@1 <- job:train-42 <- dataset:claims@3
}

// A data-deletion request for a dataset asks which services still serve
// something built from it. Retired deployments are not in the answer.
func ExampleGraph_Impact() {
	ctx := context.Background()
	g := lineage.NewGraph(nil)
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	must(g.AddNode(ctx, lineage.NewDataset("claims", "3", "sha256:aa")))
	must(g.AddNode(ctx, lineage.NewJob("train-42")))
	must(g.AddNode(ctx, lineage.NewModel("claims-risk", "1")))
	must(g.AddNode(ctx, lineage.NewDeployment("scorer-blue")))
	must(g.AddNode(ctx, lineage.NewDeployment("scorer-green")))
	must(g.AddEdge(ctx, lineage.Edge{From: "dataset:claims@3", To: "job:train-42", Kind: lineage.EdgeConsumed}))
	must(g.AddEdge(ctx, lineage.Edge{From: "job:train-42", To: "model:claims-risk@1", Kind: lineage.EdgeProduced}))
	must(g.AddEdge(ctx, lineage.Edge{From: "model:claims-risk@1", To: "deployment:scorer-blue", Kind: lineage.EdgeDeployedAs}))
	must(g.AddEdge(ctx, lineage.Edge{From: "model:claims-risk@1", To: "deployment:scorer-green", Kind: lineage.EdgeDeployedAs}))
	must(g.Retire(ctx, "deployment:scorer-blue"))

	paths, err := g.Impact(ctx, lineage.DatasetID("claims", "3"))
	must(err)
	for _, p := range paths {
		fmt.Printf("%s via %s\n", p.End(), strings.Join(p[1:len(p)-1], ", "))
	}
	// Output:
	// deployment:scorer-green via job:train-42, model:claims-risk@1
}

// An Emitter reports a run's lifecycle. Here the events go to a buffer; in
// production an HTTPTransport posts them to an OpenLineage endpoint.
func ExampleEmitter() {
	ctx := context.Background()
	var buf bytes.Buffer
	em, err := lineage.NewEmitter(lineage.NewWriterTransport(&buf), &lineage.EmitterOptions{
		Now: func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		log.Fatal(err)
	}
	run := lineage.JobRun{
		RunName: "train-42",
		Job:     "train-claims-risk",
		Inputs: []lineage.DatasetRef{{
			Name:      "claims",
			Version:   "3",
			Digest:    "sha256:aa",
			Residency: &lineage.Residency{Classification: "restricted", Constraint: "EU", Region: "westeurope", Country: "NL"},
		}},
		Policy: &lineage.PolicyDecision{Decision: "allow", Rules: []string{"restricted->EU"}},
	}
	if err := em.Start(ctx, run); err != nil {
		log.Fatal(err)
	}
	if err := em.Fail(ctx, run, errors.New("node lost")); err != nil {
		log.Fatal(err)
	}

	dec := json.NewDecoder(&buf)
	for dec.More() {
		var ev lineage.RunEvent
		if err := dec.Decode(&ev); err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.EventType, ev.Run.RunID == lineage.RunID("tideline", "train-42"),
			ev.Inputs[0].Facets.Residency.Constraint, ev.Run.Facets.Policy.Decision)
		if m := ev.Run.Facets.ErrorMessage; m != nil {
			fmt.Println("error:", m.Message)
		}
	}
	// Output:
	// START true EU allow
	// FAIL true EU allow
	// error: node lost
}
