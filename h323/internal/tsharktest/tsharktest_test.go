package tsharktest

import (
	"testing"

	"github.com/roomgate/roomgate/h323/internal/vectors"
	"github.com/roomgate/roomgate/h323/tpkt"
)

// TestOracleSeesMalformed proves the check can fail: the malformed Setup of the nDPI capture
// must be reported, and a well-formed captured Setup must not.
func TestOracleSeesMalformed(t *testing.T) {
	var good, bad []byte
	for _, v := range vectors.Load(t, "q931") {
		switch {
		case v.Capture == "ndpi-h323.pcap" && v.Frame == "65":
			bad, _ = tpkt.Append(nil, v.Data)
		case v.Capture == "h323plus-slow-tunnel.pcapng" && v.Frame == "4":
			good, _ = tpkt.Append(nil, v.Data)
		}
	}
	_, problems, err := Run([]Frame{{Name: "bad", Payload: bad}})
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) == 0 {
		t.Error("malformed Setup not reported")
	}
	lines, problems, err := Run([]Frame{{Name: "good", Payload: good}})
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 0 || len(lines) != 1 {
		t.Errorf("captured Setup reported: %v", problems)
	}
}
