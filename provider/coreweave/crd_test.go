package coreweave_test

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tideline-ml/tideline/internal/fixtures"
	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
)

// crdSchema compiles the openAPIV3Schema of a CRD's version from the
// embedded CRDs. The x-kubernetes-* keywords (CEL rules among them) are
// not checked; the structure, types, enums and required fields are.
func crdSchema(t *testing.T, file, version string) *jsonschema.Schema {
	t.Helper()
	b, err := fs.ReadFile(fixtures.CRDs(), file)
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string
				Schema struct {
					OpenAPIV3Schema json.RawMessage `json:"openAPIV3Schema"`
				}
			}
		}
	}
	if err := json.Unmarshal(b, &crd); err != nil {
		t.Fatal(err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != version {
			continue
		}
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(v.Schema.OpenAPIV3Schema)))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft4)
		if err := c.AddResource("https://schemas.example.com/crd.json", doc); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile("https://schemas.example.com/crd.json")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Fatalf("%s has no version %s", file, version)
	return nil
}

// TestKubeflowObjectsMatchTheirCRDs: the PyTorchJob and the TrainJob the
// provider writes (with GPUs, placement, secrets and a deadline) are valid
// against the schemas of the CRDs' released versions.
func TestKubeflowObjectsMatchTheirCRDs(t *testing.T) {
	for _, tc := range []struct {
		multi string
		gvr   schema.GroupVersionResource
		file  string
	}{
		{coreweave.MultiNodePyTorchJob, coreweavetest.PyTorchJobs, "kubeflow.org_pytorchjobs.json"},
		{coreweave.MultiNodeTrainJob, coreweavetest.TrainJobs, "trainer.kubeflow.org_trainjobs.json"},
	} {
		t.Run(tc.multi, func(t *testing.T) {
			e := newEnv(t, true, func(c *coreweave.Config) { c.MultiNode = tc.multi })
			spec := jobSpec("train-crd")
			spec.Nodes = 4
			if tc.multi == coreweave.MultiNodeTrainJob {
				spec.MaxRetries = 0
			}
			if _, err := e.p.SubmitJob(e.ctx, spec); err != nil {
				t.Fatal(err)
			}
			u, err := e.cluster.Dynamic.Resource(tc.gvr).Namespace(testNamespace).Get(e.ctx, spec.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// As the API server receives it: JSON, without the fields the
			// server sets.
			obj := u.DeepCopy()
			obj.SetResourceVersion("")
			obj.SetUID("")
			obj.SetCreationTimestamp(metav1.Time{})
			js, err := obj.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(js)))
			if err != nil {
				t.Fatal(err)
			}
			if err := crdSchema(t, tc.file, tc.gvr.Version).Validate(inst); err != nil {
				t.Errorf("the %s the provider writes does not match its CRD: %v", tc.multi, err)
			}
		})
	}
}
