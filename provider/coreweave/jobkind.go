package coreweave

import (
	"context"
	"encoding/json"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/tideline-ml/tideline/provider"
)

// kind is the Kubernetes resource a job is held in.
type kind int

const (
	kindBatch    kind = iota // batch/v1 Job: single node
	kindPyTorch              // kubeflow.org/v1 PyTorchJob
	kindTrainJob             // trainer.kubeflow.org/v1alpha1 TrainJob
)

var (
	gvrPyTorch  = schema.GroupVersionResource{Group: "kubeflow.org", Version: "v1", Resource: "pytorchjobs"}
	gvrTrainJob = schema.GroupVersionResource{Group: "trainer.kubeflow.org", Version: "v1alpha1", Resource: "trainjobs"}
)

// resource names the kind's resource as RBAC and messages do.
func (k kind) resource() string {
	switch k {
	case kindPyTorch:
		return "pytorchjobs.kubeflow.org"
	case kindTrainJob:
		return "trainjobs.trainer.kubeflow.org"
	}
	return "jobs.batch"
}

func (k kind) apiVersionKind() (string, string) {
	switch k {
	case kindPyTorch:
		return "kubeflow.org/v1", "PyTorchJob"
	case kindTrainJob:
		return "trainer.kubeflow.org/v1alpha1", "TrainJob"
	}
	return "batch/v1", "Job"
}

// podJobLabel is the label the kind's controller puts on its pods, naming
// the job.
func (k kind) podJobLabel() string {
	switch k {
	case kindPyTorch:
		return "training.kubeflow.org/job-name"
	case kindTrainJob:
		return "jobset.sigs.k8s.io/jobset-name"
	}
	return batchv1.JobNameLabel
}

// object is a job as stored: a batch Job or a Kubeflow resource.
type object struct {
	kind  kind
	meta  metav1.Object
	batch *batchv1.Job
	u     *unstructured.Unstructured
}

func wrapBatch(j *batchv1.Job) *object { return &object{kind: kindBatch, meta: j, batch: j} }
func wrapU(k kind, u *unstructured.Unstructured) *object {
	return &object{kind: k, meta: u, u: u}
}

func (p *Provider) res(k kind) dynamic.ResourceInterface {
	if k == kindTrainJob {
		return p.dyn.Resource(gvrTrainJob).Namespace(p.namespace)
	}
	return p.dyn.Resource(gvrPyTorch).Namespace(p.namespace)
}

func (p *Provider) getObject(ctx context.Context, k kind, name string) (*object, error) {
	if k == kindBatch {
		j, err := p.kube.BatchV1().Jobs(p.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return wrapBatch(j), nil
	}
	u, err := p.res(k).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return wrapU(k, u), nil
}

func (p *Provider) listObjects(ctx context.Context, k kind) ([]*object, error) {
	opts := metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy}
	var out []*object
	if k == kindBatch {
		l, err := p.kube.BatchV1().Jobs(p.namespace).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			out = append(out, wrapBatch(&l.Items[i]))
		}
		return out, nil
	}
	l, err := p.res(k).List(ctx, opts)
	if err != nil {
		return nil, err
	}
	for i := range l.Items {
		out = append(out, wrapU(k, &l.Items[i]))
	}
	return out, nil
}

func (p *Provider) createObject(ctx context.Context, o *object) (*object, error) {
	if o.kind == kindBatch {
		j, err := p.kube.BatchV1().Jobs(p.namespace).Create(ctx, o.batch, metav1.CreateOptions{})
		if err != nil {
			return nil, err
		}
		return wrapBatch(j), nil
	}
	u, err := p.res(o.kind).Create(ctx, o.u, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return wrapU(o.kind, u), nil
}

// annotate adds annotations to a job, conditionally on its
// resourceVersion when rv is not empty.
func (p *Provider) annotate(ctx context.Context, k kind, name, rv string, ann map[string]string) (*object, error) {
	md := map[string]any{"annotations": ann}
	if rv != "" {
		md["resourceVersion"] = rv
	}
	patch, _ := json.Marshal(map[string]any{"metadata": md})
	if k == kindBatch {
		j, err := p.kube.BatchV1().Jobs(p.namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			return nil, err
		}
		return wrapBatch(j), nil
	}
	u, err := p.res(k).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return nil, err
	}
	return wrapU(k, u), nil
}

// deleteObject deletes a job; uid guards against deleting a job of the
// same name created since. Foreground propagation deletes its pods and
// Secret before it (a cancellation); background removes the job at once
// and leaves its dependents to the garbage collector (undoing a create).
func (p *Provider) deleteObject(ctx context.Context, k kind, name string, uid types.UID, policy metav1.DeletionPropagation) error {
	opts := metav1.DeleteOptions{PropagationPolicy: &policy}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	if k == kindBatch {
		return p.kube.BatchV1().Jobs(p.namespace).Delete(ctx, name, opts)
	}
	return p.res(k).Delete(ctx, name, opts)
}

// relist lists the one job by name, as a watch's re-list after 410 Gone: it
// returns the job (nil when gone) and the list's resourceVersion, current
// for the whole resource, to watch on from.
func (p *Provider) relist(ctx context.Context, k kind, name string) (*object, string, error) {
	opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()}
	if k == kindBatch {
		l, err := p.kube.BatchV1().Jobs(p.namespace).List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		for i := range l.Items {
			if l.Items[i].Name == name {
				return wrapBatch(&l.Items[i]), l.ResourceVersion, nil
			}
		}
		return nil, l.ResourceVersion, nil
	}
	l, err := p.res(k).List(ctx, opts)
	if err != nil {
		return nil, "", err
	}
	for i := range l.Items {
		if l.Items[i].GetName() == name {
			return wrapU(k, &l.Items[i]), l.GetResourceVersion(), nil
		}
	}
	return nil, l.GetResourceVersion(), nil
}

// watchObject watches one job from resourceVersion rv, with bookmarks.
func (p *Provider) watchObject(ctx context.Context, k kind, name, rv string) (watch.Interface, error) {
	opts := metav1.ListOptions{
		FieldSelector:       fields.OneTermEqualSelector("metadata.name", name).String(),
		ResourceVersion:     rv,
		AllowWatchBookmarks: true,
	}
	if k == kindBatch {
		return p.kube.BatchV1().Jobs(p.namespace).Watch(ctx, opts)
	}
	return p.res(k).Watch(ctx, opts)
}

// fromEvent turns a watch event's object into a job.
func fromEvent(k kind, obj any) (*object, bool) {
	switch o := obj.(type) {
	case *batchv1.Job:
		return wrapBatch(o), k == kindBatch
	case *unstructured.Unstructured:
		return wrapU(k, o), k != kindBatch
	}
	return nil, false
}

// servedKinds remembers which multi-node resources the cluster serves, once
// discovery has answered.
type servedKinds struct {
	known    bool
	pytorch  bool
	trainJob bool
}

// multiKinds returns the multi-node kinds the cluster serves.
func (p *Provider) multiKinds(ctx context.Context) ([]kind, error) {
	p.mu.Lock()
	s := p.served
	p.mu.Unlock()
	if !s.known {
		served := func(gv, resource string) (bool, error) {
			l, err := p.kube.Discovery().ServerResourcesForGroupVersion(gv)
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			if err != nil {
				return false, p.apiErr(err, "discover", "the resources of "+gv, "")
			}
			for _, r := range l.APIResources {
				if r.Name == resource {
					return true, nil
				}
			}
			return false, nil
		}
		var err error
		if s.pytorch, err = served("kubeflow.org/v1", "pytorchjobs"); err != nil {
			return nil, err
		}
		if s.trainJob, err = served("trainer.kubeflow.org/v1alpha1", "trainjobs"); err != nil {
			return nil, err
		}
		s.known = true
		p.mu.Lock()
		p.served = s
		p.mu.Unlock()
	}
	var out []kind
	if s.pytorch {
		out = append(out, kindPyTorch)
	}
	if s.trainJob {
		out = append(out, kindTrainJob)
	}
	return out, nil
}

// multiNodeKind picks the kind of a multi-node job. Errors:
// FailedPrecondition when the cluster serves no fitting resource.
func (p *Provider) multiNodeKind(ctx context.Context, name string) (kind, error) {
	served, err := p.multiKinds(ctx)
	if err != nil {
		return 0, err
	}
	has := func(k kind) bool {
		for _, s := range served {
			if s == k {
				return true
			}
		}
		return false
	}
	switch {
	case p.multiNode == MultiNodePyTorchJob && has(kindPyTorch), p.multiNode == "" && has(kindPyTorch):
		return kindPyTorch, nil
	case p.multiNode == MultiNodeTrainJob && has(kindTrainJob), p.multiNode == "" && has(kindTrainJob):
		return kindTrainJob, nil
	}
	want := "the Kubeflow Training Operator (PyTorchJob, kubeflow.org/v1) or Kubeflow Trainer (TrainJob, trainer.kubeflow.org/v1alpha1)"
	if p.multiNode != "" {
		want = p.multiNode
	}
	return 0, provider.Errorf(provider.FailedPrecondition, "coreweave: job %q needs more than one node, which this provider runs with %s; the cluster does not serve it: install it, or ask for one node", name, want)
}
