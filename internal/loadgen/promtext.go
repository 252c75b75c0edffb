package loadgen

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A small reader for the Prometheus text exposition format (version 0.0.4),
// enough to pull histograms, counters and gauges out of the server's
// /metrics. The response comes from the network, so every malformed line is
// an error, never a panic.

// Label is one name="value" pair of a sample.
type Label struct {
	Name, Value string
}

// Sample is one line of the exposition: a metric name, its labels and value.
type Sample struct {
	Name   string
	Labels []Label
	Value  float64
}

// Label returns the value of the label called name, or "".
func (s Sample) Label(name string) string {
	for _, l := range s.Labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// ParseMetrics parses Prometheus text exposition format. Comment and blank
// lines are skipped; timestamps are accepted and ignored.
func ParseMetrics(text []byte) ([]Sample, error) {
	var out []Sample
	lineNo := 0
	for len(text) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		s, err := parseSampleLine(string(line))
		if err != nil {
			return nil, fmt.Errorf("parsing metrics line %d: %w", lineNo, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func isNameByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
		return true
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}

func parseSampleLine(line string) (Sample, error) {
	var s Sample
	i := 0
	for i < len(line) && isNameByte(line[i], i == 0) {
		i++
	}
	if i == 0 {
		return s, fmt.Errorf("no metric name: %w", ErrMetricsFormat)
	}
	s.Name = line[:i]
	rest := line[i:]
	if strings.HasPrefix(rest, "{") {
		labels, n, err := parseLabels(rest)
		if err != nil {
			return s, fmt.Errorf("metric %s: %w", s.Name, err)
		}
		s.Labels = labels
		rest = rest[n:]
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return s, fmt.Errorf("metric %s: want value and optional timestamp: %w", s.Name, ErrMetricsFormat)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("metric %s: value %q: %w", s.Name, fields[0], ErrMetricsFormat)
	}
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return s, fmt.Errorf("metric %s: timestamp %q: %w", s.Name, fields[1], ErrMetricsFormat)
		}
	}
	s.Value = v
	return s, nil
}

// parseLabels parses "{a="x",b="y"}" at the start of s and returns the labels
// and the number of bytes consumed.
func parseLabels(s string) ([]Label, int, error) {
	var labels []Label
	i := 1 // past '{'
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return nil, 0, fmt.Errorf("unterminated label set: %w", ErrMetricsFormat)
		}
		if s[i] == '}' {
			return labels, i + 1, nil
		}
		start := i
		for i < len(s) && isNameByte(s[i], i == start) {
			i++
		}
		if i == start || i+1 >= len(s) || s[i] != '=' || s[i+1] != '"' {
			return nil, 0, fmt.Errorf("bad label at offset %d: %w", start, ErrMetricsFormat)
		}
		name := s[start:i]
		i += 2
		var val strings.Builder
		closed := false
		for i < len(s) {
			c := s[i]
			i++
			if c == '"' {
				closed = true
				break
			}
			if c == '\\' {
				if i >= len(s) {
					break
				}
				switch e := s[i]; e {
				case 'n':
					val.WriteByte('\n')
				case '\\', '"':
					val.WriteByte(e)
				default:
					return nil, 0, fmt.Errorf("bad escape \\%c in label %s: %w", e, name, ErrMetricsFormat)
				}
				i++
				continue
			}
			val.WriteByte(c)
		}
		if !closed {
			return nil, 0, fmt.Errorf("unterminated value of label %s: %w", name, ErrMetricsFormat)
		}
		labels = append(labels, Label{Name: name, Value: val.String()})
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i < len(s) && s[i] == ',' {
			i++
		}
	}
}

// Histogram is a Prometheus histogram: cumulative counts per upper bound
// (the last bound is +Inf), summed over every series of the same name (for
// example over conferences).
type Histogram struct {
	Bounds []float64 `json:"bounds"`
	Counts []float64 `json:"counts"` // cumulative, one per bound
	Sum    float64   `json:"sum"`
	Count  float64   `json:"count"`
}

// HistogramFrom collects the histogram called name (without the _bucket
// suffix) from samples, summing series that differ in labels other than le.
func HistogramFrom(samples []Sample, name string) (Histogram, error) {
	var h Histogram
	byBound := map[float64]float64{}
	found := false
	for _, s := range samples {
		switch s.Name {
		case name + "_bucket":
			le := s.Label("le")
			b, err := strconv.ParseFloat(le, 64)
			if err != nil || math.IsNaN(b) {
				return h, fmt.Errorf("histogram %s: bucket bound %q: %w", name, le, ErrMetricsFormat)
			}
			byBound[b] += s.Value
			found = true
		case name + "_sum":
			h.Sum += s.Value
		case name + "_count":
			h.Count += s.Value
		}
	}
	if !found {
		return h, fmt.Errorf("looking for %s: %w", name, ErrNoHistogram)
	}
	for b := range byBound {
		h.Bounds = append(h.Bounds, b)
	}
	slices.Sort(h.Bounds)
	if !math.IsInf(h.Bounds[len(h.Bounds)-1], 1) {
		return h, fmt.Errorf("histogram %s has no +Inf bucket: %w", name, ErrMetricsFormat)
	}
	h.Counts = make([]float64, len(h.Bounds))
	for i, b := range h.Bounds {
		h.Counts[i] = byBound[b]
	}
	return h, nil
}

// Sub returns the observations made between earlier and h, bucket by
// bucket. Bounds that appear in only one of them (a series created during
// the interval) are handled by treating the missing series as empty.
func (h Histogram) Sub(earlier Histogram) Histogram {
	out := Histogram{Sum: h.Sum - earlier.Sum, Count: h.Count - earlier.Count}
	out.Bounds = append([]float64(nil), h.Bounds...)
	out.Counts = make([]float64, len(h.Counts))
	for i, b := range h.Bounds {
		out.Counts[i] = h.Counts[i] - earlier.cumulativeAt(b)
		if out.Counts[i] < 0 {
			out.Counts[i] = 0 // counter reset: the server restarted
		}
	}
	return out
}

// cumulativeAt returns the cumulative count at bound b, or at the largest
// bound below b when b itself is not one of h's bounds.
func (h Histogram) cumulativeAt(b float64) float64 {
	c := 0.0
	for i, x := range h.Bounds {
		if x > b {
			break
		}
		c = h.Counts[i]
	}
	return c
}

// Quantile is an estimate of a quantile from histogram buckets: the value
// interpolated linearly inside the bucket (as PromQL histogram_quantile does)
// and the bucket's bounds, which is all the histogram really knows.
type Quantile struct {
	Value float64 `json:"value"`
	Lower float64 `json:"bucket_lower"`
	Upper float64 `json:"bucket_upper"` // +Inf when the quantile lies past the last finite bound
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1). ok is false when the
// histogram is empty.
func (h Histogram) Quantile(q float64) (Quantile, bool) {
	n := len(h.Counts)
	if n == 0 || h.Counts[n-1] <= 0 || math.IsNaN(q) {
		return Quantile{}, false
	}
	q = min(max(q, 0), 1)
	rank := q * h.Counts[n-1]
	i := 0
	for i < n-1 && h.Counts[i] < rank {
		i++
	}
	lower, prev := 0.0, 0.0
	if i > 0 {
		lower, prev = h.Bounds[i-1], h.Counts[i-1]
	}
	upper := h.Bounds[i]
	if math.IsInf(upper, 1) {
		// Nothing is known above the last finite bound: report it.
		return Quantile{Value: lower, Lower: lower, Upper: upper}, true
	}
	v := upper
	if inBucket := h.Counts[i] - prev; inBucket > 0 {
		v = lower + (upper-lower)*(rank-prev)/inBucket
	}
	return Quantile{Value: v, Lower: lower, Upper: upper}, true
}

// CountAbove returns how many observations exceeded x as far as the buckets
// can tell: the observations above the smallest bound ≥ x, and that bound.
// When bound > x the true count may be higher.
func (h Histogram) CountAbove(x float64) (n, bound float64) {
	for i, b := range h.Bounds {
		if b >= x {
			return h.Counts[len(h.Counts)-1] - h.Counts[i], b
		}
	}
	return 0, math.Inf(1)
}

// Value returns the sum of all samples named name (0, false if none).
func Value(samples []Sample, name string) (float64, bool) {
	v, ok := 0.0, false
	for _, s := range samples {
		if s.Name == name {
			v += s.Value
			ok = true
		}
	}
	return v, ok
}
