// Package rtsp brings IP cameras into conferences: it pulls a camera's
// stream over RTSP (RFC 2326) and makes the camera a call leg, as sip and
// h323 do for their calls. It implements conf.Dialer for rtsp:// and
// #rtsp:// call strings.
//
// It owns the RTSP session (through gortsplib's client: DESCRIBE with Basic
// or Digest authentication, SETUP over UDP with fall-back to TCP
// interleaved, PLAY, keep-alives within the camera's session timeout,
// TEARDOWN), the choice of tracks, the camera's H.264 parameter sets and
// picture size, reconnection, and the leg's identity towards conf. It does
// not decode, mix or route media (the bridge does, behind MediaFactory),
// never sends media to a camera, and decides no policy: conf admits the leg
// and says when it must go.
//
// Decisions (where the specifications leave a choice):
//
//   - Tracks: the first H.264 video stream in packetization-mode 0 or 1,
//     and one audio stream, Opus before PCMU before PCMA (G.711 only at
//     8 kHz mono). Back channels are skipped. AAC is not forwarded in this
//     pure-Go build: the leg joins video-only and its status and log say
//     NoteAACNeedsCgo. A camera with neither usable video nor audio fails
//     with ErrNoUsableTrack naming what it offered.
//   - Packets are forwarded, not transcoded, and arrive at the Sink as one
//     continuous RTP stream per track for the leg's whole life: after a
//     reconnection the first session's SSRC is kept and sequence numbers
//     and timestamps continue, the timestamp gap following the wall clock.
//     The packet path allocates nothing (BenchmarkPacketPath).
//   - Parameter sets come from sprop-parameter-sets and from every in-band
//     SPS/PPS, cached in fixed arrays; the picture size is re-read only
//     when the SPS bytes change.
//   - The first connection is retried Config.Retries times on transient
//     failures only (default none: the inviter hears at once); 401, 404 and
//     no usable track fail at once unless Config.RetryPermanent. Once
//     playing, a lost stream is reconnected with bounded, jittered
//     exponential backoff for as long as the leg lives (or
//     Config.Reconnects attempts), except on 401: retrying wrong
//     credentials can lock a camera's account.
//   - A camera is named by host, port and path of its call string, never
//     by its credentials; DialRequest.DisplayName is the conference's name
//     and does not name the camera.
//   - Towards conf the camera's leg is pinnable like a video phone: it
//     names its media by CameraMediaOptions.LegID (conf.MediaIdentified),
//     lists its picture and reaches the room's video router through media
//     that implement CameraVideo. Its audio reaches the media only once
//     conf admitted it, so that a camera conf refuses, or mutes on join
//     (Conference.MuteCameraAudio), is never heard; its video is not held
//     back (nobody sees it before its audio or a pin puts it on screen).
package rtsp
