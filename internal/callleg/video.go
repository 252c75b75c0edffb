package callleg

import "github.com/roomgate/roomgate/bridge"

// VideoLeg is one call's H.264 video in the bridge's video router;
// *bridge.VideoLeg is one. It is separate from the call's MediaLeg (its own
// ports, its own m-line) but carries the same ID and room, so that the
// mixer's loudest talker names the picture to switch to.
type VideoLeg interface {
	// LocalPort is the RTP port we announce on the video m-line.
	LocalPort() int
	// Start plays the first negotiated video stream.
	Start(p bridge.VideoParams) error
	// Update applies renegotiated video (hold, new address, feedback).
	Update(p bridge.VideoParams) error
	// SetRoom moves the video with the audio (lobby -> conference).
	SetRoom(room string) error
	// HandleFastUpdate passes on a keyframe request the peer made by
	// signalling (SIP INFO picture_fast_update).
	HandleFastUpdate()
	// SetCameraMuted keeps the caller's video off screen (conf's camera
	// mute) whatever its direction.
	SetCameraMuted(muted bool)
	// Stats returns the video's state and counters.
	Stats() bridge.VideoLegStats
	// Close ends the video; idempotent, it waits and releases the ports.
	Close(cause error)
}

// VideoFactory creates video legs. A MediaFactory that is also a
// VideoFactory gives calls video; BridgeMedia's is.
type VideoFactory interface {
	NewVideoLeg(opts bridge.VideoLegOptions) (VideoLeg, error)
}

// NewVideoLeg allocates a video leg's RTP/RTCP ports in the bridge.
func (m bridgeMedia) NewVideoLeg(opts bridge.VideoLegOptions) (VideoLeg, error) {
	l, err := m.b.NewVideoLeg(opts)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// PinVideo pins the picture of a room to one leg's video (bridge.PinVideo).
func (m bridgeMedia) PinVideo(room, legID string) error { return m.b.PinVideo(room, legID) }

// UnpinVideo returns a room's picture to the speaker.
func (m bridgeMedia) UnpinVideo(room string) { m.b.UnpinVideo(room) }

// VideoPin returns the leg a room's picture is pinned to, "" for none.
func (m bridgeMedia) VideoPin(room string) string { return m.b.VideoPin(room) }

// Compile-time check: the bridge's media gives video.
var _ VideoFactory = bridgeMedia{}
