package bridge

import (
	"errors"
	"testing"
)

func TestParseTelephoneEvent(t *testing.T) {
	ev, err := parseTelephoneEvent([]byte{11, 0x80 | 10, 0x03, 0x20})
	if err != nil {
		t.Fatal(err)
	}
	if ev != (telephoneEvent{Event: 11, End: true, Volume: 10, Duration: 800}) {
		t.Fatalf("parsed %+v", ev)
	}
	if _, err := parseTelephoneEvent([]byte{1, 2, 3}); !errors.Is(err, ErrEventTruncated) {
		t.Fatalf("short payload: %v", err)
	}
}

func TestEventDigit(t *testing.T) {
	want := "0123456789*#ABCD!"
	for e := range uint8(len(want)) {
		d, ok := eventDigit(e)
		if !ok || d != rune(want[e]) {
			t.Errorf("event %d: %q %v", e, d, ok)
		}
	}
	if _, ok := eventDigit(32); ok {
		t.Error("event 32 (a tone) is not a digit")
	}
}

func TestDTMFDetectorOncePerEvent(t *testing.T) {
	var d dtmfDetector
	var got []rune
	feed := func(ts uint32, e uint8, end bool) {
		if r, ok := d.feed(ts, telephoneEvent{Event: e, End: end}); ok {
			got = append(got, r)
		}
	}
	// Digit 1: start, continuations, three end packets.
	feed(1000, 1, false)
	feed(1000, 1, false)
	feed(1000, 1, true)
	feed(1000, 1, true)
	feed(1000, 1, true)
	// The same digit pressed again: a new timestamp.
	feed(2000, 1, false)
	feed(2000, 1, true)
	// Only the end packets of '#' arrive.
	feed(3000, 11, true)
	feed(3000, 11, true)
	if string(got) != "11#" {
		t.Fatalf("digits %q, want %q", string(got), "11#")
	}
}
