package bridge

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomgate/roomgate/bridge/video"
)

// annexB turns a receiver's RTP packets (in order) into an H.264 Annex B
// byte stream that ffmpeg can decode: single NAL units and STAP-A units get
// start codes, FU-A fragments are joined.
func annexB(t *testing.T, pkts [][]byte) []byte {
	t.Helper()
	var out bytes.Buffer
	start := []byte{0, 0, 0, 1}
	for _, p := range pkts {
		pl := payloadOf(t, p)
		if len(pl) == 0 {
			continue
		}
		switch typ := video.NALType(pl[0] & 0x1f); {
		case typ >= 1 && typ <= 23:
			out.Write(start)
			out.Write(pl)
		case typ == video.NALSTAPA:
			it := video.NewSTAPAIterator(pl)
			for nal, ok := it.Next(); ok; nal, ok = it.Next() {
				out.Write(start)
				out.Write(nal)
			}
		case typ == video.NALFUA && len(pl) > 2:
			if pl[1]&0x80 != 0 {
				out.Write(start)
				out.WriteByte(pl[0]&0xe0 | pl[1]&0x1f)
			}
			out.Write(pl[2:])
		}
	}
	return out.Bytes()
}

// TestVideoLegFFmpegSwitch sends two real libx264 cameras (different test
// patterns and sizes) from ffmpeg into two video legs and records what a
// third leg's peer receives while the speaker changes: one continuous RTP
// stream (one SSRC, no sequence gap) that shows the first camera, then the
// second, and that ffmpeg decodes without a single error.
func TestVideoLegFFmpegSwitch(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatalf("ffmpeg is required for this test (apt-get install ffmpeg): %v", err)
	}
	lo, hi := testPortRange(t, 200)
	b, err := newBridge(Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi}, realClock{}, stdMedia{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	b.SetVideoConfig(VideoConfig{Hold: 300 * time.Millisecond})

	g := goldenVideo(t)
	pc := newVideoPeer(t, 3, g)
	lc := pc.join(b, "r", "C")
	var legs []*VideoLeg
	for _, id := range []string{"A", "B"} {
		l, err := b.NewVideoLeg(VideoLegOptions{ID: id, Room: "r"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close(nil) })
		// ffmpeg only sends: we receive its camera and send it nothing.
		if err := l.Start(VideoParams{PayloadType: 96, Direction: RecvOnly, Feedback: VideoFeedback{PLI: true, FIR: true}}); err != nil {
			t.Fatal(err)
		}
		legs = append(legs, l)
	}

	// The receiver's packets, read as they come.
	var mu sync.Mutex
	var got [][]byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2000)
		for {
			n, err := pc.rtp.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, append([]byte(nil), buf[:n]...))
			mu.Unlock()
		}
	}()

	const seconds = 4
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i, spec := range []struct{ src, size string }{{"testsrc", "320x240"}, {"smptebars", "640x360"}} {
		cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-re",
			"-f", "lavfi", "-i", fmt.Sprintf("%s=size=%s:rate=30", spec.src, spec.size), "-t", fmt.Sprint(seconds),
			"-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "15",
			"-f", "rtp", "-payload_type", "96", fmt.Sprintf("rtp://127.0.0.1:%d?pkt_size=1200", legs[i].LocalPort()))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting ffmpeg: %v", err)
		}
		wg.Go(func() {
			if err := cmd.Wait(); err != nil {
				t.Errorf("ffmpeg %s: %v: %s", spec.src, err, stderr.String())
			}
		})
	}
	b.SetVideoSpeaker("r", "A")
	time.Sleep(1500 * time.Millisecond) // let A be seen for a while (real cameras run on real time)
	b.SetVideoSpeaker("r", "B")
	wg.Wait()
	vidWait(t, "the last packets", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return uint64(len(got)) >= lc.packetsOut.Load()
	})
	_ = pc.rtp.Close()
	<-done

	if len(got) < 50 {
		t.Fatalf("receiver got only %d packets", len(got))
	}
	checkContinuous(t, got, lc.ssrc)
	var sizes []string
	for _, p := range got {
		if sps, ok := video.FindSPS(payloadOf(t, p)); ok {
			info, err := video.ParseSPS(sps)
			if err != nil {
				t.Fatal(err)
			}
			s := fmt.Sprintf("%dx%d", info.Width, info.Height)
			if len(sizes) == 0 || sizes[len(sizes)-1] != s {
				sizes = append(sizes, s)
			}
		}
	}
	if strings.Join(sizes, " ") != "320x240 640x360" {
		t.Fatalf("pictures seen: %q, want A's 320x240 then B's 640x360", sizes)
	}
	if first := payloadOf(t, got[0]); first[0]&0x1f != byte(video.NALSTAPA) && first[0]&0x1f != byte(video.NALSPS) {
		t.Fatalf("stream starts with NAL type %d, not SPS/PPS", first[0]&0x1f)
	}

	file := filepath.Join(t.TempDir(), "c.h264")
	if err := os.WriteFile(file, annexB(t, got), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ffmpeg, "-hide_banner", "-v", "error", "-i", file, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("ffmpeg decoding the receiver's stream: %v\n%s", err, out)
	}
	if st := legs[1].Stats(); st.Width != 640 || st.Height != 360 || !st.OnScreen {
		t.Fatalf("B's stats: %+v", st)
	}
}
