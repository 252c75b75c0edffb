// Package sip is Roomgate's SIP signalling: it accepts calls from room
// systems and softphones over UDP and TCP, negotiates one audio stream per
// call with SDP offer/answer (RFC 3264), asks conf whether the caller may
// join the conference named in the Request-URI, and drives the call's media
// leg in the bridge through hold, resume, codec changes, session timers
// (RFC 4028) and hang-up.
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
//   - A message the stack cannot parse is answered 400 when its request line
//     and a Via can still be read, and counted in
//     roomgate_sip_malformed_messages_total either way.
package sip
