// Package azure is the Azure provider: datasets in Azure Blob Storage and
// read grants as shared access signatures, and, on an Azure Machine
// Learning workspace through Azure Resource Manager, training, the model
// registry, data assets and managed online endpoints. A Provider (New)
// implements provider.DataStore and provider.Granter over one container of
// one storage account; a Workspace (OpenWorkspace) adds provider.Trainer,
// provider.Registry, provider.LatestModelVersionReader and
// provider.Serving, and registers each dataset version as a data asset.
// The package imports provider, never mlops.
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
// A Workspace keeps, in the same container and apart from the datasets
// (ListDatasets reads datasets/ alone), the guards Azure Machine Learning
// lacks: registry/models/ for the model registry's records and aliases,
// registry/jobs/<job> for the claims that make a job's creation
// exclusive, serving/ for the endpoints' guards and deployments' metadata.
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
// # The audit principal
//
// Principal names the identity a Microsoft Entra ID credential
// authenticates as, from its access token's claims, in the form an audit
// record carries: "alice@contoso.com;oid=<object id>" for a user,
// "app:<client id>;oid=<object id>" for a service principal or managed
// identity. Give it to mlops.ClientOptions.Principal, so that the records
// name who the cloud sees. The token itself goes nowhere.
//
// The audit log itself can live in an append blob of the same or another
// account: see package azaudit.
//
// # Model registry
//
// A Workspace implements provider.Registry and
// provider.LatestModelVersionReader on the workspace's ModelContainers and
// ModelVersions. Azure Machine Learning's ARM API (2025-12-01) offers no
// conditional write for them, nor for data assets: the resources carry no
// etag, the operations take no If-Match or If-None-Match, and a PUT
// creates or replaces. So the guards the contract asks for are taken from
// Blob Storage, in the workspace's storage container (Config.Container),
// beside the datasets:
//
//   - registry/models/<model>/versions/<version> holds the version's
//     record, JSON: everything registered and last updated (artifact,
//     framework, metrics, tags, metadata, approval, creation time). Its
//     blob ETag is the version's ETag.
//   - registry/models/<model>/aliases holds the model's aliases, alias to
//     version.
//
// Azure's ModelVersion (integer versions as strings) is the catalog — a
// version exists when Azure holds it, and lists and the model's
// latestVersion come from there, pages followed through nextLink — and
// shows the record in the studio: modelUri is ArtifactURI, modelType
// custom_model, the framework a flavor; the region, framework, creation
// time and metrics (as JSON) are properties, fixed at creation (later PUTs
// send them unchanged); the tags,
// the metadata (under tideline.meta.<key>) and the approval
// (tideline.approval, _by, _at, _comment) are tags, which Azure lets change.
// A resource holds at most 50 tags, of at most 256 characters each, and
// Azure documents 1,000 characters for a property value: a longer value,
// or a tag past the fiftieth (the approval first, then the tags, then the
// metadata), is left out of Azure's copy and its key named in the tag
// tideline.omitted; the record
// keeps every value whole, so nothing is ever cut or lost. What the
// contract refuses (provider.ValidateMetadata: 2,048 bytes a value, 8,000 a
// map) is InvalidArgument before anything is written; so is an ArtifactURI
// with a query, fragment or user information, which could hold a SAS that
// Azure's copy would show to every reader of the workspace.
//
// How each write is made safe, and its calls (blob and ARM requests):
//
//   - CreateModelVersion claims the version by creating its record with
//     If-None-Match: *, so one creator goes on; reads Azure's version, so
//     that one registered outside Tideline is AlreadyExists rather than
//     replaced; then PUTs it (creating the container when the PUT answers
//     404). A failed PUT deletes the version from Azure and then the claim;
//     if that undo fails the claim stays, and a retry of the same create,
//     which recognises its claim by the spec's digest, completes it. 3
//     calls; 5 for a model's first version.
//   - UpdateModelVersion writes the new record with If-Match on the
//     record's ETag (the caller's IfMatch: Conflict when stale; without
//     one, the ETag just read, and on 412 it reads and merges again), and
//     then PUTs Azure's copy. Readers read the record, so they see the
//     state before or after a whole update, never a mix; Azure's copy
//     follows. The record names the ETag it replaced and the update's
//     digest: if the PUT fails the update stands and the error says so,
//     and repeating the same update recognises it as applied and repairs
//     Azure's copy. After its PUT the update reads the record's ETag again
//     and, if another update came between, PUTs that state too, so
//     Azure's copy ends on the last update. 5 calls (the record and
//     Azure's version are read in parallel, the record written, Azure's
//     copy written, the ETag read).
//   - SetAlias and DeleteAlias change the alias blob by compare-and-swap
//     on its ETag (If-None-Match: * for a model's first alias), reading
//     again after a 412: one blob, written whole, so a reader sees the old
//     or the new version, never neither. SetAlias first reads Azure's
//     version (NotFound). 3 calls (2 for DeleteAlias), and one read and
//     write more for each concurrent writer that wins first. The aliases
//     are not copied to Azure: that would mean a PUT of the model's
//     container, replacing its description and tags without a guard, at
//     every alias change.
//
// Reads: GetModelVersion reads the record and Azure's version in
// parallel (2 calls); LatestModelVersion reads the container's
// latestVersion first (3); ListModelVersions one ARM page per page and one
// record per version, eight at a time, sorted by number; ListModels one
// ARM page per page, the containers that have a latest version, sorted;
// Aliases 1. A version Azure holds without a record was registered outside
// Tideline: it reads Pending, with those of Azure's tags that are valid
// contract tags and no metadata, and UpdateModelVersion
// refuses it (FailedPrecondition); a version whose modelUri is no longer
// the record's was replaced outside Tideline and reads FailedPrecondition.
// A client that writes to Azure directly is outside these guards: the
// guards order Tideline's writers, and Tideline notices the outside writes
// above.
//
// # Data assets
//
// Workspace.PutDataset stores the version's blob as Provider.PutDataset
// does and then registers it as a data asset: a DataContainer named after
// the dataset and a DataVersion of type uri_file whose dataUri is the
// blob's URL, without a SAS, its digest and size as properties. The blob
// comes first because its commit (If-None-Match: *) is what decides among
// concurrent creators, so only the winner writes the asset, and an asset
// never points at bytes that are not there; when the asset's PUT fails,
// the blob is deleted (If-Match on its ETag) and the error returned, so
// no version is left without its asset. 1 ARM PUT beyond the upload (3
// for a dataset's first version). Workspace.DeleteDataset deletes the
// asset and then the blob: a failure in between leaves the dataset whole,
// and repeating the call finishes. Metadata updates stay on the blob; the
// asset shows the version as stored.
//
// # Serving
//
// Workspace implements provider.Serving on managed online endpoints. An
// endpoint is created in the workspace's region (another region is
// InvalidArgument; a workspace found elsewhere than configured is
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
// # Azure Machine Learning
//
// OpenWorkspace takes the storage settings and the workspace's
// subscription, resource group and name, and reads where the workspace and
// the storage account are from Azure Resource Manager (two calls), so that
// Regions() reports the resources' own locations, resolved through the
// residency catalog: datasets and grants act in the storage account's
// region, jobs in the workspace's, and a request for the other region is
// InvalidArgument naming the one to use. A configured Region or
// WorkspaceRegion that contradicts the resources is refused.
// OpenWorkspaceWithDefaultCredential does the same with azidentity's
// DefaultAzureCredential. NewWorkspace makes no call and takes the regions
// as configured (for tests and offline use). A storage-only Config given
// to New never yields a value that looks as if it trained, and New refuses
// a Config that names a workspace. Calls go to Azure Resource Manager
// (Config.ARMEndpoint, api-version Config.APIVersion, 2025-12-01 by
// default) through an azcore pipeline: a bearer token for Resource
// Manager's audience, the retry policy and telemetry of ClientOptions.
// Lists follow nextLink; long-running operations are followed through
// Azure-AsyncOperation or Location, pausing as Retry-After says, never
// less than Config.PollInterval nor more than MaxPollInterval. ARM's error
// codes map to the provider's codes (a quota to ResourceExhausted,
// AuthorizationFailed to PermissionDenied, a missing workspace to
// FailedPrecondition), with the *azcore.ResponseError reachable.
//
// A job is a command job PUT under its name. Azure's PUT of a job has no
// conditional form (it creates or replaces; If-None-Match is ignored), so
// the job is made create-only with a claim blob, registry/jobs/<job>,
// created with If-None-Match: * in the workspace's storage container
// before the PUT: of concurrent submits of one name, the one that
// creates the claim PUTs the job, and the others wait for that job and
// return AlreadyExists with it. A claim whose job has not appeared
// within two minutes (its submitter died between claim and PUT) is taken
// over by the next submit, with If-Match on the claim's ETag (at once
// when an earlier call through the same Workspace left it and ended not
// knowing whether its job was made); a submit that created no job
// releases its claim at once. A submission id in the
// job's properties tells, after a failed PUT, whether the job that exists
// is this call's. A submit of an existing name costs one GET; a new job a
// GET, the claim and the PUT, with the environment and key vault writes
// below (see Workspace.SubmitJob). The image becomes an
// environment version; inputs are uri_file or uri_folder inputs; several
// nodes run under a PyTorch distribution; MaxDuration becomes
// limits.timeout. SecretEnv values and inputs' read grants are written to
// the workspace's key vault (Config.KeyVaultURL). The command job of the
// 2025-12-01 API has no field that puts a key vault secret into a job's
// environment, so the definition carries references alone: the
// environment variable SecretsEnvVar maps each secret's name (a grant's is
// TIDELINE_GRANT_<INPUT>) to its key vault URI, and the job runs with the
// compute's managed identity, which reads the values. The spec, secrets
// by name alone, is kept in the job's properties, so that JobInfo.Spec is
// the submitted spec for any process reading the job. Azure ML runs a command job once:
// MaxRetries is recorded in the job's properties for a retry controller,
// and Attempts reads the count such a controller writes (1 once the job
// started, without one). Status is read by GET; every documented job
// status is mapped, an unknown one is taken as not ended. Resource Manager
// offers no job logs, so Workspace does not implement provider.JobLogger,
// nor provider.JobWatcher.
//
// # Tests
//
// The package's tests run the conformance suite's DataStore and Grants
// groups on Azurite, the storage emulator, which make test installs and
// starts (scripts/testenv.sh); without it they skip, or fail under
// TIDELINE_INTEGRATION=required. The user-delegation SAS is tested against
// a local HTTPS server for its request shape only, since the emulator
// issues no user-delegation keys. Entra ID tokens come from a local token
// endpoint (azuretest.TokenServer) through azidentity's own
// ClientSecretCredential. TestAzuriteLargeRoundTrip moves 32 MiB, or 1 GiB
// with TIDELINE_BENCH_GIB=1 (make bench-large), against a plain azblob
// upload of the same bytes. The whole conformance suite, every capability
// claimed, runs over a Workspace whose Resource Manager is the azuretest
// contract server (its state playing Azure Machine Learning's controllers)
// and whose storage is Azurite, where the claims' and guard blobs' leases
// and ETags are real; so do the job tests, since a job's claim lives in
// the storage account.
//
// # What only a live account can show
//
// The requests are checked against Microsoft's REST examples for
// api-version 2025-12-01, and storage runs on Azurite; what the services
// do beyond that is the tests' model of them:
//
//   - Azure Machine Learning's answer to a PUT over an existing job: the
//     contract server lets display name, description and tags change and
//     refuses any other change with 400, and applies a repeated definition
//     as a no-op; SubmitJob's claim keeps two of its own PUTs of one name
//     from ever meeting there, so only a job made outside Tideline would;
//   - job status transitions, long-running operations' timing, and the
//     error codes ARM uses for quota and throttling, mapped as documented
//     under Errors;
//   - the job's code reading its secrets: SecretsEnvVar names key vault
//     URIs, which the compute's managed identity must be allowed to read;
//   - user-delegation SAS, whose request shape alone is tested (Azurite
//     issues no user-delegation keys);
//   - Blob Storage's leases, ETags and block commits, as Azurite
//     implements them, and immutability policies on the audit log's
//     container, which Azurite does not enforce;
//   - Entra ID tokens from a real tenant: the tests get theirs through
//     azidentity from a local token endpoint, with the claims a tenant
//     issues for an application;
//   - managed online endpoints' limits (20 deployments by default quota,
//     mirror traffic up to 50%), taken from Azure's documentation.
package azure
