package dtmf_test

import (
	"fmt"
	"time"

	"github.com/roomgate/roomgate/bridge/dtmf"
)

// A leg's audio, decoded to 8 kHz, goes through a Detector frame by frame;
// each press it reports joins the leg's Stream with the digits that came by
// RFC 4733 or SIP INFO.
func Example() {
	det, _ := dtmf.NewDetector(dtmf.DetectorConfig{Rate: 8000})
	stream, _ := dtmf.NewStream(dtmf.StreamConfig{})
	gen, _ := dtmf.NewGenerator(8000, 0, 0, 0)
	_ = gen.Queue("42#")

	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	frame := make([]int16, 160)
	var tones []dtmf.Tone
	for range 40 { // 800 ms of audio, 20 ms at a time
		gen.Fill(frame)
		tones = det.Process(tones[:0], frame)
		for _, t := range tones {
			d, v := stream.Push(t.Digit, dtmf.SourceInband, now)
			fmt.Printf("%c %v\n", d, v)
		}
		now = now.Add(20 * time.Millisecond)
	}
	// The phone also sent the last key as an INFO: the same press.
	info, _ := dtmf.ParseInfo("application/dtmf-relay", []byte("Signal=#\r\nDuration=100\r\n"))
	d, v := stream.Push(info.Digit, dtmf.SourceINFO, now)
	fmt.Printf("%c %v\n", d, v)
	// Output:
	// 4 accepted
	// 2 accepted
	// # accepted
	// # duplicate
}
