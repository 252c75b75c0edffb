package bridge

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/bridge/dtmf"
)

// dtmfFreqs are the eight DTMF frequencies.
var dtmfFreqs = [...]float64{697, 770, 852, 941, 1209, 1336, 1477, 1633}

// speechBed is the steady part of the in-band test signal, a 300 Hz hum that
// proves the listener hears the sender.
const speechBed = 300

// inbandSignal returns 8 kHz PCM with digits as DTMF tones (100 ms each, 120
// ms apart) over low-passed noise and a 300 Hz hum, as a phone sends keys
// while its user talks. It is a whole number of 20 ms frames.
func inbandSignal(t *testing.T, digits string) []int16 {
	t.Helper()
	const rate = 8000
	ms := func(n int) int { return rate * n / 1000 }
	var sig []int16
	sig = append(sig, make([]int16, ms(300))...)
	for _, d := range digits {
		var err error
		if sig, err = dtmf.AppendTone(sig, rate, d, dtmf.DefaultToneLevel, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		sig = append(sig, make([]int16, ms(120))...)
	}
	sig = append(sig, make([]int16, ms(300))...)
	sig = append(sig, make([]int16, (ms(20)-len(sig)%ms(20))%ms(20))...)
	rng := rand.New(rand.NewPCG(1, 2))
	var lp float64
	for i := range sig {
		lp = 0.8*lp + 0.2*(rng.Float64()*2-1)*6000 // about -28 dBFS, mostly below 1 kHz
		v := float64(sig[i]) + lp + 2000*math.Sin(2*math.Pi*speechBed*float64(i)/rate)
		sig[i] = int16(max(math.MinInt16, min(math.MaxInt16, v)))
	}
	return sig
}

// dtmfPower is the strongest DTMF frequency in pcm and the 300 Hz hum, by
// Goertzel over each 20 ms frame (so a short tone is not averaged away).
func dtmfPower(pcm []int16) (worst, hum float64) {
	const frame = 160
	for i := 0; i+frame <= len(pcm); i += frame {
		f := pcm[i : i+frame]
		for _, fr := range dtmfFreqs {
			worst = max(worst, goertzel(f, 8000, fr))
		}
		hum = max(hum, goertzel(f, 8000, speechBed))
	}
	return worst, hum
}

// inbandRun sends the in-band signal for digits from a PCMU leg with
// eventPT in a room with a silent listener and returns the digit events the
// sender's leg emitted and what the listener heard.
func inbandRun(t *testing.T, digits string, eventPT int, muted bool) (got []Event, sent, heard []int16) {
	t.Helper()
	b, clk := newTestBridge(t, Config{})
	pcmu := mustLookup(t, "PCMU")
	var mu sync.Mutex
	drained := make(chan struct{})
	l, err := b.NewLeg(LegOptions{ID: "keys", Room: "inband", OnEvent: func(ev Event) {
		switch ev.Kind {
		case EventDTMF:
			mu.Lock()
			got = append(got, ev)
			mu.Unlock()
		case EventMediaTimeout: // the test's end marker, below
			close(drained)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := codec.NewEncoder(pcmu)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := codec.NewDecoder(pcmu)
	if err != nil {
		t.Fatal(err)
	}
	sender := &tonePeer{peer: newPeer(t), leg: l, info: pcmu, enc: enc, dec: dec}
	sender.to = netipLocal(l.LocalPort())
	if err := l.Start(StreamParams{Codec: pcmu, EventPayloadType: eventPT, Remote: sender.addr}); err != nil {
		t.Fatal(err)
	}
	l.SetMuted(muted)
	listener := newTonePeer(t, b, "inband", "ears", pcmu, 0, 0) // sends silence

	sent = inbandSignal(t, digits)
	r := roomOf(t, l)
	payload := make([]byte, codec.MaxPayload)
	for i := 0; i < len(sent); i += 160 {
		clk.Advance(tickPeriod)
		n, err := enc.Encode(sent[i:i+160], payload)
		if err != nil {
			t.Fatal(err)
		}
		sender.sendRTP(0, payload[:n], 160)
		listener.sendFrame()
		for _, p := range []*tonePeer{sender, listener} {
			want := uint64(i/160 + 1)
			waitFor(t, "the frame to arrive", func() bool { return p.leg.Stats().PacketsIn >= want })
		}
		r.tick(clk.Now())
		sender.receiveFrame()
		listener.receiveFrame()
	}
	// Events are delivered in order: once the marker is through, every
	// digit the run produced has been seen.
	l.emit(Event{Kind: EventMediaTimeout})
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("leg events not delivered")
	}
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(got), sent, listener.heard
}

func digitsOf(evs []Event) string {
	var s []rune
	for _, ev := range evs {
		s = append(s, ev.Digit)
	}
	return string(s)
}

// A phone without telephone-event pressing keys while its user talks: the
// leg reports exactly those digits as in-band, and the room hears the talk
// but not the tones.
func TestLegInbandDTMF(t *testing.T) {
	const digits = "159#0*D"
	got, sent, heard := inbandRun(t, digits, -1, false)
	if s := digitsOf(got); s != digits {
		t.Errorf("in-band digits %q, want %q", s, digits)
	}
	for _, ev := range got {
		if ev.Source != SourceInband || ev.At.IsZero() {
			t.Errorf("digit %q with source %d at %v, want in-band with a time", ev.Digit, ev.Source, ev.At)
		}
	}
	// The check can fail: the sent signal does carry the tones.
	if worst, hum := dtmfPower(sent); worst < 4*hum {
		t.Fatalf("test signal: DTMF power %.3g, hum %.3g", worst, hum)
	}
	worst, hum := dtmfPower(heard)
	if hum < 1e5 {
		t.Errorf("the listener does not hear the sender's talk (300 Hz power %.3g)", hum)
	}
	if worst*10 > hum {
		t.Errorf("the listener hears DTMF: power %.3g against the talk's %.3g", worst, hum)
	}
}

// A muted leg is still scanned for digits, and the room hears nothing of it.
func TestLegInbandDTMFMuted(t *testing.T) {
	const digits = "42"
	got, _, heard := inbandRun(t, digits, -1, true)
	if s := digitsOf(got); s != digits {
		t.Errorf("in-band digits of a muted leg %q, want %q", s, digits)
	}
	if worst, hum := dtmfPower(heard); worst > 1e3 || hum > 1e3 {
		t.Errorf("the listener hears the muted leg: DTMF %.3g, talk %.3g", worst, hum)
	}
}

// With telephone-event negotiated the audio is mixed as it comes, and the
// digits are left to RFC 4733.
func TestLegInbandDTMFNotScannedWithTelephoneEvent(t *testing.T) {
	got, _, heard := inbandRun(t, "7", 101, false)
	if len(got) != 0 {
		t.Errorf("digits %q reported from audio with telephone-event negotiated", digitsOf(got))
	}
	if worst, hum := dtmfPower(heard); worst < 4*hum {
		t.Errorf("tones unexpectedly removed: DTMF %.3g, talk %.3g", worst, hum)
	}
}
