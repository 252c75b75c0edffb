// Package interop holds Roomgate's interoperability tests: the real server
// binary is built once, started on free loopback ports, and driven by real
// third-party SIP peers from Debian (sipp, baresip, linphonec) exactly as a
// customer's phones and load generators would drive it.
//
// The non-test files of this package are the measuring instruments those tests
// rely on, kept here so they can be unit-tested on their own: a tolerant WAV
// reader and writer (peers write recordings whose headers are not final) and a
// tone analyser (Goertzel filters over short windows) that decides whether a
// recording contains a tone clearly above its noise floor. They do not start
// processes and have no knowledge of SIP; the process harness lives in the
// _test.go files.
//
// Every peer talks only to 127.0.0.1. A missing peer binary fails the test with
// the Debian package to install; it is never skipped.
package interop
