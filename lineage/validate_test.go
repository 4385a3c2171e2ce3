package lineage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/tideline-ml/tideline/internal/fixtures"
	"github.com/tideline-ml/tideline/lineage"
	"github.com/tideline-ml/tideline/lineage/lineagetest"
)

func TestEmittedEventsValidate(t *testing.T) {
	v := lineagetest.NewValidator(t)
	ctx := context.Background()
	var buf bytes.Buffer
	e := lineage.NewTestEmitter(t, lineage.NewWriterTransport(&buf))
	run := lineage.TrainRun()
	bare := lineage.JobRun{RunName: "ingest-1", Job: "ingest"}
	steps := []struct {
		name string
		do   func() error
	}{
		{"START with parent, inputs and custom facets", func() error { return e.Start(ctx, run) }},
		{"COMPLETE with outputs", func() error { return e.Complete(ctx, run) }},
		{"FAIL with error message", func() error { return e.Fail(ctx, run, errors.New("pod OOMKilled")) }},
		{"ABORT", func() error { return e.Abort(ctx, run) }},
		{"START without facets", func() error { return e.Start(ctx, bare) }},
		{"FAIL without cause", func() error { return e.Fail(ctx, bare, nil) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != len(steps) {
		t.Fatalf("%d events written, want %d", len(lines), len(steps))
	}
	for i, line := range lines {
		t.Run(steps[i].name, func(t *testing.T) {
			if err := v.Validate(line); err != nil {
				t.Errorf("invalid event: %v\n%s", err, line)
			}
		})
	}
	if err := v.ValidateLines(buf.Bytes()); err != nil {
		t.Errorf("the stream as written is invalid: %v", err)
	}
	// The facets the test claims to cover are really there.
	all := buf.String()
	for _, key := range []string{`"parent"`, `"root"`, `"errorMessage"`, `"version"`, `"tideline_residency"`, `"tideline_policy"`,
		`"eventType":"START"`, `"eventType":"COMPLETE"`, `"eventType":"FAIL"`, `"eventType":"ABORT"`} {
		if !strings.Contains(all, key) {
			t.Errorf("no emitted event contains %s", key)
		}
	}
}

// TestValidatorRejects shows that validation can fail for this package's
// events: each case breaks one thing in a valid event, and the facet named
// is the one the validator must blame ("" for the envelope).
func TestValidatorRejects(t *testing.T) {
	v := lineagetest.NewValidator(t)
	e := lineage.NewTestEmitter(t, lineage.NewWriterTransport(new(bytes.Buffer)))
	runFacets := func(m map[string]any) map[string]any {
		return m["run"].(map[string]any)["facets"].(map[string]any)
	}
	inputFacets := func(m map[string]any) map[string]any {
		return m["inputs"].([]any)[0].(map[string]any)["facets"].(map[string]any)
	}
	cases := []struct {
		name   string
		facet  string
		break_ func(map[string]any)
	}{
		{"facet without _producer", "", func(m map[string]any) {
			delete(runFacets(m)[lineage.FacetPolicy].(map[string]any), "_producer")
		}},
		{"runId not a UUID", "", func(m map[string]any) { m["run"].(map[string]any)["runId"] = "train-42" }},
		{"eventTime without offset", "", func(m map[string]any) { m["eventTime"] = "2026-03-01T12:00:00" }},
		{"unknown classification", lineage.FacetResidency, func(m map[string]any) {
			inputFacets(m)[lineage.FacetResidency].(map[string]any)["classification"] = "secret"
		}},
		{"lower-case country", lineage.FacetResidency, func(m map[string]any) {
			inputFacets(m)[lineage.FacetResidency].(map[string]any)["country"] = "nl"
		}},
		{"policy without decision", lineage.FacetPolicy, func(m map[string]any) {
			delete(runFacets(m)[lineage.FacetPolicy].(map[string]any), "decision")
		}},
		{"parent without job", lineage.FacetParent, func(m map[string]any) {
			delete(runFacets(m)[lineage.FacetParent].(map[string]any), "job")
		}},
		{"facet under the wrong key", "policy", func(m map[string]any) {
			f := runFacets(m)
			f["policy"] = f[lineage.FacetPolicy]
			delete(f, lineage.FacetPolicy)
		}},
		{"dataset version missing", lineage.FacetDatasetVersion, func(m map[string]any) {
			delete(inputFacets(m)[lineage.FacetDatasetVersion].(map[string]any), "datasetVersion")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := e.Build(lineage.EventStart, lineage.TrainRun(), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Validate(b); err != nil {
				t.Fatalf("unbroken event invalid: %v", err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			tc.break_(m)
			b, err = json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			err = v.Validate(b)
			if err == nil {
				t.Fatalf("broken event passed validation:\n%s", b)
			}
			var fe *lineagetest.FacetError
			if isFacet := errors.As(err, &fe); isFacet != (tc.facet != "") || (isFacet && fe.Key != tc.facet) {
				t.Errorf("error blames the wrong part of the event, want facet %q: %v", tc.facet, err)
			}
		})
	}
}

// TestOfficialExampleRoundTrip decodes the official full example event and
// checks that what this package writes back is still valid. Only the
// envelope is checked: the example's facets name placeholder schema URLs.
func TestOfficialExampleRoundTrip(t *testing.T) {
	v := lineagetest.NewValidator(t)
	raw, err := fs.ReadFile(fixtures.OpenLineage(), fixtures.OpenLineageFullEvent)
	if err != nil {
		t.Fatal(err)
	}
	var ev lineage.RunEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventType != lineage.EventComplete || ev.Job.Name != "dbt" || ev.Run.RunID != "f69a6e9b-9bac-3c9a-9cf6-eacb70ecc9a9" {
		t.Errorf("decoded %s %s %s", ev.EventType, ev.Job.Name, ev.Run.RunID)
	}
	if !strings.Contains(string(ev.Job.Facets["sql"]), "SELECT 1") {
		t.Errorf("the example's sql job facet was lost: %s", ev.Job.Facets["sql"])
	}
	b, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ValidateCore(b); err != nil {
		t.Errorf("re-encoded example invalid against the core schema: %v", err)
	}
}
