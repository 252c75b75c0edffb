package call

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/h245"
	"github.com/roomgate/roomgate/h323/internal/vectors"
	"github.com/roomgate/roomgate/h323/per"
	"github.com/roomgate/roomgate/h323/schema"
	"github.com/roomgate/roomgate/internal/callleg"
)

// fakeVideoLeg records what the call asks of its video leg.
type fakeVideoLeg struct {
	mu          sync.Mutex
	params      []bridge.VideoParams
	fastUpdates int
	rooms       []string
	cameraMuted bool
	closed      bool
}

func (l *fakeVideoLeg) LocalPort() int { return 41000 }
func (l *fakeVideoLeg) Start(p bridge.VideoParams) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.params = append(l.params, p)
	return nil
}
func (l *fakeVideoLeg) Update(p bridge.VideoParams) error { return l.Start(p) }
func (l *fakeVideoLeg) SetRoom(room string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rooms = append(l.rooms, room)
	return nil
}
func (l *fakeVideoLeg) HandleFastUpdate() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fastUpdates++
}
func (l *fakeVideoLeg) SetCameraMuted(m bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cameraMuted = m
}
func (l *fakeVideoLeg) Stats() bridge.VideoLegStats { return bridge.VideoLegStats{LocalPort: 41000} }
func (l *fakeVideoLeg) Close(error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
}

func (l *fakeVideoLeg) last(t *testing.T) bridge.VideoParams {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.params) == 0 {
		t.Fatal("video leg never started")
	}
	return l.params[len(l.params)-1]
}

// fakeVideoMedia is a media factory that also gives video legs.
type fakeVideoMedia struct {
	fakeMedia
	leg fakeVideoLeg
}

func (m *fakeVideoMedia) NewVideoLeg(bridge.VideoLegOptions) (callleg.VideoLeg, error) {
	return &m.leg, nil
}

// fsmCall is a call whose H.245 runs without a transport: what it sends
// stays in its queue (h245Ready is false), and master/slave is decided.
func fsmCall(t *testing.T) (*call, *fakeVideoLeg) {
	t.Helper()
	prefs, err := parseCodecs(nil)
	if err != nil {
		t.Fatal(err)
	}
	vf, _ := VideoFormat{}.withDefaults()
	m, _ := newMetrics(nil)
	media := &fakeVideoMedia{}
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	c := newCall(&env{prefs: prefs, video: vf, media: media, log: testLogger(t), m: m}, "fsm", a, false)
	if err := c.newLeg("room"); err != nil {
		t.Fatal(err)
	}
	c.h245Started, c.h245.msd, c.h245.master = true, msdDone, true
	return c, &media.leg
}

// sent returns and forgets what the call has sent.
func sent(t *testing.T, c *call) []*h245.Message {
	t.Helper()
	var out []*h245.Message
	for _, pdu := range c.h245Queue {
		m, err := h245.Parse(pdu)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	c.h245Queue = nil
	return out
}

func find(ms []*h245.Message, kind string, ok func(*h245.Message) bool) *h245.Message {
	for _, m := range ms {
		if m.Kind == kind && (ok == nil || ok(m)) {
			return m
		}
	}
	return nil
}

// capturedH245 returns the tunnelled H.245 messages of one frame of the h323plus video capture.
func capturedH245(t *testing.T, frame string) [][]byte {
	t.Helper()
	for _, v := range vectors.Load(t, "uuie") {
		if v.Capture == "h323plus-video-h239.pcapng" && v.Frame == frame {
			uu, err := h225.Parse(v.Data)
			if err != nil {
				t.Fatal(err)
			}
			return uu.H245
		}
	}
	t.Fatalf("frame %s missing", frame)
	return nil
}

// peerH264OLC is a room system's H.264 OpenLogicalChannel with the single
// NAL unit descriptor one arc short, as Polycom sends it.
func peerH264OLC(t *testing.T, n, pt int) []byte {
	t.Helper()
	param := func(id int, kind string, v int) map[string]any {
		return map[string]any{"parameterIdentifier": map[string]any{"standard": id}, "parameterValue": map[string]any{kind: v}}
	}
	j := map[string]any{"request": map[string]any{"openLogicalChannel": map[string]any{
		"forwardLogicalChannelNumber": n,
		"forwardLogicalChannelParameters": map[string]any{
			"dataType": map[string]any{"videoData": map[string]any{"genericVideoCapability": map[string]any{
				"capabilityIdentifier": map[string]any{"standard": h245.OIDH264}, "maxBitRate": 10240,
				"collapsing": []any{param(41, "booleanArray", 64), param(42, "unsignedMin", 64)}}}},
			"multiplexParameters": map[string]any{"h2250LogicalChannelParameters": map[string]any{
				"sessionID": 2, "mediaGuaranteedDelivery": false, "dynamicRTPPayloadType": pt,
				"mediaControlChannel": map[string]any{"unicastAddress": map[string]any{"iPAddress": map[string]any{
					"network": "7f000001", "tsapIdentifier": 6001}}},
				"mediaPacketization": map[string]any{"rtpPayloadType": map[string]any{
					"payloadDescriptor": map[string]any{"oid": "0.0.8.241.0.0.0"}, "payloadType": pt}}}}}}}}
	v, err := per.FromJSON(schema.MultimediaSystemControlMessage, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	var e per.Encoder
	b, err := e.Encode(nil, schema.MultimediaSystemControlMessage, &v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// must unwraps a builder's result; builders fail only on a bad test.
func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// The video channels against h323plus's real capability set and channels:
// our OLC fits the peer (level 1.3, 384 kbit/s), H.261 is refused, the
// peer's H.264 channel with a truncated descriptor is single NAL unit mode,
// a different payload type makes us reopen ours with it, the ack starts
// sending, and fast update, flow control, channel close requests and close
// act on the leg.
func TestVideoChannelStates(t *testing.T) {
	c, leg := fsmCall(t)
	for _, pdu := range capturedH245(t, "10") { // h323plus TCS: H.261, H.264 1.3, H.239
		c.onH245(pdu)
	}
	out := sent(t, c)
	if find(out, "terminalCapabilitySetAck", nil) == nil {
		t.Fatal("no TCSAck")
	}
	if find(out, "openLogicalChannel", func(m *h245.Message) bool { return m.OLC.DataType == "audioData" && m.Channel == 1 }) == nil {
		t.Fatalf("no audio OLC on channel 1: %+v", out)
	}
	v := find(out, "openLogicalChannel", func(m *h245.Message) bool { return m.OLC.DataType == "videoData" })
	if v == nil {
		t.Fatal("no video OLC")
	}
	if o := v.OLC; v.Channel != 2 || o.SessionID != 2 || o.PayloadType != defaultVideoPT || o.Packetization != h245.PacketizationNonInterleaved ||
		o.Video.Level != 36 || o.Video.MaxBitRate != 3840 || o.MediaControl.Port() != 41001 {
		t.Fatalf("video OLC %+v %+v", o, o.Video)
	}

	// h323plus opens G.711 (channel 101; refused as the master's codec is G.722) and
	// H.261 (channel 102): H.261 is refused for good.
	for _, pdu := range capturedH245(t, "19") {
		c.onH245(pdu)
	}
	out = sent(t, c)
	if r := find(out, "openLogicalChannelReject", func(m *h245.Message) bool { return m.Channel == 102 }); r == nil || r.Channel != 102 || r.Cause != "dataTypeNotSupported" {
		for _, m := range out {
			t.Logf("sent %s channel %d cause %s", m.Kind, m.Channel, m.Cause)
		}
		t.Fatal("H.261 not refused")
	}

	// The peer's H.264 (payload type 97, truncated descriptor) is acked at the video leg.
	c.onH245(peerH264OLC(t, 103, 97))
	out = sent(t, c)
	ack := find(out, "openLogicalChannelAck", func(m *h245.Message) bool { return m.Channel == 103 })
	if ack == nil || ack.Media.Port() != 41000 || ack.MediaControl.Port() != 41001 {
		t.Fatalf("video OLCAck %+v", out)
	}
	if find(out, "closeLogicalChannel", func(m *h245.Message) bool { return m.Channel == 2 }) == nil {
		t.Fatal("our channel with payload type 109 not closed")
	}
	reopen := find(out, "openLogicalChannel", func(m *h245.Message) bool { return m.OLC.DataType == "videoData" })
	if reopen == nil || reopen.OLC.PayloadType != 97 || reopen.Channel != 3 {
		t.Fatalf("video not reopened with the peer's payload type: %+v", out)
	}
	if p := leg.last(t); p.Direction != bridge.RecvOnly || p.PayloadType != 97 || p.Fmtp.PacketizationMode != 0 ||
		p.Fmtp.ProfileLevelID.String() != "42001e" {
		t.Fatalf("leg params %+v", p)
	}

	// The ack of our channel (session ID 32, as Tandberg does) starts sending.
	peerRTP := netip.MustParseAddrPort("127.0.0.1:6000")
	c.onH245(must(h245.OLCAck(3, 32, peerRTP, netip.MustParseAddrPort("127.0.0.1:6001"))))
	if p := leg.last(t); p.Direction != bridge.SendRecv || p.Remote != peerRTP || p.MaxBitrate != 384000 {
		t.Fatalf("leg params after ack %+v", p)
	}

	// videoFastUpdatePicture on our channel reaches the leg; on an unknown one it does not.
	c.onH245(must(h245.VideoFastUpdatePicture(3)))
	c.onH245(must(h245.VideoFastUpdatePicture(77)))
	if leg.fastUpdates != 1 {
		t.Fatalf("%d fast updates passed on", leg.fastUpdates)
	}

	// flowControlCommand lowers the leg's limit; on the audio channel it does not.
	c.onH245(must(h245.FlowControl(3, 2560)))
	c.onH245(must(h245.FlowControl(1, 100)))
	if p := leg.last(t); p.MaxBitrate != 256000 {
		t.Fatalf("flow control: leg limit %d", p.MaxBitrate)
	}

	// The peer asks us to close our video: we agree and close it.
	sent(t, c)
	c.onH245(must(h245.RequestChannelClose(3)))
	out = sent(t, c)
	if find(out, "requestChannelCloseAck", nil) == nil || find(out, "closeLogicalChannel", func(m *h245.Message) bool { return m.Channel == 3 }) == nil {
		t.Fatalf("requestChannelClose answered with %+v", out)
	}
	if p := leg.last(t); p.Direction != bridge.RecvOnly {
		t.Fatalf("leg still sends: %+v", p)
	}
	// The peer closes its channel: the leg is inactive.
	c.onH245(must(h245.CLC(103)))
	if find(sent(t, c), "closeLogicalChannelAck", nil) == nil {
		t.Fatal("no CLCAck")
	}
	if p := leg.last(t); p.Direction != bridge.Inactive {
		t.Fatalf("leg after the peer's close: %+v", p)
	}
}

// An empty capability set pauses the session: our video channel closes and
// opens again with the next set.
func TestVideoPauseAndResume(t *testing.T) {
	c, _ := fsmCall(t)
	ours := must(h245.TCS(1, h245.Capabilities{Audio: []h245.AudioCap{{Codec: h245.G722}},
		Video: []h245.H264{{Profile: 64, Level: 71, MaxBitRate: 20000}}}))
	c.onH245(ours)
	first := find(sent(t, c), "openLogicalChannel", func(m *h245.Message) bool { return m.OLC.DataType == "videoData" })
	if first == nil {
		t.Fatal("no video OLC")
	}
	c.onH245(must(h245.TCS(2, h245.Capabilities{})))
	if find(sent(t, c), "closeLogicalChannel", func(m *h245.Message) bool { return m.Channel == first.Channel }) == nil {
		t.Fatal("video channel not closed on an empty TCS")
	}
	c.onH245(ours)
	again := find(sent(t, c), "openLogicalChannel", func(m *h245.Message) bool { return m.OLC.DataType == "videoData" })
	if again == nil || again.Channel == first.Channel {
		t.Fatalf("video not reopened on a new channel: %+v", again)
	}
	// A peer that receives no H.264 gets no video OLC.
	c2, _ := fsmCall(t)
	c2.onH245(must(h245.TCS(1, h245.Capabilities{Audio: []h245.AudioCap{{Codec: h245.G711Ulaw}}})))
	if find(sent(t, c2), "openLogicalChannel", func(m *h245.Message) bool { return m.OLC.DataType == "videoData" }) != nil {
		t.Fatal("video opened towards an audio-only peer")
	}
}

// Keyframe requests from the room become videoFastUpdatePicture on the
// peer's channel, at most one per interval: the ones in between are merged
// into one sent when the interval ends.
func TestFastUpdateRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := fsmCall(t)
		c.video.peerOLC = 7
		c.onKeyframeNeeded()
		c.onKeyframeNeeded()
		c.onKeyframeNeeded()
		if got := sent(t, c); len(got) != 1 || got[0].Command != "videoFastUpdatePicture" || got[0].Channel != 7 {
			t.Fatalf("sent %+v", got)
		}
		start := time.Now()
		<-c.video.kfTimerC()
		if d := time.Since(start); d != fastUpdateInterval {
			t.Fatalf("merged request after %v", d)
		}
		c.onKeyframeTimer()
		if got := sent(t, c); len(got) != 1 || got[0].Channel != 7 {
			t.Fatalf("merged request: %+v", got)
		}
		if c.video.fastUpdatesOut.Load() != 2 {
			t.Fatalf("%d fast updates counted", c.video.fastUpdatesOut.Load())
		}
		// Without a channel from the peer there is nobody to ask.
		c.video.peerOLC = 0
		time.Sleep(2 * fastUpdateInterval)
		c.onKeyframeNeeded()
		if got := sent(t, c); len(got) != 0 {
			t.Fatalf("sent %+v without a peer channel", got)
		}
	})
}

// interactiveLeg is a fake audio leg that can change rooms.
type interactiveLeg struct {
	*fakeLeg
	room string
}

func (l *interactiveLeg) Play(...string) (<-chan struct{}, error) { return nil, nil }
func (l *interactiveLeg) StopPlaying()                            {}
func (l *interactiveLeg) SetRoom(name string) error               { l.room = name; return nil }
func (l *interactiveLeg) SetGain(int, int)                        {}
func (l *interactiveLeg) PassDigit(rune)                          {}
func (l *interactiveLeg) SendDigits(string) error                 { return nil }

// The lobby's move into a conference takes the video along.
func TestEnterMovesVideo(t *testing.T) {
	c, leg := fsmCall(t)
	audio := &interactiveLeg{fakeLeg: &fakeLeg{done: make(chan struct{})}}
	c.leg = audio
	if err := (legHandle{c: c}).Enter("4711"); err != nil {
		t.Fatal(err)
	}
	if audio.room != "4711" || len(leg.rooms) != 1 || leg.rooms[0] != "4711" {
		t.Fatalf("audio in %q, video moves %v", audio.room, leg.rooms)
	}
}

// FuzzVideoH245 feeds arbitrary H.245 messages to a call with video whose
// channels are open both ways: whatever arrives, the call must not panic,
// and the leg's parameters must stay ones the bridge accepts.
func FuzzVideoH245(f *testing.F) {
	for _, b := range [][]byte{
		must(h245.VideoFastUpdatePicture(2)), must(h245.FlowControl(2, 100)), must(h245.FlowControl(2, -1)),
		must(h245.CLC(103)), must(h245.RequestChannelClose(2)), must(h245.OLCReject(2, "unspecified")),
		must(h245.OLCAck(2, 32, netip.MustParseAddrPort("10.0.0.1:5000"), netip.MustParseAddrPort("10.0.0.1:5001"))),
		must(h245.TCS(3, h245.Capabilities{})),
		must(h245.OLC(h245.Channel{Number: 104, SessionID: 2, Video: &h245.H264{Profile: 8, Level: 85, MaxBitRate: 40000},
			MediaControl: netip.MustParseAddrPort("10.0.0.1:5001"), PayloadType: 96, Packetization: h245.PacketizationInterleaved})),
	} {
		f.Add(b)
	}
	for _, v := range vectors.Load(f, "h245") {
		f.Add(v.Data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, leg := fsmCall(t)
		c.onH245(must(h245.TCS(1, h245.Capabilities{Audio: []h245.AudioCap{{Codec: h245.G722}},
			Video: []h245.H264{{Profile: 64, Level: 71, MaxBitRate: 20000}}})))
		c.onH245(peerH264OLC(t, 103, defaultVideoPT))
		c.onH245(must(h245.OLCAck(2, 2, netip.MustParseAddrPort("10.0.0.1:5000"), netip.MustParseAddrPort("10.0.0.1:5001"))))
		c.onH245(b)
		// The same bytes as a Fast Connect proposal and answer element.
		callee, eleg := fsmCall(t)
		callee.answerFastStartVideo([][]byte{b})
		caller, cleg := fsmCall(t)
		caller.acceptFastStartVideo([][]byte{b})
		for _, l := range []*fakeVideoLeg{eleg, cleg} {
			for _, p := range l.params {
				if p.PayloadType < 96 || p.PayloadType > 127 || p.Fmtp.PacketizationMode > 1 {
					t.Fatalf("fast start leg params %+v", p)
				}
			}
		}
		leg.mu.Lock()
		defer leg.mu.Unlock()
		for _, p := range leg.params {
			if p.PayloadType < 96 || p.PayloadType > 127 || p.Fmtp.PacketizationMode > 1 || p.Direction > bridge.Inactive {
				t.Fatalf("leg params %+v", p)
			}
		}
	})
}

// A peer whose video channel asks for more than the conference format is
// held to the format with flowControlCommand on its channel.
func TestPeerAboveFormatIsHeld(t *testing.T) {
	c, leg := fsmCall(t)
	c.onH245(must(h245.OLC(h245.Channel{Number: 9, SessionID: 2, Video: &h245.H264{Profile: 64, Level: 85, MaxBitRate: 60000},
		MediaControl: netip.MustParseAddrPort("127.0.0.1:7001"), PayloadType: 96, Packetization: h245.PacketizationNonInterleaved})))
	out := sent(t, c)
	if find(out, "openLogicalChannelAck", func(m *h245.Message) bool { return m.Channel == 9 }) == nil {
		t.Fatalf("not acked: %+v", out)
	}
	fc := find(out, "flowControlCommand", nil)
	if fc == nil || fc.Channel != 9 || fc.MaxBitRate != 20000 || c.video.flowCommands.Load() != 1 {
		t.Fatalf("flow control %+v", fc)
	}
	if p := leg.last(t); p.Direction != bridge.RecvOnly || p.PayloadType != 96 || p.Fmtp.PacketizationMode != 1 ||
		p.Fmtp.ProfileLevelID.String() != "420028" {
		t.Fatalf("leg %+v", p)
	}
	// Interleaved mode (the bridge cannot forward it) and High profile (we offer Baseline) are refused.
	c.onH245(must(h245.OLC(h245.Channel{Number: 10, SessionID: 2, Video: &h245.H264{Profile: 64, Level: 71},
		MediaControl: netip.MustParseAddrPort("127.0.0.1:7001"), PayloadType: 96, Packetization: h245.PacketizationInterleaved})))
	if r := find(sent(t, c), "openLogicalChannelReject", nil); r == nil || r.Channel != 10 {
		t.Fatal("interleaved H.264 accepted")
	}
	c.onH245(must(h245.OLC(h245.Channel{Number: 11, SessionID: 2, Video: &h245.H264{Profile: 8, Level: 85},
		MediaControl: netip.MustParseAddrPort("127.0.0.1:7001"), PayloadType: 96, Packetization: h245.PacketizationNonInterleaved})))
	if r := find(sent(t, c), "openLogicalChannelReject", nil); r == nil || r.Channel != 11 {
		t.Fatal("High profile H.264 accepted against our Baseline capability")
	}
}

// conf reaches an H.323 call's video like a SIP call's: media ID, stats,
// camera mute (also before the video leg exists) and pins.
func TestLegHandleVideo(t *testing.T) {
	c, leg := fsmCall(t)
	h := legHandle{c: c}
	if h.MediaID() != "fsm" {
		t.Fatalf("media ID %q", h.MediaID())
	}
	if _, ok := h.VideoStats(); ok {
		t.Fatal("video stats before video")
	}
	h.SetCameraMuted(true)
	if !leg.cameraMuted {
		t.Fatal("camera not muted")
	}
	if err := h.PinVideo("room", "fsm"); !errors.Is(err, ErrNoVideo) {
		t.Fatalf("pin without a video router: %v", err)
	}
	// A mute before the leg exists applies when it is created.
	c2, _ := fsmCall(t)
	c2.video.leg = nil
	legHandle{c: c2}.SetCameraMuted(true)
	media := c2.env.media.(*fakeVideoMedia)
	media.leg.cameraMuted = false
	if err := c2.newVideoLeg("room"); err != nil || !media.leg.cameraMuted {
		t.Fatalf("late leg not muted: %v", err)
	}
	// The real bridge pins through its media.
	b := newBridge(t)
	c3 := &call{env: &env{media: BridgeMedia(b)}}
	if err := (legHandle{c: c3}).PinVideo("r", "x"); err != nil {
		t.Fatal(err)
	}
	if got := (legHandle{c: c3}).VideoPin("r"); got != "x" {
		t.Fatalf("pin %q", got)
	}
	legHandle{c: c3}.UnpinVideo("r")
	if got := (legHandle{c: c3}).VideoPin("r"); got != "" {
		t.Fatalf("pin %q after unpin", got)
	}
}

// Fast Connect video: h323plus's real proposals (H.261, and H.264 level 1.3
// with payload type 96 and no packetization named) get an H.264 answer
// narrowed to them; between two of our calls the proposals are answered and
// both video legs run; capability exchange afterwards opens no second
// video channel.
func TestFastStartVideo(t *testing.T) {
	var h323plus [][]byte
	for _, v := range vectors.Load(t, "uuie") {
		if v.Capture == "h323plus-fast-tunnel.pcapng" && v.Frame == "4" {
			uu, err := h225.Parse(v.Data)
			if err != nil {
				t.Fatal(err)
			}
			h323plus = uu.FastStart
		}
	}
	if len(h323plus) == 0 {
		t.Fatal("captured fastStart proposals missing")
	}
	callee, leg := fsmCall(t)
	answer := callee.answerFastStartVideo(h323plus)
	if len(answer) != 2 {
		t.Fatalf("answer has %d elements", len(answer))
	}
	for _, b := range answer {
		o, err := h245.ParseOLC(b)
		if err != nil || o.Codec != "genericVideoCapability" || o.Video.Level != 36 || o.PayloadType != 96 {
			t.Fatalf("answer element %+v %v", o, err)
		}
		if !o.Reverse && (o.Number != 107 || o.Media.Port() != 41000) {
			t.Fatalf("answer to h323plus's send proposal %+v", o)
		}
		if o.Reverse && (o.Number != callee.video.ourOLC || o.Video.MaxBitRate != 3840) {
			t.Fatalf("our send channel %+v", o)
		}
	}
	if p := leg.last(t); p.Direction != bridge.SendRecv || p.PayloadType != 96 || p.Fmtp.PacketizationMode != 0 ||
		p.Remote != netip.MustParseAddrPort("127.0.0.1:5002") || p.MaxBitrate != 384000 {
		t.Fatalf("leg %+v", p)
	}

	caller, cleg := fsmCall(t)
	callee, eleg := fsmCall(t)
	proposals, err := caller.fastStartVideoProposals()
	if err != nil || len(proposals) != 2 {
		t.Fatalf("proposals %d, %v", len(proposals), err)
	}
	answer = callee.answerFastStartVideo(proposals)
	if len(answer) != 2 || !callee.video.fastStart {
		t.Fatalf("answer has %d elements", len(answer))
	}
	if p := eleg.last(t); p.Direction != bridge.SendRecv || p.PayloadType != defaultVideoPT || p.MaxBitrate != 2000000 {
		t.Fatalf("callee leg %+v", p)
	}
	caller.acceptFastStartVideo(answer)
	if caller.video.ourOLC != fastStartVideoSend || caller.video.peerOLC != callee.video.ourOLC || !caller.video.fastStart {
		t.Fatalf("caller channels: ours %d, peer's %d (callee sends on %d)", caller.video.ourOLC, caller.video.peerOLC, callee.video.ourOLC)
	}
	if p := cleg.last(t); p.Direction != bridge.SendRecv || p.Fmtp.PacketizationMode != 1 {
		t.Fatalf("caller leg %+v", p)
	}
	callee.onH245(must(h245.TCS(1, h245.Capabilities{Audio: []h245.AudioCap{{Codec: h245.G722}},
		Video: []h245.H264{{Profile: 64, Level: 71, MaxBitRate: 20000}}})))
	if m := find(sent(t, callee), "openLogicalChannel", func(m *h245.Message) bool { return m.OLC.DataType == "videoData" }); m != nil {
		t.Fatalf("second video channel opened: %+v", m.OLC)
	}
}
