// Package azure is the Azure provider's storage part: datasets in Azure
// Blob Storage and read grants as shared access signatures. A Provider
// implements provider.DataStore and provider.Granter over one container of
// one storage account; it imports provider, never mlops. A Workspace adds
// an Azure Machine Learning workspace, reached through Azure Resource
// Manager, and serves models on its managed online endpoints
// (provider.Serving; see Serving below).
//
// # Construction
//
// New takes a Config: the account's blob endpoint, the container (which
// must exist), the account's region — resolved through the residency
// catalog, so that Regions() reports the canonical name and a region the
// catalog does not know is refused — and one credential: any
// azcore.TokenCredential (Microsoft Entra ID) or a shared key. The SDK's
// client options (transport, retry, telemetry, logging) pass through. New
// makes no call to the service.
//
// # Layout
//
// Each dataset version is one block blob, datasets/<name>/<version>, whose
// blob metadata holds the version's metadata, its SHA-256 and its creation
// time. Azure requires metadata names to be C# identifiers and values to be
// header text, within 8 KiB in all; the driver maps the contract's keys and
// values onto that reversibly (a C# keyword as a key, or a value outside
// printable ASCII or with surrounding spaces, is stored under a prefixed
// name, the value base64-encoded) and refuses with InvalidArgument
// metadata that does not fit once encoded — the contract's largest plain
// metadata (provider.MaxMetaTotalLen bytes) always fits.
//
// # Uploads
//
// PutDataset reads the content once, in blocks of Config.BlockSize,
// staging up to Config.Concurrency blocks at once; the upload holds at most
// that many block buffers (32 MiB at the defaults), whatever the dataset's
// size, and provider.Content computes the SHA-256 in the same pass. The
// version becomes visible only when the block list is committed, with
// If-None-Match: *, so an existing version is AlreadyExists (also when two
// uploads of one version race) and a failed upload leaves nothing visible:
// its staged blocks are never committed, and the service discards them.
//
// Reads stream the blob, resuming a broken download on the same blob
// (If-Match on its ETag). UpdateDatasetMetadata writes with If-Match on
// the blob's ETag: Conflict when the caller's ETag is stale.
//
// # Read grants
//
// GrantRead returns a SAS for the version's blob alone, with read
// permission alone, expiring with the grant: a service SAS signed with the
// shared key, or a user-delegation SAS when the credential is a token
// credential. The URL is a secret.Secret. The provider does not implement
// provider.GrantRevoker: Azure revokes a single service SAS only through a
// stored access policy, of which a container holds five, and a
// user-delegation SAS not at all short of revoking every key of the
// identity; grants lapse at their expiry.
//
// # Serving
//
// Workspace implements provider.Serving on managed online endpoints. An
// endpoint is created in the workspace's region (a region other than
// Config.Region is InvalidArgument, a workspace elsewhere
// FailedPrecondition), authenticates callers with Azure Machine Learning
// tokens (authMode AMLToken: nothing long-lived to leak, and no credential
// in EndpointInfo.URI, the scoring URI). A deployment is a managed online
// deployment of the workspace's model version Model/ModelVersion, on
// InstanceType (DefaultInstanceType when empty) with Instances instances,
// its ArtifactURI kept in the deployment's properties; its state follows
// the provisioning state: Succeeded is Ready, Failed and Canceled are
// Failed, anything else Creating. ServingCapabilities reports mirroring
// and MaxDeploymentsPerEndpoint (20), the default limit in Azure Machine
// Learning's quota documentation. Azure mirrors at most 50% of the
// requests, to one deployment alone: a mirror split over two deployments
// is InvalidArgument.
//
// Creates, updates and deletes are Resource Manager PUTs and DELETEs that
// run as long-running operations, followed to their end
// (Azure-AsyncOperation or Location, pausing as Retry-After says).
// CreateDeployment returns once Azure has accepted the deployment, which
// then provisions for minutes; the deletes wait for their operation, and
// when the caller's context ends first the error says that the delete goes
// on. Traffic changes are a GET of the endpoint, the edit of
// properties.traffic, properties.mirrorTraffic and tags, and a PUT of the
// whole endpoint (Azure has no PATCH of the traffic); shares of zero are
// not written. Every check of an update that needs no state is made
// before any call, the rest before anything is written.
//
// Metadata is kept in the resource's tags, which people see in the
// portal. Azure holds 50 tags on a resource and 256 characters in a value:
// a longer value is kept in the workspace's storage container and its tag
// refers to it by SHA-256, so no value is ever cut; metadata needing more
// than 50 tags is refused with InvalidArgument before anything is made.
//
// Azure Machine Learning's endpoints have no ETag and take no conditional
// request, so the contract's compare-and-swap comes from Blob Storage: a
// guard blob per endpoint (serving/guards/<endpoint> in Config.Container)
// whose ETag is the endpoint's ETag, and whose lease is the lock every
// writer of the endpoint or its deployments holds for its
// check-then-write. An update writes the guard before its PUT (marking it
// pending) and after its operation ended, so the ETag changes on every
// update, even one that changes nothing else, and an ETag read while an
// update ran never matches afterwards; a writer that dies in between
// leaves the mark, and the next writer waits for the endpoint to settle
// and, if conditional, answers Conflict after moving the ETag. The lease
// lasts 60 seconds and is renewed every 20 while an operation runs; the
// guard writes carry the lease id, so a writer whose lease expired (the
// storage unreachable for longer) cannot record an update over another
// writer's, and says its update's outcome is uncertain. A conditional
// update whose ETag is stale fails at once: the lease is taken with
// If-Match. Writers wait for a held lease until their context ends.
//
// What each call costs (Resource Manager calls, Blob Storage calls, plus
// one poll or more of an operation):
//
//	CreateEndpoint    4 + polls    5 (7 when the guard is new)
//	GetEndpoint       1            1
//	ListEndpoints     1 per page   1 per page (+2 per endpoint with a long value)
//	UpdateEndpoint    2 + polls    5 (GET and PUT, +1 list of the deployments when
//	                                  a split changes; 1 ARM and 4 storage calls
//	                                  when only the ETag changes)
//	DeleteEndpoint    2 + polls    3
//	CreateDeployment  2            3 (+1 for a long value)
//	GetDeployment     1            0 (+1 for a long value)
//	ListDeployments   1 per page   0 (+1 per deployment with a long value)
//	DeleteDeployment  3 + polls    4
//
// # Errors
//
// Errors carry the provider's codes: 404 is NotFound (a missing container
// FailedPrecondition), 409 and 412 are AlreadyExists for a put and Conflict
// for a conditional update, 401 and 403 PermissionDenied, 429 and 5xx —
// after the SDK's retries, which honour Retry-After — Unavailable, a broken
// connection Unavailable. The *azcore.ResponseError stays reachable through
// errors.As; the message holds the status and the service's error code,
// never a request URL, header, body, key, token or SAS.
//
// # Tests
//
// The package's tests run the conformance suite's DataStore and Grants
// groups on Azurite, the storage emulator, which make test installs and
// starts (scripts/testenv.sh); without it they skip, or fail under
// TIDELINE_INTEGRATION=required. The user-delegation SAS is tested against
// a local HTTPS server for its request shape only, since the emulator
// issues no user-delegation keys. The whole suite, serving included, runs
// over a Workspace whose Resource Manager is the azuretest contract server
// (its state playing Azure Machine Learning's controllers) and whose
// storage is Azurite, where the guard blobs' leases and ETags are real.
package azure
