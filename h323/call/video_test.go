package call

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/video"
	"github.com/roomgate/roomgate/h323/h245"
	"github.com/roomgate/roomgate/h323/internal/tsharktest"
)

// goldenH264 loads the bridge's recorded libx264 stream (320x240 Baseline,
// packetization mode 1, an IDR every 10 frames): length-prefixed RTP packets.
func goldenH264(t *testing.T) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "bridge", "video", "testdata", "x264-baseline-320x240.rtp"))
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n || n < 12 {
			t.Fatal("golden video truncated")
		}
		pkts = append(pkts, b[2:2+n])
		b = b[2+n:]
	}
	return pkts
}

// camera is a test video endpoint on loopback: it plays the golden stream
// into a bridge video leg (payload type 96) until stopped, and counts the
// RTCP PLI/FIR the bridge sends it.
type camera struct {
	rtp, rtcp *net.UDPConn
	to        netip.AddrPort
	stop      chan struct{}
	wg        sync.WaitGroup
	mu        sync.Mutex
	plis      int
}

func newUDP(t *testing.T) (*net.UDPConn, netip.AddrPort) {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, netip.MustParseAddrPort(c.LocalAddr().String())
}

// startCamera joins a camera leg to room of b and streams into it.
func startCamera(t *testing.T, b *bridge.Bridge, room, id string) *camera {
	t.Helper()
	golden := goldenH264(t)
	c := &camera{stop: make(chan struct{})}
	var rtpAddr, rtcpAddr netip.AddrPort
	c.rtp, rtpAddr = newUDP(t)
	c.rtcp, rtcpAddr = newUDP(t)
	leg, err := b.NewVideoLeg(bridge.VideoLegOptions{ID: id, Room: room})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { leg.Close(nil) })
	f, _ := video.ParseH264Fmtp("profile-level-id=42e01f;packetization-mode=1")
	if err := leg.Start(bridge.VideoParams{PayloadType: 96, Fmtp: f, Remote: rtpAddr, RemoteRTCP: rtcpAddr,
		Direction: bridge.SendRecv, Feedback: bridge.VideoFeedback{PLI: true}}); err != nil {
		t.Fatal(err)
	}
	c.to = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(leg.LocalPort()))
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, err := c.rtcp.Read(buf)
			if err != nil {
				return
			}
			// RFC 4585 PSFB (206) with FMT 1 is a PLI.
			if n >= 12 && buf[1] == 206 && buf[0]&0x1f == 1 {
				c.mu.Lock()
				c.plis++
				c.mu.Unlock()
			}
		}
	}()
	go func() {
		defer c.wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var seq uint16
		var base uint32
		first := binary.BigEndian.Uint32(golden[0][4:])
		last := binary.BigEndian.Uint32(golden[len(golden)-1][4:])
		pkt := make([]byte, 1500)
		for i := 0; ; i++ {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			if i > 0 && i%len(golden) == 0 {
				base += last - first + 3000
			}
			g := golden[i%len(golden)]
			p := pkt[:len(g)]
			copy(p, g)
			p[1] = p[1]&0x80 | 96
			binary.BigEndian.PutUint16(p[2:], seq)
			binary.BigEndian.PutUint32(p[4:], binary.BigEndian.Uint32(g[4:])+base)
			binary.BigEndian.PutUint32(p[8:], 0xCA3E)
			seq++
			if _, err := c.rtp.WriteToUDPAddrPort(p, c.to); err != nil {
				return
			}
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *camera) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.rtp.Close()
	c.rtcp.Close()
	c.wg.Wait()
}

func (c *camera) pliCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.plis
}

// viewer is a test video endpoint that only watches a room.
func startViewer(t *testing.T, b *bridge.Bridge, room, id string) (*net.UDPConn, *bridge.VideoLeg) {
	t.Helper()
	conn, addr := newUDP(t)
	leg, err := b.NewVideoLeg(bridge.VideoLegOptions{ID: id, Room: room})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { leg.Close(nil) })
	f, _ := video.ParseH264Fmtp("profile-level-id=42e01f;packetization-mode=1")
	if err := leg.Start(bridge.VideoParams{PayloadType: 97, Fmtp: f, Remote: addr, Direction: bridge.SendOnly}); err != nil {
		t.Fatal(err)
	}
	return conn, leg
}

// eventually polls cond; it paces real network exchanges, it stands in for no timer under test.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two stacks call each other in every mode; both open audio and H.264 video
// channels both ways. A camera's H.264 in the caller's conference goes out
// through the caller's video leg, into the callee's bridge and on to a
// viewer there; the callee's room asks for a keyframe with
// videoFastUpdatePicture, which reaches the camera as an RTCP PLI; a
// flowControlCommand caps what the callee sends; hang-up closes both video
// legs. tshark decodes all of the call signalling without a malformed field.
func TestVideoBothWays(t *testing.T) {
	for _, tc := range []struct {
		name       string
		refuseFast bool
		tunnel     bool
		fastVideo  bool // video opens by Fast Connect, with the audio
	}{
		{name: "fast start tunnelled", tunnel: true, fastVideo: true},
		{name: "slow start tunnelled", refuseFast: true, tunnel: true},
		{name: "slow start separate H.245", refuseFast: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			callee := newStack(t, Config{RefuseFastStart: tc.refuseFast})
			caller := newStack(t, Config{Alias: "roomgate-a", Video: VideoFormat{MaxBitrateKbps: 1500}})
			var rec *recordingConn
			dial := caller.s.env.dial
			caller.s.env.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				if err == nil && rec == nil {
					rec = &recordingConn{Conn: c}
					return rec, nil
				}
				return c, err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cam := startCamera(t, caller.b, "out-room", "cam")
			var k *Call
			if tc.tunnel {
				if _, err := caller.s.Dialer().Dial(ctx, dialReq(t, "out-room", "h323:4711@"+callee.s.Addr().String())); err != nil {
					t.Fatal(err)
				}
			} else {
				// Without tunnelling H.245 runs on its own TCP connection.
				var err error
				k, err = Dial(ctx, "h323:4711@"+callee.s.Addr().String(), DialOptions{Media: BridgeMedia(caller.b),
					Room: "out-room", Video: VideoFormat{MaxBitrateKbps: 1500}, Logger: testLogger(t),
					netDial: caller.s.env.dial})
				if err != nil {
					t.Fatal(err)
				}
				defer k.Close()
			}
			in := <-callee.confs.joins
			ic := callOf(t, in)
			var oc *call
			if k != nil {
				oc = k.c
			} else {
				oc = callOf(t, <-caller.confs.joins)
			}
			open := func(c *call) bool {
				s := read(t, c, c.videoStats)
				return s.SendChannel != 0 && s.RecvChannel != 0 && s.Leg.Codec == "H264"
			}
			eventually(t, "video channels both ways", func() bool { return open(oc) && open(ic) })
			if fv := read(t, oc, func() bool { return oc.video.fastStart && ic.video.fastStart }); fv != tc.fastVideo {
				t.Errorf("video by Fast Connect: %v, want %v", fv, tc.fastVideo)
			}
			ocs, ics := read(t, oc, oc.videoStats), read(t, ic, ic.videoStats)
			// The caller's format (1500 kbit/s) is below the callee's (2000): its OLC says so.
			if ocs.LimitBps != 1500000 || ics.LimitBps != 1500000 {
				t.Errorf("limits: caller %d, callee %d", ocs.LimitBps, ics.LimitBps)
			}
			if ocs.SendChannel == ourChannel || ics.SendChannel == ourChannel {
				t.Errorf("video on the audio channel: %+v %+v", ocs, ics)
			}
			waitPackets(t, "callee audio", in.req.Leg.Stats)

			// The camera is the caller's picture; the callee's room shows the caller.
			if err := caller.b.PinVideo("out-room", "cam"); err != nil {
				t.Fatal(err)
			}
			view, _ := startViewer(t, callee.b, "4711", "viewer")
			if err := callee.b.PinVideo("4711", ic.id); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1500)
			if err := view.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			for got := 0; got < 20; got++ {
				n, err := view.Read(buf)
				if err != nil {
					t.Fatalf("viewer got %d packets: %v", got, err)
				}
				if n < 12 || buf[1]&0x7f != 97 {
					t.Fatalf("viewer got %x", buf[:min(n, 16)])
				}
			}
			ics = read(t, ic, ic.videoStats)
			if ics.Leg.PacketsIn == 0 || ics.Leg.Width != 320 || ics.Leg.Height != 240 {
				t.Errorf("callee's video leg: %+v", ics.Leg)
			}
			// The callee's room asked the caller for a keyframe by H.245; the caller passed it
			// to the camera it shows, which got an RTCP PLI.
			eventually(t, "videoFastUpdatePicture round trip", func() bool {
				o, i := read(t, oc, oc.videoStats), read(t, ic, ic.videoStats)
				return i.FastUpdatesOut > 0 && o.FastUpdatesIn > 0 && o.Leg.KeyframeRequestsReceived > 0
			})
			plis := cam.pliCount()
			fu := read(t, oc, oc.videoStats).FastUpdatesIn
			// One more, sent by hand: the caller's room forwards a receiver's request to its
			// source at most every 500 ms, so it is repeated until one gets through.
			var sentAt time.Time
			eventually(t, "PLI to the camera", func() bool {
				if time.Since(sentAt) > 600*time.Millisecond {
					sentAt = time.Now()
					if err := ic.doWait(ctx, ic.sendFastUpdate); err != nil {
						t.Fatal(err)
					}
				}
				return read(t, oc, oc.videoStats).FastUpdatesIn > fu && cam.pliCount() > plis
			})

			// flowControlCommand from the caller caps what the callee sends; noRestriction lifts it.
			if err := oc.doWait(ctx, func() { oc.reply(h245.FlowControl(oc.video.peerOLC, 3840)) }); err != nil {
				t.Fatal(err)
			}
			eventually(t, "flow control", func() bool { return read(t, ic, ic.videoStats).LimitBps == 384000 })
			if err := oc.doWait(ctx, func() { oc.reply(h245.FlowControl(oc.video.peerOLC, -1)) }); err != nil {
				t.Fatal(err)
			}
			eventually(t, "flow control lifted", func() bool { return read(t, ic, ic.videoStats).LimitBps == 1500000 })

			m := callee.s.env.m
			for name, c := range map[string]prometheus.Collector{
				"fast updates sent": m.fastUpdates.WithLabelValues("sent"), "flow control received": m.flowControl.WithLabelValues("received"),
				"send channels": m.videoChannels.WithLabelValues("send"), "receive channels": m.videoChannels.WithLabelValues("receive"),
			} {
				if testutil.ToFloat64(c) < 1 {
					t.Errorf("callee metric %s not counted", name)
				}
			}

			ol, il := oc.video.leg.(*bridge.VideoLeg), ic.video.leg.(*bridge.VideoLeg)
			in.req.Leg.Hangup(nil)
			<-ic.done
			<-oc.done
			for _, l := range []*bridge.VideoLeg{ol, il} {
				select {
				case <-l.Done():
				default:
					t.Errorf("video leg %s still open after the call", l.ID())
				}
			}
			cam.close()
			var wants []string
			switch {
			case tc.fastVideo:
				wants = []string{"CS: setup OpenLogicalChannel", "CS: connect OpenLogicalChannel", "miscellaneousCommand",
					"flowControlCommand", "closeLogicalChannel"}
			case tc.tunnel:
				wants = []string{"terminalCapabilitySet", "openLogicalChannel", "openLogicalChannelAck",
					"miscellaneousCommand", "flowControlCommand", "closeLogicalChannel"}
			}
			checkTshark(t, rec, wants...)
		})
	}
}

// checkTshark has tshark dissect a call's signalling: nothing malformed, and
// the messages named in wants (beyond Setup, Connect, ReleaseComplete) are there.
func checkTshark(t *testing.T, rec *recordingConn, wants ...string) {
	t.Helper()
	var frames []tsharktest.Frame
	for _, b := range rec.frames(t) {
		frames = append(frames, tsharktest.Frame{Name: "call signalling", Payload: b})
	}
	joined := strings.Join(tsharktest.Check(t, frames), "\n")
	for _, want := range append([]string{"CS: setup", "CS: connect", "releaseComplete"}, wants...) {
		if !strings.Contains(joined, want) {
			t.Errorf("tshark summary lacks %q:\n%s", want, joined)
		}
	}
}

// Our capability set is truthful: H.264 in the conference format when the
// call has a video leg, none without one.
func TestVideoCapabilities(t *testing.T) {
	for _, tc := range []struct {
		f    VideoFormat
		want h245.H264
	}{
		{VideoFormat{}, h245.H264{Profile: 64, Level: 71, MaxBitRate: 20000}},
		{VideoFormat{MaxWidth: 1920, MaxHeight: 1080, MaxBitrateKbps: 4000}, h245.H264{Profile: 64, Level: 85, MaxBitRate: 40000}},
		{VideoFormat{MaxWidth: 1280, MaxHeight: 720, MaxBitrateKbps: 16000}, h245.H264{Profile: 64, Level: 71, MaxBitRate: 160000, MaxBR: 640}},
		{VideoFormat{MaxWidth: 640, MaxHeight: 360, MaxFPS: 30, MaxBitrateKbps: 768}, h245.H264{Profile: 64, Level: 64, MaxBitRate: 7680}},
		{VideoFormat{MaxWidth: 4096, MaxHeight: 2304, MaxFPS: 60, MaxBitrateKbps: 20000}, h245.H264{Profile: 64, Level: 113, MaxBitRate: 200000, MaxMBPS: 4424}},
	} {
		f, err := tc.f.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		got := f.capability()
		if got.Profile != tc.want.Profile || got.Level != tc.want.Level || got.MaxBitRate != tc.want.MaxBitRate ||
			got.MaxBR != tc.want.MaxBR || got.MaxFS != tc.want.MaxFS || got.MaxMBPS != tc.want.MaxMBPS {
			t.Errorf("%+v: %+v, want %+v", tc.f, got, tc.want)
		}
	}
	if _, err := (VideoFormat{MaxFPS: -1}).withDefaults(); err == nil {
		t.Error("negative frame rate accepted")
	}
	f, _ := VideoFormat{}.withDefaults()
	video := f.capability()
	for _, tc := range []struct {
		cap  *h245.H264
		want int
	}{{&video, 1}, {nil, 0}} {
		b, err := h245.TCS(1, capabilities(audioTable, tc.cap))
		if err != nil {
			t.Fatal(err)
		}
		m, err := h245.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := h245.TCSVideo(m); len(got.H264) != tc.want {
			t.Errorf("TCS video %+v, want %d entries", got, tc.want)
		}
	}
}

// A call whose media factory gives no video, or whose format is disabled, has no video leg and advertises none.
func TestAudioOnlyCallRefusesVideo(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := newCall(&env{log: testLogger(t), media: &fakeMedia{}}, "x", a, false)
	if err := c.newVideoLeg("r"); err != nil || c.video.leg != nil || c.videoCapability() != nil {
		t.Fatalf("video without a video factory: leg %v, err %v", c.video.leg, err)
	}
	c.onH245(must(h245.OLC(h245.Channel{Number: 9, SessionID: 2, Video: &h245.H264{Profile: 64, Level: 71},
		MediaControl: netip.MustParseAddrPort("127.0.0.1:7001"), PayloadType: 96})))
	if r := find(sent(t, c), "openLogicalChannelReject", nil); r == nil || r.Channel != 9 || r.Cause != "dataTypeNotSupported" {
		t.Fatalf("video OLC to an audio-only call answered %+v", r)
	}
	// A disabled format gives no video even with a video factory.
	c = newCall(&env{log: testLogger(t), media: &fakeVideoMedia{}, video: VideoFormat{Disabled: true}}, "y", a, false)
	if err := c.newVideoLeg("r"); err != nil || c.video.leg != nil || c.videoCapability() != nil {
		t.Fatalf("video with the format disabled: leg %v, err %v", c.video.leg, err)
	}
}

// The limiter sends the first request at once, merges the ones inside the
// interval into one sent when it ends, and sends again after it.
func TestFastUpdateLimiter(t *testing.T) {
	l := fastUpdateLimiter{interval: time.Second}
	t0 := time.Unix(1000, 0)
	if send, _ := l.request(t0); !send {
		t.Fatal("first request held")
	}
	send, wait := l.request(t0.Add(300 * time.Millisecond))
	if send || wait != 700*time.Millisecond {
		t.Fatalf("second request: send %v wait %v", send, wait)
	}
	if send, wait := l.request(t0.Add(500 * time.Millisecond)); send || wait != 0 {
		t.Fatalf("third request not merged: send %v wait %v", send, wait)
	}
	if !l.due(t0.Add(time.Second)) {
		t.Fatal("merged request not sent when due")
	}
	if l.due(t0.Add(1100 * time.Millisecond)) {
		t.Fatal("sent twice")
	}
	if send, _ := l.request(t0.Add(1500 * time.Millisecond)); send {
		t.Fatal("request 0.5 s after the merged one sent")
	}
	if send, _ := l.request(t0.Add(2100 * time.Millisecond)); !send {
		t.Fatal("request after the interval held")
	}
}
