// Package lineagetest checks OpenLineage events the way a consumer of them
// would: against the official OpenLineage JSON Schemas and the custom facet
// schemas of package lineage. Tests of lineage use it, and so can tests of
// any program that exports lineage through package lineage.
//
// NewValidator registers every schema under its $id and refuses to load
// anything else, so validation never touches the network or the file system
// after it returns. Validate checks one event: the envelope against the core
// schema (spec 2-0-2, the version lineage.RunEventSchemaURL names), then each
// facet against the definition its _schemaURL names, then the key the facet
// sits under against the key its schema file declares — a valid facet under
// the wrong key is as useless to a consumer as an invalid one. ValidateLines
// does the same for a JSON-lines stream, as lineage.FileTransport and
// lineage.WriterTransport write it. ValidateCore checks the envelope alone,
// for events from other producers whose facet schemas are not at hand.
//
// The official schemas travel with this module, embedded: copies derived
// from the official files with their descriptions and other prose removed
// and nothing that validates changed (see internal/fixtures; the generator's
// tests compare verdicts and errors with the originals').
//
// # Errors
//
// NewValidator reports through the testing.TB it is given: a schema that
// does not parse or compile fails the test. Validate returns an error
// naming what does not conform; a facet's error is a *FacetError carrying
// the facet's key, where it sits and its _schemaURL, and wrapping the schema
// library's *jsonschema.ValidationError when the facet's body is at fault.
// ValidateLines prefixes each error with its line number.
//
// # Concurrency
//
// A Validator is safe for concurrent use; parallel subtests may share one.
// Facet schemas are compiled on first use, one at a time, and cached.
//
// # Testing
//
// The package's own tests, and its fuzz test of Validate, need nothing
// outside the repository, like every test that calls NewValidator.
package lineagetest
