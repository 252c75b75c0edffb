package bridge

import (
	"testing"

	"github.com/pion/rtcp"
)

// FuzzVideoLegDatagram feeds arbitrary datagrams to a started video leg's
// RTP and RTCP handlers (as if from its latched peer), with another leg
// watching: nothing panics and nothing is sent on a closed socket.
func FuzzVideoLegDatagram(f *testing.F) {
	g := goldenVideo(f)
	for _, p := range g[:8] {
		f.Add(p)
	}
	for _, p := range []rtcp.Packet{
		&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 2},
		&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: 2, Nacks: []rtcp.NackPair{{PacketID: 5, LostPackets: 0xffff}}},
		&rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: 1, Bitrate: 1e6, SSRCs: []uint32{2}},
	} {
		b, err := p.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(appendTMMBR(nil, 1, 2, 300000))
	f.Add([]byte{0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0x50, 1, 0x78, 0, 9})
	f.Add([]byte{0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0x50, 1, 0xbe, 0xde, 0xff, 0xff})

	b, _ := newVideoBridge(f)
	pa, pc := newVideoPeer(f, 1, g), newVideoPeer(f, 3, g)
	la := pa.join(b, "r", "A")
	lc := pc.join(b, "r", "C")
	pa.send(3) // latch A to its peer
	vidTick(f, b, "r")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		la.handleRTP(pkt, pa.addr)
		la.handleRTCP(pkt, pa.rAdr)
		lc.handleRTCP(pkt, pc.rAdr)
		lc.handleRTP(pkt, pc.addr)
		_ = la.Stats()
	})
}
