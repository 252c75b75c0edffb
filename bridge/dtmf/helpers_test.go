package dtmf

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

var rates = []int{8000, 16000, 48000}

// samples returns the number of samples of d at rate.
func samples(rate int, d time.Duration) int {
	return int(int64(rate) * int64(d) / int64(time.Second))
}

// twoTone returns d of the sum of two sines at the given peak levels (dBFS).
func twoTone(rate int, f1, l1, f2, l2 float64, d time.Duration) []int16 {
	a1, a2 := 32767*math.Pow(10, l1/20), 32767*math.Pow(10, l2/20)
	out := make([]int16, samples(rate, d))
	for i := range out {
		t := float64(i) / float64(rate)
		out[i] = int16(math.Round(a1*math.Sin(2*math.Pi*f1*t) + a2*math.Sin(2*math.Pi*f2*t)))
	}
	return out
}

// digitTone returns digit at level dBFS per tone with the high group twist dB
// louder (negative: reverse twist) and the frequencies scaled by 1+dev.
func digitTone(t testing.TB, rate int, digit rune, level, twist, dev float64, d time.Duration) []int16 {
	t.Helper()
	r, c, ok := gridPos(digit)
	if !ok {
		t.Fatalf("bad digit %q", digit)
	}
	return twoTone(rate, rowFreqs[r]*(1+dev), level-twist/2, colFreqs[c]*(1+dev), level+twist/2, d)
}

func silence(rate int, d time.Duration) []int16 { return make([]int16, samples(rate, d)) }

// addNoise adds white Gaussian noise at level dBFS (RMS).
func addNoise(pcm []int16, level float64, seed uint64) []int16 {
	rng := rand.New(rand.NewPCG(seed, 1))
	sd := 32767 * math.Pow(10, level/20)
	out := make([]int16, len(pcm))
	for i, v := range pcm {
		x := float64(v) + rng.NormFloat64()*sd
		out[i] = int16(max(-32768, min(32767, math.Round(x))))
	}
	return out
}

// detect runs a fresh detector over pcm in frames of chunk samples and
// returns the digits found.
func detect(t testing.TB, rate int, pcm []int16, chunk int) ([]Tone, string) {
	t.Helper()
	d, err := NewDetector(DetectorConfig{Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	var tones []Tone
	for len(pcm) > 0 {
		n := min(chunk, len(pcm))
		tones = d.Process(tones, pcm[:n])
		pcm = pcm[n:]
	}
	s := ""
	for _, x := range tones {
		s += string(x.Digit)
	}
	return tones, s
}

// speech synthesises text with espeak-ng at rate; the test fails, naming
// the package, when espeak-ng or sox is not installed.
func speech(t testing.TB, rate int, voice, text string) []int16 {
	t.Helper()
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: apt-get install espeak-ng sox (make test does)", tool)
		}
	}
	wav, err := exec.Command("espeak-ng", "-v", voice, "--stdout", text).Output()
	if err != nil {
		t.Fatalf("espeak-ng: %v", err)
	}
	cmd := exec.Command("sox", "-t", "wav", "-", "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1",
		"-r", strconv.Itoa(rate), "-L", "-", "gain", "-n", "-1")
	cmd.Stdin = bytes.NewReader(wav)
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("sox: %v", err)
	}
	pcm := make([]int16, len(raw)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	return pcm
}
