// Package sip is Roomgate's SIP signalling: it accepts calls from room
// systems and softphones over UDP and TCP, negotiates one audio stream (and
// one H.264 video stream) per call with SDP offer/answer (RFC 3264), asks
// conf whether the caller may join the conference named in the Request-URI,
// and drives the call's media legs in the bridge through hold, resume,
// codec changes, session timers (RFC 4028) and hang-up.
//
// It owns the SIP dialogs and nothing else: it never decides policy (conf
// does, through the Conferences interface) and never touches RTP (the bridge
// does, through MediaFactory). The SIP stack underneath is
// github.com/emiago/sipgo; this package keeps its own torture and fuzz tests
// at that boundary.
//
// Decisions worth knowing:
//   - The dial-in address is sip:<conference-id>@host. An empty user part is
//     answered 404 until the IVR lobby exists.
//   - The conference is joined only when the call is answered (after
//     Config.AnswerDelay of ringing), so a CANCEL while ringing joins nothing.
//   - 2xx responses to INVITE are retransmitted by the dialog (RFC 3261
//     §13.3.1.4) on UDP until the ACK arrives; after 64*T1 without ACK the
//     call is ended with BYE.
//   - In-dialog requests we send go to the address the peer's requests come
//     from when there is no route set (symmetric signalling, RFC 3581), since
//     room systems behind NAT often advertise unreachable Contacts. Over TCP
//     that reuses the peer's connection.
//   - Admission comes before resources: conf.Join runs before the bridge
//     allocates RTP ports, so refused or scanning callers cost none.
//   - A message the stack cannot parse is answered 400 when its request line
//     and a Via can still be read, and counted in
//     roomgate_sip_malformed_messages_total either way. On TCP a framing
//     layer cuts the stream by Content-Length first, so one bad message does
//     not cost the connection (the stack alone would close it).
//   - Session timers (RFC 4028) always run: the peer refreshes when it
//     supports timers (or asks to), otherwise we do, with UPDATE when the
//     peer allows it and else a re-INVITE repeating our last SDP. A session
//     nobody refreshed ends with BYE.
//   - In-dialog offers while another offer/answer is in progress get 491
//     (ours pending) or 500 with Retry-After (theirs pending, RFC 3261 §14.2).
//   - Codec choice follows our preference among what the offer carries; in
//     a re-INVITE the current codec comes first, so a refresh never flips
//     codecs. We answer one codec per audio line, plus telephone-event at the
//     codec's clock rate when offered, and port 0 for every other line.
//   - DTMF: each call merges the key presses it hears as RFC 4733 events
//     (reported by the bridge) and as INFO bodies (application/dtmf-relay,
//     application/dtmf) in one dtmf.Stream, so a phone that sends both
//     presses each key once for Config.OnDigit. INFO with a body is read at
//     most 20 a second per call (burst 40); the excess is answered 200 and
//     counted, never refused, so a flood cannot become a storm of errors.
//     Server.SendDTMF sends digits by INFO to peers that did not negotiate
//     telephone-event; RFC 4733 sending belongs to the media leg.
//   - Video (Config.VideoEnabled, call_video.go): the first main video
//     line of an offer gets a video leg beside the audio leg (same ID and
//     room, its own ports), answered in the conference's H.264 format
//     (sdp_video.go, with b=AS and b=TIAS); a line that cannot meet it is
//     answered with port 0, the reason logged, and the call goes on with
//     audio. Renegotiations update the leg; dropping video makes it
//     inactive rather than closing it, so the picture sent keeps its SSRC.
//     INFO application/media_control+xml picture_fast_update (RFC 5168)
//     asks the source the caller sees for a keyframe; a caller that
//     negotiated neither PLI nor FIR is asked for keyframes the same way.
//
// Dial-out (Server.Dialer, a conf.Dialer for sip:, sips: and tel:) is in
// dialout.go. The IVR lobby for calls without a conference, digest
// authentication of callers, SRTP and RFC 4733 sending are not here yet.
package sip
