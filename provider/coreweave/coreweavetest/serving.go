package coreweavetest

// ServingCluster stands in for the API server behind a dynamic client for
// the serving code, and SetDeploymentReady and SetDeploymentFailed write an
// InferenceService's status the way KServe's controller does, which is what
// a conformance harness needs to play that controller.

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
)

// Revision returns the name this package gives the predictor revision an
// InferenceService's generation produced, in Knative's numbering
// (<name>-predictor-00001).
func Revision(endpoint string, generation int64) string {
	return fmt.Sprintf("%s-predictor-%05d", endpoint, generation)
}

// SetDeploymentReady writes the status of the endpoint's InferenceService
// as KServe's controller does once the deployment's predictor is ready:
// for the latest deployment, observedGeneration, the Ready and
// PredictorReady conditions, the latest created and ready revision (and,
// without a canary, the latest rolled-out one), the traffic targets and the
// URL; for a previous deployment KServe still routes to, its revision as
// the last one rolled out. In Standard mode there are no revisions and no
// traffic targets. The write goes through the status subresource. Errors:
// NotFound when there is no such endpoint or deployment.
func SetDeploymentReady(ctx context.Context, dyn dynamic.Interface, namespace, endpoint, name string) error {
	return writeStatus(ctx, dyn, namespace, endpoint, name, func(obj *unstructured.Unstructured, slots *coreweave.Slots, status map[string]any) error {
		latest, prev := slots.Latest, slots.Previous
		knative := obj.GetAnnotations()["serving.kserve.io/deploymentMode"] == string(coreweave.DeploymentModeKnative)
		pred := mapAt(status, "components", "predictor")
		canary, hasCanary, _ := unstructured.NestedInt64(obj.Object, "spec", "predictor", "canaryTrafficPercent")
		activePrev := prev != nil && !prev.Retired && hasCanary
		switch {
		case name == latest.Name:
			status["observedGeneration"] = obj.GetGeneration()
			setCondition(status, "PredictorReady", "True", "")
			setCondition(status, "Ready", "True", "")
			status["modelStatus"] = map[string]any{
				"transitionStatus": "UpToDate",
				"states":           map[string]any{"activeModelState": "Loaded", "targetModelState": "Loaded"},
			}
			if knative {
				pred["latestCreatedRevision"] = Revision(endpoint, latest.Generation)
				pred["latestReadyRevision"] = Revision(endpoint, latest.Generation)
				if !activePrev {
					pred["latestRolledoutRevision"] = Revision(endpoint, latest.Generation)
				}
			}
		case prev != nil && name == prev.Name:
			if !knative {
				return provider.Errorf(provider.FailedPrecondition, "coreweavetest: deployment %q of %q is a previous revision, which Standard mode does not have", name, endpoint)
			}
			if !prev.Retired {
				pred["latestRolledoutRevision"] = Revision(endpoint, prev.Generation)
				pred["latestCreatedRevision"] = Revision(endpoint, latest.Generation)
				status["observedGeneration"] = obj.GetGeneration()
			}
		}
		if knative {
			var traffic []any
			if activePrev {
				traffic = append(traffic, map[string]any{"revisionName": Revision(endpoint, prev.Generation), "percent": 100 - canary, "tag": "prev", "latestRevision": false})
				traffic = append(traffic, map[string]any{"revisionName": Revision(endpoint, latest.Generation), "percent": canary, "tag": "latest", "latestRevision": true})
			} else {
				traffic = append(traffic, map[string]any{"revisionName": Revision(endpoint, latest.Generation), "percent": int64(100), "latestRevision": true})
			}
			pred["traffic"] = traffic
		}
		url := fmt.Sprintf("http://%s.%s.example.com", endpoint, namespace)
		status["url"] = url
		pred["url"] = url
		return nil
	})
}

// SetDeploymentFailed writes the status KServe's controller writes when
// the latest deployment's model fails to load: at the current generation,
// modelStatus.transitionStatus BlockedByFailedLoad with reason
// ModelLoadFailed and message, and PredictorReady and Ready False. Errors:
// NotFound; FailedPrecondition for a deployment that is not the latest.
func SetDeploymentFailed(ctx context.Context, dyn dynamic.Interface, namespace, endpoint, name, message string) error {
	return writeStatus(ctx, dyn, namespace, endpoint, name, func(obj *unstructured.Unstructured, slots *coreweave.Slots, status map[string]any) error {
		if slots.Latest.Name != name {
			return provider.Errorf(provider.FailedPrecondition, "coreweavetest: only the latest deployment of %q (%q) can fail to load; %q already served", endpoint, slots.Latest.Name, name)
		}
		status["observedGeneration"] = obj.GetGeneration()
		setCondition(status, "PredictorReady", "False", message)
		setCondition(status, "Ready", "False", message)
		status["modelStatus"] = map[string]any{
			"transitionStatus": "BlockedByFailedLoad",
			"states":           map[string]any{"activeModelState": "FailedToLoad", "targetModelState": "FailedToLoad"},
			"lastFailureInfo":  map[string]any{"reason": "ModelLoadFailed", "message": message},
		}
		return nil
	})
}

func writeStatus(ctx context.Context, dyn dynamic.Interface, namespace, endpoint, name string, change func(*unstructured.Unstructured, *coreweave.Slots, map[string]any) error) error {
	client := dyn.Resource(coreweave.InferenceServiceResource).Namespace(namespace)
	for round := 0; ; round++ {
		obj, err := client.Get(ctx, endpoint, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return provider.Errorf(provider.NotFound, "coreweavetest: endpoint %q has no InferenceService, so no deployment %q: %v", endpoint, name, err)
		}
		if err != nil {
			return err
		}
		var slots coreweave.Slots
		if err := json.Unmarshal([]byte(obj.GetAnnotations()[coreweave.AnnotationDeployments]), &slots); err != nil || slots.Latest == nil {
			return fmt.Errorf("coreweavetest: InferenceService %q has no readable %s annotation: %v", endpoint, coreweave.AnnotationDeployments, err)
		}
		if slots.Latest.Name != name && (slots.Previous == nil || slots.Previous.Name != name) {
			return provider.Errorf(provider.NotFound, "coreweavetest: endpoint %q has no deployment %q", endpoint, name)
		}
		status, _, _ := unstructured.NestedMap(obj.Object, "status")
		if status == nil {
			status = map[string]any{}
		}
		if err := change(obj, &slots, status); err != nil {
			return err
		}
		obj.Object["status"] = status
		_, err = client.UpdateStatus(ctx, obj, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) && round < 8 {
			continue
		}
		return err
	}
}

// mapAt returns the map at path in m, making it where missing.
func mapAt(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	return m
}

// setCondition sets one status condition, keeping the others.
func setCondition(status map[string]any, typ, value, message string) {
	conds, _ := status["conditions"].([]any)
	c := map[string]any{"type": typ, "status": value, "lastTransitionTime": metav1.Now().UTC().Format("2006-01-02T15:04:05Z")}
	if message != "" {
		c["message"] = message
	}
	for i, old := range conds {
		if m, ok := old.(map[string]any); ok && m["type"] == typ {
			conds[i] = c
			status["conditions"] = conds
			return
		}
	}
	status["conditions"] = append(conds, c)
}

// SettleInferenceServices plays the garbage collector for the
// InferenceServices of namespace: one deleted with foreground propagation
// stays, held by the foregroundDeletion finalizer, until its dependents are
// gone; KServe's controller made it none here, so the finalizer is removed
// and the API server deletes it.
func SettleInferenceServices(ctx context.Context, dyn dynamic.Interface, namespace string) error {
	client := dyn.Resource(coreweave.InferenceServiceResource).Namespace(namespace)
	list, err := client.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range list.Items {
		obj := &list.Items[i]
		if obj.GetDeletionTimestamp() == nil {
			continue
		}
		for round := 0; ; round++ {
			obj.SetFinalizers(without(obj.GetFinalizers(), metav1.FinalizerDeleteDependents))
			_, err := client.Update(ctx, obj, metav1.UpdateOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if apierrors.IsConflict(err) && round < 8 {
				if obj, err = client.Get(ctx, obj.GetName(), metav1.GetOptions{}); apierrors.IsNotFound(err) {
					break
				} else if err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			break
		}
	}
	return nil
}
