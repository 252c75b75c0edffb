package prompt

import (
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/roomgate/roomgate/bridge/resample"
	"github.com/roomgate/roomgate/prompts"
)

// Config configures a Library.
type Config struct {
	// Dir, when set, is a directory of <name>.wav files that replace the
	// shipped prompts of the same name or add new ones.
	Dir string
	// Logger receives what was loaded; nil discards.
	Logger *slog.Logger
}

// clip is one prompt: its samples at the rate of its file, and conversions
// to the other rates made on first use.
type clip struct {
	rate int
	pcm  []int16

	mu    sync.Mutex
	rated map[int][]int16
}

// Library holds the prompts. It is read-only once made and safe for
// concurrent use; many Players share its samples.
type Library struct {
	clips map[string]*clip
}

// toneRate is the rate the join and leave tones are synthesised at.
const toneRate = 16000

// New loads the shipped prompts, then those of cfg.Dir, and synthesises the
// join and leave tones unless a file replaces them. It fails if a file is
// unreadable or a required prompt is missing.
func New(cfg Config) (*Library, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Library{clips: make(map[string]*clip)}
	l.clips[Join] = &clip{rate: toneRate, pcm: chime(toneRate, []float64{660, 880})}
	l.clips[Leave] = &clip{rate: toneRate, pcm: chime(toneRate, []float64{880, 660})}
	if _, err := l.load(prompts.FS()); err != nil {
		return nil, fmt.Errorf("loading shipped prompts: %w", err)
	}
	if cfg.Dir != "" {
		n, err := l.load(os.DirFS(cfg.Dir))
		if err != nil {
			return nil, fmt.Errorf("loading prompts from %s: %w", cfg.Dir, err)
		}
		log.Info("prompts loaded from directory", "component", "prompt", "dir", cfg.Dir, "files", n)
	}
	for _, name := range Required() {
		if l.clips[name] == nil {
			return nil, fmt.Errorf("loading prompts: %q: %w", name, ErrUnknown)
		}
	}
	return l, nil
}

// load adds every *.wav file at the root of fsys, replacing clips of the
// same name, and returns how many it read.
func (l *Library) load(fsys fs.FS) (int, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return 0, fmt.Errorf("listing prompt files: %w", err)
	}
	n := 0
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".wav")
		if !ok || name == "" || e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return n, fmt.Errorf("reading prompt %s: %w", e.Name(), err)
		}
		// A file longer than MaxClip at 48 kHz cannot be valid.
		if info.Size() > 44+2*48000*MaxClip+1<<16 {
			return n, fmt.Errorf("reading prompt %s: %d bytes: %w", e.Name(), info.Size(), ErrFormat)
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return n, fmt.Errorf("reading prompt %s: %w", e.Name(), err)
		}
		pcm, rate, err := decodeWAV(b)
		if err != nil {
			return n, fmt.Errorf("decoding prompt %s: %w", path.Clean(e.Name()), err)
		}
		l.clips[name] = &clip{rate: rate, pcm: pcm}
		n++
	}
	return n, nil
}

// Has reports whether the library holds the prompt name.
func (l *Library) Has(name string) bool { return l.clips[name] != nil }

// Samples returns the prompt name at rate (8000, 16000 or 48000 Hz). The
// slice is shared: callers must not modify it. Conversions are made once,
// on first use, by the bridge's resampler, aligned for its delay.
func (l *Library) Samples(name string, rate int) ([]int16, error) {
	c := l.clips[name]
	if c == nil {
		return nil, fmt.Errorf("prompt %q: %w", name, ErrUnknown)
	}
	switch rate {
	case 8000, 16000, 48000:
	default:
		return nil, fmt.Errorf("prompt %q at %d Hz: %w", name, rate, ErrRate)
	}
	if rate == c.rate {
		return c.pcm, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if pcm, ok := c.rated[rate]; ok {
		return pcm, nil
	}
	pcm, err := convert(c.pcm, c.rate, rate)
	if err != nil {
		return nil, fmt.Errorf("prompt %q at %d Hz: %w", name, rate, err)
	}
	if c.rated == nil {
		c.rated = make(map[int][]int16, 2)
	}
	c.rated[rate] = pcm
	return pcm, nil
}

// convert resamples a whole clip, flushing the filter with silence and
// dropping its delay so that the result starts where the clip starts.
func convert(pcm []int16, from, to int) ([]int16, error) {
	r, err := resample.New(from, to)
	if err != nil {
		return nil, err
	}
	want := int(int64(len(pcm)) * int64(to) / int64(from))
	delay := r.Delay()
	in := make([]int16, len(pcm)+(delay+2)*from/to+from/1000)
	copy(in, pcm)
	out := make([]int16, r.OutLen(len(in)))
	n := r.Process(out, in)
	if n < delay+want {
		return nil, fmt.Errorf("resampling %d to %d Hz: %d samples out, want %d: %w", from, to, n, delay+want, errShort)
	}
	return out[delay : delay+want : delay+want], nil
}

// chime synthesises a short tone of one note per frequency, 120 ms each,
// at -16 dBFS with 10 ms fades so that it does not click.
func chime(rate int, freqs []float64) []int16 {
	note := rate * 120 / 1000
	fade := rate * 10 / 1000
	amp := 32767 * math.Pow(10, -16.0/20)
	out := make([]int16, 0, note*len(freqs))
	for _, f := range freqs {
		for i := range note {
			g := 1.0
			if i < fade {
				g = float64(i) / float64(fade)
			} else if i >= note-fade {
				g = float64(note-1-i) / float64(fade)
			}
			v := amp * g * math.Sin(2*math.Pi*f*float64(i)/float64(rate))
			out = append(out, int16(math.Round(v)))
		}
	}
	return out
}
