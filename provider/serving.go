package provider

import (
	"context"
	"time"
)

// Serving hosts model versions behind endpoints.
//
// An endpoint holds named deployments and a traffic split over them. Every
// method may be called concurrently.
type Serving interface {
	// ServingCapabilities says what the endpoints of this provider can do.
	ServingCapabilities() ServingCapabilities

	// CreateEndpoint creates an endpoint with no deployments. Errors:
	// AlreadyExists; InvalidArgument for a region the provider lacks.
	CreateEndpoint(ctx context.Context, spec *EndpointSpec) (*EndpointInfo, error)

	// GetEndpoint returns an endpoint. Errors: NotFound.
	GetEndpoint(ctx context.Context, name string) (*EndpointInfo, error)

	// ListEndpoints returns every endpoint ordered by name.
	ListEndpoints(ctx context.Context) ([]*EndpointInfo, error)

	// DeleteEndpoint deletes an endpoint and its deployments. The delete may
	// finish after the call returns (an Azure ML long-running operation,
	// Kubernetes garbage collection of the dependents): until then the
	// endpoint and its deployments may still be found and listed, and the
	// name stays taken. Errors: NotFound.
	DeleteEndpoint(ctx context.Context, name string) error

	// CreateDeployment adds a deployment with no traffic. Errors: NotFound if
	// the endpoint does not exist; AlreadyExists; FailedPrecondition when the
	// endpoint already holds MaxDeployments deployments.
	CreateDeployment(ctx context.Context, spec *DeploymentSpec) (*DeploymentInfo, error)

	// GetDeployment returns a deployment. Errors: NotFound.
	GetDeployment(ctx context.Context, endpoint, name string) (*DeploymentInfo, error)

	// ListDeployments returns an endpoint's deployments ordered by name.
	// Errors: NotFound if the endpoint does not exist.
	ListDeployments(ctx context.Context, endpoint string) ([]*DeploymentInfo, error)

	// DeleteDeployment deletes a deployment. The delete may finish after the
	// call returns: until then the deployment may still be found and listed,
	// and still counts against MaxDeployments. Errors: NotFound;
	// FailedPrecondition if it still receives live or mirrored traffic,
	// decided when the call is made.
	DeleteDeployment(ctx context.Context, endpoint, name string) error

	// UpdateEndpoint replaces the traffic split (when upd.Traffic is not nil)
	// and the mirror split (when upd.Mirror is not nil), and merges metadata,
	// in one atomic step.
	//
	// Errors: NotFound; InvalidArgument if a share names an unknown
	// deployment, is negative, the live shares do not sum to 100 (an
	// endpoint that has deployments never goes back to an empty split; one
	// without deployments has none), the mirror shares sum to more than 50,
	// a mirror targets a deployment that has live traffic, a mirror is asked
	// of a provider without ServingCapabilities.Mirror, or metadata breaks
	// the naming rules; Conflict if upd.IfMatch is not empty and differs
	// from the endpoint's ETag. Every successful update changes the ETag,
	// even one that changes nothing else.
	UpdateEndpoint(ctx context.Context, upd *EndpointUpdate) (*EndpointInfo, error)
}

// ServingCapabilities describes what a provider's endpoints can do, so that
// the portable API can say so instead of pretending every cloud is alike.
type ServingCapabilities struct {
	// MaxDeployments is the most deployments one endpoint can hold at once;
	// zero means no limit. KServe's canary holds two revisions.
	MaxDeployments int
	// Mirror reports whether traffic can be mirrored (shadowed).
	Mirror bool
}

// EndpointSpec creates an endpoint.
type EndpointSpec struct {
	Name     string
	Region   string
	Metadata map[string]string
}

// EndpointInfo is an endpoint's state.
type EndpointInfo struct {
	Name   string
	Region string
	// URI is where clients send requests; it carries no credential.
	URI string
	// Traffic maps deployment names to whole percentages summing to 100, or
	// is empty when nothing is deployed.
	Traffic map[string]int
	// Mirror maps deployment names to the percentage of requests copied to
	// them; responses from mirrors are discarded.
	Mirror   map[string]int
	Metadata map[string]string
	Created  time.Time
	// ETag changes whenever the endpoint changes. It may also change when
	// nothing the caller sees did (KServe's controller writing an
	// InferenceService's status), so a conditional update can meet Conflict
	// with an ETag read a moment ago; read it again and retry.
	ETag string
}

// EndpointUpdate changes an endpoint's traffic and metadata.
type EndpointUpdate struct {
	Endpoint string
	// Traffic, when not nil, replaces the live split.
	Traffic map[string]int
	// Mirror, when not nil, replaces the mirror split.
	Mirror map[string]int
	// Metadata is merged; an empty value deletes a key.
	Metadata map[string]string
	IfMatch  string
}

// DeploymentSpec puts a model version behind an endpoint.
type DeploymentSpec struct {
	Endpoint, Name      string
	Model, ModelVersion string
	ArtifactURI         string
	InstanceType        string
	Instances           int
	Metadata            map[string]string
}

// DeploymentState is where a deployment is in its life.
type DeploymentState string

// The deployment states.
const (
	DeploymentCreating DeploymentState = "Creating"
	DeploymentReady    DeploymentState = "Ready"
	DeploymentFailed   DeploymentState = "Failed"
)

// DeploymentInfo is a deployment's state.
type DeploymentInfo struct {
	DeploymentSpec
	State   DeploymentState
	Message string
	Created time.Time
}
