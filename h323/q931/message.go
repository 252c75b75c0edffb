// Package q931 parses and builds the Q.931 messages that carry H.225.0 call signalling (H.225.0
// clause 7, Q.931 clause 4): the header with its call reference, and the information elements
// H.323 uses, including the User-user element with the two-octet length H.225.0 mandates. It
// owns framing only: the PER content of User-user is handed out as bytes for package pdu, and
// TPKT framing is package tpkt.
//
// Information elements are kept raw and in order, so a parsed message re-encodes byte for byte
// (a gateway must not reorder what it forwards); typed accessors decode the ones H.323 needs.
package q931

import (
	"fmt"
	"slices"
)

// ProtocolDiscriminator is the first octet of every Q.931 message.
const ProtocolDiscriminator = 0x08

// MessageType is the Q.931 message type octet.
type MessageType uint8

// Message types H.323 uses (H.225.0 clause 7.3).
const (
	Alerting         MessageType = 0x01
	CallProceeding   MessageType = 0x02
	Progress         MessageType = 0x03
	Setup            MessageType = 0x05
	Connect          MessageType = 0x07
	SetupAcknowledge MessageType = 0x0D
	ReleaseComplete  MessageType = 0x5A
	Facility         MessageType = 0x62
	Notify           MessageType = 0x6E
	StatusEnquiry    MessageType = 0x75
	Information      MessageType = 0x7B
	Status           MessageType = 0x7D
)

var typeNames = map[MessageType]string{Alerting: "Alerting", CallProceeding: "CallProceeding",
	Progress: "Progress", Setup: "Setup", Connect: "Connect", SetupAcknowledge: "SetupAcknowledge",
	ReleaseComplete: "ReleaseComplete", Facility: "Facility", Notify: "Notify",
	StatusEnquiry: "StatusEnquiry", Information: "Information", Status: "Status"}

// String returns the Q.931 name of the message type.
func (t MessageType) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("MessageType(0x%02x)", uint8(t))
}

// Information element identifiers H.323 uses (Q.931 clause 4.5, H.225.0 clause 7.2.2).
const (
	IESegmented        = 0x00
	IEBearerCapability = 0x04
	IECause            = 0x08
	IEFacility         = 0x1C
	IEProgress         = 0x1E
	IENotification     = 0x27
	IEDisplay          = 0x28
	IEKeypad           = 0x2C
	IESignal           = 0x34
	IECallingNumber    = 0x6C
	IECalledNumber     = 0x70
	IEUserUser         = 0x7E
	IESendingComplete  = 0xA1
)

// UserUserProtocol is the User-user protocol discriminator for X.208/X.209 coded user
// information, which precedes the PER H323-UserInformation (H.225.0 clause 7.2.2.9).
const UserUserProtocol = 0x05

// IE is one information element. Single-octet elements (identifier bit 8 set, such as Sending
// complete and the shift elements) have no contents.
type IE struct {
	ID   uint8
	Data []byte
}

// Message is one Q.931 message.
type Message struct {
	// CallRefLen is the call reference length in octets: 2 in H.225.0, 0 for the dummy call
	// reference.
	CallRefLen int
	// CallRef is the call reference value (15 bits when CallRefLen is 2).
	CallRef uint16
	// FromDestination is the call reference flag: set in messages sent by the side that did
	// not allocate the call reference (the called side).
	FromDestination bool
	Type            MessageType
	IEs             []IE
}

// Unmarshal parses b into m. IE contents alias b; m.IEs is reused.
func (m *Message) Unmarshal(b []byte) error {
	if len(b) < 3 {
		return fmt.Errorf("header of %d octets: %w", len(b), ErrTruncated)
	}
	if b[0] != ProtocolDiscriminator {
		return fmt.Errorf("protocol discriminator 0x%02x: %w", b[0], ErrDiscriminator)
	}
	crl := int(b[1] & 0x0F)
	if crl > 2 || b[1]&0xF0 != 0 {
		return fmt.Errorf("call reference length octet 0x%02x: %w", b[1], ErrCallRef)
	}
	if len(b) < 3+crl {
		return fmt.Errorf("call reference: %w", ErrTruncated)
	}
	m.CallRefLen, m.CallRef, m.FromDestination = crl, 0, false
	switch crl {
	case 1:
		m.FromDestination = b[2]&0x80 != 0
		m.CallRef = uint16(b[2] & 0x7F)
	case 2:
		m.FromDestination = b[2]&0x80 != 0
		m.CallRef = uint16(b[2]&0x7F)<<8 | uint16(b[3])
	}
	p := 2 + crl
	if b[p]&0x80 != 0 {
		return fmt.Errorf("message type octet 0x%02x: %w", b[p], ErrIE)
	}
	m.Type = MessageType(b[p])
	p++
	m.IEs = m.IEs[:0]
	for p < len(b) {
		id := b[p]
		p++
		if id&0x80 != 0 {
			m.IEs = append(m.IEs, IE{ID: id})
			continue
		}
		var n int
		if id == IEUserUser {
			if p+2 > len(b) {
				return fmt.Errorf("user-user length: %w", ErrTruncated)
			}
			n = int(b[p])<<8 | int(b[p+1])
			p += 2
		} else {
			if p >= len(b) {
				return fmt.Errorf("IE 0x%02x length: %w", id, ErrTruncated)
			}
			n = int(b[p])
			p++
		}
		if n > len(b)-p {
			return fmt.Errorf("IE 0x%02x of %d octets with %d left: %w", id, n, len(b)-p, ErrTruncated)
		}
		m.IEs = append(m.IEs, IE{ID: id, Data: b[p : p+n : p+n]})
		p += n
	}
	return nil
}

// AppendBinary appends the encoding of m to dst.
func (m *Message) AppendBinary(dst []byte) ([]byte, error) {
	dst = append(dst, ProtocolDiscriminator, byte(m.CallRefLen))
	flag := byte(0)
	if m.FromDestination {
		flag = 0x80
	}
	switch m.CallRefLen {
	case 0:
	case 1:
		if m.CallRef > 0x7F {
			return dst, fmt.Errorf("call reference %d in one octet: %w", m.CallRef, ErrCallRef)
		}
		dst = append(dst, flag|byte(m.CallRef))
	case 2:
		if m.CallRef > 0x7FFF {
			return dst, fmt.Errorf("call reference %d: %w", m.CallRef, ErrCallRef)
		}
		dst = append(dst, flag|byte(m.CallRef>>8), byte(m.CallRef))
	default:
		return dst, fmt.Errorf("call reference length %d: %w", m.CallRefLen, ErrCallRef)
	}
	if m.Type&0x80 != 0 {
		return dst, fmt.Errorf("message type 0x%02x: %w", uint8(m.Type), ErrIE)
	}
	dst = append(dst, byte(m.Type))
	for _, ie := range m.IEs {
		switch {
		case ie.ID&0x80 != 0:
			if len(ie.Data) != 0 {
				return dst, fmt.Errorf("single-octet IE 0x%02x with contents: %w", ie.ID, ErrIE)
			}
			dst = append(dst, ie.ID)
		case ie.ID == IEUserUser:
			if len(ie.Data) > 0xFFFF {
				return dst, fmt.Errorf("user-user of %d octets: %w", len(ie.Data), ErrIE)
			}
			dst = append(dst, ie.ID, byte(len(ie.Data)>>8), byte(len(ie.Data)))
			dst = append(dst, ie.Data...)
		default:
			if len(ie.Data) > 0xFF {
				return dst, fmt.Errorf("IE 0x%02x of %d octets: %w", ie.ID, len(ie.Data), ErrIE)
			}
			dst = append(dst, ie.ID, byte(len(ie.Data)))
			dst = append(dst, ie.Data...)
		}
	}
	return dst, nil
}

// Get returns the first IE with identifier id.
func (m *Message) Get(id uint8) (IE, bool) {
	for _, ie := range m.IEs {
		if ie.ID == id {
			return ie, true
		}
	}
	return IE{}, false
}

// Set replaces the first IE with identifier id, or inserts it keeping identifiers in ascending
// order as Q.931 clause 4.5.1 requires of senders (single-octet elements are placed by their
// identifier too).
func (m *Message) Set(id uint8, data []byte) {
	for i := range m.IEs {
		if m.IEs[i].ID == id {
			m.IEs[i].Data = data
			return
		}
	}
	at := len(m.IEs)
	for i, ie := range m.IEs {
		if ie.ID > id {
			at = i
			break
		}
	}
	m.IEs = slices.Insert(m.IEs, at, IE{ID: id, Data: data})
}

// UserUser returns the PER H323-UserInformation carried in the User-user IE.
func (m *Message) UserUser() ([]byte, error) {
	ie, ok := m.Get(IEUserUser)
	if !ok {
		return nil, fmt.Errorf("user-user: %w", ErrNoIE)
	}
	if len(ie.Data) < 1 || ie.Data[0] != UserUserProtocol {
		return nil, fmt.Errorf("user-user protocol discriminator: %w", ErrIE)
	}
	return ie.Data[1:], nil
}

// SetUserUser stores per as the User-user IE content (after the protocol discriminator).
func (m *Message) SetUserUser(per []byte) {
	data := make([]byte, 0, len(per)+1)
	data = append(data, UserUserProtocol)
	m.Set(IEUserUser, append(data, per...))
}
