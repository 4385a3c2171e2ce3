// Package azuretest is a contract server for the Azure provider: Azure
// Resource Manager's REST surface for one Azure Machine Learning workspace
// (jobs, environments, long-running operations, the workspace itself) and
// a key vault's secrets, served over TLS from memory. The provider's own
// tests run against it, and so can tests of any code that calls these
// APIs through azcore.
//
// # Connecting
//
// NewServer starts a server; Server.URL is the ARM endpoint and the key
// vault's URL at once. The bearer token policy of azcore refuses plain
// HTTP, so the server is HTTPS with a certificate of its own:
// Server.Client (or Server.ClientOptions) trusts it, for
// azcore.ClientOptions.Transport. Every request needs a bearer token that
// Options.Verifier accepts for the route's audience (Resource Manager's or
// the key vault's); by default that is a token of Server.Credential, a fake
// azcore.TokenCredential. A request without one gets 401.
//
// # Microsoft's examples
//
// Each route that Microsoft's REST examples for api-version 2025-12-01
// cover checks the request body against the example's: field names and
// JSON types, with placeholder maps and a small documented supplement of
// fields the examples leave out (see the rules in examples.go and
// Server.Supplement). A body that differs gets 400 ExampleMismatch and is
// listed by Server.Violations. Answers are built on the examples' answers.
//
// # Long-running operations and faults
//
// Cancels and deletes answer 202 with Location (or Azure-AsyncOperation,
// by SetLROStyle) and Retry-After (Options.RetryAfter). An operation ends
// after Options.OperationPolls polls, or, with Options.HoldOperations,
// when FinishOperations is called. Inject makes the next requests of a
// route fail: 429 with Retry-After, 503, a dropped connection, or a lost
// answer (the request is applied, then the connection is closed);
// ClearFaults drops those not yet used.
//
// # No conditional writes
//
// No resource carries an etag and If-Match and If-None-Match are ignored,
// as in Azure Machine Learning: a guard the service lacks is not one a
// test may lean on. A job's PUT creates the job; over an existing job it
// may change the display name, description and tags, and a PUT that
// repeats the definition (a retry after a lost answer) succeeds without
// changing anything; any other change of the definition is 400.
//
// # Models and data assets
//
// Model containers and versions and data containers and versions are
// served as Azure Machine Learning serves them: a PUT creates or
// replaces. A
// version's PUT needs its container (404 otherwise); a model container's
// latestVersion and nextVersion follow its highest whole-number version.
//
// # State and the controller
//
// The state is in memory. The controller methods — StartJob,
// CompleteJob, FailJob, RequeueJob, SetJobStatus, FinishOperations — play
// the cloud's schedulers; JobDefinition and SecretValue read what the
// workspace and the key vault hold, as a test inspecting the cloud would.
package azuretest
