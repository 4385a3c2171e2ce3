package lineage

import (
	"fmt"
	"maps"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the kind of a provenance node.
type Kind uint8

// Node kinds. The zero Kind is invalid so that a forgotten field is caught.
const (
	KindDataset    Kind = iota + 1 // a dataset version, identified by name, version and digest
	KindJob                        // one run of a job
	KindModel                      // a registered model version
	KindDeployment                 // a deployment serving a model version; may be retired
)

var kindNames = [...]string{
	KindDataset:    "dataset",
	KindJob:        "job",
	KindModel:      "model",
	KindDeployment: "deployment",
}

// String returns the kind's lower-case name, which is also the prefix of
// every id of that kind.
func (k Kind) String() string {
	if k.valid() {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

func (k Kind) valid() bool { return k >= KindDataset && k <= KindDeployment }

// MarshalText encodes the kind by name, so journals stay readable and survive
// a reordering of the constants.
func (k Kind) MarshalText() ([]byte, error) {
	if !k.valid() {
		return nil, fmt.Errorf("lineage: cannot encode node kind %d: %w", uint8(k), ErrInvalid)
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText decodes a kind name written by MarshalText.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if n != "" && n == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("lineage: unknown node kind %q (want dataset, job, model or deployment): %w", b, ErrInvalid)
}

// EdgeKind is the relation an edge records. Edges point the way data flows:
// from the upstream node to the downstream one.
type EdgeKind uint8

// Edge kinds. Each one fits exactly one pair of node kinds (produced and
// derived fit two), so the kind of an edge always follows from its
// endpoints; it is still spelled out by callers so that a reversed edge is
// caught.
const (
	EdgeConsumed   EdgeKind = iota + 1 // dataset → job: the job read the dataset
	EdgeProduced                       // job → dataset or model: the job wrote it
	EdgeDerived                        // dataset → dataset or model: the target was made from the source
	EdgeDeployedAs                     // model → deployment: the deployment serves the model
)

var edgeKindNames = [...]string{
	EdgeConsumed:   "consumed",
	EdgeProduced:   "produced",
	EdgeDerived:    "derived",
	EdgeDeployedAs: "deployed-as",
}

// String returns the edge kind's name as used in journals.
func (k EdgeKind) String() string {
	if k >= EdgeConsumed && k <= EdgeDeployedAs {
		return edgeKindNames[k]
	}
	return fmt.Sprintf("EdgeKind(%d)", uint8(k))
}

// MarshalText encodes the edge kind by name.
func (k EdgeKind) MarshalText() ([]byte, error) {
	if k < EdgeConsumed || k > EdgeDeployedAs {
		return nil, fmt.Errorf("lineage: cannot encode edge kind %d: %w", uint8(k), ErrInvalid)
	}
	return []byte(edgeKindNames[k]), nil
}

// UnmarshalText decodes an edge kind name written by MarshalText.
func (k *EdgeKind) UnmarshalText(b []byte) error {
	for i, n := range edgeKindNames {
		if n != "" && n == string(b) {
			*k = EdgeKind(i)
			return nil
		}
	}
	return fmt.Errorf("lineage: unknown edge kind %q (want consumed, produced, derived or deployed-as): %w", b, ErrInvalid)
}

// edgeKindFor returns the only edge kind that may join a node of kind from to
// a node of kind to, or 0 when none may.
func edgeKindFor(from, to Kind) EdgeKind {
	switch {
	case from == KindDataset && to == KindJob:
		return EdgeConsumed
	case from == KindJob && (to == KindDataset || to == KindModel):
		return EdgeProduced
	case from == KindDataset && (to == KindDataset || to == KindModel):
		return EdgeDerived
	case from == KindModel && to == KindDeployment:
		return EdgeDeployedAs
	}
	return 0
}

// edgeRule describes, for error messages, which endpoints an edge kind takes.
func edgeRule(k EdgeKind) string {
	switch k {
	case EdgeConsumed:
		return "from a dataset to the job that read it"
	case EdgeProduced:
		return "from a job to the dataset or model it wrote"
	case EdgeDerived:
		return "from a source dataset to the dataset or model made from it"
	case EdgeDeployedAs:
		return "from a model to the deployment serving it"
	}
	return "between known node kinds"
}

// Node is a vertex of the provenance graph.
//
// The ID is "<kind>:<name>", e.g. "dataset:lab/claims@1"; use DatasetID, JobID,
// ModelID and DeploymentID to build one. Attrs hold facts about the node as
// plain strings (a dataset's digest, a region, a classification); once
// recorded an attribute cannot change, only new keys can be added. Live is
// meaningful for deployments alone: it is true while the deployment serves
// traffic and false once it is retired.
type Node struct {
	Kind  Kind              `json:"kind"`
	ID    string            `json:"id"`
	Attrs map[string]string `json:"attrs,omitempty"`
	Live  bool              `json:"live,omitempty"`
}

// Attribute keys with a meaning in this package.
const (
	// AttrDigest is the content digest of a dataset version (for example
	// "sha256:…"). Every dataset node must carry one: it is what makes a
	// version provable.
	AttrDigest = "digest"
)

// maxIDLen bounds ids so that a journal line or a path stays a sane size.
const maxIDLen = 1024

// DatasetID returns the id of version version of dataset name:
// "dataset:<name>@<version>".
func DatasetID(name, version string) string { return "dataset:" + name + "@" + version }

// JobID returns the id of a job run: "job:<runName>". Use the provider's job
// id (unique per run), not the job's reusable name.
func JobID(runName string) string { return "job:" + runName }

// ModelID returns the id of a model version: "model:<name>@<version>".
func ModelID(name, version string) string { return "model:" + name + "@" + version }

// DeploymentID returns the id of a deployment: "deployment:<name>". Include
// the endpoint in name when deployment names repeat across endpoints.
func DeploymentID(name string) string { return "deployment:" + name }

// NewDataset returns the node of a dataset version with its content digest.
func NewDataset(name, version, digest string) Node {
	return Node{Kind: KindDataset, ID: DatasetID(name, version), Attrs: map[string]string{AttrDigest: digest}}
}

// NewJob returns the node of a job run.
func NewJob(runName string) Node { return Node{Kind: KindJob, ID: JobID(runName)} }

// NewModel returns the node of a model version.
func NewModel(name, version string) Node {
	return Node{Kind: KindModel, ID: ModelID(name, version)}
}

// NewDeployment returns the node of a deployment that is serving.
func NewDeployment(name string) Node {
	return Node{Kind: KindDeployment, ID: DeploymentID(name), Live: true}
}

// Clone returns a copy of n that shares no map with it.
func (n Node) Clone() Node {
	n.Attrs = maps.Clone(n.Attrs)
	return n
}

// validate checks everything about n that does not depend on the graph.
func (n *nodeSpec) validate() error {
	if !n.kind.valid() {
		return fmt.Errorf("lineage: node %q has no valid kind (got %s); set Kind to KindDataset, KindJob, KindModel or KindDeployment: %w", n.id, n.kind, ErrInvalid)
	}
	if err := validateID(n.id); err != nil {
		return err
	}
	if k := n.kind.String(); len(n.id) <= len(k) || n.id[:len(k)] != k || n.id[len(k)] != ':' {
		return fmt.Errorf("lineage: node %q is a %s, so its id must start with %q (use %s): %w",
			n.id, n.kind, k+":", idHelper(n.kind), ErrInvalid)
	}
	if n.live && n.kind != KindDeployment {
		return fmt.Errorf("lineage: node %q is a %s; only deployments can be live: %w", n.id, n.kind, ErrInvalid)
	}
	if d, _ := lookupAttr(n.attrs, AttrDigest); n.kind == KindDataset && d == "" {
		return fmt.Errorf("lineage: dataset node %q has no %q attribute; a dataset version needs its content digest: %w",
			n.id, AttrDigest, ErrInvalid)
	}
	for j := 0; j < len(n.attrs); j += 2 {
		if k, v := n.attrs[j], n.attrs[j+1]; k == "" || !cleanText(k) || !cleanText(v) {
			return fmt.Errorf("lineage: node %q has attribute %q=%q; keys must be non-empty and keys and values valid UTF-8 without control characters: %w",
				n.id, k, v, ErrInvalid)
		}
	}
	return nil
}

func idHelper(k Kind) string {
	switch k {
	case KindDataset:
		return "DatasetID"
	case KindJob:
		return "JobID"
	case KindModel:
		return "ModelID"
	}
	return "DeploymentID"
}

// validateID checks the shape "<kind>:<rest>" with a printable rest.
func validateID(id string) error {
	kind, rest, ok := strings.Cut(id, ":")
	if !ok || rest == "" {
		return fmt.Errorf("lineage: node id %q must have the form <kind>:<name>, e.g. %q: %w", id, DatasetID("claims", "3"), ErrInvalid)
	}
	if !knownKind(kind) {
		return fmt.Errorf("lineage: node id %q starts with unknown kind %q (want dataset, job, model or deployment): %w", id, kind, ErrInvalid)
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("lineage: node id %.40q… is %d bytes long; the limit is %d: %w", id, len(id), maxIDLen, ErrInvalid)
	}
	if !cleanText(rest) {
		return fmt.Errorf("lineage: node id %q must be valid UTF-8 without control characters: %w", id, ErrInvalid)
	}
	return nil
}

// knownKind reports whether name is the name of a node kind.
func knownKind(name string) bool {
	for _, n := range kindNames {
		if n != "" && n == name {
			return true
		}
	}
	return false
}

func cleanText(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return false
		} else if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return true
	}
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Edge is a directed relation between two nodes, pointing downstream.
type Edge struct {
	From string   `json:"from"`
	To   string   `json:"to"`
	Kind EdgeKind `json:"kind"`
}
