// Package call turns H.323 calls into conference legs: it listens for
// H.225.0 call signalling on TCP (normally port 1720), answers Setup with
// Fast Connect or slow start, runs H.245 tunnelled or on a separate TCP
// channel (capability exchange and master/slave determination as an MCU,
// audio and H.264 video logical channels), feeds DTMF into a digit hook and releases calls
// with a Q.931 cause. Dial is the calling side of the same machinery, and
// Server.Dialer makes it conf's dialler for h323: call strings.
//
// Decisions:
//   - With a Gatekeeper (package ras), every call is admitted first: ARQ
//     with answerCall before answering (a refusal is cause 21), ARQ before
//     dialling (the ACF names where the Setup goes, so aliases without a
//     host work), DRQ when the call ends, and the gatekeeper's DRQ hangs it
//     up. A gatekeeper that cannot be asked does not stop calls that name
//     a host.
//   - DTMF from H.245 UserInputIndication, Q.931 Keypad, RFC 2833 events
//     and in-band tones merges in one bridge/dtmf Stream per call, so that
//     Config.OnDigit sees each key press once. RFC 2833 is offered in our
//     capability set (receiveRTPAudioTelephonyEventCapability, payload type
//     101) and decoded by the bridge once the peer's set shows it sends
//     telephone events; until then the bridge listens for tones.
//   - Conf admission of answered and placed calls goes through one pair of
//     functions (admission.go), the seam for conf's dial-in contract.
//   - Video (h245_video.go) exists when the media factory also creates
//     bridge video legs (callleg.VideoFactory, or *bridge.Bridge's own
//     NewVideoLeg); otherwise the capability set has no video and video
//     channels are refused, because a TCS must be truthful. With video, the
//     TCS carries one H.264 genericVideoCapability (H.241: Baseline, the
//     lowest level holding Config.Video, CustomMaxBRandCPB above the
//     level's bit rate) in an alternative set of its own next to audio, and
//     lists single NAL unit and non-interleaved packetization.
//   - Video opens by Fast Connect when the other side takes it: a Setup
//     we send proposes H.264 to receive and to send after the audio
//     proposals, and a caller's usable H.264 proposals (Baseline, not
//     interleaved) are answered with the audio; the channels are open from
//     then on. Otherwise (many room systems answer Fast Connect for audio
//     only) video opens by slow start after capability exchange and
//     master/slave determination, also on calls whose audio came up by
//     Fast Connect. Our OLC narrows our capability to the peer's best
//     Baseline entry (level, maxBitRate). The peer's H.264 OLC is acked
//     with the video leg's ports; H.261/H.263, H.239 content, High-only
//     and interleaved H.264 are refused. Both channels share one bridge
//     video leg and so one payload type: when the peer's differs we reopen
//     ours with it (at most twice a call).
//   - Keyframes: videoFastUpdatePicture (and the GOB/MB variants, which
//     H.264 lacks) on either video channel goes to the leg's
//     HandleFastUpdate; the leg's keyframe requests become
//     videoFastUpdatePicture on the peer's channel, at most one a second,
//     later requests merged into one sent when the second ends.
//   - flowControlCommand on our video channel (or the whole multiplex,
//     less 64 kbit/s for audio) becomes the leg's MaxBitrate; a peer whose
//     video OLC asks more than the format is sent flowControlCommand.
//     Our video channel is closed (CLC) before endSessionCommand, and the
//     video leg is closed with the audio leg on every way a call ends.
//
// It owns call state, timers and transports only. Message content comes from
// packages h225, h245, q931 and tpkt; media is a bridge leg reached through
// MediaFactory; admission is conf's business, reached through Conferences.
// It must not import other signalling protocols, and it knows nothing of
// conference rules beyond mapping conf errors to Q.931 causes.
package call
