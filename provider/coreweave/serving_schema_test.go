package coreweave_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/tideline-ml/tideline/internal/fixtures"
)

const isvcSchemaURL = "https://crd.invalid/serving.kserve.io/inferenceservices/v1beta1.json"

var isvcSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	b, err := fs.ReadFile(fixtures.CRDs(), "serving.kserve.io_inferenceservices.json")
	if err != nil {
		return nil, err
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema json.RawMessage `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(b, &crd); err != nil {
		return nil, err
	}
	var raw json.RawMessage
	for _, v := range crd.Spec.Versions {
		if v.Name == "v1beta1" {
			raw = v.Schema.OpenAPIV3Schema
		}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	closeObjects(doc)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(isvcSchemaURL, doc); err != nil {
		return nil, err
	}
	return c.Compile(isvcSchemaURL)
})

// closeObjects makes every object schema with listed properties refuse
// others. The API server prunes unknown fields of a structural schema
// instead of refusing them, which would hide a misspelt field until KServe
// ignored it; here a misspelling fails the test.
func closeObjects(v any) {
	switch s := v.(type) {
	case map[string]any:
		_, props := s["properties"]
		_, extra := s["additionalProperties"]
		_, keep := s["x-kubernetes-preserve-unknown-fields"]
		if props && !extra && !keep {
			s["additionalProperties"] = false
		}
		for _, sub := range s {
			closeObjects(sub)
		}
	case []any:
		for _, sub := range s {
			closeObjects(sub)
		}
	}
}

// validateISVC checks an InferenceService against the KServe CRD's schema
// (v0.19.0), unknown fields refused.
func validateISVC(t *testing.T, obj *unstructured.Unstructured) error {
	t.Helper()
	sch, err := isvcSchema()
	if err != nil {
		t.Fatalf("loading the InferenceService CRD schema: %v", err)
	}
	b, err := json.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return sch.Validate(inst)
}
