package lineage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const coreSchemaID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"

// sharedOpenLineage returns the directory of the official OpenLineage
// schemas in the shared test data beside the repository, skipping the test
// when it is absent unless TIDELINE_INTEGRATION=required.
func sharedOpenLineage(t testing.TB) string {
	t.Helper()
	missing := func(msg string) {
		t.Helper()
		if os.Getenv("TIDELINE_INTEGRATION") == "required" {
			t.Fatalf("%s (TIDELINE_INTEGRATION=required)", msg)
		}
		t.Skip(msg)
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			missing("no go.mod above the test's directory; cannot locate ../shared/testdata/openlineage")
			return ""
		}
		dir = parent
	}
	ol := filepath.Join(dir, "..", "shared", "testdata", "openlineage")
	if _, err := os.Stat(filepath.Join(ol, "OpenLineage.json")); err != nil {
		missing("official OpenLineage schemas not found at ../shared/testdata/openlineage relative to the repository root: " + err.Error())
	}
	return ol
}

// validator checks events against the official core and facet schemas and
// this package's custom facet schemas, all registered under their $id so
// that nothing is fetched.
type validator struct {
	c    *jsonschema.Compiler
	core *jsonschema.Schema
	docs map[string]any // schema documents by $id
}

func newValidator(t testing.TB) *validator {
	t.Helper()
	dir := sharedOpenLineage(t)
	v := &validator{c: jsonschema.NewCompiler(), docs: map[string]any{}}
	v.c.AssertFormat()
	v.c.DefaultDraft(jsonschema.Draft2020)
	add := func(name string, b []byte) {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			t.Fatalf("%s has no $id", name)
		}
		if err := v.c.AddResource(id, doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		v.docs[id] = doc
	}
	files, _ := filepath.Glob(filepath.Join(dir, "facets", "*.json"))
	files = append(files, filepath.Join(dir, "OpenLineage.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		add(filepath.Base(f), b)
	}
	for id, b := range FacetSchemas() {
		add(id, b)
	}
	core, err := v.c.Compile(coreSchemaID)
	if err != nil {
		t.Fatal(err)
	}
	v.core = core
	return v
}

// validate checks one encoded event: the envelope against the core schema,
// then every facet against the definition its _schemaURL names, and the
// key it sits under against the key its schema file declares.
func (v *validator) validate(raw []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	if err := v.core.Validate(inst); err != nil {
		return err
	}
	ev := inst.(map[string]any)
	var facetMaps []any
	get := func(m any, key string) any {
		if mm, ok := m.(map[string]any); ok {
			return mm[key]
		}
		return nil
	}
	facetMaps = append(facetMaps, get(ev["run"], "facets"), get(ev["job"], "facets"))
	for _, side := range []string{"inputs", "outputs"} {
		list, _ := ev[side].([]any)
		for _, d := range list {
			facetMaps = append(facetMaps, get(d, "facets"), get(d, "inputFacets"), get(d, "outputFacets"))
		}
	}
	for _, fm := range facetMaps {
		m, _ := fm.(map[string]any)
		for key, facet := range m {
			url, _ := get(facet, "_schemaURL").(string)
			sch, err := v.c.Compile(url)
			if err != nil {
				return &facetError{key, "compiling its _schemaURL " + url + ": " + err.Error()}
			}
			if err := sch.Validate(facet); err != nil {
				return &facetError{key, err.Error()}
			}
			fileID, _, _ := strings.Cut(url, "#")
			if props, _ := get(v.docs[fileID], "properties").(map[string]any); props[key] == nil {
				return &facetError{key, "its schema file " + fileID + " declares another key"}
			}
		}
	}
	return nil
}

type facetError struct{ key, msg string }

func (e *facetError) Error() string { return "facet " + e.key + ": " + e.msg }

var testTime = time.Date(2026, 3, 1, 12, 0, 0, 123_000_000, time.UTC)

func testEmitter(t testing.TB, tr Transport) *Emitter {
	t.Helper()
	e, err := NewEmitter(tr, &EmitterOptions{
		Namespace: "tideline-test",
		Producer:  "https://github.com/tideline-ml/tideline/tree/v0.1.0",
		Now:       func() time.Time { return testTime },
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// trainRun is the reference pipeline's training run.
func trainRun() JobRun {
	return JobRun{
		RunName: "train-42",
		Job:     "train-claims-risk",
		Parent:  &RunRef{RunName: "pipeline-7", Job: "claims-pipeline"},
		Root:    &RunRef{RunName: "nightly-2026-03-01", Job: "nightly", Namespace: "scheduler"},
		Inputs: []DatasetRef{{
			Namespace: "wasbs://datasets@tidelineeu.blob.core.windows.net",
			Name:      "claims",
			Version:   "3",
			Digest:    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Residency: &Residency{Classification: "restricted", Constraint: "EU", Region: "westeurope", Country: "NL"},
		}, {
			Name:    "reference-codes",
			Version: "1",
		}},
		Outputs: []DatasetRef{{
			Namespace: "azureml://registries/tideline",
			Name:      "claims-risk",
			Version:   "1",
			Residency: &Residency{Classification: "restricted", Constraint: "EU"},
		}},
		Policy: &PolicyDecision{
			Decision: "allow",
			Rules:    []string{"restricted->EU", "gpu-quota"},
			Reasons:  []string{"region EU-SOUTH-03 (ES) is inside EU", "8 GPUs within quota"},
		},
	}
}

func TestEmittedEventsValidate(t *testing.T) {
	v := newValidator(t)
	ctx := context.Background()
	var buf bytes.Buffer
	e := testEmitter(t, NewWriterTransport(&buf))
	run := trainRun()
	bare := JobRun{RunName: "ingest-1", Job: "ingest"}
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
			if err := v.validate(line); err != nil {
				t.Errorf("invalid event: %v\n%s", err, line)
			}
		})
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

// TestValidatorRejects shows that the validation harness can fail: each
// case breaks one thing in a valid event.
func TestValidatorRejects(t *testing.T) {
	v := newValidator(t)
	e := testEmitter(t, NewWriterTransport(new(bytes.Buffer)))
	cases := []struct {
		name   string
		break_ func(map[string]any)
	}{
		{"facet without _producer", func(m map[string]any) {
			delete(m["run"].(map[string]any)["facets"].(map[string]any)["tideline_policy"].(map[string]any), "_producer")
		}},
		{"runId not a UUID", func(m map[string]any) { m["run"].(map[string]any)["runId"] = "train-42" }},
		{"eventTime without offset", func(m map[string]any) { m["eventTime"] = "2026-03-01T12:00:00" }},
		{"unknown classification", func(m map[string]any) {
			in := m["inputs"].([]any)[0].(map[string]any)
			in["facets"].(map[string]any)["tideline_residency"].(map[string]any)["classification"] = "secret"
		}},
		{"lower-case country", func(m map[string]any) {
			in := m["inputs"].([]any)[0].(map[string]any)
			in["facets"].(map[string]any)["tideline_residency"].(map[string]any)["country"] = "nl"
		}},
		{"policy without decision", func(m map[string]any) {
			delete(m["run"].(map[string]any)["facets"].(map[string]any)["tideline_policy"].(map[string]any), "decision")
		}},
		{"parent without job", func(m map[string]any) {
			delete(m["run"].(map[string]any)["facets"].(map[string]any)["parent"].(map[string]any), "job")
		}},
		{"facet under the wrong key", func(m map[string]any) {
			f := m["run"].(map[string]any)["facets"].(map[string]any)
			f["policy"] = f["tideline_policy"]
			delete(f, "tideline_policy")
		}},
		{"dataset version missing", func(m map[string]any) {
			in := m["inputs"].([]any)[0].(map[string]any)
			delete(in["facets"].(map[string]any)["version"].(map[string]any), "datasetVersion")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := e.Build(EventStart, trainRun(), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(ev)
			if err := v.validate(b); err != nil {
				t.Fatalf("unbroken event invalid: %v", err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			tc.break_(m)
			b, _ = json.Marshal(m)
			if err := v.validate(b); err == nil {
				t.Errorf("broken event passed validation:\n%s", b)
			}
		})
	}
}

// TestOfficialExampleRoundTrip decodes the official full example event and
// checks that what this package writes back is still valid.
func TestOfficialExampleRoundTrip(t *testing.T) {
	v := newValidator(t)
	raw, err := os.ReadFile(filepath.Join(sharedOpenLineage(t), "examples", "example_full_event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev RunEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventType != EventComplete || ev.Job.Name != "dbt" || ev.Run.RunID != "f69a6e9b-9bac-3c9a-9cf6-eacb70ecc9a9" {
		t.Errorf("decoded %s %s %s", ev.EventType, ev.Job.Name, ev.Run.RunID)
	}
	if !strings.Contains(string(ev.Job.Facets["sql"]), "SELECT 1") {
		t.Errorf("the example's sql job facet was lost: %s", ev.Job.Facets["sql"])
	}
	b, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.core.Validate(mustInstance(t, b)); err != nil {
		t.Errorf("re-encoded example invalid against the core schema: %v", err)
	}
}

func mustInstance(t testing.TB, b []byte) any {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestCustomSchemaFiles(t *testing.T) {
	schemas := FacetSchemas()
	if len(schemas) != 2 {
		t.Fatalf("%d custom schemas, want 2", len(schemas))
	}
	for _, tc := range []struct{ url, key, def string }{
		{ResidencyDatasetFacetSchemaURL, FacetResidency, "TidelineResidencyDatasetFacet"},
		{PolicyRunFacetSchemaURL, FacetPolicy, "TidelinePolicyRunFacet"},
	} {
		id, frag, _ := strings.Cut(tc.url, "#")
		b, ok := schemas[id]
		if !ok {
			t.Errorf("no schema file with $id %s", id)
			continue
		}
		var doc struct {
			ID         string                     `json:"$id"`
			Defs       map[string]json.RawMessage `json:"$defs"`
			Properties map[string]struct {
				Ref string `json:"$ref"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.ID != id || frag != "/$defs/"+tc.def || doc.Defs[tc.def] == nil {
			t.Errorf("%s: $id %q, fragment %q; want a $defs entry %s", tc.url, doc.ID, frag, tc.def)
		}
		if doc.Properties[tc.key].Ref != "#/$defs/"+tc.def {
			t.Errorf("%s does not declare key %q", id, tc.key)
		}
		// The version directory in the URL is the file's directory, so a
		// published URL and the file it names cannot drift apart.
		if !strings.HasPrefix(id, schemaBaseURL) {
			t.Errorf("%s is not under %s", id, schemaBaseURL)
		}
	}
}
