package sip

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/internal/callleg"
)

// ---- fake video media ----

type videoCall struct {
	op string // start, update
	p  bridge.VideoParams
}

type fakeVideoLeg struct {
	port  int
	opts  bridge.VideoLegOptions
	calls chan videoCall
	mu    sync.Mutex
	ops   []string // room moves and fast updates
	cause error
	done  chan struct{}
}

func (l *fakeVideoLeg) LocalPort() int { return l.port }
func (l *fakeVideoLeg) Start(p bridge.VideoParams) error {
	l.calls <- videoCall{"start", p}
	return nil
}
func (l *fakeVideoLeg) Update(p bridge.VideoParams) error {
	l.calls <- videoCall{"update", p}
	return nil
}
func (l *fakeVideoLeg) SetRoom(room string) error { l.record("room " + room); return nil }
func (l *fakeVideoLeg) HandleFastUpdate()         { l.record("fast_update") }
func (l *fakeVideoLeg) SetCameraMuted(m bool)     { l.record(fmt.Sprint("camera_muted ", m)) }
func (l *fakeVideoLeg) Stats() bridge.VideoLegStats {
	return bridge.VideoLegStats{Codec: "H264", LocalPort: l.port, Width: 640, Height: 360, FramesIn: 5}
}
func (l *fakeVideoLeg) Close(cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cause == nil {
		l.cause = cause
		close(l.done)
	}
}
func (l *fakeVideoLeg) record(op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, op)
}
func (l *fakeVideoLeg) recorded() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ops)
}
func (l *fakeVideoLeg) closedWith(t *testing.T) error {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(waitFor):
		t.Fatal("video leg not closed")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause
}
func (l *fakeVideoLeg) next(t *testing.T) videoCall {
	t.Helper()
	select {
	case c := <-l.calls:
		return c
	case <-time.After(waitFor):
		t.Fatal("no Start/Update on the video leg")
		return videoCall{}
	}
}
func (l *fakeVideoLeg) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-l.calls:
		t.Fatalf("unexpected video %s %+v", c.op, c.p)
	default:
	}
}

// fakeVideoMedia is fakeMedia that also makes video legs and pins rooms.
type fakeVideoMedia struct {
	*fakeMedia
	vlegs chan *fakeVideoLeg
	mu    sync.Mutex
	vnext int
	pins  map[string]string
}

func (m *fakeVideoMedia) NewVideoLeg(opts bridge.VideoLegOptions) (callleg.VideoLeg, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := &fakeVideoLeg{port: 50000 + m.vnext, opts: opts, calls: make(chan videoCall, 16), done: make(chan struct{})}
	m.vnext += 2
	m.vlegs <- l
	return l, nil
}
func (m *fakeVideoMedia) PinVideo(room, legID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pins[room] = legID
	return nil
}
func (m *fakeVideoMedia) VideoPin(room string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pins[room]
}
func (m *fakeVideoMedia) UnpinVideo(room string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pins, room)
}

// newVideoHarness is newHarness with video enabled and fake video media.
func newVideoHarness(t *testing.T, cfg Config) (*harness, *fakeVideoMedia) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.VideoEnabled = true
	h := &harness{t: t, confs: newFakeConfs(), media: newFakeMedia(), clock: newFakeClock(), reg: prometheus.NewRegistry()}
	vm := &fakeVideoMedia{fakeMedia: h.media, vlegs: make(chan *fakeVideoLeg, 16), pins: map[string]string{}}
	s, err := NewServer(cfg, vm, h.confs, testLogger(t), h.reg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	s.clock = h.clock
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	h.s = s
	return h, vm
}

func (m *fakeVideoMedia) vleg(t *testing.T) *fakeVideoLeg {
	t.Helper()
	select {
	case l := <-m.vlegs:
		return l
	case <-time.After(waitFor):
		t.Fatal("no video leg created")
		return nil
	}
}

func (m *fakeVideoMedia) noVideoLeg(t *testing.T) {
	t.Helper()
	select {
	case l := <-m.vlegs:
		t.Fatalf("video leg %s created", l.opts.ID)
	default:
	}
}

// videoLine is an H.264 video m-line like a room system's, with extra a=
// lines appended.
func videoLine(port string, extra string) string {
	return "m=video " + port + " RTP/AVP 109 34\r\nb=AS:1024\r\na=rtpmap:109 H264/90000\r\n" +
		"a=fmtp:109 profile-level-id=42e01f;packetization-mode=1;max-fs=3600;max-mbps=108000\r\n" +
		"a=rtpmap:34 H263/90000\r\na=rtcp-fb:* nack pli\r\n" + extra
}

// videoOffer is offer() with a video line.
func videoOffer(audioPort int, video string) []byte {
	return offer(audioPort, "a=sendrecv\r\n"+video)
}

func TestVideoOfferAccepted(t *testing.T) {
	h, vm := newVideoHarness(t, Config{Codecs: []string{"PCMU"}})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, leg := answeredWith(t, h, p, videoOffer(30000, videoLine("30002", "")))
	v := vm.vleg(t)
	if v.opts.ID != leg.opts.ID || v.opts.Room != "1000" || v.opts.OnKeyframeRequest == nil {
		t.Errorf("video leg options %+v, want the audio leg's ID %s and room 1000", v.opts, leg.opts.ID)
	}
	c := v.next(t)
	if c.op != "start" || c.p.PayloadType != 109 || c.p.Remote.String() != "127.0.0.1:30002" ||
		!c.p.Feedback.PLI || c.p.Feedback.NACK || c.p.Feedback.FIR || c.p.Direction != bridge.SendRecv ||
		c.p.MaxBitrate != 1_024_000 {
		t.Errorf("video started with %+v", c)
	}
	body := string(d.res.Body())
	for _, want := range []string{"m=audio 40000 RTP/AVP 0 101", "m=video 50000 RTP/AVP 109\r\nb=AS:2100\r\nb=TIAS:2000000\r\na=rtpmap:109 H264/90000",
		"a=rtcp-fb:109 nack pli\r\n", "a=content:main"} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %q:\n%s", want, body)
		}
	}
	if _, err := ParseSDP(d.res.Body()); err != nil {
		t.Errorf("our answer does not parse: %v", err)
	}
	// conf sees the video through the leg handle.
	c2 := h.callOf(d)
	if c2.MediaID() != leg.opts.ID {
		t.Errorf("MediaID %q, want %q", c2.MediaID(), leg.opts.ID)
	}
	if st, ok := c2.VideoStats(); !ok || st.Width != 640 {
		t.Errorf("VideoStats = %+v, %v", st, ok)
	}
	if err := c2.PinVideo("1000", leg.opts.ID); err != nil || c2.VideoPin("1000") != leg.opts.ID {
		t.Errorf("PinVideo: %v, pin %q", err, c2.VideoPin("1000"))
	}
	c2.UnpinVideo("1000")
	if p := c2.VideoPin("1000"); p != "" {
		t.Errorf("UnpinVideo left %q", p)
	}

	d.do(sipmsg.BYE, nil)
	h.left()
	if err := v.closedWith(t); !errors.Is(err, ErrBye) {
		t.Errorf("video leg closed with %v, want ErrBye", err)
	}
}

func TestVideoOfferRejectedKeepsAudio(t *testing.T) {
	for name, tc := range map[string]struct {
		video   string
		enabled bool
	}{
		"vp8 only":        {"m=video 30002 RTP/AVP 100\r\na=rtpmap:100 VP8/90000\r\n", true},
		"level too low":   {"m=video 30002 RTP/AVP 109\r\na=rtpmap:109 H264/90000\r\na=fmtp:109 profile-level-id=42e00d\r\n", true},
		"high profile":    {"m=video 30002 RTP/AVP 109\r\na=rtpmap:109 H264/90000\r\na=fmtp:109 profile-level-id=64001f\r\n", true},
		"video disabled":  {videoLine("30002", ""), false},
		"presentation":    {videoLine("30002", "a=content:slides\r\n"), true},
		"port zero offer": {videoLine("0", ""), true},
	} {
		t.Run(name, func(t *testing.T) {
			var h *harness
			var vm *fakeVideoMedia
			if tc.enabled {
				h, vm = newVideoHarness(t, Config{Codecs: []string{"PCMU"}})
			} else {
				h = newHarness(t, Config{Codecs: []string{"PCMU"}})
			}
			p := newPeer(t, h.s.Addr().String(), "udp")
			d, _ := answeredWith(t, h, p, videoOffer(30000, tc.video))
			body := string(d.res.Body())
			if !strings.Contains(body, "m=audio 40000 RTP/AVP 0 101") || !strings.Contains(body, "m=video 0 ") {
				t.Errorf("answer:\n%s", body)
			}
			if strings.Contains(body, "b=AS") {
				t.Errorf("rejected line carries bandwidth:\n%s", body)
			}
			if vm != nil {
				select {
				case v := <-vm.vlegs:
					v.none(t)
					if err := v.closedWith(t); err == nil {
						t.Error("rejected video leg not closed")
					}
				default:
				}
				if _, ok := h.callOf(d).VideoStats(); ok {
					t.Error("VideoStats of a call without video")
				}
			}
			d.do(sipmsg.BYE, nil)
			h.left()
		})
	}
}

func TestVideoReinviteHoldAndDrop(t *testing.T) {
	h, vm := newVideoHarness(t, Config{Codecs: []string{"PCMU"}})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, leg := answeredWith(t, h, p, videoOffer(30000, videoLine("30002", "")))
	v := vm.vleg(t)
	v.next(t)

	// Video on hold, at a new port.
	res := d.do(sipmsg.INVITE, videoOffer(30000, videoLine("30012", "a=sendonly\r\n")))
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "m=video 50000 ") {
		t.Fatalf("re-INVITE answered %d:\n%s", res.StatusCode, res.Body())
	}
	leg.next(t)
	if c := v.next(t); c.op != "update" || c.p.Direction != bridge.RecvOnly || c.p.Remote.Port() != 30012 {
		t.Errorf("hold: %+v", c)
	}
	// Video dropped: the leg goes inactive, not away.
	res = d.do(sipmsg.INVITE, offer(30000, ""))
	if res.StatusCode != 200 || strings.Contains(string(res.Body()), "m=video") {
		t.Fatalf("audio-only re-INVITE answered %d:\n%s", res.StatusCode, res.Body())
	}
	leg.next(t)
	if c := v.next(t); c.op != "update" || c.p.Direction != bridge.Inactive {
		t.Errorf("drop: %+v", c)
	}
	// Video back.
	d.do(sipmsg.INVITE, videoOffer(30000, videoLine("30002", "")))
	leg.next(t)
	if c := v.next(t); c.op != "update" || c.p.Direction != bridge.SendRecv {
		t.Errorf("resume: %+v", c)
	}
	vm.noVideoLeg(t)
	// conf mutes the caller's camera through the leg handle.
	var cm conf.CameraMutableLeg = h.callOf(d)
	cm.SetCameraMuted(true)
	if ops := v.recorded(); !slices.Equal(ops, []string{"camera_muted true"}) {
		t.Errorf("video leg ops %v, want the camera muted", ops)
	}
	d.do(sipmsg.BYE, nil)
	h.left()
	v.closedWith(t)
}

func TestVideoLateOffer(t *testing.T) {
	h, vm := newVideoHarness(t, Config{Codecs: []string{"PCMU"}})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d := p.call(p.newInvite("1000", nil))
	if d.res.StatusCode != 200 {
		t.Fatalf("answered %d", d.res.StatusCode)
	}
	body := string(d.res.Body())
	for _, want := range []string{"m=video 50000 RTP/AVP 97 98\r\nb=AS:2100", "a=rtpmap:97 H264/90000",
		"packetization-mode=1", "a=rtcp-fb:97 ccm fir", "a=rtcp-fb:98 nack pli"} {
		if !strings.Contains(body, want) {
			t.Errorf("our offer lacks %q:\n%s", want, body)
		}
	}
	v := vm.vleg(t)
	leg := h.leg()
	answer := "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 31000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" +
		"m=video 31002 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\na=fmtp:97 profile-level-id=42e01f;packetization-mode=1\r\na=rtcp-fb:97 ccm fir\r\n"
	d.ack([]byte(answer))
	leg.next(t)
	c := v.next(t)
	if c.op != "start" || c.p.PayloadType != 97 || c.p.Remote.Port() != 31002 || !c.p.Feedback.FIR || c.p.Feedback.PLI {
		t.Errorf("video %+v", c)
	}
	d.do(sipmsg.BYE, nil)
	h.left()
	v.closedWith(t)
}

func TestVideoLateOfferRejectedByPeer(t *testing.T) {
	h, vm := newVideoHarness(t, Config{Codecs: []string{"PCMU"}})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d := p.call(p.newInvite("1000", nil))
	v := vm.vleg(t)
	leg := h.leg()
	answer := "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 31000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\nm=video 0 RTP/AVP 97\r\n"
	d.ack([]byte(answer))
	if c := leg.next(t); c.op != "start" {
		t.Fatalf("audio %+v", c)
	}
	if err := v.closedWith(t); err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Errorf("video leg closed with %v", err)
	}
	v.none(t)
	d.do(sipmsg.BYE, nil)
	h.left()
}

func TestVideoFastUpdateInfo(t *testing.T) {
	h, vm := newVideoHarness(t, Config{Codecs: []string{"PCMU"}})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, _ := answeredWith(t, h, p, videoOffer(30000, videoLine("30002", "")))
	v := vm.vleg(t)
	v.next(t)

	// The peer asks us for a keyframe.
	if res := d.info(ContentTypeMediaControl, fastUpdateBody); res.StatusCode != 200 {
		t.Fatalf("picture_fast_update answered %d", res.StatusCode)
	}
	if ops := v.recorded(); !slices.Equal(ops, []string{"fast_update"}) {
		t.Errorf("video leg ops %v, want one fast_update", ops)
	}
	if res := d.info(ContentTypeMediaControl+"; charset=utf-8", "<media_control><vc_primitive>"); res.StatusCode != 400 {
		t.Errorf("malformed media_control answered %d, want 400", res.StatusCode)
	}
	if res := d.info(ContentTypeMediaControl, "<media_control><general_error>oops</general_error></media_control>"); res.StatusCode != 200 {
		t.Errorf("general_error answered %d, want 200", res.StatusCode)
	}
	if len(v.recorded()) != 1 {
		t.Errorf("video leg ops %v", v.recorded())
	}
	if got := metricValue(t, h, "roomgate_sip_video_fast_updates_total", "received"); got != 1 {
		t.Errorf("received fast updates %v, want 1", got)
	}

	// The room asks the peer for a keyframe: with RTCP sent, no INFO;
	// without, an INFO picture_fast_update.
	v.opts.OnKeyframeRequest(true)
	v.opts.OnKeyframeRequest(false)
	info := p.request(sipmsg.INFO)
	if ct := info.ContentType(); ct == nil || ct.Value() != ContentTypeMediaControl {
		t.Fatalf("INFO Content-Type %v", ct)
	}
	mc, err := ParseMediaControl(info.Body())
	if err != nil || !mc.FastUpdate {
		t.Errorf("INFO body %q: %+v %v", info.Body(), mc, err)
	}
	select {
	case r := <-p.reqs:
		t.Errorf("second request %s: the RTCP-served request sent an INFO too", r.Method)
	default:
	}
	d.do(sipmsg.BYE, nil)
	h.left()
}

// TestVideoMovesWithLobbyEnter checks that a caller's video follows his
// audio out of the lobby.
func TestVideoMovesWithLobbyEnter(t *testing.T) {
	h, vm := newVideoHarness(t, Config{Codecs: []string{"PCMU"}})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d := p.call(p.newInvite("", videoOffer(30000, videoLine("30002", ""))))
	if d.res.StatusCode != 200 {
		t.Fatalf("answered %d", d.res.StatusCode)
	}
	d.ack(nil)
	v := vm.vleg(t)
	if v.opts.Room != "lobby/test" {
		t.Errorf("video leg starts in %q, want the lobby's room", v.opts.Room)
	}
	v.next(t)
	h.waitConfirmed(d)
	var il conf.InteractiveLeg = h.callOf(d)
	if err := il.Enter("2000"); err != nil {
		t.Fatal(err)
	}
	if ops := v.recorded(); !slices.Equal(ops, []string{"room 2000"}) {
		t.Errorf("video leg ops %v, want a move to 2000", ops)
	}
	d.do(sipmsg.BYE, nil)
	v.closedWith(t)
}

// TestVideoClosedWhenCallRejected checks that a video leg made for a late
// offer goes with a call that ends before it is confirmed.
func TestVideoClosedOnNoAck(t *testing.T) {
	h, vm := newVideoHarness(t, Config{Codecs: []string{"PCMU"}})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d := p.call(p.newInvite("1000", videoOffer(30000, videoLine("30002", ""))))
	if d.res.StatusCode != 200 {
		t.Fatalf("answered %d", d.res.StatusCode)
	}
	v := vm.vleg(t)
	h.clock.Advance(ackWait) // no ACK
	if err := v.closedWith(t); !errors.Is(err, ErrNoAck) {
		t.Errorf("video leg closed with %v, want ErrNoAck", err)
	}
	h.left()
}

func TestVideoConfigChecked(t *testing.T) {
	_, err := NewServer(Config{VideoEnabled: true, Video: VideoFormat{ProfileLevelID: "zz"}}, newFakeMedia(), newFakeConfs(), nil, nil)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "video") {
		t.Errorf("bad video format: %v", err)
	}
	if _, err := NewServer(Config{Video: VideoFormat{ProfileLevelID: "zz"}}, newFakeMedia(), newFakeConfs(), nil, nil); err != nil {
		t.Errorf("a bad format with video off: %v", err)
	}
}

func TestVideoDialOut(t *testing.T) {
	h, vm := newVideoHarness(t, Config{Codecs: []string{"PCMU"}})
	answer := videoOffer(30000, "m=video 30002 RTP/AVP 98\r\nb=AS:512\r\na=rtpmap:98 H264/90000\r\n"+
		"a=fmtp:98 profile-level-id=42e01f;packetization-mode=0\r\na=rtcp-fb:98 nack pli\r\n")
	p := uasPeer(t, h, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		respond(tx, req, 200, answer, sipmsg.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, INFO"))
	})
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if _, err := h.s.Dialer().Dial(ctx, dialRequest(t, "sip:room@127.0.0.1:"+strconv.Itoa(p.port))); err != nil {
		t.Fatal(err)
	}
	inv := p.nextRequest(t, sipmsg.INVITE)
	for _, want := range []string{"m=video 50000 RTP/AVP 97 98\r\nb=AS:2100\r\nb=TIAS:2000000", "a=fmtp:98 profile-level-id=42e01f;packetization-mode=0"} {
		if !strings.Contains(string(inv.Body()), want) {
			t.Errorf("offer lacks %q:\n%s", want, inv.Body())
		}
	}
	v := vm.vleg(t)
	if v.opts.Room != "1000" || v.opts.ID != h.leg().opts.ID {
		t.Errorf("video leg %+v", v.opts)
	}
	c := v.next(t)
	if c.op != "start" || c.p.PayloadType != 98 || c.p.Fmtp.PacketizationMode != 0 || c.p.Remote.Port() != 30002 || !c.p.Feedback.PLI ||
		c.p.MaxBitrate != 512_000 {
		t.Errorf("video %+v", c)
	}
	part := <-h.confs.joins
	part.req.Leg.Hangup(conf.ErrKicked)
	p.nextRequest(t, sipmsg.BYE)
	h.left()
	if err := v.closedWith(t); !errors.Is(err, conf.ErrKicked) {
		t.Errorf("video closed with %v", err)
	}
}

// TestVideoUpdate checks that an UPDATE with SDP renegotiates the video as
// a re-INVITE does.
func TestVideoUpdate(t *testing.T) {
	h, vm := newVideoHarness(t, Config{Codecs: []string{"PCMU"}})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, leg := answeredWith(t, h, p, videoOffer(30000, videoLine("30002", "")))
	v := vm.vleg(t)
	v.next(t)
	res := d.do(sipmsg.UPDATE, videoOffer(30000, videoLine("30022", "a=inactive\r\n")))
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "m=video 50000 ") ||
		!strings.Contains(string(res.Body()), "a=inactive") {
		t.Fatalf("UPDATE answered %d:\n%s", res.StatusCode, res.Body())
	}
	leg.next(t)
	if c := v.next(t); c.op != "update" || c.p.Direction != bridge.Inactive || c.p.Remote.Port() != 30022 {
		t.Errorf("video after UPDATE: %+v", c)
	}
	d.do(sipmsg.BYE, nil)
	h.left()
	v.closedWith(t)
}
