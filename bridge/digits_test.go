package bridge

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/bridge/dtmf"
)

// detect returns the digits bridge/dtmf's detector finds in pcm.
func detect(t *testing.T, pcm []int16, rate int) string {
	t.Helper()
	d, err := dtmf.NewDetector(dtmf.DetectorConfig{Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	tones := d.Process(nil, pcm)
	tones = d.Process(tones, make([]int16, rate/5))
	var s strings.Builder
	for _, x := range tones {
		s.WriteRune(x.Digit)
	}
	return s.String()
}

// Passed digits are heard by the others in the room, at every codec, and
// not by the presser. The presser here negotiated no telephone-event, so its
// audio goes through its in-band suppressor, which must not cut the tones;
// it is also muted, and its voice is not heard while its digits are.
func TestLegPassDigit(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	pcmu := mustLookup(t, "PCMU")
	var mu sync.Mutex
	var events []Event
	l, err := b.NewLeg(LegOptions{ID: "presser", Room: "pass", OnEvent: func(ev Event) {
		if ev.Kind == EventDTMF {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := stdMedia{}.newDecoder(pcmu)
	enc, _ := stdMedia{}.newEncoder(pcmu)
	presser := &tonePeer{peer: newPeer(t), leg: l, info: pcmu, pt: 0, freq: 300, enc: enc, dec: dec}
	presser.to = netipLocal(l.LocalPort())
	if err := l.Start(StreamParams{Codec: pcmu, EventPayloadType: -1, Remote: presser.addr}); err != nil {
		t.Fatal(err)
	}
	talker := newTonePeer(t, b, "pass", "talker", pcmu, 0, 0)
	g722 := newTonePeer(t, b, "pass", "g722", mustLookup(t, "G722"), 9, 0)
	opus := newTonePeer(t, b, "pass", "opus", mustLookup(t, "opus"), 111, 0)
	peers := []*tonePeer{presser, talker, g722, opus}
	runRoom(t, clk, peers, 5)
	l.SetMuted(true)
	for _, d := range "5#x" { // x is no digit: ignored
		l.PassDigit(d)
	}
	l.PassDigit('a')
	runRoom(t, clk, peers, 40)
	for _, p := range peers[1:] {
		if got := detect(t, p.heard, p.info.SampleRate); got != "5#A" {
			t.Errorf("%s detected %q in what it heard, want \"5#A\"", p.leg.id, got)
		}
		if hum := goertzel(p.heard[len(p.heard)/2:], p.info.SampleRate, 300); hum > 1e3 {
			t.Errorf("%s hears the muted presser's voice (power %.3g)", p.leg.id, hum)
		}
	}
	if got := detect(t, presser.heard, 8000); got != "" {
		t.Errorf("the presser hears its own digits %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 0 {
		t.Errorf("passed digits reported as the presser's presses: %v", events)
	}
	if l.Stats().Talking {
		t.Error("passed digits count as talking")
	}
	if v := counterValue(t, b.metrics.dtmfPassed); v != 3 {
		t.Errorf("dtmf_passed_total %v, want 3", v)
	}
}

// sentPacket is one RTP packet the bridge sent a leg.
type sentPacket struct {
	rtp.Header
	payload []byte
}

// SendDigits sends RFC 4733 events in the leg's RTP stream, one packet per
// tick, that the bridge's own telephone-event parser reads back as the
// digits, with the right marker, timestamps, durations and end packets.
func TestLegSendDigits(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	g722 := mustLookup(t, "G722")
	e := newEar(t, b, "send", "a", g722, 9, 101)
	other := newTonePeer(t, b, "send", "talker", g722, 9, 440) // audio to hear
	r := roomOf(t, e.leg)
	if err := e.leg.SendDigits("1,#"); err != nil {
		t.Fatal(err)
	}
	var got []sentPacket
	for range 60 {
		clk.Advance(tickPeriod)
		want := other.leg.Stats().PacketsIn + 1
		other.sendFrame()
		waitFor(t, "talker's packet", func() bool { return other.leg.Stats().PacketsIn >= want })
		r.tick(clk.Now())
		other.receiveFrame()
		pkt, _ := e.recvRTP()
		got = append(got, sentPacket{pkt.Header, append([]byte(nil), pkt.Payload...)})
	}
	// Expected, per tick: 7 event packets of '1' (durations 1..5 frames of
	// 160, the 5th and the two after it with the end bit), 3 of audio, 25
	// of audio for ',', then 7 of '#', then audio.
	type want struct {
		event    int // -1 for audio
		dur      uint16
		end      bool
		marker   bool
		sameTSAs int // index of the packet whose timestamp it shares, -1 none
	}
	var plan []want
	digit := func(code int, start int) {
		for k := 1; k <= 7; k++ {
			plan = append(plan, want{code, uint16(160 * min(k, 5)), k >= 5, k == 1, start})
		}
	}
	digit(1, 0)
	for range 3 + 25 {
		plan = append(plan, want{event: -1, sameTSAs: -1})
	}
	plan[7].marker = true // audio after an event starts a talkspurt
	digit(11, 35)
	plan = append(plan, want{event: -1, marker: true, sameTSAs: -1})
	for i, w := range plan {
		p := got[i]
		if i > 0 && p.SequenceNumber != got[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d: sequence %d after %d", i, p.SequenceNumber, got[i-1].SequenceNumber)
		}
		if p.SSRC != got[0].SSRC {
			t.Fatalf("packet %d: SSRC changed", i)
		}
		if w.event < 0 {
			if p.PayloadType != 9 || p.Marker != w.marker {
				t.Errorf("packet %d: PT %d marker %v, want audio (marker %v)", i, p.PayloadType, p.Marker, w.marker)
			}
			if p.Timestamp != got[0].Timestamp+uint32(160*i) {
				t.Errorf("packet %d: audio timestamp %d does not follow the clock", i, p.Timestamp)
			}
			continue
		}
		if p.PayloadType != 101 || p.Marker != w.marker {
			t.Fatalf("packet %d: PT %d marker %v, want event marker %v", i, p.PayloadType, p.Marker, w.marker)
		}
		te, err := parseTelephoneEvent(p.payload)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if int(te.Event) != w.event || te.End != w.end || te.Duration != w.dur || te.Volume != eventVolume {
			t.Errorf("packet %d: %+v, want event %d end %v duration %d", i, te, w.event, w.end, w.dur)
		}
		if p.Timestamp != got[0].Timestamp+uint32(160*w.sameTSAs) {
			t.Errorf("packet %d: event timestamp %d, want that of its start", i, p.Timestamp)
		}
	}
	// The leg's own receive-side parser takes the events back as the
	// digits, once each.
	var det dtmfDetector
	var digits []rune
	for _, p := range got {
		if p.PayloadType != 101 {
			continue
		}
		te, _ := parseTelephoneEvent(p.payload)
		if d, ok := det.feed(p.Timestamp, te); ok {
			digits = append(digits, d)
		}
	}
	if string(digits) != "1#" {
		t.Errorf("parsed digits %q, want \"1#\"", string(digits))
	}
	if v := counterValue(t, b.metrics.dtmfSent); v != 2 {
		t.Errorf("dtmf_sent_total %v, want 2", v)
	}
}

func TestLegSendDigitsErrors(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	pcmu := mustLookup(t, "PCMU")
	l, err := b.NewLeg(LegOptions{ID: "early", Room: "e"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SendDigits("1"); !errors.Is(err, ErrNotStarted) {
		t.Errorf("before Start: %v", err)
	}
	l.Close(nil)
	if err := l.SendDigits("1"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	noEv := newEar(t, b, "e", "noev", pcmu, 0, -1)
	if err := noEv.leg.SendDigits("1"); !errors.Is(err, ErrNoTelephoneEvent) {
		t.Errorf("without telephone-event: %v", err)
	}
	e := newEar(t, b, "e", "ev", pcmu, 0, 101)
	for _, bad := range []string{"12x", "E", "1 2", "٣"} {
		if err := e.leg.SendDigits(bad); !errors.Is(err, ErrBadDigit) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := e.leg.SendDigits(strings.Repeat("1", maxSendDigits+1)); !errors.Is(err, ErrDigitQueueFull) {
		t.Errorf("too many digits: %v", err)
	}
	if err := e.leg.SendDigits(strings.Repeat("1", maxSendDigits)); err != nil {
		t.Fatal(err)
	}
	if err := e.leg.SendDigits("1"); !errors.Is(err, ErrDigitQueueFull) {
		t.Errorf("queue full: %v", err)
	}
	// Nothing of the refused strings was sent: only audio and digit 1.
	r := roomOf(t, e.leg)
	for range 30 {
		clk.Advance(tickPeriod)
		r.tick(clk.Now())
		pkt, _ := e.recvRTP()
		noEv.recvRTP()
		if pkt.PayloadType == 101 && pkt.Payload[0] != 1 {
			t.Fatalf("event %d sent", pkt.Payload[0])
		}
	}
	// Renegotiated without telephone-event: the queue is dropped, audio
	// flows.
	if err := e.leg.Update(StreamParams{Codec: pcmu, EventPayloadType: -1, Remote: e.addr}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		clk.Advance(tickPeriod)
		r.tick(clk.Now())
		if pkt, _ := e.recvRTP(); pkt.PayloadType != 0 {
			t.Fatalf("payload type %d after telephone-event was dropped", pkt.PayloadType)
		}
		noEv.recvRTP()
	}
}

// FuzzEventCode: SendDigits takes a user's string; every character is a
// digit, ',' or refused, and digits map back through eventDigit.
func FuzzEventCode(f *testing.F) {
	for _, s := range []string{"123", "*#,ABCD", "abcd", "1x", "", "٣", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range s {
			code, ok := eventCode(c)
			valid := strings.ContainsRune("0123456789*#ABCDabcd,", c)
			if ok != valid {
				t.Fatalf("%q: accepted %v", c, ok)
			}
			if !ok || c == ',' {
				continue
			}
			d, isDigit := eventDigit(code)
			if n, _ := dtmf.Normalize(c); !isDigit || d != n {
				t.Fatalf("%q: code %d reads back as %q", c, code, d)
			}
		}
	})
}
