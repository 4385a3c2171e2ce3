package memprovider

import (
	"testing"
	"time"
)

func TestFakeClock(t *testing.T) {
	c := NewFakeClock(epoch)
	if !c.Now().Equal(epoch) {
		t.Fatalf("Now = %v", c.Now())
	}
	woken := c.wait()
	c.Advance(90 * time.Second)
	if !c.Now().Equal(epoch.Add(90 * time.Second)) {
		t.Fatalf("Now after Advance = %v", c.Now())
	}
	select {
	case <-woken:
	default:
		t.Fatal("Advance did not close the wait channel")
	}
	c.Advance(0) // harmless with nobody waiting

	var zero FakeClock
	zero.Advance(time.Second)
	if got := zero.Now(); !got.Equal(time.Time{}.Add(time.Second)) {
		t.Fatalf("zero FakeClock after Advance = %v", got)
	}

	defer func() {
		if recover() == nil {
			t.Fatal("a negative Advance should panic")
		}
	}()
	c.Advance(-time.Second)
}
