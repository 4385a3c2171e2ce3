package provider_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/tideline-ml/tideline/provider"
)

// lyingReader returns the counts in ns, one per Read, whatever the size of
// the buffer it was given; it copies as many bytes as fit. After ns it
// returns io.EOF.
type lyingReader struct {
	ns   []int
	next byte
}

func (r *lyingReader) Read(p []byte) (int, error) {
	if len(r.ns) == 0 {
		return 0, io.EOF
	}
	n := r.ns[0]
	r.ns = r.ns[1:]
	for i := range min(max(n, 0), len(p)) {
		p[i] = r.next
		r.next++
	}
	return n, nil
}

// TestContentReadRejectsImpossibleCounts: a reader that claimed more bytes
// than the buffer holds, or a negative count, made Content.Read panic while
// slicing the buffer to hash it. It must return an Internal error instead,
// keep returning it, and never count or hash the bytes it cannot have.
func TestContentReadRejectsImpossibleCounts(t *testing.T) {
	for _, bad := range []int{9, 1 << 20, -1} {
		t.Run(fmt.Sprint(bad), func(t *testing.T) {
			c := provider.NewContent(&lyingReader{ns: []int{3, bad, 2}}, nil)
			buf := make([]byte, 8)
			if n, err := c.Read(buf); n != 3 || err != nil {
				t.Fatalf("first Read = %d, %v", n, err)
			}
			n, err := c.Read(buf)
			if n != 0 || provider.CodeOf(err) != provider.Internal {
				t.Fatalf("Read of a count of %d = %d, %v; want 0 and an Internal error", bad, n, err)
			}
			if c.Size() != 3 || c.Done() {
				t.Errorf("after the bad read: Size %d, Done %v; want 3, false", c.Size(), c.Done())
			}
			if _, again := c.Read(buf); !errors.Is(again, err) {
				t.Errorf("the next Read = %v, want the same error", again)
			}
			if derr := c.Drain(); provider.CodeOf(derr) != provider.Internal {
				t.Errorf("Drain = %v, want the Internal error", derr)
			}
		})
	}
}

// FuzzContentRead reads through Content from a reader whose counts come
// from the fuzzer, some of them impossible. Content must never panic; while
// every count is possible its size and digest must match the bytes it
// returned, and the first impossible one must end the stream with an
// Internal error.
func FuzzContentRead(f *testing.F) {
	f.Add([]byte{10, 20, 0, 5}, uint8(16))
	f.Add([]byte{200, 1}, uint8(8))
	f.Add([]byte{3, 0x80}, uint8(4))
	f.Fuzz(func(t *testing.T, script []byte, size uint8) {
		bufSize := int(size%64) + 1
		ns := make([]int, len(script))
		for i, b := range script {
			ns[i] = int(int8(b)) // -128..127, against buffers of 1..64
		}
		c := provider.NewContent(&lyingReader{ns: ns}, nil)
		h := sha256.New()
		var total int64
		buf := make([]byte, bufSize)
		for i := 0; ; i++ {
			n, err := c.Read(buf)
			if n < 0 || n > len(buf) {
				t.Fatalf("Read returned %d for a buffer of %d", n, len(buf))
			}
			h.Write(buf[:n])
			total += int64(n)
			if err == io.EOF {
				if c.Size() != total || c.Digest() != provider.DigestString(h.Sum(nil)) {
					t.Fatalf("size %d and digest %s do not match the %d bytes returned", c.Size(), c.Digest(), total)
				}
				return
			}
			if err != nil {
				if provider.CodeOf(err) != provider.Internal {
					t.Fatalf("error %v has code %v, want Internal", err, provider.CodeOf(err))
				}
				if bad := ns[i]; bad >= 0 && bad <= len(buf) {
					t.Fatalf("Read failed on a possible count %d: %v", bad, err)
				}
				if c.Size() != total {
					t.Fatalf("size %d counts bytes never returned (%d)", c.Size(), total)
				}
				return
			}
		}
	})
}
