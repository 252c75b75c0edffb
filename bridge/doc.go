package bridge

// Design notes (the package comment is in api.go).
//
// Goroutines. A leg runs one goroutine per socket (RTP, RTCP) that parses
// packets and feeds the jitter buffer, and, when OnEvent is set, one that
// delivers events so a slow callback never delays media (and may call Close).
// A room runs one mixer goroutine on a 20 ms clock (absolute deadlines with
// bounded catch-up, see pacer.go); a room of more than
// parallelSendMin legs also spreads its sends over GOMAXPROCS-1 workers. The
// mixer never blocks on a leg: it takes each leg's mutex only to pull a frame
// (the reader holds it only to insert a packet), and sends with non-blocking
// sendto(2) whose failures are counted, never retried.
//
// Symmetric RTP. A leg sends to the signalled address until the first valid
// packet (negotiated payload type, well-formed) arrives, then to that
// packet's source. It re-latches only when a packet with a new SSRC arrives
// or after Update; packets from another address with the latched SSRC are
// dropped and counted as wrong-source.
//
// What is mixed. Only SendRecv legs are mixed; SendRecv and SendOnly legs are
// sent to; RecvOnly and Inactive legs are held: neither. RFC 4733 events are
// never mixed: they become EventDTMF once per event (identified by its RTP
// timestamp) and leave a "skip" in the jitter buffer so that their sequence
// numbers are not concealed as loss. A stream that negotiated no
// telephone-event can only carry digits in-band: the mixer passes each of its
// decoded frames through a dtmf.Suppressor, which reports presses as
// EventDTMF with Source SourceInband and silences the frames around a tone, so
// the room never hears the keys (the leg's audio is one frame later for it).
// Such a leg is scanned even while muted.
//
// Sending. Each leg has its own random SSRC, sequence number and timestamp
// for its life. The timestamp advances by one frame per tick even while the
// leg is held, so that it tracks wall time; the first packet after a pause
// carries the marker bit. The RTP timestamp step is the codec's clock
// (G.722's is 8000 Hz, RFC 3551).
//
// Prompts and volume. What a leg hears is normally the room's shared encode;
// it gets its own encode while it is heard in the mix (a talker's
// mix-minus), while a private prompt plays to it (mixed at the leg's own
// rate over its room audio ducked by 10 dB, see leg_play.go) and while it
// has a listen gain. Room announcements are summed into the mix like one
// more talker, so they cost nothing per leg (announce.go). Talk gain scales
// a leg's decoded frame before talker detection; all gains are Q14 fixed
// point with saturation (gain.go). Players and generators are made when a
// prompt or digit is queued, never in a tick.
//
// DTMF out. PassDigit adds a generated tone to the leg's contribution to the
// mix after its in-band suppressor, so the others hear it and the presser
// does not (mix-minus); SendDigits replaces the leg's audio packets by RFC
// 4733 events, one per tick (leg_digits.go). The event timestamps and
// durations use the audio codec's RTP clock: signalling must negotiate the
// telephone-event of the same rate (telephone-event/48000 with Opus).
//
// Media timeout. A SendRecv leg that has received no RTP for MediaTimeout
// since its last packet, Start or Update gets EventMediaTimeout and is then
// closed with cause ErrMediaTimeout (Done fires); held legs never time out.
//
// RTCP. Every 2.5–7.5 s (RFC 3550 §6.3.1 randomisation of a 5 s interval) a
// leg sends an SR (or RR when it sent nothing since the last report) with one
// reception report block and an SDES CNAME to where the peer's RTCP comes
// from, else the signalled RTCP address, else RTP port + 1. Incoming reports
// about our SSRC fill LegStats.RemoteLost and RemoteJitterMs.
