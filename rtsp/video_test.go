package rtsp

import (
	"errors"
	"sync"
	"testing"

	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
)

// fakeVideoMedia is camera media with a video router: one room's pin and
// the video leg's state.
type fakeVideoMedia struct {
	fakeMedia
	vmu   sync.Mutex
	stats *bridge.VideoLegStats // nil: no video stream
	pins  map[string]string
	err   error
}

func (m *fakeVideoMedia) VideoStats() (bridge.VideoLegStats, bool) {
	m.vmu.Lock()
	defer m.vmu.Unlock()
	if m.stats == nil {
		return bridge.VideoLegStats{}, false
	}
	return *m.stats, true
}

func (m *fakeVideoMedia) PinVideo(room, id string) error {
	m.vmu.Lock()
	defer m.vmu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.pins[room] = id
	return nil
}

func (m *fakeVideoMedia) UnpinVideo(room string) {
	m.vmu.Lock()
	defer m.vmu.Unlock()
	delete(m.pins, room)
}

func (m *fakeVideoMedia) VideoPin(room string) string {
	m.vmu.Lock()
	defer m.vmu.Unlock()
	return m.pins[room]
}

var _ CameraVideo = (*fakeVideoMedia)(nil)

// TestCameraLegVideo: a camera leg is named by its bridge leg ID, shows
// its media's video state, and reaches the room's video router through its
// media; media without video leave it audio-only towards conf.
func TestCameraLegVideo(t *testing.T) {
	l := &cameraLeg{id: "rtsp-abc", name: "cam/1"}
	if l.MediaID() != "rtsp-abc" {
		t.Fatalf("MediaID %q", l.MediaID())
	}
	// Before the media exists, and with media that has no video.
	if _, ok := l.VideoStats(); ok {
		t.Fatal("video stats before the media exists")
	}
	l.media.Store(&mediaRef{m: &fakeMedia{recorder: newRecorder(false)}})
	if _, ok := l.VideoStats(); ok {
		t.Fatal("video stats from media without video")
	}
	if err := l.PinVideo("1000", "rtsp-abc"); !errors.Is(err, ErrNoVideoRouter) || !errors.Is(err, conf.ErrNotSupported) {
		t.Fatalf("pin without a router: %v", err)
	}
	l.UnpinVideo("1000") // harmless
	if p := l.VideoPin("1000"); p != "" {
		t.Fatalf("pin %q without a router", p)
	}

	m := &fakeVideoMedia{fakeMedia: fakeMedia{recorder: newRecorder(false)}, pins: map[string]string{}}
	l.media.Store(&mediaRef{m: m})
	if _, ok := l.VideoStats(); ok {
		t.Fatal("video stats from a camera without a video stream")
	}
	m.vmu.Lock()
	m.stats = &bridge.VideoLegStats{Codec: "H264", Width: 640, Height: 360, OnScreen: true}
	m.vmu.Unlock()
	st, ok := l.VideoStats()
	if !ok || st.Width != 640 || st.Height != 360 || !st.OnScreen {
		t.Fatalf("video stats %+v %v", st, ok)
	}
	if err := l.PinVideo("1000", "sip-xyz"); err != nil {
		t.Fatal(err)
	}
	if p := l.VideoPin("1000"); p != "sip-xyz" {
		t.Fatalf("pin %q, want sip-xyz", p)
	}
	l.UnpinVideo("1000")
	if p := l.VideoPin("1000"); p != "" {
		t.Fatalf("pin %q after unpin", p)
	}
	refused := errors.New("no such room")
	m.vmu.Lock()
	m.err = refused
	m.vmu.Unlock()
	if err := l.PinVideo("1000", "rtsp-abc"); !errors.Is(err, refused) {
		t.Fatalf("router error lost: %v", err)
	}
}

// TestDialerLegIsPinnable: a dialled camera's leg carries the media's leg
// ID as its media ID, so that conf pins the video source the media made.
func TestDialerLegIsPinnable(t *testing.T) {
	cam := startCamera(t, "--audio", "none")
	confs, media := newFakeConferences(), &fakeMediaFactory{}
	d, err := NewDialer(confs, media, Config{Transport: TransportTCP}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(nil)
	if _, err := dialCamera(t, d, cam.target(t, "", "/cam"), "1000"); err != nil {
		t.Fatalf("Dial: %v", err)
	}
	confs.mu.Lock()
	leg := confs.joins[0].Leg
	confs.mu.Unlock()
	media.mu.Lock()
	id := media.media[0].opts.LegID
	media.mu.Unlock()
	mi, ok := leg.(conf.MediaIdentified)
	if !ok || mi.MediaID() != id {
		t.Fatalf("leg media ID, want %q (ok %v)", id, ok)
	}
	if _, ok := leg.(conf.VideoRouterLeg); !ok {
		t.Fatal("the camera leg reaches no video router")
	}
}

// TestCameraAudioWaitsForAdmission: the room hears no camera audio before
// conf admitted the camera (and muted it on join if its conference says
// so); video passes, for the router's keyframe wait.
func TestCameraAudioWaitsForAdmission(t *testing.T) {
	m := &fakeMedia{recorder: newRecorder(false)}
	l := &cameraLeg{id: "rtsp-abc", name: "cam/1"}
	l.media.Store(&mediaRef{m: m})
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0}, Payload: make([]byte, 160)}
	l.AudioRTP(pkt)
	l.VideoRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96}, Payload: []byte{0x65, 0}})
	if v, a := m.counts(); v != 1 || a != 0 {
		t.Fatalf("before admission: video %d audio %d, want 1 0", v, a)
	}
	if n := l.early.Load(); n != 1 {
		t.Fatalf("%d packets counted as early, want 1", n)
	}
	l.admitted.Store(true)
	l.AudioRTP(pkt)
	if _, a := m.counts(); a != 1 {
		t.Fatalf("after admission: audio %d, want 1", a)
	}
}
