package bridge

import "fmt"

// Sources of an EventDTMF digit, in Event.Source.
const (
	// SourceRFC4733: an RTP telephone-event.
	SourceRFC4733 uint8 = 0
	// SourceInband: tones detected in the decoded audio of a stream that
	// negotiated no telephone-event.
	SourceInband uint8 = 1
)

// telephoneEvent is the payload of an RFC 4733 §2.3 telephone-event packet:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type telephoneEvent struct {
	Event    uint8
	End      bool
	Volume   uint8 // 0..63, in -dBm0
	Duration uint16
}

// parseTelephoneEvent decodes the first event block of a telephone-event
// payload. Further blocks (RFC 4733 §2.5.1.5 redundancy) are ignored.
func parseTelephoneEvent(b []byte) (telephoneEvent, error) {
	if len(b) < 4 {
		return telephoneEvent{}, fmt.Errorf("parsing telephone-event: %d bytes: %w", len(b), ErrEventTruncated)
	}
	return telephoneEvent{
		Event:    b[0],
		End:      b[1]&0x80 != 0,
		Volume:   b[1] & 0x3f,
		Duration: uint16(b[2])<<8 | uint16(b[3]),
	}, nil
}

// eventDigit maps the DTMF events of RFC 4733 §3.2 to characters: 0-9, *, #,
// A-D, and flash as '!'. Other events (tones, modem signals) are not digits.
func eventDigit(e uint8) (rune, bool) {
	switch {
	case e <= 9:
		return rune('0' + e), true
	case e == 10:
		return '*', true
	case e == 11:
		return '#', true
	case e >= 12 && e <= 15:
		return rune('A' + e - 12), true
	case e == 16:
		return '!', true
	}
	return 0, false
}

// dtmfDetector reports each telephone event once. An event is identified by
// its RTP timestamp, which RFC 4733 §2.5.1.2 keeps constant for all packets of
// one event, including the three retransmitted end packets; a new timestamp is
// a new key press. The marker bit is not relied upon, since some senders never
// set it.
type dtmfDetector struct {
	have   bool
	lastTS uint32
	lastEv uint8
}

// feed returns the digit of a new event, or false for a continuation,
// a retransmission, or a non-digit event.
func (d *dtmfDetector) feed(ts uint32, ev telephoneEvent) (rune, bool) {
	if d.have && ts == d.lastTS && ev.Event == d.lastEv {
		return 0, false
	}
	d.have, d.lastTS, d.lastEv = true, ts, ev.Event
	return eventDigit(ev.Event)
}

// reset forgets the last event (new SSRC or new stream parameters).
func (d *dtmfDetector) reset() { d.have = false }
