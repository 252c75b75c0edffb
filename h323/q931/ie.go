package q931

import (
	"bytes"
	"fmt"
)

// Bearer capability contents H.323 endpoints send (Q.931 clause 4.5.5, H.225.0 clause 7.2.2.1).
var (
	// BearerUnrestrictedDigital is unrestricted digital information, circuit mode, multirate,
	// layer 1 H.221/H.242: what h323plus and room systems put in Setup.
	BearerUnrestrictedDigital = []byte{0x88, 0x93, 0xA5}
	// BearerSpeechALaw is speech, 64 kbit/s, G.711 A-law, used by voice-only gateways.
	BearerSpeechALaw = []byte{0x80, 0x90, 0xA3}
)

// Bearer is the decoded part of a Bearer capability IE that H.323 looks at.
type Bearer struct {
	TransferCapability uint8 // octet 3 bits 5-1: 0 speech, 8 unrestricted digital, 16 3.1 kHz audio
	TransferRate       uint8 // octet 4 bits 5-1: 0x10 64 kbit/s, 0x13 384 kbit/s, 0x18 multirate
	Layer1             uint8 // octet 5 bits 5-1 when present: 2 G.711 µ-law, 3 A-law, 5 H.221/H.242
}

// ParseBearer decodes a Bearer capability IE.
func ParseBearer(data []byte) (Bearer, error) {
	if len(data) < 2 {
		return Bearer{}, fmt.Errorf("bearer capability of %d octets: %w", len(data), ErrIE)
	}
	b := Bearer{TransferCapability: data[0] & 0x1F, TransferRate: data[1] & 0x1F}
	// Octet 4 may be followed by 4.1 (rate multiplier) when the rate is multirate.
	i := 2
	if data[1]&0x80 == 0 && i < len(data) {
		i++
	}
	if i < len(data) && data[i]&0x60 == 0x20 {
		b.Layer1 = data[i] & 0x1F
	}
	return b, nil
}

// Cause is a Cause IE (Q.850): why a call was released.
type Cause struct {
	Coding     uint8 // coding standard, 0 = ITU-T
	Location   uint8 // 0 user, 1 private network serving local user, ...
	Value      uint8 // 16 normal clearing, 17 user busy, 18 no user responding, 21 rejected, ...
	Diagnostic []byte
}

// Q.850 cause values that H.323 call legs use.
const (
	CauseNormalClearing  = 16
	CauseUserBusy        = 17
	CauseNoUserResponse  = 18
	CauseNoAnswer        = 19
	CauseCallRejected    = 21
	CauseNoCircuit       = 34
	CauseResourceUnavail = 47
	CauseInterworking    = 127
)

// ParseCause decodes a Cause IE.
func ParseCause(data []byte) (Cause, error) {
	if len(data) < 2 {
		return Cause{}, fmt.Errorf("cause of %d octets: %w", len(data), ErrIE)
	}
	c := Cause{Coding: data[0] >> 5 & 3, Location: data[0] & 0x0F}
	i := 1
	if data[0]&0x80 == 0 { // octet 3a (recommendation) present
		i++
	}
	if i >= len(data) {
		return Cause{}, fmt.Errorf("cause value missing: %w", ErrIE)
	}
	c.Value = data[i] & 0x7F
	c.Diagnostic = data[i+1:]
	return c, nil
}

// AppendCause appends the contents of a Cause IE.
func AppendCause(dst []byte, c Cause) []byte {
	dst = append(dst, 0x80|c.Coding&3<<5|c.Location&0x0F, 0x80|c.Value&0x7F)
	return append(dst, c.Diagnostic...)
}

// ProgressIndicator is a Progress indicator IE.
type ProgressIndicator struct {
	Coding      uint8
	Location    uint8
	Description uint8 // 1 not end-to-end ISDN, 2 destination non-ISDN, 8 in-band info available
}

// ParseProgress decodes a Progress indicator IE.
func ParseProgress(data []byte) (ProgressIndicator, error) {
	if len(data) != 2 {
		return ProgressIndicator{}, fmt.Errorf("progress indicator of %d octets: %w", len(data), ErrIE)
	}
	return ProgressIndicator{Coding: data[0] >> 5 & 3, Location: data[0] & 0x0F, Description: data[1] & 0x7F}, nil
}

// AppendProgress appends the contents of a Progress indicator IE.
func AppendProgress(dst []byte, p ProgressIndicator) []byte {
	return append(dst, 0x80|p.Coding&3<<5|p.Location&0x0F, 0x80|p.Description&0x7F)
}

// PartyNumber is a Calling or Called party number IE.
type PartyNumber struct {
	Type uint8 // type of number: 0 unknown, 1 international, 2 national, 4 subscriber
	Plan uint8 // numbering plan: 0 unknown, 1 E.164, 9 private
	// HasIndicators reports octet 3a (calling party only): presentation and screening.
	HasIndicators bool
	Presentation  uint8
	Screening     uint8
	Digits        string
}

// ParsePartyNumber decodes a Calling (0x6C) or Called (0x70) party number IE.
func ParsePartyNumber(data []byte) (PartyNumber, error) {
	if len(data) < 1 {
		return PartyNumber{}, fmt.Errorf("party number: %w", ErrIE)
	}
	p := PartyNumber{Type: data[0] >> 4 & 7, Plan: data[0] & 0x0F}
	i := 1
	if data[0]&0x80 == 0 {
		if len(data) < 2 {
			return PartyNumber{}, fmt.Errorf("party number octet 3a missing: %w", ErrIE)
		}
		p.HasIndicators = true
		p.Presentation, p.Screening = data[1]>>5&3, data[1]&3
		i = 2
	}
	for _, c := range data[i:] {
		if c < 0x20 || c > 0x7E {
			return PartyNumber{}, fmt.Errorf("party number digit 0x%02x: %w", c, ErrIE)
		}
	}
	p.Digits = string(data[i:])
	return p, nil
}

// AppendPartyNumber appends the contents of a party number IE.
func AppendPartyNumber(dst []byte, p PartyNumber) []byte {
	o3 := p.Type&7<<4 | p.Plan&0x0F
	if p.HasIndicators {
		dst = append(dst, o3, 0x80|p.Presentation&3<<5|p.Screening&3)
	} else {
		dst = append(dst, 0x80|o3)
	}
	return append(dst, p.Digits...)
}

// Text decodes a Display or Keypad IE: IA5 (UTF-8 in practice) text; the trailing NUL that
// h323plus appends is dropped.
func Text(data []byte) string {
	return string(bytes.TrimRight(data, "\x00"))
}

// Display returns the text of the Display IE, or "" when absent.
func (m *Message) Display() string {
	ie, ok := m.Get(IEDisplay)
	if !ok {
		return ""
	}
	return Text(ie.Data)
}

// Keypad returns the digits of the Keypad IE (DTMF sent in Information without H.245).
func (m *Message) Keypad() (string, bool) {
	ie, ok := m.Get(IEKeypad)
	if !ok {
		return "", false
	}
	return Text(ie.Data), true
}

// Cause returns the decoded Cause IE.
func (m *Message) Cause() (Cause, error) {
	ie, ok := m.Get(IECause)
	if !ok {
		return Cause{}, fmt.Errorf("cause: %w", ErrNoIE)
	}
	return ParseCause(ie.Data)
}
