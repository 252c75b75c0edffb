package codec

import (
	"math"
	"testing"
)

// speechLike is a frame with a few harmonics and a little noise, so that
// encoders do real work rather than coding a trivial signal.
func speechLike(n, rate int) []int16 {
	out := make([]int16, n)
	seed := uint32(1)
	for i := range out {
		t := float64(i) / float64(rate)
		v := 4000*math.Sin(2*math.Pi*180*t) + 2500*math.Sin(2*math.Pi*360*t+1) + 1200*math.Sin(2*math.Pi*1250*t+2)
		seed = seed*1664525 + 1013904223
		v += float64(int32(seed>>16)&0x3FF) - 512
		out[i] = int16(v)
	}
	return out
}

func benchEncode(b *testing.B, name string) {
	enc, _ := pair(b, name)
	info := enc.Info()
	pcm := speechLike(info.SamplesPerFrame(), info.SampleRate)
	out := make([]byte, MaxPayload)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := enc.Encode(pcm, out); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDecode(b *testing.B, name string) {
	enc, dec := pair(b, name)
	info := enc.Info()
	spf := info.SamplesPerFrame()
	// A second of encoded frames, decoded in a loop, so that stateful
	// decoders see a real stream.
	var packets [][]byte
	for range 50 {
		out := make([]byte, MaxPayload)
		pcm := speechLike(spf, info.SampleRate)
		n, err := enc.Encode(pcm, out)
		if err != nil {
			b.Fatal(err)
		}
		packets = append(packets, out[:n])
	}
	pcm := make([]int16, MaxDecodeSamples)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := dec.Decode(packets[i%len(packets)], pcm); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchConceal(b *testing.B, name string) {
	enc, dec := pair(b, name)
	info := enc.Info()
	out := make([]byte, MaxPayload)
	n, err := enc.Encode(speechLike(info.SamplesPerFrame(), info.SampleRate), out)
	if err != nil {
		b.Fatal(err)
	}
	pcm := make([]int16, MaxDecodeSamples)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		// One loss after every packet, the common case.
		if _, err := dec.Decode(out[:n], pcm); err != nil {
			b.Fatal(err)
		}
		if _, err := dec.Conceal(pcm); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePCMU(b *testing.B) { benchEncode(b, "PCMU") }
func BenchmarkEncodePCMA(b *testing.B) { benchEncode(b, "PCMA") }
func BenchmarkEncodeG722(b *testing.B) { benchEncode(b, "G722") }
func BenchmarkEncodeOpus(b *testing.B) { benchEncode(b, "opus") }
func BenchmarkDecodePCMU(b *testing.B) { benchDecode(b, "PCMU") }
func BenchmarkDecodePCMA(b *testing.B) { benchDecode(b, "PCMA") }
func BenchmarkDecodeG722(b *testing.B) { benchDecode(b, "G722") }
func BenchmarkDecodeOpus(b *testing.B) { benchDecode(b, "opus") }

func BenchmarkDecodeConcealPCMU(b *testing.B) { benchConceal(b, "PCMU") }
func BenchmarkDecodeConcealG722(b *testing.B) { benchConceal(b, "G722") }
func BenchmarkDecodeConcealOpus(b *testing.B) { benchConceal(b, "opus") }

// BenchmarkDecodeFECOpus recovers a frame from the next packet's LBRR data.
func BenchmarkDecodeFECOpus(b *testing.B) {
	enc, dec := pair(b, "opus")
	fd := dec.(FECDecoder)
	pcm := make([]int16, MaxDecodeSamples)
	var packets [][]byte
	for range 10 {
		out := make([]byte, MaxPayload)
		n, err := enc.Encode(speechLike(960, 48000), out)
		if err != nil {
			b.Fatal(err)
		}
		packets = append(packets, out[:n])
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := fd.DecodeFEC(packets[i%len(packets)], pcm); err != nil {
			b.Fatal(err)
		}
		if _, err := dec.Decode(packets[i%len(packets)], pcm); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkNew shows what one leg's codec state costs to create.
func BenchmarkNew(b *testing.B) {
	for _, info := range Supported() {
		b.Run(info.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewEncoder(info); err != nil {
					b.Fatal(err)
				}
				if _, err := NewDecoder(info); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
