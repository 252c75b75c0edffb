package bridge

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/pion/rtp"
)

// train720p returns an H.264 RTP packet train shaped like a 720p camera at
// 2 Mbit/s: SPS/PPS, then an IDR and P pictures as ~1200-byte FU-A
// fragments (about 8 per P frame, 30 per IDR), ssrc and payload type 96.
func train720p(tb testing.TB, ssrc uint32) [][]byte {
	tb.Helper()
	golden := goldenVideo(tb)
	var out [][]byte
	seq, ts := uint16(1), uint32(90000)
	add := func(payload []byte, marker bool) {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc, Marker: marker},
			Payload: payload}
		raw, err := p.Marshal()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, raw)
		seq++
	}
	frame := func(nalType byte, fragments int) {
		for i := range fragments {
			pl := make([]byte, 1188)
			for j := range pl {
				pl[j] = byte(j*7 + i)
			}
			pl[0] = 0x60 | 28 // FU-A, NRI 3
			pl[1] = nalType
			if i == 0 {
				pl[1] |= 0x80
				pl[2] = 0x88 // first_mb_in_slice 0
			}
			if i == fragments-1 {
				pl[1] |= 0x40
			}
			add(pl, i == fragments-1)
		}
		ts += 3000
	}
	stap := golden[0][12:] // the golden stream's STAP-A of SPS and PPS
	add(append([]byte(nil), stap...), false)
	frame(5, 30)
	for range 29 {
		frame(1, 8)
	}
	return out
}

// BenchmarkVideoLegForward720p measures the bridge's whole forwarding path for
// one incoming video packet: the source leg's checks and latch, the router's
// rewrite for each receiver stream and the sendto out of each receiver
// leg's socket (loopback, to a socket nobody reads). ns/stream-pkt is the
// cost per forwarded receiver packet; streams/core is how many 720p streams
// at 2 Mbit/s (about 210 packets of 1200 bytes a second) one core forwards.
func BenchmarkVideoLegForward720p(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprint("receivers=", n), func(b *testing.B) {
			bridge, _ := newVideoBridge(b)
			sink, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
			if err != nil {
				b.Fatal(err)
			}
			defer sink.Close()
			dst := netip.MustParseAddrPort(sink.LocalAddr().String())
			params := (&videoPeer{}).params()
			params.Remote, params.RemoteRTCP = dst, dst
			src, err := bridge.NewVideoLeg(VideoLegOptions{ID: "src", Room: "r"})
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close(nil)
			if err := src.Start(params); err != nil {
				b.Fatal(err)
			}
			var rcv []*VideoLeg
			for i := range n {
				l, err := bridge.NewVideoLeg(VideoLegOptions{ID: fmt.Sprint("rcv", i), Room: "r"})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close(nil)
				rcv = append(rcv, l)
				if err := l.Start(params); err != nil {
					b.Fatal(err)
				}
			}
			train := train720p(b, 0x1234)
			from := netip.MustParseAddrPort("127.0.0.1:40000")
			src.handleRTP(train[0], from)
			vidTick(b, bridge, "r") // the receivers pick the source and wait for its IDR
			for _, p := range train[1:] {
				src.handleRTP(p, from)
			}
			if st := src.Stats(); !st.OnScreen {
				b.Fatalf("source not on screen: %+v", st)
			}
			// Loop over the P frames with continuing numbers.
			loop := train[31:]
			seq0 := uint16(len(train) + 1)
			ts0 := uint32(90000 + 30*3000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				p := loop[i%len(loop)]
				round := uint32(i / len(loop))
				k := uint16(i)
				p[2], p[3] = byte((seq0+k)>>8), byte(seq0+k)
				t := ts0 + round*29*3000 + uint32(i%len(loop)/8)*3000
				p[4], p[5], p[6], p[7] = byte(t>>24), byte(t>>16), byte(t>>8), byte(t)
				src.handleRTP(p, from)
			}
			b.StopTimer()
			perStream := float64(b.Elapsed().Nanoseconds()) / float64(b.N*n)
			b.ReportMetric(perStream, "ns/stream-pkt")
			b.ReportMetric(1e9/(perStream*210), "streams/core")
			if got := src.Stats().PacketsIn; got < uint64(b.N) {
				b.Fatalf("source took %d of %d packets", got, b.N)
			}
			if st := rcv[0].Stats(); st.PacketsOut < uint64(b.N) || st.SendErrors != 0 {
				b.Fatalf("receiver sent %d of %d packets, %d send errors", st.PacketsOut, b.N, st.SendErrors)
			}
		})
	}
}
