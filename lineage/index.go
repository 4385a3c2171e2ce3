package lineage

import "hash/maphash"

// nodeIndex maps node ids to their indexes in a Graph. It is a hash table
// with open addressing (linear probing, at most half full) whose slots hold
// the id's string header, the index and 32 bits of the hash side by side,
// so a lookup usually reads one slot and then the id's bytes: two cache
// misses in a table too large for the cache, where a Go map reads a control
// word, a slot and the bytes. Opening a journal of a million nodes is
// mostly such lookups, one per edge endpoint.
//
// The hash is seeded per index (hash/maphash), so ids chosen to collide
// cannot be prepared in advance. Callers that know an id's hash (the
// journal loader computes it on another goroutine) pass it in.
type nodeIndex struct {
	seed  maphash.Seed
	slots []indexSlot
	mask  uint64
	n     int
}

type indexSlot struct {
	id  string // "" marks an empty slot: ids are never empty
	tag uint32 // the hash's high 32 bits
	i   int32
}

const minIndexSlots = 16

func newNodeIndex(expected int) nodeIndex {
	size := uint64(minIndexSlots)
	for size < 2*uint64(expected) {
		size <<= 1
	}
	return nodeIndex{seed: maphash.MakeSeed(), slots: make([]indexSlot, size), mask: size - 1}
}

func (x *nodeIndex) len() int { return x.n }

func (x *nodeIndex) hash(id string) uint64 { return maphash.String(x.seed, id) }

func (x *nodeIndex) hashBytes(id []byte) uint64 { return maphash.Bytes(x.seed, id) }

// get returns the index of id.
func (x *nodeIndex) get(id string) (int32, bool) {
	return x.find(id, x.hash(id))
}

// find returns the index of id, whose hash is h.
func (x *nodeIndex) find(id string, h uint64) (int32, bool) {
	tag := uint32(h >> 32)
	for p := h & x.mask; ; p = (p + 1) & x.mask {
		s := &x.slots[p]
		if s.id == "" {
			return 0, false
		}
		if s.tag == tag && s.id == id {
			return s.i, true
		}
	}
}

// findBytes is find for an id held as bytes; it does not allocate.
func (x *nodeIndex) findBytes(id []byte, h uint64) (int32, bool) {
	tag := uint32(h >> 32)
	for p := h & x.mask; ; p = (p + 1) & x.mask {
		s := &x.slots[p]
		if s.id == "" {
			return 0, false
		}
		if s.tag == tag && s.id == string(id) {
			return s.i, true
		}
	}
}

// touch reads the slot where a lookup of hash h starts, so that a lookup
// soon after finds it in the cache; it returns the slot's tag for the
// caller to keep, which keeps the read from being optimized away.
func (x *nodeIndex) touch(h uint64) uint32 { return x.slots[h&x.mask].tag }

// put adds id, which must not be in the index, with index i.
func (x *nodeIndex) put(id string, i int32) { x.putHashed(id, i, x.hash(id)) }

// putHashed is put for an id whose hash is h.
func (x *nodeIndex) putHashed(id string, i int32, h uint64) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	x.insert(indexSlot{id: id, i: i}, h)
	x.n++
}

func (x *nodeIndex) insert(s indexSlot, h uint64) {
	s.tag = uint32(h >> 32)
	p := h & x.mask
	for x.slots[p].id != "" {
		p = (p + 1) & x.mask
	}
	x.slots[p] = s
}

func (x *nodeIndex) grow() {
	old := x.slots
	x.slots = make([]indexSlot, 2*len(old))
	x.mask = uint64(len(x.slots)) - 1
	for _, s := range old {
		if s.id != "" {
			x.insert(s, x.hash(s.id))
		}
	}
}

// all calls f with every id and its index, in no particular order.
func (x *nodeIndex) all(f func(id string, i int32)) {
	for _, s := range x.slots {
		if s.id != "" {
			f(s.id, s.i)
		}
	}
}
