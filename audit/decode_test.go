package audit

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// The word-at-a-time helpers below are checked against byte-at-a-time
// references for every byte value at every position, since a wrong carry
// or borrow shows only for particular values in particular places.

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

func TestNotHex(t *testing.T) {
	base := []byte("0123abcd")
	for pos := range 8 {
		for c := range 256 {
			w := append([]byte(nil), base...)
			w[pos] = byte(c)
			want := isLowerHex(byte(c))
			if got := notHex(binary.LittleEndian.Uint64(w)) == 0; got != want {
				t.Errorf("notHex(%q) == 0 is %v, want %v", w, got, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		var w [8]byte
		want := true
		for i := range w {
			w[i] = byte(rng.IntN(256))
			if rng.IntN(2) == 0 {
				w[i] = "0123456789abcdef"[rng.IntN(16)]
			}
			want = want && isLowerHex(w[i])
		}
		if got := notHex(binary.LittleEndian.Uint64(w[:])) == 0; got != want {
			t.Fatalf("notHex(%q) == 0 is %v, want %v", w, got, want)
		}
	}
}

func TestNotLayout(t *testing.T) {
	valid := []byte("2025-03-14T09:26:53.589793000Z")
	for _, w := range timeWords {
		for pos := range 8 {
			for c := range 256 {
				b := append([]byte(nil), valid[w.off:w.off+8]...)
				b[pos] = byte(c)
				l := timeLayout[w.off+pos]
				want := byte(c) == l || l == '0' && c >= '0' && c <= '9'
				if got := notLayout(binary.LittleEndian.Uint64(b), w.pattern, w.digits) == 0; got != want {
					t.Errorf("notLayout(%q) for %q == 0 is %v, want %v", b, timeLayout[w.off:w.off+8], got, want)
				}
			}
		}
	}
}

// TestNonPlainFindsFirstByte checks that nonPlain is zero exactly when all
// eight bytes are plain, and that its lowest set bit marks the first byte
// that is not, which the decoder jumps to.
func TestNonPlainFindsFirstByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	special := []byte{0, 1, 0x1f, 0x20, '"', '\\', 0x7f, 0x80, 0xff, '!', '#', '[', ']'}
	for range 200000 {
		var w [8]byte
		first := 8
		for i := range w {
			if rng.IntN(4) == 0 {
				w[i] = special[rng.IntN(len(special))]
			} else {
				w[i] = byte(0x20 + rng.IntN(0x60))
			}
			if first == 8 && !plain[w[i]] {
				first = i
			}
		}
		m := nonPlain(binary.LittleEndian.Uint64(w[:]))
		if first == 8 && m != 0 || first < 8 && (m == 0 || bits.TrailingZeros64(m)>>3 != first) {
			t.Fatalf("nonPlain(%q) = %#x, first byte needing a look is %d", w, m, first)
		}
	}
}

func TestEqualHex(t *testing.T) {
	a := []byte(goldenHMAC)
	if !equalHex(a, []byte(goldenHMAC)) {
		t.Fatal("equal hashes compare unequal")
	}
	for i := range a {
		b := []byte(goldenHMAC)
		b[i] ^= 1
		if equalHex(a, b) {
			t.Fatalf("hashes differing at byte %d compare equal", i)
		}
	}
	if equalHex(a, a[:63]) || equalHex(a[:63], a) {
		t.Fatal("hashes of different lengths compare equal")
	}
	if !equalHex(a[:5], []byte(goldenHMAC[:5])) || equalHex(a[:5], []byte("225b2")[:4]) {
		t.Fatal("short inputs compare wrongly")
	}
}
