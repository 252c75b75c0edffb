package interop

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// phoneTone is what one phone plays and what the analysis expects of it.
type phoneTone struct {
	name  string
	codec string  // expected in the participants API
	freq  float64 // the tone this phone plays
	rate  int     // sample rate of its source WAV
}

// Tone frequencies are chosen so that no low-order harmonic or
// intermodulation product of two of them lands near the third.
var threePhones = []phoneTone{
	{name: "alice", codec: "PCMU", freq: 440, rate: 8000},
	{name: "bob", codec: "G722", freq: 1000, rate: 16000},
	{name: "carol", codec: "opus", freq: 1700, rate: 8000},
}

const (
	// toneAmp keeps the sum of two tones well below full scale, so a mixer
	// that does not attenuate still does not clip.
	toneAmp = 0.25
	// conferenceTime is how long all three phones talk at once.
	conferenceTime = 8 * time.Second
	// presentMarginDB: a heard tone stands this far above the noise floor...
	presentMarginDB = 20.0
	// ...in at least this share of the 100 ms windows.
	presentRatio = 0.8
	// ownToneBelowDB: a phone's own voice is at least this far below the
	// voices it should hear (mix-minus).
	ownToneBelowDB = 20.0
)

// TestThreePhonesHearEachOther is the acceptance test of the audio bridge:
// two baresips (PCMU and G.722) and a linphonec (opus) join one conference,
// each plays its own tone, and each must hear both other tones and not its own.
func TestThreePhonesHearEachOther(t *testing.T) {
	requirePeer(t, "baresip")
	requirePeer(t, "linphonec")
	srv := startServer(t, serverOpts{})
	srv.createConference(t, "1000", "Board room")
	uri := "sip:1000@" + srv.sipAddr

	dir := t.TempDir()
	src := make([]string, len(threePhones))
	for i, ph := range threePhones {
		src[i] = filepath.Join(dir, ph.name+"-tone.wav")
		// Longer than the whole test: aufile hangs up at end of file.
		if err := WriteToneWAV(src[i], ph.rate, ph.freq, toneAmp, 90*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	alice := startBaresip(t, baresipOpts{name: "alice", codecs: "PCMU/8000/1", source: src[0]})
	bob := startBaresip(t, baresipOpts{name: "bob", codecs: "G722/16000/1", source: src[1]})
	carolRec := filepath.Join(dir, "carol-heard.wav")
	carol := startLinphone(t, "carol", src[2], carolRec)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice.dial(t, ctx, uri)
	bob.dial(t, ctx, uri)
	carol.call(t, ctx, uri)
	allIn := time.Now()

	ps := srv.waitParticipants(t, "1000", 10*time.Second, "3 participants", func(ps []participant) bool { return len(ps) == 3 })
	var codecs []string
	for _, p := range ps {
		codecs = append(codecs, strings.ToUpper(p.Codec))
		if p.Protocol != "sip" {
			t.Errorf("participant %+v: protocol %q, want sip", p, p.Protocol)
		}
	}
	slices.Sort(codecs)
	if want := []string{"G722", "OPUS", "PCMU"}; !slices.Equal(codecs, want) {
		t.Errorf("participant codecs %v, want %v (case-insensitive)", codecs, want)
	}

	before := map[string]participant{}
	for _, p := range srv.participants(t, "1000") {
		before[p.ID] = p
	}
	sleepStart := time.Now()
	time.Sleep(conferenceTime)
	after := srv.participants(t, "1000")
	slept := time.Since(sleepStart)
	together := time.Since(allIn)
	// A 20 ms clock sends 50 packets a second to every leg; a mixer that
	// falls behind real time shows here before it shows in the recordings.
	wantOut := int(slept / (20 * time.Millisecond))
	for _, p := range after {
		sent := p.Stats.PacketsOut - before[p.ID].Stats.PacketsOut
		got := p.Stats.PacketsIn - before[p.ID].Stats.PacketsIn
		t.Logf("participant %s %s %s: %+v; in the last %v: %d packets in, %d out", p.DisplayName, p.Codec, p.Remote, p.Stats, slept.Round(time.Millisecond), got, sent)
		if got == 0 || sent == 0 {
			t.Errorf("participant %s (%s) exchanged no media in %v: %+v", p.DisplayName, p.Codec, slept, p.Stats)
		} else if int(sent) < wantOut*9/10 {
			t.Errorf("server sent %s (%s) %d packets in %v, want about %d: the mixer is not keeping real time (%s)",
				p.DisplayName, p.Codec, sent, slept.Round(time.Millisecond), wantOut, loadAverage())
		}
	}

	// Hang up all three at once so that every recording ends together.
	errs := make([]error, 3)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = alice.hangup(ctx) })
	wg.Go(func() { errs[1] = bob.hangup(ctx) })
	wg.Go(func() { errs[2] = carol.hangup(ctx) })
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	carol.quit(t)
	if t.Failed() {
		return
	}

	recs := []string{alice.recording(t), bob.recording(t), carolRec}
	for i, ph := range threePhones {
		checkHeard(t, ph, recs[i], together)
	}
}

// checkHeard analyses what one phone recorded and fails the test on every
// problem heardProblems finds.
func checkHeard(t *testing.T, ph phoneTone, path string, together time.Duration) {
	t.Helper()
	a, err := ReadWAVFile(path)
	if err != nil {
		t.Errorf("%s: %v", ph.name, err)
		return
	}
	report, problems := heardProblems(ph, a, together)
	t.Log(report)
	for _, p := range problems {
		t.Error(p)
	}
}

// heardProblems analyses the part of a phone's recording during which all
// three phones were in the conference (the end of the recording, minus half
// a second at each edge, and never the first second of the call). It returns
// a report of the levels and what is wrong: another phone's tone missing, or
// the phone's own tone not far enough below the others (no mix-minus).
func heardProblems(ph phoneTone, a Audio, together time.Duration) (string, []string) {
	end := a.Duration() - 500*time.Millisecond
	start := max(time.Second, a.Duration()-together+500*time.Millisecond)
	if end-start < 3*time.Second {
		return "", []string{fmt.Sprintf("%s: recording of %v leaves only %v of conference to analyse", ph.name, a.Duration(), end-start)}
	}
	freqs := make([]float64, len(threePhones))
	for i, o := range threePhones {
		freqs[i] = o.freq
	}
	lv, err := AnalyzeTones(a.Slice(start, end), freqs, 100*time.Millisecond)
	if err != nil {
		return "", []string{fmt.Sprintf("%s: %v", ph.name, err)}
	}
	sum, err := SummarizeTones(lv, freqs, presentMarginDB)
	if err != nil {
		return "", []string{fmt.Sprintf("%s: %v", ph.name, err)}
	}
	var report strings.Builder
	fmt.Fprintf(&report, "%s (%s, plays %g Hz) heard, %v..%v of %v at %d Hz:", ph.name, ph.codec, ph.freq, start, end, a.Duration(), a.Rate)
	for _, s := range sum {
		fmt.Fprintf(&report, "\n    %v", s)
	}

	var problems []string
	weakest := math.Inf(1)
	var own ToneSummary
	for i, s := range sum {
		if threePhones[i].name == ph.name {
			own = s
			continue
		}
		if s.PresentRatio < presentRatio {
			problems = append(problems, fmt.Sprintf("%s does not hear %s's %g Hz tone: %v (want ≥ %.0f dB above floor in ≥ %.0f%% of windows)",
				ph.name, threePhones[i].name, s.Freq, s, presentMarginDB, 100*presentRatio))
			continue
		}
		weakest = min(weakest, s.MedianDB)
	}
	// Mix-minus is judged against the tones that are heard; with none heard
	// the recording has already failed.
	if !math.IsInf(weakest, 1) && own.MedianDB > weakest-ownToneBelowDB {
		problems = append(problems, fmt.Sprintf("%s hears its own %g Hz tone at %.1f dBFS, only %.1f dB below the weakest other (want ≥ %.0f dB): no mix-minus",
			ph.name, own.Freq, own.MedianDB, weakest-own.MedianDB, ownToneBelowDB))
	}
	return report.String(), problems
}

// The acceptance criteria must reject a bridge without mix-minus and one that
// drops a leg, and accept a correct mix with codec-like noise.
func TestHeardProblems(t *testing.T) {
	alice := threePhones[0]
	const rate = 8000
	cases := []struct {
		name  string
		tones map[float64]float64
		want  []string // substrings, one per expected problem
	}{
		{"mix-minus", map[float64]float64{1000: 0.25, 1700: 0.25}, nil},
		{"own voice echoed", map[float64]float64{440: 0.25, 1000: 0.25, 1700: 0.25}, []string{"no mix-minus"}},
		{"own voice 15 dB down", map[float64]float64{440: 0.25 * 0.178, 1000: 0.25, 1700: 0.25}, []string{"no mix-minus"}},
		{"carol missing", map[float64]float64{1000: 0.25}, []string{"does not hear carol"}},
		{"silence", nil, []string{"does not hear bob", "does not hear carol"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := mix(rate, 8*time.Second, c.tones, 0.0005)
			_, problems := heardProblems(alice, a, 7*time.Second)
			if len(problems) != len(c.want) {
				t.Fatalf("problems %q, want %d matching %q", problems, len(c.want), c.want)
			}
			for i, w := range c.want {
				if !strings.Contains(problems[i], w) {
					t.Errorf("problem %q does not mention %q", problems[i], w)
				}
			}
		})
	}
	if _, problems := heardProblems(alice, mix(rate, 3*time.Second, nil, 0), 3*time.Second); len(problems) != 1 {
		t.Errorf("a 3 s recording must be too short to judge, got %q", problems)
	}
}

// loadAverage describes the machine's load, to tell a slow server from an
// overloaded test machine in failure messages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load average unknown"
	}
	return fmt.Sprintf("load average %s %s %s on %d CPUs", f[0], f[1], f[2], runtime.NumCPU())
}
