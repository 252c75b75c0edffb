// Package loadgen is the engine of the roomload tool: it opens many real SIP
// legs on loopback against a Roomgate server, streams 20 ms G.711 µ-law RTP
// from each leg, listens to the mixed audio the server sends back, and reports
// what an operator needs to size a machine: server CPU and memory per
// participant, packet loss and lateness, jitter of the mixed output, join time,
// mixer tick durations and the delay the bridge adds.
//
// The package drives the server only from the outside (SIP over one UDP
// socket, RTP over one UDP socket per leg, the REST API and /metrics, /proc of
// the server process). It must not import the server's packages: a load tool
// that shares code with what it measures can hide the very bugs it is meant
// to find.
package loadgen
