// Package testenv lets tests find the parts of their environment that live
// outside the repository, and decides what a test does when one is absent.
//
// The repository root is the directory holding the module's go.mod;
// RepoRoot finds it from the test's working directory, which the go command
// sets to the package's source directory.
//
// Test data is not such a part: the repository carries what its tests read
// in internal/fixtures, derived from the project's shared test data (a
// directory named shared beside the repository root, which a clone does not
// have). LookupShared finds that directory for the one check that needs it,
// the comparison of the fixtures with their originals, which skips when it
// is absent. No other test may read it.
//
// # Integration policy
//
// When an integration component is absent (an emulator, an API server), the
// test skips with a message saying what is missing and where it was looked
// for. When the environment variable TIDELINE_INTEGRATION is set to
// "required" — make test and continuous integration set it — the same test
// fails instead, so that a broken environment can never pass as a green run
// of skipped tests. Missing applies that rule; Required reports which of the
// two applies.
//
// # Errors
//
// The functions report through the testing.TB they are given: tb.Skip or
// tb.Fatal by the rule above for an absent component (Missing), tb.Fatal for
// a broken environment (no go.mod of this module above the working
// directory, or a path that exists but cannot be examined). LookupShared
// reports an absent path by its second result.
//
// # Concurrency
//
// The functions keep no state and may be called from parallel tests. Like
// tb.Fatal and tb.Skip, they must be called from the goroutine running the
// test.
package testenv
