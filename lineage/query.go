package lineage

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Path is a chain of node ids from the node a query started at to a node it
// found, following edges backwards for Upstream and forwards for
// Downstream and Impact.
type Path []string

// End returns the node the path leads to, or "" for an empty path.
func (p Path) End() string {
	if len(p) == 0 {
		return ""
	}
	return p[len(p)-1]
}

// QueryOptions narrows a traversal. The zero value (or nil) walks the whole
// reachable graph and reports every node found.
type QueryOptions struct {
	// MaxDepth stops the walk after this many edges; 0 means no limit.
	MaxDepth int

	// Kinds, when not empty, reports only nodes of these kinds. The walk
	// still passes through nodes of other kinds.
	Kinds []Kind
}

// Querier answers provenance questions. Graph and FileStore implement it;
// the package-level Upstream, Downstream and Impact functions use it when a
// Store does, and walk the Store's edges otherwise.
//
// Each result holds one path per node found: the shortest one, with ties
// broken by the order in which edges were added. Results come in
// breadth-first order, so nearer nodes come first; the start node itself is
// not reported. Cycles (possible through derived edges) are walked once.
type Querier interface {
	// Upstream returns a path to every node id derives from, e.g.
	// deployment → model → job → dataset.
	Upstream(ctx context.Context, id string, opts *QueryOptions) ([]Path, error)

	// Downstream returns a path to every node derived from id.
	Downstream(ctx context.Context, id string, opts *QueryOptions) ([]Path, error)

	// Impact returns a path to every live deployment downstream of id,
	// which is the set of services a data-deletion request for that dataset
	// reaches. Retired deployments are left out.
	Impact(ctx context.Context, datasetID string) ([]Path, error)
}

// Upstream answers Querier.Upstream for any Store.
func Upstream(ctx context.Context, s Store, id string, opts *QueryOptions) ([]Path, error) {
	if q, ok := s.(Querier); ok {
		return q.Upstream(ctx, id, opts)
	}
	return walkStore(ctx, s, id, true, opts, nil)
}

// Downstream answers Querier.Downstream for any Store.
func Downstream(ctx context.Context, s Store, id string, opts *QueryOptions) ([]Path, error) {
	if q, ok := s.(Querier); ok {
		return q.Downstream(ctx, id, opts)
	}
	return walkStore(ctx, s, id, false, opts, nil)
}

// Impact answers Querier.Impact for any Store.
func Impact(ctx context.Context, s Store, datasetID string) ([]Path, error) {
	if q, ok := s.(Querier); ok {
		return q.Impact(ctx, datasetID)
	}
	return walkStore(ctx, s, datasetID, false, nil, func(n Node) bool {
		return n.Kind == KindDeployment && n.Live
	})
}

// Upstream implements Querier.
func (g *Graph) Upstream(ctx context.Context, id string, opts *QueryOptions) ([]Path, error) {
	return g.walk(ctx, id, true, opts, false)
}

// Downstream implements Querier.
func (g *Graph) Downstream(ctx context.Context, id string, opts *QueryOptions) ([]Path, error) {
	return g.walk(ctx, id, false, opts, false)
}

// Impact implements Querier.
func (g *Graph) Impact(ctx context.Context, datasetID string) ([]Path, error) {
	return g.walk(ctx, datasetID, false, nil, true)
}

// scratch is per-traversal working memory sized to the graph. Marks carry
// an epoch instead of a bool so that reusing the arrays needs no clearing.
type scratch struct {
	mark   []uint32
	parent []int32
	epoch  uint32
	queue  []int32
	found  []int32
}

// scratchPool holds *scratch for traversals of every graph. It lives
// outside Graph on purpose: the runtime keeps a used sync.Pool reachable
// until the second collection after its last use, and a pool inside a
// Graph would keep the whole graph alive that long after it was dropped.
// Scratch holds no reference to a graph, so sharing it is safe; one sized
// for a smaller graph is replaced.
var scratchPool sync.Pool

func getScratch(n int) *scratch {
	s, _ := scratchPool.Get().(*scratch)
	if s == nil || len(s.mark) < n {
		size := max(n+n/4, 1024)
		s = &scratch{mark: make([]uint32, size), parent: make([]int32, size)}
	}
	s.epoch++
	if s.epoch == 0 { // wrapped: old marks could collide with new epochs
		clear(s.mark)
		s.epoch = 1
	}
	s.queue, s.found = s.queue[:0], s.found[:0]
	return s
}

// ctxCheckEvery bounds how many nodes a traversal visits between looks at
// its context, keeping the check off the hot path.
const ctxCheckEvery = 4096

func (g *Graph) walk(ctx context.Context, id string, up bool, opts *QueryOptions, impact bool) ([]Path, error) {
	var maxDepth int
	var kinds uint32 // bit k set: report nodes of Kind k
	if opts != nil {
		if opts.MaxDepth < 0 {
			return nil, fmt.Errorf("lineage: query MaxDepth is %d; use 0 for no limit or a positive number of edges: %w", opts.MaxDepth, ErrInvalid)
		}
		maxDepth = opts.MaxDepth
		for _, k := range opts.Kinds {
			if !k.valid() {
				return nil, fmt.Errorf("lineage: query filters on %s, which is not a node kind: %w", k, ErrInvalid)
			}
			kinds |= 1 << k
		}
	}
	if impact {
		kinds = 1 << KindDeployment
	}

	g.mu.RLock()
	defer g.mu.RUnlock()
	start, ok := g.index.get(id)
	if !ok {
		return nil, fmt.Errorf("lineage: query from %q: %w", id, ErrNotFound)
	}
	adj := g.out
	if up {
		adj = g.in
	}

	s := getScratch(len(g.ids))
	defer scratchPool.Put(s)
	s.mark[start] = s.epoch
	s.parent[start] = -1
	s.queue = append(s.queue, start)

	for head, depth, levelEnd := 0, 0, 1; head < len(s.queue); head++ {
		if head == levelEnd {
			depth++
			levelEnd = len(s.queue)
		}
		if maxDepth > 0 && depth >= maxDepth {
			break
		}
		if head%ctxCheckEvery == ctxCheckEvery-1 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		v := s.queue[head]
		for _, w := range adj[v] {
			if s.mark[w] == s.epoch {
				continue
			}
			s.mark[w] = s.epoch
			s.parent[w] = v
			s.queue = append(s.queue, w)
			m := g.meta[w]
			if kinds != 0 && kinds&(1<<(m&^metaLive)) == 0 {
				continue
			}
			if impact && m&metaLive == 0 {
				continue
			}
			s.found = append(s.found, w)
		}
	}
	return g.pathsLocked(s), nil
}

// pathsLocked turns the parent links of the found nodes into paths. All
// paths share one backing array, so a query costs two allocations however
// many nodes it finds, and the strings are the graph's interned ids.
func (g *Graph) pathsLocked(s *scratch) []Path {
	if len(s.found) == 0 {
		return nil
	}
	total := 0
	for _, f := range s.found {
		for v := f; v >= 0; v = s.parent[v] {
			total++
		}
	}
	arena := make([]string, total)
	paths := make([]Path, len(s.found))
	off := 0
	for i, f := range s.found {
		n := 0
		for v := f; v >= 0; v = s.parent[v] {
			n++
		}
		p := arena[off : off+n : off+n]
		for v, j := f, n-1; v >= 0; v, j = s.parent[v], j-1 {
			p[j] = g.ids[v]
		}
		paths[i] = Path(p)
		off += n
	}
	return paths
}

// walkStore is the breadth-first walk over a Store that offers nothing
// faster than its edge lists. accept, when set, replaces opts.Kinds.
func walkStore(ctx context.Context, s Store, id string, up bool, opts *QueryOptions, accept func(Node) bool) ([]Path, error) {
	var maxDepth int
	var kinds []Kind
	if opts != nil {
		if opts.MaxDepth < 0 {
			return nil, fmt.Errorf("lineage: query MaxDepth is %d; use 0 for no limit or a positive number of edges: %w", opts.MaxDepth, ErrInvalid)
		}
		maxDepth, kinds = opts.MaxDepth, opts.Kinds
	}
	if accept == nil {
		accept = func(n Node) bool { return len(kinds) == 0 || slices.Contains(kinds, n.Kind) }
	}
	if _, err := s.Node(ctx, id); err != nil {
		return nil, err
	}
	parent := map[string]string{id: ""}
	var paths []Path
	level := []string{id}
	for depth := 0; len(level) > 0 && (maxDepth == 0 || depth < maxDepth); depth++ {
		var next []string
		for _, v := range level {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var edges []Edge
			var err error
			if up {
				edges, err = s.In(ctx, v)
			} else {
				edges, err = s.Out(ctx, v)
			}
			if err != nil {
				return nil, err
			}
			for _, e := range edges {
				w := e.To
				if up {
					w = e.From
				}
				if _, seen := parent[w]; seen {
					continue
				}
				parent[w] = v
				next = append(next, w)
				n, err := s.Node(ctx, w)
				if err != nil {
					return nil, err
				}
				if !accept(n) {
					continue
				}
				var p Path
				for u := w; u != ""; u = parent[u] {
					p = append(p, u)
				}
				slices.Reverse(p)
				paths = append(paths, p)
			}
		}
		level = next
	}
	return paths, nil
}
