// Package pdu is the field-tool view of the H.323 wire formats: it decodes a PDU of a named
// kind (uuie, ras, h245, q931) into a JSON-able tree and encodes such a tree back, so that a
// support engineer can inspect a capture and check that the stack re-encodes it byte for byte.
// It owns no call state and is not on any hot path; call legs use packages per, schema and
// q931 directly.
//
// H.245 PDUs nested in octet strings (fastStart proposals, tunnelled h245Control) are decoded
// in place as {"$type": ..., "value": ...} objects and encoded back from them.
package pdu

import (
	"encoding/hex"
	"fmt"

	"github.com/roomgate/roomgate/h323/per"
	"github.com/roomgate/roomgate/h323/q931"
	"github.com/roomgate/roomgate/h323/schema"
)

// Kinds of PDU the tool understands.
const (
	KindUUIE = "uuie" // PER H323-UserInformation (User-user IE content after 0x05)
	KindRAS  = "ras"  // PER RasMessage (one UDP datagram)
	KindH245 = "h245" // PER MultimediaSystemControlMessage (one TPKT payload)
	KindQ931 = "q931" // Q.931 message (one TPKT payload) with its User-user content decoded
)

// TypeOf returns the PER type of a PER kind (not q931).
func TypeOf(kind string) (*per.Type, error) {
	switch kind {
	case KindUUIE:
		return schema.H323UserInformation, nil
	case KindRAS:
		return schema.RasMessage, nil
	case KindH245:
		return schema.MultimediaSystemControlMessage, nil
	}
	return nil, fmt.Errorf("%q: %w", kind, ErrKind)
}

// JSONOptions decodes the octet strings that carry H.245 in place.
var JSONOptions = &per.JSONOptions{
	Nested: func(field string) *per.Type {
		switch field {
		case "fastStart":
			return schema.OpenLogicalChannel
		case "h245Control", "parallelH245Control":
			return schema.MultimediaSystemControlMessage
		}
		return nil
	},
	Resolve: func(name string) *per.Type {
		switch name {
		case schema.OpenLogicalChannel.Name:
			return schema.OpenLogicalChannel
		case schema.MultimediaSystemControlMessage.Name:
			return schema.MultimediaSystemControlMessage
		}
		return nil
	},
}

// Decode decodes b as a PDU of the given kind and returns its JSON-able view.
func Decode(kind string, b []byte) (any, error) {
	if kind == KindQ931 {
		return decodeQ931(b)
	}
	t, err := TypeOf(kind)
	if err != nil {
		return nil, err
	}
	var d per.Decoder
	v, err := d.Decode(t, b)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", kind, err)
	}
	j, err := per.ToJSON(&v, JSONOptions)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", kind, err)
	}
	return j, nil
}

// Encode encodes the JSON-able view j (as returned by Decode, or after a trip through
// encoding/json) of a PDU of the given kind.
func Encode(kind string, j any) ([]byte, error) {
	if kind == KindQ931 {
		return encodeQ931(j)
	}
	t, err := TypeOf(kind)
	if err != nil {
		return nil, err
	}
	v, err := per.FromJSON(t, j, JSONOptions)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", kind, err)
	}
	var e per.Encoder
	out, err := e.Encode(nil, t, &v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", kind, err)
	}
	return out, nil
}

var ieNames = map[uint8]string{q931.IEBearerCapability: "BearerCapability", q931.IECause: "Cause",
	q931.IEFacility: "Facility", q931.IEProgress: "ProgressIndicator", q931.IENotification: "NotificationIndicator",
	q931.IEDisplay: "Display", q931.IEKeypad: "Keypad", q931.IESignal: "Signal",
	q931.IECallingNumber: "CallingPartyNumber", q931.IECalledNumber: "CalledPartyNumber",
	q931.IEUserUser: "UserUser", q931.IESendingComplete: "SendingComplete"}

func decodeQ931(b []byte) (any, error) {
	var m q931.Message
	if err := m.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("decode q931: %w", err)
	}
	ies := make([]any, 0, len(m.IEs))
	for _, ie := range m.IEs {
		o := map[string]any{"id": int(ie.ID)}
		if n, ok := ieNames[ie.ID]; ok {
			o["name"] = n
		}
		switch ie.ID {
		case q931.IEUserUser:
			if len(ie.Data) > 0 && ie.Data[0] == q931.UserUserProtocol {
				uu, err := Decode(KindUUIE, ie.Data[1:])
				if err != nil {
					return nil, fmt.Errorf("decode q931 user-user: %w", err)
				}
				o["h323UserInformation"] = uu
				ies = append(ies, o)
				continue
			}
		case q931.IEDisplay, q931.IEKeypad:
			o["text"] = q931.Text(ie.Data)
		case q931.IECause:
			if c, err := q931.ParseCause(ie.Data); err == nil {
				o["cause"] = int(c.Value)
				o["location"] = int(c.Location)
			}
		case q931.IECallingNumber, q931.IECalledNumber:
			if p, err := q931.ParsePartyNumber(ie.Data); err == nil {
				o["digits"] = p.Digits
			}
		}
		if ie.ID&0x80 == 0 {
			o["hex"] = hex.EncodeToString(ie.Data)
		}
		ies = append(ies, o)
	}
	return map[string]any{
		"callRefLen":      m.CallRefLen,
		"callRef":         int(m.CallRef),
		"fromDestination": m.FromDestination,
		"messageType":     m.Type.String(),
		"messageTypeCode": int(m.Type),
		"ies":             ies,
	}, nil
}

func encodeQ931(j any) ([]byte, error) {
	o, ok := j.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("encode q931: want an object, got %T: %w", j, per.ErrBadValue)
	}
	num := func(k string) (int64, error) {
		v, err := per.FromJSON(&per.Type{Kind: per.KindInteger}, o[k], nil)
		if err != nil {
			return 0, fmt.Errorf("encode q931 %s: %w", k, err)
		}
		return v.Int, nil
	}
	var m q931.Message
	crl, err := num("callRefLen")
	if err != nil {
		return nil, err
	}
	cr, err := num("callRef")
	if err != nil {
		return nil, err
	}
	mt, err := num("messageTypeCode")
	if err != nil {
		return nil, err
	}
	if crl < 0 || crl > 2 || cr < 0 || cr > 0x7FFF || mt < 0 || mt > 0x7F {
		return nil, fmt.Errorf("encode q931: header out of range: %w", per.ErrBadValue)
	}
	m.CallRefLen, m.CallRef, m.Type = int(crl), uint16(cr), q931.MessageType(mt)
	m.FromDestination, _ = o["fromDestination"].(bool)
	list, _ := o["ies"].([]any)
	for i, x := range list {
		io, ok := x.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("encode q931 ie %d: %w", i, per.ErrBadValue)
		}
		v, err := per.FromJSON(&per.Type{Kind: per.KindInteger}, io["id"], nil)
		if err != nil || v.Int < 0 || v.Int > 0xFF {
			return nil, fmt.Errorf("encode q931 ie %d id: %w", i, per.ErrBadValue)
		}
		ie := q931.IE{ID: uint8(v.Int)}
		switch {
		case io["h323UserInformation"] != nil:
			uu, err := Encode(KindUUIE, io["h323UserInformation"])
			if err != nil {
				return nil, fmt.Errorf("encode q931 user-user: %w", err)
			}
			ie.Data = append([]byte{q931.UserUserProtocol}, uu...)
		case io["hex"] != nil:
			s, _ := io["hex"].(string)
			if ie.Data, err = hex.DecodeString(s); err != nil {
				return nil, fmt.Errorf("encode q931 ie %d: %w", i, per.ErrBadValue)
			}
		}
		m.IEs = append(m.IEs, ie)
	}
	out, err := m.AppendBinary(nil)
	if err != nil {
		return nil, fmt.Errorf("encode q931: %w", err)
	}
	return out, nil
}
