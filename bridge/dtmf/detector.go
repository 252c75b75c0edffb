package dtmf

import (
	"fmt"
	"math"
	"time"
)

// Detector defaults, after ITU-T Q.24 and the values telephone exchanges
// commonly use.
const (
	// DefaultMinDuration is the shortest tone that must be accepted
	// (Q.24: 40 ms).
	DefaultMinDuration = 40 * time.Millisecond
	// DefaultMinPause is the shortest pause that must separate two presses
	// of the same key (Q.24: 40 ms).
	DefaultMinPause = 40 * time.Millisecond
	// DefaultMinLevel is the weakest tone accepted, as the peak level of each
	// of the two frequencies in dBFS (about -33 dBm0 in G.711).
	DefaultMinLevel = -36.0
	// DefaultNormalTwist is how much louder, in dB, the high-group tone may be
	// than the low-group tone.
	DefaultNormalTwist = 8.0
	// DefaultReverseTwist is how much louder, in dB, the low-group tone may
	// be than the high-group tone.
	DefaultReverseTwist = 4.0
	// DefaultRelativePeak is how far, in dB, the strongest row (column)
	// frequency must stand above the other rows (columns).
	DefaultRelativePeak = 8.0
	// DefaultToneShare is the least fraction of a block's energy the two
	// tones must carry: speech and music spread theirs over the band.
	DefaultToneShare = 0.7
)

// blockNum/blockDen of a second is one analysis block, 12.75 ms: 102 samples
// at 8 kHz. Its Goertzel bins are 78 Hz wide, narrow enough to separate the
// closest DTMF frequencies (697 and 770 Hz) and short enough that a 40 ms
// tone always fills two whole blocks.
const (
	blockNum = 102
	blockDen = 8000
)

// DetectorConfig tunes a Detector. Zero fields take the defaults above.
type DetectorConfig struct {
	// Rate is the PCM sample rate: 8000, 16000 or 48000 Hz.
	Rate int
	// MinDuration is the shortest tone reported as a press.
	MinDuration time.Duration
	// MinPause is the silence that must follow a press before the same key
	// counts again; a shorter dropout continues the press.
	MinPause time.Duration
	// MinLevel is the weakest tone accepted, per frequency, in dBFS (< 0).
	MinLevel float64
	// NormalTwist and ReverseTwist bound, in dB, the level difference of the
	// two tones (Q.24 allows more normal twist than reverse twist).
	NormalTwist, ReverseTwist float64
	// RelativePeak is the margin, in dB, of the strongest frequency of each
	// group over the other three of the group.
	RelativePeak float64
	// ToneShare is the least fraction (0 to 1) of a block's energy that the
	// two tones must carry.
	ToneShare float64
}

// Tone is a detected key press.
type Tone struct {
	// Digit is the key: 0-9, *, #, A-D.
	Digit rune
	// Start is the index, in samples since the detector was created or
	// reset, of the first analysis block in which the tone was heard.
	Start int64
}

// Detector finds in-band DTMF presses in a stream of mono PCM. It keeps the
// state of a block across calls, so PCM may be fed in frames of any length.
// It does not allocate and is not safe for concurrent use; a leg owns one.
type Detector struct {
	rate, n int
	coef    [8]float64 // 2cos(2πf/rate): rows then columns
	s1, s2  [8]float64
	energy  float64
	count   int
	pos     int64 // samples fed since reset

	minPow               float64
	normTwist, revTwist  float64
	relPeak, share       float64
	hitsNeed, missesNeed int

	cand      rune
	candN     int
	candStart int64
	active    rune
	misses    int
	present   bool
	// toneBlocks counts blocks that held a DTMF tone or belonged to a held
	// press; the Suppressor watches it.
	toneBlocks uint64
}

// NewDetector returns a Detector for cfg.
func NewDetector(cfg DetectorConfig) (*Detector, error) {
	if err := checkRate(cfg.Rate); err != nil {
		return nil, fmt.Errorf("creating DTMF detector: %w", err)
	}
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.MinLevel, DefaultMinLevel)
	def(&cfg.NormalTwist, DefaultNormalTwist)
	def(&cfg.ReverseTwist, DefaultReverseTwist)
	def(&cfg.RelativePeak, DefaultRelativePeak)
	def(&cfg.ToneShare, DefaultToneShare)
	if cfg.MinDuration == 0 {
		cfg.MinDuration = DefaultMinDuration
	}
	if cfg.MinPause == 0 {
		cfg.MinPause = DefaultMinPause
	}
	switch {
	case cfg.MinLevel >= 0, cfg.NormalTwist < 0, cfg.ReverseTwist < 0, cfg.RelativePeak < 0,
		cfg.ToneShare < 0, cfg.ToneShare > 1, cfg.MinDuration < 0, cfg.MinPause < 0:
		return nil, fmt.Errorf("creating DTMF detector: %+v: %w", cfg, ErrConfig)
	}
	d := &Detector{rate: cfg.Rate, n: cfg.Rate * blockNum / blockDen}
	for i, f := range rowFreqs {
		d.coef[i] = 2 * math.Cos(2*math.Pi*f/float64(cfg.Rate))
	}
	for i, f := range colFreqs {
		d.coef[4+i] = 2 * math.Cos(2*math.Pi*f/float64(cfg.Rate))
	}
	// A sine of peak amplitude A gives a Goertzel power of (A·N/2)².
	amp := 32768 * math.Pow(10, cfg.MinLevel/20)
	d.minPow = (amp * float64(d.n) / 2) * (amp * float64(d.n) / 2)
	d.normTwist = math.Pow(10, cfg.NormalTwist/10)
	d.revTwist = math.Pow(10, cfg.ReverseTwist/10)
	d.relPeak = math.Pow(10, cfg.RelativePeak/10)
	d.share = cfg.ToneShare
	block := time.Duration(blockNum) * time.Second / blockDen
	d.hitsNeed = wholeBlocks(cfg.MinDuration, block)
	d.missesNeed = wholeBlocks(cfg.MinPause, block)
	return d, nil
}

// wholeBlocks is the number of whole blocks that an interval of length d
// covers wherever it falls, at least one.
func wholeBlocks(d, block time.Duration) int {
	return max(1, int(d/block)-1)
}

// Rate returns the sample rate the detector was made for.
func (d *Detector) Rate() int { return d.rate }

// Reset forgets all state, as after a new stream; Start offsets count
// from here.
func (d *Detector) Reset() {
	d.s1, d.s2 = [8]float64{}, [8]float64{}
	d.energy, d.count, d.pos = 0, 0, 0
	d.cand, d.candN, d.candStart = 0, 0, 0
	d.active, d.misses, d.present = 0, 0, false
}

// Active returns the key being held, once it has been reported, or 0.
func (d *Detector) Active() rune { return d.active }

// Present reports whether the last analysed block held a DTMF tone, even
// one not yet long enough to be reported, or a reported press is still
// held: the bridge keeps such audio out of the mix.
func (d *Detector) Present() bool { return d.present || d.active != 0 }

// Process analyses pcm and appends the presses that it completes to dst.
// A press is reported once, when it has lasted MinDuration; it does not
// allocate when dst has room.
func (d *Detector) Process(dst []Tone, pcm []int16) []Tone {
	for len(pcm) > 0 {
		k := min(len(pcm), d.n-d.count)
		d.feed(pcm[:k])
		pcm = pcm[k:]
		d.count += k
		d.pos += int64(k)
		if d.count == d.n {
			if t, ok := d.block(); ok {
				dst = append(dst, t)
			}
		}
	}
	return dst
}

// feed runs the eight Goertzel filters and the energy sum over samples.
func (d *Detector) feed(samples []int16) {
	s1, s2 := d.s1, d.s2
	e := d.energy
	for _, v := range samples {
		x := float64(v)
		e += x * x
		for i := range 8 {
			s := x + d.coef[i]*s1[i] - s2[i]
			s2[i] = s1[i]
			s1[i] = s
		}
	}
	d.s1, d.s2, d.energy = s1, s2, e
}

// block classifies the finished block, runs the press state machine and
// starts the next block.
func (d *Detector) block() (Tone, bool) {
	digit := d.classify()
	start := d.pos - int64(d.n)
	d.s1, d.s2 = [8]float64{}, [8]float64{}
	d.energy, d.count = 0, 0
	d.present = digit != 0
	if d.present || d.active != 0 {
		d.toneBlocks++
	}

	if digit != 0 && digit == d.cand {
		d.candN++
	} else {
		d.cand, d.candN, d.candStart = digit, 0, start
		if digit != 0 {
			d.candN = 1
		}
	}
	if d.active != 0 {
		if digit == d.active {
			d.misses = 0
		} else if d.misses++; d.misses >= d.missesNeed {
			d.active, d.misses = 0, 0
		}
	}
	if d.active == 0 && digit != 0 && d.candN >= d.hitsNeed {
		d.active = digit
		return Tone{Digit: digit, Start: d.candStart}, true
	}
	return Tone{}, false
}

// classify returns the digit a block holds, or 0.
func (d *Detector) classify() rune {
	var p [8]float64
	for i := range 8 {
		p[i] = d.s1[i]*d.s1[i] + d.s2[i]*d.s2[i] - d.coef[i]*d.s1[i]*d.s2[i]
	}
	row, col := peak(p[:4]), peak(p[4:])
	pr, pc := p[row], p[4+col]
	if pr < d.minPow || pc < d.minPow {
		return 0
	}
	// Twist (Q.24): the high group may be louder by NormalTwist, the low
	// group by ReverseTwist.
	if pc > pr*d.normTwist || pr > pc*d.revTwist {
		return 0
	}
	for i := range 4 {
		if i != row && p[i]*d.relPeak > pr {
			return 0
		}
		if i != col && p[4+i]*d.relPeak > pc {
			return 0
		}
	}
	// The tones' mean power is 2P/N² each; the block's is energy/N.
	if 2*(pr+pc) < d.share*d.energy*float64(d.n) {
		return 0
	}
	return rune(Digits[4*row+col])
}

// peak returns the index of the largest of four powers.
func peak(p []float64) int {
	best := 0
	for i := 1; i < len(p); i++ {
		if p[i] > p[best] {
			best = i
		}
	}
	return best
}
