package dtmf

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"
)

// FuzzParseInfo: any body and content type give a digit or a clear error,
// never a panic, and an accepted body round-trips through AppendRelayBody.
func FuzzParseInfo(f *testing.F) {
	f.Add(ContentTypeRelay, []byte("Signal=5\r\nDuration=160\r\n"))
	f.Add(ContentTypeRelay, []byte("Signal=11\nDuration=100"))
	f.Add("application/dtmf-relay; x=y", []byte("signal=*"))
	f.Add(ContentTypeDTMF, []byte("#"))
	f.Add(ContentTypeDTMF, []byte("15"))
	f.Add("application/dtmf", []byte("Signal=5\r\n"))
	f.Add("text/plain", []byte("5"))
	f.Add(ContentTypeRelay, []byte("Signal=5\r\nDuration=18446744073709551615\r\n"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		got, err := ParseInfo(ct, body)
		if err != nil {
			if !errors.Is(err, ErrContentType) && !errors.Is(err, ErrInfoBody) &&
				!errors.Is(err, ErrDigit) && !errors.Is(err, ErrDuration) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if _, err := Normalize(got.Digit); err != nil || got.Duration < 0 || got.Duration > MaxDuration {
			t.Fatalf("accepted %+v", got)
		}
		b, err := AppendRelayBody(nil, got.Digit, got.Duration)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := ParseInfo(ContentTypeRelay, b); err != nil || again != got {
			t.Fatalf("round trip %+v -> %q -> %+v, %v", got, b, again, err)
		}
	})
}

// FuzzDetector feeds arbitrary PCM in arbitrary pieces: no panic, only
// valid digits, no two reports of one press overlapping, and the same
// result however the PCM is split.
func FuzzDetector(f *testing.F) {
	tone := digitTone(f, 8000, '5', -12, 0, 0, 60*time.Millisecond)
	seed := make([]byte, 2*len(tone))
	for i, v := range tone {
		binary.LittleEndian.PutUint16(seed[2*i:], uint16(v))
	}
	f.Add(uint8(0), uint16(160), seed)
	f.Add(uint8(1), uint16(7), seed)
	f.Add(uint8(2), uint16(1), []byte{0xff, 0x7f, 0x00, 0x80})
	f.Add(uint8(0), uint16(0), make([]byte, 2000))
	f.Fuzz(func(t *testing.T, r uint8, piece uint16, data []byte) {
		rate := rates[int(r)%len(rates)]
		pcm := make([]int16, len(data)/2)
		for i := range pcm {
			pcm[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
		}
		whole, _ := detect(t, rate, pcm, max(1, len(pcm)))
		parts, _ := detect(t, rate, pcm, int(piece)%1000+1)
		if !slices.Equal(whole, parts) {
			t.Fatalf("whole %v, in pieces %v", whole, parts)
		}
		prev := int64(-1)
		for _, x := range whole {
			if _, err := Normalize(x.Digit); err != nil || x.Start < 0 || x.Start <= prev || x.Start > int64(len(pcm)) {
				t.Fatalf("bad tone %+v after %d", x, prev)
			}
			prev = x.Start
		}
	})
}
