package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tideline-ml/tideline/internal/fixtures"
	"github.com/tideline-ml/tideline/internal/testenv"
	"github.com/tideline-ml/tideline/lineage"
)

// committedDir returns internal/fixtures in this checkout.
func committedDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(testenv.RepoRoot(t), "internal", "fixtures")
}

// TestFixturesMatchOriginals regenerates the fixtures from the shared test
// data and compares them with what is committed, so the fixtures cannot
// drift from the generator or from their originals. Without the shared
// directory it skips: it is the one test that reads it, and no integration
// setting turns its absence into a failure, because a clone never has it.
func TestFixturesMatchOriginals(t *testing.T) {
	shared, ok := testenv.LookupShared(t)
	if !ok {
		t.Skipf("no shared test data at %s (the shared directory beside the repository root); "+
			"the fixtures cannot be compared with their originals here", shared)
	}
	for _, sub := range []string{openLineageDir, crdDir, azureMLDir, regionsFile} {
		if _, err := os.Stat(filepath.Join(shared, filepath.FromSlash(sub))); err != nil {
			t.Fatalf("the shared directory %s lacks an original the fixtures derive from: %v", shared, err)
		}
	}

	t.Run("files", func(t *testing.T) {
		out := t.TempDir()
		if err := generate(shared, out); err != nil {
			t.Fatalf("generate: %v", err)
		}
		want := readTree(t, out)
		got := readTree(t, committedDir(t))
		for _, name := range slices.Sorted(maps.Keys(want)) {
			switch g, ok := got[name]; {
			case !ok:
				t.Errorf("internal/fixtures/%s is missing; run make fixtures and commit the result", name)
			case !bytes.Equal(g, want[name]):
				t.Errorf("internal/fixtures/%s differs from what the generator derives (%s); run make fixtures and commit the result",
					name, firstDifference(g, want[name]))
			}
		}
		for _, name := range slices.Sorted(maps.Keys(got)) {
			if _, ok := want[name]; !ok {
				t.Errorf("internal/fixtures/%s is not derived from any original; run make fixtures, which removes it", name)
			}
		}
	})

	t.Run("schemas validate alike", func(t *testing.T) {
		orig := os.DirFS(filepath.Join(shared, filepath.FromSlash(openLineageDir)))
		checkSchemasValidateAlike(t, orig, fixtures.OpenLineage())
	})
}

// firstDifference describes where two byte slices first differ.
func firstDifference(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	line := bytes.Count(want[:i], []byte("\n")) + 1
	return fmt.Sprintf("first at byte %d, line %d; %d bytes committed, %d derived", i, line, len(got), len(want))
}

// checkSchemasValidateAlike validates a corpus of events — the events
// package lineage writes, the official example, and every one of them broken
// at every node in several ways — against the original and the derived
// schemas, and requires the same verdict and the same error from both: the
// envelope against the core schema and each facet against the schema its
// _schemaURL names.
func checkSchemasValidateAlike(t *testing.T, orig, derived fs.FS) {
	origC, derivedC := schemaCompiler(t, orig), schemaCompiler(t, derived)
	events := corpus(t, derived)
	checked, rejected := 0, 0
	for i, raw := range events {
		base := decode(t, raw)
		for _, p := range append([]jsonPath{nil}, paths(base, nil)...) {
			for _, m := range mutations(p) {
				inst := decode(t, raw)
				inst = m.apply(inst)
				for _, target := range targets(inst) {
					errO := validate(origC, target.url, target.value)
					errD := validate(derivedC, target.url, target.value)
					checked++
					if errO != nil {
						rejected++
					}
					if fmt.Sprint(errO) != fmt.Sprint(errD) {
						t.Fatalf("event %d %s, %s against %s:\noriginal schemas: %v\nderived schemas:  %v",
							i, m.name, target.where, target.url, errO, errD)
					}
				}
			}
		}
	}
	// The corpus must exercise rejection as well as acceptance.
	if rejected == 0 || rejected == checked {
		t.Fatalf("%d validations, %d rejected: the corpus does not tell the schemas apart", checked, rejected)
	}
	t.Logf("%d validations alike, %d of them rejections", checked, rejected)
}

// schemaCompiler registers every schema of an OpenLineage folder and the
// custom facet schemas of package lineage, and loads nothing else.
func schemaCompiler(t *testing.T, fsys fs.FS) *jsonschema.Compiler {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.UseLoader(refuseLoader{})
	c.AssertFormat()
	c.DefaultDraft(jsonschema.Draft2020)
	files, err := fs.Glob(fsys, fixtures.OpenLineageFacets)
	if err != nil || len(files) == 0 {
		t.Fatalf("no facet schemas: %v", err)
	}
	var docs [][]byte
	for _, f := range append(files, fixtures.OpenLineageCore) {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b)
	}
	for _, b := range lineage.FacetSchemas() {
		docs = append(docs, b)
	}
	for _, b := range docs {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		id, _ := field(doc, "$id").(string)
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is not registered", url)
}

// validate compiles url (a schema URL with its fragment) and validates v.
func validate(c *jsonschema.Compiler, url string, v any) error {
	s, err := c.Compile(url)
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	return s.Validate(v)
}

// corpus returns encoded events: a whole run with every facet lineage
// writes, a bare run, and the official example.
func corpus(t *testing.T, fsys fs.FS) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	e, err := lineage.NewEmitter(lineage.NewWriterTransport(&buf), &lineage.EmitterOptions{
		Namespace: "fixtures",
		Producer:  "https://example.com/producer/v1",
		Now:       func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	run := lineage.JobRun{
		RunName: "train-7",
		Job:     "train",
		Parent:  &lineage.RunRef{RunName: "pipeline-1", Job: "pipeline"},
		Root:    &lineage.RunRef{RunName: "nightly-1", Job: "nightly", Namespace: "scheduler"},
		Inputs: []lineage.DatasetRef{{
			Namespace: "wasbs://datasets@example.blob.core.windows.net",
			Name:      "claims",
			Version:   "3",
			Digest:    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Residency: &lineage.Residency{Classification: "restricted", Constraint: "EU", Region: "westeurope", Country: "NL"},
		}},
		Outputs: []lineage.DatasetRef{{Name: "model", Version: "1"}},
		Policy:  &lineage.PolicyDecision{Decision: "allow", Rules: []string{"restricted->EU"}, Reasons: []string{"inside EU"}},
	}
	bare := lineage.JobRun{RunName: "ingest-1", Job: "ingest"}
	ctx := context.Background()
	for _, emit := range []func() error{
		func() error { return e.Start(ctx, run) },
		func() error { return e.Complete(ctx, run) },
		func() error { return e.Fail(ctx, run, errors.New("out of memory")) },
		func() error { return e.Abort(ctx, bare) },
	} {
		if err := emit(); err != nil {
			t.Fatal(err)
		}
	}
	events := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	example, err := fs.ReadFile(fsys, fixtures.OpenLineageFullEvent)
	if err != nil {
		t.Fatal(err)
	}
	return append(events, example)
}

func decode(t *testing.T, raw []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// jsonPath addresses a node: object keys and list indices.
type jsonPath []any

func (p jsonPath) String() string {
	var b strings.Builder
	for _, e := range p {
		fmt.Fprintf(&b, "/%v", e)
	}
	return b.String()
}

// paths lists every node below v, depth first, in a fixed order.
func paths(v any, prefix jsonPath) []jsonPath {
	var out []jsonPath
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			p := append(slices.Clone(prefix), k)
			out = append(out, p)
			out = append(out, paths(v[k], p)...)
		}
	case []any:
		for i, e := range v {
			p := append(slices.Clone(prefix), i)
			out = append(out, p)
			out = append(out, paths(e, p)...)
		}
	}
	return out
}

type mutation struct {
	name  string
	apply func(any) any
}

// mutations returns the ways the node at p is broken: removed, or replaced
// by a value of each JSON type. The empty path yields the event unchanged.
func mutations(p jsonPath) []mutation {
	if len(p) == 0 {
		return []mutation{{"unchanged", func(v any) any { return v }}}
	}
	set := func(repl any, remove bool) func(any) any {
		return func(root any) any {
			parent := root
			for _, e := range p[:len(p)-1] {
				parent = step(parent, e)
			}
			switch last := p[len(p)-1].(type) {
			case string:
				m := parent.(map[string]any)
				if remove {
					delete(m, last)
				} else {
					m[last] = repl
				}
			case int:
				l := parent.([]any)
				l[last] = repl // a removed element leaves a null behind
			}
			return root
		}
	}
	out := []mutation{{"remove " + p.String(), set(nil, true)}}
	for _, r := range []any{nil, json.Number("7"), "x", "not a uuid or date", true, []any{}, map[string]any{}} {
		out = append(out, mutation{fmt.Sprintf("set %s to %#v", p, r), set(r, false)})
	}
	return out
}

func step(v any, e any) any {
	switch e := e.(type) {
	case string:
		return v.(map[string]any)[e]
	default:
		return v.([]any)[e.(int)]
	}
}

// target is one validation: the event against the core schema, or a facet
// against the schema its _schemaURL names.
type target struct {
	where, url string
	value      any
}

// targets lists the validations of one event, in a fixed order. Facets
// whose _schemaURL is not one of the registered schemas (the example's
// placeholders) are left out: both sides would refuse them alike.
func targets(ev any) []target {
	out := []target{{"event", lineage.RunEventSchemaURL, ev}}
	facetMaps := []struct {
		where string
		m     any
	}{
		{"run.facets", field(field(ev, "run"), "facets")},
		{"job.facets", field(field(ev, "job"), "facets")},
	}
	for _, side := range []string{"inputs", "outputs"} {
		list, _ := field(ev, side).([]any)
		for i, d := range list {
			for _, name := range []string{"facets", "inputFacets", "outputFacets"} {
				facetMaps = append(facetMaps, struct {
					where string
					m     any
				}{side + "[" + strconv.Itoa(i) + "]." + name, field(d, name)})
			}
		}
	}
	for _, fm := range facetMaps {
		m, _ := fm.m.(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			url, _ := field(m[k], "_schemaURL").(string)
			if strings.HasPrefix(url, "https://openlineage.io/spec/") || strings.Contains(url, "tideline") {
				out = append(out, target{fm.where + "." + k, url, m[k]})
			}
		}
	}
	return out
}
