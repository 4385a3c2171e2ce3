// Package audit is Tideline's tamper-evident audit log.
//
// Every governed call records who asked for what, where, what the policy
// decided and why, and how the call ended. Records are appended to a [Log],
// which numbers them from 1 without gaps and chains them: each record
// carries the hash of the one before it, so that a changed, deleted,
// reordered or inserted record breaks the chain at a place [Verify] can
// name. With a key the chain is an HMAC chain, and someone who can write
// the log but does not hold the key can neither rewrite history nor add
// records that verify.
//
// A Log writes through a [Sink]: [MemorySink] for tests, [FileSink] for a
// JSON-lines file, and, through the same small interface, stores such as an
// Azure append blob. The Log is the one place that encodes, numbers and
// hashes; sinks only store lines durably and hand back the last one.
//
//	sink, err := audit.OpenFile(ctx, "audit.jsonl", nil)
//	...
//	log, err := audit.New(ctx, sink, &audit.Options{Key: key})
//	...
//	rec, err := log.Append(ctx, audit.Record{Principal: p, Action: "job.submit", ...})
//	if err != nil {
//		return err // fail closed: the operation does not run unaudited
//	}
//
// # Record format
//
// A log is a sequence of lines, one record per line, each ending in a
// newline (0x0A). A line is the record's canonical encoding C with the hash
// field inserted before the final brace:
//
//	C    = {"v":1,"seq":S,"time":T,"principal":P,"action":A,"target":G,
//	        "provider":V,"region":R,"decision":D,"reasons":[RS],
//	        "outcome":O,"error":E,"request_id":Q,"trace_id":X,
//	        "attrs":{AS},"prev":H}
//	line = C without its final "}", then ,"hash":"<Hash>"} and a newline
//
// (C is shown wrapped; it contains no whitespace at all). Precisely:
//
//   - Fields appear in exactly this order, all of them always, even when
//     empty. "v" is the format version, 1.
//   - S is the sequence number in decimal, without sign or leading zeros;
//     the first record is 1.
//   - T is the time in UTC as a string of the form
//     "YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ", always with nine fractional digits.
//   - Every other value is a JSON string of UTF-8 text. Only the quotation
//     mark, the backslash and the bytes 0x00–0x1F are escaped: '"' as \",
//     '\' as \\, newline, carriage return and tab as \n, \r and \t, and any
//     other byte below 0x20 as \u00xx with lower-case hex digits. Every other
//     character, including '/', '<', '>', '&', U+007F, U+2028 and U+2029, is
//     written as its UTF-8 bytes.
//   - RS is the list of reasons in the record's order, each
//     {"rule":U,"message":M}, separated by commas; empty for no reasons.
//   - AS is the attrs as "key":"value" pairs separated by commas, keys sorted
//     by comparing their UTF-8 bytes, no key twice; empty for no attrs.
//   - H, the previous record's hash, and Hash are 64 lower-case hex digits.
//     The first record's H is [Genesis], 64 zeros.
//
// Hash is the lower-case hex encoding of SHA-256(C) for a log without a key,
// and of HMAC-SHA256(key, C) for a log with one. Because C ends in H, every
// hash covers the whole history before it.
//
// The encoding is valid JSON, so ordinary tools read the lines; but only
// this exact form hashes correctly, which is why the package encodes by
// hand rather than with encoding/json, and why [ParseLine] and Verify reject
// any other spelling as [KindMalformed]. A test vector: with the clock at
// 2025-03-14T09:26:53.589793Z, the record
//
//	{"v":1,"seq":1,"time":"2025-03-14T09:26:53.589793000Z","principal":"alice@example.com","action":"job.submit","target":"jobs/train-7","provider":"coreweave","region":"EU-SOUTH-03","decision":"deny","reasons":[{"rule":"restricted→EU","message":"dataset \"claims\"\tis EU only"}],"outcome":"error","error":"denied\n","request_id":"req-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","attrs":{"dataset":"claims\u0001","gpus":"8"},"prev":"0000000000000000000000000000000000000000000000000000000000000000"}
//
// hashes to f8b197957e42a2a0a5d28b8765092a4f43fa6a8fa0d9a6336f18cbc51dc2a852
// with SHA-256, and to
// 225b23c0e062e38853dd7c69cebadcb5171d21b1b85d9cd5472fbc48fa9cd13e with
// HMAC-SHA256 under the 32-byte ASCII key "0123456789abcdef0123456789abcdef".
//
// # Verification
//
// [Verify] (a reader), [VerifyFile] (a path), [VerifySink] (a sink that can
// be read back, see [ReadableSink]) and [VerifyRecords] walk a chain and
// report the first broken link as a [*VerifyError] naming the sequence number and a
// [Kind]. For each record in turn they check its syntax, then its hash (a
// changed byte anywhere in the line is [KindModified] at that record; with
// a key, a hash that is the plain SHA-256 of the content is [KindForged]),
// then its sequence number (a gap is [KindDeleted], a record out of place
// [KindReordered]), then that its prev equals the previous record's hash.
//
// A chain alone cannot tell a log whose last records were removed from a
// shorter log. That takes a fact kept elsewhere: [Log.Checkpoint] returns
// the last durable record's sequence number and hash; stored outside the
// log (another system, a ticket, a signed message) and passed back as
// [VerifyOptions].Checkpoint, it makes Verify report [KindTruncated] when
// the log ends before it and [KindModified] when that record changed.
// Without a key, a writer can recompute every hash after a change; only a
// checkpoint taken earlier reveals it. Use a key.
//
// [New] checks only the last record of a sink (syntax and hash under the
// given key) before continuing the chain, so opening a large log stays
// cheap; run VerifyFile to check the whole file. Verify allocates nothing
// per record and checks about a million records a second on one core.
//
// # Secrets
//
// Records hold plain strings, because the Log cannot know which substrings
// are secret. Keep credentials in [secret.Secret] values, which print,
// marshal and log as "[REDACTED]", and clean free text that may embed one —
// an error message quoting a URL with a SAS token — with [secret.Scrub] and
// [secret.Redact], or [Record.Redact], before it goes into a record.
// Options.Key is a secret.Secret too.
//
// # Errors
//
//   - [ErrInvalidRecord]: Append rejected the record (no action, unknown
//     decision or outcome, outcome "error" without a message, text that is
//     not UTF-8, more than [MaxRecordSize] bytes); nothing was stored and
//     no sequence number was used.
//   - [ErrSinkFailed]: a sink write failed. The error also wraps the sink's
//     error. The Log then refuses every further Append with the same error:
//     it fails closed, because after a failed write it no longer knows what
//     the sink holds. Close it, and open a new Log (for a file, OpenFile
//     again); it resumes after the last record actually stored. Records of
//     the failed write were never acknowledged, though some may have been
//     stored.
//   - [ErrClosed]: the Log was closed.
//   - [*VerifyError], matched by errors.Is(err, [ErrIntegrity]): a broken
//     chain, a malformed line, or, from New and OpenFile, a last record that
//     does not verify or parse.
//   - Context errors are returned as they are. When ctx ends while Append
//     waits for the sink, the record may still be stored; treat the
//     operation as not performed.
//
// # Concurrency
//
// A Log is safe for concurrent use. Append validates the caller's record
// and encodes its fields before it takes the Log's lock, so concurrent
// appenders do that work in parallel. Under the lock it only numbers the
// record, reads the clock, completes the encoding around the fields and
// hashes it (the hash covers the sequence number and time, which come
// first, and the previous record's hash, which comes last, so it cannot
// start any earlier). Sequence numbers are assigned in the order calls take
// the lock, strictly increasing without gaps, and times follow sequence
// order whenever the clock does not go back. Append returns only after the
// sink acknowledged the record. Appends that arrive while a write is in
// progress are grouped into the next write (group commit, up to
// Options.MaxBatch records), so a file log pays one fsync per group rather
// than per record; no caller is acknowledged before the write holding its
// record is durable. MemorySink and FileSink are safe for concurrent use; a
// Log never calls one sink method concurrently.
//
// # Crash safety
//
// FileSink acknowledges a write only after fsync, and makes a new file's
// directory entry durable when it creates it, so an acknowledged record
// survives a process or machine crash. A crash in the middle of a write
// can leave a partial last line; OpenFile cuts the file back to its last
// complete line (that line was never acknowledged) and syncs the cut before
// the Log appends. If the last complete line is not a valid record, the
// damage is not a crash's, and OpenFile refuses to open the file rather
// than cut into it. OpenFile also takes an exclusive flock on Unix, so a
// second process cannot interleave a second chain into the same file.
//
// # Testing
//
// MemorySink holds the exact bytes a file would, so tests can read them
// with Bytes or Records, tamper with them and feed them to Verify; Close on
// a MemorySink does nothing, and a new Log over it resumes the chain, as
// after a restart. Options.Clock makes records and hashes reproducible.
// The package's own tests kill a writing process with SIGKILL at random
// moments and check that every acknowledged record survives.
package audit
