// Package tpkt frames H.225.0 call signalling and separate-channel H.245 over TCP with the
// RFC 1006 TPKT header (version 3, reserved octet, 16-bit length including the header). It owns
// only framing: it never looks inside the payload.
//
// Field quirks it tolerates, as H.323 equipment needs: a non-zero reserved octet (seen from
// Cisco AS5300 gateways) and empty TPKTs (length 4) that some endpoints and the H.460.18
// keep-alive send; Reader skips those instead of handing out empty payloads.
package tpkt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HeaderLen is the size of the TPKT header.
const HeaderLen = 4

// MaxPayload is the largest payload one TPKT can carry.
const MaxPayload = 0xFFFF - HeaderLen

// Version is the only TPKT version (RFC 1006 clause 6).
const Version = 3

// Split parses the first TPKT in b and returns its payload (aliasing b) and the bytes after it.
// An empty keep-alive TPKT yields an empty, non-nil payload.
func Split(b []byte) (payload, rest []byte, err error) {
	if len(b) < HeaderLen {
		return nil, b, ErrTruncated
	}
	if b[0] != Version {
		return nil, b, fmt.Errorf("first octet 0x%02x: %w", b[0], ErrVersion)
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < HeaderLen {
		return nil, b, fmt.Errorf("length %d: %w", n, ErrLength)
	}
	if len(b) < n {
		return nil, b, ErrTruncated
	}
	return b[HeaderLen:n:n], b[n:], nil
}

// Append appends payload framed as one TPKT to dst.
func Append(dst, payload []byte) ([]byte, error) {
	if len(payload) > MaxPayload {
		return dst, fmt.Errorf("%d octets: %w", len(payload), ErrTooLarge)
	}
	n := len(payload) + HeaderLen
	dst = append(dst, Version, 0, byte(n>>8), byte(n))
	return append(dst, payload...), nil
}

// Reader reads TPKT payloads from a stream, reusing one buffer.
type Reader struct {
	r   io.Reader
	buf [0xFFFF]byte
	// KeepAlives counts the empty TPKTs skipped so far.
	KeepAlives uint64
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Next returns the next non-empty payload. The slice is valid until the following call. It
// returns io.EOF only at a clean frame boundary and io.ErrUnexpectedEOF inside a frame.
func (r *Reader) Next() ([]byte, error) {
	for {
		hdr := r.buf[:HeaderLen]
		if _, err := io.ReadFull(r.r, hdr); err != nil {
			return nil, err
		}
		if hdr[0] != Version {
			return nil, fmt.Errorf("read header: first octet 0x%02x: %w", hdr[0], ErrVersion)
		}
		n := int(binary.BigEndian.Uint16(hdr[2:4]))
		if n < HeaderLen {
			return nil, fmt.Errorf("read header: length %d: %w", n, ErrLength)
		}
		if n == HeaderLen {
			r.KeepAlives++
			continue
		}
		p := r.buf[:n-HeaderLen]
		if _, err := io.ReadFull(r.r, p); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("read payload of %d octets: %w", len(p), err)
		}
		return p, nil
	}
}
