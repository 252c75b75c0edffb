package rtsp

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/internal/callleg"
)

type fakeParticipant string

func (p fakeParticipant) ID() string { return string(p) }

// fakeConferences admits everyone to conference "1000" and records joins
// and leaves.
type fakeConferences struct {
	mu     sync.Mutex
	joins  []conf.JoinRequest
	leaves []error
	left   chan struct{}
}

func newFakeConferences() *fakeConferences { return &fakeConferences{left: make(chan struct{}, 8)} }

func (f *fakeConferences) Join(ctx context.Context, req conf.JoinRequest) (callleg.Participant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.ConferenceID != "1000" {
		return nil, conf.ErrNotFound
	}
	f.joins = append(f.joins, req)
	return fakeParticipant("p1"), nil
}

func (f *fakeConferences) Leave(p callleg.Participant, cause error) {
	f.mu.Lock()
	f.leaves = append(f.leaves, cause)
	f.mu.Unlock()
	f.left <- struct{}{}
}

// fakeMedia is a CameraMedia that records what it got.
type fakeMedia struct {
	*recorder
	opts   CameraMediaOptions
	mu     sync.Mutex
	closed error
}

func (m *fakeMedia) UpdateTracks(Tracks) error { return nil }
func (m *fakeMedia) Stats() bridge.LegStats    { return bridge.LegStats{Talking: true} }
func (m *fakeMedia) Close(cause error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed == nil {
		m.closed = cause
	}
}

type fakeMediaFactory struct {
	mu    sync.Mutex
	media []*fakeMedia
}

func (f *fakeMediaFactory) NewCameraMedia(opts CameraMediaOptions) (CameraMedia, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := &fakeMedia{recorder: newRecorder(false), opts: opts}
	f.media = append(f.media, m)
	return m, nil
}

func dialCamera(t *testing.T, d *Dialer, target conf.Target, confID string) (conf.DialResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	return d.Dial(ctx, conf.DialRequest{ConferenceID: confID, Target: target, DisplayName: "Weekly"})
}

// TestDialerJoinsCamera dials the GStreamer camera by call string: it joins
// as a dialled rtsp leg named after the camera, its packets reach the
// media, and Hangup stops the pull, closes the media and leaves.
func TestDialerJoinsCamera(t *testing.T) {
	cam := startCamera(t, "--user", "admin", "--password", "pw", "--audio", "pcmu")
	confs, media := newFakeConferences(), &fakeMediaFactory{}
	d, err := NewDialer(confs, media, Config{Transport: TransportTCP}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(nil)
	if s := d.Schemes(); len(s) != 1 || s[0] != conf.SchemeRTSP {
		t.Fatalf("schemes %v", s)
	}
	res, err := dialCamera(t, d, cam.target(t, "admin:pw", "/cam"), "1000")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if res.ParticipantID != "p1" || res.Remote != cam.target(t, "", "").Host+":"+itoa(cam.port) {
		t.Fatalf("result %+v", res)
	}
	confs.mu.Lock()
	req := confs.joins[0]
	confs.mu.Unlock()
	if req.Protocol != conf.ProtocolRTSP || req.DisplayName != "127.0.0.1:"+itoa(cam.port)+"/cam" {
		t.Fatalf("joined as %q named %q", req.Protocol, req.DisplayName)
	}
	leg, ok := req.Leg.(conf.DialledLeg)
	if !ok || !leg.Dialled() {
		t.Fatalf("the leg is not a dialled leg")
	}
	m := media.media[0]
	if !strings.HasPrefix(m.opts.LegID, "rtsp-") || len(m.opts.LegID) != 21 {
		t.Fatalf("bridge leg ID %q", m.opts.LegID)
	}
	if m.opts.ConferenceID != "1000" || m.opts.Tracks.Video == nil || m.opts.Tracks.Audio == nil || m.opts.RequestKeyframe == nil {
		t.Fatalf("media options %+v", m.opts)
	}
	m.opts.RequestKeyframe() // a PLI to the camera must not disturb the session
	m.waitUntil(t, "media at the bridge", func(v, a int) bool { return v >= 50 && a >= 3 })
	st := leg.Stats()
	if st.PacketsIn == 0 || st.BytesIn == 0 || st.Codec != "H264+PCMU" || !st.Talking {
		t.Fatalf("leg stats %+v", st)
	}
	if st, note := req.Leg.(interface{ LegState() (string, string) }).LegState(); st != "playing" || note != "" {
		t.Fatalf("leg state %q %q", st, note)
	}

	cause := errors.New("kicked")
	leg.Hangup(cause)
	leg.Hangup(cause) // idempotent
	confs.mu.Lock()
	leaves := append([]error(nil), confs.leaves...)
	confs.mu.Unlock()
	if len(leaves) != 1 || !errors.Is(leaves[0], cause) {
		t.Fatalf("leaves %v", leaves)
	}
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if !errors.Is(closed, cause) {
		t.Fatalf("media closed with %v", closed)
	}
	v, _ := m.counts()
	// No packet may reach the media once Hangup returned.
	cam.stop()
	if v2, _ := m.counts(); v2 != v {
		t.Fatalf("%d packets after Hangup", v2-v)
	}
}

// TestDialerCameraGivenUp: a camera that goes away with reconnection off
// leaves the conference with ErrHungUp wrapping the loss.
func TestDialerCameraGivenUp(t *testing.T) {
	cam := startCamera(t, "--audio", "none")
	confs, media := newFakeConferences(), &fakeMediaFactory{}
	d, err := NewDialer(confs, media, Config{Transport: TransportTCP, Reconnects: -1}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(nil)
	if _, err := dialCamera(t, d, cam.target(t, "", "/cam"), "1000"); err != nil {
		t.Fatalf("Dial: %v", err)
	}
	cam.stop()
	select {
	case <-confs.left:
	case <-time.After(waitFor):
		t.Fatal("the camera did not leave")
	}
	confs.mu.Lock()
	defer confs.mu.Unlock()
	if !errors.Is(confs.leaves[0], ErrHungUp) || !errors.Is(confs.leaves[0], ErrStreamLost) {
		t.Fatalf("left with %v", confs.leaves[0])
	}
}

// TestDialerFailures: the inviter hears why, and nothing joins.
func TestDialerFailures(t *testing.T) {
	cam := startCamera(t, "--user", "admin", "--password", "pw", "--audio", "none")
	confs, media := newFakeConferences(), &fakeMediaFactory{}
	d, err := NewDialer(confs, media, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(nil)
	if _, err := dialCamera(t, d, cam.target(t, "admin:bad", "/cam"), "1000"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := dialCamera(t, d, cam.target(t, "admin:pw", "/nope"), "1000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown path: %v", err)
	}
	// The conference refuses: the pull stops and the media closes.
	if _, err := dialCamera(t, d, cam.target(t, "admin:pw", "/cam"), "2000"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("unknown conference: %v", err)
	}
	media.mu.Lock()
	m := media.media[0]
	media.mu.Unlock()
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed == nil {
		t.Fatal("media of a refused camera not closed")
	}
	sip, _ := conf.ParseCallString("sip:alice@example.com")
	if _, err := dialCamera(t, d, sip, "1000"); !errors.Is(err, ErrBadTarget) {
		t.Fatalf("sip target: %v", err)
	}
	confs.mu.Lock()
	defer confs.mu.Unlock()
	if len(confs.joins) != 0 {
		t.Fatalf("joins %v", confs.joins)
	}
}

func TestCameraName(t *testing.T) {
	for in, want := range map[string]string{
		"rtsp://admin:pw@cam.example.com/stream1": "cam.example.com/stream1",
		"#rtsp://cam.example.com:8554/a/b/?x=1":   "cam.example.com:8554/a/b",
		"rtsp://[2001:db8::1]:554/":               "[2001:db8::1]",
		"rtsp://10.0.0.7":                         "10.0.0.7",
	} {
		tg, err := conf.ParseCallString(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := CameraName(tg); got != want {
			t.Errorf("CameraName(%q) = %q, want %q", in, got, want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestDialerAACCameraJoinsVideoOnly: the leg joins with video only and its
// state says why.
func TestDialerAACCameraJoinsVideoOnly(t *testing.T) {
	cam := startCamera(t, "--audio", "aac")
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
	m := media.media[0]
	if m.opts.Tracks.Audio != nil || m.opts.Tracks.Video == nil {
		t.Fatalf("media tracks %+v", m.opts.Tracks)
	}
	if st, note := leg.(interface{ LegState() (string, string) }).LegState(); st != "playing" || note != NoteAACNeedsCgo {
		t.Fatalf("leg state %q %q", st, note)
	}
	m.waitUntil(t, "video", func(v, a int) bool { return v >= 20 })
	if c := leg.Stats().Codec; c != "H264" {
		t.Fatalf("codec %q", c)
	}
}
