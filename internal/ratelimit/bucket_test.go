package ratelimit

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/clocktest"
)

func TestBuckets(t *testing.T) {
	c := clocktest.New(time.Unix(0, 0))
	b := NewBuckets(2, 4, c.Now)
	for i := range 4 {
		if ok, _ := b.Allow("a"); !ok {
			t.Fatalf("burst request %d refused", i+1)
		}
	}
	ok, wait := b.Allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: got %v %v, want refused with 500ms", ok, wait)
	}
	if ok, _ := b.Allow("b"); !ok {
		t.Fatal("another key shares the bucket")
	}
	c.Advance(500 * time.Millisecond)
	if ok, _ := b.Allow("a"); !ok {
		t.Fatal("not refilled at the rate")
	}
	c.Advance(time.Hour)
	for i := range 4 {
		if ok, _ := b.Allow("a"); !ok {
			t.Fatalf("refill capped wrong: request %d refused", i+1)
		}
	}
	if ok, _ := b.Allow("a"); ok {
		t.Fatal("refilled beyond the burst")
	}
}

// A flood of distinct addresses cannot grow memory without bound.
func TestBucketsBounded(t *testing.T) {
	c := clocktest.New(time.Unix(0, 0))
	b := NewBuckets(1, 1, c.Now)
	b.max = 1000
	for i := range 5000 {
		b.Allow(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if n := b.Len(); n > 1000 {
		t.Fatalf("tracking %d keys, want at most 1000", n)
	}
}
