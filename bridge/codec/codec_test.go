package codec

import (
	"errors"
	"fmt"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name string
		want Info
	}{
		{"PCMU", Info{Name: "PCMU", ClockRate: 8000, Channels: 1, SampleRate: 8000, StaticPT: 0}},
		{"pcmu", Info{Name: "PCMU", ClockRate: 8000, Channels: 1, SampleRate: 8000, StaticPT: 0}},
		{"PCMA", Info{Name: "PCMA", ClockRate: 8000, Channels: 1, SampleRate: 8000, StaticPT: 8}},
		{"g722", Info{Name: "G722", ClockRate: 8000, Channels: 1, SampleRate: 16000, StaticPT: 9}},
		{"OPUS", Info{Name: "opus", ClockRate: 48000, Channels: 2, SampleRate: 48000, StaticPT: -1, Fmtp: "minptime=10;useinbandfec=1"}},
	}
	for _, tt := range tests {
		got, err := Lookup(tt.name)
		if err != nil || got != tt.want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	for _, name := range []string{"telephone-event", "G729", "", "PCM", "PCMUX", "opus/48000/2", "L16"} {
		if _, err := Lookup(name); !errors.Is(err, ErrUnknownCodec) {
			t.Errorf("Lookup(%q) err = %v, want ErrUnknownCodec", name, err)
		}
	}
}

func TestInfoFrames(t *testing.T) {
	tests := []struct {
		name    string
		samples int
		step    uint32
	}{{"PCMU", 160, 160}, {"PCMA", 160, 160}, {"G722", 320, 160}, {"opus", 960, 960}}
	for _, tt := range tests {
		info, err := Lookup(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if info.SamplesPerFrame() != tt.samples || info.TimestampStep() != tt.step {
			t.Errorf("%s: %d samples, step %d; want %d, %d", tt.name, info.SamplesPerFrame(), info.TimestampStep(), tt.samples, tt.step)
		}
	}
}

func TestSupported(t *testing.T) {
	got := Supported()
	if len(got) != 4 {
		t.Fatalf("Supported() has %d codecs, want 4", len(got))
	}
	seen := map[string]bool{}
	for _, info := range got {
		l, err := Lookup(info.Name)
		if err != nil || l != info {
			t.Errorf("Supported entry %+v differs from Lookup: %+v, %v", info, l, err)
		}
		seen[info.Name] = true
	}
	if len(seen) != 4 {
		t.Errorf("Supported() repeats a codec: %v", got)
	}
	got[0].Name = "mutated"
	if Supported()[0].Name == "mutated" {
		t.Error("Supported() shares its slice between calls")
	}
}

func TestNewRejects(t *testing.T) {
	bad := []Info{
		{Name: "telephone-event", ClockRate: 8000},
		{Name: "PCMU", ClockRate: 16000},
		{Name: "G722", ClockRate: 16000},
		{Name: "opus", ClockRate: 48000, Channels: 3},
		{Name: "PCMA", ClockRate: 8000, Channels: 2},
	}
	for _, info := range bad {
		if _, err := NewEncoder(info); !errors.Is(err, ErrUnknownCodec) {
			t.Errorf("NewEncoder(%+v) err = %v, want ErrUnknownCodec", info, err)
		}
		if _, err := NewDecoder(info); !errors.Is(err, ErrUnknownCodec) {
			t.Errorf("NewDecoder(%+v) err = %v, want ErrUnknownCodec", info, err)
		}
	}
	// Name only, and a mono Opus rtpmap, are accepted.
	for _, info := range []Info{{Name: "pcma"}, {Name: "opus", ClockRate: 48000, Channels: 1}} {
		if _, err := NewDecoder(info); err != nil {
			t.Errorf("NewDecoder(%+v): %v", info, err)
		}
	}
}

// pair returns a fresh encoder and decoder for name.
func pair(t testing.TB, name string) (Encoder, Decoder) {
	t.Helper()
	info, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncoder(info)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(info)
	if err != nil {
		t.Fatal(err)
	}
	if enc.Info() != info || dec.Info() != info {
		t.Fatalf("Info() = %+v / %+v, want %+v", enc.Info(), dec.Info(), info)
	}
	return enc, dec
}

// roundTrip encodes frames of a tone and returns the decoded PCM after
// skipping the first skip frames (codec delay and adaptation).
func roundTrip(t *testing.T, name string, freq, amp float64, frames, skip int) ([]int16, Info) {
	t.Helper()
	enc, dec := pair(t, name)
	info := enc.Info()
	spf := info.SamplesPerFrame()
	var out []int16
	payload := make([]byte, MaxPayload)
	pcm := make([]int16, MaxDecodeSamples)
	for f := range frames {
		in := tone(spf, f*spf, freq, float64(info.SampleRate), amp)
		n, err := enc.Encode(in, payload)
		if err != nil {
			t.Fatalf("%s frame %d: Encode: %v", name, f, err)
		}
		m, err := dec.Decode(payload[:n], pcm)
		if err != nil {
			t.Fatalf("%s frame %d: Decode: %v", name, f, err)
		}
		if m != spf {
			t.Fatalf("%s frame %d: decoded %d samples, want %d", name, f, m, spf)
		}
		if f >= skip {
			out = append(out, pcm[:m]...)
		}
	}
	return out, info
}

func TestRoundTripTones(t *testing.T) {
	tests := []struct {
		codec  string
		freq   float64
		minSNR float64 // dB
	}{
		{"PCMU", 1000, 35},
		{"PCMA", 1000, 35},
		{"PCMU", 3000, 35},
		{"G722", 1000, 40},
		{"G722", 6000, 22}, // the upper sub-band has 2 bits per sample
		{"opus", 1000, 35},
		{"opus", 400, 35},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v", tt.codec, tt.freq), func(t *testing.T) {
			out, info := roundTrip(t, tt.codec, tt.freq, 8000, 25, 5)
			rate := float64(info.SampleRate)
			if f := dominant(out, rate); f != tt.freq {
				t.Errorf("dominant frequency %v Hz, want %v", f, tt.freq)
			}
			snr := toneSNR(out, tt.freq, rate)
			amp := toneAmplitude(out, tt.freq, rate)
			t.Logf("SNR %.1f dB, amplitude %.0f", snr, amp)
			if snr < tt.minSNR {
				t.Errorf("SNR %.1f dB, want at least %v", snr, tt.minSNR)
			}
			if amp < 8000*0.8 || amp > 8000*1.2 {
				t.Errorf("amplitude %.0f, want 8000 ± 20%%", amp)
			}
		})
	}
}

func TestEncodeRejectsBadFrames(t *testing.T) {
	for _, info := range Supported() {
		enc, err := NewEncoder(info)
		if err != nil {
			t.Fatal(err)
		}
		spf := info.SamplesPerFrame()
		out := make([]byte, MaxPayload)
		for _, n := range []int{0, spf - 1, spf + 1, spf / 2} {
			if _, err := enc.Encode(make([]int16, n), out); !errors.Is(err, ErrFrameSize) {
				t.Errorf("%s: Encode(%d samples) err = %v, want ErrFrameSize", info.Name, n, err)
			}
		}
		if _, err := enc.Encode(make([]int16, spf), out[:10]); !errors.Is(err, ErrShortBuffer) {
			t.Errorf("%s: Encode into 10 bytes err = %v, want ErrShortBuffer", info.Name, err)
		}
	}
}

func TestDecodeRejectsEmpty(t *testing.T) {
	for _, info := range Supported() {
		dec, err := NewDecoder(info)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dec.Decode(nil, make([]int16, MaxDecodeSamples)); !errors.Is(err, ErrFrameSize) {
			t.Errorf("%s: Decode(nil) err = %v, want ErrFrameSize", info.Name, err)
		}
		if _, err := dec.Conceal(make([]int16, info.SamplesPerFrame()-1)); !errors.Is(err, ErrShortBuffer) {
			t.Errorf("%s: Conceal into short buffer err = %v, want ErrShortBuffer", info.Name, err)
		}
	}
}

// Every decoder conceals a loss with audio that continues the signal and
// then fades: louder than silence at first, quieter than the original.
func TestConceal(t *testing.T) {
	for _, info := range Supported() {
		t.Run(info.Name, func(t *testing.T) {
			enc, dec := pair(t, info.Name)
			spf := info.SamplesPerFrame()
			rate := float64(info.SampleRate)
			payload := make([]byte, MaxPayload)
			pcm := make([]int16, MaxDecodeSamples)
			var last float64
			for f := range 10 {
				n, err := enc.Encode(tone(spf, f*spf, 500, rate, 8000), payload)
				if err != nil {
					t.Fatal(err)
				}
				m, err := dec.Decode(payload[:n], pcm)
				if err != nil {
					t.Fatal(err)
				}
				last = energy(pcm[:m])
			}
			prev := last
			for i := range 3 {
				n, err := dec.Conceal(pcm)
				if err != nil || n != spf {
					t.Fatalf("Conceal #%d = %d, %v; want %d, nil", i, n, err, spf)
				}
				e := energy(pcm[:n])
				if e == 0 || e > prev*1.05 {
					t.Errorf("Conceal #%d energy %.3g after %.3g, want non-zero and not growing", i, e, prev)
				}
				// Opus's pitch-based concealment may drift by a bin.
				if f := dominant(pcm[:n], rate); f < 450 || f > 550 {
					t.Errorf("Conceal #%d dominant frequency %v, want 500 ± 50", i, f)
				}
				prev = e
			}
			// A long loss ends in (near) silence.
			for range 20 {
				if _, err := dec.Conceal(pcm); err != nil {
					t.Fatal(err)
				}
			}
			if e := energy(pcm[:spf]); e > last*1e-3 {
				t.Errorf("after 23 lost frames energy %.3g, want below %.3g", e, last*1e-3)
			}
			// Decoding resumes normally.
			n, err := enc.Encode(tone(spf, 0, 500, rate, 8000), payload)
			if err != nil {
				t.Fatal(err)
			}
			if m, err := dec.Decode(payload[:n], pcm); err != nil || m != spf {
				t.Errorf("Decode after loss = %d, %v", m, err)
			}
		})
	}
}

func TestConcealBeforeAnyPacket(t *testing.T) {
	for _, info := range Supported() {
		dec, err := NewDecoder(info)
		if err != nil {
			t.Fatal(err)
		}
		pcm := make([]int16, info.SamplesPerFrame())
		for i := range pcm {
			pcm[i] = 1234
		}
		n, err := dec.Conceal(pcm)
		if err != nil || n != len(pcm) {
			t.Fatalf("%s: Conceal = %d, %v", info.Name, n, err)
		}
		if e := energy(pcm); e != 0 {
			t.Errorf("%s: concealment before any packet has energy %v, want silence", info.Name, e)
		}
	}
}
