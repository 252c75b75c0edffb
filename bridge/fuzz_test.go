package bridge

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// rtpSeeds are valid and broken RTP datagrams for the fuzzers' corpora.
func rtpSeeds() [][]byte {
	mk := func(h rtp.Header, payload []byte) []byte {
		b, _ := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
		return b
	}
	ext := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 7, Timestamp: 160, SSRC: 1}
	_ = ext.SetExtension(1, []byte{1, 2, 3})
	return [][]byte{
		mk(rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 1}, make([]byte, 160)),
		mk(rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: 2, Timestamp: 320, SSRC: 1, Marker: true}, []byte{5, 0x8a, 3, 0x20}),
		mk(rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 3, Timestamp: 480, SSRC: 1, CSRC: []uint32{9, 10}}, make([]byte, 80)),
		mk(ext, make([]byte, 240)),
		{0xa0, 0, 0, 4, 0, 0, 2, 0x80, 0, 0, 0, 1, 0xff, 0xff, 2},
		{0x80, 0},
		{0x8f, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},
		{0x81, 200, 0, 1, 0, 0, 0, 1}, // RTCP on the RTP port
	}
}

func FuzzParseRTP(f *testing.F) {
	for _, s := range rtpSeeds() {
		f.Add(s)
	}
	var h rtp.Header
	f.Fuzz(func(t *testing.T, pkt []byte) {
		payload, err := parseRTP(&h, pkt)
		if err != nil {
			if !errors.Is(err, ErrRTPTruncated) && !errors.Is(err, ErrRTPVersion) && !errors.Is(err, ErrRTPPadding) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(payload) > len(pkt)-12 {
			t.Fatalf("payload %d bytes from a %d-byte packet", len(payload), len(pkt))
		}
		if len(payload) > 0 && !bytes.Contains(pkt, payload) {
			t.Fatal("payload does not alias the packet")
		}
	})
}

// FuzzLegReceive drives the whole receive path of a started leg (parse,
// latch, jitter buffer, DTMF, RTCP multiplexed on the port) with arbitrary
// datagrams from two sources, pulling frames as the mixer would.
func FuzzLegReceive(f *testing.F) {
	for _, s := range rtpSeeds() {
		f.Add(s, false)
		f.Add(s, true)
	}
	b, clk := newTestBridge(f, Config{})
	l, err := b.NewLeg(LegOptions{ID: "fuzz", Room: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	if err := l.Start(StreamParams{Codec: mustLookup(f, "PCMU"), PayloadType: 0, EventPayloadType: 101, Remote: netipLocal(9)}); err != nil {
		f.Fatal(err)
	}
	src := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4000"), netip.MustParseAddrPort("[::1]:4000")}
	pcm := make([]int16, maxFrame)
	f.Fuzz(func(t *testing.T, pkt []byte, other bool) {
		from := src[0]
		if other {
			from = src[1]
		}
		l.handleRTP(pkt, from, clk.Now())
		l.mu.Lock()
		l.play.pull(pcm)
		if l.play.jb.count < 0 || l.play.jb.count > jbSlots {
			t.Fatalf("jitter buffer count %d", l.play.jb.count)
		}
		l.mu.Unlock()
	})
}

func FuzzRTCPReceive(f *testing.F) {
	sr, _ := rtcp.Marshal([]rtcp.Packet{
		&rtcp.SenderReport{SSRC: 1, NTPTime: 1 << 40, Reports: []rtcp.ReceptionReport{{SSRC: 2, TotalLost: 3, Jitter: 4}}},
		rtcp.NewCNAMESourceDescription(1, "peer"),
	})
	bye, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.Goodbye{Sources: []uint32{1}, Reason: "bye"}})
	f.Add(sr)
	f.Add(bye)
	f.Add([]byte{0x81, 201, 0, 7})
	f.Add([]byte{0x80, 200})
	b, clk := newTestBridge(f, Config{})
	l, err := b.NewLeg(LegOptions{ID: "fuzz", Room: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	if err := l.Start(StreamParams{Codec: mustLookup(f, "PCMU"), EventPayloadType: -1, Remote: netipLocal(9)}); err != nil {
		f.Fatal(err)
	}
	from := netip.MustParseAddrPort("127.0.0.1:4001")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		l.handleRTCP(pkt, from, clk.Now())
		_ = l.Stats()
	})
}

func FuzzTelephoneEvent(f *testing.F) {
	f.Add([]byte{5, 0x8a, 3, 0x20}, uint32(100))
	f.Add([]byte{11, 0x0a, 0, 0xa0, 11, 0x8a, 1, 0x40}, uint32(7))
	f.Add([]byte{200, 0, 0}, uint32(1))
	var d dtmfDetector
	f.Fuzz(func(t *testing.T, payload []byte, ts uint32) {
		ev, err := parseTelephoneEvent(payload)
		if err != nil {
			if len(payload) >= 4 || !errors.Is(err, ErrEventTruncated) {
				t.Fatalf("error %v for %d bytes", err, len(payload))
			}
			return
		}
		if ev.Volume > 63 {
			t.Fatalf("volume %d", ev.Volume)
		}
		_, first := d.feed(ts, ev)
		if _, again := d.feed(ts, ev); again {
			t.Fatal("the same event reported twice")
		}
		_ = first
	})
}

// FuzzJitterBuffer inserts an arbitrary sequence of packets and pulls,
// checking the ring's invariants.
func FuzzJitterBuffer(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0xff, 5, 4, 0xff, 0xff})
	f.Add([]byte{0x80, 0x7f, 0x00, 0x10, 0xff})
	f.Fuzz(func(t *testing.T, ops []byte) {
		p := &playout{}
		p.configure(&l16{l16Info(8000)})
		out := make([]int16, 160)
		payload := make([]byte, 320)
		seq := uint16(1000)
		for i, op := range ops {
			if op == 0xff {
				p.pull(out)
				continue
			}
			// The op is a signed jump from the last sequence number.
			seq += uint16(int8(op))
			n := 2 * (1 + int(op)%160)
			p.jb.insert(seq, uint32(seq)*160, payload[:n], i%7 == 3)
			if p.jb.count < 0 || p.jb.count > jbSlots {
				t.Fatalf("count %d", p.jb.count)
			}
		}
	})
}
