package codec

import (
	"errors"
	"testing"

	"github.com/thesyncim/gopus"
)

// peerOpus encodes like a peer would: stereo or mono, any frame duration.
func peerOpus(t testing.TB, channels, frameSamples int) *gopus.Encoder {
	t.Helper()
	enc, err := gopus.NewEncoder(gopus.EncoderConfig{SampleRate: 48000, Channels: channels, Application: gopus.ApplicationAudio})
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.SetFrameSize(frameSamples); err != nil {
		t.Fatal(err)
	}
	return enc
}

// interleave makes stereo PCM with l in the left and r in the right channel.
func interleave(l, r []int16) []int16 {
	out := make([]int16, 2*len(l))
	for i := range l {
		out[2*i], out[2*i+1] = l[i], r[i]
	}
	return out
}

// Peers such as baresip send stereo Opus; the decoder downmixes to mono.
func TestOpusDecodesStereoPackets(t *testing.T) {
	enc := peerOpus(t, 2, 960)
	_, dec := pair(t, "opus")
	packet := make([]byte, 1500)
	pcm := make([]int16, MaxDecodeSamples)
	var out []int16
	for f := range 25 {
		// 1 kHz on the left only: the downmix must still carry it.
		l := tone(960, f*960, 1000, 48000, 12000)
		r := make([]int16, 960)
		n, err := enc.EncodeInt16(interleave(l, r), packet)
		if err != nil {
			t.Fatal(err)
		}
		if packet[0]&0x04 == 0 {
			t.Fatalf("frame %d: peer packet is not stereo (TOC %#02x)", f, packet[0])
		}
		m, err := dec.Decode(packet[:n], pcm)
		if err != nil || m != 960 {
			t.Fatalf("frame %d: Decode = %d, %v; want 960, nil", f, m, err)
		}
		if f >= 5 {
			out = append(out, pcm[:m]...)
		}
	}
	if f := dominant(out, 48000); f != 1000 {
		t.Errorf("dominant frequency %v, want 1000", f)
	}
	// Downmixing halves a one-sided signal: 12000 → about 6000.
	if a := toneAmplitude(out, 1000, 48000); a < 4000 || a > 8000 {
		t.Errorf("downmixed amplitude %.0f, want about 6000", a)
	}
	if snr := toneSNR(out, 1000, 48000); snr < 25 {
		t.Errorf("SNR %.1f dB, want at least 25", snr)
	}
}

// Packets of other durations decode to their own length; the caller frames.
func TestOpusPacketDurations(t *testing.T) {
	for _, samples := range []int{480, 960, 1920, 2880, 5760} {
		enc := peerOpus(t, 1, samples)
		_, dec := pair(t, "opus")
		packet := make([]byte, 4000)
		pcm := make([]int16, MaxDecodeSamples)
		n, err := enc.EncodeInt16(tone(samples, 0, 1000, 48000, 8000), packet)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := dec.Decode(packet[:n], pcm); err != nil || m != samples {
			t.Errorf("%d-sample packet: Decode = %d, %v", samples, m, err)
		}
		if samples > 960 {
			if _, err := dec.Decode(packet[:n], pcm[:960]); !errors.Is(err, ErrShortBuffer) {
				t.Errorf("%d-sample packet into 960: err = %v, want ErrShortBuffer", samples, err)
			}
		}
	}
}

func TestOpusRejectsGarbage(t *testing.T) {
	_, dec := pair(t, "opus")
	pcm := make([]int16, MaxDecodeSamples)
	// Code 3 packet (TOC c=3) with a frame count byte of 0: invalid (RFC 6716 3.2.5).
	for _, p := range [][]byte{{0x03}, {0x03, 0x00}, {0xFF, 0xFF}, {0x01, 0xFF}} {
		if _, err := dec.Decode(p, pcm); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Decode(% x) err = %v, want ErrCorrupt", p, err)
		}
	}
}

// A lost packet is recovered from the next one's in-band FEC better than
// concealment can guess it, because our encoder sends LBRR data.
func TestOpusFEC(t *testing.T) {
	enc, _ := pair(t, "opus")
	_, withFEC := pair(t, "opus")
	_, withPLC := pair(t, "opus")
	fd, ok := withFEC.(FECDecoder)
	if !ok {
		t.Fatal("opus decoder does not implement FECDecoder")
	}
	if _, ok := mustDecoder(t, "PCMU").(FECDecoder); ok {
		t.Error("PCMU decoder claims FEC")
	}
	var packets [][]byte
	// A tone whose pitch changes every frame: concealment, which extends
	// the last frame, cannot predict it; FEC carries it.
	freqs := []float64{600, 900}
	for f := range 30 {
		out := make([]byte, MaxPayload)
		n, err := enc.Encode(tone(960, f*960, freqs[f%2], 48000, 9000), out)
		if err != nil {
			t.Fatal(err)
		}
		packets = append(packets, out[:n])
	}
	const lost = 20
	pcm := make([]int16, MaxDecodeSamples)
	var recovered, concealed []int16
	for f, p := range packets {
		if f == lost {
			n, err := fd.DecodeFEC(packets[f+1], pcm)
			if err != nil || n != 960 {
				t.Fatalf("DecodeFEC = %d, %v", n, err)
			}
			recovered = append([]int16(nil), pcm[:n]...)
			n, err = withPLC.Conceal(pcm)
			if err != nil {
				t.Fatal(err)
			}
			concealed = append([]int16(nil), pcm[:n]...)
			continue
		}
		for _, d := range []Decoder{withFEC, withPLC} {
			if _, err := d.Decode(p, pcm); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := freqs[lost%2]
	if f := dominant(recovered, 48000); f != want {
		t.Errorf("FEC recovered a %v Hz frame, want %v", f, want)
	}
	ar, ac := toneAmplitude(recovered, want, 48000), toneAmplitude(concealed, want, 48000)
	t.Logf("amplitude of the lost %v Hz: FEC %.0f, concealment %.0f", want, ar, ac)
	if ar < 4500 || ar < 2*ac {
		t.Errorf("FEC amplitude %.0f (concealment %.0f), want above 4500 and twice concealment", ar, ac)
	}
	if _, err := fd.DecodeFEC(nil, pcm); err == nil {
		t.Error("DecodeFEC(nil) succeeded")
	}
	if _, err := fd.DecodeFEC([]byte{0x03}, pcm); !errors.Is(err, ErrCorrupt) {
		t.Errorf("DecodeFEC(garbage) err = %v, want ErrCorrupt", err)
	}
}

func mustDecoder(t *testing.T, name string) Decoder {
	t.Helper()
	_, d := pair(t, name)
	return d
}

// A panic inside the library's decoder costs one packet: it becomes
// ErrCorrupt, and the decoder keeps working.
func TestOpusContainsPanic(t *testing.T) {
	enc, dec := pair(t, "opus")
	od := dec.(*opusDecoder)
	n, err := func() (n int, err error) {
		defer od.contain("decoding opus", &n, &err)
		n = 5
		panic("index out of range")
	}()
	if n != 0 || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("after panic: %d, %v; want 0, ErrCorrupt", n, err)
	}
	packet := make([]byte, MaxPayload)
	m, err := enc.Encode(tone(960, 0, 1000, 48000, 8000), packet)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := dec.Decode(packet[:m], make([]int16, 960)); err != nil || k != 960 {
		t.Errorf("Decode after a contained panic = %d, %v", k, err)
	}
}
