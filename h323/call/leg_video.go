package call

import (
	"fmt"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
)

// The video side of legHandle: conf names an H.323 participant's video by
// the call's media ID, reads its video counters, mutes its camera and pins
// pictures in its conference through it, as it does for SIP calls.

// MediaID is the ID of the call's audio and video legs in the bridge, by
// which the bridge names the speaker and conf pins a picture.
func (h legHandle) MediaID() string { return h.c.id }

// VideoStats returns the call's video leg counters; ok is false when the
// call has no video leg.
func (h legHandle) VideoStats() (bridge.VideoLegStats, bool) {
	h.c.mediaMu.Lock()
	v := h.c.video.leg
	h.c.mediaMu.Unlock()
	if v == nil {
		return bridge.VideoLegStats{}, false
	}
	st := v.Stats()
	return st, st.Codec != ""
}

// SetCameraMuted keeps the caller's video off screen or lets it back; a mute
// before the video leg exists applies when it does.
func (h legHandle) SetCameraMuted(muted bool) {
	h.c.mediaMu.Lock()
	defer h.c.mediaMu.Unlock()
	h.c.cameraMuted = muted
	if h.c.video.leg != nil {
		h.c.video.leg.SetCameraMuted(muted)
	}
}

// videoRouter is the room-level video control of the media (BridgeMedia's).
type videoRouter interface {
	PinVideo(room, legID string) error
	UnpinVideo(room string)
	VideoPin(room string) string
}

// PinVideo pins room's picture to the bridge leg mediaID.
func (h legHandle) PinVideo(room, mediaID string) error {
	r, ok := h.c.env.media.(videoRouter)
	if !ok {
		return fmt.Errorf("pinning video in %s: %w", room, ErrNoVideo)
	}
	return r.PinVideo(room, mediaID)
}

// UnpinVideo returns room's picture to the speaker.
func (h legHandle) UnpinVideo(room string) {
	if r, ok := h.c.env.media.(videoRouter); ok {
		r.UnpinVideo(room)
	}
}

// VideoPin returns the leg room's picture is pinned to, "" for none.
func (h legHandle) VideoPin(room string) string {
	if r, ok := h.c.env.media.(videoRouter); ok {
		return r.VideoPin(room)
	}
	return ""
}

var (
	_ conf.MediaIdentified  = legHandle{}
	_ conf.VideoStatsLeg    = legHandle{}
	_ conf.VideoRouterLeg   = legHandle{}
	_ conf.CameraMutableLeg = legHandle{}
)
