package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run, printed as a table or encoded as JSON.
// Figures the tool could not measure are reported as unavailable (the
// *Known flags, or nil pointers), never as zero.
type Report struct {
	Legs          int            `json:"legs"`
	Conferences   int            `json:"conferences"`
	Established   int            `json:"established"`
	Failures      map[string]int `json:"failures,omitempty"`
	EndedByServer int            `json:"ended_by_server"`
	RampSeconds   float64        `json:"ramp_seconds"`
	WindowSeconds float64        `json:"window_seconds"`

	Server ServerFigures `json:"server"`
	Tool   ToolFigures   `json:"tool"`
	RTP    RTPFigures    `json:"rtp"`

	// SetupMS is the time from sending INVITE to receiving its 2xx.
	SetupMS *Dist `json:"setup_ms,omitempty"`
	// SIPRetransmissions counts requests sent again for want of a response
	// (INVITE timer A, BYE timer E) over the whole run.
	SIPRetransmissions uint64 `json:"sip_retransmissions"`
	// JoinMS is the time from sending INVITE to the first mixed packet.
	JoinMS *Dist `json:"join_ms,omitempty"`
	// JitterMS is the RFC 3550 interarrival jitter of each leg's received
	// mix at the end of the window, distributed over legs.
	JitterMS *Dist `json:"jitter_ms,omitempty"`
	// DelayMS is the bridge-added delay measured with the probe bursts.
	DelayMS        *Dist `json:"delay_ms,omitempty"`
	DelayUnmatched int   `json:"delay_unmatched"`
	// MixerTick is the server's mixer tick processing time over the window.
	MixerTick *TickFigures `json:"mixer_tick,omitempty"`

	// ServerCounters are the increases of the server's own roomgate_*_total
	// counters over the window (drops, overruns, concealment, timeouts...),
	// so the tool's view can be read next to the server's.
	ServerCounters map[string]float64 `json:"server_counters,omitempty"`

	Goals []Goal   `json:"goals"`
	Notes []string `json:"notes,omitempty"`
}

// ServerFigures are the server's resource costs over the window.
type ServerFigures struct {
	CPUKnown bool `json:"cpu_known"`
	// CoresUsed is CPU seconds per wall second.
	CoresUsed float64 `json:"cores_used"`
	// PercentCorePerLeg is the share of one core each participant costs.
	PercentCorePerLeg float64 `json:"percent_core_per_leg"`
	// LegsPerCore is established legs divided by cores used.
	LegsPerCore float64 `json:"legs_per_core"`
	MemKnown    bool    `json:"mem_known"`
	RSSBefore   uint64  `json:"rss_before_bytes"`
	RSSSteady   uint64  `json:"rss_steady_bytes"`
	// BytesPerLeg is (steady RSS - RSS before the legs) / established legs.
	BytesPerLeg float64 `json:"bytes_per_leg"`
	Source      string  `json:"source"` // "/proc" or "/metrics"
}

// ToolFigures are the load tool's own costs, to show it was not the
// bottleneck.
type ToolFigures struct {
	CoresUsed float64 `json:"cores_used"`
	// SendOverruns counts 20 ms frames a sender sent late or skipped.
	SendOverruns uint64 `json:"send_overruns"`
	SendErrors   uint64 `json:"send_errors"`
}

// RTPFigures sum the received mixes of all legs over the window.
type RTPFigures struct {
	Received     uint64 `json:"received"`
	Expected     uint64 `json:"expected"`
	Lost         uint64 `json:"lost"`
	Gaps         uint64 `json:"gaps"`
	GapPackets   uint64 `json:"gap_packets"`
	Reordered    uint64 `json:"reordered"`
	Duplicates   uint64 `json:"duplicates"`
	Late         uint64 `json:"late"`
	SSRCChanges  uint64 `json:"ssrc_changes"`
	LegsWithGaps int    `json:"legs_with_gaps"`
	LegsSilent   int    `json:"legs_silent"` // received nothing in the window
	// PerLegPerSecond is the mean rate of mixed packets a leg received;
	// a 20 ms mix must arrive at 50 per second even when its sequence
	// numbers have no gaps.
	PerLegPerSecond float64 `json:"per_leg_per_second"`
	BadPackets      uint64  `json:"bad_packets"`
	OtherPayloads   uint64  `json:"other_payload_types"`
}

// Dist summarises a distribution.
type Dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// TickFigures summarise the mixer tick histogram over the window.
type TickFigures struct {
	Count float64  `json:"count"`
	P50   Quantile `json:"p50_seconds"`
	P99   Quantile `json:"p99_seconds"`
	// OverBudget is the number of ticks above the 20 ms budget as far as the
	// buckets tell; OverBound is the bucket bound that count refers to.
	OverBudget float64 `json:"over_budget"`
	OverBound  float64 `json:"over_budget_bound_seconds"`
}

// jsonSeconds renders +Inf (an unbounded bucket) as null, which JSON can
// carry and float64 cannot.
type jsonSeconds float64

// MarshalJSON implements json.Marshaler.
func (s jsonSeconds) MarshalJSON() ([]byte, error) {
	f := float64(s)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// MarshalJSON implements json.Marshaler; an unbounded upper bucket bound is
// null.
func (q Quantile) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Value jsonSeconds `json:"value"`
		Lower jsonSeconds `json:"bucket_lower"`
		Upper jsonSeconds `json:"bucket_upper"`
	}{jsonSeconds(q.Value), jsonSeconds(q.Lower), jsonSeconds(q.Upper)})
}

// MarshalJSON implements json.Marshaler; an unbounded bound is null.
func (t TickFigures) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Count      float64     `json:"count"`
		P50        Quantile    `json:"p50_seconds"`
		P99        Quantile    `json:"p99_seconds"`
		OverBudget float64     `json:"over_budget"`
		OverBound  jsonSeconds `json:"over_budget_bound_seconds"`
	}{t.Count, t.P50, t.P99, t.OverBudget, jsonSeconds(t.OverBound)})
}

// Goal is one target of the performance goal and whether the run met it.
type Goal struct {
	Name     string  `json:"name"`
	Target   string  `json:"target"`
	Measured string  `json:"measured"`
	Known    bool    `json:"known"`
	Met      bool    `json:"met"`
	limit    float64 // internal: the threshold
}

// DefaultGoals are the targets of the performance goal for G.711 legs.
func DefaultGoals() []Goal {
	return []Goal{
		{Name: "legs per core", Target: ">= 1000", limit: 1000},
		{Name: "sequence gaps", Target: "0", limit: 0},
		{Name: "mix packet rate", Target: "50/s per leg", limit: 50},
		{Name: "mixer ticks over 20 ms", Target: "0", limit: 0},
		{Name: "bridge delay p99", Target: "<= 60 ms", limit: 60},
		{Name: "memory per leg", Target: "<= 100 KB", limit: 100 * 1024},
		{Name: "failed calls", Target: "0", limit: 0},
	}
}

// Missed reports whether a goal was measured and missed, or could not be
// measured at all.
func (r *Report) Missed() []Goal {
	var out []Goal
	for _, g := range r.Goals {
		if !g.Known || !g.Met {
			out = append(out, g)
		}
	}
	return out
}

func dist(v []float64) *Dist {
	if len(v) == 0 {
		return nil
	}
	slices.Sort(v)
	return &Dist{N: len(v), P50: percentile(v, 0.50), P99: percentile(v, 0.99), Max: v[len(v)-1]}
}

// percentile of sorted v by the nearest-rank method.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	r := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(r, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (e *engine) buildReport(r *Report, window time.Duration, before, start, end serverSample,
	startStats, endStats map[*leg]StreamSnapshot, overruns uint64) {
	r.WindowSeconds = window.Seconds()
	r.Established = len(e.legs)
	if len(e.failures) > 0 {
		r.Failures = e.failures
	}
	n := float64(r.Established)

	// Server.
	if start.cpuOK && end.cpuOK && n > 0 {
		r.Server.CPUKnown = true
		r.Server.CoresUsed = (end.cpu - start.cpu).Seconds() / end.at.Sub(start.at).Seconds()
		r.Server.PercentCorePerLeg = 100 * r.Server.CoresUsed / n
		if r.Server.CoresUsed > 0 {
			r.Server.LegsPerCore = n / r.Server.CoresUsed
		}
	}
	if before.rssOK && end.rssOK && n > 0 {
		r.Server.MemKnown = true
		r.Server.RSSBefore, r.Server.RSSSteady = before.rss, end.rss
		r.Server.BytesPerLeg = (float64(end.rss) - float64(before.rss)) / n
	}
	r.Server.Source = "/metrics"
	if e.cfg.ServerPID > 0 {
		r.Server.Source = "/proc"
	}

	// Tool.
	r.Tool.CoresUsed = (end.selfCPU - start.selfCPU).Seconds() / end.at.Sub(start.at).Seconds()
	r.Tool.SendOverruns = overruns

	// RTP.
	var joins, setups, jitters, delays []float64
	for _, l := range e.legs {
		r.Tool.SendErrors += l.sendErrs.Load()
		if ended, _ := l.dialog.Ended(); ended {
			r.EndedByServer++
		}
		l.mu.Lock()
		if l.firstRx {
			joins = append(joins, ms(l.join))
		}
		setups = append(setups, ms(l.setup))
		for _, d := range l.delays {
			delays = append(delays, ms(d))
		}
		r.DelayUnmatched += l.unmatched
		r.RTP.BadPackets += l.badPackets
		r.RTP.OtherPayloads += l.otherPT
		l.mu.Unlock()

		w := endStats[l].Sub(startStats[l])
		if w.Received == 0 {
			r.RTP.LegsSilent++
		} else {
			jitters = append(jitters, w.JitterMS)
		}
		if w.Gaps > 0 {
			r.RTP.LegsWithGaps++
		}
		r.RTP.Received += w.Received
		r.RTP.Expected += w.Expected
		r.RTP.Gaps += w.Gaps
		r.RTP.GapPackets += w.GapPackets
		r.RTP.Reordered += w.Reordered
		r.RTP.Duplicates += w.Duplicates
		r.RTP.Late += w.Late
		r.RTP.SSRCChanges += w.SSRCChanges
		r.RTP.Lost += w.Lost()
	}
	if n > 0 && window > 0 {
		r.RTP.PerLegPerSecond = float64(r.RTP.Received-r.RTP.Duplicates) / n / window.Seconds()
	}
	r.SetupMS, r.JoinMS, r.JitterMS, r.DelayMS = dist(setups), dist(joins), dist(jitters), dist(delays)
	if nj := r.Established - len(joins); nj > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d established legs never received a packet", nj))
	}

	// Server counters.
	if start.counters != nil && end.counters != nil {
		r.ServerCounters = map[string]float64{}
		for k, v := range end.counters {
			r.ServerCounters[k] = v - start.counters[k]
		}
	}

	// Mixer ticks.
	switch {
	case start.tickOK && end.tickOK:
		h := end.tick.Sub(start.tick)
		tf := &TickFigures{Count: h.Count}
		tf.P50, _ = h.Quantile(0.50)
		tf.P99, _ = h.Quantile(0.99)
		tf.OverBudget, tf.OverBound = h.CountAbove(FrameDuration.Seconds())
		r.MixerTick = tf
	case end.tickErr != nil:
		r.Notes = append(r.Notes, "mixer tick histogram unavailable: "+end.tickErr.Error())
	}
	if !e.cfg.NoProbe && r.DelayMS == nil && r.Established > len(e.cfg.Conferences) {
		r.Notes = append(r.Notes, "no probe burst was detected: the probe may not have entered the mix (quieten the other legs with -talkers or -speech-level, or lower -detect-level)")
	}
	e.evaluateGoals(r)
}

func (e *engine) evaluateGoals(r *Report) {
	for i := range r.Goals {
		g := &r.Goals[i]
		switch g.Name {
		case "legs per core":
			if r.Server.CPUKnown && r.Server.CoresUsed > 0 {
				g.Known = true
				g.Measured = fmt.Sprintf("%.0f", r.Server.LegsPerCore)
				g.Met = r.Server.LegsPerCore >= g.limit
			}
		case "sequence gaps":
			if r.Established > 0 {
				g.Known = true
				g.Measured = fmt.Sprintf("%d gaps, %d lost, %d legs silent", r.RTP.Gaps, r.RTP.Lost, r.RTP.LegsSilent)
				g.Met = r.RTP.Gaps == 0 && r.RTP.Lost == 0 && r.RTP.LegsSilent == 0
			}
		case "mix packet rate":
			if r.Established > 0 && r.WindowSeconds > 0 {
				g.Known = true
				g.Measured = fmt.Sprintf("%.2f/s", r.RTP.PerLegPerSecond)
				// Window edges cost at most a packet or two per leg.
				g.Met = r.RTP.PerLegPerSecond >= g.limit*(1-2/(g.limit*r.WindowSeconds))
			}
		case "mixer ticks over 20 ms":
			if t := r.MixerTick; t != nil && t.Count > 0 {
				g.Known = true
				g.Measured = fmt.Sprintf("%.0f of %.0f (above %s)", t.OverBudget, t.Count, fmtSeconds(t.OverBound))
				g.Met = t.OverBudget == 0
			}
		case "bridge delay p99":
			if r.DelayMS != nil {
				g.Known = true
				g.Measured = fmt.Sprintf("%.1f ms", r.DelayMS.P99)
				g.Met = r.DelayMS.P99 <= g.limit
			}
		case "memory per leg":
			if r.Server.MemKnown {
				g.Known = true
				g.Measured = fmt.Sprintf("%.1f KB", r.Server.BytesPerLeg/1024)
				g.Met = r.Server.BytesPerLeg <= g.limit
			}
		case "failed calls":
			g.Known = true
			failed := 0
			for _, n := range r.Failures {
				failed += n
			}
			g.Measured = fmt.Sprintf("%d (+%d ended by server)", failed, r.EndedByServer)
			g.Met = failed == 0 && r.EndedByServer == 0
		}
		if !g.Known {
			g.Measured = "unavailable"
		}
	}
}

func fmtSeconds(s float64) string {
	if math.IsInf(s, 1) {
		return "+Inf"
	}
	return fmt.Sprintf("%.3g ms", s*1000)
}

func fmtQuantile(q Quantile) string {
	if math.IsInf(q.Upper, 1) {
		return fmt.Sprintf("> %s (past the last bucket)", fmtSeconds(q.Lower))
	}
	return fmt.Sprintf("%s (bucket %s..%s)", fmtSeconds(q.Value), fmtSeconds(q.Lower), fmtSeconds(q.Upper))
}

func fmtDist(d *Dist, unit string) string {
	if d == nil {
		return "unavailable"
	}
	return fmt.Sprintf("p50 %.2f  p99 %.2f  max %.2f %s  (n=%d)", d.P50, d.P99, d.Max, unit, d.N)
}

// WriteTable writes the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	p("legs", "%d established of %d, %d conferences, ramp %.1f s, window %.1f s",
		r.Established, r.Legs, r.Conferences, r.RampSeconds, r.WindowSeconds)
	if len(r.Failures) > 0 {
		keys := make([]string, 0, len(r.Failures))
		for k := range r.Failures {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s: %d", k, r.Failures[k]))
		}
		p("failures", "%s", strings.Join(parts, "; "))
	}
	p("ended by server", "%d", r.EndedByServer)
	if r.Server.CPUKnown {
		p("server CPU", "%.3f cores = %.4f %% of a core per leg = %.0f legs per core (%s)",
			r.Server.CoresUsed, r.Server.PercentCorePerLeg, r.Server.LegsPerCore, r.Server.Source)
	} else {
		p("server CPU", "unavailable (give -server-pid, -http or -spawn)")
	}
	if r.Server.MemKnown {
		p("server memory", "%.1f MB before, %.1f MB steady = %.1f KB per leg (%s)",
			float64(r.Server.RSSBefore)/(1<<20), float64(r.Server.RSSSteady)/(1<<20), r.Server.BytesPerLeg/1024, r.Server.Source)
	} else {
		p("server memory", "unavailable")
	}
	p("tool CPU", "%.3f cores, %d send overruns, %d send errors", r.Tool.CoresUsed, r.Tool.SendOverruns, r.Tool.SendErrors)
	p("RTP received", "%.2f packets/s per leg; %d of %d expected: %d lost, %d gaps on %d legs, %d reordered, %d late, %d duplicates, %d SSRC changes, %d legs silent",
		r.RTP.PerLegPerSecond, r.RTP.Received, r.RTP.Expected, r.RTP.Lost, r.RTP.Gaps, r.RTP.LegsWithGaps, r.RTP.Reordered, r.RTP.Late,
		r.RTP.Duplicates, r.RTP.SSRCChanges, r.RTP.LegsSilent)
	if r.RTP.BadPackets+r.RTP.OtherPayloads > 0 {
		p("RTP other", "%d malformed, %d other payload types", r.RTP.BadPackets, r.RTP.OtherPayloads)
	}
	p("call setup", "%s, %d SIP retransmissions", fmtDist(r.SetupMS, "ms"), r.SIPRetransmissions)
	p("join time", "%s", fmtDist(r.JoinMS, "ms"))
	p("mix jitter", "%s", fmtDist(r.JitterMS, "ms"))
	p("bridge delay", "%s, %d unmatched detections", fmtDist(r.DelayMS, "ms"), r.DelayUnmatched)
	if t := r.MixerTick; t != nil && t.Count > 0 {
		p("mixer tick p50", "%s", fmtQuantile(t.P50))
		p("mixer tick p99", "%s", fmtQuantile(t.P99))
	} else {
		p("mixer tick", "unavailable")
	}
	if len(r.ServerCounters) > 0 {
		keys := make([]string, 0, len(r.ServerCounters))
		for k, v := range r.ServerCounters {
			// Traffic totals are in the RTP line already; show what went wrong.
			if v != 0 && !strings.Contains(k, "packets_") && !strings.Contains(k, "bytes_") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			p("server counter", "%s +%g", k, r.ServerCounters[k])
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "goal\ttarget\tmeasured\tresult")
	for _, g := range r.Goals {
		res := "MET"
		switch {
		case !g.Known:
			res = "UNKNOWN"
		case !g.Met:
			res = "MISSED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Name, g.Target, g.Measured, res)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	for _, n := range r.Notes {
		if _, err := fmt.Fprintln(w, "note:", n); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
	}
	return nil
}
