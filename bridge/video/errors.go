package video

import "errors"

// Sentinel errors, so that callers can tell the classes of failure apart with
// errors.Is while the wrapped message says what was being done.
var (
	// ErrShortPacket means an RTP packet or payload ended before a field
	// its header announced.
	ErrShortPacket = errors.New("video: packet too short")
	// ErrBadRTPVersion means the RTP version field is not 2.
	ErrBadRTPVersion = errors.New("video: RTP version is not 2")
	// ErrBadPadding means the RTP padding count is zero or runs past the payload.
	ErrBadPadding = errors.New("video: bad RTP padding")
	// ErrEmptyPayload means an RTP packet carries no payload.
	ErrEmptyPayload = errors.New("video: empty payload")
	// ErrForbiddenBit means the H.264 forbidden_zero_bit is set.
	ErrForbiddenBit = errors.New("video: H.264 forbidden_zero_bit set")
	// ErrBadAggregate means a STAP-A length field is zero or runs past the packet.
	ErrBadAggregate = errors.New("video: malformed STAP-A")
	// ErrUnsupportedNAL means a packetization type this package does not
	// handle (STAP-B, MTAP, FU-B: packetization-mode 2 only).
	ErrUnsupportedNAL = errors.New("video: unsupported H.264 packetization")
	// ErrParamSetTooLarge means an SPS or PPS exceeds the cache's bound.
	ErrParamSetTooLarge = errors.New("video: parameter set too large")
	// ErrBadFmtp means an H.264 fmtp parameter has an invalid value.
	ErrBadFmtp = errors.New("video: bad H.264 fmtp")
	// ErrBadMediaControl means a media_control XML body could not be parsed.
	ErrBadMediaControl = errors.New("video: bad media_control body")
	// ErrPacketTooLarge means a packet does not fit the router's packet slots.
	ErrPacketTooLarge = errors.New("video: packet larger than slot")
	// ErrUnknownSource means a source ID that was never added (or was removed).
	ErrUnknownSource = errors.New("video: unknown source")
	// ErrUnknownReceiver means a receiver ID that was never added (or was removed).
	ErrUnknownReceiver = errors.New("video: unknown receiver")
	// ErrDuplicate means an ID that is already registered.
	ErrDuplicate = errors.New("video: duplicate ID")
	// ErrBadConfig means a Router or receiver was configured without
	// something it needs.
	ErrBadConfig = errors.New("video: bad configuration")
	// ErrBadTMMBR means a TMMBR feedback message is malformed.
	ErrBadTMMBR = errors.New("video: bad TMMBR")
	// ErrBadSPS means a sequence parameter set could not be parsed.
	ErrBadSPS = errors.New("video: bad SPS")
)
