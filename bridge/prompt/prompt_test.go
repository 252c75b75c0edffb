package prompt

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roomgate/roomgate/prompts"
)

func newLibrary(t testing.TB, dir string) *Library {
	t.Helper()
	l, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestShippedPrompts checks every shipped file: 16 kHz mono 16-bit, a
// sane length, and speech in it (not silence, not clipped noise).
func TestShippedPrompts(t *testing.T) {
	files, err := fs.Glob(prompts.FS(), "*.wav")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no prompts embedded")
	}
	for _, f := range files {
		b, err := fs.ReadFile(prompts.FS(), f)
		if err != nil {
			t.Fatal(err)
		}
		pcm, rate, err := decodeWAV(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if rate != 16000 {
			t.Errorf("%s: %d Hz, want 16000", f, rate)
		}
		d := time.Duration(len(pcm)) * time.Second / time.Duration(rate)
		longest := 6 * time.Second
		if f == Help+".wav" {
			longest = 40 * time.Second // the whole key map
		}
		if d < 250*time.Millisecond || d > longest {
			t.Errorf("%s: %v long", f, d)
		}
		// Speech: most 20 ms frames well above silence, the loudest near
		// the -3 dBFS peak normalisation but not clipped all over.
		frame := rate / 50
		active, loudest := 0, -200.0
		for i := 0; i+frame <= len(pcm); i += frame {
			db := rmsDB(pcm[i : i+frame])
			loudest = max(loudest, db)
			if db > -40 {
				active++
			}
		}
		if frames := len(pcm) / frame; active < frames/3 || loudest < -20 || loudest > -3 {
			t.Errorf("%s: %d of %d frames active, loudest %.1f dBFS", f, active, frames, loudest)
		}
	}
}

func TestLibraryRequired(t *testing.T) {
	l := newLibrary(t, "")
	for _, name := range Required() {
		if !l.Has(name) {
			t.Errorf("missing %q", name)
		}
		for _, rate := range []int{8000, 16000, 48000} {
			pcm, err := l.Samples(name, rate)
			if err != nil {
				t.Fatalf("%s at %d Hz: %v", name, rate, err)
			}
			base, _ := l.Samples(name, 16000)
			if len(pcm) != len(base)*rate/16000 {
				t.Errorf("%s at %d Hz: %d samples, %d at 16 kHz", name, rate, len(pcm), len(base))
			}
			if db := rmsDB(pcm); db < -35 {
				t.Errorf("%s at %d Hz: %.1f dBFS", name, rate, db)
			}
		}
	}
	if _, err := l.Samples("nope", 8000); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown prompt: %v", err)
	}
	if _, err := l.Samples(Welcome, 44100); !errors.Is(err, ErrRate) {
		t.Errorf("bad rate: %v", err)
	}
}

// TestConversionAligned: a prompt converted to 8 and 48 kHz starts where
// the 16 kHz one does (the resampler's delay is removed).
func TestConversionAligned(t *testing.T) {
	l := newLibrary(t, "")
	base, _ := l.Samples(EnterConferenceID, 16000)
	for _, rate := range []int{8000, 48000} {
		pcm, _ := l.Samples(EnterConferenceID, rate)
		// Compare on the 8 kHz grid: every 2nd (16k) or 6th (48k) sample.
		a, b := decimate(base, 2), decimate(pcm, rate/8000)
		best, bestLag := -1.0, 0
		for lag := -20; lag <= 20; lag++ {
			if c := corr(a, b, lag); c > best {
				best, bestLag = c, lag
			}
		}
		if bestLag < -1 || bestLag > 1 || best < 0.8 {
			t.Errorf("%d Hz: best correlation %.2f at lag %d", rate, best, bestLag)
		}
	}
}

func decimate(pcm []int16, k int) []float64 {
	out := make([]float64, 0, len(pcm)/k)
	for i := 0; i < len(pcm); i += k {
		out = append(out, float64(pcm[i]))
	}
	return out
}

// corr is the normalised correlation of a and b shifted by lag.
func corr(a, b []float64, lag int) float64 {
	var ab, aa, bb float64
	for i := range a {
		j := i + lag
		if j < 0 || j >= len(b) {
			continue
		}
		ab += a[i] * b[j]
		aa += a[i] * a[i]
		bb += b[j] * b[j]
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / (sqrt(aa) * sqrt(bb))
}

func TestPlayerConcatenates(t *testing.T) {
	l := newLibrary(t, "")
	names, err := ParticipantCount(14)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ThereAre, "digit-1", "digit-4", Participants}
	if !slices.Equal(names, want) {
		t.Fatalf("ParticipantCount(14) = %v, want %v", names, want)
	}
	names = append(names, Join)
	for _, rate := range []int{8000, 16000, 48000} {
		p, err := l.Player(rate, names...)
		if err != nil {
			t.Fatal(err)
		}
		var whole []int16
		for _, n := range names {
			pcm, _ := l.Samples(n, rate)
			whole = append(whole, pcm...)
		}
		if p.Rate() != rate || p.FrameSize() != rate/50 {
			t.Fatalf("rate %d, frame %d", p.Rate(), p.FrameSize())
		}
		if want := time.Duration(len(whole)) * time.Second / time.Duration(rate); p.Duration() != want {
			t.Errorf("duration %v, want %v", p.Duration(), want)
		}
		var got []int16
		frame := make([]int16, p.FrameSize())
		frames := 0
		for !p.Done() {
			for i := range frame {
				frame[i] = 12345 // Fill must overwrite everything
			}
			n := p.Fill(frame)
			if n == 0 {
				t.Fatal("no progress before Done")
			}
			got = append(got, frame...)
			frames++
		}
		if wantFrames := (len(whole) + rate/50 - 1) / (rate / 50); frames != wantFrames {
			t.Errorf("%d Hz: %d frames, want %d", rate, frames, wantFrames)
		}
		if !slices.Equal(got[:len(whole)], whole) {
			t.Errorf("%d Hz: frames do not concatenate to the prompts", rate)
		}
		if slices.ContainsFunc(got[len(whole):], func(v int16) bool { return v != 0 }) {
			t.Errorf("%d Hz: padding of the last frame not silent", rate)
		}
		if n := p.Fill(frame); n != 0 || slices.ContainsFunc(frame, func(v int16) bool { return v != 0 }) {
			t.Errorf("%d Hz: after Done, Fill gave %d samples", rate, n)
		}
	}
	if _, err := l.Player(8000, Welcome, "no-such-prompt"); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown prompt: %v", err)
	}
}

func TestAnnouncements(t *testing.T) {
	cases := []struct {
		f    func(int) ([]string, error)
		n    int
		want []string
	}{
		{ParticipantCount, 1, []string{OnlyParticipant}},
		{ParticipantCount, 0, []string{ThereAre, "digit-0", Participants}},
		{ParticipantCount, 4, []string{ThereAre, "digit-4", Participants}},
		{Position, 1, []string{FirstParticipant}},
		{Position, 4, []string{YouAreParticipant, "digit-4"}},
		{Position, 230, []string{YouAreParticipant, "digit-2", "digit-3", "digit-0"}},
	}
	for _, c := range cases {
		got, err := c.f(c.n)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%d: %v, %v; want %v", c.n, got, err, c.want)
		}
	}
	for _, bad := range []func() error{
		func() error { _, err := ParticipantCount(-1); return err },
		func() error { _, err := Position(0); return err },
		func() error { _, err := Number(-5); return err },
	} {
		if err := bad(); !errors.Is(err, ErrCount) {
			t.Errorf("error %v, want ErrCount", err)
		}
	}
	if Digit(10) != "" || Digit(-1) != "" || Digit(7) != "digit-7" {
		t.Error("Digit maps out-of-range numbers")
	}
}

func TestJoinLeaveTones(t *testing.T) {
	l := newLibrary(t, "")
	join, _ := l.Samples(Join, 16000)
	leave, _ := l.Samples(Leave, 16000)
	if slices.Equal(join, leave) {
		t.Fatal("join and leave tones are the same")
	}
	for _, pcm := range [][]int16{join, leave} {
		if d := len(pcm) * 1000 / 16000; d < 100 || d > 1000 {
			t.Errorf("tone of %d ms", d)
		}
		if db := rmsDB(pcm); db < -25 || db > -12 {
			t.Errorf("tone at %.1f dBFS", db)
		}
		if pcm[0] != 0 || pcm[len(pcm)-1] != 0 {
			t.Error("tone does not fade in and out")
		}
	}
}

func TestDirectoryOverride(t *testing.T) {
	dir := t.TempDir()
	tone := make([]int16, 8000)
	for i := range tone {
		tone[i] = int16(8000 * sin(float64(i)*0.3))
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("welcome.wav", encodeWAV(tone, 8000))
	write("vorsicht.wav", encodeWAV(tone[:4000], 48000))
	write("README.txt", []byte("not a prompt"))
	l := newLibrary(t, dir)
	got, err := l.Samples(Welcome, 8000)
	if err != nil || !slices.Equal(got, tone) {
		t.Fatalf("welcome not replaced: %d samples, %v", len(got), err)
	}
	if up, err := l.Samples(Welcome, 16000); err != nil || len(up) != 2*len(tone) {
		t.Fatalf("replacement at 16 kHz: %d samples, %v", len(up), err)
	}
	if !l.Has("vorsicht") || !l.Has(EnterPIN) {
		t.Fatal("added prompt missing, or shipped prompt lost")
	}

	write("muted.wav", []byte("RIFF\x00\x00\x00\x00WAVEjunk"))
	if _, err := New(Config{Dir: dir}); !errors.Is(err, ErrFormat) {
		t.Errorf("broken replacement: %v", err)
	}
	if _, err := New(Config{Dir: filepath.Join(dir, "missing")}); err == nil {
		t.Error("missing directory accepted")
	}
}

func BenchmarkPlayerFill(b *testing.B) {
	l := newLibrary(b, "")
	for _, rate := range []int{8000, 16000, 48000} {
		b.Run(fmt.Sprintf("%dHz", rate), func(b *testing.B) {
			frame := make([]int16, rate/50)
			p, err := l.Player(rate, EnterConferenceID)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if p.Fill(frame) == 0 {
					p.i, p.off, p.done = 0, 0, 0 // rewind
				}
			}
		})
	}
}

// TestScriptMatchesNames: scripts/gen-prompts.sh makes exactly the spoken
// prompts the package requires, so regenerating cannot drop one.
func TestScriptMatchesNames(t *testing.T) {
	script, err := os.ReadFile("../../scripts/gen-prompts.sh")
	if err != nil {
		t.Fatal(err)
	}
	var made []string
	for _, line := range strings.Split(string(script), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "say" && !strings.HasPrefix(f[1], `"`) {
			made = append(made, f[1])
		}
	}
	if strings.Contains(string(script), `say "digit-$d"`) {
		for d := range 10 {
			made = append(made, Digit(d))
		}
	}
	var want []string
	for _, n := range Required() {
		if n != Join && n != Leave {
			want = append(want, n)
		}
	}
	slices.Sort(made)
	slices.Sort(want)
	if !slices.Equal(made, want) {
		t.Errorf("script makes %v\nrequired %v", made, want)
	}
}

// TestPlayerSeek: a sequence half played at one rate continues at another
// rate where it left off, across the boundary between two prompts.
func TestPlayerSeek(t *testing.T) {
	l := newLibrary(t, "")
	p8, err := l.Player(8000, Welcome, Goodbye)
	if err != nil {
		t.Fatal(err)
	}
	welcome, _ := l.Samples(Welcome, 48000)
	goodbye, _ := l.Samples(Goodbye, 48000)
	frame := make([]int16, p8.FrameSize())
	for p8.Elapsed() < p8.Duration()/2 {
		p8.Fill(frame)
	}
	p48, err := l.Player(48000, Welcome, Goodbye)
	if err != nil {
		t.Fatal(err)
	}
	p48.Seek(p8.Elapsed())
	if p48.Elapsed() != p8.Elapsed() {
		t.Fatalf("elapsed %v after seeking to %v", p48.Elapsed(), p8.Elapsed())
	}
	pos := int(p8.Elapsed() * 48000 / time.Second)
	whole := append(slices.Clone(welcome), goodbye...)
	out := make([]int16, 960)
	if n := p48.Fill(out); n != 960 || !slices.Equal(out, whole[pos:pos+960]) {
		t.Fatalf("after seek: %d samples, not the sequence at sample %d", n, pos)
	}
	p48.Seek(len48(len(welcome)))
	if p48.Fill(out); !slices.Equal(out, goodbye[:960]) {
		t.Error("seek to the second prompt's start does not play it")
	}
	p48.Seek(time.Hour)
	if !p48.Done() || p48.Fill(out) != 0 {
		t.Error("seek past the end is not done")
	}
	p48.Seek(-time.Second)
	if p48.Elapsed() != 0 || p48.Done() {
		t.Error("seek before the start")
	}
}

// len48 is the duration of n samples at 48 kHz.
func len48(n int) time.Duration { return time.Duration(n) * time.Second / 48000 }
