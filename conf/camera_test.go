package conf_test

import (
	"errors"
	"testing"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
)

// cameraLeg is an IP camera's leg as package rtsp makes it: dialled,
// mutable, named in the bridge, with video and a way to its room's router.
type cameraLeg struct {
	guestMuteLeg
	*fakeRouter
	media string
	stats bridge.VideoLegStats
}

func (*cameraLeg) Dialled() bool     { return true }
func (l *cameraLeg) MediaID() string { return l.media }
func (l *cameraLeg) VideoStats() (bridge.VideoLegStats, bool) {
	return l.stats, true
}

var (
	_ conf.MediaIdentified = (*cameraLeg)(nil)
	_ conf.VideoStatsLeg   = (*cameraLeg)(nil)
	_ conf.VideoRouterLeg  = (*cameraLeg)(nil)
	_ conf.MutableLeg      = (*cameraLeg)(nil)
	_ conf.DialledLeg      = (*cameraLeg)(nil)
)

func joinCamera(t *testing.T, e *env, confID, media string, r *fakeRouter) (*conf.Participant, *cameraLeg) {
	t.Helper()
	l := &cameraLeg{fakeRouter: r, media: media,
		stats: bridge.VideoLegStats{Codec: "H264", Width: 640, Height: 360, FramesIn: 25, Active: true}}
	p, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: confID, DisplayName: "127.0.0.1:8554/cam",
		Protocol: conf.ProtocolRTSP, Remote: "127.0.0.1:8554", Leg: l})
	if err != nil {
		t.Fatalf("camera joins %s: %v", confID, err)
	}
	return p, l
}

// TestCameraAudioMutedByConference: in a conference with
// mute_camera_audio a camera joins with its microphone closed (its leg is
// muted, the list and the event stream say so) while a phone joins open;
// a moderator may open it. Without the setting the camera joins open.
func TestCameraAudioMutedByConference(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	ctx := t.Context()
	c.MuteCameraAudio = true
	c, err := e.svc.UpdateConferenceAs(ctx, users["owner"], c)
	if err != nil {
		t.Fatal(err)
	}
	if !c.MuteCameraAudio {
		t.Fatal("mute_camera_audio not kept")
	}
	sub := e.svc.Subscribe()
	defer sub.Close()
	r := &fakeRouter{pins: map[string]string{}}
	cam, camLeg := joinCamera(t, e, c.ID, "rtsp-cam1", r)
	if got := camLeg.mutes(); len(got) != 1 || !got[0] {
		t.Fatalf("camera leg mutes %v, want [true]", got)
	}
	if !live(t, e, cam).Muted {
		t.Error("the camera is not listed muted")
	}
	if ev := nextVideoEvent(t, sub, conf.EventMuted); ev.ParticipantID != cam.ID() {
		t.Errorf("muted event %+v", ev)
	}
	j := joiner{t, e, c.ID}
	other, otherLeg := j.user("guest1")
	if len(otherLeg.mutes()) != 0 || live(t, e, other).Muted {
		t.Error("a phone joined muted by the camera setting")
	}
	if err := e.svc.SetMuted(ctx, users["mod"], c.ID, cam.ID(), false); err != nil {
		t.Fatalf("moderator opens the camera's microphone: %v", err)
	}
	if got := camLeg.mutes(); len(got) != 2 || got[1] || live(t, e, cam).Muted {
		t.Errorf("after unmute: leg %v, listed muted %v", got, live(t, e, cam).Muted)
	}

	// The setting off: a camera is heard.
	c.MuteCameraAudio = false
	if _, err := e.svc.UpdateConferenceAs(ctx, users["owner"], c); err != nil {
		t.Fatal(err)
	}
	cam2, cam2Leg := joinCamera(t, e, c.ID, "rtsp-cam2", r)
	if len(cam2Leg.mutes()) != 0 || live(t, e, cam2).Muted {
		t.Errorf("camera muted without mute_camera_audio: leg %v", cam2Leg.mutes())
	}
}

// TestPinCamera: a moderator pins a camera like a phone; the router is
// reached through the camera's own leg when no phone has video, and the
// list shows the camera pinned with its picture.
func TestPinCamera(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	ctx := t.Context()
	r := &fakeRouter{pins: map[string]string{}}
	j := joiner{t, e, c.ID}
	j.user("guest1") // an audio-only phone: no router through it
	cam, _ := joinCamera(t, e, c.ID, "rtsp-cam1", r)
	sub := e.svc.Subscribe()
	defer sub.Close()
	if err := e.svc.PinVideo(ctx, users["guest1"], c.ID, cam.ID()); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("a participant pins the camera: %v", err)
	}
	if err := e.svc.PinVideo(ctx, users["mod"], c.ID, cam.ID()); err != nil {
		t.Fatal(err)
	}
	if got := r.VideoPin(c.ID); got != "rtsp-cam1" {
		t.Fatalf("router pinned %q, want rtsp-cam1", got)
	}
	if ev := nextVideoEvent(t, sub, conf.EventVideoPinned); ev.ParticipantID != cam.ID() || ev.By != "mod" {
		t.Errorf("pin event %+v", ev)
	}
	v := live(t, e, cam).Video
	if v == nil || !v.Pinned || v.Width != 640 || v.Height != 360 {
		t.Fatalf("camera's video in the list: %+v", v)
	}
	cv, err := e.svc.Video(ctx, users["guest1"], c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cv.Pinned != cam.ID() || len(cv.Participants) != 1 || cv.Participants[0].ID != cam.ID() {
		t.Errorf("conference video %+v", cv)
	}
	if err := e.svc.UnpinVideo(ctx, users["mod"], c.ID); err != nil {
		t.Fatal(err)
	}
	if got := r.VideoPin(c.ID); got != "" {
		t.Errorf("still pinned to %q", got)
	}
}
