package lineage

import (
	"strconv"
	"testing"
)

// The node index grows from its smallest size, finds every id it holds by
// string and by bytes, and finds none it does not.
func TestNodeIndex(t *testing.T) {
	x := newNodeIndex(0)
	const n = 5000
	for i := range n {
		x.put("job:"+strconv.Itoa(i), int32(i))
	}
	if x.len() != n || len(x.slots) < 2*n {
		t.Fatalf("%d ids in %d slots, want %d in at least %d", x.len(), len(x.slots), n, 2*n)
	}
	for i := range n {
		id := "job:" + strconv.Itoa(i)
		if got, ok := x.get(id); !ok || got != int32(i) {
			t.Fatalf("get(%q) = %d, %v", id, got, ok)
		}
		if got, ok := x.findBytes([]byte(id), x.hashBytes([]byte(id))); !ok || got != int32(i) {
			t.Fatalf("findBytes(%q) = %d, %v", id, got, ok)
		}
		if _, ok := x.get("job:x" + strconv.Itoa(i)); ok {
			t.Fatalf("found job:x%d, which was never added", i)
		}
	}
	seen := 0
	x.all(func(id string, i int32) {
		if id != "job:"+strconv.Itoa(int(i)) {
			t.Errorf("all gave %q for %d", id, i)
		}
		seen++
	})
	if seen != n {
		t.Errorf("all gave %d ids, want %d", seen, n)
	}
}
