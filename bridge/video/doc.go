// Package video is the bridge's H.264 video switching core: it inspects
// RTP payloads (RFC 6184) without allocating, caches each source's SPS and
// PPS, and routes one source at a time to every receiver as a single
// continuous RTP stream, switching on the active speaker with a hold time,
// pinning, camera-off detection and keyframe requests. It also reads the
// picture size out of an SPS (ParseSPS) for the participant list.
//
// It owns the per-receiver rewriting of SSRC, sequence numbers and
// timestamps, the NACK retransmission cache of each receiver stream, and the
// lowest-common bandwidth limit of each source. It does not decode or
// encode video, does not open sockets and knows nothing of SIP, rooms or
// rights: the signalling layers feed it packets and RTCP, and it calls back
// through [Sink] and [Config.RequestKeyframe].
//
// Decisions (where the specifications leave a choice):
//
//   - After a switch the receiver keeps seeing the old source until the new
//     source starts an IDR picture; it never freezes on purpose. The cut is
//     at the first packet of the IDR slice with first_mb_in_slice 0, and
//     the source's SPS and PPS, cached from in-band packets (or from
//     sprop-parameter-sets), go just before it as one STAP-A with the IDR's
//     timestamp, unless that packet carries both already. SEI and AUD units
//     between the access unit start and the IDR slice are dropped.
//   - Neither stream is cut mid-frame: when the new IDR starts while the old
//     source's current frame is still being sent, the IDR's packets wait in
//     the new source's small ring of recent packets until the old frame's
//     marker packet is out (or the old source's next frame starts, or
//     100 ms pass), then follow at once.
//   - The new source's first frame is timestamped one frame interval (the
//     old source's measured one, 90 kHz) after the last frame sent;
//     sequence numbers continue by one; gaps the source had stay gaps.
//     A late packet numbered before the cut-over is dropped; the cut-over
//     mark then trails the stream by 1024 packets, so that a source on
//     screen for longer than half the sequence space is never taken for
//     one from before the switch.
//   - Hysteresis: a new speaker must stay the reported speaker for
//     [Config.Hold] before the picture switches, so a cough never does.
//   - Keyframe requests on a switch or join are sent at once unless one to
//     the same source is already outstanding, then repeated every
//     [Config.KeyframeRepeat] until an IDR arrives, at most
//     [Config.KeyframeRetries] times. Receivers' PLI/FIR are forwarded to
//     their source at most once per [Config.ReceiverRequestInterval].
//   - Conference modes stay outside: an asymmetric conference pins the
//     presenter, a role-based one reports only podium speakers to
//     SetSpeaker.
//   - Memory is fixed up front: each receiver stream keeps
//     [Config.NackHistory] slots of [Config.MaxPacketSize] bytes (768 KiB
//     by default) and each source a 128-packet ring, so forwarding never
//     allocates.
package video
