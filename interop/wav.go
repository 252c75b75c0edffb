package interop

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// Audio is a mono clip of linear samples scaled to [-1, 1), at Rate samples
// per second. Peers record at their codec's rate (8, 16 or 48 kHz), so every
// measurement takes the rate from here instead of assuming one.
type Audio struct {
	Rate    int
	Samples []float64
}

// Duration is the length of the clip.
func (a Audio) Duration() time.Duration {
	if a.Rate <= 0 {
		return 0
	}
	return time.Duration(len(a.Samples)) * time.Second / time.Duration(a.Rate)
}

// Slice returns the part of the clip between from and to (clamped to the
// clip), sharing the samples. Tests use it to drop call set-up and tear-down.
func (a Audio) Slice(from, to time.Duration) Audio {
	i := a.index(from)
	j := a.index(to)
	if j < i {
		j = i
	}
	return Audio{Rate: a.Rate, Samples: a.Samples[i:j]}
}

func (a Audio) index(d time.Duration) int {
	if d <= 0 || a.Rate <= 0 {
		return 0
	}
	n := int(d * time.Duration(a.Rate) / time.Second)
	return min(n, len(a.Samples))
}

// WAV limits: beyond these a header is treated as hostile rather than exotic.
const (
	maxWAVChannels = 8
	maxWAVRate     = 384000
	wavFormatPCM   = 1
	wavFormatExt   = 0xFFFE
)

// ParseWAV decodes a RIFF/WAVE file of 16-bit integer PCM, mixing all channels
// down to mono. It tolerates the headers that recording peers leave behind
// when they are stopped mid-call: a RIFF or data size that is zero, too large
// or 0xFFFFFFFF is replaced by the bytes actually present, and a trailing
// partial frame is ignored. Anything else inconsistent is an error, never a
// panic: recordings come from programs under test.
func ParseWAV(b []byte) (Audio, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return Audio{}, fmt.Errorf("reading RIFF header: %w", ErrNotWAV)
	}
	var (
		haveFmt    bool
		channels   int
		rate       int
		blockAlign int
	)
	rest := b[12:]
	for len(rest) >= 8 {
		id := string(rest[0:4])
		size := uint64(binary.LittleEndian.Uint32(rest[4:8]))
		body := rest[8:]
		switch id {
		case "fmt ":
			if size < 16 || size > uint64(len(body)) {
				return Audio{}, fmt.Errorf("reading fmt chunk of %d bytes (%d present): %w", size, len(body), ErrMalformedWAV)
			}
			var err error
			channels, rate, blockAlign, err = parseFmt(body[:size])
			if err != nil {
				return Audio{}, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return Audio{}, fmt.Errorf("data chunk before fmt chunk: %w", ErrMalformedWAV)
			}
			if size == 0 || size > uint64(len(body)) {
				// Header not finalised by the recorder: take what is there.
				size = uint64(len(body))
			}
			return decodePCM16(body[:size], channels, rate, blockAlign), nil
		}
		// Chunks are padded to an even length (RIFF).
		adv := size + size&1
		if adv > uint64(len(body)) {
			return Audio{}, fmt.Errorf("chunk %q of %d bytes runs past the end (%d present): %w", id, size, len(body), ErrMalformedWAV)
		}
		rest = body[adv:]
	}
	if !haveFmt {
		return Audio{}, fmt.Errorf("no fmt chunk: %w", ErrMalformedWAV)
	}
	return Audio{}, fmt.Errorf("no data chunk: %w", ErrMalformedWAV)
}

func parseFmt(f []byte) (channels, rate, blockAlign int, err error) {
	format := binary.LittleEndian.Uint16(f[0:2])
	channels = int(binary.LittleEndian.Uint16(f[2:4]))
	rate64 := binary.LittleEndian.Uint32(f[4:8])
	blockAlign = int(binary.LittleEndian.Uint16(f[12:14]))
	bits := binary.LittleEndian.Uint16(f[14:16])
	if format == wavFormatExt {
		// WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the
		// sub-format GUID at offset 24.
		if len(f) < 40 {
			return 0, 0, 0, fmt.Errorf("reading extensible fmt chunk of %d bytes: %w", len(f), ErrMalformedWAV)
		}
		format = binary.LittleEndian.Uint16(f[24:26])
	}
	if format != wavFormatPCM || bits != 16 {
		return 0, 0, 0, fmt.Errorf("format tag %d with %d bits per sample: %w", format, bits, ErrUnsupportedWAV)
	}
	if channels < 1 || channels > maxWAVChannels {
		return 0, 0, 0, fmt.Errorf("%d channels: %w", channels, ErrMalformedWAV)
	}
	if rate64 == 0 || rate64 > maxWAVRate {
		return 0, 0, 0, fmt.Errorf("sample rate %d: %w", rate64, ErrMalformedWAV)
	}
	if blockAlign != 2*channels {
		return 0, 0, 0, fmt.Errorf("block align %d for %d channels of 16 bits: %w", blockAlign, channels, ErrMalformedWAV)
	}
	return channels, int(rate64), blockAlign, nil
}

func decodePCM16(data []byte, channels, rate, blockAlign int) Audio {
	frames := len(data) / blockAlign
	out := make([]float64, frames)
	scale := 1 / (32768 * float64(channels))
	for i := range out {
		frame := data[i*blockAlign : (i+1)*blockAlign]
		var sum int
		for c := 0; c < channels; c++ {
			sum += int(int16(binary.LittleEndian.Uint16(frame[2*c:])))
		}
		out[i] = float64(sum) * scale
	}
	return Audio{Rate: rate, Samples: out}
}

// ReadWAVFile reads and decodes the WAV file at path (see ParseWAV).
func ReadWAVFile(path string) (Audio, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Audio{}, fmt.Errorf("reading recording: %w", err)
	}
	a, err := ParseWAV(b)
	if err != nil {
		return Audio{}, fmt.Errorf("decoding %s: %w", path, err)
	}
	return a, nil
}

// WriteWAV writes samples as a mono 16-bit PCM WAV file at rate, with final
// sizes in the header.
func WriteWAV(w io.Writer, rate int, samples []int16) error {
	if rate <= 0 || rate > maxWAVRate {
		return fmt.Errorf("writing WAV at %d Hz: %w", rate, ErrBadParam)
	}
	dataLen := 2 * len(samples)
	if uint64(dataLen) > math.MaxUint32-36 {
		return fmt.Errorf("writing WAV of %d samples: %w", len(samples), ErrBadParam)
	}
	bw := bufio.NewWriter(w)
	var h [44]byte
	copy(h[0:4], "RIFF")
	binary.LittleEndian.PutUint32(h[4:8], uint32(36+dataLen))
	copy(h[8:16], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:20], 16)
	binary.LittleEndian.PutUint16(h[20:22], wavFormatPCM)
	binary.LittleEndian.PutUint16(h[22:24], 1)
	binary.LittleEndian.PutUint32(h[24:28], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:32], uint32(2*rate))
	binary.LittleEndian.PutUint16(h[32:34], 2)
	binary.LittleEndian.PutUint16(h[34:36], 16)
	copy(h[36:40], "data")
	binary.LittleEndian.PutUint32(h[40:44], uint32(dataLen))
	if _, err := bw.Write(h[:]); err != nil {
		return fmt.Errorf("writing WAV header: %w", err)
	}
	var s [2]byte
	for _, v := range samples {
		binary.LittleEndian.PutUint16(s[:], uint16(v))
		if _, err := bw.Write(s[:]); err != nil {
			return fmt.Errorf("writing WAV samples: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing WAV samples: %w", err)
	}
	return nil
}

// Tone synthesises d of a sine at freq Hz with peak amplitude amp (0 < amp ≤ 1
// of full scale) at rate samples per second. A short linear fade in and out
// keeps the ends click-free, so the tone's spectrum stays a single line.
func Tone(rate int, freq, amp float64, d time.Duration) ([]int16, error) {
	if rate <= 0 || rate > maxWAVRate || freq <= 0 || freq >= float64(rate)/2 || amp <= 0 || amp > 1 || d <= 0 {
		return nil, fmt.Errorf("tone of %g Hz, amplitude %g, %v at %d Hz: %w", freq, amp, d, rate, ErrBadParam)
	}
	n := int(d * time.Duration(rate) / time.Second)
	fade := min(rate/100, n/2) // 10 ms
	out := make([]int16, n)
	for i := range out {
		g := amp
		if i < fade {
			g *= float64(i) / float64(fade)
		} else if n-1-i < fade {
			g *= float64(n-1-i) / float64(fade)
		}
		out[i] = int16(math.Round(32767 * g * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
	}
	return out, nil
}

// WriteToneWAV writes a WAV file holding Tone(rate, freq, amp, d) to path.
func WriteToneWAV(path string, rate int, freq, amp float64, d time.Duration) error {
	samples, err := Tone(rate, freq, amp, d)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating tone file: %w", err)
	}
	if err := WriteWAV(f, rate, samples); err != nil {
		f.Close()
		return fmt.Errorf("writing tone file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing tone file %s: %w", path, err)
	}
	return nil
}
