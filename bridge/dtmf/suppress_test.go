package dtmf

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

// toneEnergy sums the Goertzel power of the eight DTMF frequencies over
// pcm, normalised by its length: how much DTMF a listener would hear.
func toneEnergy(rate int, pcm []int16) float64 {
	var e float64
	for _, f := range append(rowFreqs[:], colFreqs[:]...) {
		c := 2 * math.Cos(2*math.Pi*f/float64(rate))
		var s1, s2 float64
		for _, v := range pcm {
			s1, s2 = float64(v)+c*s1-s2, s1
		}
		e += s1*s1 + s2*s2 - c*s1*s2
	}
	return e / float64(len(pcm)) / float64(len(pcm))
}

// TestSuppressorKeepsTonesOut: speech with digits pressed over it comes out
// one frame late with the digits silenced, whatever their alignment to
// frames, and the speech between them intact.
func TestSuppressorKeepsTonesOut(t *testing.T) {
	for _, rate := range rates {
		frame := rate / 50
		talk := speech(t, rate, "en-us", "one two three four five six seven eight nine")
		for i := range talk {
			talk[i] /= 4
		}
		for offset := 0; offset < 2*frame; offset += frame/20 + 1 {
			pcm := slices.Clone(talk)
			var tonesOnly []int16
			at := len(pcm)/4 + offset
			start := at
			for _, d := range "5#" {
				tn := digitTone(t, rate, d, -10, 0, 0, 70*time.Millisecond)
				for i, v := range tn {
					pcm[at+i] += v
				}
				at += len(tn) + samples(rate, 200*time.Millisecond)
			}
			tonesOnly = make([]int16, len(pcm))
			copy(tonesOnly[start:], pcm[start:at])

			det, _ := NewDetector(DetectorConfig{Rate: rate})
			s, err := NewSuppressor(det, frame)
			if err != nil {
				t.Fatal(err)
			}
			var out []int16
			var tones []Tone
			n := len(pcm) / frame * frame
			buf := make([]int16, frame)
			for i := 0; i < n; i += frame {
				copy(buf, pcm[i:i+frame])
				if tones, err = s.Process(tones, buf); err != nil {
					t.Fatal(err)
				}
				out = append(out, buf...)
			}
			got := ""
			for _, x := range tones {
				got += string(x.Digit)
			}
			if got != "5#" {
				t.Errorf("%d Hz offset %d: detected %q", rate, offset, got)
			}
			// Out is pcm delayed by one frame. Around the digits it must
			// hold (almost) no DTMF: compare with the tones themselves.
			region := out[start+frame : at+frame]
			leak := toneEnergy(rate, region) / toneEnergy(rate, tonesOnly[start:at])
			if leak > 1e-3 {
				t.Errorf("%d Hz offset %d: %.1f dB of the tones leak into the mix", rate, offset, 10*math.Log10(leak))
			}
			// Speech well away from the digits passes untouched.
			if !slices.Equal(out[frame:start-frame], pcm[:start-2*frame]) {
				t.Errorf("%d Hz offset %d: speech before the digits altered", rate, offset)
			}
			if !slices.Equal(out[at+4*frame:n], pcm[at+3*frame:n-frame]) {
				t.Errorf("%d Hz offset %d: speech after the digits altered", rate, offset)
			}
		}
	}
}

func TestSuppressorErrors(t *testing.T) {
	det, _ := NewDetector(DetectorConfig{Rate: 8000})
	if _, err := NewSuppressor(nil, 160); !errors.Is(err, ErrConfig) {
		t.Errorf("nil detector: %v", err)
	}
	if _, err := NewSuppressor(det, 0); !errors.Is(err, ErrConfig) {
		t.Errorf("empty frame: %v", err)
	}
	s, _ := NewSuppressor(det, 160)
	if s.Detector() != det {
		t.Error("Detector() is not the detector")
	}
	if _, err := s.Process(nil, make([]int16, 80)); !errors.Is(err, ErrConfig) {
		t.Errorf("short frame: %v", err)
	}
	// The first frame out is silence; the second is the first frame in.
	in := []int16{1, 2, 3}
	s, _ = NewSuppressor(det, 3)
	f := slices.Clone(in)
	s.Process(nil, f)
	if !slices.Equal(f, []int16{0, 0, 0}) {
		t.Errorf("first frame %v", f)
	}
	f = []int16{4, 5, 6}
	s.Process(nil, f)
	if !slices.Equal(f, in) {
		t.Errorf("second frame %v", f)
	}
	s.Reset()
	f = []int16{7, 8, 9}
	s.Process(nil, f)
	if !slices.Equal(f, []int16{0, 0, 0}) {
		t.Errorf("after Reset %v", f)
	}
}

func BenchmarkSuppressor(b *testing.B) {
	det, _ := NewDetector(DetectorConfig{Rate: 16000})
	s, _ := NewSuppressor(det, 320)
	pcm := slices.Concat(digitTone(b, 16000, '5', -15, 0, 0, 100*time.Millisecond), silence(16000, 100*time.Millisecond))
	frame := make([]int16, 320)
	tones := make([]Tone, 0, 4)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		copy(frame, pcm[i:i+320])
		tones, _ = s.Process(tones[:0], frame)
		i = (i + 320) % len(pcm)
	}
}
