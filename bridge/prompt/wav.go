package prompt

import (
	"encoding/binary"
	"fmt"
)

// MaxClip bounds the length of one prompt, in seconds; a longer file is
// refused rather than held in memory for every rate.
const MaxClip = 60

// decodeWAV reads a RIFF/WAVE file of 16-bit mono linear PCM at 8, 16 or
// 48 kHz and returns its samples and rate. Chunks other than "fmt " and
// "data" (LIST, fact, cue) are skipped. A data chunk whose size runs past
// the end of the file (a recorder that never fixed the header up) is taken
// as running to the end.
func decodeWAV(b []byte) ([]int16, int, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, fmt.Errorf("reading WAV: no RIFF/WAVE header: %w", ErrFormat)
	}
	rate := 0
	for p := 12; p+8 <= len(b); {
		id := string(b[p : p+4])
		size := int64(binary.LittleEndian.Uint32(b[p+4:]))
		p += 8
		body := b[p:]
		if size <= int64(len(body)) {
			body = body[:size]
		} else if id != "data" {
			return nil, 0, fmt.Errorf("reading WAV: %q chunk of %d bytes runs past the end: %w", id, size, ErrFormat)
		}
		switch id {
		case "fmt ":
			r, err := parseFmt(body)
			if err != nil {
				return nil, 0, err
			}
			rate = r
		case "data":
			if rate == 0 {
				return nil, 0, fmt.Errorf("reading WAV: data before fmt: %w", ErrFormat)
			}
			n := len(body) / 2
			if n == 0 {
				return nil, 0, fmt.Errorf("reading WAV: no samples: %w", ErrFormat)
			}
			if n > MaxClip*rate {
				return nil, 0, fmt.Errorf("reading WAV: %d samples at %d Hz, longer than %d s: %w", n, rate, MaxClip, ErrFormat)
			}
			pcm := make([]int16, n)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return pcm, rate, nil
		}
		p += int(size) + int(size&1) // chunks are padded to even sizes
	}
	return nil, 0, fmt.Errorf("reading WAV: no data chunk: %w", ErrFormat)
}

// parseFmt checks a "fmt " chunk and returns the sample rate.
func parseFmt(b []byte) (int, error) {
	if len(b) < 16 {
		return 0, fmt.Errorf("reading WAV: fmt chunk of %d bytes: %w", len(b), ErrFormat)
	}
	tag := binary.LittleEndian.Uint16(b[0:])
	channels := binary.LittleEndian.Uint16(b[2:])
	rate := int(binary.LittleEndian.Uint32(b[4:]))
	bits := binary.LittleEndian.Uint16(b[14:])
	// WAVE_FORMAT_EXTENSIBLE carries the real format in its sub-format GUID,
	// whose first two bytes are the format tag.
	if tag == 0xfffe && len(b) >= 26 {
		tag = binary.LittleEndian.Uint16(b[24:])
	}
	if tag != 1 || channels != 1 || bits != 16 {
		return 0, fmt.Errorf("reading WAV: format %#x, %d channels, %d bits; want 16-bit mono PCM: %w", tag, channels, bits, ErrFormat)
	}
	switch rate {
	case 8000, 16000, 48000:
		return rate, nil
	}
	return 0, fmt.Errorf("reading WAV: %d Hz; want 8000, 16000 or 48000: %w", rate, ErrFormat)
}
