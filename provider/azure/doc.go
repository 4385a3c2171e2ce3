// Package azure is the Azure provider's storage part: datasets in Azure
// Blob Storage and read grants as shared access signatures. A Provider
// implements provider.DataStore and provider.Granter over one container of
// one storage account; it imports provider, never mlops. Jobs, the model
// registry and serving on Azure Machine Learning are not here yet.
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
// issues no user-delegation keys. Entra ID tokens come from a local token
// endpoint (azuretest.TokenServer) through azidentity's own
// ClientSecretCredential. TestAzuriteLargeRoundTrip moves 32 MiB, or 1 GiB
// with TIDELINE_BENCH_GIB=1 (make bench-large), against a plain azblob
// upload of the same bytes.
package azure
