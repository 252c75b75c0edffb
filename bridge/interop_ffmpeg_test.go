package bridge

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestInteropFFmpegSender feeds a leg with RTP from a third-party stack
// (FFmpeg's RTP muxer, PCMU, its own odd packet size and burstiness) and
// checks that another leg of the room hears its tone. Like every interop
// test it fails in CI when the peer is missing (PEERS.md installs it).
func TestInteropFFmpegSender(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("ffmpeg is not installed: apt-get install ffmpeg (make test does)")
	}
	lo, hi := testPortRange(t, 100)
	b, err := New(Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pcmu := mustLookup(t, "PCMU")
	from, err := b.NewLeg(LegOptions{ID: "ffmpeg", Room: "interop"})
	if err != nil {
		t.Fatal(err)
	}
	if err := from.Start(StreamParams{Codec: pcmu, EventPayloadType: -1}); err != nil {
		t.Fatal(err)
	}
	to, err := b.NewLeg(LegOptions{ID: "listener", Room: "interop"})
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t)
	if err := to.Start(StreamParams{Codec: pcmu, EventPayloadType: -1, Remote: p.addr}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-loglevel", "error", "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000", "-t", "3",
		"-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1", "-f", "rtp",
		fmt.Sprintf("rtp://127.0.0.1:%d?rtcpport=%d&pkt_size=172", from.LocalPort(), from.LocalPort()+1))
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()
	dec, err := stdMedia{}.newDecoder(pcmu)
	if err != nil {
		t.Fatal(err)
	}
	var heard []int16
	pcm := make([]int16, 2000)
	for len(heard) < 8000*2 { // two seconds of the mix
		pkt, _ := p.recvRTP()
		n, err := dec.Decode(pkt.Payload, pcm)
		if err != nil {
			t.Fatal(err)
		}
		heard = append(heard, pcm[:n]...)
	}
	if err := <-done; err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	last := heard[len(heard)/2:]
	if tone, off := goertzel(last, 8000, 440), goertzel(last, 8000, 1000); tone < 1e5 || tone < 1000*off {
		t.Fatalf("the listener does not hear FFmpeg's 440 Hz tone: power %.3g (1 kHz %.3g); %+v", tone, off, from.Stats())
	}
	if s := from.Stats(); s.DroppedMalformed+s.DroppedUnknownPT+s.DroppedWrongSource != 0 {
		t.Errorf("FFmpeg's packets were dropped: %+v", s)
	}
}
