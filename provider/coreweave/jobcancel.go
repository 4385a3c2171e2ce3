package coreweave

import (
	"context"
	"encoding/json"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tideline-ml/tideline/provider"
)

// recordName names the ConfigMap a canceled job leaves behind.
func recordName(job string) string { return "tideline-canceled-" + job }

// recordStatus is what a cancellation record keeps of the job's status.
type recordStatus struct {
	UID      string    `json:"uid"`
	Created  time.Time `json:"created"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished"`
	Attempts int       `json:"attempts"`
}

// CancelJob cancels a job that has not ended: it writes a small record of
// the job (a ConfigMap holding its annotations, without a secret), marks
// the job canceled with an annotation, conditionally on the version it
// read, and deletes it with foreground propagation, so that its pods and
// Secret go first. The job reads Canceled from the annotation while the
// foregroundDeletion finalizer holds it, and from the record once it is
// gone; the record keeps the name taken, as any ended job does. A job that
// already ended is returned unchanged. Errors: NotFound.
func (p *Provider) CancelJob(ctx context.Context, name string) (*provider.JobInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	wrote := false
	for round := 0; ; round++ {
		o, rec, err := p.find(ctx, name)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			return recordInfo(rec)
		}
		info, err := p.info(ctx, o)
		if err != nil || info.State.Terminal() {
			if err == nil && wrote && info.State != provider.JobCanceled {
				p.dropRecord(ctx, o)
			}
			return info, err
		}
		at := p.now().UTC().Truncate(time.Second)
		if at.Before(info.Started) {
			at = info.Started
		}
		if err := p.writeRecord(ctx, o, info, at); err != nil {
			return nil, err
		}
		wrote = true
		marked, err := p.annotate(ctx, o.kind, name, o.meta.GetResourceVersion(), map[string]string{AnnotationCanceled: at.Format(time.RFC3339)})
		if apierrors.IsConflict(err) && round < 5 {
			// The job changed since it was read (it may have ended): read
			// it again and decide again.
			continue
		}
		if apierrors.IsNotFound(err) && round < 5 {
			continue
		}
		if err != nil {
			p.dropRecord(ctx, o)
			return nil, p.apiErr(err, "patch", o.kind.resource(), name)
		}
		if err := p.deleteObject(ctx, o.kind, name, o.meta.GetUID(), metav1.DeletePropagationForeground); err != nil && !apierrors.IsNotFound(err) {
			return nil, p.apiErr(err, "delete", o.kind.resource(), name)
		}
		info, err = p.infoOf(marked, "")
		if err != nil {
			return nil, err
		}
		info.Message = "canceled by request; the job and its pods are being deleted"
		return info, nil
	}
}

// writeRecord creates or replaces the cancellation record of o.
func (p *Provider) writeRecord(ctx context.Context, o *object, info *provider.JobInfo, at time.Time) error {
	st, _ := json.Marshal(recordStatus{
		UID: string(o.meta.GetUID()), Created: info.Created, Started: info.Started, Finished: at, Attempts: info.Attempts,
	})
	ann := maps.Clone(o.meta.GetAnnotations())
	ann[AnnotationCanceled] = at.Format(time.RFC3339)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: recordName(o.meta.GetName()), Namespace: p.namespace, Annotations: ann,
			Labels: map[string]string{LabelManagedBy: ManagedBy, LabelCanceled: o.meta.GetName()},
		},
		Data: map[string]string{"status": string(st)},
	}
	cms := p.kube.CoreV1().ConfigMaps(p.namespace)
	_, err := cms.Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// Left by an earlier attempt to cancel this job.
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		return p.apiErr(err, "update", "configmaps", cm.Name)
	}
	return p.apiErr(err, "create", "configmaps", cm.Name)
}

// dropRecord removes a cancellation record written for a job that ended
// by itself before the cancellation reached it.
func (p *Provider) dropRecord(ctx context.Context, o *object) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = p.kube.CoreV1().ConfigMaps(p.namespace).Delete(cctx, recordName(o.meta.GetName()), metav1.DeleteOptions{})
}

// recordInfo is the JobInfo of a canceled job that is gone.
func recordInfo(rec *corev1.ConfigMap) (*provider.JobInfo, error) {
	name := rec.Labels[LabelCanceled]
	spec, err := specOf(name, rec.Annotations)
	if err != nil {
		return nil, err
	}
	var st recordStatus
	if err := json.Unmarshal([]byte(rec.Data["status"]), &st); err != nil {
		return nil, provider.Errorf(provider.DataLoss, "coreweave: the cancellation record of job %q (ConfigMap %q) does not parse: %v", name, rec.Name, err)
	}
	return &provider.JobInfo{
		Spec:     spec,
		State:    provider.JobCanceled,
		Message:  "canceled by request; the job was deleted with its pods",
		Attempts: st.Attempts,
		Created:  st.Created,
		Started:  st.Started,
		Finished: st.Finished,
		Revision: rec.ResourceVersion,
	}, nil
}
