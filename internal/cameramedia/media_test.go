package cameramedia

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/goleak"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/bridge/video"
	"github.com/roomgate/roomgate/rtsp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var loopback = netip.MustParseAddr("127.0.0.1")

// newBridge returns a real bridge on 127.0.0.1 with a port range that is
// free now, closed when the test ends.
func newBridge(t *testing.T) *bridge.Bridge {
	t.Helper()
	for range 50 {
		lo := 12000 + 2*rand.IntN(9000)
		free := true
		for p := lo; p < lo+40 && free; p += 2 {
			c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(p))))
			if err != nil {
				free = false
				break
			}
			_ = c.Close()
		}
		if !free {
			continue
		}
		b, err := bridge.New(bridge.Config{BindAddr: loopback, PortMin: lo, PortMax: lo + 39, MediaTimeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatalf("bridge.New: %v", err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	t.Fatal("no free port range")
	return nil
}

// phone is a PCMU leg in the room with a socket that hears the mix.
type phone struct {
	t    *testing.T
	leg  *bridge.Leg
	conn *net.UDPConn
}

func newPhone(t *testing.T, b *bridge.Bridge, room string) *phone {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	l, err := b.NewLeg(bridge.LegOptions{ID: "phone", Room: room})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(nil) })
	pcmu, _ := codec.Lookup("PCMU")
	if err := l.Start(bridge.StreamParams{Codec: pcmu, PayloadType: 0, EventPayloadType: -1,
		Remote: netip.MustParseAddrPort(c.LocalAddr().String()), Direction: bridge.SendOnly}); err != nil {
		t.Fatal(err)
	}
	return &phone{t: t, leg: l, conn: c}
}

// hear reads the mix for d and returns its decoded audio.
func (p *phone) hear(d time.Duration) []int16 {
	p.t.Helper()
	dec, err := codec.NewDecoder(codec.Info{Name: "PCMU"})
	if err != nil {
		p.t.Fatal(err)
	}
	var out []int16
	buf := make([]byte, 2000)
	pcm := make([]int16, codec.MaxDecodeSamples)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		_ = p.conn.SetReadDeadline(time.Now().Add(time.Second))
		n, err := p.conn.Read(buf)
		if err != nil {
			p.t.Fatalf("phone hears nothing: %v", err)
		}
		var pkt rtp.Packet
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			p.t.Fatal(err)
		}
		k, err := dec.Decode(pkt.Payload, pcm)
		if err != nil {
			p.t.Fatal(err)
		}
		out = append(out, pcm[:k]...)
	}
	return out
}

// power is the Goertzel power of freq in pcm at 8 kHz, per sample squared.
func power(pcm []int16, freq float64) float64 {
	c := 2 * math.Cos(2*math.Pi*freq/8000)
	var s1, s2 float64
	for _, v := range pcm {
		s1, s2 = float64(v)+c*s1-s2, s1
	}
	return (s1*s1 + s2*s2 - c*s1*s2) / float64(len(pcm)*len(pcm))
}

// toneFeeder sends a camera's tone through the media's Sink, spp samples
// per packet in real time, until stop is closed, as the RTSP client does.
func toneFeeder(t *testing.T, m rtsp.CameraMedia, name string, pt uint8, freq float64, spp int, stop <-chan struct{}, done chan<- struct{}) {
	enc, err := codec.NewEncoder(codec.Info{Name: name})
	if err != nil {
		t.Error(err)
		close(done)
		return
	}
	go func() {
		defer close(done)
		tk := time.NewTicker(time.Duration(spp) * time.Second / 8000)
		defer tk.Stop()
		pcm := make([]int16, spp)
		out := make([]byte, spp)
		frame, enc160 := make([]int16, 160), make([]byte, 160)
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SSRC: 77, SequenceNumber: 9}}
		for i := 0; ; i++ {
			for j := range pcm {
				pcm[j] = int16(6000 * math.Sin(2*math.Pi*freq*float64(i*spp+j)/8000))
			}
			// G.711 encodes sample by sample: 20 ms at a time.
			for k := 0; k < spp; k += 160 {
				n := min(160, spp-k)
				clear(frame)
				copy(frame, pcm[k:k+n])
				_, _ = enc.Encode(frame, enc160)
				copy(out[k:k+n], enc160[:n])
			}
			pkt.Payload = out
			pkt.SequenceNumber++
			pkt.Timestamp += uint32(spp)
			m.AudioRTP(&pkt)
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
}

func TestCameraAudioHeardByPhone(t *testing.T) {
	b := newBridge(t)
	ph := newPhone(t, b, "700")
	var kf atomic.Int32
	m, err := New(b, nil).NewCameraMedia(rtsp.CameraMediaOptions{
		ConferenceID: "700", LegID: "rtsp-cam1", Name: "cam.example/stream1",
		Tracks:          rtsp.Tracks{Audio: &rtsp.Format{Codec: rtsp.CodecPCMU, PayloadType: 0, ClockRate: 8000, Channels: 1}},
		RequestKeyframe: func() { kf.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(nil)
	stop, done := make(chan struct{}), make(chan struct{})
	// GStreamer's packets: 1024 samples (128 ms), cut to 20 ms for the bridge.
	toneFeeder(t, m, "PCMU", 0, 1000, 1024, stop, done)
	defer func() { close(stop); <-done }()

	// The camera keeps sending past the bridge's 300 ms media timeout
	// (off for it); the phone hears its tone.
	ph.hear(400 * time.Millisecond)
	pcm := ph.hear(500 * time.Millisecond)
	if p := power(pcm, 1000); p < 1e5 {
		t.Fatalf("phone does not hear the camera's tone: power %.3g", p)
	}
	s := m.Stats()
	if s.Codec != "PCMU" || s.PacketsIn < 20 || s.PacketsOut != 0 || !s.Talking {
		t.Errorf("stats %+v", s)
	}
	if _, ok := m.(rtsp.CameraVideo).VideoStats(); ok {
		t.Error("an audio-only camera has video stats")
	}

	// Muted by conf: silence.
	m.(interface{ SetMuted(bool) }).SetMuted(true)
	ph.hear(200 * time.Millisecond)
	if p := power(ph.hear(400*time.Millisecond), 1000); p > 1e3 {
		t.Errorf("muted camera heard: power %.3g", p)
	}
	m.(interface{ SetMuted(bool) }).SetMuted(false)
	ph.hear(200 * time.Millisecond)
	if p := power(ph.hear(400*time.Millisecond), 1000); p < 1e5 {
		t.Errorf("unmuted camera not heard: power %.3g", p)
	}
}

// TestCameraPausesWithoutTimeout: a camera that sends nothing for longer
// than the bridge's media timeout (it is reconnecting) keeps its leg.
func TestCameraPausesWithoutTimeout(t *testing.T) {
	b := newBridge(t)
	ph := newPhone(t, b, "701")
	m, err := New(b, nil).NewCameraMedia(rtsp.CameraMediaOptions{
		ConferenceID: "701", LegID: "rtsp-cam2", Name: "cam2",
		Tracks: rtsp.Tracks{Audio: &rtsp.Format{Codec: rtsp.CodecPCMU, PayloadType: 0, ClockRate: 8000, Channels: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(nil)
	ph.hear(800 * time.Millisecond) // well past the 300 ms timeout
	stop, done := make(chan struct{}), make(chan struct{})
	toneFeeder(t, m, "PCMU", 0, 1000, 160, stop, done)
	defer func() { close(stop); <-done }()
	ph.hear(200 * time.Millisecond)
	if p := power(ph.hear(400*time.Millisecond), 1000); p < 1e5 {
		t.Errorf("camera not heard after its pause: power %.3g", p)
	}
}

// goldenVideo loads the bridge's recorded H.264 stream (320x240, an IDR
// every 10 frames, packetization-mode 1).
func goldenVideo(t *testing.T) []rtp.Packet {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "bridge", "video", "testdata", "x264-baseline-320x240.rtp"))
	if err != nil {
		t.Fatal(err)
	}
	var pkts []rtp.Packet
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		var p rtp.Packet
		if err := p.Unmarshal(b[2 : 2+n]); err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, p)
		b = b[2+n:]
	}
	return pkts
}

func TestCameraVideoSeenAndKeyframes(t *testing.T) {
	b := newBridge(t)
	// A viewer: a video leg with a socket.
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	viewer, err := b.NewVideoLeg(bridge.VideoLegOptions{ID: "viewer", Room: "702"})
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close(nil)
	fmtp, _ := video.ParseH264Fmtp("packetization-mode=1")
	if err := viewer.Start(bridge.VideoParams{PayloadType: 96, Fmtp: fmtp, Direction: bridge.SendOnly,
		Remote: netip.MustParseAddrPort(c.LocalAddr().String())}); err != nil {
		t.Fatal(err)
	}

	var kf atomic.Int32
	m, err := New(b, nil).NewCameraMedia(rtsp.CameraMediaOptions{
		ConferenceID: "702", LegID: "rtsp-cam3", Name: "cam3",
		Tracks:          rtsp.Tracks{Video: &rtsp.Format{Codec: rtsp.CodecH264, PayloadType: 97, ClockRate: 90000, Fmtp: "packetization-mode=1"}},
		RequestKeyframe: func() { kf.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(nil)
	// The camera streams (the golden recording in a loop) until the viewer
	// sees it: the router switches to it and waits for its next keyframe.
	golden := goldenVideo(t)
	stop, done := make(chan struct{}), make(chan struct{})
	var sent atomic.Uint64
	go func() {
		defer close(done)
		var seq uint16
		var base uint32
		for {
			for i := range golden {
				p := golden[i]
				p.PayloadType = 97
				p.SequenceNumber = seq
				p.Timestamp += base
				seq++
				m.VideoRTP(&p)
				sent.Add(1)
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
			}
			base += golden[len(golden)-1].Timestamp - golden[0].Timestamp + 3000
		}
	}()
	defer func() { close(stop); <-done }()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 2000)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("viewer sees no video: %v", err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(buf[:n]); err != nil || pkt.PayloadType != 96 {
		t.Fatalf("viewer got %v (pt %d)", err, pkt.PayloadType)
	}
	deadline := time.Now().Add(3 * time.Second)
	for kf.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if kf.Load() == 0 {
		t.Error("the router's keyframe request did not reach the camera")
	}
	if s := m.Stats(); s.Codec != "H264" || s.PacketsIn == 0 || s.PacketsIn > sent.Load() {
		t.Errorf("stats %+v", s)
	}
	// conf lists and pins the camera through the media's video side.
	cv, ok := m.(rtsp.CameraVideo)
	if !ok {
		t.Fatal("camera media has no video side")
	}
	vs, ok := cv.VideoStats()
	if !ok || vs.Codec != "H264" || vs.Width == 0 || vs.Height == 0 || !vs.OnScreen || vs.PacketsIn == 0 {
		t.Errorf("video stats %+v (ok %v)", vs, ok)
	}
	if err := cv.PinVideo("702", "rtsp-cam3"); err != nil {
		t.Fatal(err)
	}
	if p := cv.VideoPin("702"); p != "rtsp-cam3" || b.VideoPin("702") != "rtsp-cam3" {
		t.Errorf("pin %q, want rtsp-cam3", p)
	}
	cv.UnpinVideo("702")
	if p := b.VideoPin("702"); p != "" {
		t.Errorf("pin %q after unpin", p)
	}
	if err := cv.PinVideo("", "rtsp-cam3"); !errors.Is(err, bridge.ErrBadParams) {
		t.Errorf("pin without a room: %v", err)
	}
}

func TestUpdateTracks(t *testing.T) {
	b := newBridge(t)
	pcmu := &rtsp.Format{Codec: rtsp.CodecPCMU, PayloadType: 0, ClockRate: 8000, Channels: 1}
	m, err := New(b, nil).NewCameraMedia(rtsp.CameraMediaOptions{ConferenceID: "703", LegID: "rtsp-cam4", Tracks: rtsp.Tracks{Audio: pcmu}})
	if err != nil {
		t.Fatal(err)
	}
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SSRC: 5, SequenceNumber: 1}, Payload: make([]byte, 160)}
	m.AudioRTP(pkt)
	if s := m.Stats(); s.PacketsIn != 0 || s.DroppedUnknownPT != 1 {
		t.Fatalf("PCMA packet into a PCMU leg: %+v", s)
	}
	// Back from a reconnection with A-law and video.
	pcma := &rtsp.Format{Codec: rtsp.CodecPCMA, PayloadType: 8, ClockRate: 8000, Channels: 1}
	h264 := &rtsp.Format{Codec: rtsp.CodecH264, PayloadType: 96, ClockRate: 90000, Fmtp: "packetization-mode=1"}
	if err := m.UpdateTracks(rtsp.Tracks{Audio: pcma, Video: h264}); err != nil {
		t.Fatal(err)
	}
	pkt.SequenceNumber++
	m.AudioRTP(pkt)
	if s := m.Stats(); s.PacketsIn != 1 || s.Codec != "PCMA" {
		t.Fatalf("after UpdateTracks: %+v", s)
	}
	// Audio gone: video only.
	if err := m.UpdateTracks(rtsp.Tracks{Video: h264}); err != nil {
		t.Fatal(err)
	}
	m.AudioRTP(pkt) // dropped, no leg
	if s := m.Stats(); s.Codec != "H264" {
		t.Fatalf("video only: %+v", s)
	}
	// Nothing usable: refused, the old legs stay.
	if err := m.UpdateTracks(rtsp.Tracks{Offered: []string{"video H265/90000"}}); !errors.Is(err, ErrNoMedia) {
		t.Fatalf("no media: %v", err)
	}
	if s := m.Stats(); s.Codec != "H264" {
		t.Fatalf("after a refused update: %+v", s)
	}
	m.Close(nil)
	m.Close(nil)
	if err := m.UpdateTracks(rtsp.Tracks{Audio: pcmu}); !errors.Is(err, ErrClosed) {
		t.Errorf("UpdateTracks after Close: %v", err)
	}
	m.AudioRTP(pkt)
	m.VideoRTP(pkt)
}

func TestNewCameraMediaRefused(t *testing.T) {
	b := newBridge(t)
	f := New(b, nil)
	cases := []struct {
		name string
		opts rtsp.CameraMediaOptions
		want error
	}{
		{"no conference", rtsp.CameraMediaOptions{LegID: "x", Tracks: rtsp.Tracks{Audio: &rtsp.Format{Codec: rtsp.CodecPCMU, ClockRate: 8000}}}, ErrBadOptions},
		{"no leg", rtsp.CameraMediaOptions{ConferenceID: "1", Tracks: rtsp.Tracks{Audio: &rtsp.Format{Codec: rtsp.CodecPCMU, ClockRate: 8000}}}, ErrBadOptions},
		{"no tracks", rtsp.CameraMediaOptions{ConferenceID: "1", LegID: "x", Tracks: rtsp.Tracks{Offered: []string{"audio MPEG4-GENERIC/48000"}}}, ErrNoMedia},
		{"AAC", rtsp.CameraMediaOptions{ConferenceID: "1", LegID: "x", Tracks: rtsp.Tracks{Audio: &rtsp.Format{Codec: "MPEG4-GENERIC", ClockRate: 48000}}}, ErrUnsupportedCodec},
		{"PCMU at 16 kHz", rtsp.CameraMediaOptions{ConferenceID: "1", LegID: "x", Tracks: rtsp.Tracks{Audio: &rtsp.Format{Codec: rtsp.CodecPCMU, ClockRate: 16000}}}, ErrUnsupportedCodec},
		{"H265", rtsp.CameraMediaOptions{ConferenceID: "1", LegID: "x", Tracks: rtsp.Tracks{Video: &rtsp.Format{Codec: "H265", ClockRate: 90000}}}, ErrUnsupportedCodec},
		{"bad video pt", rtsp.CameraMediaOptions{ConferenceID: "1", LegID: "x", Tracks: rtsp.Tracks{Video: &rtsp.Format{Codec: rtsp.CodecH264, PayloadType: 72, ClockRate: 90000}}}, bridge.ErrBadParams},
	}
	for _, c := range cases {
		if _, err := f.NewCameraMedia(c.opts); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// TestCameraOpusHeardByPhone: an Opus camera (48 kHz, passed to the bridge
// without cutting) is heard by a PCMU phone.
func TestCameraOpusHeardByPhone(t *testing.T) {
	b := newBridge(t)
	ph := newPhone(t, b, "704")
	m, err := New(b, nil).NewCameraMedia(rtsp.CameraMediaOptions{
		ConferenceID: "704", LegID: "rtsp-cam5", Name: "cam5",
		Tracks: rtsp.Tracks{Audio: &rtsp.Format{Codec: rtsp.CodecOpus, PayloadType: 98, ClockRate: 48000, Channels: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(nil)
	opus, _ := codec.Lookup("opus")
	enc, err := codec.NewEncoder(opus)
	if err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		pcm := make([]int16, 960)
		out := make([]byte, codec.MaxPayload)
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 98, SSRC: 9}}
		for i := 0; ; i++ {
			for j := range pcm {
				pcm[j] = int16(6000 * math.Sin(2*math.Pi*1000*float64(i*960+j)/48000))
			}
			n, err := enc.Encode(pcm, out)
			if err != nil {
				t.Error(err)
				return
			}
			pkt.Payload = out[:n]
			pkt.SequenceNumber++
			pkt.Timestamp += 960
			m.AudioRTP(&pkt)
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	defer func() { close(stop); <-done }()
	ph.hear(300 * time.Millisecond)
	if p := power(ph.hear(500*time.Millisecond), 1000); p < 1e5 {
		t.Errorf("phone does not hear the Opus camera: power %.3g", p)
	}
	if s := m.Stats(); s.Codec != "opus" || s.PacketsIn == 0 {
		t.Errorf("stats %+v", s)
	}
}
