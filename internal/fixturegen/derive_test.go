package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tideline-ml/tideline/internal/fixtures"
)

// parse decodes JSON text as the generator does.
func parse(t *testing.T, text string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v in %s", err, text)
	}
	return v
}

func TestStripSchema(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"annotations go",
			`{"description":"A thing.","title":"Thing","$comment":"note","type":"object"}`,
			`{"type":"object"}`},
		{"a property named description stays",
			`{"properties":{"description":{"description":"Its text.","type":"string"}},"required":["description"]}`,
			`{"properties":{"description":{"type":"string"}},"required":["description"]}`},
		{"data keywords are not schemas",
			`{"default":{"description":"kept"},"enum":["a b"],"const":{"title":"t"}}`,
			`{"default":{"description":"kept"},"enum":["a b"],"const":{"title":"t"}}`},
		{"token examples stay, sentences go",
			`{"properties":{"a":{"example":"my-namespace"},"b":{"example":"How long a task may run."},"c":{"example":300},"d":{"examples":["x y","z"]},"e":{"examples":["x y"]}}}`,
			`{"properties":{"a":{"example":"my-namespace"},"b":{},"c":{"example":300},"d":{"examples":["z"]},"e":{}}}`},
		{"every schema position is stripped",
			`{"$defs":{"A":{"description":"d","allOf":[{"description":"d"},{"$ref":"#/$defs/B"}]}},
			  "items":{"description":"d"},"additionalProperties":{"title":"t","type":"string"},
			  "anyOf":[{"description":"d"}],"oneOf":[{"description":"d"}],"not":{"description":"d"},
			  "patternProperties":{"^x":{"description":"d"}},"prefixItems":[{"description":"d"}],
			  "if":{"description":"d"},"then":{"description":"d"},"else":{"description":"d"},
			  "dependencies":{"a":["b"],"c":{"description":"d"}}}`,
			`{"$defs":{"A":{"allOf":[{},{"$ref":"#/$defs/B"}]}},
			  "items":{},"additionalProperties":{"type":"string"},
			  "anyOf":[{}],"oneOf":[{}],"not":{},
			  "patternProperties":{"^x":{}},"prefixItems":[{}],
			  "if":{},"then":{},"else":{},
			  "dependencies":{"a":["b"],"c":{}}}`},
		{"items as a tuple",
			`{"items":[{"description":"d","type":"string"},true]}`,
			`{"items":[{"type":"string"},true]}`},
		{"boolean schemas pass through",
			`{"additionalProperties":false,"properties":{"a":true}}`,
			`{"additionalProperties":false,"properties":{"a":true}}`},
		{"validation rules keep their rule, lose their message",
			`{"type":"string","x-kubernetes-validations":[{"message":"field is immutable","messageExpression":"'x'","rule":"self == oldSelf","reason":"FieldValueInvalid"}]}`,
			`{"type":"string","x-kubernetes-validations":[{"rule":"self == oldSelf","reason":"FieldValueInvalid"}]}`},
		{"structure and constraints stay",
			`{"$id":"https://e/x.json","$schema":"s","type":"object","properties":{"n":{"type":"integer","format":"int32","minimum":0,"maximum":100,"pattern":"^x$","default":1,"x-kubernetes-int-or-string":true}}}`,
			`{"$id":"https://e/x.json","$schema":"s","type":"object","properties":{"n":{"type":"integer","format":"int32","minimum":0,"maximum":100,"pattern":"^x$","default":1,"x-kubernetes-int-or-string":true}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := stripSchema(parse(t, tc.in))
			if want := parse(t, tc.want); !reflect.DeepEqual(got, want) {
				gb, _ := encode(got)
				t.Errorf("stripSchema(%s) =\n%s\nwant %s", tc.in, gb, tc.want)
			}
		})
	}
}

func TestNeutralize(t *testing.T) {
	in := parse(t, `{"title":"Get Workspace","operationId":"Workspaces_Get","parameters":{"body":{"properties":{
		"description":"Model container description","isArchived":false,"tags":{"description":"tag value"},
		"list":[{"summary":"s","message":"m","requestMessage":"Please approve","name":"n"}],"empty":{"description":""},
		"nested":{"description":{"title":"x"}}}}}}`)
	want := parse(t, `{"title":"string","operationId":"Workspaces_Get","parameters":{"body":{"properties":{
		"description":"string","isArchived":false,"tags":{"description":"string"},
		"list":[{"summary":"string","message":"string","requestMessage":"string","name":"n"}],"empty":{"description":""},
		"nested":{"description":{"title":"string"}}}}}}`)
	if got := neutralize(in); !reflect.DeepEqual(got, want) {
		gb, _ := encode(got)
		t.Errorf("neutralize =\n%s", gb)
	}
}

// readTree returns every file under dir by slash-separated relative path,
// leaving out the hand-written README.md files.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "README.md" || strings.HasSuffix(path, ".go") {
			return err
		}
		b, err := os.ReadFile(path)
		files[rel(dir, path)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// writeFile writes text to dir/name, making folders.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const crdYAML = `# a licence header
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  annotations:
    controller-gen.kubebuilder.io/version: v0.19.0
  name: things.example.com
spec:
  group: example.com
  names:
    kind: Thing
    plural: things
    shortNames: [th]
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    deprecationWarning: use v2, it is better
    additionalPrinterColumns:
    - jsonPath: .status.url
      name: URL
      type: string
      description: where it answers
    schema:
      openAPIV3Schema:
        description: A thing.
        type: object
        properties:
          spec:
            description: Its spec.
            type: object
            properties:
              replicas: {type: integer, format: int32, default: 1}
              on: {type: string, enum: ["on", "off"]}
            x-kubernetes-validations:
            - message: replicas may not shrink
              rule: self.replicas >= oldSelf.replicas
    subresources:
      status: {}
`

const crdJSON = `{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
"metadata":{"name":"things.example.com"},
"spec":{"group":"example.com","names":{"kind":"Thing","plural":"things","shortNames":["th"]},"scope":"Namespaced",
"versions":[{"name":"v1","served":true,"storage":true,
"additionalPrinterColumns":[{"jsonPath":".status.url","name":"URL","type":"string"}],
"schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"type":"object",
"properties":{"replicas":{"type":"integer","format":"int32","default":1},"on":{"type":"string","enum":["on","off"]}},
"x-kubernetes-validations":[{"rule":"self.replicas >= oldSelf.replicas"}]}}}},
"subresources":{"status":{}}}]}}`

func TestDeriveCRD(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "testdata/crds/example.com_things.yaml", crdYAML)
	files, err := deriveCRDs(src)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := files["example.com_things.json"]
	if !ok {
		t.Fatalf("derived %v, want example.com_things.json", files)
	}
	want, err := encode(parse(t, crdJSON))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("derived CRD\n%s\nwant\n%s", got, want)
	}
}

func TestDeriveCRDRefuses(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"not a CRD", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "not an apiextensions.k8s.io/v1 CustomResourceDefinition"},
		{"v1beta1", strings.Replace(crdYAML, "apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1", 1), "not an apiextensions.k8s.io/v1"},
		{"no name", strings.Replace(crdYAML, "  name: things.example.com\n", "", 1), "no metadata.name"},
		{"no schema", strings.Replace(crdYAML, "      openAPIV3Schema:", "      other:", 1), "has no schema.openAPIV3Schema"},
		{"two documents", crdYAML + "---\n" + crdYAML, "2 YAML documents"},
		{"a key that is not a string", crdYAML + "extra: {1: one}\n", "key that is not a string"},
		{"not YAML", "a: [", "yaml"},
		{"a number JSON cannot write", crdYAML + "extra: .inf\n", "no JSON form"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			writeFile(t, src, "testdata/crds/x.yaml", tc.yaml)
			_, err := deriveCRDs(src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDeriveRegions(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "reference/regions.json", `[
	  {"provider":"azure","region":"westeurope","displayName":"West Europe","geography":"Europe","country":"NL",
	   "euDataBoundary":true,"source":"https://example.com/list","physicalLocation":"Netherlands",
	   "pairedRegion":"North Europe","availabilityZones":true,"accessRestricted":false,"notes":"a note"},
	  {"provider":"coreweave","region":"EU-SOUTH-03","displayName":null,"geography":"ES","country":"ES",
	   "euDataBoundary":true,"superRegion":"EU-SOUTH","availabilityZones":["EU-SOUTH-03A"],"legacy":false}]`)
	files, err := deriveRegions(src)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := encode(parse(t, `[
	  {"provider":"azure","region":"westeurope","displayName":"West Europe","geography":"Europe","country":"NL",
	   "euDataBoundary":true,"availabilityZones":true},
	  {"provider":"coreweave","region":"EU-SOUTH-03","displayName":null,"geography":"ES","country":"ES",
	   "euDataBoundary":true,"superRegion":"EU-SOUTH","availabilityZones":["EU-SOUTH-03A"]}]`))
	if got := files["regions.json"]; !bytes.Equal(got, want) {
		t.Errorf("derived\n%s\nwant\n%s", got, want)
	}

	writeFile(t, src, "reference/regions.json", `[{"provider":"azure","region":"x"}]`)
	if _, err := deriveRegions(src); err == nil || !strings.Contains(err.Error(), "entry 0 has no country") {
		t.Errorf("a region without a country: err = %v", err)
	}
}

func TestEncodeIsStable(t *testing.T) {
	// Keys sorted, numbers as written, no HTML escaping, a final newline.
	got, err := encode(parse(t, `{"b":1.50,"a":"<x&y>","c":[3,1e3]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"a\": \"<x&y>\",\n  \"b\": 1.50,\n  \"c\": [\n    3,\n    1e3\n  ]\n}\n"
	if string(got) != want {
		t.Errorf("encode = %q, want %q", got, want)
	}
}

// minimalShared writes one original of each kind under a new shared
// directory and returns it.
func minimalShared(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	writeFile(t, src, "testdata/openlineage/OpenLineage.json", `{"$id":"https://e/OL.json","description":"core","type":"object"}`)
	writeFile(t, src, "testdata/openlineage/facets/F.json", `{"$id":"https://e/F.json","title":"F"}`)
	writeFile(t, src, "testdata/openlineage/examples/e.json", `{"eventType":"COMPLETE"}`)
	writeFile(t, src, "testdata/crds/example.com_things.yaml", crdYAML)
	writeFile(t, src, "testdata/azureml/README.md", "not read")
	writeFile(t, src, "testdata/azureml/v1/examples/get.json", `{"title":"Get it.","parameters":{}}`)
	writeFile(t, src, "reference/regions.json", `[{"provider":"azure","region":"x","country":"NL"}]`)
	return src
}

func TestGenerate(t *testing.T) {
	src := minimalShared(t)
	dst := t.TempDir()
	// A hand-written README stays; a file whose original is gone does not.
	readme := writeFile(t, dst, "crds/README.md", "by hand")
	stale := writeFile(t, dst, "crds/old/gone.json", "{}")
	if err := generate(src, dst); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"openlineage/OpenLineage.json", "openlineage/facets/F.json", "openlineage/examples/e.json",
		"crds/example.com_things.json", "azureml/v1/examples/get.json", "regions/regions.json",
	} {
		b, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(name)))
		if err != nil {
			t.Errorf("%s not written: %v", name, err)
			continue
		}
		if bytes.Contains(b, []byte("description")) || bytes.Contains(b, []byte("Get it.")) || !bytes.HasSuffix(b, []byte("}\n")) && !bytes.HasSuffix(b, []byte("]\n")) {
			t.Errorf("%s:\n%s", name, b)
		}
	}
	if b, err := os.ReadFile(readme); err != nil || string(b) != "by hand" {
		t.Errorf("README.md after generate: %q, %v", b, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale fixture still there: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(stale)); !os.IsNotExist(err) {
		t.Errorf("folder of the stale fixture still there: %v", err)
	}
	// A second run gives the same bytes.
	first := readTree(t, dst)
	if err := generate(src, dst); err != nil {
		t.Fatal(err)
	}
	if second := readTree(t, dst); !reflect.DeepEqual(first, second) {
		t.Error("a second run changed the output")
	}
}

// TestGenerateWritesNothingOnError breaks one original of one area and
// checks that the fixtures already there are left exactly as they were.
func TestGenerateWritesNothingOnError(t *testing.T) {
	for _, broken := range []string{
		"testdata/openlineage/facets/F.json",
		"testdata/crds/example.com_things.yaml",
		"testdata/azureml/v1/examples/get.json",
		"reference/regions.json",
	} {
		t.Run(broken, func(t *testing.T) {
			src := minimalShared(t)
			dst := t.TempDir()
			if err := generate(src, dst); err != nil {
				t.Fatal(err)
			}
			before := readTree(t, dst)
			writeFile(t, src, broken, "{ not json nor yaml: [")
			err := generate(src, dst)
			if err == nil || !strings.Contains(err.Error(), filepath.Base(broken)) {
				t.Errorf("err = %v, want one naming %s", err, broken)
			}
			if after := readTree(t, dst); !reflect.DeepEqual(before, after) {
				t.Error("a failed run changed the fixtures")
			}
		})
	}
}

func TestGenerateWithoutShared(t *testing.T) {
	err := generate(filepath.Join(t.TempDir(), "no-shared"), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "-shared") {
		t.Errorf("err = %v, want one saying how to point at the shared directory", err)
	}
}

func TestDeclares(t *testing.T) {
	for _, tc := range []struct {
		gomod string
		want  bool
	}{
		{"module " + modulePath + "\n", true},
		{"// x\nmodule \"" + modulePath + "\" // y\n", true},
		{"module example.com/wrapper\n", false},
		{"// module " + modulePath + "\n", false},
		{"", false},
	} {
		if got := declares([]byte(tc.gomod), modulePath); got != tc.want {
			t.Errorf("declares(%q) = %v, want %v", tc.gomod, got, tc.want)
		}
	}
}

// TestCommittedFixturesCarryNoProse runs each transformation again over the
// committed fixtures, which needs no shared data: a file the generator
// would still change holds something it removes, or is not its output.
func TestCommittedFixturesCarryNoProse(t *testing.T) {
	checked := 0
	check := func(fsys fs.FS, pattern string, again func(any) (any, error)) {
		t.Helper()
		var names []string
		err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if ok, _ := filepath.Match(pattern, path); ok && !d.IsDir() {
				names = append(names, path)
			}
			return err
		})
		if err != nil || len(names) == 0 {
			t.Fatalf("no fixtures match %s: %v", pattern, err)
		}
		for _, name := range names {
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				t.Fatal(err)
			}
			v, err := again(parse(t, string(b)))
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if out, err := encode(v); err != nil || !bytes.Equal(out, b) {
				t.Errorf("%s is not what the generator leaves (%v); run make fixtures", name, err)
			}
			checked++
		}
	}
	schema := func(v any) (any, error) { return stripSchema(v), nil }
	check(fixtures.OpenLineage(), fixtures.OpenLineageCore, schema)
	check(fixtures.OpenLineage(), fixtures.OpenLineageFacets, schema)
	check(fixtures.CRDs(), "*.json", func(v any) (any, error) { return deriveCRD(v) })
	for _, depth := range []string{"*/*", "*/*/*"} { // jobs/delete.json, jobs/CommandJob/get.json
		check(fixtures.AzureML(), fixtures.AzureMLExamples+"/"+depth+".json", func(v any) (any, error) { return neutralize(v), nil })
	}
	check(fixtures.Regions(), fixtures.RegionsFile, func(v any) (any, error) {
		for i, e := range v.([]any) {
			for k := range e.(map[string]any) {
				if !slices.Contains(regionFields, k) {
					return nil, fmt.Errorf("entry %d has field %q, which the generator leaves out", i, k)
				}
			}
		}
		return v, nil
	})
	if checked < 50 {
		t.Errorf("%d fixture files checked; the globs miss some", checked)
	}
}
