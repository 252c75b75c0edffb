package conf_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
)

// fakeRouter is the bridge's video pinning, shared by the legs of a test.
type fakeRouter struct {
	mu   sync.Mutex
	pins map[string]string
}

func (r *fakeRouter) PinVideo(room, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pins[room] = id
	return nil
}

func (r *fakeRouter) UnpinVideo(room string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pins, room)
}

func (r *fakeRouter) VideoPin(room string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pins[room]
}

// videoLeg is a user's leg with video in the bridge.
type videoLeg struct {
	muteLeg
	*fakeRouter
	media    string
	hasVideo bool
	stats    bridge.VideoLegStats
	camMuted []bool
}

func (l *videoLeg) MediaID() string { return l.media }
func (l *videoLeg) SetCameraMuted(m bool) {
	l.mu.Lock()
	l.camMuted = append(l.camMuted, m)
	l.mu.Unlock()
}
func (l *videoLeg) cameraMutes() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.camMuted...)
}
func (l *videoLeg) VideoStats() (bridge.VideoLegStats, bool) {
	return l.stats, l.hasVideo
}

func (j joiner) videoUser(name string, r *fakeRouter, st bridge.VideoLegStats) (*conf.Participant, *videoLeg) {
	j.t.Helper()
	l := &videoLeg{muteLeg: muteLeg{userLeg: userLeg{user: name}}, fakeRouter: r, media: "sip-" + name, hasVideo: true, stats: st}
	p, err := j.e.svc.Join(j.t.Context(), conf.JoinRequest{ConferenceID: j.id, DisplayName: name, Protocol: "sip",
		Remote: "192.0.2.1:5060", Leg: l})
	if err != nil {
		j.t.Fatalf("%s joins %s: %v", name, j.id, err)
	}
	return p, l
}

// nextEvent returns the next event of type typ.
func nextVideoEvent(t *testing.T, sub *conf.Subscription, typ string) conf.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-sub.C():
			if e.Type == typ {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event", typ)
			return conf.Event{}
		}
	}
}

func TestPinVideo(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	ctx := t.Context()
	r := &fakeRouter{pins: map[string]string{}}
	j := joiner{t, e, c.ID}
	owner, _ := j.videoUser("owner", r, bridge.VideoLegStats{Codec: "H264", Width: 1280, Height: 720, FramesIn: 30, Watching: "sip-mod", Active: true})
	mod, _ := j.videoUser("mod", r, bridge.VideoLegStats{Codec: "H264", Width: 640, Height: 360, OnScreen: true, Watching: "sip-owner"})
	audioOnly, _ := j.user("guest1")
	_, noVideo := j.videoUser("oper", r, bridge.VideoLegStats{})
	noVideo.hasVideo = false
	sub := e.svc.Subscribe()
	defer sub.Close()

	if err := e.svc.PinVideo(ctx, users["guest1"], c.ID, owner.ID()); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("a participant pins: %v, want ErrForbidden", err)
	}
	if err := e.svc.PinVideo(ctx, users["mod"], c.ID, audioOnly.ID()); !errors.Is(err, conf.ErrNotSupported) {
		t.Errorf("pinning a leg without video support: %v", err)
	}
	var otherID string
	for _, lp := range mustLive(t, e, c.ID) {
		if lp.DisplayName == "oper" {
			otherID = lp.ID
		}
	}
	if err := e.svc.PinVideo(ctx, users["mod"], c.ID, otherID); !errors.Is(err, conf.ErrConflict) {
		t.Errorf("pinning a participant who sends no video: %v", err)
	}
	if err := e.svc.PinVideo(ctx, users["mod"], c.ID, "nobody"); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("pinning nobody: %v", err)
	}
	if len(r.pins) != 0 {
		t.Fatalf("refused pins reached the router: %v", r.pins)
	}
	if err := e.svc.PinVideo(ctx, users["mod"], c.ID, owner.ID()); err != nil {
		t.Fatal(err)
	}
	if got := r.VideoPin(c.ID); got != "sip-owner" {
		t.Errorf("router pinned %q, want sip-owner", got)
	}
	if ev := nextVideoEvent(t, sub, conf.EventVideoPinned); ev.ParticipantID != owner.ID() || ev.By != "mod" {
		t.Errorf("pin event %+v", ev)
	}

	v, err := e.svc.Video(ctx, users["guest1"], c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Pinned != owner.ID() || len(v.Participants) != 2 {
		t.Fatalf("video state %+v", v)
	}
	byID := map[string]conf.ParticipantVideo{}
	for _, pv := range v.Participants {
		byID[pv.ID] = pv
	}
	ov, mv := byID[owner.ID()], byID[mod.ID()]
	if ov.ID != owner.ID() || !ov.Video.Pinned || ov.Video.Width != 1280 || ov.Video.Watching != mod.ID() || !ov.Video.Active {
		t.Errorf("owner's video %+v", ov)
	}
	if mv.ID != mod.ID() || mv.Video.Pinned || !mv.Video.OnScreen || mv.Video.Watching != owner.ID() {
		t.Errorf("moderator's video %+v", mv)
	}
	if _, err := e.svc.Video(ctx, users["owner"], "nope"); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("video of an unknown conference: %v", err)
	}

	if err := e.svc.UnpinVideo(ctx, users["other"], c.ID); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("a participant unpins: %v", err)
	}
	if err := e.svc.UnpinVideo(ctx, users["owner"], c.ID); err != nil {
		t.Fatal(err)
	}
	if got := r.VideoPin(c.ID); got != "" {
		t.Errorf("still pinned to %q", got)
	}
	if ev := nextVideoEvent(t, sub, conf.EventVideoUnpinned); ev.By != "owner" || ev.ConferenceID != c.ID {
		t.Errorf("unpin event %+v", ev)
	}

	// The bridge's switches become events naming the participant.
	e.svc.VideoSwitched(c.ID, "sip-mod")
	if ev := nextVideoEvent(t, sub, conf.EventVideoSwitched); ev.ParticipantID != mod.ID() || ev.DisplayName != "mod" {
		t.Errorf("switch event %+v", ev)
	}
	e.svc.VideoSwitched(c.ID, "rtsp-camera")
	if ev := nextVideoEvent(t, sub, conf.EventVideoSwitched); ev.ParticipantID != "" || ev.ConferenceID != c.ID {
		t.Errorf("switch to a non-participant %+v", ev)
	}
}

func mustLive(t *testing.T, e *env, id string) []conf.ParticipantInfo {
	t.Helper()
	ps, err := e.svc.Participants(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// waitPin waits until the router's pin of room is want.
func waitPin(t *testing.T, r *fakeRouter, room, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); r.VideoPin(room) != want; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("room %s pinned to %q, want %q", room, r.VideoPin(room), want)
		}
	}
}

// TestAsymmetricShowsPresenter checks that an asymmetric conference pins
// its presenter: as he joins, when another is named, after an unpin and
// when a moderator's pinned participant leaves.
func TestAsymmetricShowsPresenter(t *testing.T) {
	e := newEnv(t)
	users, _ := book(t, e)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); e.svc.RunVideo(ctx) }()
	defer func() { cancel(); <-done }()

	c, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{
		ID: "3000", Name: "Lecture", Mode: conf.ModeAsymmetric,
		Invitations: []conf.Invitation{{Target: "mod", Moderator: true}, {Target: "other"}, {Target: "guest1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeRouter{pins: map[string]string{}}
	j := joiner{t, e, c.ID}
	j.videoUser("mod", r, bridge.VideoLegStats{Codec: "H264"})
	other, _ := j.videoUser("other", r, bridge.VideoLegStats{Codec: "H264"})
	if got := r.VideoPin(c.ID); got != "" {
		t.Fatalf("pinned %q with no presenter here", got)
	}
	j.videoUser("owner", r, bridge.VideoLegStats{Codec: "H264"})
	waitPin(t, r, c.ID, "sip-owner")

	// A moderator shows someone else; unpinning goes back to the presenter.
	if err := e.svc.PinVideo(ctx, users["mod"], c.ID, other.ID()); err != nil {
		t.Fatal(err)
	}
	j.videoUser("guest1", r, bridge.VideoLegStats{Codec: "H264"}) // a join does not undo the pin
	if err := e.svc.UnpinVideo(ctx, users["mod"], c.ID); err != nil {
		t.Fatal(err)
	}
	if got := r.VideoPin(c.ID); got != "sip-owner" {
		t.Fatalf("after unpin the room shows %q, want the presenter", got)
	}
	// The moderator's pinned participant leaves: back to the presenter.
	if err := e.svc.PinVideo(ctx, users["mod"], c.ID, other.ID()); err != nil {
		t.Fatal(err)
	}
	e.svc.Leave(other, nil)
	waitPin(t, r, c.ID, "sip-owner")
}

// TestCameraMutedOnJoin checks that RunVideo mutes the camera of a
// participant who joins a conference that mutes cameras, and only his.
func TestCameraMutedOnJoin(t *testing.T) {
	e := newEnv(t)
	users, _ := book(t, e)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); e.svc.RunVideo(ctx) }()
	defer func() { cancel(); <-done }()
	c, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{
		ID: "3100", Name: "Quiet cameras", MuteCamerasOnJoin: true, Invitations: []conf.Invitation{{Target: "other"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeRouter{pins: map[string]string{}}
	j := joiner{t, e, c.ID}
	sub := e.svc.Subscribe()
	defer sub.Close()
	_, ownerLeg := j.videoUser("owner", r, bridge.VideoLegStats{Codec: "H264"})
	_, otherLeg := j.videoUser("other", r, bridge.VideoLegStats{Codec: "H264"})
	nextVideoEvent(t, sub, conf.EventJoined)
	nextVideoEvent(t, sub, conf.EventJoined)
	for deadline := time.Now().Add(5 * time.Second); len(otherLeg.cameraMutes()) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the participant's camera was not muted")
		}
	}
	if got := otherLeg.cameraMutes(); len(got) != 1 || !got[0] {
		t.Errorf("participant's camera: %v", got)
	}
	if got := ownerLeg.cameraMutes(); len(got) != 0 {
		t.Errorf("the owner's camera was muted: %v", got)
	}
}
