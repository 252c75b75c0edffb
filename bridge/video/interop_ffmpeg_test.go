package video

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// captured is one RTP packet received from an ffmpeg sender, with its
// arrival time relative to the start of the capture.
type captured struct {
	src string
	at  time.Duration
	pkt []byte
}

// captureFFmpeg runs one ffmpeg H.264 RTP sender per source (each with its
// own test pattern and picture size, so a receiver can tell them apart) on
// loopback and returns all packets in arrival order.
func captureFFmpeg(t *testing.T, seconds float64, sizes map[string]string) []captured {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatalf("ffmpeg is required for this test (apt-get install ffmpeg): %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Duration(seconds*float64(time.Second))+20*time.Second)
	defer cancel()
	start := time.Now()
	var mu sync.Mutex
	var all []captured
	var wg sync.WaitGroup
	patterns := []string{"testsrc2", "testsrc", "smptebars"}
	i := 0
	for src, size := range sizes {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadBuffer(8 << 20)
		port := conn.LocalAddr().(*net.UDPAddr).Port
		cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-re",
			"-f", "lavfi", "-i", fmt.Sprintf("%s=size=%s:rate=30", patterns[i%len(patterns)], size),
			"-t", fmt.Sprint(seconds), "-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
			"-g", "10", "-f", "rtp", fmt.Sprintf("rtp://127.0.0.1:%d?pkt_size=1200", port))
		i++
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		done := make(chan struct{})
		go func() {
			defer wg.Done()
			defer close(done)
			if err := cmd.Wait(); err != nil {
				t.Errorf("ffmpeg %s: %v: %s", src, err, stderr.String())
			}
		}()
		go func() {
			defer wg.Done()
			defer conn.Close()
			buf := make([]byte, 2048)
			for {
				select {
				case <-done:
					// Drain what is still queued, then stop.
					_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				default:
					_ = conn.SetReadDeadline(time.Now().Add(time.Second))
				}
				n, err := conn.Read(buf)
				if err != nil {
					select {
					case <-done:
						return
					default:
						continue
					}
				}
				mu.Lock()
				all = append(all, captured{src: src, at: time.Since(start), pkt: append([]byte(nil), buf[:n]...)})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.SliceStable(all, func(a, b int) bool { return all[a].at < all[b].at })
	return all
}

// depacketize turns an H.264 RTP stream (modes 0 and 1) into an Annex B byte
// stream, independently of the code under test.
func depacketize(t *testing.T, pkts [][]byte) []byte {
	t.Helper()
	var out, fu []byte
	sc := []byte{0, 0, 0, 1}
	for _, p := range pkts {
		h := mustHeader(t, p)
		pl := p[h.PayloadOffset:h.PayloadEnd]
		switch typ := pl[0] & 0x1f; {
		case typ >= 1 && typ <= 23:
			out = append(append(out, sc...), pl...)
		case typ == 24:
			for b := pl[1:]; len(b) > 2; {
				n := int(binary.BigEndian.Uint16(b))
				out = append(append(out, sc...), b[2:2+n]...)
				b = b[2+n:]
			}
		case typ == 28:
			if pl[1]&0x80 != 0 {
				fu = append(fu[:0], pl[0]&0xe0|pl[1]&0x1f)
			}
			fu = append(fu, pl[2:]...)
			if pl[1]&0x40 != 0 {
				out = append(append(out, sc...), fu...)
			}
		default:
			t.Fatalf("unexpected packetization %d", typ)
		}
	}
	return out
}

// TestFFmpegKeyframeDetection checks keyframe detection on real x264 RTP:
// the start of every IDR picture is found exactly once, and nothing else is
// taken for one.
func TestFFmpegKeyframeDetection(t *testing.T) {
	pkts := captureFFmpeg(t, 1.5, map[string]string{"A": "320x240"})
	if len(pkts) < 45 {
		t.Fatalf("captured only %d packets", len(pkts))
	}
	// Independently: which timestamps carry an IDR slice, from full NAL
	// reassembly.
	idrAUs := map[uint32]bool{}
	var starts []uint32
	var cache ParamSets
	for _, c := range pkts {
		h := mustHeader(t, c.pkt)
		pl := c.pkt[h.PayloadOffset:h.PayloadEnd]
		annexB := depacketize(t, [][]byte{c.pkt})
		for nal := range bytes.SplitSeq(annexB, []byte{0, 0, 0, 1}) {
			if len(nal) > 0 && nal[0]&0x1f == 5 {
				idrAUs[h.Timestamp] = true
			}
		}
		if pl[0]&0x1f == 28 && pl[1]&0x1f == 5 {
			idrAUs[h.Timestamp] = true
		}
		info, err := InspectPayload(pl)
		if err != nil {
			t.Fatalf("real packet rejected: %v", err)
		}
		if info.IDRStart {
			starts = append(starts, h.Timestamp)
		}
		_ = cache.Update(pl)
	}
	var want []uint32
	seen := map[uint32]bool{}
	for _, c := range pkts {
		ts := binary.BigEndian.Uint32(c.pkt[4:])
		if idrAUs[ts] && !seen[ts] {
			want = append(want, ts)
			seen[ts] = true
		}
	}
	if len(want) < 3 || !slices.Equal(starts, want) {
		t.Fatalf("IDR starts at %v, IDR access units %v", starts, want)
	}
	first := mustHeader(t, pkts[0].pkt)
	if !IsKeyframeStart(pkts[0].pkt[first.PayloadOffset:first.PayloadEnd]) {
		t.Fatal("the stream's first packet is not a keyframe start")
	}
	if !cache.Complete() {
		t.Fatal("no SPS/PPS cached from the real stream")
	}
	if os.Getenv("VIDEO_UPDATE_GOLDEN") != "" {
		var raw [][]byte
		for _, c := range pkts {
			raw = append(raw, c.pkt)
		}
		if err := writePackets(goldenX264, raw); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFFmpegSwitching routes two real x264 streams of different sizes through
// the router with the speaker changing, and checks that every receiver's
// stream is continuous, decodes without a single error in ffmpeg, and shows
// the expected senders in order.
func TestFFmpegSwitching(t *testing.T) {
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Fatalf("ffprobe is required for this test: %v", err)
	}
	pkts := captureFFmpeg(t, 3.2, map[string]string{"A": "320x240", "B": "352x288"})
	clk := newFakeClock()
	base := clk.Now()
	kf := &kfLog{}
	rt, err := NewRouter(Config{Hold: 500 * time.Millisecond, RequestKeyframe: kf.request, Clock: clk, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	sinks := map[string]*recSink{}
	for i, id := range []string{"A", "B", "C"} {
		if id != "C" {
			if err := rt.AddSource(id, nil); err != nil {
				t.Fatal(err)
			}
		}
		sinks[id] = &recSink{}
		if err := rt.AddReceiver(id, ReceiverConfig{SSRC: uint32(100 + i), PayloadType: 96, InitialSequence: uint16(1000 * i), Sink: sinks[id]}); err != nil {
			t.Fatal(err)
		}
	}
	script := []struct {
		at      time.Duration
		speaker string
	}{{0, "A"}, {time.Second, "B"}, {2 * time.Second, "A"}}
	nextTick := time.Duration(0)
	for _, c := range pkts {
		for len(script) > 0 && c.at >= script[0].at {
			rt.SetSpeaker(script[0].speaker)
			script = script[1:]
		}
		for c.at >= nextTick {
			clk.mu.Lock()
			clk.t = base.Add(nextTick)
			clk.mu.Unlock()
			rt.Tick()
			nextTick += 100 * time.Millisecond
		}
		clk.mu.Lock()
		clk.t = base.Add(c.at)
		clk.mu.Unlock()
		if err := rt.Forward(c.src, c.pkt); err != nil {
			t.Fatal(err)
		}
	}
	if len(kf.take()) == 0 {
		t.Fatal("no keyframe requests")
	}
	want := map[string][]string{
		"C": {"320x240", "352x288", "320x240"}, // the speaker: A, B, A
		"A": {"352x288"},                       // A always sees B
		"B": {"320x240"},                       // B always sees A
	}
	dir := t.TempDir()
	for id, sink := range sinks {
		out := sink.all()
		if len(out) == 0 {
			t.Fatalf("receiver %s got nothing", id)
		}
		checkContinuous(t, out, mustHeader(t, out[0]).SSRC)
		file := filepath.Join(dir, id+".h264")
		if err := os.WriteFile(file, depacketize(t, out), 0o600); err != nil {
			t.Fatal(err)
		}
		dec, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-i", file, "-f", "null", "-").CombinedOutput()
		if err != nil || len(bytes.TrimSpace(dec)) != 0 {
			t.Errorf("receiver %s: stream does not decode cleanly: %v\n%s", id, err, dec)
		}
		probe, err := exec.Command(ffprobe, "-v", "error", "-show_entries", "frame=width,height", "-of", "csv=p=0:s=x", file).Output()
		if err != nil {
			t.Fatalf("ffprobe: %v", err)
		}
		var sizes []string
		frames := 0
		for line := range strings.SplitSeq(strings.TrimSpace(string(probe)), "\n") {
			frames++
			if len(sizes) == 0 || sizes[len(sizes)-1] != line {
				sizes = append(sizes, line)
			}
		}
		if !slices.Equal(sizes, want[id]) {
			t.Errorf("receiver %s saw %v, want %v", id, sizes, want[id])
		}
		if frames < 60 {
			t.Errorf("receiver %s decoded only %d frames", id, frames)
		}
		t.Logf("receiver %s: %d packets, %d frames, senders %v", id, len(out), frames, sizes)
	}
}
