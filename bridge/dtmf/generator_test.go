package dtmf

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestGeneratorRoundTrip: what the generator plays, the detector hears,
// at every rate and in frames as a leg would send them.
func TestGeneratorRoundTrip(t *testing.T) {
	for _, rate := range rates {
		g, err := NewGenerator(rate, 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := "0123456789*#ABCD55"
		if err := g.Queue("0123456789*#abcd55"); err != nil {
			t.Fatal(err)
		}
		d, err := NewDetector(DetectorConfig{Rate: rate})
		if err != nil {
			t.Fatal(err)
		}
		frame := make([]int16, rate/50)
		var tones []Tone
		frames := 0
		for g.Busy() {
			g.Fill(frame)
			tones = d.Process(tones, frame)
			frames++
		}
		tones = d.Process(tones, make([]int16, rate/10))
		got := ""
		for _, x := range tones {
			got += string(x.Digit)
		}
		if got != want {
			t.Errorf("%d Hz: detected %q, want %q", rate, got, want)
		}
		// 18 digits of 100 ms tone + 80 ms pause take 162 frames.
		if frames != 162 {
			t.Errorf("%d Hz: %d frames, want 162", rate, frames)
		}
	}
}

func TestGeneratorFill(t *testing.T) {
	g, err := NewGenerator(8000, -10, 10*time.Millisecond, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]int16, 200)
	for i := range buf {
		buf[i] = 99
	}
	if n := g.Fill(buf); n != 0 || slices.ContainsFunc(buf, func(v int16) bool { return v != 0 }) {
		t.Fatalf("idle generator wrote %d samples or left garbage", n)
	}
	if err := g.Queue("1"); err != nil {
		t.Fatal(err)
	}
	n := g.Fill(buf)
	if n != 120 {
		t.Fatalf("one digit filled %d samples, want 80 tone + 40 pause", n)
	}
	peak := 0
	for _, v := range buf[:80] {
		peak = max(peak, int(v), -int(v))
	}
	// Two tones at -10 dBFS peak each: at most 2·10362.
	if peak < 15000 || peak > 20725 {
		t.Errorf("peak %d", peak)
	}
	if slices.ContainsFunc(buf[80:], func(v int16) bool { return v != 0 }) {
		t.Error("pause or tail not silent")
	}
	if g.Busy() {
		t.Error("busy after the digit")
	}
}

func TestGeneratorErrors(t *testing.T) {
	if _, err := NewGenerator(11025, 0, 0, 0); !errors.Is(err, ErrRate) {
		t.Errorf("rate: %v", err)
	}
	if _, err := NewGenerator(8000, -1, 0, 0); !errors.Is(err, ErrConfig) {
		t.Errorf("clipping level: %v", err)
	}
	g, _ := NewGenerator(8000, 0, 0, 0)
	if err := g.Queue("12x"); !errors.Is(err, ErrDigit) {
		t.Errorf("bad digit: %v", err)
	}
	if g.Busy() {
		t.Error("a rejected string was partly queued")
	}
	if err := g.Queue(string(make([]byte, maxQueue+1))); !errors.Is(err, ErrConfig) {
		t.Errorf("overflow: %v", err)
	}
	if _, err := AppendTone(nil, 8000, 'x', -10, time.Second); !errors.Is(err, ErrDigit) {
		t.Errorf("AppendTone bad digit: %v", err)
	}
	pcm, err := AppendTone([]int16{1, 2}, 16000, '9', -10, 50*time.Millisecond)
	if err != nil || len(pcm) != 2+800 {
		t.Errorf("AppendTone: %d samples, %v", len(pcm), err)
	}
}

func BenchmarkGenerator(b *testing.B) {
	g, _ := NewGenerator(8000, 0, 0, 0)
	frame := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		if !g.Busy() {
			_ = g.Queue("1234567890")
		}
		g.Fill(frame)
	}
}

// TestGeneratorQueueDigit: digits queued one by one play like a string,
// bad ones and overflow are refused, and queueing does not allocate.
func TestGeneratorQueueDigit(t *testing.T) {
	a, _ := NewGenerator(8000, 0, 0, 0)
	b, _ := NewGenerator(8000, 0, 0, 0)
	if err := a.Queue("7c#"); err != nil {
		t.Fatal(err)
	}
	for _, d := range "7c#" {
		if err := b.QueueDigit(d); err != nil {
			t.Fatal(err)
		}
	}
	fa, fb := make([]int16, 160), make([]int16, 160)
	for a.Busy() || b.Busy() {
		a.Fill(fa)
		b.Fill(fb)
		if !slices.Equal(fa, fb) {
			t.Fatal("QueueDigit plays differently from Queue")
		}
	}
	if err := b.QueueDigit('x'); !errors.Is(err, ErrDigit) {
		t.Errorf("bad digit: %v", err)
	}
	for range maxQueue {
		if err := b.QueueDigit('1'); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.QueueDigit('1'); !errors.Is(err, ErrConfig) {
		t.Errorf("overflow: %v", err)
	}
	c, _ := NewGenerator(8000, 0, 0, 0)
	if n := testing.AllocsPerRun(100, func() {
		_ = c.QueueDigit('5')
		for c.Busy() {
			c.Fill(fa)
		}
	}); n != 0 {
		t.Errorf("%v allocations per digit", n)
	}
}
