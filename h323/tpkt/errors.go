package tpkt

import "errors"

// Sentinel errors of TPKT framing.
var (
	// ErrVersion means the first octet is not 3: the stream is not TPKT or lost sync.
	ErrVersion = errors.New("tpkt: bad version")
	// ErrLength means the length field is below the header size.
	ErrLength = errors.New("tpkt: bad length")
	// ErrTooLarge means a payload does not fit in one TPKT.
	ErrTooLarge = errors.New("tpkt: payload too large")
	// ErrTruncated means the buffer ends inside a TPKT.
	ErrTruncated = errors.New("tpkt: truncated")
)
