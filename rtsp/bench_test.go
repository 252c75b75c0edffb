package rtsp

import (
	"encoding/base64"
	"log/slog"
	"testing"

	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/conf"
)

type discardSink struct{ n int }

func (d *discardSink) VideoRTP(*rtp.Packet) { d.n++ }
func (d *discardSink) AudioRTP(*rtp.Packet) { d.n++ }

// packetPathPuller is a puller whose packet handlers run without a session.
func packetPathPuller(tb testing.TB) (*Puller, *discardSink) {
	sink := &discardSink{}
	tg := conf.Target{Kind: conf.TargetAddress, Scheme: conf.SchemeRTSP, Host: "cam", Path: "/"}
	return newPuller(tg, Config{}.Defaults(), sink, slog.New(slog.DiscardHandler), PullerOptions{}, &fakeConnector{}), sink
}

// cameraPackets are a GOP's worth of typical packets: an SPS, a PPS, FU-A
// fragments of an IDR, non-IDR slices, and G.711 audio.
func cameraPackets(tb testing.TB) (video []*rtp.Packet, audio *rtp.Packet) {
	sps, err := base64.StdEncoding.DecodeString("Z0LAHtoCgL/lwFqDAwNSgAAAAwCAAAAZR4sXUA==")
	if err != nil {
		tb.Fatal(err)
	}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	mk := func(seq uint16, ts uint32, p []byte) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 7}, Payload: p}
	}
	fu := make([]byte, 1200)
	fu[0], fu[1] = 0x7c, 0x85
	slice := make([]byte, 900)
	slice[0], slice[1] = 0x41, 0x9a
	video = []*rtp.Packet{mk(1, 0, sps), mk(2, 0, pps), mk(3, 0, fu), mk(4, 3600, slice), mk(5, 7200, slice)}
	audio = &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 8}, Payload: make([]byte, 160)}
	return video, audio
}

// TestPacketPathAllocatesNothing guards the hot path: counting, parameter
// set caching, continuity rewriting and the hand-over allocate nothing.
func TestPacketPathAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; the non-race run checks this")
	}
	p, sink := packetPathPuller(t)
	video, audio := cameraPackets(t)
	allocs := testing.AllocsPerRun(1000, func() {
		for _, pkt := range video {
			p.onVideo(pkt)
		}
		p.onAudio(audio)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per GOP", allocs)
	}
	if vi := p.VideoInfo(); vi.Width != 640 || vi.Height != 360 {
		t.Fatalf("size %dx%d from the in-band SPS", vi.Width, vi.Height)
	}
	if sink.n == 0 {
		t.Fatal("nothing reached the sink")
	}
}

// BenchmarkPacketPath measures one camera packet through the puller.
func BenchmarkPacketPath(b *testing.B) {
	p, _ := packetPathPuller(b)
	video, audio := cameraPackets(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%6 == 5 {
			p.onAudio(audio)
		} else {
			p.onVideo(video[i%5])
		}
	}
}
