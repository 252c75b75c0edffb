// Package call turns H.323 calls into conference legs: it listens for
// H.225.0 call signalling on TCP (normally port 1720), answers Setup with
// Fast Connect or slow start, runs H.245 tunnelled or on a separate TCP
// channel (capability exchange and master/slave determination as an MCU,
// audio logical channels), feeds DTMF into a digit hook and releases calls
// with a Q.931 cause. Dial is the calling side of the same machinery.
//
// It owns call state, timers and transports only. Message content comes from
// packages h225, h245, q931 and tpkt; media is a bridge leg reached through
// MediaFactory; admission is conf's business, reached through Conferences.
// It must not import other signalling protocols, and it knows nothing of
// conference rules beyond mapping conf errors to Q.931 causes.
package call
