package codec_test

import (
	"fmt"

	"github.com/roomgate/roomgate/bridge/codec"
)

// A leg's receive path: look the negotiated codec up, decode each payload
// into a buffer that fits any packet, and conceal lost packets, preferring
// FEC when the next packet has already arrived.
func Example() {
	info, err := codec.Lookup("PCMU") // from a=rtpmap:0 PCMU/8000
	if err != nil {
		panic(err)
	}
	enc, _ := codec.NewEncoder(info)
	dec, _ := codec.NewDecoder(info)

	frame := make([]int16, info.SamplesPerFrame()) // 20 ms of silence
	payload := make([]byte, codec.MaxPayload)
	n, _ := enc.Encode(frame, payload)

	pcm := make([]int16, codec.MaxDecodeSamples)
	got, _ := dec.Decode(payload[:n], pcm)
	fmt.Println(info.Name, n, "bytes,", got, "samples, timestamp step", info.TimestampStep())

	if fd, ok := dec.(codec.FECDecoder); ok {
		_, _ = fd.DecodeFEC(payload[:n], pcm)
	} else {
		got, _ = dec.Conceal(pcm)
		fmt.Println("concealed", got, "samples")
	}
	// Output:
	// PCMU 160 bytes, 160 samples, timestamp step 160
	// concealed 160 samples
}
