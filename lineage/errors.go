package lineage

import "errors"

// Sentinel errors. Every error returned by this package wraps at most one of
// them, so callers can branch with errors.Is and still read a message that
// names the node, edge, line or event at fault.
var (
	// ErrNotFound reports a node id that is not in the graph.
	ErrNotFound = errors.New("not found")

	// ErrInvalid reports input that can never succeed as given: a malformed
	// id, an edge whose kind does not fit its endpoints, an event missing a
	// required field.
	ErrInvalid = errors.New("invalid argument")

	// ErrConflict reports a write that contradicts what is already recorded,
	// such as a dataset version re-added with a different digest. Provenance
	// facts are immutable; record a new version instead.
	ErrConflict = errors.New("conflict")

	// ErrCorrupt reports a journal that cannot be replayed. A torn last line
	// is repaired silently and is not corruption; a bad line before the last
	// one is.
	ErrCorrupt = errors.New("corrupt journal")

	// ErrClosed reports use of a store or transport after Close.
	ErrClosed = errors.New("closed")

	// ErrQueueFull reports an event dropped because a transport's queue was
	// full. The drop is also counted in the transport's Stats.
	ErrQueueFull = errors.New("queue full")
)
