// Package testenv lets tests find the parts of their environment that live
// outside the repository, and decides what a test does when one is absent.
//
// The project's shared test data — official schemas, REST examples, CRDs,
// reference tables — sits in a directory named shared beside the repository
// root, the directory holding the module's go.mod. It is never copied into
// the repository, so a checkout without it must still build and pass its
// unit tests. SharedDir resolves a path in it from the test's working
// directory, which the go command sets to the package's source directory.
//
// # Integration policy
//
// When an integration component is absent (shared data, an emulator, an API
// server), the test skips with a message saying what is missing and where it
// was looked for. When the environment variable TIDELINE_INTEGRATION is set
// to "required" — continuous integration sets it — the same test fails
// instead, so that a broken environment can never pass as a green run of
// skipped tests. Missing applies that rule to any component; SharedDir
// applies it to shared data; Required reports which of the two applies.
//
// # Errors
//
// The functions report through the testing.TB they are given: tb.Skip or
// tb.Fatal by the rule above for an absent component, tb.Fatal for a broken
// environment (no go.mod of this module above the working directory, or a
// path that exists but cannot be examined). They return only on success.
//
// # Concurrency
//
// The functions keep no state and may be called from parallel tests. Like
// tb.Fatal and tb.Skip, they must be called from the goroutine running the
// test.
package testenv
