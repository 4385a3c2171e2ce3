package coreweave

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tideline-ml/tideline/provider"
)

var (
	_ provider.Trainer    = (*Provider)(nil)
	_ provider.JobWatcher = (*Provider)(nil)
	_ provider.JobLogger  = (*Provider)(nil)
)

// SubmitJob creates the job: a batch/v1 Job for one node, a PyTorchJob or
// TrainJob for more. Its secret values go into a Secret of their own,
// created first and owned by the job once it exists, so that it goes with
// the job; the container reads them through secretKeyRef.
//
// The name is the idempotency key. When the job exists, SubmitJob returns
// it with AlreadyExists, whatever its spec (the spec-hash annotation
// tells whether it is this spec; the message says which). A create whose
// response was lost is recognised by the submission id it carries.
// Errors: InvalidArgument for a bad spec, a region other than the
// cluster's or a GPU request the region cannot meet (naming what it
// offers) before anything is created; FailedPrecondition for a multi-node
// job on a cluster without Kubeflow; PermissionDenied naming the missing
// permission. After an error other than AlreadyExists nothing is left.
func (p *Provider) SubmitJob(ctx context.Context, spec *provider.JobSpec) (*provider.JobInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.validateSpec(spec); err != nil {
		return nil, err
	}
	pl, err := p.placeGPUs(spec)
	if err != nil {
		return nil, err
	}
	k := kindBatch
	if spec.Nodes > 1 {
		if k, err = p.multiNodeKind(ctx, spec.Name); err != nil {
			return nil, err
		}
	}
	submission := randomID()
	ann, hash, err := p.jobAnnotations(spec, submission, p.now())
	if err != nil {
		return nil, err
	}
	secretName := spec.Name + "-" + submission[:10]
	sec := p.buildSecret(spec, secretName)
	if sec != nil {
		ann[AnnotationSecret] = secretName
	}
	obj, err := p.buildJob(k, spec, pl, ann, secretName)
	if err != nil {
		return nil, err
	}
	// A failure removes the Secret, on a context that outlives the
	// caller's.
	cleanup := func() {
		if sec == nil {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = p.kube.CoreV1().Secrets(p.namespace).Delete(cctx, secretName, metav1.DeleteOptions{})
	}
	if sec != nil {
		if _, err := p.kube.CoreV1().Secrets(p.namespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			if !definite(err) {
				// The response was lost: the Secret may exist, owned by
				// nothing. Its name is this submission's alone.
				cleanup()
			}
			return nil, p.apiErr(err, "create", "secrets", secretName)
		}
	}
	created, err := p.createObject(ctx, obj)
	if err != nil && !apierrors.IsAlreadyExists(err) {
		if definite(err) {
			cleanup()
			return nil, p.apiErr(err, "create", k.resource(), spec.Name)
		}
		// The response was lost: the job may exist. Its submission id
		// says whether it is ours.
		found, gerr := p.readBack(ctx, k, spec.Name)
		switch {
		case gerr == nil && found.meta.GetAnnotations()[AnnotationSubmission] == submission:
			created, err = found, nil
		case gerr == nil:
			err = apierrors.NewAlreadyExists(schemaGR(k), spec.Name)
		case apierrors.IsNotFound(gerr):
			cleanup()
			return nil, p.apiErr(err, "create", k.resource(), spec.Name)
		default:
			cleanup()
			return nil, provider.Errorf(provider.Unavailable, "coreweave: creating %s %q in namespace %q: the response was lost and reading the job back failed too (%v), so whether it was created is unknown; its Secret was removed, so if it exists it cannot start: cancel it and submit again: %w", k.resource(), spec.Name, p.namespace, gerr, err)
		}
	}
	if apierrors.IsAlreadyExists(err) {
		cleanup()
		return p.existing(ctx, spec.Name, hash)
	}
	// The name may be taken by a canceled job, whose record outlives it, or
	// by a job of another kind: then the job just created goes again.
	if taken, terr := p.takenElsewhere(ctx, k, spec.Name); terr != nil || taken {
		p.undo(ctx, created)
		cleanup()
		if terr != nil {
			return nil, terr
		}
		return p.existing(ctx, spec.Name, hash)
	}
	if sec != nil {
		if err := p.own(ctx, secretName, created); err != nil {
			p.undo(ctx, created)
			cleanup()
			return nil, err
		}
	}
	return p.infoOf(created, "")
}

// existing returns the job named name with AlreadyExists, saying whether
// its spec hash is hash.
func (p *Provider) existing(ctx context.Context, name, hash string) (*provider.JobInfo, error) {
	o, rec, err := p.find(ctx, name)
	if err != nil {
		return nil, err
	}
	var info *provider.JobInfo
	var ann map[string]string
	if rec != nil {
		info, err = recordInfo(rec)
		ann = rec.Annotations
	} else {
		info, err = p.info(ctx, o)
		ann = o.meta.GetAnnotations()
	}
	if err != nil {
		return nil, err
	}
	same := "another spec"
	if ann[AnnotationSpecHash] == hash {
		same = "the same spec"
	}
	return info, provider.Errorf(provider.AlreadyExists, "coreweave: job %q already exists in namespace %q (state %s, %s); job names are unique, so compare its spec or choose another name", name, p.namespace, info.State, same)
}

// definite reports whether a failed create certainly created nothing: the
// API server answered with a refusal.
func definite(err error) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return false
	}
	code := st.Status().Code
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests
}

// readBack reads a job after a lost response, trying a few times.
func (p *Provider) readBack(ctx context.Context, k kind, name string) (*object, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var err error
	for i := range 4 {
		var o *object
		if o, err = p.getObject(rctx, k, name); err == nil || apierrors.IsNotFound(err) {
			return o, err
		}
		select {
		case <-rctx.Done():
			return nil, err
		case <-time.After(time.Duration(100<<i) * time.Millisecond):
		}
	}
	return nil, err
}

// takenElsewhere reports whether name is held by a canceled job's record or
// by a job of another kind.
func (p *Provider) takenElsewhere(ctx context.Context, k kind, name string) (bool, error) {
	if _, err := p.kube.CoreV1().ConfigMaps(p.namespace).Get(ctx, recordName(name), metav1.GetOptions{}); err == nil {
		return true, nil
	} else if !apierrors.IsNotFound(err) {
		return false, p.apiErr(err, "get", "configmaps", recordName(name))
	}
	others, err := p.multiKinds(ctx)
	if err != nil {
		return false, err
	}
	for _, o := range append(others, kindBatch) {
		if o == k {
			continue
		}
		if _, err := p.getObject(ctx, o, name); err == nil {
			return true, nil
		} else if !apierrors.IsNotFound(err) {
			return false, p.apiErr(err, "get", o.resource(), name)
		}
	}
	return false, nil
}

// undo deletes a job this call created.
func (p *Provider) undo(ctx context.Context, o *object) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = p.deleteObject(cctx, o.kind, o.meta.GetName(), o.meta.GetUID(), metav1.DeletePropagationBackground)
}

// own makes the job the owner of its Secret, so that the garbage collector
// deletes the Secret with the job.
func (p *Provider) own(ctx context.Context, secretName string, o *object) error {
	apiVersion, kindName := o.kind.apiVersionKind()
	patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":%q,"kind":%q,"name":%q,"uid":%q}]}}`,
		apiVersion, kindName, o.meta.GetName(), o.meta.GetUID())
	_, err := p.kube.CoreV1().Secrets(p.namespace).Patch(ctx, secretName, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return p.apiErr(err, "patch", "secrets", secretName)
}

func randomID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("coreweave: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// GetJob returns a job's current state, from its object, or from the
// record a canceled job leaves once it is deleted. Errors: NotFound.
func (p *Provider) GetJob(ctx context.Context, name string) (*provider.JobInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o, rec, err := p.find(ctx, name)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		return recordInfo(rec)
	}
	return p.info(ctx, o)
}

// find returns a job's object, or its cancellation record.
func (p *Provider) find(ctx context.Context, name string) (*object, *corev1.ConfigMap, error) {
	if err := provider.ValidateName("job name", name); err != nil {
		return nil, nil, provider.Errorf(provider.NotFound, "coreweave: no job %q: %v", name, err)
	}
	o, err := p.getObject(ctx, kindBatch, name)
	if err == nil {
		return o, nil, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, nil, p.apiErr(err, "get", kindBatch.resource(), name)
	}
	others, err := p.multiKinds(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range others {
		o, err := p.getObject(ctx, k, name)
		if err == nil {
			return o, nil, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, nil, p.apiErr(err, "get", k.resource(), name)
		}
	}
	rec, err := p.kube.CoreV1().ConfigMaps(p.namespace).Get(ctx, recordName(name), metav1.GetOptions{})
	if err == nil {
		return nil, rec, nil
	}
	if apierrors.IsNotFound(err) {
		return nil, nil, provider.Errorf(provider.NotFound, "coreweave: no job %q in namespace %q", name, p.namespace)
	}
	return nil, nil, p.apiErr(err, "get", "configmaps", recordName(name))
}

// info is infoOf with the last failed run read from the job's pods when
// the job failed.
func (p *Provider) info(ctx context.Context, o *object) (*provider.JobInfo, error) {
	info, err := p.infoOf(o, "")
	if err != nil || info.State != provider.JobFailed {
		return info, err
	}
	pods, err := p.kube.CoreV1().Pods(p.namespace).List(ctx, metav1.ListOptions{LabelSelector: o.kind.podJobLabel() + "=" + o.meta.GetName()})
	if err != nil {
		info.Message += "; the message of its last run is in its pods, which could not be read: " + p.apiErr(err, "list", "pods", "").Error()
		return info, nil
	}
	if last := lastFailedRun(pods.Items); last != "" {
		info.Message += "; last run: " + last
	}
	return info, nil
}

// ListJobs returns every job the provider created in the namespace,
// canceled ones included, ordered by creation time (the API server's
// creationTimestamp, then the submission time to the nanosecond, then the
// name).
func (p *Provider) ListJobs(ctx context.Context) ([]*provider.JobInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	kinds, err := p.multiKinds(ctx)
	if err != nil {
		return nil, err
	}
	type entry struct {
		info *provider.JobInfo
		sub  time.Time
	}
	var out []entry
	live := map[string]bool{}
	var failed []*object
	var infos = map[*object]*provider.JobInfo{}
	for _, k := range append([]kind{kindBatch}, kinds...) {
		objs, err := p.listObjects(ctx, k)
		if err != nil {
			return nil, p.apiErr(err, "list", k.resource(), "")
		}
		for _, o := range objs {
			info, err := p.infoOf(o, "")
			if err != nil {
				return nil, err
			}
			live[o.meta.GetName()] = true
			infos[o] = info
			if info.State == provider.JobFailed {
				failed = append(failed, o)
			}
			out = append(out, entry{info, submitted(o.meta.GetAnnotations())})
		}
	}
	if len(failed) > 0 {
		pods, err := p.kube.CoreV1().Pods(p.namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy})
		if err == nil {
			for _, o := range failed {
				var mine []corev1.Pod
				for _, pod := range pods.Items {
					if pod.Labels[o.kind.podJobLabel()] == o.meta.GetName() {
						mine = append(mine, pod)
					}
				}
				if last := lastFailedRun(mine); last != "" {
					infos[o].Message += "; last run: " + last
				}
			}
		}
	}
	recs, err := p.kube.CoreV1().ConfigMaps(p.namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelCanceled})
	if err != nil {
		return nil, p.apiErr(err, "list", "configmaps", "")
	}
	for i := range recs.Items {
		rec := &recs.Items[i]
		if live[rec.Labels[LabelCanceled]] {
			continue
		}
		info, err := recordInfo(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, entry{info, submitted(rec.Annotations)})
	}
	slices.SortFunc(out, func(a, b entry) int {
		return cmp.Or(a.info.Created.Compare(b.info.Created), a.sub.Compare(b.sub), cmp.Compare(a.info.Spec.Name, b.info.Spec.Name))
	})
	list := make([]*provider.JobInfo, len(out))
	for i, e := range out {
		list[i] = e.info
	}
	return list, nil
}

func submitted(ann map[string]string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, ann[AnnotationCreated])
	return t
}

func schemaGR(k kind) schema.GroupResource {
	switch k {
	case kindPyTorch:
		return gvrPyTorch.GroupResource()
	case kindTrainJob:
		return gvrTrainJob.GroupResource()
	}
	return schema.GroupResource{Group: "batch", Resource: "jobs"}
}
