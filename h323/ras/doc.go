// Package ras is Roomgate's gatekeeper client: the H.225.0 RAS channel
// (Registration, Admission and Status, H.225.0 clause 7) over UDP. A Client
// registers our call signalling address and aliases with one gatekeeper
// (optionally after GRQ discovery), keeps the registration alive with
// lightweight RRQs before timeToLive runs out, registers again with backoff
// after a rejection, a timeout or a gatekeeper's URQ, asks admission (ARQ)
// before each call and reports its end (DRQ), and answers the gatekeeper's
// IRQ, DRQ, BRQ and URQ.
//
// Decisions:
//   - Requests are retransmitted with the same requestSeqNum after Timeout,
//     Retries times (H.225.0 RAS timers: 3 s, 2 retries, as h323plus does);
//     RequestInProgress extends the wait without a retransmission. Answers
//     are matched by requestSeqNum and kind only, not by source address: a
//     gatekeeper may answer from another address than it was sent to. Its
//     own requests (URQ, DRQ, IRQ, BRQ) are taken only from the
//     gatekeeper's IP address, so that nobody else can unregister us or
//     end our calls.
//   - The socket is not connected for the same reason; the addresses we
//     announce (rasAddress, callSignalAddress) use the local IP that routes
//     to the gatekeeper when the configured ones are unspecified.
//   - Each conference ID is registered as a dialedDigits alias (an h323-ID
//     when it has other characters), next to our own h323-ID; a change of
//     the list is a full RRQ, since a lightweight one carries no aliases.
//   - The keep-alive goes at three quarters of the granted timeToLive.
//   - We register as an MCU: room systems and gatekeepers route conference
//     numbers to MCUs.
//   - DRQ runs in the background so that ending a call never waits for the
//     gatekeeper; Close gives DRQs in flight one request timeout, then
//     unregisters (URQ) within one request's retransmission time.
//   - After the gatekeeper's URQ we register again after MinBackoff, not at
//     once: it may be going down for maintenance.
//   - Unsolicited IRRs (irrFrequency in ACF) are not sent: GnuGk and the
//     common gatekeepers poll with IRQ, which we answer.
//
// It owns the RAS socket, its timers and the registration state only: no
// call signalling (h323/call asks Admit and Disengage) and no message
// content (h323/h225 builds and parses the PDUs).
package ras
