// Package azaudit stores Tideline's audit log in an Azure append blob, so
// that the chain also lives outside the machine that writes it. A [Sink]
// implements audit.Sink and audit.ReadableSink; the audit package knows
// nothing of Azure, and the Log does all encoding, numbering and hashing as
// it does for a file.
//
//	c, err := appendblob.NewClient("https://<account>.blob.core.windows.net/audit/tideline.jsonl", cred, nil)
//	...
//	sink, err := azaudit.New(ctx, c, nil)
//	...
//	log, err := audit.New(ctx, sink, &audit.Options{Key: key})
//
// # Writes
//
// A Write is one append block: the service adds a block whole or not at
// all, so a crash of the writer or of the connection leaves the log ending
// at the last whole write, which audit.Verify accepts. A write larger than
// MaxAppendSize (4 MiB) is cut between lines into several blocks; a
// failure between them leaves a prefix of whole records, never part of
// one, and the Log reports the write as failed (none of its records is
// acknowledged).
//
// Every append carries the blob's length as this writer knows it
// (If-Append-Position-Equal) and the block's MD5. So:
//
//   - a second writer, or a writer holding a stale view, is refused by the
//     service instead of interleaving its records: Write returns an error
//     with the code provider.Conflict, and the Log stops (audit.ErrSinkFailed).
//     Keep one writer per blob;
//   - an append whose answer was lost (the connection broke after the
//     service stored the block) is not stored twice: the SDK's retry is
//     refused because the blob grew, and Write then reads the blob's length
//     and the block back; when the blob grew by exactly this block and the
//     bytes are the ones sent, the write succeeded.
//
// An append blob cannot be cut, so the blob cannot repair a tail it did
// not write. New refuses a blob that ends in a partial line with an
// *audit.VerifyError (KindTorn), and audit.New refuses one whose last
// line is not a record of the chain. Either way the blob is evidence to
// keep, and the log goes on in a new blob.
//
// # Full blobs
//
// An append blob holds at most 50,000 blocks (MaxBlocks). With group
// commit a block carries every record that arrived while the previous
// append was in flight, but a quiet log spends one block per record. The
// Sink does not roll over on its own — which blob comes next, and who may
// create it, is a deployment's decision — so Write returns
// provider.ResourceExhausted before the blob is full, naming the blob.
// Blocks reports how full it is. To roll over: take the old Log's
// Checkpoint, close it, open a Sink and a Log on a new blob (a dated or
// numbered name), and make the first record of the new log carry the old
// blob's name and checkpoint in its attrs, so that a reader can walk from
// one chain to the one before.
//
// # In production: immutable storage
//
// A writer that holds a key or a role able to write the blob can also
// delete it and write a new, shorter chain. The chain makes a change
// visible only if the key is kept elsewhere (audit.Options.Key) or a
// checkpoint is kept elsewhere; the storage itself can make the change
// impossible:
//
//   - Put the log's container under a time-based retention policy (at the
//     container, or a version-level policy on the blob), and allow protected
//     append writes on it. While the retention interval runs, blobs can be
//     appended to but neither changed, overwritten nor deleted, by anyone,
//     including account owners. Lock the policy once tested: an unlocked
//     policy can still be shortened or removed.
//   - Or set a legal hold on the container (also with protected append
//     writes allowed) for as long as an investigation or a regulation
//     requires; it has no end date and lasts until it is cleared.
//   - Give the writing identity a role that can read and append (for
//     example a custom role with the blob read, write and add-data
//     actions) and nothing that deletes blobs or changes the container's
//     policies; keep the HMAC key (audit.Options.Key) in a key vault, out
//     of the storage account's reach.
//   - Turn on soft delete and versioning for the account as a second line,
//     and send the storage account's own diagnostic logs elsewhere.
//
// Azurite, the emulator the tests use, implements neither retention
// policies nor legal holds; the tests show the append semantics only.
//
// # Errors
//
// Errors carry the codes of package provider: Conflict for another
// writer, ResourceExhausted for a full blob, FailedPrecondition for a
// missing container or a blob of another type, PermissionDenied,
// Unavailable after the SDK's retries, and InvalidArgument for data that
// is not whole lines. Their text holds the blob's container and name and
// the service's status and error code, never a URL's query, a header or a
// credential.
package azaudit
