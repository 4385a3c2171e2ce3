package lineage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/internal/uuidtext"
)

func TestUUIDv5(t *testing.T) {
	// RFC 9562 test vector: the DNS namespace and "www.example.com".
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got, want := uuidV5(dns, "www.example.com"), "2ed6657d-e927-568b-95e1-2665a8aea6a2"; got != want {
		t.Errorf("uuidV5 = %s, want %s", got, want)
	}
}

func TestRunID(t *testing.T) {
	a := RunID("tideline", "train-42")
	if a != RunID("tideline", "train-42") {
		t.Error("RunID is not deterministic")
	}
	if !uuidtext.Valid(a) || a[14] != '5' || !strings.ContainsRune("89ab", rune(a[19])) {
		t.Errorf("RunID %s is not a version 5, RFC 4122 variant UUID", a)
	}
	distinct := map[string]bool{}
	for _, p := range [][2]string{{"tideline", "train-42"}, {"tideline", "train-43"}, {"other", "train-42"}, {"a/b", "c"}, {"a", "b/c"}} {
		distinct[RunID(p[0], p[1])] = true
	}
	if len(distinct) != 5 {
		t.Errorf("RunID collides across namespaces or names: %d distinct of 5", len(distinct))
	}
}

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{
		"2ed6657d-e927-568b-95e1-2665a8aea6a2":   true,
		"2ED6657D-E927-568B-95E1-2665A8AEA6A2":   true,
		"2ed6657d-e927-568b-95e1-2665a8aea6a":    false,
		"2ed6657de927-568b-95e1-2665a8aea6a2-":   false,
		"2ed6657d-e927-568b-95e1-2665a8aea6ag":   false,
		"":                                       false,
		"{2ed6657d-e927-568b-95e1-2665a8aea6a2}": false,
	} {
		if uuidtext.Valid(s) != want {
			t.Errorf("uuidtext.Valid(%q) = %v", s, !want)
		}
	}
}

func TestEmitterLifecycle(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	e := testEmitter(t, NewWriterTransport(&buf))
	run := trainRun()
	if err := e.Start(ctx, run); err != nil {
		t.Fatal(err)
	}
	run.Outputs = append(run.Outputs, DatasetRef{Name: "metrics", Version: "1"})
	if err := e.Complete(ctx, run); err != nil {
		t.Fatal(err)
	}
	var events []RunEvent
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var ev RunEvent
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	if len(events) != 2 || events[0].EventType != EventStart || events[1].EventType != EventComplete {
		t.Fatalf("events = %+v", events)
	}
	start, done := events[0], events[1]
	if start.Run.RunID != done.Run.RunID || start.Run.RunID != RunID("tideline-test", "train-42") {
		t.Errorf("runIds %s, %s; want both %s", start.Run.RunID, done.Run.RunID, RunID("tideline-test", "train-42"))
	}
	p := start.Run.Facets.Parent
	if p == nil || p.Run.RunID != RunID("tideline-test", "pipeline-7") || p.Job != (ParentJob{"tideline-test", "claims-pipeline"}) {
		t.Errorf("parent facet = %+v", p)
	}
	if p.Root == nil || p.Root.Run.RunID != RunID("scheduler", "nightly-2026-03-01") || p.Root.Job.Namespace != "scheduler" {
		t.Errorf("root = %+v", p.Root)
	}
	in := start.Inputs[0]
	if in.Facets.Version.DatasetVersion != run.Inputs[0].Digest {
		t.Errorf("version facet = %q, want the digest", in.Facets.Version.DatasetVersion)
	}
	if start.Inputs[1].Facets.Version.DatasetVersion != "1" || start.Inputs[1].Namespace != "tideline-test" {
		t.Errorf("dataset without digest or namespace: %+v", start.Inputs[1])
	}
	if r := in.Facets.Residency; r == nil || *r != (ResidencyDatasetFacet{
		BaseFacet:      BaseFacet{"https://github.com/tideline-ml/tideline/tree/v0.1.0", ResidencyDatasetFacetSchemaURL},
		Classification: "restricted", Constraint: "EU", Region: "westeurope", Country: "NL",
	}) {
		t.Errorf("residency facet = %+v", r)
	}
	if pol := start.Run.Facets.Policy; pol == nil || pol.Decision != "allow" || len(pol.Reasons) != 2 {
		t.Errorf("policy facet = %+v", pol)
	}
	if !start.EventTime.Equal(testTime) || len(done.Outputs) != 2 {
		t.Errorf("eventTime %v, %d outputs", start.EventTime, len(done.Outputs))
	}
	if start.Run.Facets.ErrorMessage != nil {
		t.Error("START carries an error message")
	}
}

func TestEmitterFailRedacts(t *testing.T) {
	var buf bytes.Buffer
	e, err := NewEmitter(NewWriterTransport(&buf), &EmitterOptions{
		Redact: func(s string) string { return strings.ReplaceAll(s, "tenant-7", "[tenant]") },
	})
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.New(`copy https://user:pw@acct.blob.core.windows.net/data/claims.parquet?sv=2024&se=2026&sig=S3CR3T failed for tenant-7: Authorization: Bearer eyJhbGciOi.payload; password=hunter2`)
	if err := e.Fail(context.Background(), JobRun{RunName: "r1", Job: "copy"}, cause); err != nil {
		t.Fatal(err)
	}
	var ev RunEvent
	if err := json.Unmarshal(buf.Bytes(), &ev); err != nil {
		t.Fatal(err)
	}
	msg := ev.Run.Facets.ErrorMessage.Message
	for _, secret := range []string{"S3CR3T", "pw@", "eyJhbGciOi", "hunter2", "tenant-7"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error message %q contains %q", msg, secret)
		}
	}
	if !strings.Contains(msg, "acct.blob.core.windows.net/data/claims.parquet") || !strings.Contains(msg, "[tenant]") {
		t.Errorf("redaction removed too much: %q", msg)
	}
	if ev.Run.Facets.ErrorMessage.ProgrammingLanguage != "GO" || ev.EventType != EventFail {
		t.Errorf("facet = %+v", ev.Run.Facets.ErrorMessage)
	}
	if !strings.HasPrefix(ev.Producer, "https://github.com/tideline-ml/tideline/tree/") {
		t.Errorf("default producer = %q", ev.Producer)
	}
}

func TestEmitterErrors(t *testing.T) {
	if _, err := NewEmitter(nil, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewEmitter(nil) = %v", err)
	}
	if _, err := NewEmitter(NewWriterTransport(new(bytes.Buffer)), &EmitterOptions{Producer: "tideline"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("relative producer: %v", err)
	}
	e := testEmitter(t, NewWriterTransport(new(bytes.Buffer)))
	ok := JobRun{RunName: "r", Job: "j"}
	cases := []struct {
		name string
		typ  EventType
		run  func(JobRun) JobRun
	}{
		{"no run name", EventStart, func(r JobRun) JobRun { r.RunName = ""; return r }},
		{"no job", EventStart, func(r JobRun) JobRun { r.Job = ""; return r }},
		{"bad event type", "DONE", func(r JobRun) JobRun { return r }},
		{"dataset without name", EventStart, func(r JobRun) JobRun { r.Inputs = []DatasetRef{{Version: "1"}}; return r }},
		{"bad classification", EventStart, func(r JobRun) JobRun {
			r.Outputs = []DatasetRef{{Name: "d", Residency: &Residency{Classification: "secret", Constraint: "EU"}}}
			return r
		}},
		{"no constraint", EventStart, func(r JobRun) JobRun {
			r.Outputs = []DatasetRef{{Name: "d", Residency: &Residency{Classification: "public"}}}
			return r
		}},
		{"bad country", EventStart, func(r JobRun) JobRun {
			r.Outputs = []DatasetRef{{Name: "d", Residency: &Residency{Classification: "public", Constraint: "any", Country: "Netherlands"}}}
			return r
		}},
		{"empty decision", EventStart, func(r JobRun) JobRun { r.Policy = &PolicyDecision{}; return r }},
		{"parent without job", EventStart, func(r JobRun) JobRun { r.Parent = &RunRef{RunName: "p"}; return r }},
		{"signed URL as namespace", EventStart, func(r JobRun) JobRun {
			r.Inputs = []DatasetRef{{Namespace: "https://a.blob.core.windows.net/c?sv=1&sig=S3CR3T", Name: "d"}}
			return r
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Build(tc.typ, tc.run(ok), nil)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Build = %v, want ErrInvalid", err)
			}
			if strings.Contains(err.Error(), "S3CR3T") {
				t.Errorf("error repeats a secret: %v", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	e := testEmitter(t, NewWriterTransport(new(bytes.Buffer)))
	valid, err := e.Build(EventStart, trainRun(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		mutate func(*RunEvent)
	}{
		{"event type", func(ev *RunEvent) { ev.EventType = "start" }},
		{"zero time", func(ev *RunEvent) { ev.EventTime = time.Time{} }},
		{"year 10000", func(ev *RunEvent) { ev.EventTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"relative producer", func(ev *RunEvent) { ev.Producer = "tideline" }},
		{"no schemaURL", func(ev *RunEvent) { ev.SchemaURL = "" }},
		{"runId", func(ev *RunEvent) { ev.Run.RunID = "42" }},
		{"job namespace", func(ev *RunEvent) { ev.Job.Namespace = "" }},
		{"parent runId", func(ev *RunEvent) { ev.Run.Facets.Parent.Run.RunID = "x" }},
		{"root job", func(ev *RunEvent) { ev.Run.Facets.Parent.Root.Job.Name = "" }},
		{"facet producer", func(ev *RunEvent) { ev.Run.Facets.Policy.Producer = "" }},
		{"dataset facet schema", func(ev *RunEvent) { ev.Inputs[0].Facets.Version.SchemaURL = "#/x" }},
		{"extra facet not an object", func(ev *RunEvent) { ev.Job.Facets = map[string]json.RawMessage{"x": json.RawMessage(`1`)} }},
		{"extra facet envelope", func(ev *RunEvent) {
			ev.Outputs[0].OutputFacets = map[string]json.RawMessage{"stats": json.RawMessage(`{"_producer":"https://x"}`)}
		}},
		{"output name", func(ev *RunEvent) { ev.Outputs[0].Name = "" }},
		{"error facet producer", func(ev *RunEvent) { ev.Run.Facets.ErrorMessage = &ErrorMessageRunFacet{Message: "m"} }},
	}
	if err := valid.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := valid.Clone()
			tc.mutate(ev)
			if err := ev.Validate(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate = %v, want ErrInvalid", err)
			}
			if err := valid.Validate(); err != nil {
				t.Fatalf("mutating a clone changed the original: %v", err)
			}
		})
	}
}

func TestRunEventJSON(t *testing.T) {
	raw := `{
	  "eventType": "OTHER",
	  "eventTime": "2026-03-01T13:00:00.5+01:00",
	  "run": {"runId": "2ed6657d-e927-568b-95e1-2665a8aea6a2", "facets": {
	    "nominalTime": {"_producer": "https://p", "_schemaURL": "https://s", "nominalStartTime": "2026-03-01T00:00:00Z"},
	    "parent": {"_producer": "https://p", "_schemaURL": "https://s", "run": {"runId": "2ed6657d-e927-568b-95e1-2665a8aea6a2"}, "job": {"namespace": "n", "name": "p"}}
	  }},
	  "job": {"namespace": "n", "name": "j", "facets": {"jobType": {"_producer": "https://p", "_schemaURL": "https://s", "jobType": "JOB", "processingType": "BATCH", "integration": "TIDELINE"}}},
	  "inputs": [{"namespace": "n", "name": "d", "facets": {"schema": {"_producer": "https://p", "_schemaURL": "https://s", "fields": []}, "version": {"_producer": "https://p", "_schemaURL": "https://s", "datasetVersion": "7"}},
	              "inputFacets": {"x": {"_producer": "https://p", "_schemaURL": "https://s"}}}],
	  "outputs": [{"namespace": "n", "name": "o", "outputFacets": {"outputStatistics": {"_producer": "https://p", "_schemaURL": "https://s", "rowCount": 3}}}],
	  "producer": "https://p",
	  "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	}`
	var ev RunEvent
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		t.Fatal(err)
	}
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	if ev.Run.Facets.Parent == nil || ev.Run.Facets.Parent.Job.Name != "p" || ev.Run.Facets.Extra["nominalTime"] == nil {
		t.Errorf("run facets = %+v", ev.Run.Facets)
	}
	if ev.Inputs[0].Facets.Version.DatasetVersion != "7" || ev.Inputs[0].Facets.Extra["schema"] == nil || ev.Inputs[0].InputFacets["x"] == nil {
		t.Errorf("input = %+v", ev.Inputs[0])
	}
	_, off := ev.EventTime.Zone()
	if off != 3600 {
		t.Errorf("offset lost: %v", ev.EventTime)
	}
	out, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	json.Unmarshal([]byte(raw), &a)
	json.Unmarshal(out, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("round trip changed the event:\n%s", out)
	}
	// A typed facet wins over an Extra entry under the same key.
	f := RunFacets{Policy: &PolicyRunFacet{Decision: "deny"}, Extra: map[string]json.RawMessage{FacetPolicy: json.RawMessage(`{"decision":"allow"}`)}}
	if b, _ := json.Marshal(f); !strings.Contains(string(b), "deny") || strings.Contains(string(b), "allow") {
		t.Errorf("typed facet did not override Extra: %s", b)
	}
	if b, _ := json.Marshal(Run{RunID: "x"}); string(b) != `{"runId":"x"}` {
		t.Errorf("empty facets not omitted: %s", b)
	}
	var bad RunEvent
	if err := json.Unmarshal([]byte(`{"run":{"runId":"x","facets":{"parent":"nope"}}}`), &bad); err == nil || !strings.Contains(err.Error(), "parent") {
		t.Errorf("malformed known facet: %v", err)
	}
}

// FuzzRunEventDecode decodes arbitrary bytes as a RunEvent. Decoding must
// not panic, and whatever decodes must re-encode to a fixed point: encoding,
// decoding and encoding again gives the same bytes.
func FuzzRunEventDecode(f *testing.F) {
	e, _ := NewEmitter(NewWriterTransport(new(bytes.Buffer)), &EmitterOptions{Producer: "https://p", Now: func() time.Time { return testTime }})
	for _, typ := range []EventType{EventStart, EventFail} {
		ev, err := e.Build(typ, trainRun(), errors.New("boom"))
		if err != nil {
			f.Fatal(err)
		}
		b, _ := json.Marshal(ev)
		f.Add(b)
	}
	f.Add([]byte(`{"run":{"facets":{"parent":null,"x":{}}},"inputs":[{"facets":{"version":{"datasetVersion":"1"}}}]}`))
	f.Add([]byte(`{"eventTime":"2026-01-01T00:00:00+14:00","job":{"facets":{"a":[]}}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev RunEvent
		if json.Unmarshal(data, &ev) != nil {
			return
		}
		_ = ev.Validate()
		_ = ev.Clone()
		b1, err := json.Marshal(&ev)
		if err != nil {
			return // e.g. a time outside RFC 3339's years; Validate reports those
		}
		var ev2 RunEvent
		if err := json.Unmarshal(b1, &ev2); err != nil {
			t.Fatalf("re-decoding our own output: %v\n%s", err, b1)
		}
		b2, err := json.Marshal(&ev2)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not stable (%v):\n%s\n%s", err, b1, b2)
		}
	})
}
