package dtmf

import (
	"sync"
	"testing"
	"time"
)

func newStream(t *testing.T, cfg StreamConfig) *Stream {
	t.Helper()
	s, err := NewStream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStreamMerge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type push struct {
		d    rune
		src  Source
		at   int
		want Verdict
	}
	cases := []struct {
		name   string
		pushes []push
	}{
		{"one method, two presses", []push{
			{'5', SourceRFC4733, 0, Accepted}, {'5', SourceRFC4733, 150, Accepted}}},
		{"two methods, one press", []push{
			{'5', SourceRFC4733, 0, Accepted}, {'5', SourceINFO, 120, Duplicate}}},
		{"three methods, one press", []push{
			{'#', SourceInband, 0, Accepted}, {'#', SourceRFC4733, 20, Duplicate}, {'#', SourceINFO, 300, Duplicate}}},
		{"late copy outside the window is a press", []push{
			{'5', SourceRFC4733, 0, Accepted}, {'5', SourceINFO, 800, Accepted}}},
		{"double press seen by two methods", []push{
			{'5', SourceRFC4733, 0, Accepted}, {'5', SourceRFC4733, 150, Accepted},
			{'5', SourceINFO, 160, Duplicate}, {'5', SourceINFO, 300, Duplicate},
			{'5', SourceINFO, 420, Accepted}}},
		{"interleaved digits", []push{
			{'1', SourceRFC4733, 0, Accepted}, {'2', SourceRFC4733, 100, Accepted},
			{'1', SourceINFO, 110, Duplicate}, {'2', SourceINFO, 200, Duplicate}}},
		{"copy arriving first", []push{
			{'7', SourceINFO, 100, Accepted}, {'7', SourceRFC4733, 60, Duplicate}}},
		{"lower case is normalized", []push{
			{'a', SourceINFO, 0, Accepted}, {'A', SourceRFC4733, 10, Duplicate}}},
		{"garbage", []push{
			{'!', SourceRFC4733, 0, Garbage}, {'E', SourceINFO, 0, Garbage}, {'x', SourceInband, 0, Garbage},
			{0, SourceINFO, 0, Garbage}, {'1', Source(0), 0, Garbage}, {'1', Source(9), 0, Garbage}}},
	}
	for _, c := range cases {
		s := newStream(t, StreamConfig{})
		for i, p := range c.pushes {
			if _, v := s.Push(p.d, p.src, ms(p.at)); v != p.want {
				t.Errorf("%s: push %d (%q from %v at %d ms): %v, want %v", c.name, i, p.d, p.src, p.at, v, p.want)
			}
		}
	}
}

func TestStreamRateLimit(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newStream(t, StreamConfig{Rate: 10, Burst: 5})
	at := t0
	// A flood of 100 digits in 100 ms: the burst passes, the rest is limited.
	for i := range 100 {
		at = t0.Add(time.Duration(i) * time.Millisecond)
		s.Push(rune('0'+i%10), SourceINFO, at)
	}
	st := s.Stats()
	if st.Accepted != 5 || st.Limited != 95 {
		t.Fatalf("flood: %+v, want 5 accepted, 95 limited", st)
	}
	// A limited press's copy from another method is a duplicate, not a
	// press that slips through.
	if _, v := s.Push('9', SourceRFC4733, at); v != Duplicate {
		t.Fatalf("copy of a limited press: %v", v)
	}
	// After a quiet second, a full burst is accepted again, and no more.
	at = at.Add(time.Second)
	for i := range 6 {
		want := Accepted
		if i == 5 {
			want = Limited
		}
		if _, v := s.Push('1', SourceRFC4733, at.Add(time.Duration(i)*time.Millisecond)); v != want {
			t.Fatalf("after a quiet second, digit %d: %v, want %v", i, v, want)
		}
	}
}

func TestStreamStats(t *testing.T) {
	s := newStream(t, StreamConfig{})
	now := time.Unix(100, 0)
	s.Push('1', SourceRFC4733, now)
	s.Push('1', SourceINFO, now)
	s.Push('Z', SourceINFO, now)
	want := StreamStats{Accepted: 1, Duplicates: 1, Garbage: 1}
	if got := s.Stats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
	if _, err := NewStream(StreamConfig{Rate: -1}); err == nil {
		t.Fatal("negative rate accepted")
	}
	for _, x := range []interface{ String() string }{SourceRFC4733, SourceINFO, SourceInband, SourceH245, Source(9), Accepted, Duplicate, Garbage, Limited, Verdict(0)} {
		if x.String() == "" {
			t.Errorf("%#v has no name", x)
		}
	}
}

// TestStreamConcurrent pushes from several goroutines, as RTP and SIP do;
// run with -race.
func TestStreamConcurrent(t *testing.T) {
	s := newStream(t, StreamConfig{Rate: 1000, Burst: 1000})
	now := time.Unix(100, 0)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10 {
				s.Push(rune('0'+i), Source(1+g), now.Add(time.Duration(i)*time.Second))
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	// Every press was reported by four methods within the window: each is
	// accepted once.
	if st.Accepted != 10 || st.Duplicates != 30 {
		t.Fatalf("%+v, want 10 accepted and 30 duplicates", st)
	}
}

func BenchmarkStreamPush(b *testing.B) {
	s, _ := NewStream(StreamConfig{Rate: 1 << 20, Burst: 1 << 20})
	now := time.Unix(100, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		s.Push(rune('0'+i%10), SourceRFC4733, now.Add(time.Duration(i)*time.Millisecond))
	}
}
