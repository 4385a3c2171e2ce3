package coreweave

import (
	"github.com/tideline-ml/tideline/provider"
)

// DeploymentMode is how KServe runs an InferenceService, the value of its
// serving.kserve.io/deploymentMode annotation.
type DeploymentMode string

// The deployment modes the provider supports.
const (
	// DeploymentModeStandard runs the predictor as a plain Kubernetes
	// Deployment with an HPA (KServe's "raw" mode, and its default). It has
	// no revisions and no canary traffic, so an endpoint holds one
	// deployment at a time.
	DeploymentModeStandard DeploymentMode = "Standard"
	// DeploymentModeKnative runs the predictor as a Knative Service. Every
	// change of the predictor is a new revision, and canaryTrafficPercent
	// splits traffic between the newest revision and the last one rolled
	// out, so an endpoint holds two deployments. It needs Knative Serving in
	// the cluster.
	DeploymentModeKnative DeploymentMode = "Knative"
)

// ServingConfig says how the provider builds InferenceServices. The zero
// value uses Standard mode and needs every deployment to name its model
// format in its metadata.
type ServingConfig struct {
	// Mode is the deployment mode written on every InferenceService the
	// provider creates. Empty means DeploymentModeStandard, KServe's own
	// default, which works on every KServe installation; choose
	// DeploymentModeKnative when the cluster runs Knative Serving and
	// endpoints should hold a canary.
	Mode DeploymentMode

	// ModelFormat is the predictor's model format (modelFormat.name, such
	// as "sklearn", "huggingface" or "onnx") for deployments whose metadata
	// has no MetaModelFormat key. Empty means every deployment must have
	// one.
	ModelFormat string

	// Runtime, when not empty, names the ServingRuntime every predictor
	// uses (model.runtime); empty lets KServe pick one for the format.
	Runtime string

	// GPUs, when above zero, is the number of nvidia.com/gpu each instance
	// requests and is limited to.
	GPUs int
}

// Deployment metadata keys the provider reads when it builds a predictor.
const (
	// MetaModelFormat overrides ServingConfig.ModelFormat for one
	// deployment.
	MetaModelFormat = "model_format"
)

// mode returns the configured mode, Standard when empty.
func (c ServingConfig) mode() DeploymentMode {
	if c.Mode == "" {
		return DeploymentModeStandard
	}
	return c.Mode
}

// check returns InvalidArgument when c cannot be used.
func (c ServingConfig) check() error {
	switch c.Mode {
	case "", DeploymentModeStandard, DeploymentModeKnative:
	default:
		return provider.Errorf(provider.InvalidArgument, "coreweave: Config.Serving.Mode %q is not a deployment mode this provider supports; use %q or %q", c.Mode, DeploymentModeStandard, DeploymentModeKnative)
	}
	if c.GPUs < 0 {
		return provider.Errorf(provider.InvalidArgument, "coreweave: Config.Serving.GPUs is %d; use 0 for no GPUs or a positive count", c.GPUs)
	}
	return nil
}

// ServingCapabilities says what this provider's endpoints can do. In
// Knative mode an InferenceService splits traffic between the newest
// revision and the last one rolled out, so an endpoint holds two
// deployments; Standard mode has no revisions and holds one. Neither can
// mirror traffic.
func (p *Provider) ServingCapabilities() provider.ServingCapabilities {
	if p.serving.mode() == DeploymentModeKnative {
		return provider.ServingCapabilities{MaxDeployments: 2, Mirror: false}
	}
	return provider.ServingCapabilities{MaxDeployments: 1, Mirror: false}
}
