// Package cameramedia gives IP cameras their media in the bridge: it is the
// bridge's implementation of rtsp.MediaFactory, which package rtsp calls
// once a camera plays.
//
// A camera only sends. Its audio (PCMU, PCMA or Opus) becomes a socketless
// injected audio leg (bridge.NewInjectedLeg) in the conference's room,
// mixed like a phone's voice and sent nothing; its H.264 video becomes a
// source-only video leg (bridge.NewInjectedVideoLeg) under the same leg ID,
// so that when the camera's microphone is the loudest talker the video
// router switches to its picture, and the router's keyframe requests go to
// the camera through CameraMediaOptions.RequestKeyframe (RTSP has no RTCP
// feedback we could use: the puller asks the camera its own way).
// Its media implement rtsp.CameraVideo: the video leg's state for the
// participant list, and the bridge's pinning of the camera's room, so that
// conf pins a camera (or any leg, through the camera) like a video phone.
//
// It owns nothing but that wiring. It does not talk RTSP (package rtsp
// does, and hands over packets already continuous across reconnections),
// decides no policy (conf admits and mutes the participant), and imports
// nothing above the bridge but rtsp's types.
//
// Decisions:
//   - The bridge's media timeout is off for cameras: the puller knows when a
//     camera is gone and reconnects it; a camera whose stream pauses while it
//     reconnects must stay in the conference.
//   - A reconnection that brings other streams (UpdateTracks) reconfigures
//     the legs in place when the kind of stream stays (new codec or payload
//     type), and creates or closes a leg when a stream appears or goes, so
//     that the participant keeps its identity in the room.
//   - A camera with neither usable audio nor video is refused with
//     ErrNoMedia; an audio codec the bridge cannot decode with
//     ErrUnsupportedCodec.
package cameramedia
