package bridge

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/roomgate/roomgate/bridge/codec"
)

// tonePeer is a peer that sends a tone in one codec and decodes what it gets.
type tonePeer struct {
	*peer
	leg   *Leg
	info  codec.Info
	pt    uint8
	freq  float64
	enc   codec.Encoder
	dec   codec.Decoder
	sent  int // samples of tone generated
	heard []int16

	// What the peer received: the first packet since heard was reset, and
	// the last one.
	firstSeq, lastSeq uint16
	firstTS, lastTS   uint32
	firstMarker       bool
}

func newTonePeer(t *testing.T, b *Bridge, room, id string, info codec.Info, pt uint8, freq float64) *tonePeer {
	t.Helper()
	enc, err := codec.NewEncoder(info)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := codec.NewDecoder(info)
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.NewLeg(LegOptions{ID: id, Room: room})
	if err != nil {
		t.Fatal(err)
	}
	p := &tonePeer{peer: newPeer(t), leg: l, info: info, pt: pt, freq: freq, enc: enc, dec: dec}
	p.to = netipLocal(l.LocalPort())
	if err := l.Start(StreamParams{Codec: info, PayloadType: pt, EventPayloadType: 101, Remote: p.addr, Direction: SendRecv}); err != nil {
		t.Fatal(err)
	}
	return p
}

// sendFrame sends the next 20 ms of the peer's tone.
func (p *tonePeer) sendFrame() {
	p.t.Helper()
	pcm := make([]int16, p.info.SamplesPerFrame())
	tone(pcm, p.info.SampleRate, p.freq, 6000, p.sent)
	p.sent += len(pcm)
	out := make([]byte, codec.MaxPayload)
	n, err := p.enc.Encode(pcm, out)
	if err != nil {
		p.t.Fatal(err)
	}
	p.sendRTP(p.pt, out[:n], p.info.TimestampStep())
}

// receiveFrame reads and decodes one packet of the mix.
func (p *tonePeer) receiveFrame() {
	p.t.Helper()
	pkt, _ := p.recvRTP()
	if p.heard == nil {
		p.firstSeq, p.firstTS, p.firstMarker = pkt.SequenceNumber, pkt.Timestamp, pkt.Marker
	}
	p.lastSeq, p.lastTS = pkt.SequenceNumber, pkt.Timestamp
	if pkt.PayloadType != p.pt {
		p.t.Fatalf("%s: payload type %d, want %d", p.leg.id, pkt.PayloadType, p.pt)
	}
	pcm := make([]int16, codec.MaxDecodeSamples)
	n, err := p.dec.Decode(pkt.Payload, pcm)
	if err != nil {
		p.t.Fatalf("%s: decoding the mix: %v", p.leg.id, err)
	}
	if p.heard == nil {
		p.heard = []int16{}
	}
	p.heard = append(p.heard, pcm[:n]...)
}

// runRoom drives frames ticks of the room of peers in lockstep: every peer
// sends a frame, the mixer ticks once, every peer reads its frame.
func runRoom(t *testing.T, clk *fakeClock, peers []*tonePeer, frames int) {
	t.Helper()
	r := roomOf(t, peers[0].leg)
	for range frames {
		clk.Advance(tickPeriod)
		for _, p := range peers {
			want := p.leg.Stats().PacketsIn + 1
			p.sendFrame()
			waitFor(t, fmt.Sprintf("%s to receive packet %d", p.leg.id, want), func() bool { return p.leg.Stats().PacketsIn >= want })
		}
		r.tick(clk.Now())
		for _, p := range peers {
			p.receiveFrame()
		}
	}
}

// checkHearsOthers asserts with Goertzel that each peer hears the others'
// tones and not its own, over the last half of what it heard.
func checkHearsOthers(t *testing.T, peers []*tonePeer) {
	t.Helper()
	for _, p := range peers {
		pcm := p.heard[len(p.heard)/2:]
		rate := p.info.SampleRate
		own := goertzel(pcm, rate, p.freq)
		for _, o := range peers {
			if o == p {
				continue
			}
			other := goertzel(pcm, rate, o.freq)
			if other < 1e5 {
				t.Errorf("%s does not hear %s's %.0f Hz tone (power %.3g)", p.leg.id, o.leg.id, o.freq, other)
			}
			if own*100 > other {
				t.Errorf("%s hears its own %.0f Hz tone (power %.3g) against %s's %.3g", p.leg.id, p.freq, own, o.leg.id, other)
			}
		}
	}
}

func TestRoomThreeLegsPCMU(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	pcmu := mustLookup(t, "PCMU")
	peers := []*tonePeer{
		newTonePeer(t, b, "1000", "a", pcmu, 0, 440),
		newTonePeer(t, b, "1000", "b", pcmu, 0, 700),
		newTonePeer(t, b, "1000", "c", pcmu, 0, 1100),
	}
	runRoom(t, clk, peers, 40)
	checkHearsOthers(t, peers)
	for _, p := range peers {
		s := p.leg.Stats()
		if !s.Talking || s.PacketsOut != 40 || s.Codec != "PCMU" || s.Remote != p.addr {
			t.Errorf("%s stats %+v", p.leg.id, s)
		}
	}
}

func TestRoomMixedCodecs(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	peers := []*tonePeer{
		newTonePeer(t, b, "2000", "pcmu", mustLookup(t, "PCMU"), 0, 440),
		newTonePeer(t, b, "2000", "g722", mustLookup(t, "G722"), 9, 700),
		newTonePeer(t, b, "2000", "opus", mustLookup(t, "opus"), 111, 1100),
	}
	runRoom(t, clk, peers, 50)
	checkHearsOthers(t, peers)
	if r := roomOf(t, peers[0].leg); r.rate != 48000 {
		t.Errorf("mix rate %d, want 48000", r.rate)
	}
}

// netipLocal is 127.0.0.1:port.
func netipLocal(port int) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
}

var _ = time.Second
