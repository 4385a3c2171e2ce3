package coreweave

// Serving with KServe.
//
// An endpoint is one object in the namespace, named after the endpoint and
// labelled LabelEndpoint:
//
//   - without deployments, a ConfigMap: KServe's InferenceService needs a
//     predictor, and an empty endpoint has none;
//   - with deployments, an InferenceService (serving.kserve.io/v1beta1). The
//     first CreateDeployment creates it, carrying the ConfigMap's metadata
//     over, and then deletes the ConfigMap; deleting the last deployment
//     (possible only before traffic was ever assigned) goes the other way.
//
// While both exist (during those steps) the InferenceService is the
// endpoint. Both kinds carry the same annotations: AnnotationMetadata (the
// endpoint's metadata as JSON), AnnotationCreated, AnnotationUpdate (a
// counter every UpdateEndpoint raises, so that every update changes the
// resourceVersion) and, on the InferenceService, AnnotationDeployments: the
// deployments as JSON, in two slots.
//
// The slots follow KServe's canary. "latest" is the deployment whose
// predictor is in spec.predictor, the newest revision; "previous" is the
// one before it, which KServe keeps serving as the last revision rolled out
// (Knative mode only). canaryTrafficPercent gives the latest its share and
// the previous the rest. When the latest receives all traffic KServe rolls
// it out and no longer routes to the previous one: that deployment is kept,
// marked retired, until DeleteDeployment removes it. A split that gives it
// traffic again writes its predictor back into spec.predictor (a new
// revision, with its share as canaryTrafficPercent), and the latest, which
// KServe keeps as rolled out, becomes the previous: the slots swap, so
// every split over two deployments can be expressed, and a rollback after a
// promotion works.
//
// The endpoint's ETag is the object's resourceVersion: it also changes when
// KServe's controller writes status. UpdateEndpoint with IfMatch writes with
// that resourceVersion, so the API server refuses a stale one (Conflict).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/client-go/dynamic"

	"github.com/tideline-ml/tideline/provider"
)

var _ provider.Serving = (*Provider)(nil)

// The resources the provider serves with.
var (
	InferenceServiceResource = schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1beta1", Resource: "inferenceservices"}
	configMapResource        = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// Labels and annotations the provider writes on the objects of an endpoint.
const (
	annotationPrefix = "tideline-ml.github.io/"
	// LabelEndpoint marks an endpoint's object; its value is "true".
	LabelEndpoint = annotationPrefix + "endpoint"
	// AnnotationMetadata holds the endpoint's metadata as a JSON object.
	AnnotationMetadata = annotationPrefix + "endpoint-metadata"
	// AnnotationUpdate counts the endpoint's updates.
	AnnotationUpdate = annotationPrefix + "update"
	// AnnotationDeployments holds the deployments, as JSON in the form of
	// Slots.
	AnnotationDeployments = annotationPrefix + "deployments"
	// AnnotationDeployment, on the predictor (and so on its pods and
	// revision), names the deployment it serves. It also makes two
	// deployments of the same model two distinct revisions.
	AnnotationDeployment = annotationPrefix + "deployment"

	// annotationMode is KServe's deployment-mode annotation.
	annotationMode = "serving.kserve.io/deploymentMode"
	// labelInstanceType selects CoreWeave nodes by instance type.
	labelInstanceType = "node.kubernetes.io/instance-type"
	// updateRounds bounds the read-modify-write rounds of one call that
	// meets Conflict without IfMatch (a controller writing status, another
	// writer).
	updateRounds = 8
)

// Slots is the JSON form of AnnotationDeployments.
type Slots struct {
	// Previous is the deployment KServe keeps as the last revision rolled
	// out while Latest is a canary (Knative mode).
	Previous *SlotDeployment `json:"previous,omitempty"`
	// Latest is the deployment in spec.predictor.
	Latest *SlotDeployment `json:"latest,omitempty"`
	// TrafficSet is true once UpdateEndpoint assigned traffic. Before, the
	// endpoint reports no traffic, as the contract has it, although KServe
	// routes requests to the only (or the previous) revision.
	TrafficSet bool `json:"trafficSet,omitempty"`
}

// SlotDeployment is one deployment in Slots.
type SlotDeployment struct {
	Name         string            `json:"name"`
	Model        string            `json:"model"`
	ModelVersion string            `json:"modelVersion"`
	ArtifactURI  string            `json:"artifactURI"`
	InstanceType string            `json:"instanceType,omitempty"`
	Instances    int               `json:"instances,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	Created      time.Time         `json:"created"`
	// Generation is the InferenceService's metadata.generation once its
	// predictor was written: the deployment is ready when KServe has
	// observed that generation and reports the predictor ready.
	Generation int64 `json:"generation"`
	// Predictor is the spec.predictor the provider wrote for it (without
	// canaryTrafficPercent), kept so that the previous deployment's
	// predictor can be written back: when the latest is deleted, or a
	// retired deployment is given traffic again.
	Predictor map[string]any `json:"predictor"`
	// Retired marks a previous deployment KServe no longer routes to: the
	// latest received all traffic and was rolled out.
	Retired bool `json:"retired,omitempty"`
}

// endpointObject is an endpoint as read from the cluster.
type endpointObject struct {
	obj     *unstructured.Unstructured
	isvc    bool // an InferenceService; a ConfigMap otherwise
	slots   Slots
	meta    map[string]string
	created time.Time
}

func (p *Provider) isvcs() resourceClient {
	return p.dyn.Resource(InferenceServiceResource).Namespace(p.namespace)
}
func (p *Provider) configMaps() resourceClient {
	return p.dyn.Resource(configMapResource).Namespace(p.namespace)
}

func ours(obj *unstructured.Unstructured) bool { return obj.GetLabels()[LabelEndpoint] == "true" }

// decodeEndpoint reads the provider's annotations. A Tideline object whose
// annotations do not parse is DataLoss: guessing would change traffic.
func decodeEndpoint(obj *unstructured.Unstructured, isvc bool) (*endpointObject, error) {
	ep := &endpointObject{obj: obj, isvc: isvc, meta: map[string]string{}}
	ann := obj.GetAnnotations()
	kind := "ConfigMap"
	if isvc {
		kind = "InferenceService"
	}
	bad := func(key string, err error) error {
		return provider.Errorf(provider.DataLoss, "coreweave: %s %q: annotation %s does not parse (%v); it was changed outside Tideline, restore it or delete the endpoint", kind, obj.GetName(), key, err)
	}
	if s := ann[AnnotationMetadata]; s != "" {
		if err := json.Unmarshal([]byte(s), &ep.meta); err != nil {
			return nil, bad(AnnotationMetadata, err)
		}
	}
	ep.created = obj.GetCreationTimestamp().Time
	if s := ann[AnnotationCreated]; s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, bad(AnnotationCreated, err)
		}
		ep.created = t
	}
	if isvc {
		if err := json.Unmarshal([]byte(ann[AnnotationDeployments]), &ep.slots); err != nil {
			return nil, bad(AnnotationDeployments, err)
		}
		if ep.slots.Latest == nil {
			return nil, bad(AnnotationDeployments, errors.New("no latest deployment"))
		}
		for _, d := range ep.deployments() {
			var err error
			if d.Predictor, err = normalizeNumbers(d.Predictor); err != nil {
				return nil, bad(AnnotationDeployments, err)
			}
		}
	}
	return ep, nil
}

// getEndpoint reads an endpoint: its InferenceService if there is one,
// else its ConfigMap.
func (p *Provider) getEndpoint(ctx context.Context, name string) (*endpointObject, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	obj, err := p.isvcs().Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil && ours(obj):
		return decodeEndpoint(obj, true)
	case err != nil && !apierrors.IsNotFound(err):
		return nil, mapErr(err, fmt.Sprintf("reading InferenceService %q", name))
	case err != nil && missingKind(err):
		return nil, kserveMissing(err)
	}
	obj, err = p.configMaps().Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil && ours(obj):
		return decodeEndpoint(obj, false)
	case err != nil && !apierrors.IsNotFound(err):
		return nil, mapErr(err, fmt.Sprintf("reading ConfigMap %q", name))
	}
	// Neither was there when read; but a first deployment creates the
	// InferenceService before it deletes the ConfigMap, so one that landed
	// between the two reads shows in a second read of the former.
	obj, err = p.isvcs().Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil && ours(obj):
		return decodeEndpoint(obj, true)
	case err != nil && !apierrors.IsNotFound(err):
		return nil, mapErr(err, fmt.Sprintf("reading InferenceService %q", name))
	}
	return nil, provider.Errorf(provider.NotFound, "coreweave: endpoint %q does not exist in namespace %q; create it with CreateEndpoint first", name, p.namespace)
}

// missingKind reports whether a NotFound is about the resource type rather
// than an object: the InferenceService CRD is not installed.
func missingKind(err error) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return false
	}
	d := st.Status().Details
	return d == nil || d.Name == ""
}

func kserveMissing(err error) error {
	return provider.Errorf(provider.FailedPrecondition, "coreweave: the cluster does not serve %s; install KServe (its InferenceService CRD) or use a cluster that has it: %w", InferenceServiceResource.GroupResource(), err)
}

// info returns the endpoint as the contract describes it.
func (p *Provider) endpointInfo(ep *endpointObject) *provider.EndpointInfo {
	info := &provider.EndpointInfo{
		Name:     ep.obj.GetName(),
		Region:   p.region.Name,
		URI:      fmt.Sprintf("http://%s.%s.svc.cluster.local", ep.obj.GetName(), p.namespace),
		Traffic:  map[string]int{},
		Mirror:   map[string]int{},
		Metadata: maps.Clone(ep.meta),
		Created:  ep.created,
		ETag:     ep.obj.GetResourceVersion(),
	}
	if ep.isvc {
		if u, _, _ := unstructured.NestedString(ep.obj.Object, "status", "url"); u != "" {
			info.URI = u
		}
		maps.Copy(info.Traffic, ep.traffic())
	}
	return info
}

// canary returns spec.predictor.canaryTrafficPercent and whether it is set.
func (ep *endpointObject) canary() (int, bool) {
	v, ok, _ := unstructured.NestedFieldNoCopy(ep.obj.Object, "spec", "predictor", "canaryTrafficPercent")
	if !ok {
		return 0, false
	}
	switch n := v.(type) {
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	case int:
		return n, true
	}
	return 0, false
}

// activePrevious returns the previous deployment when KServe still routes
// to it: not retired, with canaryTrafficPercent set.
func (ep *endpointObject) activePrevious() *SlotDeployment {
	prev := ep.slots.Previous
	if prev == nil || prev.Retired {
		return nil
	}
	if _, ok := ep.canary(); !ok {
		return nil
	}
	return prev
}

// traffic is the live split, without zero shares.
func (ep *endpointObject) traffic() map[string]int {
	out := map[string]int{}
	if !ep.isvc || !ep.slots.TrafficSet {
		return out
	}
	latest := ep.slots.Latest
	if prev := ep.activePrevious(); prev != nil {
		c, _ := ep.canary()
		if c < 100 {
			out[prev.Name] = 100 - c
		}
		if c > 0 {
			out[latest.Name] = c
		}
		return out
	}
	out[latest.Name] = 100
	return out
}

// deployments returns the endpoint's deployments, previous first.
func (ep *endpointObject) deployments() []*SlotDeployment {
	var out []*SlotDeployment
	if ep.slots.Previous != nil {
		out = append(out, ep.slots.Previous)
	}
	if ep.slots.Latest != nil {
		out = append(out, ep.slots.Latest)
	}
	return out
}

func (ep *endpointObject) deployment(name string) *SlotDeployment {
	for _, d := range ep.deployments() {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func (ep *endpointObject) deploymentNames() string {
	var names []string
	for _, d := range ep.deployments() {
		names = append(names, d.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// setAnnotations writes the endpoint's annotations on obj.
func setEndpointAnnotations(obj *unstructured.Unstructured, meta map[string]string, created time.Time, slots *Slots) error {
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	if meta == nil {
		meta = map[string]string{}
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	ann[AnnotationMetadata] = string(b)
	ann[AnnotationCreated] = created.UTC().Format(time.RFC3339Nano)
	if slots != nil {
		b, err := json.Marshal(slots)
		if err != nil {
			return err
		}
		ann[AnnotationDeployments] = string(b)
	}
	obj.SetAnnotations(ann)
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelEndpoint] = "true"
	labels["app.kubernetes.io/managed-by"] = "tideline"
	obj.SetLabels(labels)
	return nil
}

func bumpUpdate(obj *unstructured.Unstructured) {
	ann := obj.GetAnnotations()
	n, _ := strconv.ParseUint(ann[AnnotationUpdate], 10, 64)
	ann[AnnotationUpdate] = strconv.FormatUint(n+1, 10)
	obj.SetAnnotations(ann)
}

// CreateEndpoint creates an endpoint with no deployments: a ConfigMap that
// holds its metadata until the first deployment. Errors: AlreadyExists when
// an endpoint, or any InferenceService or ConfigMap, of that name exists;
// InvalidArgument for a bad name, region or metadata; FailedPrecondition
// when the cluster has no InferenceService CRD.
func (p *Provider) CreateEndpoint(ctx context.Context, spec *provider.EndpointSpec) (*provider.EndpointInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if spec == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "coreweave: CreateEndpoint needs a spec; got nil")
	}
	if err := provider.ValidateName("endpoint name", spec.Name); err != nil {
		return nil, err
	}
	if err := p.checkRegion("endpoint "+strconv.Quote(spec.Name), spec.Region); err != nil {
		return nil, err
	}
	if err := provider.ValidateMetadata("endpoint metadata", spec.Metadata); err != nil {
		return nil, err
	}
	// An InferenceService of that name is an endpoint with deployments, or
	// someone else's; either way the name is taken.
	switch _, err := p.isvcs().Get(ctx, spec.Name, metav1.GetOptions{}); {
	case err == nil:
		return nil, provider.Errorf(provider.AlreadyExists, "coreweave: endpoint %q already exists (an InferenceService of that name is in namespace %q); choose another name", spec.Name, p.namespace)
	case apierrors.IsNotFound(err) && missingKind(err):
		return nil, kserveMissing(err)
	case !apierrors.IsNotFound(err):
		return nil, mapErr(err, fmt.Sprintf("reading InferenceService %q", spec.Name))
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}
	cm.SetName(spec.Name)
	cm.SetNamespace(p.namespace)
	if err := setEndpointAnnotations(cm, spec.Metadata, p.now(), nil); err != nil {
		return nil, provider.Errorf(provider.Internal, "coreweave: encoding endpoint %q: %v", spec.Name, err)
	}
	created, err := p.configMaps().Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil, provider.Errorf(provider.AlreadyExists, "coreweave: endpoint %q already exists (a ConfigMap of that name is in namespace %q); choose another name", spec.Name, p.namespace)
	}
	if err != nil {
		return nil, mapErr(err, fmt.Sprintf("creating ConfigMap %q", spec.Name))
	}
	ep, err := decodeEndpoint(created, false)
	if err != nil {
		return nil, err
	}
	return p.endpointInfo(ep), nil
}

// GetEndpoint returns an endpoint. Errors: NotFound.
func (p *Provider) GetEndpoint(ctx context.Context, name string) (*provider.EndpointInfo, error) {
	ep, err := p.getEndpoint(ctx, name)
	if err != nil {
		return nil, err
	}
	return p.endpointInfo(ep), nil
}

// ListEndpoints returns every endpoint ordered by name: the labelled
// InferenceServices and ConfigMaps of the namespace, an InferenceService
// standing for a ConfigMap of the same name.
func (p *Provider) ListEndpoints(ctx context.Context) ([]*provider.EndpointInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sel := metav1.ListOptions{LabelSelector: LabelEndpoint + "=true"}
	// ConfigMaps first: the first deployment creates the InferenceService
	// before it deletes the ConfigMap, so an endpoint changing form between
	// the two lists is in one of them.
	cms, err := p.configMaps().List(ctx, sel)
	if err != nil {
		return nil, mapErr(err, "listing ConfigMaps")
	}
	isvcs, err := p.isvcs().List(ctx, sel)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, kserveMissing(err)
		}
		return nil, mapErr(err, "listing InferenceServices")
	}
	byName := map[string]*provider.EndpointInfo{}
	for i := range cms.Items {
		ep, err := decodeEndpoint(&cms.Items[i], false)
		if err != nil {
			return nil, err
		}
		byName[ep.obj.GetName()] = p.endpointInfo(ep)
	}
	for i := range isvcs.Items {
		ep, err := decodeEndpoint(&isvcs.Items[i], true)
		if err != nil {
			return nil, err
		}
		byName[ep.obj.GetName()] = p.endpointInfo(ep)
	}
	out := make([]*provider.EndpointInfo, 0, len(byName))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		out = append(out, byName[name])
	}
	return out, nil
}

// DeleteEndpoint deletes the endpoint's objects; the InferenceService with
// foreground propagation, so that it is listed until KServe and the garbage
// collector have removed what serves it. Errors: NotFound.
func (p *Provider) DeleteEndpoint(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := p.getEndpoint(ctx, name); err != nil {
		return err
	}
	fg := metav1.DeletePropagationForeground
	found := false
	err := p.isvcs().Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg})
	switch {
	case err == nil:
		found = true
	case !apierrors.IsNotFound(err):
		return mapErr(err, fmt.Sprintf("deleting InferenceService %q", name))
	}
	err = p.configMaps().Delete(ctx, name, metav1.DeleteOptions{})
	switch {
	case err == nil:
		found = true
	case !apierrors.IsNotFound(err):
		return mapErr(err, fmt.Sprintf("deleting ConfigMap %q", name))
	}
	if !found {
		return provider.Errorf(provider.NotFound, "coreweave: endpoint %q does not exist in namespace %q", name, p.namespace)
	}
	return nil
}

// validDeploymentSpec checks what CreateDeployment needs before it reads
// the cluster, and returns the predictor for the spec.
func (p *Provider) predictorFor(spec *provider.DeploymentSpec) (map[string]any, error) {
	if spec == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "coreweave: CreateDeployment needs a spec; got nil")
	}
	if err := provider.ValidateName("deployment name", spec.Name); err != nil {
		return nil, err
	}
	if err := provider.ValidateName("deployment model name", spec.Model); err != nil {
		return nil, err
	}
	if err := provider.ValidateModelVersion("deployment model version", spec.ModelVersion); err != nil {
		return nil, err
	}
	if spec.Instances < 0 {
		return nil, provider.Errorf(provider.InvalidArgument, "coreweave: deployment %q asks for %d instances; the count cannot be negative", spec.Name, spec.Instances)
	}
	if err := provider.ValidateMetadata("deployment metadata", spec.Metadata); err != nil {
		return nil, err
	}
	if strings.TrimSpace(spec.ArtifactURI) == "" {
		return nil, provider.Errorf(provider.InvalidArgument, "coreweave: deployment %q has no artifact URI; KServe loads the model from it (model.storageUri)", spec.Name)
	}
	format := spec.Metadata[MetaModelFormat]
	if format == "" {
		format = p.serving.ModelFormat
	}
	if format == "" {
		return nil, provider.Errorf(provider.InvalidArgument, "coreweave: deployment %q names no model format; set the deployment's metadata %q (such as \"sklearn\" or \"huggingface\") or Config.Serving.ModelFormat", spec.Name, MetaModelFormat)
	}
	model := map[string]any{
		"modelFormat": map[string]any{"name": format},
		"storageUri":  spec.ArtifactURI,
	}
	if p.serving.Runtime != "" {
		model["runtime"] = p.serving.Runtime
	}
	if g := p.serving.GPUs; g > 0 {
		n := strconv.Itoa(g)
		model["resources"] = map[string]any{
			"limits":   map[string]any{"nvidia.com/gpu": n},
			"requests": map[string]any{"nvidia.com/gpu": n},
		}
	}
	pred := map[string]any{
		"model":       model,
		"annotations": map[string]any{AnnotationDeployment: spec.Name},
	}
	if spec.InstanceType != "" {
		pred["nodeSelector"] = map[string]any{labelInstanceType: spec.InstanceType}
	}
	if spec.Instances > 0 {
		pred["minReplicas"] = int64(spec.Instances)
		pred["maxReplicas"] = int64(spec.Instances)
	}
	return pred, nil
}

// CreateDeployment adds a deployment with no traffic. On an endpoint
// without deployments it creates the InferenceService; in Knative mode, on
// an endpoint with one deployment, it makes the new one the latest revision
// with canaryTrafficPercent 0, so the other keeps all traffic.
//
// The predictor loads ArtifactURI (model.storageUri) in the model format of
// the deployment's metadata MetaModelFormat or Config.Serving.ModelFormat,
// with Config.Serving's runtime and GPUs; InstanceType selects nodes by
// their node.kubernetes.io/instance-type label, and Instances sets
// minReplicas and maxReplicas (0 leaves KServe's defaults).
//
// KServe routes requests to an InferenceService's only revision whatever
// the contract's split says: an endpoint's first deployment answers at the
// endpoint's address once ready, although the endpoint reports no traffic
// until UpdateEndpoint gives it some. Errors:
// NotFound; AlreadyExists; FailedPrecondition when the endpoint holds
// ServingCapabilities().MaxDeployments deployments; InvalidArgument for a
// bad spec.
func (p *Provider) CreateDeployment(ctx context.Context, spec *provider.DeploymentSpec) (*provider.DeploymentInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pred, err := p.predictorFor(spec)
	if err != nil {
		return nil, err
	}
	d := &SlotDeployment{
		Name: spec.Name, Model: spec.Model, ModelVersion: spec.ModelVersion, ArtifactURI: spec.ArtifactURI,
		InstanceType: spec.InstanceType, Instances: spec.Instances, Metadata: maps.Clone(spec.Metadata),
		Created: p.now().UTC(), Predictor: pred,
	}
	for round := 1; ; round++ {
		ep, err := p.getEndpoint(ctx, spec.Endpoint)
		if err != nil {
			return nil, err
		}
		var out *unstructured.Unstructured
		if ep.isvc {
			out, err = p.addDeployment(ctx, ep, d)
		} else {
			out, err = p.firstDeployment(ctx, ep, d)
		}
		if retry(err) && round < updateRounds {
			continue
		}
		if err = unwrapRetry(err); err != nil {
			return nil, err
		}
		got, err := decodeEndpoint(out, true)
		if err != nil {
			return nil, err
		}
		return deploymentInfo(got, got.deployment(spec.Name)), nil
	}
}

// errRetry is returned by one round of a read-modify-write that met a
// concurrent change it can redo.
type errRetry struct{ err error }

func (e *errRetry) Error() string { return e.err.Error() }
func (e *errRetry) Unwrap() error { return e.err }

func retry(err error) bool {
	var r *errRetry
	return errors.As(err, &r)
}

// unwrapRetry turns a retry that ran out of rounds into its error.
func unwrapRetry(err error) error {
	var r *errRetry
	if errors.As(err, &r) {
		return r.err
	}
	return err
}

// firstDeployment turns the endpoint's ConfigMap into its InferenceService.
func (p *Provider) firstDeployment(ctx context.Context, ep *endpointObject, d *SlotDeployment) (*unstructured.Unstructured, error) {
	name := ep.obj.GetName()
	d.Generation = 1
	slots := &Slots{Latest: d}
	isvc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": InferenceServiceResource.GroupVersion().String(),
		"kind":       "InferenceService",
		"spec":       map[string]any{"predictor": deepCopyMap(d.Predictor)},
	}}
	isvc.SetName(name)
	isvc.SetNamespace(p.namespace)
	isvc.SetAnnotations(map[string]string{annotationMode: string(p.serving.mode())})
	if err := setEndpointAnnotations(isvc, ep.meta, ep.created, slots); err != nil {
		return nil, provider.Errorf(provider.Internal, "coreweave: encoding endpoint %q: %v", name, err)
	}
	created, err := p.isvcs().Create(ctx, isvc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		if cur, gerr := p.isvcs().Get(ctx, name, metav1.GetOptions{}); gerr == nil && !ours(cur) {
			return nil, provider.Errorf(provider.FailedPrecondition, "coreweave: endpoint %q cannot get its first deployment: an InferenceService %q that Tideline did not create is in namespace %q; delete or rename it, or use another endpoint", name, name, p.namespace)
		}
		// Another CreateDeployment got there first: read it again.
		return nil, &errRetry{provider.Errorf(provider.Conflict, "coreweave: endpoint %q kept changing while deployment %q was added; try again", name, d.Name)}
	}
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, kserveMissing(err)
		}
		return nil, mapErr(err, fmt.Sprintf("creating InferenceService %q", name))
	}
	return p.retireConfigMap(ctx, created, ep)
}

// retireConfigMap deletes the endpoint's ConfigMap once its InferenceService
// exists, carrying over metadata that changed since it was read.
func (p *Provider) retireConfigMap(ctx context.Context, isvc *unstructured.Unstructured, cm *endpointObject) (*unstructured.Unstructured, error) {
	name := isvc.GetName()
	for round := 1; ; round++ {
		rv := cm.obj.GetResourceVersion()
		err := p.configMaps().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
		if err == nil || apierrors.IsNotFound(err) {
			return isvc, nil
		}
		if !apierrors.IsConflict(err) || round == updateRounds {
			// The InferenceService stands for the endpoint; the ConfigMap
			// left behind is ignored by readers and removed by
			// DeleteEndpoint.
			return isvc, nil
		}
		// Someone updated the empty endpoint's metadata meanwhile.
		obj, err := p.configMaps().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return isvc, nil
		}
		if err != nil {
			return isvc, nil
		}
		if cm, err = decodeEndpoint(obj, false); err != nil {
			return isvc, nil
		}
		cur, err := decodeEndpoint(isvc, true)
		if err != nil {
			return nil, err
		}
		upd := isvc.DeepCopy()
		if err := setEndpointAnnotations(upd, cm.meta, cur.created, &cur.slots); err != nil {
			return nil, provider.Errorf(provider.Internal, "coreweave: encoding endpoint %q: %v", name, err)
		}
		if got, err := p.isvcs().Update(ctx, upd, metav1.UpdateOptions{}); err == nil {
			isvc = got
		}
	}
}

// addDeployment adds d to an endpoint that has an InferenceService.
func (p *Provider) addDeployment(ctx context.Context, ep *endpointObject, d *SlotDeployment) (*unstructured.Unstructured, error) {
	name := ep.obj.GetName()
	if ep.obj.GetDeletionTimestamp() != nil {
		return nil, p.deletingErr(ctx, ep)
	}
	if ep.deployment(d.Name) != nil {
		return nil, provider.Errorf(provider.AlreadyExists, "coreweave: endpoint %q already has a deployment %q; choose another name", name, d.Name)
	}
	limit := p.ServingCapabilities().MaxDeployments
	if have := len(ep.deployments()); have >= limit {
		why := "in Standard deployment mode KServe runs one predictor per InferenceService and cannot split traffic (set Config.Serving.Mode to Knative for a canary)"
		if limit == 2 {
			why = "a KServe InferenceService splits traffic between two revisions at most, the newest and the last one rolled out"
			if prev := ep.slots.Previous; prev != nil && prev.Retired {
				why += fmt.Sprintf("; %q receives no traffic since %q was rolled out", prev.Name, ep.slots.Latest.Name)
			}
		}
		return nil, provider.Errorf(provider.FailedPrecondition, "coreweave: endpoint %q already holds %d deployments (%s): %s; delete one without traffic first",
			name, have, ep.deploymentNames(), why)
	}
	// Knative mode with one deployment: the new one becomes the canary.
	slots := ep.slots
	prev := *slots.Latest
	prev.Retired = false
	slots.Previous = &prev
	d.Generation = ep.obj.GetGeneration() + 1
	slots.Latest = d
	upd := ep.obj.DeepCopy()
	pred := deepCopyMap(d.Predictor)
	pred["canaryTrafficPercent"] = int64(0)
	if err := unstructured.SetNestedMap(upd.Object, pred, "spec", "predictor"); err != nil {
		return nil, provider.Errorf(provider.Internal, "coreweave: writing the predictor of %q: %v", name, err)
	}
	if err := setEndpointAnnotations(upd, ep.meta, ep.created, &slots); err != nil {
		return nil, provider.Errorf(provider.Internal, "coreweave: encoding endpoint %q: %v", name, err)
	}
	return p.write(ctx, upd, fmt.Sprintf("adding deployment %q to InferenceService %q", d.Name, name))
}

// write updates an InferenceService with the resourceVersion it carries; a
// Conflict becomes errRetry.
func (p *Provider) write(ctx context.Context, obj *unstructured.Unstructured, what string) (*unstructured.Unstructured, error) {
	out, err := p.isvcs().Update(ctx, obj, metav1.UpdateOptions{})
	if err != nil {
		err = mapErr(err, what)
		if provider.CodeOf(err) == provider.Conflict || provider.CodeOf(err) == provider.NotFound {
			return nil, &errRetry{err}
		}
		return nil, err
	}
	return out, nil
}

func (p *Provider) deletingErr(ctx context.Context, ep *endpointObject) error {
	name := ep.obj.GetName()
	if _, err := p.configMaps().Get(ctx, name, metav1.GetOptions{}); err == nil {
		return provider.Errorf(provider.Unavailable, "coreweave: endpoint %q is removing its last deployment (InferenceService %q is being deleted); try again shortly", name, name)
	}
	return provider.Errorf(provider.FailedPrecondition, "coreweave: endpoint %q is being deleted", name)
}

// GetDeployment returns a deployment. Errors: NotFound.
func (p *Provider) GetDeployment(ctx context.Context, endpoint, name string) (*provider.DeploymentInfo, error) {
	ep, err := p.getEndpoint(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	d := ep.deployment(name)
	if d == nil {
		return nil, provider.Errorf(provider.NotFound, "coreweave: endpoint %q has no deployment %q (its deployments: %s)", endpoint, name, ep.deploymentNames())
	}
	return deploymentInfo(ep, d), nil
}

// ListDeployments returns an endpoint's deployments ordered by name.
// Errors: NotFound if the endpoint does not exist.
func (p *Provider) ListDeployments(ctx context.Context, endpoint string) ([]*provider.DeploymentInfo, error) {
	ep, err := p.getEndpoint(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	out := []*provider.DeploymentInfo{}
	for _, d := range ep.deployments() {
		out = append(out, deploymentInfo(ep, d))
	}
	slices.SortFunc(out, func(a, b *provider.DeploymentInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteDeployment deletes a deployment that receives no traffic. Deleting
// the latest puts the previous deployment's predictor back (a new revision
// with all traffic); deleting a previous one KServe still routes to (before
// any traffic was assigned) rolls the latest out; deleting a retired one
// only forgets it; deleting the only one turns the endpoint back into its
// ConfigMap. Errors: NotFound; FailedPrecondition when it receives traffic
// or the endpoint is being deleted; Unavailable while the endpoint's last
// deployment is still being removed.
func (p *Provider) DeleteDeployment(ctx context.Context, endpoint, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for round := 1; ; round++ {
		ep, err := p.getEndpoint(ctx, endpoint)
		if err != nil {
			return err
		}
		err = p.deleteDeployment(ctx, ep, name)
		if retry(err) && round < updateRounds {
			continue
		}
		return unwrapRetry(err)
	}
}

func (p *Provider) deleteDeployment(ctx context.Context, ep *endpointObject, name string) error {
	endpoint := ep.obj.GetName()
	d := ep.deployment(name)
	if d == nil {
		return provider.Errorf(provider.NotFound, "coreweave: endpoint %q has no deployment %q (its deployments: %s)", endpoint, name, ep.deploymentNames())
	}
	if share := ep.traffic()[name]; share > 0 {
		return provider.Errorf(provider.FailedPrecondition, "coreweave: deployment %q of endpoint %q receives %d%% of the traffic; move it to the other deployment with UpdateEndpoint first", name, endpoint, share)
	}
	if ep.obj.GetDeletionTimestamp() != nil {
		return p.deletingErr(ctx, ep)
	}
	what := fmt.Sprintf("deleting deployment %q from InferenceService %q", name, endpoint)
	upd := ep.obj.DeepCopy()
	slots := ep.slots
	switch {
	case d == ep.slots.Previous && d.Retired:
		// KServe no longer routes to it: forget it.
		slots.Previous = nil
	case d == ep.slots.Previous:
		// Traffic was never assigned, yet KServe routes to the previous
		// revision: roll the latest out.
		unstructured.RemoveNestedField(upd.Object, "spec", "predictor", "canaryTrafficPercent")
		slots.Previous = nil
	case ep.slots.Previous != nil:
		// The latest goes; the previous deployment's predictor comes back
		// as a new revision with all traffic.
		back := *ep.slots.Previous
		back.Retired = false
		back.Generation = ep.obj.GetGeneration() + 1
		if err := unstructured.SetNestedMap(upd.Object, deepCopyMap(back.Predictor), "spec", "predictor"); err != nil {
			return provider.Errorf(provider.Internal, "coreweave: writing the predictor of %q: %v", endpoint, err)
		}
		slots.Previous, slots.Latest = nil, &back
	default:
		return p.lastDeployment(ctx, ep)
	}
	if err := setEndpointAnnotations(upd, ep.meta, ep.created, &slots); err != nil {
		return provider.Errorf(provider.Internal, "coreweave: encoding endpoint %q: %v", endpoint, err)
	}
	_, err := p.write(ctx, upd, what)
	return err
}

// lastDeployment turns an endpoint whose only deployment has no traffic
// back into a ConfigMap: the ConfigMap first, then the InferenceService is
// deleted on the condition that it did not change; if that fails the
// ConfigMap goes again.
func (p *Provider) lastDeployment(ctx context.Context, ep *endpointObject) error {
	name := ep.obj.GetName()
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}
	cm.SetName(name)
	cm.SetNamespace(p.namespace)
	if err := setEndpointAnnotations(cm, ep.meta, ep.created, nil); err != nil {
		return provider.Errorf(provider.Internal, "coreweave: encoding endpoint %q: %v", name, err)
	}
	made, err := p.configMaps().Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// Left from an earlier step: bring it up to date.
		cur, gerr := p.configMaps().Get(ctx, name, metav1.GetOptions{})
		if gerr != nil {
			return mapErr(gerr, fmt.Sprintf("reading ConfigMap %q", name))
		}
		cm.SetResourceVersion(cur.GetResourceVersion())
		made, err = p.configMaps().Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		return mapErr(err, fmt.Sprintf("writing ConfigMap %q", name))
	}
	rv, uid := ep.obj.GetResourceVersion(), ep.obj.GetUID()
	fg := metav1.DeletePropagationForeground
	pre := &metav1.Preconditions{ResourceVersion: &rv}
	if uid != "" {
		pre.UID = &uid
	}
	err = p.isvcs().Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg, Preconditions: pre})
	if err == nil {
		return nil
	}
	mcv := made.GetResourceVersion()
	// Best effort: the InferenceService, still there, stands for the
	// endpoint whatever happens to the ConfigMap.
	_ = p.configMaps().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &mcv}})
	err = mapErr(err, fmt.Sprintf("deleting InferenceService %q", name))
	if c := provider.CodeOf(err); c == provider.Conflict || c == provider.NotFound {
		return &errRetry{err}
	}
	return err
}

// UpdateEndpoint replaces the traffic split and merges metadata in one
// update of the endpoint's object. A split over the latest and the
// previous deployment becomes canaryTrafficPercent (the latest's share);
// all traffic to the latest rolls it out and retires the previous one. A
// share for a retired deployment puts its predictor back as the newest
// revision, with that share as the canary, against the latest, which KServe
// keeps as rolled out: so a rollback after a promotion works, and the
// deployment is Creating until KServe reports the new revision ready (KServe
// routes to the rolled-out revision meanwhile). Errors: NotFound; Conflict
// when IfMatch is stale; InvalidArgument for a share naming an unknown
// deployment, a negative share, shares not summing to 100 (0 without
// deployments), any mirror share above zero (KServe cannot mirror), or bad
// metadata.
func (p *Provider) UpdateEndpoint(ctx context.Context, upd *provider.EndpointUpdate) (*provider.EndpointInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if upd == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "coreweave: UpdateEndpoint needs an update; got nil")
	}
	if err := provider.ValidateMetadata("endpoint metadata", upd.Metadata); err != nil {
		return nil, err
	}
	for round := 1; ; round++ {
		ep, err := p.getEndpoint(ctx, upd.Endpoint)
		if err != nil {
			return nil, err
		}
		info, err := p.updateEndpoint(ctx, ep, upd)
		if retry(err) && upd.IfMatch == "" && round < updateRounds {
			continue
		}
		if err = unwrapRetry(err); err != nil {
			return nil, err
		}
		return info, nil
	}
}

func (p *Provider) updateEndpoint(ctx context.Context, ep *endpointObject, upd *provider.EndpointUpdate) (*provider.EndpointInfo, error) {
	name := ep.obj.GetName()
	if ep.obj.GetDeletionTimestamp() != nil {
		return nil, p.deletingErr(ctx, ep)
	}
	if upd.IfMatch != "" && upd.IfMatch != ep.obj.GetResourceVersion() {
		return nil, provider.Errorf(provider.Conflict, "coreweave: endpoint %q changed since it was read (ETag %q, now %q); read it again and recompute the change", name, upd.IfMatch, ep.obj.GetResourceVersion())
	}
	if err := checkMirror(ep, upd.Mirror); err != nil {
		return nil, err
	}
	obj := ep.obj.DeepCopy()
	slots := ep.slots
	if upd.Traffic != nil {
		if err := p.applyTraffic(ep, obj, &slots, upd.Traffic); err != nil {
			return nil, err
		}
	}
	md := maps.Clone(ep.meta)
	for k, v := range upd.Metadata {
		if v == "" {
			delete(md, k)
		} else {
			md[k] = v
		}
	}
	if err := provider.ValidateMetadata("endpoint metadata after the merge", md); err != nil {
		return nil, err
	}
	var sp *Slots
	if ep.isvc {
		sp = &slots
	}
	if err := setEndpointAnnotations(obj, md, ep.created, sp); err != nil {
		return nil, provider.Errorf(provider.Internal, "coreweave: encoding endpoint %q: %v", name, err)
	}
	bumpUpdate(obj)
	if upd.IfMatch != "" {
		obj.SetResourceVersion(upd.IfMatch)
	}
	var out *unstructured.Unstructured
	var err error
	if ep.isvc {
		out, err = p.write(ctx, obj, fmt.Sprintf("updating InferenceService %q", name))
	} else {
		out, err = p.configMaps().Update(ctx, obj, metav1.UpdateOptions{})
		if err != nil {
			err = mapErr(err, fmt.Sprintf("updating ConfigMap %q", name))
			if c := provider.CodeOf(err); c == provider.NotFound || c == provider.Conflict {
				// The first deployment may have replaced the ConfigMap.
				err = &errRetry{err}
			}
		}
	}
	if err != nil {
		if upd.IfMatch != "" && provider.CodeOf(unwrapRetry(err)) == provider.Conflict {
			return nil, provider.Errorf(provider.Conflict, "coreweave: endpoint %q changed since it was read (ETag %q); read it again and recompute the change: %w", name, upd.IfMatch, unwrapRetry(err))
		}
		return nil, err
	}
	got, err := decodeEndpoint(out, ep.isvc)
	if err != nil {
		return nil, err
	}
	return p.endpointInfo(got), nil
}

// checkMirror accepts only an empty mirror: KServe cannot mirror.
func checkMirror(ep *endpointObject, mirror map[string]int) error {
	for _, k := range slices.Sorted(maps.Keys(mirror)) {
		v := mirror[k]
		if ep.deployment(k) == nil {
			return provider.Errorf(provider.InvalidArgument, "coreweave: mirror share names deployment %q, which endpoint %q does not have (its deployments: %s)", k, ep.obj.GetName(), ep.deploymentNames())
		}
		if v < 0 || v > 50 {
			return provider.Errorf(provider.InvalidArgument, "coreweave: mirror share of deployment %q is %d; shares are whole percentages from 0 to 50", k, v)
		}
		if v > 0 {
			return provider.Errorf(provider.InvalidArgument, "coreweave: mirror share of deployment %q: KServe cannot mirror traffic (ServingCapabilities.Mirror is false); leave Mirror empty", k)
		}
	}
	return nil
}

// applyTraffic checks a split and writes it into obj and slots.
func (p *Provider) applyTraffic(ep *endpointObject, obj *unstructured.Unstructured, slots *Slots, traffic map[string]int) error {
	name := ep.obj.GetName()
	sum := 0
	for _, k := range slices.Sorted(maps.Keys(traffic)) {
		v := traffic[k]
		if ep.deployment(k) == nil {
			return provider.Errorf(provider.InvalidArgument, "coreweave: traffic share names deployment %q, which endpoint %q does not have (its deployments: %s)", k, name, ep.deploymentNames())
		}
		if v < 0 || v > 100 {
			return provider.Errorf(provider.InvalidArgument, "coreweave: traffic share of deployment %q on endpoint %q is %d; shares are whole percentages from 0 to 100", k, name, v)
		}
		sum += v
	}
	if !ep.isvc {
		if sum != 0 {
			return provider.Errorf(provider.InvalidArgument, "coreweave: endpoint %q has no deployments, so its traffic split must be empty; got shares summing to %d", name, sum)
		}
		return nil
	}
	if sum != 100 {
		return provider.Errorf(provider.InvalidArgument, "coreweave: traffic shares of endpoint %q sum to %d; they must sum to 100", name, sum)
	}
	latest := ep.slots.Latest
	c := traffic[latest.Name]
	prev := ep.slots.Previous
	if prev != nil && traffic[prev.Name] > 0 && ep.activePrevious() == nil {
		// KServe no longer routes to prev: the latest was rolled out. Serve
		// prev's predictor again as the newest revision, with its share as
		// the canary; the latest becomes the revision KServe keeps.
		share := traffic[prev.Name]
		back := *prev
		back.Retired = false
		back.Generation = ep.obj.GetGeneration() + 1
		kept := *latest
		kept.Retired = share == 100
		pred := deepCopyMap(back.Predictor)
		if share < 100 {
			pred["canaryTrafficPercent"] = int64(share)
		}
		if err := unstructured.SetNestedMap(obj.Object, pred, "spec", "predictor"); err != nil {
			return provider.Errorf(provider.Internal, "coreweave: writing the predictor of %q: %v", name, err)
		}
		slots.Latest, slots.Previous, slots.TrafficSet = &back, &kept, true
		return nil
	}
	slots.TrafficSet = true
	if prev == nil || ep.activePrevious() == nil {
		return nil // all to the latest, which is the only one routed to
	}
	if c == 100 {
		// Promote: KServe rolls the latest out and forgets the previous.
		unstructured.RemoveNestedField(obj.Object, "spec", "predictor", "canaryTrafficPercent")
		retired := *prev
		retired.Retired = true
		slots.Previous = &retired
		return nil
	}
	return unstructured.SetNestedField(obj.Object, int64(c), "spec", "predictor", "canaryTrafficPercent")
}

// deploymentInfo returns a deployment with its state.
func deploymentInfo(ep *endpointObject, d *SlotDeployment) *provider.DeploymentInfo {
	info := &provider.DeploymentInfo{
		DeploymentSpec: provider.DeploymentSpec{
			Endpoint: ep.obj.GetName(), Name: d.Name, Model: d.Model, ModelVersion: d.ModelVersion,
			ArtifactURI: d.ArtifactURI, InstanceType: d.InstanceType, Instances: d.Instances, Metadata: maps.Clone(d.Metadata),
		},
		Created: d.Created,
	}
	if info.Metadata == nil {
		info.Metadata = map[string]string{}
	}
	info.State, info.Message = deploymentState(ep, d)
	return info
}

// deploymentState reads a deployment's state from the InferenceService's
// status, as KServe's controller writes it.
//
// The latest deployment is Ready once the controller has observed the
// generation that wrote its predictor (status.observedGeneration), the
// PredictorReady condition (or Ready, when absent) is True and, where
// there are revisions, the latest ready revision is the latest created
// one. It is Failed when, at that generation, modelStatus.transitionStatus
// is BlockedByFailedLoad or InvalidSpec. A previous deployment still
// routed to is Ready once KServe reports a rolled-out revision other than
// the latest one (or, before the controller saw the latest predictor, any
// rolled-out revision). A retired one keeps the state Ready with a message
// saying it receives no traffic.
func deploymentState(ep *endpointObject, d *SlotDeployment) (provider.DeploymentState, string) {
	st := ep.obj.Object
	str := func(path ...string) string {
		s, _, _ := unstructured.NestedString(st, path...)
		return s
	}
	observed, _, _ := unstructured.NestedInt64(st, "status", "observedGeneration")
	latestCreated := str("status", "components", "predictor", "latestCreatedRevision")
	latestReady := str("status", "components", "predictor", "latestReadyRevision")
	rolledOut := str("status", "components", "predictor", "latestRolledoutRevision")
	if d == ep.slots.Previous {
		if d.Retired {
			return provider.DeploymentReady, fmt.Sprintf("receives no traffic since %q was rolled out; traffic given to it again serves its predictor as a new revision", ep.slots.Latest.Name)
		}
		if rolledOut != "" && (observed < ep.slots.Latest.Generation || rolledOut != latestCreated) {
			return provider.DeploymentReady, ""
		}
		return provider.DeploymentCreating, "waiting for KServe to report its revision rolled out"
	}
	if observed < d.Generation {
		return provider.DeploymentCreating, fmt.Sprintf("waiting for KServe to observe generation %d (observed %d)", d.Generation, observed)
	}
	if ts := str("status", "modelStatus", "transitionStatus"); ts == "BlockedByFailedLoad" || ts == "InvalidSpec" {
		msg := ts
		if r := str("status", "modelStatus", "lastFailureInfo", "reason"); r != "" {
			msg += ": " + r
		}
		if m := str("status", "modelStatus", "lastFailureInfo", "message"); m != "" {
			msg += ": " + m
		}
		return provider.DeploymentFailed, msg
	}
	cond, msg := condition(st, "PredictorReady")
	if cond == "" {
		cond, msg = condition(st, "Ready")
	}
	if cond != "True" {
		if msg == "" {
			msg = "waiting for the predictor to be ready"
		}
		return provider.DeploymentCreating, msg
	}
	if latestCreated != "" && latestReady != latestCreated {
		return provider.DeploymentCreating, fmt.Sprintf("revision %s is not ready yet (latest ready: %q)", latestCreated, latestReady)
	}
	return provider.DeploymentReady, ""
}

// condition returns the status and message of a status condition.
func condition(obj map[string]any, typ string) (string, string) {
	conds, _, _ := unstructured.NestedSlice(obj, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != typ {
			continue
		}
		s, _ := m["status"].(string)
		msg, _ := m["message"].(string)
		return s, msg
	}
	return "", ""
}

func deepCopyMap(m map[string]any) map[string]any { return runtime.DeepCopyJSON(m) }

// resourceClient is what the provider calls on one resource.
type resourceClient = dynamic.ResourceInterface

// normalizeNumbers gives a predictor decoded from JSON the int64 numbers
// unstructured objects hold.
func normalizeNumbers(m map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := utiljson.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}
