package memprovider

import (
	"bytes"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// epoch is where fake clocks in these tests start.
var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// newFake returns a provider on a fake clock.
func newFake(t testing.TB, opts *Options) (*Provider, *FakeClock) {
	t.Helper()
	clock := NewFakeClock(epoch)
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Clock = clock
	return New(&o), clock
}

// wantCode fails the test unless err carries the wanted code.
func wantCode(t testing.TB, err error, want provider.Code) {
	t.Helper()
	if got := provider.CodeOf(err); got != want {
		t.Fatalf("got code %v (error: %v), want %v", got, err, want)
	}
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error (code %v): %v", provider.CodeOf(err), err)
	}
}

// pattern returns n deterministic bytes that do not repeat with any short
// period, so that a misplaced chunk shows up as a mismatch.
func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func contentOf(b []byte) *provider.Content {
	return provider.NewContent(bytes.NewReader(b), nil)
}
