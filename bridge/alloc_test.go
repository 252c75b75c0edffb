package bridge

import (
	"testing"

	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/bridge/prompt"
)

// TestHotPathsDoNotAllocate guards the zero-allocation claim in ordinary
// test runs (benchmarks only report it): receiving a packet and a mixer tick
// with talkers, mix-minus and shared encodes, and in-band DTMF suppression
// on the legs without telephone-event; and, once they have started (their
// setup may allocate), a prompt playing to one leg, talk and listen gain on
// others, digits passed into the mix and RFC 4733 events being sent.
func TestHotPathsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	b, clk := newTestBridge(t, Config{Prompts: testPrompts(t)})
	sink := newPeer(t)
	pcmu := mustLookup(t, "PCMU")
	var legs []*Leg
	for i := range 6 {
		l, err := b.NewLeg(LegOptions{ID: string(rune('a' + i)), Room: "alloc"})
		if err != nil {
			t.Fatal(err)
		}
		ev := 101
		if i%2 == 1 { // b (a talker), d and f: no telephone-event
			ev = -1
		}
		if err := l.Start(StreamParams{Codec: pcmu, EventPayloadType: ev, Remote: sink.addr}); err != nil {
			t.Fatal(err)
		}
		legs = append(legs, l)
	}
	payloads := make([][]byte, len(legs))
	for i := range legs {
		pcm := make([]int16, 160)
		if i < 3 {
			tone(pcm, 8000, 300+200*float64(i), 8000, 0)
		}
		out := make([]byte, 160)
		enc, _ := stdMedia{}.newEncoder(pcmu)
		_, _ = enc.Encode(pcm, out)
		payloads[i] = out
	}
	seq := uint16(1)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 9}}
	raws := make([][]byte, len(legs))
	for i := range legs {
		pkt.Payload = payloads[i]
		raws[i], _ = pkt.Marshal()
	}
	r := roomOf(t, legs[0])
	round := func() {
		clk.Advance(tickPeriod)
		for i, l := range legs {
			raw := raws[i]
			raw[2], raw[3] = byte(seq>>8), byte(seq)
			ts := uint32(seq) * 160
			raw[4], raw[5], raw[6], raw[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
			l.handleRTP(raw, sink.addr, clk.Now())
		}
		seq++
		r.tick(clk.Now())
	}
	// Help lasts half a minute: it plays through the whole run.
	playing, err := legs[4].Play(prompt.Help)
	if err != nil {
		t.Fatal(err)
	}
	legs[1].SetGain(0, 2)  // a talker, louder
	legs[5].SetGain(-1, 0) // a listener, its own encode
	for _, d := range "123456" {
		legs[3].PassDigit(d) // 180 ms each: into the measured rounds
	}
	if err := legs[2].SendDigits("1,23"); err != nil {
		t.Fatal(err)
	}
	for range 20 { // warm up: latch, prebuffer, talkers, groups, generators
		round()
	}
	if !legs[3].mx.passGen.Busy() || !legs[2].evOut.busy() || legs[4].mx.player == nil {
		t.Fatal("digits and prompt do not reach into the measured rounds")
	}
	// 400 rounds are 8 s: every leg also sends RTCP reports meanwhile.
	if n := testing.AllocsPerRun(400, round); n != 0 {
		t.Fatalf("%v allocations per packet round and tick", n)
	}
	if closed(playing) {
		t.Fatal("the prompt ended during the run")
	}
	if v := counterValue(t, b.metrics.rtcpOut); v < float64(len(legs)) {
		t.Fatalf("%v RTCP reports sent during the run", v)
	}
	if !legs[0].mx.spk.talking || legs[5].mx.spk.talking {
		t.Fatal("the talkers are not the three tone legs")
	}
	for i, l := range legs {
		if scanned := l.mx.sup != nil; scanned != (i%2 == 1) {
			t.Errorf("leg %d: in-band DTMF suppressor present %v", i, scanned)
		}
	}
}
