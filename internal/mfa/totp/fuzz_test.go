package totp

import (
	"strings"
	"testing"
	"time"
)

// FuzzVerify checks that Verify never panics, whatever the secret, code and
// times, and that whatever it accepts is a right, fresh code.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(seed20), "287082", int64(59), int64(0))
	f.Add([]byte(seed20), "287 082", int64(59), int64(0))
	f.Add([]byte{}, "", int64(0), int64(-1))
	f.Add([]byte("k"), "12345６", int64(-1), int64(-9223372036854775808))
	f.Add([]byte(seed20), "00000000", int64(9223372036854775807), int64(9223372036854775807))
	f.Fuzz(func(t *testing.T, secret []byte, code string, unix, last int64) {
		now := time.Unix(unix, 0)
		step, ok := Verify(secret, code, now, last)
		if !ok {
			return
		}
		current := Step(now)
		if step <= last || step < current-Skew || step > current+Skew {
			t.Fatalf("accepted step %d with last %d and current %d", step, last, current)
		}
		if got := strings.ReplaceAll(code, " ", ""); got != Code(secret, step) {
			t.Fatalf("accepted %q for step %d, whose code is %s", code, step, Code(secret, step))
		}
	})
}
