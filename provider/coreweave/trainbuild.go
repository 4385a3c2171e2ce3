package coreweave

import (
	"maps"
	"slices"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tideline-ml/tideline/provider"
)

// Keys in a job's Secret: "env.NAME" for SecretEnv, "grant.INPUT" for an
// input's read grant.
func secretEnvKey(name string) string { return "env." + name }
func grantKey(input string) string    { return "grant." + input }

// outputURI is where a job writes: its spec's OutputURI, else under
// Config.OutputBase.
func (p *Provider) outputURI(spec *provider.JobSpec) string {
	if spec.OutputURI != "" {
		return spec.OutputURI
	}
	return p.outputBase + "/" + spec.Name
}

func (p *Provider) labels(spec *provider.JobSpec) map[string]string {
	return map[string]string{LabelManagedBy: ManagedBy, LabelJob: spec.Name, LabelRegion: p.region.Name}
}

// buildSecret returns the Secret holding a job's secret values, or nil
// when it has none. It is created before the job and owned by it once the
// job exists.
func (p *Provider) buildSecret(spec *provider.JobSpec, name string) *corev1.Secret {
	data := map[string][]byte{}
	for k, v := range spec.SecretEnv {
		data[secretEnvKey(k)] = []byte(v.Reveal())
	}
	for _, in := range spec.Inputs {
		if !in.Grant.IsZero() {
			data[grantKey(in.Name)] = []byte(in.Grant.URL.Reveal())
		}
	}
	if len(data) == 0 {
		return nil
	}
	immutable := true
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.namespace, Labels: p.labels(spec)},
		Type:       corev1.SecretTypeOpaque,
		Immutable:  &immutable,
		Data:       data,
	}
}

// env is the container environment: the plain Env, what Tideline tells
// every job, and the secret values by reference to the job's Secret.
func (p *Provider) env(spec *provider.JobSpec, secretName string) []corev1.EnvVar {
	var env []corev1.EnvVar
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		env = append(env, corev1.EnvVar{Name: k, Value: spec.Env[k]})
	}
	env = append(env,
		corev1.EnvVar{Name: "TIDELINE_JOB_NAME", Value: spec.Name},
		corev1.EnvVar{Name: "TIDELINE_OUTPUT_URI", Value: p.outputURI(spec)},
	)
	fromSecret := func(name, key string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secretName}, Key: key,
		}}}
	}
	for _, in := range spec.Inputs {
		v := inputVar(in.Name)
		env = append(env,
			corev1.EnvVar{Name: v + "_URI", Value: in.URI},
			corev1.EnvVar{Name: v + "_DIGEST", Value: in.Digest},
		)
		if !in.Grant.IsZero() {
			env = append(env, fromSecret(v+"_GRANT", grantKey(in.Name)))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(spec.SecretEnv)) {
		env = append(env, fromSecret(k, secretEnvKey(k)))
	}
	return env
}

// podTemplate is the pod every node of the job runs.
func (p *Provider) podTemplate(spec *provider.JobSpec, pl placement, container, secretName string) corev1.PodTemplateSpec {
	c := corev1.Container{
		Name:    container,
		Image:   spec.Image,
		Command: spec.Command,
		Args:    spec.Args,
		Env:     p.env(spec, secretName),
	}
	if pl.gpus > 0 {
		q := resource.MustParse(strconv.Itoa(pl.gpus))
		c.Resources.Limits = corev1.ResourceList{ResourceGPU: q}
		c.Resources.Requests = corev1.ResourceList{ResourceGPU: q}
	}
	no := false
	t := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: p.labels(spec)},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{c},
			// Training code has no business with the Kubernetes API.
			AutomountServiceAccountToken: &no,
		},
	}
	if aff := pl.affinity(); aff != nil {
		t.Spec.Affinity = aff
	}
	return t
}

func (pl placement) affinity() *corev1.Affinity {
	if pl.label == "" {
		return nil
	}
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: pl.label, Operator: corev1.NodeSelectorOpIn, Values: pl.values}},
		}}},
	}}
}

func deadline(spec *provider.JobSpec) *int64 {
	if spec.MaxDuration <= 0 {
		return nil
	}
	s := int64((spec.MaxDuration + 999_999_999) / 1_000_000_000)
	return &s
}

// buildJob returns the object that runs spec.
func (p *Provider) buildJob(k kind, spec *provider.JobSpec, pl placement, ann map[string]string, secretName string) (*object, error) {
	meta := metav1.ObjectMeta{Name: spec.Name, Namespace: p.namespace, Labels: p.labels(spec), Annotations: ann}
	switch k {
	case kindBatch:
		one := int32(1)
		retries := int32(spec.MaxRetries)
		j := &batchv1.Job{
			TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
			ObjectMeta: meta,
			Spec: batchv1.JobSpec{
				Parallelism:           &one,
				Completions:           &one,
				BackoffLimit:          &retries,
				ActiveDeadlineSeconds: deadline(spec),
				Template:              p.podTemplate(spec, pl, "train", secretName),
			},
		}
		return wrapBatch(j), nil
	case kindPyTorch:
		tmpl := p.podTemplate(spec, pl, "pytorch", secretName)
		tmpl.Spec.RestartPolicy = ""
		t, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&tmpl)
		if err != nil {
			return nil, provider.Errorf(provider.Internal, "coreweave: encoding the pod template of job %q: %v", spec.Name, err)
		}
		run := map[string]any{"backoffLimit": int64(spec.MaxRetries), "cleanPodPolicy": "None"}
		if d := deadline(spec); d != nil {
			run["activeDeadlineSeconds"] = *d
		}
		replicas := map[string]any{
			"Master": map[string]any{"replicas": int64(1), "restartPolicy": "OnFailure", "template": t},
		}
		if spec.Nodes > 1 {
			replicas["Worker"] = map[string]any{"replicas": int64(spec.Nodes - 1), "restartPolicy": "OnFailure", "template": runtime.DeepCopyJSON(t)}
		}
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
			"spec": map[string]any{"runPolicy": run, "pytorchReplicaSpecs": replicas},
		}}
		setMeta(u, meta)
		return wrapU(k, u), nil
	default:
		if spec.MaxRetries > 0 {
			return nil, provider.Errorf(provider.InvalidArgument, "coreweave: job %q asks for %d retries, but a TrainJob's retries are set by its training runtime %q (its JobSet failure policy), not per job; set MaxRetries to 0 or use PyTorchJobs (Config.MultiNode)", spec.Name, spec.MaxRetries, p.runtime)
		}
		env := p.env(spec, secretName)
		envU := make([]any, 0, len(env))
		for i := range env {
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&env[i])
			if err != nil {
				return nil, provider.Errorf(provider.Internal, "coreweave: encoding the environment of job %q: %v", spec.Name, err)
			}
			envU = append(envU, m)
		}
		trainer := map[string]any{"image": spec.Image, "numNodes": int64(max(spec.Nodes, 1)), "env": envU}
		if len(spec.Command) > 0 {
			trainer["command"] = toAny(spec.Command)
		}
		if len(spec.Args) > 0 {
			trainer["args"] = toAny(spec.Args)
		}
		if pl.gpus > 0 {
			n := strconv.Itoa(pl.gpus)
			trainer["resourcesPerNode"] = map[string]any{"limits": map[string]any{ResourceGPU: n}, "requests": map[string]any{ResourceGPU: n}}
		}
		s := map[string]any{
			"runtimeRef": map[string]any{"name": p.runtime},
			"trainer":    trainer,
		}
		if d := deadline(spec); d != nil {
			s["activeDeadlineSeconds"] = *d
		}
		if aff := pl.affinity(); aff != nil {
			a, err := runtime.DefaultUnstructuredConverter.ToUnstructured(aff)
			if err != nil {
				return nil, provider.Errorf(provider.Internal, "coreweave: encoding the affinity of job %q: %v", spec.Name, err)
			}
			s["runtimePatches"] = []any{map[string]any{
				"manager": "tideline-ml.github.io/coreweave",
				"trainingRuntimeSpec": map[string]any{"template": map[string]any{"spec": map[string]any{
					"replicatedJobs": []any{map[string]any{"name": "node", "template": map[string]any{"spec": map[string]any{
						"template": map[string]any{"spec": map[string]any{"affinity": a}},
					}}}},
				}}},
			}}
		}
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob", "spec": s,
		}}
		setMeta(u, meta)
		return wrapU(k, u), nil
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func setMeta(u *unstructured.Unstructured, m metav1.ObjectMeta) {
	u.SetName(m.Name)
	u.SetNamespace(m.Namespace)
	u.SetLabels(m.Labels)
	u.SetAnnotations(m.Annotations)
}
