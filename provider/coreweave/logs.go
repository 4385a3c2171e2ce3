package coreweave

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// JobLogs returns the logs of the job's pods so far, pod by pod in the
// order they were created, each under a header line naming the pod. Pods
// are found by the label their controller gives them
// (batch.kubernetes.io/job-name for a Job, training.kubeflow.org/job-name
// for a PyTorchJob, the JobSet's name for a TrainJob). A job whose pods are
// gone (canceled and deleted, or not yet started) has empty logs.
// Errors: NotFound.
func (p *Provider) JobLogs(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o, rec, err := p.find(ctx, name)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		return io.NopCloser(strings.NewReader("")), nil
	}
	pods, err := p.kube.CoreV1().Pods(p.namespace).List(ctx, metav1.ListOptions{LabelSelector: o.kind.podJobLabel() + "=" + name})
	if err != nil {
		return nil, p.apiErr(err, "list", "pods", "")
	}
	items := pods.Items
	slices.SortFunc(items, func(a, b corev1.Pod) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	var buf bytes.Buffer
	for _, pod := range items {
		for _, c := range pod.Spec.Containers {
			fmt.Fprintf(&buf, "==> pod %s container %s <==\n", pod.Name, c.Name)
			rc, err := p.kube.CoreV1().Pods(p.namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: c.Name}).Stream(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				fmt.Fprintf(&buf, "(no logs: %v)\n", p.apiErr(err, "get", "pods/log", pod.Name))
				continue
			}
			_, err = io.Copy(&buf, rc)
			rc.Close()
			if err != nil {
				return nil, p.apiErr(err, "get", "pods/log", pod.Name)
			}
			if buf.Len() > 0 && buf.Bytes()[buf.Len()-1] != '\n' {
				buf.WriteByte('\n')
			}
		}
	}
	return io.NopCloser(&buf), nil
}
