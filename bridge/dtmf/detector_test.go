package dtmf

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

func TestDetectorAllDigits(t *testing.T) {
	for _, rate := range rates {
		for _, level := range []float64{-6.5, -20, -33} {
			for _, digit := range Digits {
				t.Run(fmt.Sprintf("%d/%.0fdB/%c", rate, level, digit), func(t *testing.T) {
					pcm := slices.Concat(silence(rate, 30*time.Millisecond),
						digitTone(t, rate, digit, level, 0, 0, 60*time.Millisecond),
						silence(rate, 60*time.Millisecond))
					tones, got := detect(t, rate, pcm, rate/50)
					if got != string(digit) {
						t.Fatalf("detected %q, want %q", got, string(digit))
					}
					// The press starts in the block holding the tone's start.
					start := int64(samples(rate, 30*time.Millisecond))
					block := int64(rate * blockNum / blockDen)
					if tones[0].Start < start-block || tones[0].Start > start+block {
						t.Errorf("start %d, tone began at %d", tones[0].Start, start)
					}
				})
			}
		}
	}
}

func TestDetectorSequence(t *testing.T) {
	for _, rate := range rates {
		var pcm []int16
		for _, d := range "0123456789*#ABCD" {
			pcm = slices.Concat(pcm, digitTone(t, rate, d, -15, 2, 0, 45*time.Millisecond), silence(rate, 45*time.Millisecond))
		}
		if _, got := detect(t, rate, pcm, rate/50); got != "0123456789*#ABCD" {
			t.Errorf("%d Hz: detected %q", rate, got)
		}
	}
}

func TestDetectorDurationAndPause(t *testing.T) {
	const rate = 8000
	tone := func(d time.Duration) []int16 { return digitTone(t, rate, '5', -15, 0, 0, d) }
	gap := func(d time.Duration) []int16 { return silence(rate, d) }
	cases := []struct {
		name string
		pcm  []int16
		want string
	}{
		{"40ms tone", slices.Concat(gap(7*time.Millisecond), tone(40*time.Millisecond), gap(50*time.Millisecond)), "5"},
		{"20ms tone", slices.Concat(gap(7*time.Millisecond), tone(20*time.Millisecond), gap(50*time.Millisecond)), ""},
		{"long press", slices.Concat(tone(3*time.Second), gap(50*time.Millisecond)), "5"},
		{"two presses 40ms apart", slices.Concat(tone(60*time.Millisecond), gap(40*time.Millisecond), tone(60*time.Millisecond)), "55"},
		{"10ms dropout", slices.Concat(tone(80*time.Millisecond), gap(10*time.Millisecond), tone(80*time.Millisecond)), "5"},
		{"digit change without pause", slices.Concat(tone(60*time.Millisecond), digitTone(t, rate, '9', -15, 0, 0, 60*time.Millisecond)), "59"},
	}
	for _, c := range cases {
		// Block alignment must not matter: shift the input.
		for _, shift := range []int{0, 17, 51, 90} {
			pcm := slices.Concat(make([]int16, shift), c.pcm)
			if _, got := detect(t, rate, pcm, 160); got != c.want {
				t.Errorf("%s (shift %d): detected %q, want %q", c.name, shift, got, c.want)
			}
		}
	}
}

func TestDetectorTwistAndFrequency(t *testing.T) {
	cases := []struct {
		twist, dev float64
		want       bool
	}{
		{0, 0, true},
		{7, 0, true},       // normal twist within 8 dB
		{-3.5, 0, true},    // reverse twist within 4 dB
		{11, 0, false},     // normal twist too large
		{-7, 0, false},     // reverse twist too large
		{0, 0.015, true},   // Q.24: ±1.5 % must be accepted
		{0, -0.015, true},  // …both ways
		{0, 0.035, false},  // Q.24: ±3.5 % must be rejected
		{0, -0.035, false}, // …both ways
	}
	for _, rate := range rates {
		for _, c := range cases {
			for _, digit := range Digits {
				pcm := slices.Concat(digitTone(t, rate, digit, -15, c.twist, c.dev, 80*time.Millisecond), silence(rate, 50*time.Millisecond))
				_, got := detect(t, rate, pcm, rate/50)
				if (got == string(digit)) != c.want || (got != "" && got != string(digit)) {
					t.Errorf("%d Hz %c twist %.1f dB dev %.3f: detected %q, want accepted=%v", rate, digit, c.twist, c.dev, got, c.want)
				}
			}
		}
	}
}

func TestDetectorLevel(t *testing.T) {
	pcm := slices.Concat(digitTone(t, 8000, '7', -45, 0, 0, 100*time.Millisecond), silence(8000, 50*time.Millisecond))
	if _, got := detect(t, 8000, pcm, 160); got != "" {
		t.Errorf("tone at -45 dBFS detected as %q", got)
	}
}

func TestDetectorNoise(t *testing.T) {
	for _, rate := range rates {
		var clean []int16
		want := "159#"
		for _, d := range want {
			clean = slices.Concat(clean, digitTone(t, rate, d, -12, 0, 0, 70*time.Millisecond), silence(rate, 70*time.Millisecond))
		}
		// Tones about 20 dB above the noise in the DTMF band survive.
		if _, got := detect(t, rate, addNoise(clean, -35, 1), rate/50); got != want {
			t.Errorf("%d Hz, tones in noise: detected %q, want %q", rate, got, want)
		}
		// Noise alone, loud or soft, is never a digit.
		for _, level := range []float64{-10, -30} {
			if _, got := detect(t, rate, addNoise(silence(rate, 5*time.Second), level, 2), rate/50); got != "" {
				t.Errorf("%d Hz, noise at %.0f dBFS: detected %q", rate, level, got)
			}
		}
		// Tones buried in noise are not guessed at.
		if _, got := detect(t, rate, addNoise(clean, -12, 3), rate/50); got != "" {
			t.Errorf("%d Hz, tones at 0 dB SNR: detected %q", rate, got)
		}
	}
}

// TestDetectorTalkOff feeds synthetic speech, including spoken digits and
// high voices, and music-like chords: none may become a digit.
func TestDetectorTalkOff(t *testing.T) {
	texts := []string{
		"Please enter the conference number followed by the hash key. One two three four five six seven eight nine zero.",
		"Good morning everyone, can you hear me? I think the projector is not working, let me share my screen instead.",
		"Eeeee, aaaah, ooooh, mmmmm. Beep boop beep. La la la la la.",
	}
	for _, rate := range rates {
		for _, voice := range []string{"en-us", "en-us+f3", "en+m7", "en-us+f5"} {
			for i, text := range texts {
				pcm := speech(t, rate, voice, text)
				if _, got := detect(t, rate, pcm, rate/50); got != "" {
					t.Errorf("%d Hz, voice %s, text %d: speech detected as %q", rate, voice, i, got)
				}
			}
		}
	}
	// Chords of notes with harmonics (a C major triad, a power chord of a
	// low note whose harmonics fall near DTMF frequencies).
	chords := [][]float64{{261.6, 329.6, 392.0}, {349.2, 523.3}, {233.1, 349.2, 466.2, 698.5}}
	for _, rate := range rates {
		for _, ch := range chords {
			pcm := make([]int16, rate)
			for i := range pcm {
				v := 0.0
				tt := float64(i) / float64(rate)
				for _, f := range ch {
					for h := 1.0; h <= 5; h++ {
						v += 3000 / h * math.Sin(2*math.Pi*f*h*tt)
					}
				}
				pcm[i] = int16(max(-32768, min(32767, v)))
			}
			if _, got := detect(t, rate, pcm, rate/50); got != "" {
				t.Errorf("%d Hz, chord %v: detected %q", rate, ch, got)
			}
		}
	}
}

// TestDetectorSpeechAndTones proves that digits pressed while someone
// talks are still found when they dominate.
func TestDetectorSpeechAndTones(t *testing.T) {
	for _, rate := range []int{8000, 16000} {
		talk := speech(t, rate, "en-us", "one two three four five six")
		for i := range talk {
			talk[i] /= 10 // speech 20 dB below the tones
		}
		off := len(talk) / 3
		tone := slices.Concat(digitTone(t, rate, '8', -10, 0, 0, 100*time.Millisecond), silence(rate, 100*time.Millisecond),
			digitTone(t, rate, '#', -10, 0, 0, 100*time.Millisecond))
		pcm := slices.Clone(talk)
		for i, v := range tone {
			pcm[off+i] = int16(max(-32768, min(32767, int32(pcm[off+i])+int32(v))))
		}
		if _, got := detect(t, rate, pcm, rate/50); got != "8#" {
			t.Errorf("%d Hz: detected %q, want %q", rate, got, "8#")
		}
	}
}

// TestDetectorChunking: the result does not depend on how PCM is split.
func TestDetectorChunking(t *testing.T) {
	var pcm []int16
	for _, d := range "147*" {
		pcm = slices.Concat(pcm, digitTone(t, 16000, d, -15, 1, 0, 50*time.Millisecond), silence(16000, 60*time.Millisecond))
	}
	want, _ := detect(t, 16000, pcm, len(pcm))
	for _, chunk := range []int{1, 7, 160, 320, 1000} {
		got, _ := detect(t, 16000, pcm, chunk)
		if !slices.Equal(got, want) {
			t.Errorf("chunk %d: %v, want %v", chunk, got, want)
		}
	}
}

func TestDetectorPresentAndReset(t *testing.T) {
	d, err := NewDetector(DetectorConfig{Rate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rate() != 8000 || d.Present() {
		t.Fatal("fresh detector reports a tone")
	}
	tones := d.Process(nil, digitTone(t, 8000, '3', -15, 0, 0, 60*time.Millisecond))
	if len(tones) != 1 || !d.Present() || d.Active() != '3' {
		t.Fatalf("tones %v, present %v, active %q", tones, d.Present(), d.Active())
	}
	d.Reset()
	if d.Present() || d.Active() != 0 {
		t.Fatal("Reset kept the press")
	}
	// After a reset, the same tone is a new press with offsets from zero.
	tones = d.Process(nil, digitTone(t, 8000, '3', -15, 0, 0, 60*time.Millisecond))
	if len(tones) != 1 || tones[0].Start != 0 {
		t.Fatalf("after reset: %v", tones)
	}
}

func TestDetectorConfig(t *testing.T) {
	for _, cfg := range []DetectorConfig{
		{Rate: 44100},
		{Rate: 8000, MinLevel: 3},
		{Rate: 8000, ToneShare: 1.5},
		{Rate: 8000, NormalTwist: -1},
		{Rate: 8000, MinDuration: -time.Second},
	} {
		if _, err := NewDetector(cfg); !errors.Is(err, ErrRate) && !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: error %v", cfg, err)
		}
	}
}

func BenchmarkDetector(b *testing.B) {
	for _, rate := range rates {
		b.Run(fmt.Sprintf("%dHz", rate), func(b *testing.B) {
			d, err := NewDetector(DetectorConfig{Rate: rate})
			if err != nil {
				b.Fatal(err)
			}
			pcm := slices.Concat(digitTone(b, rate, '5', -15, 0, 0, 100*time.Millisecond), silence(rate, 100*time.Millisecond))
			frame := rate / 50
			tones := make([]Tone, 0, 4)
			b.ReportAllocs()
			b.SetBytes(int64(2 * frame))
			i := 0
			for b.Loop() {
				tones = d.Process(tones[:0], pcm[i:i+frame])
				i = (i + frame) % len(pcm)
			}
		})
	}
}
