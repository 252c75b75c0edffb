package loadgen

import (
	"math"
	"testing"
	"time"
)

// mixStream builds what a listener would receive: talkers of speech at
// speechDBFS plus the probe signal delayed by delaySamples and scaled by
// gain, clipped and µ-law encoded.
func mixStream(d time.Duration, talkers int, speechDBFS float64, delaySamples int, gain float64, probe []int16) []byte {
	n := framesFor(d) * FrameSamples
	sum := make([]float64, n)
	for k := range talkers {
		for i, v := range SpeechLikePCM(uint64(100+k), d, speechDBFS) {
			sum[i] += float64(v)
		}
	}
	for i := range sum {
		j := i - delaySamples
		if j >= 0 && probe != nil {
			sum[i] += gain * float64(probe[j%len(probe)])
		}
	}
	return ULaw(toPCM(sum, 1))
}

// feed runs the detector over the stream in 20 ms packets arriving at
// t0 + k·20 ms and returns the onsets found relative to t0.
func feed(det *BurstDetector, stream []byte, t0 time.Time) []time.Duration {
	var onsets []time.Duration
	for k := 0; (k+1)*FrameSamples <= len(stream); k++ {
		at := t0.Add(time.Duration(k) * FrameDuration)
		if on, ok := det.Feed(stream[k*FrameSamples:(k+1)*FrameSamples], at); ok {
			onsets = append(onsets, on.Sub(t0))
		}
	}
	return onsets
}

func TestBurstDetectorFindsKnownDelay(t *testing.T) {
	probe := ProbePCM(time.Second, 40*time.Millisecond, -3, -24)
	for _, delay := range []int{0, 7, 163, 400, 1333, 2999} {
		for _, gain := range []float64{1, 0.25} { // a mixer may attenuate
			stream := mixStream(5*time.Second, 3, -30, delay, gain, probe)
			det := NewBurstDetector(-30, 500*time.Millisecond)
			onsets := feed(det, stream, time.Unix(1000, 0))
			if len(onsets) != 5 && !(delay > 0 && len(onsets) == 5) {
				t.Errorf("delay %d gain %.2f: %d onsets %v, want 5", delay, gain, len(onsets), onsets)
				continue
			}
			for i, on := range onsets {
				want := time.Duration(i)*time.Second + time.Duration(delay)*sampleDur
				if err := on - want; err < -detectorBlock*sampleDur || err > detectorBlock*sampleDur {
					t.Errorf("delay %d gain %.2f burst %d: onset at %v, want %v ± 2.5 ms", delay, gain, i, on, want)
				}
			}
		}
	}
}

func TestBurstDetectorNoFalseOnsets(t *testing.T) {
	// A loud mix of four talkers and the probe's noise bed, but no tone:
	// nothing may be detected in a minute.
	bedOnly := ProbePCM(time.Second, 20*time.Millisecond, -90, -24)
	for i := range FrameSamples {
		bedOnly[i] = NoisePCM(9, FrameDuration, -24)[i]
	}
	stream := mixStream(60*time.Second, 4, -20, 0, 1, bedOnly)
	det := NewBurstDetector(-30, 500*time.Millisecond)
	if onsets := feed(det, stream, time.Unix(0, 0)); len(onsets) != 0 {
		t.Errorf("%d false onsets: %v", len(onsets), onsets[:min(len(onsets), 5)])
	}
}

func TestBurstDetectorLevelFloorAndRefractory(t *testing.T) {
	// A tone below the floor is ignored.
	quiet := ULaw(ProbePCM(time.Second, 40*time.Millisecond, -40, -90))
	det := NewBurstDetector(-30, 500*time.Millisecond)
	if n := len(feed(det, quiet, time.Unix(0, 0))); n != 0 {
		t.Errorf("tone at -40 dBFS detected with a -30 dBFS floor (%d onsets)", n)
	}
	// Bursts closer than the refractory time count once.
	close := ULaw(ProbePCM(200*time.Millisecond, 40*time.Millisecond, -3, -90))
	var stream []byte
	for range 5 {
		stream = append(stream, close...)
	}
	det = NewBurstDetector(-30, 500*time.Millisecond)
	if n := len(feed(det, stream, time.Unix(0, 0))); n != 1 {
		t.Errorf("%d onsets within the refractory time, want 1", n)
	}
}

func TestBurstDetectorSplitsAcrossPackets(t *testing.T) {
	// Payloads of odd sizes: the block state carries over.
	pcm := make([]int16, 4000)
	start := 1234
	for i := start; i < start+320; i++ {
		pcm[i] = int16(20000 * math.Sin(math.Pi/2*float64(i)+math.Pi/4))
	}
	u := ULaw(pcm)
	det := NewBurstDetector(-30, 100*time.Millisecond)
	t0 := time.Unix(0, 0)
	var got []time.Duration
	for off := 0; off < len(u); off += 77 {
		end := min(off+77, len(u))
		if on, ok := det.Feed(u[off:end], t0.Add(time.Duration(off)*sampleDur)); ok {
			got = append(got, on.Sub(t0))
		}
	}
	want := time.Duration(start) * sampleDur
	if len(got) != 1 || got[0] < want-detectorBlock*sampleDur || got[0] > want+detectorBlock*sampleDur {
		t.Errorf("onsets %v, want one at %v", got, want)
	}
}

func TestProbeClockMatch(t *testing.T) {
	var c probeClock
	t0 := time.Unix(100, 0)
	for i := range 12 { // more than the ring holds
		c.record(t0.Add(time.Duration(i) * time.Second))
	}
	if d, ok := c.match(t0.Add(11*time.Second+45*time.Millisecond), 900*time.Millisecond); !ok || d != 45*time.Millisecond {
		t.Errorf("match = %v %v, want 45ms", d, ok)
	}
	// Slightly before the send time (detector granularity) still matches.
	if d, ok := c.match(t0.Add(11*time.Second-time.Millisecond), 900*time.Millisecond); !ok || d != -time.Millisecond {
		t.Errorf("early match = %v %v", d, ok)
	}
	// Too long after any burst: no match.
	if _, ok := c.match(t0.Add(11*time.Second+950*time.Millisecond), 900*time.Millisecond); ok {
		t.Error("matched a burst older than maxAge")
	}
	// Forgotten bursts do not match.
	if _, ok := c.match(t0.Add(time.Second+10*time.Millisecond), 900*time.Millisecond); ok {
		t.Error("matched a burst that left the ring")
	}
}
