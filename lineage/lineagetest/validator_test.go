package lineagetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/lineage"
	"github.com/tideline-ml/tideline/lineage/lineagetest"
)

// run is a run whose START event carries every facet lineage writes except
// errorMessage: parent, version, tideline_residency and tideline_policy.
var run = lineage.JobRun{
	RunName: "train-7",
	Job:     "train",
	Parent:  &lineage.RunRef{RunName: "pipeline-1", Job: "pipeline"},
	Inputs: []lineage.DatasetRef{{
		Name:      "claims",
		Version:   "3",
		Residency: &lineage.Residency{Classification: "restricted", Constraint: "EU", Region: "westeurope", Country: "NL"},
	}},
	Policy: &lineage.PolicyDecision{Decision: "allow", Rules: []string{"restricted->EU"}, Reasons: []string{"inside EU"}},
}

func emitter(t testing.TB, w *bytes.Buffer) *lineage.Emitter {
	t.Helper()
	e, err := lineage.NewEmitter(lineage.NewWriterTransport(w), &lineage.EmitterOptions{
		Namespace: "lineagetest",
		Producer:  "https://example.com/producer/v1",
		Now:       func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// startEvent returns run's START event decoded into generic JSON, ready to
// be broken.
func startEvent(t testing.TB) map[string]any {
	t.Helper()
	ev, err := emitter(t, new(bytes.Buffer)).Build(lineage.EventStart, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encode(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runFacets(m map[string]any) map[string]any {
	return m["run"].(map[string]any)["facets"].(map[string]any)
}

// stream returns the JSON lines of a whole run: START, COMPLETE, FAIL.
func stream(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := emitter(t, &buf)
	ctx := context.Background()
	for _, emit := range []func() error{
		func() error { return e.Start(ctx, run) },
		func() error { return e.Complete(ctx, run) },
		func() error { return e.Fail(ctx, run, errors.New("out of memory")) },
	} {
		if err := emit(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestValidateAcceptsEmittedEvents(t *testing.T) {
	v := lineagetest.NewValidator(t)
	if err := v.Validate(encode(t, startEvent(t))); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if err := v.ValidateCore(encode(t, startEvent(t))); err != nil {
		t.Errorf("ValidateCore: %v", err)
	}
	if err := v.ValidateLines(stream(t)); err != nil {
		t.Errorf("ValidateLines: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	v := lineagetest.NewValidator(t)
	// A permissive schema on disk: a file:// _schemaURL naming it must be
	// refused all the same, because the validator reads nothing after
	// NewValidator.
	local := filepath.Join(t.TempDir(), "Anything.json")
	if err := os.WriteFile(local, []byte(`{"$id":"file:///ignored.json","properties":{"parent":{}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		raw   func() []byte
		facet string // key of the *FacetError expected; "" for an envelope error
		where string
		msg   string // part of the message
	}{
		{"not JSON", func() []byte { return []byte(`{"eventType":`) }, "", "", "not a single JSON value"},
		{"two values", func() []byte { return []byte(`{} {}`) }, "", "", "not a single JSON value"},
		{"an array", func() []byte { return []byte(`[]`) }, "", "", "core schema"},
		{"no producer", func() []byte {
			m := startEvent(t)
			delete(m, "producer")
			return encode(t, m)
		}, "", "", "core schema"},
		{"unregistered schema URL", func() []byte {
			m := startEvent(t)
			runFacets(m)["parent"].(map[string]any)["_schemaURL"] = "https://example.com/schemas/ParentRunFacet.json#/$defs/ParentRunFacet"
			return encode(t, m)
		}, "parent", "run.facets", "not registered"},
		{"local file schema URL", func() []byte {
			m := startEvent(t)
			runFacets(m)["parent"].(map[string]any)["_schemaURL"] = "file://" + filepath.ToSlash(local)
			return encode(t, m)
		}, "parent", "run.facets", "not registered"},
		{"fragment naming nothing", func() []byte {
			m := startEvent(t)
			f := runFacets(m)["parent"].(map[string]any)
			f["_schemaURL"] = f["_schemaURL"].(string) + "Missing"
			return encode(t, m)
		}, "parent", "run.facets", "cannot be resolved"},
		{"facet under another facet's key", func() []byte {
			m := startEvent(t)
			f := runFacets(m)
			f["nominalTime"] = f["parent"]
			delete(f, "parent")
			return encode(t, m)
		}, "nominalTime", "run.facets", `declares the facet key parent, not "nominalTime"`},
		{"input facet body invalid", func() []byte {
			m := startEvent(t)
			in := m["inputs"].([]any)[0].(map[string]any)
			in["facets"].(map[string]any)["version"].(map[string]any)["datasetVersion"] = 3
			return encode(t, m)
		}, "version", "inputs[0].facets", "datasetVersion"},
		{"facet in inputFacets", func() []byte {
			m := startEvent(t)
			in := m["inputs"].([]any)[0].(map[string]any)
			in["inputFacets"] = map[string]any{"dataQuality": map[string]any{
				"_producer": "https://example.com/p", "_schemaURL": "https://example.com/DataQuality.json#/$defs/X"}}
			return encode(t, m)
		}, "dataQuality", "inputs[0].inputFacets", "not registered"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Validate(tc.raw())
			if err == nil {
				t.Fatal("Validate accepted the event")
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
			var fe *lineagetest.FacetError
			switch {
			case tc.facet == "" && errors.As(err, &fe):
				t.Errorf("envelope error reported as a facet error: %v", err)
			case tc.facet != "" && !errors.As(err, &fe):
				t.Errorf("error %v is not a *FacetError", err)
			case tc.facet != "" && (fe.Key != tc.facet || fe.Where != tc.where):
				t.Errorf("FacetError for %q in %s, want %q in %s", fe.Key, fe.Where, tc.facet, tc.where)
			}
		})
	}
}

func TestValidateLines(t *testing.T) {
	v := lineagetest.NewValidator(t)
	good := bytes.Split(bytes.TrimSuffix(stream(t), []byte("\n")), []byte("\n"))
	broken := startEvent(t)
	delete(runFacets(broken)["tideline_policy"].(map[string]any), "decision")
	bad := encode(t, broken)
	join := func(lines ...[]byte) []byte { return bytes.Join(lines, []byte("\n")) }

	for _, tc := range []struct {
		name      string
		data      []byte
		wantLines []int // lines the error names; none means valid
	}{
		{"empty stream", nil, nil},
		{"final newline", append(join(good...), '\n'), nil},
		{"no final newline", join(good...), nil},
		{"CRLF", append(bytes.ReplaceAll(join(good...), []byte("\n"), []byte("\r\n")), '\r', '\n'), nil},
		{"bad second line", join(good[0], bad, good[1]), []int{2}},
		{"empty line between", join(good[0], nil, good[1]), []int{2}},
		{"blank line at the end", join(good[0], good[1], []byte("  "), nil), []int{3}},
		{"several bad lines", join(bad, good[0], bad, []byte("{"), good[2]), []int{1, 3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := v.ValidateLines(tc.data)
			if len(tc.wantLines) == 0 {
				if err != nil {
					t.Errorf("ValidateLines: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("ValidateLines accepted the stream")
			}
			for n := 1; n <= 6; n++ {
				named := strings.Contains(err.Error(), fmt.Sprintf("line %d:", n))
				want := false
				for _, w := range tc.wantLines {
					want = want || w == n
				}
				if named != want {
					t.Errorf("error names line %d: %v, want %v\n%v", n, named, want, err)
				}
			}
		})
	}

	t.Run("facet error reachable", func(t *testing.T) {
		var fe *lineagetest.FacetError
		if err := v.ValidateLines(join(good[0], bad)); !errors.As(err, &fe) || fe.Key != lineage.FacetPolicy {
			t.Errorf("errors.As(%v) = %v, want the %s facet", err, fe, lineage.FacetPolicy)
		}
	})

	t.Run("long stream summarised", func(t *testing.T) {
		lines := make([][]byte, 25)
		for i := range lines {
			lines[i] = bad
		}
		err := v.ValidateLines(join(lines...))
		if err == nil {
			t.Fatal("ValidateLines accepted the stream")
		}
		msg := err.Error()
		if !strings.Contains(msg, "line 10:") || strings.Contains(msg, "line 11:") || !strings.Contains(msg, "15 more of the 25 lines") {
			t.Errorf("error does not list ten lines and count the rest:\n%s", msg)
		}
	})
}

// TestValidatorConcurrent exercises the lazily filled schema cache from
// many goroutines; run with -race.
func TestValidatorConcurrent(t *testing.T) {
	v := lineagetest.NewValidator(t)
	lines := bytes.Split(bytes.TrimSpace(stream(t)), []byte("\n"))
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(lines))
	for range 8 {
		for _, line := range lines {
			wg.Go(func() { errs <- v.Validate(line) })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// FuzzValidate feeds arbitrary bytes to Validate, which must not panic on
// any JSON shape, and checks that a single line gets the same verdict from
// ValidateLines.
func FuzzValidate(f *testing.F) {
	v := lineagetest.NewValidator(f)
	for _, line := range bytes.Split(bytes.TrimSpace(stream(f)), []byte("\n")) {
		f.Add(line)
	}
	f.Add([]byte(`{"run":{"facets":{"x":[]}},"job":{"facets":7},"inputs":[{"facets":null},3]}`))
	f.Add([]byte(`{"run":{"runId":"0190d9a0-0000-7000-8000-000000000000","facets":{"p":{"_producer":"https://p","_schemaURL":"#"}}}}`))
	f.Add([]byte(`"event"`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := v.Validate(raw)
		if bytes.ContainsAny(raw, "\r\n") || len(bytes.TrimSpace(raw)) == 0 {
			return
		}
		if lerr := v.ValidateLines(raw); (err == nil) != (lerr == nil) {
			t.Errorf("Validate: %v; ValidateLines: %v", err, lerr)
		}
	})
}
