// Package secret keeps credentials out of text: what is printed, logged,
// encoded, written to the audit log or sent as a lineage event.
//
// A [Secret] holds a credential — a storage account key, a read grant's
// signed URL, an HMAC key — and shows "[REDACTED]" ([Placeholder]) however it
// is formatted, marshalled or logged; only [Secret.Reveal] returns the value.
// A driver that issues a grant and the audit record that must not contain it
// use this one type, which is why it lives in a leaf package that every
// other package may import.
//
// Two functions clean free text such as an error message from a cloud or a
// job's output:
//
//   - [Redact] replaces the values of known secrets, and their URL-escaped
//     forms, exactly. Build a [Redactor] to apply the same secrets to many
//     strings.
//   - [Scrub] replaces what looks like a credential without knowing it: URL
//     user information, query strings and fragments (also of a URL that was
//     percent-encoded inside another), Authorization headers, bearer tokens,
//     and the value of every key whose name ends in a secret-ish word
//     (HF_TOKEN=…, DB_PASSWORD: …, {"client_secret": "…"}, AccountKey=…).
//
// Both put the same [Placeholder] where the credential was. Use both where
// text leaves the process: Scrub catches the unknown, Redact the known values
// in shapes Scrub does not recognise.
//
// # Errors
//
// Nothing in the package fails: every function returns a value.
//
// # Concurrency
//
// Secret and Redactor values are immutable and safe for concurrent use; so
// are the package's functions.
//
// # Testing
//
// Scrub has a regression test per shape of leak it was found to miss, a fuzz
// target (never panics, idempotent, no seeded credential survives in any of
// the known shapes) and benchmarks:
//
//	go test -run '^$' -fuzz FuzzScrub -fuzztime 60s ./secret
//	go test -run '^$' -bench . ./secret
//
// The package imports nothing of the project.
package secret
