package lineage

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The fixtures below serve this package's internal tests and, through
// export_test.go, the schema validation tests in validate_test.go, which
// sit in package lineage_test because lineagetest imports lineage.

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
