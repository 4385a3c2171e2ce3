package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Where the originals sit in the shared directory.
const (
	openLineageDir = "testdata/openlineage"
	crdDir         = "testdata/crds"
	azureMLDir     = "testdata/azureml"
	regionsFile    = "reference/regions.json"
)

// deriveOpenLineage strips the core schema and every facet schema, and
// re-encodes the example events, which hold data and no prose.
func deriveOpenLineage(src string) (map[string][]byte, error) {
	dir := filepath.Join(src, filepath.FromSlash(openLineageDir))
	out := map[string][]byte{}
	schemas, err := filepath.Glob(filepath.Join(dir, "facets", "*.json"))
	if err != nil {
		return nil, err
	}
	schemas = append(schemas, filepath.Join(dir, "OpenLineage.json"))
	for _, path := range schemas {
		doc, err := readJSON(path)
		if err != nil {
			return nil, err
		}
		if id, _ := field(doc, "$id").(string); id == "" {
			return nil, fmt.Errorf("%s has no $id; an OpenLineage schema file is registered under it", path)
		}
		if out[rel(dir, path)], err = encode(stripSchema(doc)); err != nil {
			return nil, err
		}
	}
	examples, err := filepath.Glob(filepath.Join(dir, "examples", "*.json"))
	if err != nil {
		return nil, err
	}
	for _, path := range examples {
		doc, err := readJSON(path)
		if err != nil {
			return nil, err
		}
		if out[rel(dir, path)], err = encode(doc); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// deriveCRDs turns each CRD's YAML into JSON holding what an API server
// needs to install it, with its schema stripped.
func deriveCRDs(src string) (map[string][]byte, error) {
	paths, err := filepath.Glob(filepath.Join(src, filepath.FromSlash(crdDir), "*.yaml"))
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, path := range paths {
		doc, err := readYAML(path)
		if err != nil {
			return nil, err
		}
		crd, err := deriveCRD(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		name := strings.TrimSuffix(filepath.Base(path), ".yaml") + ".json"
		if out[name], err = encode(crd); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// deriveAzureML neutralises the free text of every REST example, keeping
// the folder layout under the API version.
func deriveAzureML(src string) (map[string][]byte, error) {
	dir := filepath.Join(src, filepath.FromSlash(azureMLDir))
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		doc, err := readJSON(path)
		if err != nil {
			return err
		}
		out[rel(dir, path)], err = encode(neutralize(doc))
		return err
	})
	return out, err
}

// regionFields are the region facts the catalog test compares; the rest of
// the reference (sources, notes, pairings) stays out.
var regionFields = []string{
	"provider", "region", "displayName", "geography", "country",
	"euDataBoundary", "superRegion", "availabilityZones",
}

// deriveRegions keeps regionFields of every region, in the reference's order.
func deriveRegions(src string) (map[string][]byte, error) {
	path := filepath.Join(src, filepath.FromSlash(regionsFile))
	doc, err := readJSON(path)
	if err != nil {
		return nil, err
	}
	list, ok := doc.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: a JSON array of regions expected, found %T", path, doc)
	}
	regions := make([]any, 0, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: entry %d is a %T, not an object", path, i, e)
		}
		for _, required := range []string{"provider", "region", "country"} {
			if s, _ := m[required].(string); s == "" {
				return nil, fmt.Errorf("%s: entry %d has no %s", path, i, required)
			}
		}
		r := map[string]any{}
		for _, f := range regionFields {
			if v, ok := m[f]; ok {
				r[f] = v
			}
		}
		regions = append(regions, r)
	}
	b, err := encode(regions)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"regions.json": b}, nil
}

// Keywords of JSON Schema (and OpenAPI's dialect of it) whose values are
// schemas, maps of schemas, or lists of schemas. Every other keyword's
// value is data (enum, const, default, required, ...) and is kept as is.
var (
	schemaMapKeywords = []string{"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
	schemaKeywords    = []string{
		"items", "additionalProperties", "additionalItems", "not", "if", "then", "else",
		"contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems",
	}
	schemaListKeywords = []string{"allOf", "anyOf", "oneOf", "prefixItems"}
	// annotationKeywords hold prose and never affect validation.
	annotationKeywords = []string{"description", "title", "$comment"}
	// validationProse are the human-readable parts of a Kubernetes CEL
	// validation rule; without them the API server reports the rule.
	validationProse = []string{"message", "messageExpression"}
)

// stripSchema returns a copy of the schema v without its prose: the
// annotation keywords, example values that are not tokens, and the messages
// of x-kubernetes-validations rules. It recurses only where the value is a
// schema, so that a property named "description" is kept.
func stripSchema(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v // a boolean schema, or a malformed one left for the consumer to reject
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		switch {
		case slices.Contains(annotationKeywords, k):
		case k == "example":
			if isToken(val) {
				out[k] = val
			}
		case k == "examples":
			if list, ok := val.([]any); ok {
				var kept []any
				for _, e := range list {
					if isToken(e) {
						kept = append(kept, e)
					}
				}
				if len(kept) > 0 {
					out[k] = kept
				}
			}
		case slices.Contains(schemaMapKeywords, k):
			out[k] = mapValues(val, stripSchema)
		case k == "dependencies": // draft 7: each value a schema or a list of names
			out[k] = mapValues(val, func(d any) any {
				if _, isList := d.([]any); isList {
					return d
				}
				return stripSchema(d)
			})
		case slices.Contains(schemaKeywords, k):
			if list, ok := val.([]any); ok { // items as a tuple, before 2020-12
				out[k] = listValues(list, stripSchema)
			} else {
				out[k] = stripSchema(val)
			}
		case slices.Contains(schemaListKeywords, k):
			if list, ok := val.([]any); ok {
				out[k] = listValues(list, stripSchema)
			} else {
				out[k] = val
			}
		case k == "x-kubernetes-validations":
			if list, ok := val.([]any); ok {
				out[k] = listValues(list, func(rule any) any { return without(rule, validationProse...) })
			} else {
				out[k] = val
			}
		default:
			out[k] = val
		}
	}
	return out
}

// isToken reports whether an example value is a token rather than a
// sentence: a number, a boolean, null, or a string with no white space, or
// a list or object of such. Sentences are prose and are dropped.
func isToken(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.IndexFunc(v, unicode.IsSpace) < 0
	case []any:
		for _, e := range v {
			if !isToken(e) {
				return false
			}
		}
	case map[string]any:
		for _, e := range v {
			if !isToken(e) {
				return false
			}
		}
	}
	return true
}

// deriveCRD keeps what installs a CustomResourceDefinition: its API version
// and kind, its name, and its spec, with each version's schema stripped and
// the prose of printer columns and deprecation warnings dropped.
func deriveCRD(doc any) (map[string]any, error) {
	if apiVersion, kind := field(doc, "apiVersion"), field(doc, "kind"); apiVersion != "apiextensions.k8s.io/v1" || kind != "CustomResourceDefinition" {
		return nil, fmt.Errorf("not an apiextensions.k8s.io/v1 CustomResourceDefinition (apiVersion %v, kind %v)", apiVersion, kind)
	}
	name, _ := field(field(doc, "metadata"), "name").(string)
	if name == "" {
		return nil, errors.New("no metadata.name")
	}
	spec, ok := field(doc, "spec").(map[string]any)
	if !ok {
		return nil, errors.New("no spec")
	}
	versions, _ := spec["versions"].([]any)
	if len(versions) == 0 {
		return nil, errors.New("no spec.versions")
	}
	outSpec := without(spec, "versions").(map[string]any)
	outVersions := make([]any, 0, len(versions))
	for i, v := range versions {
		ver, ok := without(v, "deprecationWarning").(map[string]any)
		if !ok {
			return nil, fmt.Errorf("spec.versions[%d] is not an object", i)
		}
		schema := field(field(ver, "schema"), "openAPIV3Schema")
		if schema == nil {
			return nil, fmt.Errorf("spec.versions[%d] (%v) has no schema.openAPIV3Schema", i, ver["name"])
		}
		ver["schema"] = map[string]any{"openAPIV3Schema": stripSchema(schema)}
		if cols, ok := ver["additionalPrinterColumns"].([]any); ok {
			ver["additionalPrinterColumns"] = listValues(cols, func(c any) any { return without(c, "description") })
		}
		outVersions = append(outVersions, ver)
	}
	outSpec["versions"] = outVersions
	return map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": name},
		"spec":       outSpec,
	}, nil
}

// proseFields name the free-text fields of the Azure ML REST examples:
// descriptions and titles of resources and of the examples themselves, and
// the message of a private endpoint connection request.
var proseFields = []string{"description", "summary", "title", "requestMessage", "message"}

// neutralText replaces every non-empty free-text value. It is the
// placeholder the examples themselves use for arbitrary strings.
const neutralText = "string"

// neutralize returns a copy of v with every non-empty string under a
// proseFields key replaced by neutralText.
func neutralize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if s, ok := e.(string); ok && s != "" && slices.Contains(proseFields, k) {
				out[k] = neutralText
				continue
			}
			out[k] = neutralize(e)
		}
		return out
	case []any:
		return listValues(v, neutralize)
	}
	return v
}

// without returns a shallow copy of the object v without keys; a value
// that is not an object is returned as is.
func without(v any, keys ...string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		if !slices.Contains(keys, k) {
			out[k] = e
		}
	}
	return out
}

func mapValues(v any, f func(any) any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		out[k] = f(e)
	}
	return out
}

func listValues(list []any, f func(any) any) []any {
	out := make([]any, len(list))
	for i, e := range list {
		out[i] = f(e)
	}
	return out
}

// field returns v[key] when v is an object, else nil.
func field(v any, key string) any {
	if m, ok := v.(map[string]any); ok {
		return m[key]
	}
	return nil
}

// rel returns path relative to dir with forward slashes.
func rel(dir, path string) string {
	r, err := filepath.Rel(dir, path)
	if err != nil {
		panic(err) // path was found under dir
	}
	return filepath.ToSlash(r)
}

// readJSON decodes one JSON document, keeping numbers as written.
func readJSON(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: more than one JSON value", path)
	}
	return v, nil
}

// readYAML decodes a file holding exactly one YAML document into the
// values JSON has: objects with string keys, lists, strings, numbers,
// booleans and null.
func readYAML(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if v != nil {
			docs = append(docs, v)
		}
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("%s: %d YAML documents, want exactly one", path, len(docs))
	}
	return jsonValue(docs[0])
}

// jsonValue checks that a decoded YAML value has a JSON form: it refuses
// objects with keys that are not strings, which encoding/json would reject
// or rewrite, and numbers JSON cannot write (NaN, infinities).
func jsonValue(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			c, err := jsonValue(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			v[k] = c
		}
		return v, nil
	case map[any]any:
		return nil, errors.New("an object with a key that is not a string")
	case []any:
		for i, e := range v {
			c, err := jsonValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			v[i] = c
		}
		return v, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("the number %v, which has no JSON form", v)
		}
		return v, nil
	case nil, string, bool, int, int64, uint64:
		return v, nil
	default:
		return nil, fmt.Errorf("a YAML value of type %T, which has no JSON form", v)
	}
}

// encode writes v as JSON with sorted keys, two-space indentation, no HTML
// escaping and a final newline, so the same input always gives the same
// bytes.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
