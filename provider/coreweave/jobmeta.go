package coreweave

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
	"github.com/tideline-ml/tideline/secret"
)

// Labels and annotations on what the provider creates. The spec annotation
// holds everything of a JobSpec but its secret values, so JobInfo.Spec is
// read back from the cluster alone, by any process.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "tideline"
	LabelJob       = "tideline-ml.github.io/job"
	// LabelRegion carries the region the job was placed in, for residency
	// audits with a label selector.
	LabelRegion = "tideline-ml.github.io/region"
	// LabelCanceled marks the record a canceled job leaves behind.
	LabelCanceled = "tideline-ml.github.io/canceled-job"

	AnnotationSpec       = "tideline-ml.github.io/spec"
	AnnotationSpecHash   = "tideline-ml.github.io/spec-hash"
	AnnotationSubmission = "tideline-ml.github.io/submission"
	AnnotationCreated    = "tideline-ml.github.io/created"
	AnnotationSecret     = "tideline-ml.github.io/secret"
	// AnnotationJurisdictions lists the jurisdictions of the job's region
	// ("EU,EEA,EUDB").
	AnnotationJurisdictions = "tideline-ml.github.io/jurisdictions"
	// AnnotationCanceled holds when CancelJob canceled the job.
	AnnotationCanceled = "tideline-ml.github.io/canceled"
	// AnnotationOutputURI, when a job or its operator writes it, says where
	// the outputs went; it overrides the spec's OutputURI.
	AnnotationOutputURI = "tideline-ml.github.io/output-uri"
	// MetadataPrefix prefixes each JobSpec.Metadata key in the annotations;
	// the value is stored verbatim.
	MetadataPrefix = "metadata.tideline-ml.github.io/"
)

// maxAnnotations is the API server's limit on the total size of an object's
// annotation keys and values.
const maxAnnotations = 256 << 10

// specRecord is the stored form of a JobSpec: no secret values, only the
// names of SecretEnv and whether an input has a grant. Metadata is stored
// key by key (MetadataPrefix).
type specRecord struct {
	V           int               `json:"v"`
	Region      string            `json:"region,omitempty"`
	Image       string            `json:"image"`
	Command     []string          `json:"command,omitempty"`
	Args        []string          `json:"args,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	SecretEnv   []string          `json:"secretEnv,omitempty"`
	GPUType     string            `json:"gpuType,omitempty"`
	GPUs        int               `json:"gpus,omitempty"`
	Nodes       int               `json:"nodes,omitempty"`
	Inputs      []inputRecord     `json:"inputs,omitempty"`
	OutputURI   string            `json:"outputURI,omitempty"`
	MaxDuration time.Duration     `json:"maxDuration,omitempty"`
	MaxRetries  int               `json:"maxRetries,omitempty"`
}

type inputRecord struct {
	Name         string    `json:"name"`
	URI          string    `json:"uri,omitempty"`
	Digest       string    `json:"digest,omitempty"`
	Dataset      string    `json:"dataset,omitempty"`
	Version      string    `json:"version,omitempty"`
	Grant        bool      `json:"grant,omitempty"`
	GrantExpires time.Time `json:"grantExpires,omitzero"`
}

func recordOf(s *provider.JobSpec) specRecord {
	r := specRecord{
		V: 1, Region: s.Region, Image: s.Image, Command: s.Command, Args: s.Args, Env: s.Env,
		SecretEnv: slices.Sorted(maps.Keys(s.SecretEnv)),
		GPUType:   s.GPUType, GPUs: s.GPUs, Nodes: s.Nodes, OutputURI: s.OutputURI,
		MaxDuration: s.MaxDuration, MaxRetries: s.MaxRetries,
	}
	for _, in := range s.Inputs {
		r.Inputs = append(r.Inputs, inputRecord{
			Name: in.Name, URI: in.URI, Digest: in.Digest, Dataset: in.Dataset, Version: in.Version,
			Grant: !in.Grant.IsZero(), GrantExpires: in.Grant.Expires,
		})
	}
	return r
}

// specOf rebuilds a JobSpec from the annotations of the object that holds
// it. SecretEnv and grants come back as names with empty values.
func specOf(name string, ann map[string]string) (provider.JobSpec, error) {
	var r specRecord
	if err := json.Unmarshal([]byte(ann[AnnotationSpec]), &r); err != nil || r.V != 1 {
		return provider.JobSpec{Name: name}, provider.Errorf(provider.DataLoss, "coreweave: job %q has no readable %s annotation (%v); it was not created by this provider or was edited", name, AnnotationSpec, err)
	}
	s := provider.JobSpec{
		Name: name, Region: r.Region, Image: r.Image, Command: r.Command, Args: r.Args, Env: r.Env,
		GPUType: r.GPUType, GPUs: r.GPUs, Nodes: r.Nodes, OutputURI: r.OutputURI,
		MaxDuration: r.MaxDuration, MaxRetries: r.MaxRetries,
	}
	if len(r.SecretEnv) > 0 {
		s.SecretEnv = make(map[string]secret.Secret, len(r.SecretEnv))
		for _, k := range r.SecretEnv {
			s.SecretEnv[k] = secret.Secret{}
		}
	}
	for _, in := range r.Inputs {
		ji := provider.JobInput{Name: in.Name, URI: in.URI, Digest: in.Digest, Dataset: in.Dataset, Version: in.Version}
		if in.Grant {
			ji.Grant.Expires = in.GrantExpires
		}
		s.Inputs = append(s.Inputs, ji)
	}
	for k, v := range ann {
		if key, ok := strings.CutPrefix(k, MetadataPrefix); ok {
			if s.Metadata == nil {
				s.Metadata = map[string]string{}
			}
			s.Metadata[key] = v
		}
	}
	return s, nil
}

// jobAnnotations returns the annotations that carry spec, and its hash.
// Errors: InvalidArgument when a metadata key cannot be an annotation key
// or the whole exceeds the API server's limit; nothing is ever dropped.
func (p *Provider) jobAnnotations(spec *provider.JobSpec, submission string, created time.Time) (map[string]string, string, error) {
	rec, err := json.Marshal(recordOf(spec))
	if err != nil {
		return nil, "", provider.Errorf(provider.InvalidArgument, "coreweave: job %q: encoding its spec: %v", spec.Name, err)
	}
	ann := map[string]string{
		AnnotationSpec:          string(rec),
		AnnotationSubmission:    submission,
		AnnotationCreated:       created.UTC().Format(time.RFC3339Nano),
		AnnotationJurisdictions: p.jurisdictions,
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Metadata)) {
		key := MetadataPrefix + k
		if errs := validation.IsQualifiedName(key); len(errs) > 0 {
			return nil, "", provider.Errorf(provider.InvalidArgument, "coreweave: job %q: metadata key %q cannot be a Kubernetes annotation key (%s): %s; use a key that starts and ends with a letter or digit", spec.Name, k, key, strings.Join(errs, "; "))
		}
		ann[key] = spec.Metadata[k]
	}
	// The hash covers what the job does and what it carries, never a
	// credential: not a secret value, and not a grant's expiry, which a
	// resubmission with a freshly issued grant moves. Equal hashes mean the
	// same submission.
	forHash := recordOf(spec)
	for i := range forHash.Inputs {
		forHash.Inputs[i].GrantExpires = time.Time{}
	}
	hrec, _ := json.Marshal(forHash)
	h := sha256.New()
	h.Write(hrec)
	md, _ := json.Marshal(spec.Metadata)
	h.Write([]byte{0})
	h.Write(md)
	hash := "sha256:" + hex.EncodeToString(h.Sum(nil))
	ann[AnnotationSpecHash] = hash
	total := 0
	for k, v := range ann {
		total += len(k) + len(v)
	}
	// Room for the annotations added later (secret name, cancellation,
	// output) so that no later write can fail on size.
	const later = 512
	if total+later > maxAnnotations {
		return nil, "", provider.Errorf(provider.InvalidArgument, "coreweave: job %q needs %d bytes of annotations for its spec and metadata, more than the %d the API server allows; shorten the environment, command or metadata", spec.Name, total+later, maxAnnotations)
	}
	return ann, hash, nil
}

// jurisdictionsOf lists a region's jurisdictions, comma-separated.
func jurisdictionsOf(r residency.Region) string {
	var out []string
	for _, j := range r.Jurisdictions() {
		out = append(out, string(j))
	}
	return strings.Join(out, ",")
}

// validateSpec checks what SubmitJob needs before anything is created.
func (p *Provider) validateSpec(spec *provider.JobSpec) error {
	if spec == nil {
		return provider.Errorf(provider.InvalidArgument, "coreweave: SubmitJob needs a job spec; got nil")
	}
	if err := provider.ValidateName("job name", spec.Name); err != nil {
		return err
	}
	if err := p.checkRegion(fmt.Sprintf("job %q", spec.Name), spec.Region); err != nil {
		return err
	}
	switch {
	case spec.Image == "":
		return provider.Errorf(provider.InvalidArgument, "coreweave: job %q has no image; name a container image", spec.Name)
	case spec.Nodes < 0:
		return provider.Errorf(provider.InvalidArgument, "coreweave: job %q asks for %d nodes; the count cannot be negative", spec.Name, spec.Nodes)
	case spec.MaxDuration < 0:
		return provider.Errorf(provider.InvalidArgument, "coreweave: job %q has MaxDuration %v; use zero for no bound", spec.Name, spec.MaxDuration)
	case spec.MaxRetries < 0:
		return provider.Errorf(provider.InvalidArgument, "coreweave: job %q has MaxRetries %d; use zero for no retries", spec.Name, spec.MaxRetries)
	}
	if err := provider.ValidateMetadata("job metadata", spec.Metadata); err != nil {
		return err
	}
	names := map[string]string{}
	for k := range spec.Env {
		if err := validEnvName(k); err != "" {
			return provider.Errorf(provider.InvalidArgument, "coreweave: job %q: Env name %q %s", spec.Name, k, err)
		}
		names[k] = "Env"
	}
	for k := range spec.SecretEnv {
		if err := validEnvName(k); err != "" {
			return provider.Errorf(provider.InvalidArgument, "coreweave: job %q: SecretEnv name %q %s", spec.Name, k, err)
		}
		if names[k] != "" {
			return provider.Errorf(provider.InvalidArgument, "coreweave: job %q sets %s in both Env and SecretEnv; keep one", spec.Name, k)
		}
		if strings.HasPrefix(k, "TIDELINE_") {
			return provider.Errorf(provider.InvalidArgument, "coreweave: job %q: SecretEnv name %s uses the reserved prefix TIDELINE_", spec.Name, k)
		}
	}
	for k := range spec.Env {
		if strings.HasPrefix(k, "TIDELINE_") {
			return provider.Errorf(provider.InvalidArgument, "coreweave: job %q: Env name %s uses the reserved prefix TIDELINE_", spec.Name, k)
		}
	}
	seen := map[string]bool{}
	for i, in := range spec.Inputs {
		v := inputVar(in.Name)
		if in.Name == "" || v == "" || seen[v] {
			return provider.Errorf(provider.InvalidArgument, "coreweave: job %q: input %d has name %q; inputs need distinct names of letters, digits, '-' and '_'", spec.Name, i, in.Name)
		}
		seen[v] = true
	}
	return nil
}

// validEnvName returns why s cannot be an environment variable name, or "".
func validEnvName(s string) string {
	if s == "" {
		return "is empty"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return "is not a valid environment variable name: letters, digits and '_', not starting with a digit"
		}
	}
	return ""
}

// inputVar is the stem of the environment variables of an input:
// TIDELINE_INPUT_<NAME>_URI and so on.
func inputVar(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_':
			b.WriteByte(c)
		case c == '-':
			b.WriteByte('_')
		default:
			return ""
		}
	}
	return "TIDELINE_INPUT_" + b.String()
}
