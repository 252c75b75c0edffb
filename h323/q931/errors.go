package q931

import "errors"

// Sentinel errors of Q.931 framing.
var (
	// ErrTruncated means the message ends inside its header or an information element.
	ErrTruncated = errors.New("q931: truncated")
	// ErrDiscriminator means the protocol discriminator is not 0x08 (Q.931).
	ErrDiscriminator = errors.New("q931: not a Q.931 message")
	// ErrCallRef means the call reference length is not 0, 1 or 2 octets.
	ErrCallRef = errors.New("q931: bad call reference")
	// ErrIE means an information element is malformed or too long.
	ErrIE = errors.New("q931: bad information element")
	// ErrNoIE means a requested information element is absent.
	ErrNoIE = errors.New("q931: information element absent")
)
