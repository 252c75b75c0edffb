package bridge

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/bridge/codec"
)

// toneSource makes the RTP packets of a camera's microphone: a tone in one
// codec, 20 ms per packet.
type toneSource struct {
	t    testing.TB
	info codec.Info
	pt   uint8
	freq float64
	enc  codec.Encoder
	pcm  []int16
	out  []byte
	sent int
	pkt  rtp.Packet
}

func newToneSource(t testing.TB, info codec.Info, pt uint8, freq float64) *toneSource {
	t.Helper()
	enc, err := codec.NewEncoder(info)
	if err != nil {
		t.Fatal(err)
	}
	return &toneSource{
		t: t, info: info, pt: pt, freq: freq, enc: enc,
		pcm: make([]int16, info.SamplesPerFrame()), out: make([]byte, codec.MaxPayload),
		pkt: rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: 40000, Timestamp: 77, SSRC: 0xcafe}},
	}
}

// next returns the next 20 ms packet; it is valid until the next call.
func (s *toneSource) next() *rtp.Packet {
	tone(s.pcm, s.info.SampleRate, s.freq, 6000, s.sent)
	s.sent += len(s.pcm)
	n, err := s.enc.Encode(s.pcm, s.out)
	if err != nil {
		s.t.Fatal(err)
	}
	s.pkt.SequenceNumber++
	s.pkt.Timestamp += s.info.TimestampStep()
	s.pkt.Payload = s.out[:n]
	return &s.pkt
}

func newInjectedPCMU(t testing.TB, b *Bridge, room, id string) *InjectedLeg {
	t.Helper()
	il, err := b.NewInjectedLeg(LegOptions{ID: id, Room: room}, StreamParams{Codec: mustLookup(t, "PCMU"), PayloadType: 0, EventPayloadType: -1})
	if err != nil {
		t.Fatalf("NewInjectedLeg: %v", err)
	}
	t.Cleanup(func() { il.Close(nil) })
	return il
}

// runCamera drives frames ticks: the camera injects a frame, the phone sends
// one of its own tone, the mixer ticks, the phone reads what it hears.
func runCamera(t *testing.T, clk *fakeClock, cam *InjectedLeg, src *toneSource, phone *tonePeer, frames int) {
	t.Helper()
	r := roomOf(t, phone.leg)
	for range frames {
		clk.Advance(tickPeriod)
		cam.InjectRTP(src.next())
		want := phone.leg.Stats().PacketsIn + 1
		phone.sendFrame()
		waitFor(t, "the phone's packet", func() bool { return phone.leg.Stats().PacketsIn >= want })
		r.tick(clk.Now())
		phone.receiveFrame()
	}
}

func TestInjectedLegHeardByPhone(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	phone := newTonePeer(t, b, "cams", "phone", mustLookup(t, "PCMU"), 0, 440)
	cam := newInjectedPCMU(t, b, "cams", "rtsp-cam")
	src := newToneSource(t, mustLookup(t, "PCMU"), 0, 1000)
	runCamera(t, clk, cam, src, phone, 50)

	pcm := phone.heard[len(phone.heard)/2:]
	if p := goertzel(pcm, 8000, 1000); p < 1e5 {
		t.Errorf("the phone does not hear the camera's 1000 Hz tone (power %.3g)", p)
	}
	if own, cams := goertzel(pcm, 8000, 440), goertzel(pcm, 8000, 1000); own*100 > cams {
		t.Errorf("the phone hears its own tone (%.3g) against the camera's (%.3g)", own, cams)
	}
	s := cam.Stats()
	if s.PacketsIn != 50 || s.PacketsOut != 0 || s.BytesOut != 0 || !s.Talking || s.Codec != "PCMU" || s.LocalPort != 0 || s.Remote.IsValid() {
		t.Errorf("camera stats %+v", s)
	}
	if got := b.ports.inUse(); got != 1 {
		t.Errorf("%d port pairs in use, want 1 (the phone's)", got)
	}
	// The phone hears the camera alone in its packets, not its own voice:
	// and the camera is never sent anything, so nothing else arrives.
	if pk := phone.leg.Stats().PacketsOut; pk != 50 {
		t.Errorf("phone got %d packets, want 50", pk)
	}
}

func TestInjectedLegMuted(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	phone := newTonePeer(t, b, "cams", "phone", mustLookup(t, "PCMU"), 0, 440)
	cam := newInjectedPCMU(t, b, "cams", "rtsp-cam")
	src := newToneSource(t, mustLookup(t, "PCMU"), 0, 1000)
	runCamera(t, clk, cam, src, phone, 20)

	cam.SetMuted(true)
	if !cam.Muted() {
		t.Fatal("Muted() false after SetMuted(true)")
	}
	phone.heard = nil
	runCamera(t, clk, cam, src, phone, 30)
	if p := goertzel(phone.heard[len(phone.heard)/2:], 8000, 1000); p > 1e3 {
		t.Errorf("the muted camera is heard (power %.3g)", p)
	}

	cam.SetMuted(false)
	phone.heard = nil
	runCamera(t, clk, cam, src, phone, 30)
	if p := goertzel(phone.heard[len(phone.heard)/2:], 8000, 1000); p < 1e5 {
		t.Errorf("the unmuted camera is not heard (power %.3g)", p)
	}
}

func TestInjectedLegMediaTimeout(t *testing.T) {
	b, clk := newTestBridge(t, Config{MediaTimeout: time.Second})
	events := make(chan EventKind, 4)
	cam, err := b.NewInjectedLeg(LegOptions{ID: "cam", Room: "t", OnEvent: func(ev Event) { events <- ev.Kind }},
		StreamParams{Codec: mustLookup(t, "PCMU"), PayloadType: 0, EventPayloadType: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close(nil)
	src := newToneSource(t, mustLookup(t, "PCMU"), 0, 1000)
	cam.InjectRTP(src.next())

	// A camera reconnecting sends nothing for a while: the bridge's
	// timeout does not apply to it. The test ticks the room itself, so
	// that each tick sees the clock the test set.
	r := roomOf(t, cam.l)
	// timedOut is set by the tick itself; Done follows asynchronously.
	timedOut := func() bool {
		cam.l.mu.Lock()
		defer cam.l.mu.Unlock()
		return cam.l.timedOut
	}
	for range 5 {
		clk.Advance(time.Second)
		r.tick(clk.Now())
	}
	if timedOut() {
		t.Fatal("injected leg timed out with the timeout off")
	}

	cam.SetMediaTimeout(2 * time.Second)
	clk.Advance(time.Second)
	r.tick(clk.Now())
	cam.InjectRTP(src.next()) // activity: the timeout counts from here
	clk.Advance(1900 * time.Millisecond)
	r.tick(clk.Now())
	if timedOut() {
		t.Fatal("timed out before its own timeout")
	}
	clk.Advance(200 * time.Millisecond)
	r.tick(clk.Now())
	select {
	case <-cam.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("no media timeout")
	}
	if !errors.Is(cam.Cause(), ErrMediaTimeout) {
		t.Errorf("cause %v, want ErrMediaTimeout", cam.Cause())
	}
	if k := <-events; k != EventMediaTimeout {
		t.Errorf("event %v, want EventMediaTimeout", k)
	}
	cam.InjectRTP(src.next()) // after Close: dropped, no panic
}

func TestInjectedLegUpdateAndDrops(t *testing.T) {
	b, _ := newTestBridge(t, Config{})
	cam := newInjectedPCMU(t, b, "t", "cam")
	pcmu := newToneSource(t, mustLookup(t, "PCMU"), 0, 1000)
	cam.InjectRTP(pcmu.next())
	cam.InjectRTP(nil)
	// Another payload type than the configured one is dropped.
	pcma := newToneSource(t, mustLookup(t, "PCMA"), 8, 1000)
	cam.InjectRTP(pcma.next())
	// Too large for any datagram.
	big := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 1}, Payload: make([]byte, maxDatagram)}
	cam.InjectRTP(&big)
	s := cam.Stats()
	if s.PacketsIn != 1 || s.DroppedUnknownPT != 1 || s.DroppedMalformed != 1 {
		t.Fatalf("stats %+v", s)
	}
	// The camera came back with A-law.
	if err := cam.Update(StreamParams{Codec: mustLookup(t, "PCMA"), PayloadType: 8, EventPayloadType: -1}); err != nil {
		t.Fatal(err)
	}
	cam.InjectRTP(pcma.next())
	if s := cam.Stats(); s.PacketsIn != 2 || s.Codec != "PCMA" {
		t.Fatalf("after Update: stats %+v", s)
	}
	cam.Close(errTest)
	cam.Close(nil)
	if !errors.Is(cam.Cause(), errTest) {
		t.Errorf("cause %v", cam.Cause())
	}
	if err := cam.Update(StreamParams{Codec: mustLookup(t, "PCMU"), EventPayloadType: -1}); err == nil {
		t.Error("Update after Close succeeded")
	}
}

func TestInjectedLegBadParams(t *testing.T) {
	b, _ := newTestBridge(t, Config{})
	if _, err := b.NewInjectedLeg(LegOptions{ID: "x"}, StreamParams{Codec: mustLookup(t, "PCMU"), EventPayloadType: -1}); !errors.Is(err, ErrBadParams) {
		t.Errorf("empty room: %v", err)
	}
	if _, err := b.NewInjectedLeg(LegOptions{ID: "x", Room: "r"}, StreamParams{Codec: codec.Info{Name: "AAC"}, EventPayloadType: -1}); !errors.Is(err, ErrBadParams) {
		t.Errorf("unknown codec: %v", err)
	}
	_ = b.Close()
	if _, err := b.NewInjectedLeg(LegOptions{ID: "x", Room: "r"}, StreamParams{Codec: mustLookup(t, "PCMU"), EventPayloadType: -1}); !errors.Is(err, ErrClosed) {
		t.Errorf("closed bridge: %v", err)
	}
}

// TestInjectedLegConcurrent injects from two goroutines, as an RTSP client
// does across a reconnection, while the mixer runs and the leg is muted and
// closed; the race detector checks the locking.
func TestInjectedLegConcurrent(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	cam := newInjectedPCMU(t, b, "t", "cam")
	var wg sync.WaitGroup
	var n atomic.Uint64
	for g := range 2 {
		src := newToneSource(t, mustLookup(t, "PCMU"), 0, 500+float64(g)*300)
		wg.Go(func() {
			for range 200 {
				cam.InjectRTP(src.next())
				n.Add(1)
			}
		})
	}
	for i := range 20 {
		clk.Advance(tickPeriod)
		tickVia(t, clk)
		cam.SetMuted(i%2 == 0)
	}
	wg.Wait()
	if got := cam.Stats().PacketsIn; got == 0 || got > n.Load() {
		t.Errorf("%d packets in of %d injected", got, n.Load())
	}
	cam.Close(nil)
}

func TestInjectRTPAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	b, _ := newTestBridge(t, Config{})
	cam := newInjectedPCMU(t, b, "t", "cam")
	src := newToneSource(t, mustLookup(t, "PCMU"), 0, 1000)
	pkts := make([]rtp.Packet, 64)
	for i := range pkts {
		pkts[i] = *src.next()
		pkts[i].Payload = append([]byte(nil), pkts[i].Payload...)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		p := &pkts[i%len(pkts)]
		p.SequenceNumber = uint16(i)
		p.Timestamp = uint32(i) * 160
		cam.InjectRTP(p)
		i++
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per injected packet, want 0", allocs)
	}
}

// BenchmarkInjectRTP measures one camera packet into the jitter buffer.
func BenchmarkInjectRTP(b *testing.B) {
	br, _ := newTestBridge(b, Config{})
	cam := newInjectedPCMU(b, br, "t", "cam")
	src := newToneSource(b, mustLookup(b, "PCMU"), 0, 1000)
	pkt := *src.next()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		pkt.SequenceNumber = uint16(i)
		pkt.Timestamp = uint32(i) * 160
		cam.InjectRTP(&pkt)
		i++
	}
}

// TestInjectedVideoLegSeen: a camera's injected H.264 reaches a phone in the
// room through the video router, and the router's keyframe requests reach
// the camera's callback.
func TestInjectedVideoLegSeen(t *testing.T) {
	b, _ := newVideoBridge(t)
	golden := goldenVideo(t)
	viewer := newVideoPeer(t, 1, golden)
	viewer.join(b, "r", "viewer")

	var kf atomic.Int32
	camPeer := newVideoPeer(t, 9, golden) // only makes the packets
	cam, err := b.NewInjectedVideoLeg(VideoLegOptions{ID: "rtsp-cam", Room: "r", OnKeyframeRequest: func(rtcpSent bool) {
		if rtcpSent {
			t.Error("an RTCP keyframe request was sent to a camera without sockets")
		}
		kf.Add(1)
	}}, camPeer.params())
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close(nil)
	if cam.ID() != "rtsp-cam" {
		t.Errorf("ID %q", cam.ID())
	}
	var pkt rtp.Packet
	for range 60 {
		if err := pkt.Unmarshal(camPeer.packet()); err != nil {
			t.Fatal(err)
		}
		cam.InjectRTP(&pkt)
		vidTick(t, b, "r")
	}
	vidWait(t, "a keyframe request for the camera", func() bool { return kf.Load() > 0 })
	vidWait(t, "the viewer to get video", func() bool { return viewer.leg.packetsOut.Load() > 0 })
	seen := false
	for _, p := range viewer.collect() {
		seen = seen || tagOf(t, p) == 9
	}
	if !seen {
		t.Error("the viewer never saw the camera's video")
	}
	s := cam.Stats()
	if s.PacketsIn != 60 || s.PacketsOut != 0 || !s.OnScreen || s.Width != 320 || s.Height != 240 {
		t.Errorf("camera video stats %+v", s)
	}
	cam.Close(errTest)
	<-cam.Done()
	if !errors.Is(cam.Cause(), errTest) {
		t.Errorf("cause %v", cam.Cause())
	}
	cam.InjectRTP(&pkt) // after Close: dropped
}

// TestInjectedLegNoInbandDTMF: a camera's audio that sounds like a key
// press (the 770 + 1336 Hz of '5') is mixed as it is, not taken for a digit.
func TestInjectedLegNoInbandDTMF(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	phone := newTonePeer(t, b, "cams", "phone", mustLookup(t, "PCMU"), 0, 440)
	var digits atomic.Int32
	cam, err := b.NewInjectedLeg(LegOptions{ID: "cam", Room: "cams", OnEvent: func(ev Event) {
		if ev.Kind == EventDTMF {
			digits.Add(1)
		}
	}}, StreamParams{Codec: mustLookup(t, "PCMU"), PayloadType: 0, EventPayloadType: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close(nil)
	src := newToneSource(t, mustLookup(t, "PCMU"), 0, 770)
	low, high := make([]int16, 160), make([]int16, 160)
	r := roomOf(t, phone.leg)
	for range 30 {
		clk.Advance(tickPeriod)
		// The key's two tones, as a DTMF generator makes them.
		tone(low, 8000, 770, 4000, src.sent)
		tone(high, 8000, 1336, 4000, src.sent)
		for i := range src.pcm {
			src.pcm[i] = low[i] + high[i]
		}
		src.sent += 160
		n, err := src.enc.Encode(src.pcm, src.out)
		if err != nil {
			t.Fatal(err)
		}
		src.pkt.SequenceNumber++
		src.pkt.Timestamp += 160
		src.pkt.Payload = src.out[:n]
		cam.InjectRTP(&src.pkt)
		want := phone.leg.Stats().PacketsIn + 1
		phone.sendFrame()
		waitFor(t, "the phone's packet", func() bool { return phone.leg.Stats().PacketsIn >= want })
		r.tick(clk.Now())
		phone.receiveFrame()
	}
	cam.Close(nil)
	if n := digits.Load(); n != 0 {
		t.Errorf("%d digits detected in a camera's audio", n)
	}
	if p := goertzel(phone.heard[len(phone.heard)/2:], 8000, 1336); p < 1e5 {
		t.Errorf("the phone does not hear the camera's 1336 Hz (power %.3g): its audio was suppressed", p)
	}
}
