package hist

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	// Every value must land in a bucket whose upper bound is at least the
	// value and within the promised relative error.
	for _, us := range []uint64{0, 1, 1023, 1024, 1025, 2047, 2048, 4095, 99_999, 1 << 20, 1<<31 - 1} {
		i := index(us)
		u := upper(i)
		if u < us {
			t.Errorf("value %d: bucket %d upper %d, want ≥ value", us, i, u)
		}
		if us >= linear && float64(u-us) > float64(us)/512 {
			t.Errorf("value %d: bucket upper %d, more than 1/512 above", us, u)
		}
		if i > 0 && upper(i-1) >= us {
			t.Errorf("value %d: previous bucket upper %d already covers it", us, upper(i-1))
		}
	}
	if got := index(1 << 40); got != buckets-1 {
		t.Errorf("huge value: bucket %d, want the last, %d", got, buckets-1)
	}
}

func TestQuantileAgainstSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var all []time.Duration
	for range 20_000 {
		d := time.Duration(r.ExpFloat64()*3000) * time.Microsecond
		h.Record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 1} {
		want := all[int(q*float64(len(all))+0.999999)-1]
		got := h.Quantile(q)
		if got < want || float64(got-want) > float64(want)/500+float64(time.Microsecond) {
			t.Errorf("q%.2f: got %v, want %v (within 0.2%% above)", q, got, want)
		}
	}
	if h.Max() != all[len(all)-1] {
		t.Errorf("max: got %v, want %v", h.Max(), all[len(all)-1])
	}
}

func TestMergeAndEmpty(t *testing.T) {
	var a, b Histogram
	if a.Quantile(0.5) != 0 {
		t.Errorf("empty quantile: got %v, want 0", a.Quantile(0.5))
	}
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	b.Record(5 * time.Millisecond)
	a.Merge(&b)
	// 3 ms is above the exact range: its bucket reaches 3.003 ms.
	if p50 := a.Quantile(0.5); a.Count() != 3 || a.Max() != 5*time.Millisecond || p50 < 3*time.Millisecond || p50 > 3006*time.Microsecond {
		t.Errorf("merged: count %d max %v p50 %v, want 3, 5ms, 3ms within 0.2%%", a.Count(), a.Max(), p50)
	}
}
