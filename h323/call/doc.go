// Package call turns H.323 calls into conference legs: it listens for
// H.225.0 call signalling on TCP (normally port 1720), answers Setup with
// Fast Connect or slow start, runs H.245 tunnelled or on a separate TCP
// channel (capability exchange and master/slave determination as an MCU,
// audio logical channels), feeds DTMF into a digit hook and releases calls
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
//
// It owns call state, timers and transports only. Message content comes from
// packages h225, h245, q931 and tpkt; media is a bridge leg reached through
// MediaFactory; admission is conf's business, reached through Conferences.
// It must not import other signalling protocols, and it knows nothing of
// conference rules beyond mapping conf errors to Q.931 causes.
package call
