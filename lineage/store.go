package lineage

import "context"

// Store records the provenance graph.
//
// Writes are idempotent: adding a node or edge that is already recorded, or
// retiring a deployment twice, succeeds and changes nothing, so callers can
// retry after a crash without bookkeeping. Writes that contradict the record
// fail with ErrConflict. Implementations are safe for concurrent use.
//
// Graph keeps everything in memory; FileStore adds an append-only journal.
// Both also implement Querier, which the package-level query functions use
// when it is there.
type Store interface {
	// AddNode records n. When a node with n.ID exists, its kind must match
	// and any attribute both carry must have the same value (ErrConflict
	// otherwise); attributes new to the record are added. A live n revives
	// a retired deployment (a name reused after a delete serves again); a
	// node without Live never retires one — only Retire does. An invalid
	// node fails with ErrInvalid.
	AddNode(ctx context.Context, n Node) error

	// AddEdge records e. Both endpoints must exist (ErrNotFound), and
	// e.Kind must fit their kinds (ErrInvalid): consumed goes dataset → job,
	// produced job → dataset or model, derived dataset → dataset,
	// deployed-as model → deployment.
	AddEdge(ctx context.Context, e Edge) error

	// Retire marks a deployment as no longer serving. The node and its
	// edges stay, so upstream questions about it still have answers.
	// Retiring a node that is not a deployment fails with ErrInvalid.
	Retire(ctx context.Context, id string) error

	// Node returns a copy of the node with the given id, or ErrNotFound.
	Node(ctx context.Context, id string) (Node, error)

	// Out returns the edges leaving id (towards downstream nodes) in the
	// order they were added, or ErrNotFound.
	Out(ctx context.Context, id string) ([]Edge, error)

	// In returns the edges entering id (from upstream nodes) in the order
	// they were added, or ErrNotFound.
	In(ctx context.Context, id string) ([]Edge, error)
}

// Compile-time checks.
var (
	_ Store   = (*Graph)(nil)
	_ Querier = (*Graph)(nil)
	_ Store   = (*FileStore)(nil)
	_ Querier = (*FileStore)(nil)
)
