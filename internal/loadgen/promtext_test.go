package loadgen

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

const metricsText = `# HELP roomgate_mixer_tick_seconds Processing time of one 20 ms mixer tick of one room.
# TYPE roomgate_mixer_tick_seconds histogram
roomgate_mixer_tick_seconds_bucket{le="0.0001"} 10
roomgate_mixer_tick_seconds_bucket{le="0.001"} 60
roomgate_mixer_tick_seconds_bucket{le="0.01"} 90
roomgate_mixer_tick_seconds_bucket{le="0.02"} 99
roomgate_mixer_tick_seconds_bucket{le="+Inf"} 100
roomgate_mixer_tick_seconds_sum 0.5
roomgate_mixer_tick_seconds_count 100
process_cpu_seconds_total 12.5
process_resident_memory_bytes 3.2e+07 1700000000000
go_info{version="go1.26 \"x\"\\y\n"} 1
`

func TestParseMetricsAndHistogram(t *testing.T) {
	s, err := ParseMetrics([]byte(metricsText))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := Value(s, "process_cpu_seconds_total"); !ok || v != 12.5 {
		t.Errorf("cpu = %v %v", v, ok)
	}
	if v, ok := Value(s, "process_resident_memory_bytes"); !ok || v != 32e6 {
		t.Errorf("rss = %v %v", v, ok)
	}
	if _, ok := Value(s, "nope"); ok {
		t.Error("found a missing metric")
	}
	if got := s[len(s)-1].Label("version"); got != "go1.26 \"x\"\\y\n" {
		t.Errorf("escaped label = %q", got)
	}
	h, err := HistogramFrom(s, "roomgate_mixer_tick_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if h.Count != 100 || len(h.Bounds) != 5 || !math.IsInf(h.Bounds[4], 1) {
		t.Fatalf("histogram %+v", h)
	}
	// p50: rank 50 lies in (0.0001, 0.001] holding 50 observations from 10:
	// 0.0001 + 0.0009·40/50.
	q, ok := h.Quantile(0.5)
	if !ok || math.Abs(q.Value-0.00082) > 1e-12 || q.Lower != 0.0001 || q.Upper != 0.001 {
		t.Errorf("p50 = %+v", q)
	}
	q, _ = h.Quantile(0.99)
	if math.Abs(q.Value-0.02) > 1e-12 || q.Upper != 0.02 {
		t.Errorf("p99 = %+v", q)
	}
	// p99.5 lies past the last finite bound: only the bound is known.
	q, _ = h.Quantile(0.995)
	if q.Value != 0.02 || !math.IsInf(q.Upper, 1) {
		t.Errorf("p99.5 = %+v", q)
	}
	if js, err := json.Marshal(TickFigures{P99: q, OverBound: math.Inf(1)}); err != nil ||
		!strings.Contains(string(js), `"bucket_upper":null`) || !strings.Contains(string(js), `"over_budget_bound_seconds":null`) {
		t.Errorf("JSON of an unbounded quantile: %s %v", js, err)
	}
	if n, b := h.CountAbove(0.02); n != 1 || b != 0.02 {
		t.Errorf("above 20 ms: %v (bound %v)", n, b)
	}
	if n, b := h.CountAbove(0.015); n != 1 || b != 0.02 {
		t.Errorf("above 15 ms: %v (bound %v), want the next bucket's count", n, b)
	}
	if _, ok := (Histogram{}).Quantile(0.5); ok {
		t.Error("quantile of an empty histogram")
	}
	if _, err := HistogramFrom(s, "missing"); !errors.Is(err, ErrNoHistogram) {
		t.Errorf("missing histogram: %v", err)
	}
}

func TestHistogramWindowAndSeries(t *testing.T) {
	// Two series (two rooms) are summed; the window is the difference.
	before, err := ParseMetrics([]byte(`
h_bucket{room="a",le="0.001"} 5
h_bucket{room="a",le="0.02"} 5
h_bucket{room="a",le="+Inf"} 5
h_count{room="a"} 5
`))
	if err != nil {
		t.Fatal(err)
	}
	after, err := ParseMetrics([]byte(`
h_bucket{room="a",le="0.001"} 105
h_bucket{room="a",le="0.02"} 105
h_bucket{room="a",le="+Inf"} 105
h_count{room="a"} 105
h_bucket{room="b",le="0.001"} 0
h_bucket{room="b",le="0.02"} 90
h_bucket{room="b",le="+Inf"} 100
h_count{room="b"} 100
`))
	if err != nil {
		t.Fatal(err)
	}
	h0, _ := HistogramFrom(before, "h")
	h1, _ := HistogramFrom(after, "h")
	w := h1.Sub(h0)
	if w.Count != 200 || w.Counts[0] != 100 || w.Counts[1] != 190 || w.Counts[2] != 200 {
		t.Fatalf("window %+v", w)
	}
	if n, _ := w.CountAbove(0.02); n != 10 {
		t.Errorf("over budget %v, want 10", n)
	}
	q, _ := w.Quantile(0.5)
	if q.Upper != 0.001 {
		t.Errorf("p50 %+v", q)
	}
}

func TestParseMetricsErrors(t *testing.T) {
	for _, bad := range []string{
		"{} 1",
		"x{a=\"1\" 1",
		"x{a=1} 1",
		"x{a=\"\\q\"} 1",
		"x one",
		"x 1 2 3",
		"x 1 notatime",
		"9x 1",
		"x{a=\"1\"",
	} {
		if _, err := ParseMetrics([]byte(bad)); !errors.Is(err, ErrMetricsFormat) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
	s, _ := ParseMetrics([]byte("h_bucket{le=\"1\"} 1\n"))
	if _, err := HistogramFrom(s, "h"); !errors.Is(err, ErrMetricsFormat) {
		t.Errorf("histogram without +Inf: %v", err)
	}
	s, _ = ParseMetrics([]byte("h_bucket{le=\"x\"} 1\n"))
	if _, err := HistogramFrom(s, "h"); !errors.Is(err, ErrMetricsFormat) {
		t.Errorf("bad bound: %v", err)
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add([]byte(metricsText))
	f.Add([]byte("h_bucket{room=\"a\",le=\"0.001\"} 5\nh_bucket{le=\"+Inf\"} 7\n"))
	f.Add([]byte("x{a=\"\\\"\"} NaN\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseMetrics(b)
		if err != nil {
			return
		}
		for _, name := range []string{"h", "roomgate_mixer_tick_seconds"} {
			h, err := HistogramFrom(s, name)
			if err != nil {
				continue
			}
			w := h.Sub(h)
			_, _ = w.Quantile(0.99)
			_, _ = h.Quantile(0.5)
			_, _ = h.CountAbove(0.02)
		}
	})
}
