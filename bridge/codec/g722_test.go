package codec

import "testing"

// 10 ms and 30 ms packets from some phones decode to their own length, and
// the stream stays continuous across differing packet sizes.
func TestG722OddPacketSizes(t *testing.T) {
	enc, _ := pair(t, "G722")
	_, dec := pair(t, "G722")
	var stream []byte
	payload := make([]byte, MaxPayload)
	for f := range 20 {
		n, err := enc.Encode(tone(320, f*320, 1000, 16000, 8000), payload)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, payload[:n]...)
	}
	pcm := make([]int16, MaxDecodeSamples)
	var out []int16
	for _, size := range []int{80, 240, 160, 80, 240, 160, 240, 80, 160, 240, 80, 80, 160, 240, 160, 80, 240, 160, 80, 240, 160, 160, 160} {
		if len(stream) < size {
			break
		}
		m, err := dec.Decode(stream[:size], pcm)
		if err != nil || m != 2*size {
			t.Fatalf("Decode(%d bytes) = %d, %v; want %d", size, m, err, 2*size)
		}
		out = append(out, pcm[:m]...)
		stream = stream[size:]
	}
	out = out[1600:] // skip adaptation, keep whole periods
	out = out[:len(out)/16*16]
	if snr := toneSNR(out, 1000, 16000); snr < 40 {
		t.Errorf("SNR %.1f dB across odd packet sizes, want at least 40", snr)
	}
}
