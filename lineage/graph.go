package lineage

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Graph is the in-memory Store. The zero value is not usable; call NewGraph.
//
// Nodes are interned: each id maps once to an int32 index, and everything
// else lives in slices addressed by that index. Adjacency is a pair of
// []int32 per node (out and in); edges carry no payload because their kind
// follows from the kinds of their endpoints. This keeps a million-node graph
// compact and lets a traversal touch only integers until it builds the
// resulting paths.
type Graph struct {
	mu    sync.RWMutex
	index nodeIndex
	ids   []string
	meta  []uint8    // Kind in the low bits, metaLive when a deployment serves
	attrs [][]string // flat key, value pairs; nil when a node has none
	out   [][]int32
	in    [][]int32
	edges int
}

const metaLive = 0x80

// maxNodes is the most nodes a graph holds: indexes are int32.
const maxNodes = math.MaxInt32

// GraphOptions tunes a new Graph. The zero value is ready to use.
type GraphOptions struct {
	// ExpectedNodes pre-sizes the graph's tables. Bulk loads of a known
	// size run faster with it; the graph grows past it as needed.
	ExpectedNodes int
}

// NewGraph returns an empty graph. opts may be nil.
func NewGraph(opts *GraphOptions) *Graph {
	n := 0
	if opts != nil && opts.ExpectedNodes > 0 {
		n = opts.ExpectedNodes
	}
	return &Graph{
		index: newNodeIndex(n),
		ids:   make([]string, 0, n),
		meta:  make([]uint8, 0, n),
		attrs: make([][]string, 0, n),
		out:   make([][]int32, 0, n),
		in:    make([][]int32, 0, n),
	}
}

// Size returns the number of nodes and edges.
func (g *Graph) Size() (nodes, edges int) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.ids), g.edges
}

// AddNode implements Store.
func (g *Graph) AddNode(ctx context.Context, n Node) error {
	spec := specOf(n)
	g.mu.Lock()
	defer g.mu.Unlock()
	changed, err := g.checkNodeLocked(&spec)
	if err != nil || !changed {
		return err
	}
	g.applyNodeLocked(&spec)
	return nil
}

// nodeSpec is a node as the graph stores it: attributes as key, value pairs
// sorted by key, each key once. AddNode builds one from a Node; the journal
// loader builds one straight from a line, with no map in between.
type nodeSpec struct {
	kind  Kind
	id    string
	live  bool
	attrs []string

	// hash is id's hash in the graph's index when hashed is set, as the
	// journal loader computes it ahead of time; otherwise it is computed
	// when needed.
	hash   uint64
	hashed bool
}

// idHash returns n.id's hash in g's index.
func (g *Graph) idHash(n *nodeSpec) uint64 {
	if !n.hashed {
		n.hash, n.hashed = g.index.hash(n.id), true
	}
	return n.hash
}

// specOf returns n's nodeSpec. Its attrs are a new slice.
func specOf(n Node) nodeSpec {
	s := nodeSpec{kind: n.Kind, id: n.ID, live: n.Live}
	if len(n.Attrs) > 0 {
		s.attrs = make([]string, 0, 2*len(n.Attrs))
		for _, k := range sortedKeys(n.Attrs) {
			s.attrs = append(s.attrs, k, n.Attrs[k])
		}
	}
	return s
}

// checkNodeLocked reports whether adding n would change the graph, or why it
// must be refused. The caller holds g.mu in either mode.
func (g *Graph) checkNodeLocked(n *nodeSpec) (changed bool, err error) {
	if err := n.validate(); err != nil {
		return false, err
	}
	i, ok := g.index.find(n.id, g.idHash(n))
	if !ok {
		if len(g.ids) >= maxNodes {
			return false, fmt.Errorf("lineage: cannot add node %q: the graph holds the maximum of %d nodes: %w", n.id, maxNodes, ErrInvalid)
		}
		return true, nil
	}
	return checkExisting(n, Kind(g.meta[i]&^metaLive), g.meta[i]&metaLive != 0, g.attrs[i])
}

// checkExisting compares n with a recorded node of the same id.
func checkExisting(n *nodeSpec, kind Kind, live bool, have []string) (changed bool, err error) {
	if kind != n.kind {
		return false, fmt.Errorf("lineage: node %q is recorded as a %s, not a %s: %w", n.id, kind, n.kind, ErrConflict)
	}
	// A live node revives a retired deployment: the name was reused after a
	// delete, and the new deployment serves.
	changed = n.live && !live
	for j := 0; j < len(n.attrs); j += 2 {
		k, v := n.attrs[j], n.attrs[j+1]
		old, found := lookupAttr(have, k)
		if !found {
			changed = true
			continue
		}
		if old != v {
			return false, fmt.Errorf("lineage: node %q already has %s=%q, refusing %q; recorded facts are immutable, so record a new version instead: %w",
				n.id, k, old, v, ErrConflict)
		}
	}
	return changed, nil
}

// applyNodeLocked records a node that checkNodeLocked accepted and returns
// its index. A new node takes n.attrs as it is; the caller must not change
// it afterwards.
func (g *Graph) applyNodeLocked(n *nodeSpec) int32 {
	i, ok := g.index.find(n.id, g.idHash(n))
	if !ok {
		i = int32(len(g.ids))
		g.index.putHashed(n.id, i, n.hash)
		g.ids = append(g.ids, n.id)
		m := uint8(n.kind)
		if n.live {
			m |= metaLive
		}
		g.meta = append(g.meta, m)
		var kv []string
		if len(n.attrs) > 0 {
			kv = n.attrs[:len(n.attrs):len(n.attrs)]
		}
		g.attrs = append(g.attrs, kv)
		g.out = append(g.out, nil)
		g.in = append(g.in, nil)
		return i
	}
	if n.live {
		g.meta[i] |= metaLive
	}
	// Keys come sorted, which keeps Node's output and journals independent
	// of map order.
	for j := 0; j < len(n.attrs); j += 2 {
		if _, found := lookupAttr(g.attrs[i], n.attrs[j]); !found {
			g.attrs[i] = append(g.attrs[i], n.attrs[j], n.attrs[j+1])
		}
	}
	return i
}

func lookupAttr(kv []string, key string) (string, bool) {
	for j := 0; j+1 < len(kv); j += 2 {
		if kv[j] == key {
			return kv[j+1], true
		}
	}
	return "", false
}

func sortedKeys(m map[string]string) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// AddEdge implements Store.
func (g *Graph) AddEdge(ctx context.Context, e Edge) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	from, to, changed, err := g.checkEdgeLocked(e)
	if err != nil || !changed {
		return err
	}
	g.applyEdgeLocked(from, to)
	return nil
}

func (g *Graph) applyEdgeLocked(from, to int32) {
	g.out[from] = append(g.out[from], to)
	g.in[to] = append(g.in[to], from)
	g.edges++
}

// checkEdgeLocked resolves e's endpoints and reports whether e is new. The
// caller holds g.mu in either mode.
func (g *Graph) checkEdgeLocked(e Edge) (from, to int32, changed bool, err error) {
	from, ok := g.index.get(e.From)
	if !ok {
		return 0, 0, false, errNoSource(e.From, e.To)
	}
	to, ok = g.index.get(e.To)
	if !ok {
		return 0, 0, false, errNoTarget(e.From, e.To)
	}
	if err := checkEdgeKinds(e.From, e.To, Kind(g.meta[from]&^metaLive), Kind(g.meta[to]&^metaLive), e.Kind); err != nil {
		return 0, 0, false, err
	}
	return from, to, !g.hasEdgeLocked(from, to), nil
}

// hasEdgeLocked reports whether the edge from → to is recorded.
func (g *Graph) hasEdgeLocked(from, to int32) bool {
	// Scan whichever side is shorter: a popular dataset has many consumers
	// but each job reads few inputs, so duplicates are found in O(min degree)
	// without a per-edge set.
	if len(g.out[from]) <= len(g.in[to]) {
		return slices.Contains(g.out[from], to)
	}
	return slices.Contains(g.in[to], from)
}

func errNoSource(from, to string) error {
	return fmt.Errorf("lineage: edge %s → %s: source node %q is not recorded; add it with AddNode first: %w", from, to, from, ErrNotFound)
}

func errNoTarget(from, to string) error {
	return fmt.Errorf("lineage: edge %s → %s: target node %q is not recorded; add it with AddNode first: %w", from, to, to, ErrNotFound)
}

// checkEdgeKinds checks an edge between nodes of kinds fk and tk.
func checkEdgeKinds(from, to string, fk, tk Kind, kind EdgeKind) error {
	if from == to {
		return fmt.Errorf("lineage: edge %s → %s joins a node to itself: %w", from, to, ErrInvalid)
	}
	want := edgeKindFor(fk, tk)
	if kind == want {
		return nil
	}
	msg := fmt.Sprintf("lineage: edge %s → %s has kind %s, which goes %s", from, to, kind, edgeRule(kind))
	if want != 0 {
		msg += fmt.Sprintf("; a %s → %s edge is %s", fk, tk, want)
	} else {
		msg += fmt.Sprintf("; no edge may go from a %s to a %s (is it reversed?)", fk, tk)
	}
	return fmt.Errorf("%s: %w", msg, ErrInvalid)
}

// Retire implements Store.
func (g *Graph) Retire(ctx context.Context, id string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	i, changed, err := g.checkRetireLocked(id)
	if err != nil || !changed {
		return err
	}
	g.meta[i] &^= metaLive
	return nil
}

func (g *Graph) checkRetireLocked(id string) (i int32, changed bool, err error) {
	i, ok := g.index.get(id)
	if !ok {
		return 0, false, fmt.Errorf("lineage: cannot retire %q: %w", id, ErrNotFound)
	}
	if k := Kind(g.meta[i] &^ metaLive); k != KindDeployment {
		return 0, false, fmt.Errorf("lineage: cannot retire %q: it is a %s and only deployments retire: %w", id, k, ErrInvalid)
	}
	return i, g.meta[i]&metaLive != 0, nil
}

// Node implements Store.
func (g *Graph) Node(ctx context.Context, id string) (Node, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	i, ok := g.index.get(id)
	if !ok {
		return Node{}, fmt.Errorf("lineage: node %q: %w", id, ErrNotFound)
	}
	return g.nodeLocked(i), nil
}

func (g *Graph) nodeLocked(i int32) Node {
	n := Node{Kind: Kind(g.meta[i] &^ metaLive), ID: g.ids[i], Live: g.meta[i]&metaLive != 0}
	if kv := g.attrs[i]; len(kv) > 0 {
		n.Attrs = make(map[string]string, len(kv)/2)
		for j := 0; j+1 < len(kv); j += 2 {
			n.Attrs[kv[j]] = kv[j+1]
		}
	}
	return n
}

// Out implements Store.
func (g *Graph) Out(ctx context.Context, id string) ([]Edge, error) {
	return g.edgesOf(id, true)
}

// In implements Store.
func (g *Graph) In(ctx context.Context, id string) ([]Edge, error) {
	return g.edgesOf(id, false)
}

func (g *Graph) edgesOf(id string, out bool) ([]Edge, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	i, ok := g.index.get(id)
	if !ok {
		return nil, fmt.Errorf("lineage: node %q: %w", id, ErrNotFound)
	}
	adj := g.in[i]
	if out {
		adj = g.out[i]
	}
	edges := make([]Edge, len(adj))
	for j, k := range adj {
		from, to := k, i
		if out {
			from, to = i, k
		}
		edges[j] = Edge{
			From: g.ids[from],
			To:   g.ids[to],
			Kind: edgeKindFor(Kind(g.meta[from]&^metaLive), Kind(g.meta[to]&^metaLive)),
		}
	}
	return edges, nil
}
