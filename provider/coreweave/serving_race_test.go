package coreweave_test

import (
	"context"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/tideline-ml/tideline/provider/coreweave"
)

// beforeGet is a dynamic client that runs a function once, before the
// first Get of one resource, outside the fake's own lock: another writer's
// change landing between two reads of the provider.
type beforeGet struct {
	dynamic.Interface
	resource string
	once     *sync.Once
	run      func()
}

func (b beforeGet) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	r := b.Interface.Resource(gvr)
	if gvr.Resource != b.resource {
		return r
	}
	return beforeGetResource{r, b}
}

type beforeGetResource struct {
	dynamic.NamespaceableResourceInterface
	b beforeGet
}

func (r beforeGetResource) Namespace(ns string) dynamic.ResourceInterface {
	return beforeGetNamespaced{r.NamespaceableResourceInterface.Namespace(ns), r.b}
}

type beforeGetNamespaced struct {
	dynamic.ResourceInterface
	b beforeGet
}

func (r beforeGetNamespaced) Get(ctx context.Context, name string, opts metav1.GetOptions, sub ...string) (*unstructured.Unstructured, error) {
	r.b.once.Do(r.b.run)
	return r.ResourceInterface.Get(ctx, name, opts, sub...)
}

// TestFirstDeploymentRaceSeesTheNewObject: a deployment added while another
// writer turns the endpoint's ConfigMap into its InferenceService — between
// the provider's read of the InferenceService (not there yet) and of the
// ConfigMap (gone already) — finds the endpoint instead of calling it
// missing.
func TestFirstDeploymentRaceSeesTheNewObject(t *testing.T) {
	e := knative(t)
	e.endpoint("scoring")
	racer, err := coreweave.New(coreweave.Config{
		Clientset: kubefake.NewClientset(),
		Dynamic: beforeGet{Interface: e.cluster.Dynamic(), resource: "configmaps", once: new(sync.Once), run: func() {
			if _, err := e.p.CreateDeployment(e.ctx, e.spec("scoring", "first")); err != nil {
				t.Errorf("the other writer's first deployment: %v", err)
			}
		}},
		Namespace: servingNamespace, Region: servingRegion,
		Serving: coreweave.ServingConfig{Mode: coreweave.DeploymentModeKnative, ModelFormat: "sklearn"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := racer.CreateDeployment(e.ctx, e.spec("scoring", "second")); err != nil {
		t.Fatalf("CreateDeployment during the other writer's first deployment: %v", err)
	}
	list, err := e.p.ListDeployments(e.ctx, "scoring")
	if err != nil || len(list) != 2 {
		t.Fatalf("ListDeployments = %d deployments (%v), want 2", len(list), err)
	}
}
