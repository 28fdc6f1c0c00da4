//go:build !unix

package password

import "time"

// cpuTime is not measured here: benchmarks then leave out CPU per hash.
func cpuTime() time.Duration { return 0 }
