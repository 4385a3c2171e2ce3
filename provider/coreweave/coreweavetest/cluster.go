// Package coreweavetest supports tests of the coreweave provider: an
// in-memory cluster over client-go's fake clientsets that behaves like an
// API server where the provider depends on it (Cluster), a Controller that
// plays the Job controller, the Kubeflow operators and the garbage
// collector against any cluster, fake or real, and the conformance
// suite's Harness over both; for serving, ServingCluster (the same
// stand-in behind a dynamic client alone) and SetDeploymentReady, which
// writes an InferenceService's status as KServe's controller does.
package coreweavetest

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/watch"
	dynfake "k8s.io/client-go/dynamic/fake"
	kfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// The custom resources the fake cluster serves when told to.
var (
	PyTorchJobs = schema.GroupVersionResource{Group: "kubeflow.org", Version: "v1", Resource: "pytorchjobs"}
	TrainJobs   = schema.GroupVersionResource{Group: "trainer.kubeflow.org", Version: "v1alpha1", Resource: "trainjobs"}
)

// Cluster is an in-memory cluster for unit tests: client-go's fake typed
// and dynamic clientsets over one store that, unlike the bare fakes, does
// what the provider relies on an API server for:
//
//   - every write gets a new resourceVersion from one counter, and objects
//     get a uid and a creationTimestamp (whole seconds, as the wire carries
//     it);
//   - an update or patch carrying a stale resourceVersion, and a delete whose
//     preconditions do not hold, are Conflict;
//   - a delete with foreground propagation, or of an object with finalizers,
//     sets deletionTimestamp and keeps the object until its finalizers are
//     removed (Settle plays the garbage collector that does so);
//   - watches honour resourceVersion, label and field selectors, send a
//     bookmark when they start, and answer 410 Expired for a version older
//     than the last Compact;
//   - a Job's status is checked against the rules the API server applies
//     to Job status updates (ValidateJobStatus).
//
// There is no status subresource distinction (an update writes the whole
// object), no defaulting, no schema validation and no admission.
type Cluster struct {
	Kube    *kfake.Clientset
	Dynamic *dynfake.FakeDynamicClient

	mu        sync.Mutex
	rv        int64
	compacted int64
	history   []event
	watchers  []*watcher
	now       func() time.Time
	kubeT     *tracker
	dynT      *tracker
}

type event struct {
	gvr schema.GroupVersionResource
	ns  string
	typ watch.EventType
	obj runtime.Object
	rv  int64
}

// maxHistory bounds the events a watch can resume from.
const maxHistory = 10000

// NewCluster returns an empty cluster. With kubeflow, it serves the
// PyTorchJob and TrainJob resources, and discovery lists them.
func NewCluster(kubeflow bool) *Cluster {
	c := &Cluster{now: time.Now}
	c.Kube = kfake.NewClientset()
	scheme := runtime.NewScheme()
	c.Dynamic = dynfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{
		PyTorchJobs: "PyTorchJobList",
		TrainJobs:   "TrainJobList",
	})
	c.kubeT = &tracker{c: c, inner: c.Kube.Tracker()}
	c.dynT = &tracker{c: c, inner: c.Dynamic.Tracker()}
	c.Kube.PrependReactor("*", "*", c.kubeT.react)
	c.Kube.PrependWatchReactor("*", c.kubeT.watch)
	c.Dynamic.PrependReactor("*", "*", c.dynT.react)
	c.Dynamic.PrependWatchReactor("*", c.dynT.watch)
	c.Kube.Resources = []*metav1.APIResourceList{{
		GroupVersion: "batch/v1",
		APIResources: []metav1.APIResource{{Name: "jobs", Namespaced: true, Kind: "Job"}, {Name: "jobs/status", Namespaced: true, Kind: "Job"}},
	}}
	if kubeflow {
		c.Kube.Resources = append(c.Kube.Resources,
			&metav1.APIResourceList{GroupVersion: "kubeflow.org/v1", APIResources: []metav1.APIResource{{Name: "pytorchjobs", Namespaced: true, Kind: "PyTorchJob"}}},
			&metav1.APIResourceList{GroupVersion: "trainer.kubeflow.org/v1alpha1", APIResources: []metav1.APIResource{{Name: "trainjobs", Namespaced: true, Kind: "TrainJob"}}},
		)
	}
	return c
}

// Clients returns another pair of clients over the same store, with
// actions recorded apart: a controller playing its part on them leaves the
// provider's clients recording the provider's requests alone.
func (c *Cluster) Clients() (*kfake.Clientset, *dynfake.FakeDynamicClient) {
	kube := kfake.NewClientset()
	kube.PrependReactor("*", "*", c.kubeT.react)
	kube.PrependWatchReactor("*", c.kubeT.watch)
	kube.Resources = c.Kube.Resources
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		PyTorchJobs: "PyTorchJobList",
		TrainJobs:   "TrainJobList",
	})
	dyn.PrependReactor("*", "*", c.dynT.react)
	dyn.PrependWatchReactor("*", c.dynT.watch)
	return kube, dyn
}

// KubeReaction applies an action of the typed clientset to the store, as
// the cluster's own reactor does. A test reactor that wants the write to
// happen and then fail (a dropped connection) calls it first.
func (c *Cluster) KubeReaction(a k8stesting.Action) (bool, runtime.Object, error) {
	return c.kubeT.react(a)
}

// Compact forgets the watch history: a watch from any version seen so far
// is answered with 410 Expired, as after an etcd compaction.
func (c *Cluster) Compact() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.compacted = c.rv
	c.history = nil
}

// CloseWatches ends every open watch, as an API server restart or a load
// balancer's idle timeout would.
func (c *Cluster) CloseWatches() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.watchers {
		w.closeLocked()
	}
	c.watchers = nil
}

// Watches returns the number of open watches.
func (c *Cluster) Watches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.watchers)
}

// tracker wraps a fake clientset's object tracker.
type tracker struct {
	c     *Cluster
	inner k8stesting.ObjectTracker
}

func (t *tracker) react(a k8stesting.Action) (bool, runtime.Object, error) {
	switch a.(type) {
	case k8stesting.ListActionImpl, k8stesting.GetActionImpl, k8stesting.CreateActionImpl,
		k8stesting.UpdateActionImpl, k8stesting.DeleteActionImpl, k8stesting.PatchActionImpl:
	default:
		return false, nil, nil
	}
	// One lock for the whole action: a patch reads and writes, and the
	// check of a resourceVersion must see what the write replaces.
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	handled, obj, err := k8stesting.ObjectReaction(lockedTracker{t})(a)
	if err == nil {
		if la, ok := a.(k8stesting.ListActionImpl); ok {
			obj, err = t.filterList(obj, la.GetListRestrictions().Labels, la.GetListRestrictions().Fields)
		}
	}
	return handled, obj, err
}

func (t *tracker) filterList(list runtime.Object, ls labels.Selector, fs fields.Selector) (runtime.Object, error) {
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	var keep []runtime.Object
	for _, it := range items {
		if matches(it, ls, fs) {
			keep = append(keep, it)
		}
	}
	if err := meta.SetList(list, keep); err != nil {
		return nil, err
	}
	if lm, err := meta.ListAccessor(list); err == nil {
		lm.SetResourceVersion(strconv.FormatInt(t.c.rv, 10))
	}
	return list, nil
}

func matches(obj runtime.Object, ls labels.Selector, fs fields.Selector) bool {
	m, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if ls != nil && !ls.Matches(labels.Set(m.GetLabels())) {
		return false
	}
	if fs != nil && !fs.Empty() && !fs.Matches(fields.Set{"metadata.name": m.GetName(), "metadata.namespace": m.GetNamespace()}) {
		return false
	}
	return true
}

// lockedTracker is the tracker seen by ObjectReaction while the cluster's
// lock is held.
type lockedTracker struct{ t *tracker }

func (l lockedTracker) Add(obj runtime.Object) error { return l.t.inner.Add(obj) }

func (l lockedTracker) Get(gvr schema.GroupVersionResource, ns, name string, opts ...metav1.GetOptions) (runtime.Object, error) {
	return l.t.inner.Get(gvr, ns, name, opts...)
}

func (l lockedTracker) List(gvr schema.GroupVersionResource, gvk schema.GroupVersionKind, ns string, opts ...metav1.ListOptions) (runtime.Object, error) {
	return l.t.inner.List(gvr, gvk, ns, opts...)
}

func (l lockedTracker) Apply(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	return fmt.Errorf("coreweavetest: server-side apply is not supported")
}

func (l lockedTracker) Watch(gvr schema.GroupVersionResource, ns string, opts ...metav1.ListOptions) (watch.Interface, error) {
	return nil, fmt.Errorf("coreweavetest: watch goes through the watch reactor")
}

func (l lockedTracker) Create(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.CreateOptions) error {
	c := l.t.c
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if m.GetName() == "" {
		return apierrors.NewInvalid(schema.GroupKind{Group: gvr.Group, Kind: gvr.Resource}, "", nil)
	}
	if _, err := l.t.inner.Get(gvr, ns, m.GetName()); err == nil {
		return apierrors.NewAlreadyExists(gvr.GroupResource(), m.GetName())
	}
	if m.GetNamespace() == "" {
		m.SetNamespace(ns)
	}
	m.SetUID(uuid.NewUUID())
	m.SetCreationTimestamp(metav1.NewTime(c.now().Truncate(time.Second)))
	m.SetGeneration(1)
	m.SetDeletionTimestamp(nil)
	c.rv++
	m.SetResourceVersion(strconv.FormatInt(c.rv, 10))
	if err := l.t.inner.Create(gvr, obj, ns, opts...); err != nil {
		return err
	}
	c.recordLocked(gvr, ns, watch.Added, obj)
	return nil
}

func (l lockedTracker) Update(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.UpdateOptions) error {
	return l.write(gvr, obj, ns)
}

func (l lockedTracker) Patch(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	return l.write(gvr, obj, ns)
}

// write replaces a stored object, as an update or a patch does.
func (l lockedTracker) write(gvr schema.GroupVersionResource, obj runtime.Object, ns string) error {
	c := l.t.c
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	old, err := l.t.inner.Get(gvr, ns, m.GetName())
	if err != nil {
		return err
	}
	om, _ := meta.Accessor(old)
	if rv := m.GetResourceVersion(); rv != "" && rv != om.GetResourceVersion() {
		return apierrors.NewConflict(gvr.GroupResource(), m.GetName(), fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	if newJob, ok := obj.(*batchv1.Job); ok {
		if errs := ValidateJobStatus(newJob, old.(*batchv1.Job)); len(errs) > 0 {
			return apierrors.NewInvalid(schema.GroupKind{Group: "batch", Kind: "Job"}, m.GetName(), errs)
		}
	}
	m.SetUID(om.GetUID())
	m.SetCreationTimestamp(om.GetCreationTimestamp())
	m.SetDeletionTimestamp(om.GetDeletionTimestamp())
	m.SetGeneration(om.GetGeneration())
	if om.GetDeletionTimestamp() != nil && len(m.GetFinalizers()) == 0 {
		return l.remove(gvr, ns, m.GetName(), obj)
	}
	c.rv++
	m.SetResourceVersion(strconv.FormatInt(c.rv, 10))
	if err := l.t.inner.Update(gvr, obj, ns); err != nil {
		return err
	}
	c.recordLocked(gvr, ns, watch.Modified, obj)
	return nil
}

func (l lockedTracker) Delete(gvr schema.GroupVersionResource, ns, name string, opts ...metav1.DeleteOptions) error {
	c := l.t.c
	old, err := l.t.inner.Get(gvr, ns, name)
	if err != nil {
		return err
	}
	om, _ := meta.Accessor(old)
	var o metav1.DeleteOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if p := o.Preconditions; p != nil {
		if p.UID != nil && *p.UID != om.GetUID() || p.ResourceVersion != nil && *p.ResourceVersion != om.GetResourceVersion() {
			return apierrors.NewConflict(gvr.GroupResource(), name, fmt.Errorf("precondition failed: the object's uid or resourceVersion differs"))
		}
	}
	foreground := o.PropagationPolicy != nil && *o.PropagationPolicy == metav1.DeletePropagationForeground
	if !foreground && len(om.GetFinalizers()) == 0 {
		return l.remove(gvr, ns, name, old)
	}
	if om.GetDeletionTimestamp() != nil {
		return nil
	}
	obj := old.DeepCopyObject()
	m, _ := meta.Accessor(obj)
	now := metav1.NewTime(c.now().Truncate(time.Second))
	m.SetDeletionTimestamp(&now)
	if foreground && !hasString(m.GetFinalizers(), metav1.FinalizerDeleteDependents) {
		m.SetFinalizers(append(m.GetFinalizers(), metav1.FinalizerDeleteDependents))
	}
	c.rv++
	m.SetResourceVersion(strconv.FormatInt(c.rv, 10))
	if err := l.t.inner.Update(gvr, obj, ns); err != nil {
		return err
	}
	c.recordLocked(gvr, ns, watch.Modified, obj)
	return nil
}

// remove deletes an object for good; last is its final state.
func (l lockedTracker) remove(gvr schema.GroupVersionResource, ns, name string, last runtime.Object) error {
	c := l.t.c
	if err := l.t.inner.Delete(gvr, ns, name); err != nil {
		return err
	}
	last = last.DeepCopyObject()
	m, _ := meta.Accessor(last)
	c.rv++
	m.SetResourceVersion(strconv.FormatInt(c.rv, 10))
	c.recordLocked(gvr, ns, watch.Deleted, last)
	return nil
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// recordLocked keeps an event for watches to resume from and sends it to
// the open watches it matches.
func (c *Cluster) recordLocked(gvr schema.GroupVersionResource, ns string, typ watch.EventType, obj runtime.Object) {
	ev := event{gvr: gvr, ns: ns, typ: typ, obj: obj.DeepCopyObject(), rv: c.rv}
	c.history = append(c.history, ev)
	if len(c.history) > maxHistory {
		c.compacted = c.history[0].rv
		c.history = c.history[1:]
	}
	kept := c.watchers[:0]
	for _, w := range c.watchers {
		if w.wants(ev) && !w.send(ev) {
			continue
		}
		kept = append(kept, w)
	}
	c.watchers = kept
}

// watcher is one open watch.
type watcher struct {
	c      *Cluster
	gvr    schema.GroupVersionResource
	ns     string
	labels labels.Selector
	fields fields.Selector
	ch     chan watch.Event
	closed bool
}

// watchBuffer is how many events a watch holds for a slow reader; one that
// falls further behind is closed, as the API server does.
const watchBuffer = 256

func (t *tracker) watch(a k8stesting.Action) (bool, watch.Interface, error) {
	wa, ok := a.(k8stesting.WatchActionImpl)
	if !ok {
		return false, nil, nil
	}
	c := t.c
	r := wa.GetWatchRestrictions()
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &watcher{c: c, gvr: wa.GetResource(), ns: wa.GetNamespace(), labels: r.Labels, fields: r.Fields, ch: make(chan watch.Event, watchBuffer)}
	from := c.rv
	if r.ResourceVersion != "" && r.ResourceVersion != "0" {
		v, err := strconv.ParseInt(r.ResourceVersion, 10, 64)
		if err != nil {
			return true, nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", r.ResourceVersion))
		}
		from = v
	}
	if from < c.compacted {
		w.ch <- watch.Event{Type: watch.Error, Object: &metav1.Status{
			Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired,
			Message: fmt.Sprintf("too old resource version: %d (%d)", from, c.compacted),
		}}
		close(w.ch)
		w.closed = true
		return true, w, nil
	}
	for _, ev := range c.history {
		if ev.rv > from && w.wants(ev) {
			w.ch <- watch.Event{Type: ev.typ, Object: ev.obj.DeepCopyObject()}
		}
	}
	w.bookmarkLocked()
	c.watchers = append(c.watchers, w)
	return true, w, nil
}

// bookmarkLocked sends a bookmark at the current version, shaped as an
// object of the watched kind carrying nothing but its resourceVersion.
func (w *watcher) bookmarkLocked() {
	var obj runtime.Object
	if w.gvr.Group == "batch" && w.gvr.Resource == "jobs" {
		obj = &batchv1.Job{}
	} else {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(w.gvr.GroupVersion().String())
		obj = u
	}
	m, _ := meta.Accessor(obj)
	m.SetResourceVersion(strconv.FormatInt(w.c.rv, 10))
	select {
	case w.ch <- watch.Event{Type: watch.Bookmark, Object: obj}:
	default:
	}
}

func (w *watcher) wants(ev event) bool {
	return ev.gvr == w.gvr && (w.ns == "" || w.ns == ev.ns) && matches(ev.obj, w.labels, w.fields)
}

// send delivers ev, or closes a watch that fell behind and reports false.
func (w *watcher) send(ev event) bool {
	select {
	case w.ch <- watch.Event{Type: ev.typ, Object: ev.obj.DeepCopyObject()}:
		return true
	default:
		w.closeLocked()
		return false
	}
}

func (w *watcher) closeLocked() {
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
}

// Stop ends the watch.
func (w *watcher) Stop() {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	w.closeLocked()
	kept := w.c.watchers[:0]
	for _, x := range w.c.watchers {
		if x != w {
			kept = append(kept, x)
		}
	}
	w.c.watchers = kept
}

// ResultChan returns the events.
func (w *watcher) ResultChan() <-chan watch.Event { return w.ch }
