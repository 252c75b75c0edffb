package dtmf

import (
	"testing"

	"github.com/roomgate/roomgate/bridge/codec"
)

// TestDetectorThroughCodecs sends generated digits through each codec the
// bridge speaks, as a phone's in-band DTMF arrives, and detects them on the
// decoded audio.
func TestDetectorThroughCodecs(t *testing.T) {
	const want = "0123456789*#ABCD"
	for _, name := range []string{"PCMU", "PCMA", "G722", "opus"} {
		t.Run(name, func(t *testing.T) {
			info, err := codec.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := codec.NewEncoder(info)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := codec.NewDecoder(info)
			if err != nil {
				t.Fatal(err)
			}
			rate := info.SampleRate
			g, err := NewGenerator(rate, -10, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Queue(want); err != nil {
				t.Fatal(err)
			}
			d, err := NewDetector(DetectorConfig{Rate: rate})
			if err != nil {
				t.Fatal(err)
			}
			frame := make([]int16, info.SamplesPerFrame())
			out := make([]int16, info.SamplesPerFrame())
			payload := make([]byte, codec.MaxPayload)
			var tones []Tone
			for range 200 { // 4 s: the digits and silence after
				g.Fill(frame)
				n, err := enc.Encode(frame, payload)
				if err != nil {
					t.Fatal(err)
				}
				m, err := dec.Decode(payload[:n], out)
				if err != nil {
					t.Fatal(err)
				}
				tones = d.Process(tones, out[:m])
			}
			got := ""
			for _, x := range tones {
				got += string(x.Digit)
			}
			if got != want {
				t.Errorf("detected %q, want %q", got, want)
			}
		})
	}
}
