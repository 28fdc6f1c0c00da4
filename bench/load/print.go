package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/latchauth/latch/bench/internal/result"
)

func printHeader(w io.Writer, rep *result.Report) {
	m, b := rep.Machine, rep.Baselines
	fmt.Fprintf(w, "machine    %d CPUs (%s), %.0f MiB, %s, load average %.2f\n", m.NumCPU, m.CPUModel, m.MemMiB, m.GoVersion, m.LoadAvg)
	fmt.Fprintf(w, "target     %s (%s, %s tokens", rep.Target.URL, rep.Target.Database, rep.Target.Alg)
	if rep.Target.PID != 0 {
		fmt.Fprintf(w, ", pid %d", rep.Target.PID)
	}
	fmt.Fprintln(w, ")")
	if s := rep.Server; s != nil {
		fmt.Fprintf(w, "start      %.0f ms to ready on an empty database, %.0f ms on restart; idle RSS %.1f MiB (peak during start %.1f MiB)\n",
			s.ColdReadyMS, s.ReadyMS, s.IdleRSSMiB, s.IdleHWMMiB)
	}
	if b.Argon2Single > 0 {
		fmt.Fprintf(w, "baseline   %s: %.1f hashes/s one at a time, %.1f/s on all CPUs\n", b.Argon2Params, b.Argon2Single, b.Argon2Parallel)
		fmt.Fprintf(w, "baseline   %s: %.0f checks/s and %.0f signatures/s one at a time; %.0f and %.0f on all CPUs\n",
			b.SigAlg, b.VerifySingle, b.SignSingle, b.VerifyParallel, b.SignParallel)
		fmt.Fprintf(w, "baseline   CPU time per operation: argon2id %.1f ms, %s check %.0f µs, signature %.0f µs\n",
			b.Argon2CPUUS/1000, b.SigAlg, b.VerifyCPUUS, b.SignCPUUS)
	}
	fmt.Fprintln(w)
}

func printRun(w io.Writer, rep *result.Report, r *result.Run) {
	title := fmt.Sprintf("%s  c=%d  %s", r.Scenario, r.Concurrency, rep.Target.Database)
	if r.Rate > 0 {
		title = fmt.Sprintf("%s  c=%d at %.0f/s offered (open loop)  %s", r.Scenario, r.Concurrency, r.Rate, rep.Target.Database)
	}
	switch {
	case r.Mix != "":
		title += "  mix " + r.Mix
	case r.VerifyMode != "":
		title += "  via " + r.VerifyMode
	}
	fmt.Fprintf(w, "== %s  (%.1f s measured after %.0f s warmup)\n", title, r.ElapsedS, r.WarmupS)
	rows := r.Kinds
	if len(rows) > 1 {
		rows = append(slices.Clone(rows), r.Total)
	}
	fmt.Fprintf(w, "   %-8s %9s %9s %10s %10s %9s %9s %9s %9s  %s\n", "kind", "requests", "ok", "req/s", "ok/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors")
	for _, s := range rows {
		fmt.Fprintf(w, "   %-8s %9d %9d %10.1f %10.1f %9.2f %9.2f %9.2f %9.2f  %s\n",
			s.Kind, s.Requests, s.OK, s.Rate, s.OKRate, s.P50MS, s.P90MS, s.P99MS, s.MaxMS, result.ErrorText(s.Errors, "none"))
	}
	for _, s := range rows {
		if s.Ratio > 0 && s.Kind != "total" {
			fmt.Fprintf(w, "   ratio    %s: %.3f × %s (%.1f/s)\n", s.Kind, s.Ratio, s.Baseline, s.BaselineRate)
		}
	}
	if r.CPUCost > 0 {
		fmt.Fprintf(w, "   cost     a successful request takes the CPU time of %.2f raw operations (%.0f µs each)\n", r.CPUCost, r.Total.BaselineCPUUS)
	}
	if r.ServerPeakRSSMiB > 0 {
		since := "this run"
		if !r.PeakReset {
			since = "since the server started"
		}
		fmt.Fprintf(w, "   server   peak RSS %.1f MiB over %s (%.1f MiB before)\n", r.ServerPeakRSSMiB, since, r.ServerRSSBeforeMiB)
	}
	fmt.Fprintf(w, "   cpu      server %.2f, load generator %.2f", r.ServerCPU, r.LoadCPU)
	if r.DBCPU > 0 {
		fmt.Fprintf(w, ", postgres %.2f", r.DBCPU)
	}
	fmt.Fprintf(w, ", other processes %.2f, stolen %.2f cores", r.OtherCPU, r.StealCPU)
	if r.ServerCPUPerReqUS > 0 {
		fmt.Fprintf(w, "; per request: server %.0f µs", r.ServerCPUPerReqUS)
		if r.DBCPUPerReqUS > 0 {
			fmt.Fprintf(w, ", postgres %.0f µs", r.DBCPUPerReqUS)
		}
	}
	if r.Relogins > 0 {
		fmt.Fprintf(w, "; %d re-logins after refused tokens", r.Relogins)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
}
