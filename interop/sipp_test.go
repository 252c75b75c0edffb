package interop

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sippOpts describe one sipp UAC run against the server.
type sippOpts struct {
	scenario  string // file name in testdata/sipp, or an absolute path (generated scenarios)
	service   string // -s: the request-URI user part (conference ID)
	target    string // host:port of the server
	transport string // -t: "u1" (default, UDP) or "t1" (TCP)
	calls     int    // -m: calls to place, then exit (default 1)
	limit     int    // -l: simultaneous calls (default calls)
	rate      int    // -r: new calls per second (default 10)
	pause     time.Duration
	keys      map[string]string // -key NAME VALUE, e.g. pcap
	timeout   time.Duration     // global -timeout, a failure when hit (default 60s)
	traceMsg  bool              // -trace_msg: keep every SIP message (small runs only)
	mediaBase int               // -mp: first media port; default a fresh block
}

// sippRun is a running sipp UAC.
type sippRun struct {
	p     *proc
	dir   string
	stats string
}

// sippResult is how a sipp run ended.
type sippResult struct {
	code  int               // 0 = all calls successful, 1 = some failed
	stats map[string]string // last row of the -trace_stat CSV
}

// count returns a numeric statistic, e.g. "SuccessfulCall(C)".
func (r sippResult) count(t testing.TB, name string) int {
	t.Helper()
	v, ok := r.stats[name]
	if !ok {
		t.Fatalf("sipp statistics have no %q column", name)
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		t.Fatalf("sipp statistic %s = %q: %v", name, v, err)
	}
	return n
}

// startSipp starts sipp bound to 127.0.0.1 only (SIP and media), with its
// statistics, errors and, optionally, messages traced into its own directory.
func startSipp(t testing.TB, o sippOpts) *sippRun {
	t.Helper()
	bin := requirePeer(t, "sipp")
	scenario := o.scenario
	var err error
	if !filepath.IsAbs(scenario) {
		scenario, err = filepath.Abs(filepath.Join("testdata", "sipp", o.scenario))
	}
	if err != nil {
		t.Fatalf("sipp scenario: %v", err)
	}
	if _, err := os.Stat(scenario); err != nil {
		t.Fatalf("sipp scenario: %v", err)
	}
	if o.transport == "" {
		o.transport = "u1"
	}
	if o.calls == 0 {
		o.calls = 1
	}
	if o.limit == 0 {
		o.limit = o.calls
	}
	if o.rate == 0 {
		o.rate = 10
	}
	if o.timeout == 0 {
		o.timeout = 60 * time.Second
	}
	if o.mediaBase == 0 {
		// [auto_media_port] steps by 4 per call (audio and video, RTP+RTCP).
		o.mediaBase = env.ports.take(t, 4*o.calls+8)
	}
	r := &sippRun{dir: t.TempDir()}
	r.stats = filepath.Join(r.dir, "stats.csv")
	args := []string{
		"-sf", scenario,
		"-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(o.mediaBase),
		"-t", o.transport,
		"-m", strconv.Itoa(o.calls), "-l", strconv.Itoa(o.limit), "-r", strconv.Itoa(o.rate),
		"-d", strconv.FormatInt(o.pause.Milliseconds(), 10),
		"-timeout", fmt.Sprintf("%ds", int(o.timeout.Seconds())), "-timeout_error",
		"-nostdin", "-trace_err", "-trace_stat", "-stf", r.stats, "-fd", "1",
	}
	if o.service != "" {
		args = append(args, "-s", o.service)
	}
	if o.traceMsg {
		args = append(args, "-trace_msg")
	}
	for k, v := range o.keys {
		args = append(args, "-key", k, v)
	}
	args = append(args, o.target)
	r.p = startProc(t, "sipp "+o.scenario, procOpts{dir: r.dir, logLines: 40}, bin, args...)
	t.Cleanup(func() {
		if t.Failed() {
			r.logTraces(t)
		}
	})
	return r
}

// logTraces logs sipp's error and message traces (their tails).
func (r *sippRun) logTraces(t testing.TB) {
	for _, pat := range []string{"*_errors.log", "*_messages.log"} {
		files, _ := filepath.Glob(filepath.Join(r.dir, pat))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if len(b) > 12000 {
				b = b[len(b)-12000:]
			}
			t.Logf("--- %s ---\n%s", filepath.Base(f), b)
		}
	}
}

// finish waits for sipp to exit and reads its final statistics.
func (r *sippRun) finish(t testing.TB, timeout time.Duration) sippResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code, err := r.p.wait(ctx)
	if err != nil {
		t.Fatalf("sipp: %v", err)
	}
	res := sippResult{code: code, stats: map[string]string{}}
	f, err := os.Open(r.stats)
	if err != nil {
		t.Fatalf("sipp exited %d without statistics: %v", code, err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.Comma = ';'
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("sipp statistics %s: %d rows, %v", r.stats, len(rows), err)
	}
	head, last := rows[0], rows[len(rows)-1]
	for i, h := range head {
		if i < len(last) {
			res.stats[h] = last[i]
		}
	}
	return res
}

// runSipp runs sipp to completion and checks that every call succeeded.
func runSipp(t testing.TB, o sippOpts) sippResult {
	t.Helper()
	res := startSipp(t, o).finish(t, 2*time.Minute)
	expectSippOK(t, res, max(o.calls, 1))
	return res
}

// expectSippOK checks sipp's exit code and its statistics: calls created,
// all successful, none failed.
func expectSippOK(t testing.TB, res sippResult, calls int) {
	t.Helper()
	created, ok, failed := res.count(t, "TotalCallCreated"), res.count(t, "SuccessfulCall(C)"), res.count(t, "FailedCall(C)")
	if res.code != 0 || created != calls || ok != calls || failed != 0 {
		t.Errorf("sipp exit code %d, %d calls created, %d successful, %d failed; want 0, %d, %d, 0",
			res.code, created, ok, failed, calls, calls)
	}
}
