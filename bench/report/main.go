// Command report turns the JSON of bench/load (-json) and the output of
// the Go micro-benchmarks into the Markdown report bench/run.sh writes:
// machine, commit, commands, the targets with what was measured
// against them, and every figure with its ratio to its baseline.
//
//	go run ./bench/report -commit abc1234 -micro micro.txt -commands cmds.txt sqlite.json flood.json pg.json
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/latchauth/latch/bench/internal/result"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	commit := fs.String("commit", "unknown", "the commit measured")
	micro := fs.String("micro", "", "output of go test -bench")
	commands := fs.String("commands", "", "file with the exact commands that produced the figures")
	took := fs.Duration("took", 0, "how long the whole measurement took")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("give the JSON files of bench/load -json")
	}
	var reps []result.Report
	for _, path := range fs.Args() {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var r result.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		reps = append(reps, r)
	}
	w := bufio.NewWriter(stdout)
	write(w, reps, *commit, *micro, *commands, *took)
	return w.Flush()
}

// found is a run with the report it came from.
type found struct {
	rep *result.Report
	run *result.Run
}

// find returns the closed-loop run of scenario at c clients on db.
func find(reps []result.Report, db, scenario string, c int) (found, bool) {
	return findAt(reps, db, scenario, c, 0)
}

// findAt returns the run of scenario at c clients on db with this offered
// rate (0: closed loop), by this checkout's build.
func findAt(reps []result.Report, db, scenario string, c int, rate float64) (found, bool) {
	return findBuild(reps, "", db, scenario, c, rate)
}

// findBuild is findAt for the build labelled label ("" for this
// checkout's).
func findBuild(reps []result.Report, label, db, scenario string, c int, rate float64) (found, bool) {
	for i := range reps {
		if reps[i].Target.Database != db || reps[i].Label != label {
			continue
		}
		for j := range reps[i].Runs {
			r := &reps[i].Runs[j]
			if r.Scenario == scenario && r.Concurrency == c && r.Rate == rate && (scenario != "verify" || r.VerifyMode == "http") {
				return found{&reps[i], r}, true
			}
		}
	}
	return found{}, false
}

func write(w io.Writer, reps []result.Report, commit, microPath, commandsPath string, took time.Duration) {
	m := reps[0].Machine
	date := reps[0].Started
	if t, err := time.Parse(time.RFC3339, date); err == nil {
		date = t.Format("2006-01-02 15:04 UTC")
	}
	fmt.Fprintf(w, "# latch performance report, %s\n\n", date)
	fmt.Fprintf(w, "- machine: %d CPUs (`nproc`), %s, %.1f GiB memory; load average %.2f before the first run\n", m.NumCPU, m.CPUModel, m.MemMiB/1024, m.LoadAvg)
	fmt.Fprintf(w, "- commit `%s`, %s\n", commit, m.GoVersion)
	if took > 0 {
		fmt.Fprintf(w, "- the whole measurement took %s\n", took.Round(time.Second))
	}
	paragraph(w,
		"- the load generator runs on the same cores as latch (and PostgreSQL), and the machine is shared",
		"  with other work: the CPU columns show where the cores went during each run. Figures move by",
		"  tens of percent from one run to the next here; the ratios to baselines taken just before each",
		"  run, and the CPU time per request, move less.",
	)

	if _, ok := find(reps, "sqlite", "refresh", 8); ok {
		writeTargets(w, reps)
	}
	writeMemory(w, reps)
	writeStart(w, reps)
	writeBaselines(w, reps)
	writeLoad(w, reps)
	if microPath != "" {
		writeMicro(w, microPath)
	}
	if commandsPath != "" {
		if b, err := os.ReadFile(commandsPath); err == nil {
			fmt.Fprintf(w, "## Commands\n\n```sh\n%s```\n", b)
		}
	}
}

// verdict says whether got meets a target and by how much.
func verdict(got, target float64, higherIsBetter bool, ok bool) string {
	switch {
	case !ok:
		return "not measured"
	case higherIsBetter && got >= target:
		return fmt.Sprintf("met (%.2f× the target)", got/target)
	case higherIsBetter:
		return fmt.Sprintf("**missed**: %.2f× the target (%.0f%% short)", got/target, 100*(1-got/target))
	case got <= target:
		return fmt.Sprintf("met (%.0f%% of the limit)", 100*got/target)
	default:
		return fmt.Sprintf("**missed**: %.2f× the limit", got/target)
	}
}

func writeTargets(w io.Writer, reps []result.Report) {
	heading(w, "Targets of issue 5")
	tableHeader(w, "target", "measured", "verdict")
	for _, sc := range []string{"login", "signup"} {
		f, ok := find(reps, "sqlite", sc, 8)
		var ratio, rate, base, cost float64
		if ok {
			ratio, rate, base, cost = f.run.Total.Ratio, f.run.Total.OKRate, f.run.Total.BaselineRate, f.run.CPUCost
		}
		fmt.Fprintf(w, "| %s ≥ 0.9 × parallel argon2id rate (SQLite, 8 clients) | %.1f/s vs %.1f hashes/s: %.2f× (CPU cost %.2f hashes a request) | %s |\n",
			sc, rate, base, ratio, cost, verdict(ratio, 0.9, true, ok && base > 0))
	}
	for _, db := range []struct {
		name  string
		scale float64
	}{{"sqlite", 1}, {"postgres", 2.0 / 3}} {
		for _, t := range []struct {
			sc   string
			rate float64
		}{{"refresh", 1500}, {"user", 6000}} {
			f, ok := find(reps, db.name, t.sc, 8)
			var got float64
			if ok {
				got = f.run.Total.OKRate
			}
			fmt.Fprintf(w, "| %s ≥ %.0f/s at 8 clients (%s) | %.0f/s | %s |\n", t.sc, t.rate*db.scale, db.name, got, verdict(got, t.rate*db.scale, true, ok))
		}
		for _, sc := range []string{"refresh", "user"} {
			f, ok := find(reps, db.name, sc, 64)
			var got float64
			if ok {
				got = f.run.Total.P99MS
			}
			limit := 20 / db.scale
			fmt.Fprintf(w, "| %s p99 < %.0f ms at 64 clients (%s) | %.1f ms | %s |\n", sc, limit, db.name, got, verdict(got, limit, false, ok))
		}
		// The same limit with the 64 clients offering the target rate on
		// a fixed schedule: a closed loop of 64 clients cannot show a p99
		// under 20 ms unless it serves more than 64/0.020 = 3,200 req/s.
		for _, t := range []struct {
			sc   string
			rate float64
		}{{"refresh", 1500}, {"user", 6000}} {
			rate := t.rate * db.scale
			f, ok := findAt(reps, db.name, t.sc, 64, rate)
			var got float64
			if ok {
				got = f.run.Total.P99MS
			}
			limit := 20 / db.scale
			fmt.Fprintf(w, "| %s p99 < %.0f ms at 64 clients offering %.0f/s, open loop (%s) | %.1f ms | %s |\n", t.sc, limit, rate, db.name, got, verdict(got, limit, false, ok))
		}
	}
	flood, ok := find(reps, "sqlite", "login", 400)
	var peak float64
	if ok {
		peak = flood.run.ServerPeakRSSMiB
	}
	fmt.Fprintf(w, "| peak RSS ≤ 300 MiB under 400 concurrent logins (SQLite) | %.1f MiB | %s |\n", peak, verdict(peak, 300, false, ok && peak > 0))
	for _, r := range reps {
		if r.Server == nil || r.Target.Database != "sqlite" {
			continue
		}
		fmt.Fprintf(w, "| idle RSS ≤ 30 MiB (SQLite, after start, before load) | %.1f MiB | %s |\n", r.Server.IdleRSSMiB, verdict(r.Server.IdleRSSMiB, 30, false, true))
		fmt.Fprintf(w, "| start to ready ≤ 300 ms (SQLite, restart) | %.0f ms (%.0f ms on an empty database) | %s |\n",
			r.Server.ReadyMS, r.Server.ColdReadyMS, verdict(r.Server.ReadyMS, 300, false, true))
		break
	}
	fmt.Fprintln(w)
	paragraph(w,
		"PostgreSQL's targets are two thirds of SQLite's: the rates times 2/3, the p99 limit times 3/2.",
		"A ratio above 1 means the baseline was taken while other work held more of the machine than",
		"during the run; the CPU cost is the steadier figure then.",
	)
}

func writeStart(w io.Writer, reps []result.Report) {
	heading(w, "Start and memory")
	tableHeader(w, "database", "runs", "ready, empty database", "ready, restart", "idle RSS", "peak RSS during start", "RSS after the runs")
	for _, r := range reps {
		if r.Server == nil {
			continue
		}
		s := r.Server
		var names []string
		for _, run := range r.Runs {
			name := fmt.Sprintf("%s@%d", run.Scenario, run.Concurrency)
			if run.Rate > 0 {
				name += fmt.Sprintf(" at %.0f/s", run.Rate)
			}
			names = append(names, name)
		}
		fmt.Fprintf(w, "| %s | %s | %.0f ms | %.0f ms | %.1f MiB | %.1f MiB | %.1f MiB |\n",
			dbName(&r), strings.Join(slices.Compact(names), ", "), s.ColdReadyMS, s.ReadyMS, s.IdleRSSMiB, s.IdleHWMMiB, s.FinalRSSMiB)
	}
	fmt.Fprintln(w)
	paragraph(w,
		"Ready is from exec to the first `GET /readyz` 200. Idle RSS is VmRSS right after the restart; each run's",
		"peak below is VmHWM reset just before that run's load (after its virtual users signed in).",
	)
}

func writeBaselines(w io.Writer, reps []result.Report) {
	heading(w, "Baselines")
	fmt.Fprintln(w, "Measured by the load generator at the start of each invocation (one line each), with the server idle.")
	fmt.Fprintln(w)
	tableHeader(w, "invocation", "argon2id one at a time", "argon2id, all CPUs", "signature check one / all", "signature one / all", "CPU per op: hash / check / signature")
	for _, r := range reps {
		b := r.Baselines
		if b.Argon2Single == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s, runs: %d | %.1f/s | %.1f/s | %s %.0f / %.0f per s | %s %.0f / %.0f per s | %.1f ms / %.0f µs / %.0f µs |\n",
			dbName(&r), len(r.Runs), b.Argon2Single, b.Argon2Parallel, b.SigAlg, b.VerifySingle, b.VerifyParallel, b.SigAlg, b.SignSingle, b.SignParallel,
			b.Argon2CPUUS/1000, b.VerifyCPUUS, b.SignCPUUS)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "argon2id uses latch's parameters (%s) through golang.org/x/crypto/argon2; the signature rates use\n", reps[0].Baselines.Argon2Params)
	paragraph(w,
		"crypto/ecdsa (or ed25519, rsa) on a token-sized input. Each run's ratio divides by the matching",
		"all-CPU rate measured again just before that run (the \"baseline\" column below).",
	)
}

func writeLoad(w io.Writer, reps []result.Report) {
	heading(w, "Load")
	paragraph(w,
		"Closed loop: each client sends its next request when the last is answered. Rates count successful",
		"answers per second; latencies are of successful answers. Ratio is ok/s over the baseline rate taken",
		"just before the run. CPU cost is latch's CPU time per successful answer (refused ones' included) in",
		"raw operations of that baseline",
		"(for verify, the load generator's, which hosts the middleware): other work on the machine moves it",
		"far less than the ratio, but it is rough (±20%: the baseline's per-operation CPU includes garbage",
		"collection and cache contention of its own). Cores: latch / load generator / every postgres process /",
		"the rest of the machine, over the run.",
	)
	tableHeader(w, "db", "scenario", "clients", "ok/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "baseline /s", "ratio", "CPU cost", "peak RSS MiB", "CPU µs/req latch (pg)", "cores latch / load / pg / other")
	for _, r := range reps {
		for _, run := range r.Runs {
			rows := run.Kinds
			if len(rows) > 1 {
				rows = append(slices.Clone(rows), run.Total)
			}
			for i, s := range rows {
				name := run.Scenario
				switch {
				case run.VerifyMode != "":
					name += " (" + run.VerifyMode + ")"
				case len(rows) > 1:
					name += ": " + s.Kind
				}
				cells := []string{
					dbName(&r), name, clients(&run), fmt.Sprintf("%.1f", s.OKRate),
					fmt.Sprintf("%.2f", s.P50MS), fmt.Sprintf("%.2f", s.P90MS), fmt.Sprintf("%.2f", s.P99MS), fmt.Sprintf("%.1f", s.MaxMS),
					result.ErrorText(s.Errors, "0"), "", "", "", "", "", "",
				}
				if s.BaselineRate > 0 {
					cells[9] = fmt.Sprintf("%.0f %s", s.BaselineRate, shortBaseline(s.Baseline))
					cells[10] = fmt.Sprintf("%.3f", s.Ratio)
				}
				if i == len(rows)-1 {
					if run.CPUCost > 0 {
						cells[11] = fmt.Sprintf("%.2f", run.CPUCost)
					}
					if run.ServerPeakRSSMiB > 0 {
						cells[12] = fmt.Sprintf("%.1f", run.ServerPeakRSSMiB)
					}
					if run.ServerCPUPerReqUS > 0 {
						cells[13] = fmt.Sprintf("%.0f", run.ServerCPUPerReqUS)
						if run.DBCPUPerReqUS > 0 {
							cells[13] += fmt.Sprintf(" (%.0f)", run.DBCPUPerReqUS)
						}
					}
					cells[14] = fmt.Sprintf("%.2f / %.2f / %.2f / %.2f", run.ServerCPU, run.LoadCPU, run.DBCPU, run.OtherCPU)
				}
				fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
			}
		}
	}
	fmt.Fprintln(w)
	for _, r := range reps {
		for _, run := range r.Runs {
			if run.Mix != "" {
				fmt.Fprintf(w, "The mixed scenario's blend is %s (relative weights, drawn at random per request).\n", run.Mix)
				fmt.Fprintln(w)
				return
			}
		}
	}
}

// dbName is the report's database, with the build's label when it is not
// this checkout's.
func dbName(r *result.Report) string {
	if r.Label != "" {
		return r.Target.Database + " (" + r.Label + ")"
	}
	return r.Target.Database
}

// Issue 15's memory scenario: 64 clients signing in, each argon2id
// working area 19 MiB.
const (
	memClients     = 64
	memAreaMiB     = 19
	memAbsoluteMiB = 80 // the figure at the default two slots
)

// memTarget is issue 15's bound on peak RSS under sign-in load: idle RSS
// and one and a half times the slots' working areas; at most 80 MiB at
// the default two slots. slots is 0 when the build did not say; then it
// has one per CPU, as latch did before it logged them.
func memTarget(r *result.Report) (limit float64, slots int) {
	slots = r.Server.HashSlots
	if slots == 0 {
		slots = r.Machine.GOMAXPROCS
	}
	limit = r.Server.IdleRSSMiB + 1.5*float64(slots)*memAreaMiB
	if slots == 2 {
		limit = min(limit, memAbsoluteMiB)
	}
	return limit, slots
}

// writeMemory reports issue 15's scenario: peak RSS while 64 clients sign
// in, against its target, with the sign-in rate against the parallel
// hash rate measured just before, for every build and database measured.
func writeMemory(w io.Writer, reps []result.Report) {
	rows := memoryRows(reps)
	if len(rows) == 0 {
		return
	}
	writeMemoryTargets(w, rows)
	writeMemoryBuilds(w, rows)
}

// memoryRow is one build's memory run on one database, with its run under
// a flood of logins when there was one.
type memoryRow struct {
	mem, flood found
	okFlood    bool
}

// memoryRows finds the memory runs, SQLite's before PostgreSQL's and, for
// each database, this checkout's build first, then the others as they came.
func memoryRows(reps []result.Report) []memoryRow {
	var rows []memoryRow
	labels := []string{""}
	for _, r := range reps {
		if !slices.Contains(labels, r.Label) {
			labels = append(labels, r.Label)
		}
	}
	for _, db := range []string{"sqlite", "postgres"} {
		for _, l := range labels {
			f, ok := findBuild(reps, l, db, "login", memClients, 0)
			if !ok || f.rep.Server == nil {
				continue
			}
			fl, okFl := findBuild(reps, l, db, "login", 400, 0)
			rows = append(rows, memoryRow{f, fl, okFl})
		}
	}
	return rows
}

// writeMemoryTargets holds this checkout's build to issue 15's targets.
func writeMemoryTargets(w io.Writer, rows []memoryRow) {
	heading(w, "Memory under sign-in load (issue 15)")
	tableHeader(w, "target", "measured", "verdict")
	for _, rw := range rows {
		r, run := rw.mem.rep, rw.mem.run
		if r.Label != "" {
			continue
		}
		limit, slots := memTarget(r)
		peak := run.ServerPeakRSSMiB
		fmt.Fprintf(w, "| peak RSS ≤ idle + 1.5 × %d slots × %d MiB, at most %d MiB at two slots, %d clients signing in for %.0f s (%s) | %.1f MiB (idle %.1f MiB: limit %.1f MiB) | %s |\n",
			slots, memAreaMiB, memAbsoluteMiB, memClients, run.ElapsedS, r.Target.Database, peak, r.Server.IdleRSSMiB, limit, verdict(peak, limit, false, peak > 0))
		ratio, base := run.Total.Ratio, run.Total.BaselineRate
		fmt.Fprintf(w, "| sign-in ≥ 0.9 × parallel argon2id rate during it (%s) | %.1f/s vs %.1f hashes/s: %.2f× (CPU cost %.2f hashes a sign-in) | %s |\n",
			r.Target.Database, run.Total.OKRate, base, ratio, run.CPUCost, verdict(ratio, 0.9, true, base > 0))
		fmt.Fprintf(w, "| idle RSS ≤ 30 MiB (%s) | %.1f MiB | %s |\n", r.Target.Database, r.Server.IdleRSSMiB, verdict(r.Server.IdleRSSMiB, 30, false, true))
		if rw.okFlood {
			p := rw.flood.run.ServerPeakRSSMiB
			fmt.Fprintf(w, "| peak RSS ≤ 300 MiB under 400 concurrent logins (%s) | %.1f MiB, %s | %s |\n",
				r.Target.Database, p, result.ErrorText(rw.flood.run.Total.Errors, "0"), verdict(p, 300, false, p > 0))
		}
	}
	fmt.Fprintln(w)
}

// writeMemoryBuilds is the table of every build's memory run.
func writeMemoryBuilds(w io.Writer, rows []memoryRow) {
	paragraph(w,
		"Every build measured, each on a fresh server; read the builds of one database against each other, as",
		"the machine's other work moves the rates between invocations (the ratio divides by a hash rate taken",
		"just before the run, the CPU cost by the CPU time of one hash).",
	)
	tableHeader(w, "db", "build", "slots", "memory limit", "idle RSS", "peak RSS", "target", "sign-ins/s", "hashes/s", "ratio", "CPU cost", "errors", "cores latch / other", "peak RSS, 400 logins")
	for _, rw := range rows {
		r, run := rw.mem.rep, rw.mem.run
		build := r.Label
		if build == "" {
			build = "this checkout"
		}
		limit, slots := memTarget(r)
		memLimit := "none"
		if r.Server.MemoryLimitMiB > 0 {
			memLimit = fmt.Sprintf("%.0f MiB", r.Server.MemoryLimitMiB)
		}
		slotText := fmt.Sprint(slots)
		if r.Server.HashSlots == 0 {
			slotText += " (CPUs)"
		}
		flood := "not measured"
		if rw.okFlood {
			flood = fmt.Sprintf("%.1f MiB", rw.flood.run.ServerPeakRSSMiB)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.1f MiB | %.1f MiB | %.1f MiB: %s | %.1f | %.1f | %.3f | %.2f | %s | %.2f / %.2f | %s |\n",
			r.Target.Database, build, slotText, memLimit, r.Server.IdleRSSMiB, run.ServerPeakRSSMiB, limit,
			verdict(run.ServerPeakRSSMiB, limit, false, run.ServerPeakRSSMiB > 0), run.Total.OKRate, run.Total.BaselineRate,
			run.Total.Ratio, run.CPUCost, result.ErrorText(run.Total.Errors, "0"), run.ServerCPU, run.OtherCPU, flood)
	}
	fmt.Fprintln(w)
}

func shortBaseline(s string) string {
	switch {
	case strings.HasPrefix(s, "argon2id"):
		return "hashes"
	case strings.Contains(s, "checks"):
		return "checks"
	case strings.Contains(s, "signatures"):
		return "signs"
	}
	return s
}

// writeMicro tabulates go test -bench output: one row per benchmark with
// its package, ns/op, B/op, allocs/op and any custom metric.
func writeMicro(w io.Writer, path string) {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(w, "## Micro-benchmarks\n\n(unreadable: %v)\n\n", err)
		return
	}
	defer f.Close()
	heading(w, "Micro-benchmarks")
	tableHeader(w, "package", "benchmark", "ns/op", "B/op", "allocs/op", "other")
	pkg := ""
	var skipped []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(rest, "github.com/latchauth/latch/")
			continue
		}
		if strings.Contains(line, "[no test files]") || strings.HasPrefix(line, "ok ") {
			continue
		}
		if strings.Contains(line, "SKIP") || strings.Contains(line, "skipping") {
			skipped = append(skipped, strings.TrimSpace(line))
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		vals := map[string]string{}
		var other []string
		for i := 2; i+1 < len(fields); i += 2 {
			switch unit := fields[i+1]; unit {
			case "ns/op", "B/op", "allocs/op":
				vals[unit] = fields[i]
			default:
				other = append(other, fields[i]+" "+unit)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", pkg, fields[0], vals["ns/op"], vals["B/op"], vals["allocs/op"], strings.Join(other, ", "))
	}
	fmt.Fprintln(w)
	if len(skipped) > 0 {
		fmt.Fprintf(w, "Skipped: %s\n\n", strings.Join(slices.Compact(skipped), "; "))
	}
}

// clients is the load column: the number of clients, and the offered
// rate of an open-loop run.
func clients(r *result.Run) string {
	if r.Rate > 0 {
		return fmt.Sprintf("%d at %.0f/s", r.Concurrency, r.Rate)
	}
	return fmt.Sprint(r.Concurrency)
}

// paragraph writes lines, then the blank line that ends a Markdown
// paragraph.
func paragraph(w io.Writer, lines ...string) {
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
}

// tableHeader writes the first two lines of a Markdown table: the column
// names and the line under them.
func tableHeader(w io.Writer, columns ...string) {
	fmt.Fprintln(w, "| "+strings.Join(columns, " | ")+" |")
	fmt.Fprintln(w, "|"+strings.Repeat("---|", len(columns)))
}

// heading writes a second-level Markdown heading and the blank line after
// it.
func heading(w io.Writer, title string) {
	fmt.Fprintf(w, "## %s\n\n", title)
}
