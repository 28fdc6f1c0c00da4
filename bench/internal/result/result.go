// Package result is the JSON that bench/load writes with -json and
// bench/report reads: one Report per load invocation. Both programs use
// these types so that the report can never misread a field the load
// generator renamed.
//
// Units are in the field names: rates per second, latencies in
// milliseconds, memory in MiB, CPU in cores (CPU-seconds per second of
// wall time).
package result

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Report is everything one invocation of bench/load measured.
type Report struct {
	Started string `json:"started"` // RFC 3339
	// Label names the build under test when a report compares several
	// (bench/run.sh's baseline); "" is the build of this checkout.
	Label     string    `json:"label,omitempty"`
	Machine   Machine   `json:"machine"`
	Target    Target    `json:"target"`
	Server    *Server   `json:"server,omitempty"` // when bench/load started latch itself
	Baselines Baselines `json:"baselines"`
	Runs      []Run     `json:"runs"`
}

// Machine describes where the figures were taken.
type Machine struct {
	NumCPU     int     `json:"num_cpu"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	CPUModel   string  `json:"cpu_model"`
	MemMiB     float64 `json:"mem_mib"`
	GoVersion  string  `json:"go_version"`
	// LoadAvg is /proc/loadavg's one-minute figure before the first run:
	// other work on a shared machine shows up here.
	LoadAvg float64 `json:"load_avg_1m"`
}

// Target is the latch under load.
type Target struct {
	URL      string `json:"url"`
	Database string `json:"database"` // "sqlite", "postgres", or "unknown" for -url
	PID      int    `json:"pid,omitempty"`
	Alg      string `json:"alg"` // the signing algorithm of its access tokens
	// ServerEnv lists the extra LATCH_* settings given with -server-env.
	ServerEnv []string `json:"server_env,omitempty"`
}

// Server holds what only a latch started by bench/load can tell.
type Server struct {
	// ColdReadyMS is from exec to the first /readyz 200 on an empty
	// database: migrations and signing-key generation included.
	ColdReadyMS float64 `json:"cold_ready_ms"`
	// ReadyMS is the same on a restart over the now-migrated database,
	// the start a deployment sees every time after the first.
	ReadyMS float64 `json:"ready_ms"`
	// IdleRSSMiB is VmRSS after that restart, before any load; IdleHWMMiB
	// is the peak of the start itself.
	IdleRSSMiB float64 `json:"idle_rss_mib"`
	IdleHWMMiB float64 `json:"idle_hwm_mib"`
	// FinalRSSMiB is VmRSS after every run ended.
	FinalRSSMiB float64 `json:"final_rss_mib"`
	// HashSlots and MemoryLimitMiB are how latch sized password hashing
	// (its hash.sizing start-up event): hashes at once, and the soft
	// memory limit it keeps to (0: none). Both 0 for a build that does
	// not log them.
	HashSlots      int     `json:"hash_slots,omitempty"`
	MemoryLimitMiB float64 `json:"memory_limit_mib,omitempty"`
}

// Baselines are the raw rates of the operations that bound latch's
// requests, measured at the start of the invocation on the same machine.
// Each run's ratios divide by the same parallel rate measured again just
// before that run (Stats.BaselineRate).
type Baselines struct {
	Argon2Params   string  `json:"argon2_params"`
	Argon2Single   float64 `json:"argon2_single_per_s"`
	Argon2Parallel float64 `json:"argon2_parallel_per_s"`
	SigAlg         string  `json:"sig_alg"`
	VerifySingle   float64 `json:"sig_verify_single_per_s"`
	VerifyParallel float64 `json:"sig_verify_parallel_per_s"`
	SignSingle     float64 `json:"sig_sign_single_per_s"`
	SignParallel   float64 `json:"sig_sign_parallel_per_s"`
	// CPU time of one operation, in microseconds, from the one-at-a-time
	// measurement.
	Argon2CPUUS float64 `json:"argon2_cpu_us"`
	VerifyCPUUS float64 `json:"sig_verify_cpu_us"`
	SignCPUUS   float64 `json:"sig_sign_cpu_us"`
}

// Run is one scenario at one concurrency.
type Run struct {
	Scenario    string `json:"scenario"`
	Concurrency int    `json:"concurrency"`
	// Rate is the offered load of an open-loop run, in requests per
	// second across all virtual users; 0 for a closed loop.
	Rate       float64 `json:"rate,omitempty"`
	Mix        string  `json:"mix,omitempty"`         // mixed only
	VerifyMode string  `json:"verify_mode,omitempty"` // verify only: http or direct
	WarmupS    float64 `json:"warmup_s"`
	ElapsedS   float64 `json:"elapsed_s"`
	// Total is every kind of request together; Kinds breaks it down (one
	// entry except for mixed).
	Total Stats   `json:"total"`
	Kinds []Stats `json:"kinds"`
	// Relogins counts sign-ins a virtual user made to recover from a
	// refused token; they are not in Total.
	Relogins int64 `json:"relogins"`

	// ServerPeakRSSMiB is VmHWM over this run alone when it could be reset
	// (PeakReset), otherwise since the process started.
	ServerRSSBeforeMiB float64 `json:"server_rss_before_mib,omitempty"`
	ServerPeakRSSMiB   float64 `json:"server_peak_rss_mib,omitempty"`
	PeakReset          bool    `json:"peak_reset"`
	// CPU use during the load, in cores. DB is every process named
	// postgres when latch runs on PostgreSQL (other users' queries
	// included); Other is the rest of the machine (other work on a shared
	// host); Steal is time the hypervisor gave to other guests.
	ServerCPU float64 `json:"server_cpu_cores"`
	LoadCPU   float64 `json:"load_cpu_cores"`
	DBCPU     float64 `json:"db_cpu_cores,omitempty"`
	OtherCPU  float64 `json:"other_cpu_cores"`
	StealCPU  float64 `json:"steal_cpu_cores"`
	// ServerCPUPerReqUS is the server's CPU time per request in
	// microseconds: unlike req/s, it hardly depends on how much of the
	// machine other processes took meanwhile.
	ServerCPUPerReqUS float64 `json:"server_cpu_per_req_us,omitempty"`
	DBCPUPerReqUS     float64 `json:"db_cpu_per_req_us,omitempty"`
	// CPUCost is the server's CPU time per successful answer (the
	// refused ones' CPU included) in raw operations of the run's baseline
	// (Total.BaselineCPUUS): 1.1 for a login means the hash is nine tenths
	// of its cost. It is the ratio's counterpart that other work on the
	// machine hardly moves. For verify, whose server is the load
	// generator, the generator's CPU counts.
	CPUCost float64 `json:"cpu_cost,omitempty"`
}

// Stats are the figures for one kind of request (or all of them).
type Stats struct {
	Kind     string `json:"kind"`
	Requests int64  `json:"requests"`
	OK       int64  `json:"ok"`
	// Errors counts non-success answers by status; "transport" counts
	// requests that got no answer.
	Errors map[string]int64 `json:"errors,omitempty"`
	Rate   float64          `json:"rate_per_s"`    // every answer
	OKRate float64          `json:"ok_rate_per_s"` // successful answers
	// Latency of successful answers only: a fast 503 must not make a
	// saturated server look quick.
	P50MS float64 `json:"p50_ms"`
	P90MS float64 `json:"p90_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
	// Baseline names the raw rate OKRate is compared with, BaselineRate
	// is that rate measured on all CPUs just before this run, and Ratio is
	// OKRate divided by it; empty and 0 when no raw operation bounds the
	// kind.
	Baseline     string  `json:"baseline,omitempty"`
	BaselineRate float64 `json:"baseline_per_s,omitempty"`
	Ratio        float64 `json:"ratio,omitempty"`
	// BaselineCPUUS is the CPU time of one such raw operation, measured
	// with BaselineRate.
	BaselineCPUUS float64 `json:"baseline_cpu_us,omitempty"`
}

// ErrorText writes the counts of Stats.Errors in order of their labels,
// "503×12 transport×1", or none when there are none, for both programs'
// tables.
func ErrorText(errors map[string]int64, none string) string {
	if len(errors) == 0 {
		return none
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(errors)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, errors[k]))
	}
	return strings.Join(parts, " ")
}
