package dtmf

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseInfo(t *testing.T) {
	cases := []struct {
		ct, body string
		want     InfoDigit
		err      error
	}{
		{ContentTypeRelay, "Signal=5\r\nDuration=160\r\n", InfoDigit{'5', 160 * time.Millisecond}, nil},
		{"Application/DTMF-Relay; charset=utf-8", "signal = #\nduration= 250", InfoDigit{'#', 250 * time.Millisecond}, nil},
		{ContentTypeRelay, "Signal=*\r\n", InfoDigit{'*', 0}, nil},
		{ContentTypeRelay, "Signal=10\r\nDuration=100\r\n", InfoDigit{'*', 100 * time.Millisecond}, nil},
		{ContentTypeRelay, "Signal=11\r\n", InfoDigit{'#', 0}, nil},
		{ContentTypeRelay, "Signal=15", InfoDigit{'D', 0}, nil},
		{ContentTypeRelay, "Signal=b\r\nVolume=10\r\n", InfoDigit{'B', 0}, nil},
		{ContentTypeRelay, "\r\n\r\nSignal=0\r\n\r\n", InfoDigit{'0', 0}, nil},
		{ContentTypeDTMF, "7", InfoDigit{'7', 0}, nil},
		{ContentTypeDTMF, " 11\r\n", InfoDigit{'#', 0}, nil},
		{ContentTypeRelay, "Signal=16\r\n", InfoDigit{}, ErrDigit}, // flash is not a digit
		{ContentTypeRelay, "Signal=E\r\n", InfoDigit{}, ErrDigit},
		{ContentTypeRelay, "Signal=\r\n", InfoDigit{}, ErrInfoBody},
		{ContentTypeRelay, "Duration=160\r\n", InfoDigit{}, ErrInfoBody},
		{ContentTypeRelay, "Signal=5\r\nSignal=6\r\n", InfoDigit{}, ErrInfoBody},
		{ContentTypeRelay, "Signal=5\r\nDuration=1\r\nDuration=2", InfoDigit{}, ErrInfoBody},
		{ContentTypeRelay, "Signal 5\r\n", InfoDigit{}, ErrInfoBody},
		{ContentTypeRelay, "Signal=5\r\nDuration=-1\r\n", InfoDigit{}, ErrDuration},
		{ContentTypeRelay, "Signal=5\r\nDuration=99999999999\r\n", InfoDigit{}, ErrDuration},
		{ContentTypeRelay, "Signal=5\r\nDuration=abc\r\n", InfoDigit{}, ErrDuration},
		{ContentTypeRelay, "Signal=5\r\n" + strings.Repeat("X=1\r\n", 300), InfoDigit{}, ErrInfoBody},
		{ContentTypeDTMF, "", InfoDigit{}, ErrInfoBody},
		{ContentTypeDTMF, "55", InfoDigit{}, ErrDigit},
		{"application/sdp", "v=0", InfoDigit{}, ErrContentType},
		{"", "Signal=5", InfoDigit{}, ErrContentType},
		{"application/dtmf-relay;;;", "Signal=5", InfoDigit{}, ErrContentType},
	}
	for _, c := range cases {
		got, err := ParseInfo(c.ct, []byte(c.body))
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%q %q: error %v, want %v", c.ct, c.body, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q %q: %+v, %v; want %+v", c.ct, c.body, got, err, c.want)
		}
	}
}

func TestAppendRelayBody(t *testing.T) {
	for _, d := range Digits {
		b, err := AppendRelayBody(nil, d, 160*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseInfo(ContentTypeRelay, b)
		if err != nil || got.Digit != d || got.Duration != 160*time.Millisecond {
			t.Errorf("%q: round trip %+v, %v", b, got, err)
		}
	}
	if _, err := AppendRelayBody(nil, 'x', 0); !errors.Is(err, ErrDigit) {
		t.Errorf("bad digit: %v", err)
	}
	if _, err := AppendRelayBody(nil, '1', -time.Second); !errors.Is(err, ErrDuration) {
		t.Errorf("bad duration: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	for _, c := range "0123456789*#ABCD" {
		if d, err := Normalize(c); err != nil || d != c {
			t.Errorf("%q: %q, %v", c, d, err)
		}
	}
	if d, err := Normalize('c'); err != nil || d != 'C' {
		t.Errorf("c: %q, %v", d, err)
	}
	for _, c := range "!EeZ \x00é" {
		if _, err := Normalize(c); !errors.Is(err, ErrDigit) {
			t.Errorf("%q accepted", c)
		}
	}
}
