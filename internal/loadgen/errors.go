package loadgen

import "errors"

// Sentinel errors. Callers test them with errors.Is; the wrapping error says
// which leg, conference or file was involved.
var (
	// ErrShortPacket means an RTP datagram is shorter than its header says.
	ErrShortPacket = errors.New("loadgen: short RTP packet")
	// ErrBadRTPVersion means an RTP datagram does not carry version 2.
	ErrBadRTPVersion = errors.New("loadgen: RTP version is not 2")
	// ErrNoAudio means an SDP answer has no usable audio media line.
	ErrNoAudio = errors.New("loadgen: SDP answer has no audio stream")
	// ErrCodecRejected means the SDP answer does not accept the offered codec.
	ErrCodecRejected = errors.New("loadgen: SDP answer rejected the offered codec")
	// ErrCallFailed means the server answered an INVITE with a final non-2xx
	// response.
	ErrCallFailed = errors.New("loadgen: call rejected")
	// ErrTimeout means a SIP transaction got no final response in time.
	ErrTimeout = errors.New("loadgen: SIP transaction timed out")
	// ErrBadSIP means a SIP message lacks a header the tool needs.
	ErrBadSIP = errors.New("loadgen: malformed SIP message")
	// ErrMetricsFormat means a /metrics line could not be parsed.
	ErrMetricsFormat = errors.New("loadgen: malformed metrics text")
	// ErrNoHistogram means the named histogram is absent from /metrics.
	ErrNoHistogram = errors.New("loadgen: histogram not found")
	// ErrProcFormat means a /proc file did not have the expected layout.
	ErrProcFormat = errors.New("loadgen: malformed /proc file")
	// ErrConfig means the load configuration is unusable.
	ErrConfig = errors.New("loadgen: invalid configuration")
	// ErrAPI means the server's REST API refused a request.
	ErrAPI = errors.New("loadgen: REST API error")
	// ErrServerExited means a spawned server process exited early.
	ErrServerExited = errors.New("loadgen: server process exited")
	// ErrUAClosed means the SIP user agent was closed while a transaction ran.
	ErrUAClosed = errors.New("loadgen: SIP user agent closed")
)
