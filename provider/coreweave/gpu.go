package coreweave

import (
	"slices"
	"strings"

	"github.com/tideline-ml/tideline/provider"
)

// GPU is one portable accelerator name and how CoreWeave nodes carry it.
type GPU struct {
	// Name is the portable name a JobSpec uses ("H100").
	Name string
	// InstanceTypes are the CKS node types with this GPU, matched on the
	// node label node.kubernetes.io/instance-type.
	InstanceTypes []string
	// Classes are the values of the legacy label gpu.nvidia.com/class
	// (CoreWeave Cloud before CKS) with this GPU.
	Classes []string
	// PerNode is the most GPUs one node of these types has.
	PerNode int
}

// Node labels that select hardware.
const (
	LabelInstanceType = "node.kubernetes.io/instance-type"
	LabelGPUClass     = "gpu.nvidia.com/class"
	// ResourceGPU is the extended resource a container asks GPUs with.
	ResourceGPU = "nvidia.com/gpu"
)

// GPUs is the table of portable GPU names. A100 matches every A100 node,
// A100-80GB only those with 80 GB. Legacy classes exist for GPUs that CKS
// instance types no longer name; such GPUs are offered only with
// Config.LegacyGPUClass.
var GPUs = []GPU{
	{Name: "H100", InstanceTypes: []string{"gd-8xh100ib-i128"}, Classes: []string{"H100_NVLINK_80GB", "H100_PCIE"}, PerNode: 8},
	{Name: "H200", InstanceTypes: []string{"gd-8xh200ib-i128"}, PerNode: 8},
	{Name: "GB200", InstanceTypes: []string{"gb200-4x"}, PerNode: 4},
	{Name: "A100-80GB", Classes: []string{"A100_NVLINK_80GB", "A100_PCIE_80GB"}, PerNode: 8},
	{Name: "A100", Classes: []string{"A100_NVLINK", "A100_PCIE_40GB", "A100_NVLINK_80GB", "A100_PCIE_80GB"}, PerNode: 8},
	{Name: "A40", Classes: []string{"A40"}, PerNode: 8},
	{Name: "RTX-A6000", Classes: []string{"RTX_A6000"}, PerNode: 8},
	{Name: "RTX-A5000", Classes: []string{"RTX_A5000"}, PerNode: 8},
	{Name: "RTX-A4000", Classes: []string{"RTX_A4000"}, PerNode: 8},
	{Name: "V100", Classes: []string{"Tesla_V100_NVLINK"}, PerNode: 8},
}

// DefaultOffers is what a cluster is taken to offer when Config.GPUs is
// empty: the GPUs of the CKS instance types (H100, H200, GB200), or with
// Config.LegacyGPUClass every GPU with a legacy class.
func DefaultOffers(legacy bool) []string {
	var out []string
	for _, g := range GPUs {
		if legacy && len(g.Classes) > 0 || !legacy && len(g.InstanceTypes) > 0 {
			out = append(out, g.Name)
		}
	}
	return out
}

// lookupGPU finds a portable name, ignoring case and treating '_' and ' '
// as '-'.
func lookupGPU(name string) (GPU, bool) {
	norm := func(s string) string {
		return strings.NewReplacer("_", "-", " ", "-").Replace(strings.ToUpper(strings.TrimSpace(s)))
	}
	n := norm(name)
	for _, g := range GPUs {
		if norm(g.Name) == n {
			return g, true
		}
	}
	return GPU{}, false
}

// placement is where a job's pods may run: node label values one of which
// a node must carry, and the GPUs per pod.
type placement struct {
	label  string
	values []string
	gpus   int
}

// placeGPUs resolves a job's GPU request against what the cluster offers.
// Errors: InvalidArgument naming what the region offers.
func (p *Provider) placeGPUs(spec *provider.JobSpec) (placement, error) {
	pl := placement{gpus: spec.GPUs}
	if spec.GPUs < 0 {
		return pl, provider.Errorf(provider.InvalidArgument, "coreweave: job %q asks for %d GPUs; the count cannot be negative", spec.Name, spec.GPUs)
	}
	if spec.GPUType == "" {
		if spec.GPUs > p.maxPerNode() {
			return pl, provider.Errorf(provider.InvalidArgument, "coreweave: job %q asks for %d GPUs per node, but no node in %s has more than %d; spread the job over more nodes", spec.Name, spec.GPUs, p.region.Name, p.maxPerNode())
		}
		return pl, nil
	}
	g, ok := lookupGPU(spec.GPUType)
	if !ok || !slices.Contains(p.offers, g.Name) {
		return pl, provider.Errorf(provider.InvalidArgument, "coreweave: job %q asks for GPU type %q, which %s does not offer; it offers %s (Config.GPUs)", spec.Name, spec.GPUType, p.region.Name, strings.Join(p.offers, ", "))
	}
	if spec.GPUs > g.PerNode {
		return pl, provider.Errorf(provider.InvalidArgument, "coreweave: job %q asks for %d %s GPUs per node, but a %s node has %d; spread the job over more nodes", spec.Name, spec.GPUs, g.Name, g.Name, g.PerNode)
	}
	if p.legacyClass {
		pl.label, pl.values = LabelGPUClass, g.Classes
	} else {
		pl.label, pl.values = LabelInstanceType, g.InstanceTypes
	}
	return pl, nil
}

func (p *Provider) maxPerNode() int {
	most := 0
	for _, name := range p.offers {
		if g, ok := lookupGPU(name); ok && g.PerNode > most {
			most = g.PerNode
		}
	}
	return most
}
