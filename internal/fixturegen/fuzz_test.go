package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzTransforms feeds arbitrary JSON and YAML to the transformations: none
// may panic, each is idempotent (what it leaves has nothing more for it to
// remove), and whatever a YAML document decodes to either has a JSON form
// that encode writes or is refused with an error.
func FuzzTransforms(f *testing.F) {
	for _, seed := range []string{
		`{"description":"d","properties":{"description":{"title":"t"}},"items":[{"$comment":"c"},true]}`,
		`{"example":"a b","examples":["x","y z"],"x-kubernetes-validations":[{"message":"m","rule":"r"},3]}`,
		`{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"a.b"},"spec":{"versions":[{"schema":{"openAPIV3Schema":{"description":"d"}},"additionalPrinterColumns":[{"description":"d"},1]}]}}`,
		`[{"title":"T","list":[{"summary":"s"}]},null,1.5]`,
		"a: {b: [1, 2.5, true, null]}\nc: !!binary aGk=\n",
		"{1: x}",
		"a: .nan\nb: -.inf\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			once := stripSchema(v)
			if twice := stripSchema(once); !reflect.DeepEqual(once, twice) {
				t.Errorf("stripSchema is not idempotent on %s", data)
			}
			once = neutralize(v)
			if twice := neutralize(once); !reflect.DeepEqual(once, twice) {
				t.Errorf("neutralize is not idempotent on %s", data)
			}
			if crd, err := deriveCRD(v); err == nil {
				again, err := deriveCRD(crd)
				if err != nil || !reflect.DeepEqual(crd, again) {
					t.Errorf("deriveCRD is not idempotent on %s: %v", data, err)
				}
			}
		}
		var y any
		if yaml.Unmarshal(data, &y) == nil {
			if j, err := jsonValue(y); err == nil {
				if _, err := encode(j); err != nil {
					t.Errorf("jsonValue accepted %#v, which encode refuses: %v", j, err)
				}
			}
		}
	})
}
