package coreweavetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tideline-ml/tideline/provider/coreweave"
)

// ConfigMapResource is the core ConfigMap resource.
var ConfigMapResource = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// ServingCluster is an in-memory stand-in for the API server behind a dynamic
// client, for unit tests. client-go's fake dynamic client stores objects
// but does none of what the serving code relies on, so ServingCluster answers
// every call itself, as the API server does for InferenceServices and
// ConfigMaps:
//
//   - every write gives the object a new resourceVersion, except an update
//     that changes nothing;
//   - an update or a delete whose resourceVersion (or delete precondition)
//     is stale is a 409 Conflict;
//   - metadata.generation starts at 1 and grows when the spec changes;
//   - for InferenceServices, status is written only through the status
//     subresource, which changes nothing else;
//   - NotFound and AlreadyExists carry the object's name, as the API server
//     sends them;
//   - lists filter by label selector.
//
// Patch and watch are not supported. With DeferDeletes, deleting an
// InferenceService only sets its deletionTimestamp, as KServe's finalizer
// and foreground deletion hold it, until Settle.
type ServingCluster struct {
	// DeferDeletes holds deleted InferenceServices until Settle.
	DeferDeletes bool

	mu      sync.Mutex
	objs    map[objKey]*unstructured.Unstructured
	rv      int64
	uid     int64
	fault   func(k8stesting.Action) error
	client  *fake.FakeDynamicClient
	statusR map[schema.GroupVersionResource]bool
}

type objKey struct {
	gvr       schema.GroupVersionResource
	namespace string
	name      string
}

// NewServingCluster returns an empty ServingCluster.
func NewServingCluster() *ServingCluster {
	c := &ServingCluster{
		objs:    map[objKey]*unstructured.Unstructured{},
		statusR: map[schema.GroupVersionResource]bool{coreweave.InferenceServiceResource: true},
	}
	c.client = fake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		coreweave.InferenceServiceResource: "InferenceServiceList",
		ConfigMapResource:                  "ConfigMapList",
	})
	c.client.PrependReactor("*", "*", c.react)
	return c
}

// Dynamic returns the client to hand to coreweave.Config.Dynamic.
func (c *ServingCluster) Dynamic() dynamic.Interface { return c.client }

// Fake returns the underlying fake client, to add reactors or read the
// recorded actions.
func (c *ServingCluster) Fake() *fake.FakeDynamicClient { return c.client }

// FailWith makes every call for which fail returns an error fail with it,
// before the call changes anything; nil clears it. fail runs while the
// client's lock is held and must not call the client.
func (c *ServingCluster) FailWith(fail func(action k8stesting.Action) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fault = fail
}

// Settle removes the InferenceServices whose delete DeferDeletes held.
func (c *ServingCluster) Settle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, o := range c.objs {
		if o.GetDeletionTimestamp() != nil {
			delete(c.objs, k)
		}
	}
}

// Mutate changes a stored object in place, bypassing the client, as
// another writer would; the object gets a new resourceVersion. It reports
// whether the object exists. A reactor prepended to Fake() may call it.
func (c *ServingCluster) Mutate(gvr schema.GroupVersionResource, namespace, name string, change func(*unstructured.Unstructured)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.objs[objKey{gvr, namespace, name}]
	if o == nil {
		return false
	}
	change(o)
	o.SetResourceVersion(c.nextRV())
	return true
}

// Put stores a copy of obj under resource gvr as it is, bypassing the
// client and its checks, with a new resourceVersion; Remove deletes an
// object at once. Reactors prepended to Fake() may call both, to play
// another writer in the middle of a call.
func (c *ServingCluster) Put(gvr schema.GroupVersionResource, obj *unstructured.Unstructured) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := obj.DeepCopy()
	o.SetResourceVersion(c.nextRV())
	c.objs[objKey{gvr, o.GetNamespace(), o.GetName()}] = o
}

// Remove deletes a stored object at once; see Put.
func (c *ServingCluster) Remove(gvr schema.GroupVersionResource, namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.objs, objKey{gvr, namespace, name})
}

// Object returns a copy of a stored object, or nil.
func (c *ServingCluster) Object(gvr schema.GroupVersionResource, namespace, name string) *unstructured.Unstructured {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o := c.objs[objKey{gvr, namespace, name}]; o != nil {
		return o.DeepCopy()
	}
	return nil
}

// Objects returns copies of every stored object of a resource, ordered by
// namespace and name.
func (c *ServingCluster) Objects(gvr schema.GroupVersionResource) []*unstructured.Unstructured {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*unstructured.Unstructured
	for k, o := range c.objs {
		if k.gvr == gvr {
			out = append(out, o.DeepCopy())
		}
	}
	slices.SortFunc(out, func(a, b *unstructured.Unstructured) int {
		if a.GetNamespace() != b.GetNamespace() {
			if a.GetNamespace() < b.GetNamespace() {
				return -1
			}
			return 1
		}
		if a.GetName() < b.GetName() {
			return -1
		}
		if a.GetName() > b.GetName() {
			return 1
		}
		return 0
	})
	return out
}

func (c *ServingCluster) nextRV() string {
	c.rv++
	return strconv.FormatInt(c.rv, 10)
}

func (c *ServingCluster) react(action k8stesting.Action) (bool, runtime.Object, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fault != nil {
		if err := c.fault(action); err != nil {
			return true, nil, err
		}
	}
	gvr := action.GetResource()
	gr := gvr.GroupResource()
	ns := action.GetNamespace()
	// Dispatch on the verb: an update action also satisfies CreateAction.
	switch verb := action.GetVerb(); {
	case verb == "get":
		a := action.(k8stesting.GetAction)
		o := c.objs[objKey{gvr, ns, a.GetName()}]
		if o == nil {
			return true, nil, apierrors.NewNotFound(gr, a.GetName())
		}
		return true, o.DeepCopy(), nil
	case verb == "list":
		a := action.(k8stesting.ListAction)
		sel := a.GetListRestrictions().Labels
		if sel == nil {
			sel = labels.Everything()
		}
		list := &unstructured.UnstructuredList{Object: map[string]any{
			"apiVersion": gvr.GroupVersion().String(),
			"kind":       "List",
		}}
		list.SetResourceVersion(strconv.FormatInt(c.rv, 10))
		var names []objKey
		for k := range c.objs {
			if k.gvr == gvr && k.namespace == ns {
				names = append(names, k)
			}
		}
		slices.SortFunc(names, func(x, y objKey) int {
			if x.name < y.name {
				return -1
			}
			return 1
		})
		for _, k := range names {
			if o := c.objs[k]; sel.Matches(labels.Set(o.GetLabels())) {
				list.Items = append(list.Items, *o.DeepCopy())
			}
		}
		return true, list, nil
	case verb == "create":
		a := action.(k8stesting.CreateAction)
		o, ok := a.GetObject().(*unstructured.Unstructured)
		if !ok {
			return true, nil, apierrors.NewBadRequest(fmt.Sprintf("the cluster stand-in stores unstructured objects, got %T", a.GetObject()))
		}
		o = o.DeepCopy()
		if o.GetName() == "" {
			return true, nil, apierrors.NewBadRequest("metadata.name is required")
		}
		k := objKey{gvr, ns, o.GetName()}
		if c.objs[k] != nil {
			return true, nil, apierrors.NewAlreadyExists(gr, o.GetName())
		}
		if o.GetResourceVersion() != "" {
			return true, nil, apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
		}
		o.SetNamespace(ns)
		c.uid++
		o.SetUID(types.UID(fmt.Sprintf("uid-%d", c.uid)))
		o.SetCreationTimestamp(metav1.NewTime(time.Now().UTC().Truncate(time.Second)))
		if _, ok := o.Object["spec"]; ok {
			o.SetGeneration(1)
		}
		if c.statusR[gvr] {
			delete(o.Object, "status")
		}
		o.SetResourceVersion(c.nextRV())
		c.objs[k] = o
		return true, o.DeepCopy(), nil
	case verb == "update":
		a := action.(k8stesting.UpdateAction)
		o, ok := a.GetObject().(*unstructured.Unstructured)
		if !ok {
			return true, nil, apierrors.NewBadRequest(fmt.Sprintf("the cluster stand-in stores unstructured objects, got %T", a.GetObject()))
		}
		o = o.DeepCopy()
		k := objKey{gvr, ns, o.GetName()}
		cur := c.objs[k]
		if cur == nil {
			return true, nil, apierrors.NewNotFound(gr, o.GetName())
		}
		if rv := o.GetResourceVersion(); rv != "" && rv != cur.GetResourceVersion() {
			return true, nil, apierrors.NewConflict(gr, o.GetName(), errors.New("the object has been modified; please apply your changes to the latest version and try again"))
		}
		var next *unstructured.Unstructured
		switch sub := a.GetSubresource(); {
		case sub == "status" && c.statusR[gvr]:
			next = cur.DeepCopy()
			if st, ok := o.Object["status"]; ok {
				next.Object["status"] = st
			} else {
				delete(next.Object, "status")
			}
		case sub != "":
			return true, nil, apierrors.NewNotFound(gr, o.GetName()+"/"+sub)
		default:
			next = o
			next.SetUID(cur.GetUID())
			next.SetCreationTimestamp(cur.GetCreationTimestamp())
			next.SetDeletionTimestamp(cur.GetDeletionTimestamp())
			next.SetGeneration(cur.GetGeneration())
			if c.statusR[gvr] {
				if st, ok := cur.Object["status"]; ok {
					next.Object["status"] = st
				} else {
					delete(next.Object, "status")
				}
			}
			if !reflect.DeepEqual(next.Object["spec"], cur.Object["spec"]) && cur.GetGeneration() > 0 {
				next.SetGeneration(cur.GetGeneration() + 1)
			}
		}
		next.SetResourceVersion(cur.GetResourceVersion())
		if reflect.DeepEqual(next.Object, cur.Object) {
			return true, cur.DeepCopy(), nil // a no-op keeps the resourceVersion
		}
		next.SetResourceVersion(c.nextRV())
		c.objs[k] = next
		return true, next.DeepCopy(), nil
	case verb == "delete":
		a := action.(k8stesting.DeleteAction)
		k := objKey{gvr, ns, a.GetName()}
		cur := c.objs[k]
		if cur == nil {
			return true, nil, apierrors.NewNotFound(gr, a.GetName())
		}
		if pre := a.GetDeleteOptions().Preconditions; pre != nil {
			if pre.ResourceVersion != nil && *pre.ResourceVersion != cur.GetResourceVersion() {
				return true, nil, apierrors.NewConflict(gr, a.GetName(), fmt.Errorf("the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s)", *pre.ResourceVersion, cur.GetResourceVersion()))
			}
			if pre.UID != nil && *pre.UID != cur.GetUID() {
				return true, nil, apierrors.NewConflict(gr, a.GetName(), fmt.Errorf("the UID in the precondition (%s) does not match the UID in record (%s)", *pre.UID, cur.GetUID()))
			}
		}
		if c.DeferDeletes && gvr == coreweave.InferenceServiceResource {
			if cur.GetDeletionTimestamp() == nil {
				next := cur.DeepCopy()
				now := metav1.NewTime(time.Now().UTC())
				next.SetDeletionTimestamp(&now)
				next.SetResourceVersion(c.nextRV())
				c.objs[k] = next
			}
			return true, nil, nil
		}
		delete(c.objs, k)
		return true, nil, nil
	}
	return true, nil, apierrors.NewMethodNotSupported(gr, action.GetVerb())
}
