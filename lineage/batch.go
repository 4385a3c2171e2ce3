package lineage

import (
	"context"
	"fmt"
	"slices"
)

// A Batch is a list of changes that Graph.Apply and FileStore.Apply record
// together. A FileStore writes a batch's changes to its journal with one
// write (and, with SyncWrites, one fsync), which is how a bulk load runs at
// hundreds of thousands of changes a second. The zero value is an empty
// batch ready to use; a Batch is not safe for concurrent use.
type Batch struct {
	ops []batchOp
}

type opKind uint8

const (
	opNode opKind = iota + 1
	opEdge
	opRetire
)

// batchOp is one change. Node changes hold their nodeSpec (sorted attrs);
// edges and retirements hold ids.
type batchOp struct {
	kind     opKind
	node     nodeSpec
	from, to string // edge
	edgeKind EdgeKind
	id       string // retire
}

// AddNode adds a node to the batch, with the meaning of Store.AddNode. The
// batch keeps a copy of n's attributes.
func (b *Batch) AddNode(n Node) { b.ops = append(b.ops, batchOp{kind: opNode, node: specOf(n)}) }

// AddEdge adds an edge to the batch, with the meaning of Store.AddEdge. Its
// endpoints may be nodes added earlier in the same batch.
func (b *Batch) AddEdge(e Edge) {
	b.ops = append(b.ops, batchOp{kind: opEdge, from: e.From, to: e.To, edgeKind: e.Kind})
}

// Retire adds a retirement to the batch, with the meaning of Store.Retire.
func (b *Batch) Retire(id string) { b.ops = append(b.ops, batchOp{kind: opRetire, id: id}) }

// Len returns the number of changes in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Reset empties the batch, keeping its memory for reuse.
func (b *Batch) Reset() {
	clear(b.ops)
	b.ops = b.ops[:0]
}

// batchError says which change of a batch was refused.
func batchError(i, n int, err error) error {
	if n == 1 {
		return err
	}
	return fmt.Errorf("batch change %d of %d refused, so none was recorded: %w", i+1, n, err)
}

// Apply records the batch's changes in order, as if each were made with the
// matching Store method, but all or nothing: every change is checked first
// (against the graph and the changes before it in the batch), and when one
// is refused the error names it and the graph is left as it was.
func (g *Graph) Apply(ctx context.Context, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	p := newPending()
	var undo undoLog
	changed := make([]bool, len(b.ops))
	for i := range b.ops {
		c, _, err := p.check(g, &b.ops[i], nil, &undo)
		if err != nil {
			return batchError(i, len(b.ops), err)
		}
		changed[i] = c
	}
	for i := range b.ops {
		if changed[i] {
			g.applyOpLocked(&b.ops[i])
		}
	}
	return nil
}

// applyOpLocked applies a change that was checked. A new node's attrs are
// copied, so the batch can be reused.
func (g *Graph) applyOpLocked(op *batchOp) {
	switch op.kind {
	case opNode:
		spec := op.node
		spec.attrs = slices.Clone(spec.attrs)
		g.applyNodeLocked(&spec)
	case opEdge:
		from, _ := g.index.get(op.from)
		to, _ := g.index.get(op.to)
		g.applyEdgeLocked(from, to)
	case opRetire:
		i, _ := g.index.get(op.id)
		g.meta[i] &^= metaLive
	}
}

// pending is the state of the nodes and edges that checked changes touch
// but that are not yet in the graph: the changes of a batch being checked,
// and a FileStore's changes queued for its journal but not yet written.
// Checking a change against it and the graph together gives the answer the
// graph would give once everything before the change is applied. Each entry
// remembers the commit that last touched it (nil for Graph.Apply), so that
// a change that depends on it waits for that commit.
type pending struct {
	nodes map[string]*pendingNode
	edges map[[2]string]*commit
}

// pendingNode is a node's whole state once queued changes are applied.
type pendingNode struct {
	kind  Kind
	live  bool
	attrs []string // never appended to in place: entries are replaced
	c     *commit
}

func newPending() *pending {
	return &pending{nodes: make(map[string]*pendingNode), edges: make(map[[2]string]*commit)}
}

// undoLog restores pending entries when a batch is refused part way.
type undoLog struct {
	nodes []undoNode
	edges [][2]string
}

type undoNode struct {
	id  string
	old *pendingNode // nil: the entry did not exist
}

func (p *pending) undo(u *undoLog) {
	for i := len(u.nodes) - 1; i >= 0; i-- {
		if n := u.nodes[i]; n.old == nil {
			delete(p.nodes, n.id)
		} else {
			p.nodes[n.id] = n.old
		}
	}
	for _, k := range u.edges {
		delete(p.edges, k)
	}
	u.nodes, u.edges = u.nodes[:0], u.edges[:0]
}

func (p *pending) setNode(id string, n *pendingNode, u *undoLog) {
	u.nodes = append(u.nodes, undoNode{id, p.nodes[id]})
	p.nodes[id] = n
}

// node returns the state of id: pending, or as the graph holds it.
func (p *pending) node(g *Graph, id string) (n *pendingNode, idx int32, found bool) {
	if n := p.nodes[id]; n != nil {
		return n, -1, true
	}
	i, ok := g.index.get(id)
	if !ok {
		return nil, -1, false
	}
	return nil, i, true
}

// check checks op against the pending state and the graph (g.mu held in
// either mode) and, when it changes something, records its effect in p
// under commit c, logging what it replaced in u. It reports whether op
// changes anything and, when it does not but depends on queued changes,
// the commit the caller must wait for before acknowledging it.
func (p *pending) check(g *Graph, op *batchOp, c *commit, u *undoLog) (changed bool, wait *commit, err error) {
	switch op.kind {
	case opNode:
		n := &op.node
		if err := n.validate(); err != nil {
			return false, nil, err
		}
		pn, i, found := p.node(g, n.id)
		var next pendingNode
		switch {
		case !found:
			if len(g.ids)+len(p.nodes) >= maxNodes {
				return false, nil, fmt.Errorf("lineage: cannot add node %q: the graph holds the maximum of %d nodes: %w", n.id, maxNodes, ErrInvalid)
			}
			p.setNode(n.id, &pendingNode{kind: n.kind, live: n.live, attrs: slices.Clip(n.attrs), c: c}, u)
			return true, nil, nil
		case pn != nil:
			if changed, err = checkExisting(n, pn.kind, pn.live, pn.attrs); err != nil || !changed {
				return false, pn.c, err
			}
			next = *pn
		default:
			m := g.meta[i]
			if changed, err = checkExisting(n, Kind(m&^metaLive), m&metaLive != 0, g.attrs[i]); err != nil || !changed {
				return false, nil, err
			}
			next = pendingNode{kind: Kind(m &^ metaLive), live: m&metaLive != 0, attrs: slices.Clip(g.attrs[i])}
		}
		next.live = next.live || n.live
		for j := 0; j < len(n.attrs); j += 2 {
			if _, ok := lookupAttr(next.attrs, n.attrs[j]); !ok {
				next.attrs = append(slices.Clip(next.attrs), n.attrs[j], n.attrs[j+1])
			}
		}
		next.c = c
		p.setNode(n.id, &next, u)
		return true, nil, nil

	case opEdge:
		fp, fi, ok := p.node(g, op.from)
		if !ok {
			return false, nil, errNoSource(op.from, op.to)
		}
		tp, ti, ok := p.node(g, op.to)
		if !ok {
			return false, nil, errNoTarget(op.from, op.to)
		}
		kindOf := func(pn *pendingNode, i int32) Kind {
			if pn != nil {
				return pn.kind
			}
			return Kind(g.meta[i] &^ metaLive)
		}
		if err := checkEdgeKinds(op.from, op.to, kindOf(fp, fi), kindOf(tp, ti), op.edgeKind); err != nil {
			return false, nil, err
		}
		key := [2]string{op.from, op.to}
		if pc, ok := p.edges[key]; ok {
			return false, pc, nil
		}
		// A pending entry for an endpoint that the graph already holds
		// still leaves the graph's edges valid for it.
		fi, fok := g.index.get(op.from)
		ti, tok := g.index.get(op.to)
		if fok && tok && g.hasEdgeLocked(fi, ti) {
			return false, nil, nil
		}
		p.edges[key] = c
		u.edges = append(u.edges, key)
		return true, nil, nil

	case opRetire:
		pn, i, ok := p.node(g, op.id)
		if !ok {
			return false, nil, fmt.Errorf("lineage: cannot retire %q: %w", op.id, ErrNotFound)
		}
		var kind Kind
		var live bool
		if pn != nil {
			kind, live = pn.kind, pn.live
		} else {
			kind, live = Kind(g.meta[i]&^metaLive), g.meta[i]&metaLive != 0
		}
		if kind != KindDeployment {
			return false, nil, fmt.Errorf("lineage: cannot retire %q: it is a %s and only deployments retire: %w", op.id, kind, ErrInvalid)
		}
		if !live {
			if pn != nil {
				return false, pn.c, nil
			}
			return false, nil, nil
		}
		var next pendingNode
		if pn != nil {
			next = *pn
		} else {
			next = pendingNode{kind: kind, attrs: slices.Clip(g.attrs[i])}
		}
		next.live, next.c = false, c
		p.setNode(op.id, &next, u)
		return true, nil, nil
	}
	return false, nil, fmt.Errorf("lineage: unknown batch change: %w", ErrInvalid)
}

// forget drops the entries that commit c was the last to touch, once c is
// applied to the graph: the graph now answers for them.
func (p *pending) forget(c *commit) {
	for _, id := range c.nodeIDs {
		if n := p.nodes[id]; n != nil && n.c == c {
			delete(p.nodes, id)
		}
	}
	for _, k := range c.edgeKeys {
		if p.edges[k] == c {
			delete(p.edges, k)
		}
	}
}
