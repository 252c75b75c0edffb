package sip

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/bridge/video"
)

// videoCaller is one SIP caller of the end-to-end video test: a sipgo
// dialog, an audio socket that talks or is silent, and a video socket.
type videoCaller struct {
	name        string
	d           *dialog
	audio       *net.UDPConn
	video       *net.UDPConn
	audioRemote netip.AddrPort
	videoRemote netip.AddrPort
	c           *call
}

// dialVideoCaller calls conference 1000 with PCMU audio and H.264 video.
func dialVideoCaller(t *testing.T, s *Server, name string) *videoCaller {
	t.Helper()
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadBuffer(4 << 20)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	vc := &videoCaller{name: name, audio: listen(), video: listen()}
	vport := vc.video.LocalAddr().(*net.UDPAddr).Port
	body := videoOffer(vc.audio.LocalAddr().(*net.UDPAddr).Port,
		fmt.Sprintf("m=video %d RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"+
			"a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 ccm fir\r\n", vport))
	p := newPeer(t, s.Addr().String(), "udp")
	vc.d = p.call(p.newInvite("1000", body))
	if vc.d.res.StatusCode != 200 {
		t.Fatalf("%s: answered %d %s", name, vc.d.res.StatusCode, vc.d.res.Reason)
	}
	vc.d.ack(nil)
	sd, err := ParseSDP(vc.d.res.Body())
	if err != nil {
		t.Fatal(err)
	}
	for _, md := range sd.MediaDescriptions {
		ap := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(md.MediaName.Port.Value))
		switch md.MediaName.Media {
		case "audio":
			vc.audioRemote = ap
		case "video":
			vc.videoRemote = ap
		}
	}
	if vc.audioRemote.Port() == 0 || vc.videoRemote.Port() == 0 {
		t.Fatalf("%s: answer without audio or video:\n%s", name, vc.d.res.Body())
	}
	vc.c = s.callByID(vc.d.invite.CallID().Value())
	if vc.c == nil {
		t.Fatalf("%s: no call", name)
	}
	return vc
}

// TestVideoSwitchEndToEnd runs three SIP callers through the real bridge:
// A and B send real libx264 cameras of different sizes (ffmpeg), R only
// watches. Whoever talks (PCMU whose energy the mixer measures) is on R's
// screen after the hold time; then a pin (through the same leg interface
// conf's PinVideo uses) beats the speaker. R's captured stream is one RTP
// stream (one SSRC, no sequence gap) that shows A, then B, then A again,
// and that ffmpeg decodes without a single error.
func TestVideoSwitchEndToEnd(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatalf("ffmpeg is required for this test (apt-get install ffmpeg): %v", err)
	}
	lo, hi := freeRange(t, 60)
	b, err := bridge.New(bridge.Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi,
		MediaTimeout: time.Hour, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var switches atomic.Int32
	b.SetVideoConfig(bridge.VideoConfig{Hold: 300 * time.Millisecond, OnSwitch: func(string, string) { switches.Add(1) }})
	confs := newFakeConfs()
	s, err := NewServer(Config{Listen: "127.0.0.1:0", Codecs: []string{"PCMU"}, VideoEnabled: true}, BridgeMedia(b), confs, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	a, bb, r := dialVideoCaller(t, s, "A"), dialVideoCaller(t, s, "B"), dialVideoCaller(t, s, "R")

	// R's switched video, read as it comes.
	var mu sync.Mutex
	var got [][]byte
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 2000)
		for {
			n, err := r.video.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, append([]byte(nil), buf[:n]...))
			mu.Unlock()
		}
	}()

	// Audio: every caller sends PCMU every 20 ms; the talker a loud tone,
	// the others silence.
	var talker atomic.Pointer[string]
	none := ""
	talker.Store(&none)
	enc, err := codec.NewEncoder(codec.Info{Name: "PCMU", ClockRate: 8000, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	tone := make([]int16, 160)
	for i := range tone {
		tone[i] = int16(12000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	loud := make([]byte, 160)
	if _, err := enc.Encode(tone, loud); err != nil {
		t.Fatal(err)
	}
	quiet := bytes.Repeat([]byte{0xff}, 160)
	audioCtx, stopAudio := context.WithCancel(t.Context())
	var audioWG sync.WaitGroup
	for i, vc := range []*videoCaller{a, bb, r} {
		audioWG.Go(func() {
			tick := time.NewTicker(20 * time.Millisecond) // pacing the sender, not a timer under test
			defer tick.Stop()
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 0xa000 + uint32(i)}}
			to := net.UDPAddrFromAddrPort(vc.audioRemote)
			for n := 0; ; n++ {
				select {
				case <-audioCtx.Done():
					return
				case <-tick.C:
				}
				pkt.SequenceNumber, pkt.Timestamp = uint16(n), uint32(n*160)
				pkt.Payload = quiet
				if *talker.Load() == vc.name {
					pkt.Payload = loud
				}
				raw, _ := pkt.Marshal()
				_, _ = vc.audio.WriteToUDP(raw, to)
			}
		})
	}
	defer func() { stopAudio(); audioWG.Wait() }()

	// Video: A and B are real cameras.
	const seconds = 7
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var camWG sync.WaitGroup
	for _, cam := range []struct {
		vc        *videoCaller
		src, size string
	}{{a, "testsrc", "320x240"}, {bb, "smptebars", "640x360"}} {
		cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-re",
			"-f", "lavfi", "-i", fmt.Sprintf("%s=size=%s:rate=30", cam.src, cam.size), "-t", fmt.Sprint(seconds),
			"-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "15",
			"-f", "rtp", "-payload_type", "96", fmt.Sprintf("rtp://%s?pkt_size=1200", cam.vc.videoRemote))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting ffmpeg: %v", err)
		}
		camWG.Go(func() {
			if err := cmd.Wait(); err != nil {
				t.Errorf("ffmpeg %s: %v: %s", cam.src, err, stderr.String())
			}
		})
	}

	sees := func(who, want *videoCaller, what string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			st, ok := who.c.VideoStats()
			if ok && st.Watching == want.c.MediaID() && st.FramesOut > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s watches %q (ok %v), want %s's %s", what, who.name, st.Watching, ok, want.name, want.c.MediaID())
			}
		}
	}
	watching := func(want *videoCaller, what string) { t.Helper(); sees(r, want, what) }
	hold := func(d time.Duration) { time.Sleep(d) } // let the picture run on real time

	talker.Store(&a.name)
	watching(a, "A talks")
	hold(1200 * time.Millisecond)
	talker.Store(&bb.name)
	watching(bb, "B talks")
	hold(1200 * time.Millisecond)
	// A moderator pins A while B goes on talking.
	if err := bb.c.PinVideo("1000", a.c.MediaID()); err != nil {
		t.Fatal(err)
	}
	watching(a, "A pinned")
	sees(bb, a, "A pinned") // the speaker too sees the pinned picture
	sees(a, bb, "A pinned") // the pinned one sees the speaker
	camWG.Wait()
	rs, _ := r.c.VideoStats()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := uint64(len(got))
		mu.Unlock()
		if n >= rs.PacketsOut || time.Now().After(deadline) {
			break
		}
	}
	_ = r.video.Close()
	<-readDone

	if len(got) < 100 {
		t.Fatalf("R got only %d packets", len(got))
	}
	ssrc := binary.BigEndian.Uint32(got[0][8:])
	for i, p := range got {
		if s := binary.BigEndian.Uint32(p[8:]); s != ssrc {
			t.Fatalf("packet %d: SSRC %#x, want %#x", i, s, ssrc)
		}
		if i > 0 {
			if d := binary.BigEndian.Uint16(p[2:]) - binary.BigEndian.Uint16(got[i-1][2:]); d != 1 {
				t.Fatalf("packet %d: sequence step %d", i, d)
			}
			if d := int32(binary.BigEndian.Uint32(p[4:]) - binary.BigEndian.Uint32(got[i-1][4:])); d < 0 {
				t.Fatalf("packet %d: timestamp went back by %d", i, -d)
			}
		}
	}
	var sizes []string
	for _, p := range got {
		if sps, ok := video.FindSPS(rtpPayload(t, p)); ok {
			info, err := video.ParseSPS(sps)
			if err != nil {
				t.Fatal(err)
			}
			sz := fmt.Sprintf("%dx%d", info.Width, info.Height)
			if len(sizes) == 0 || sizes[len(sizes)-1] != sz {
				sizes = append(sizes, sz)
			}
		}
	}
	if strings.Join(sizes, " ") != "320x240 640x360 320x240" {
		t.Fatalf("R saw %q, want A's 320x240, B's 640x360, A's 320x240", sizes)
	}
	file := filepath.Join(t.TempDir(), "r.h264")
	if err := os.WriteFile(file, annexBOf(t, got), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ffmpeg, "-hide_banner", "-v", "error", "-i", file, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("ffmpeg decoding R's stream: %v\n%s", err, out)
	}
	// Every switch decodes: ffprobe sees frames of both sizes in order.
	probe, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=width,height",
		"-of", "csv=p=0", file).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var decoded []string
	for _, ln := range strings.Fields(string(probe)) {
		ln = strings.Replace(strings.TrimSuffix(ln, ","), ",", "x", 1)
		if len(decoded) == 0 || decoded[len(decoded)-1] != ln {
			decoded = append(decoded, ln)
		}
	}
	if strings.Join(decoded, " ") != "320x240 640x360 320x240" {
		t.Fatalf("decoded frame sizes %q", decoded)
	}
	if switches.Load() < 2 {
		t.Errorf("OnSwitch reported %d switches, want at least 2", switches.Load())
	}
	if st, ok := a.c.VideoStats(); !ok || st.Width != 320 || st.Height != 240 || !st.OnScreen || st.KeyframesIn == 0 {
		t.Errorf("A's video stats %+v", st)
	}
	for _, vc := range []*videoCaller{a, bb, r} {
		if res := vc.d.do(sipmsg.BYE, nil); res.StatusCode != 200 {
			t.Errorf("%s: BYE answered %d", vc.name, res.StatusCode)
		}
	}
}

// rtpPayload returns the payload of an RTP packet.
func rtpPayload(t *testing.T, pkt []byte) []byte {
	t.Helper()
	h, err := video.ParseRTPHeader(pkt)
	if err != nil {
		t.Fatal(err)
	}
	return pkt[h.PayloadOffset:h.PayloadEnd]
}

// annexBOf turns RTP packets of H.264 (in order) into an Annex B stream:
// single NAL units and STAP-A units get start codes, FU-A fragments are
// joined.
func annexBOf(t *testing.T, pkts [][]byte) []byte {
	t.Helper()
	var out bytes.Buffer
	start := []byte{0, 0, 0, 1}
	for _, p := range pkts {
		pl := rtpPayload(t, p)
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

// TestBaresipVideo has baresip with its fakevideo camera and the libavcodec
// H.264 codec dial into a conference where an ffmpeg camera is on screen:
// we receive baresip's video, and baresip decodes the picture we switch to
// it (it reports the camera's resolution).
func TestBaresipVideo(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatalf("ffmpeg is required for this test (apt-get install ffmpeg): %v", err)
	}
	lo, hi := freeRange(t, 40)
	b, err := bridge.New(bridge.Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi,
		MediaTimeout: time.Hour, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, err := NewServer(Config{Listen: "127.0.0.1:0", Codecs: []string{"PCMU"}, VideoEnabled: true}, BridgeMedia(b), newFakeConfs(), testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	cam := dialVideoCaller(t, s, "A")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "30",
		"-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "25",
		"-f", "rtp", "-payload_type", "96", fmt.Sprintf("rtp://%s?pkt_size=1200", cam.videoRemote))
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ffmpeg: %v", err)
	}
	camDone := make(chan struct{})
	go func() { defer close(camDone); _ = cmd.Wait() }()
	defer func() { cancel(); <-camDone }()

	phone := startBaresipWith(t, "PCMU/8000,telephone-event/8000", `video_size 352x288
video_bitrate 500000
video_fps 25.00
module avcodec.so
module fakevideo.so
video_source fakevideo,nil
video_display fakevideo,nil
`)
	phone.command("dial", "sip:1000@"+s.Addr().String())
	phone.event("CALL_ESTABLISHED")

	var call *call
	for deadline := time.Now().Add(waitFor); call == nil; time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		for _, c := range s.calls {
			if c != cam.c {
				call = c
			}
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("baresip's call is not there")
		}
	}
	// We see baresip's camera and send it A's.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st, ok := call.VideoStats()
		if ok && st.Width == 352 && st.Height == 288 && st.Watching == cam.c.MediaID() && st.FramesOut > 25 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip's video: %+v (ok %v)", st, ok)
		}
	}
	// baresip decodes it.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, _ := os.ReadFile(phone.outPath)
		if strings.Contains(string(out), "video: receiving with resolution 320 x 240") {
			if strings.Contains(strings.ToLower(string(out)), "decode error") {
				t.Errorf("baresip reports decode errors:\n%s", tail(out, 3000))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip never reported receiving 320 x 240:\n%s", tail(out, 3000))
		}
	}
	phone.command("hangup", "")
	for deadline := time.Now().Add(waitFor); ; time.Sleep(10 * time.Millisecond) {
		if call.ctx.Err() != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("baresip's BYE did not end the call")
		}
	}
	if res := cam.d.do(sipmsg.BYE, nil); res.StatusCode != 200 {
		t.Errorf("A: BYE answered %d", res.StatusCode)
	}
}
