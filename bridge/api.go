// Package bridge moves media between call legs: RTP/RTCP sockets from a port
// range, per-leg jitter buffers, decoding and encoding, and one audio mixer
// per conference on a steady 20 ms clock. It knows nothing of conferences'
// rules, rights, SIP or H.323: signalling packages create legs, configure them
// from their negotiated media, and put them into a room by name.
//
// API CONTRACT (used by sip/, conf/ and cmd/): keep these names and
// signatures; add freely.
package bridge

import (
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/bridge/prompt"
)

// Config configures a Bridge.
type Config struct {
	// BindAddr is the local address RTP/RTCP sockets bind to (0.0.0.0, 127.0.0.1, ::).
	BindAddr netip.Addr
	// PortMin and PortMax bound the RTP ports (even) and RTCP ports (RTP+1).
	PortMin, PortMax int
	// MediaTimeout hangs up a sendrecv leg that has sent nothing for this long.
	MediaTimeout time.Duration
	// MaxTalkers is how many of the loudest legs enter the mix (default 4).
	MaxTalkers int
	// Logger receives the bridge's logs; legs add "conf" and "leg" attributes.
	Logger *slog.Logger
	// Registerer, when set, receives the bridge's Prometheus collectors.
	Registerer prometheus.Registerer
	// Prompts holds the spoken prompts and tones that Leg.Play and
	// Bridge.Announce play; when nil, they fail with ErrNoPrompts.
	Prompts *prompt.Library
}

// Direction is the media direction of a stream from the bridge's point of view.
type Direction uint8

// Directions: Send means the bridge sends the mix to the leg; Receive means the
// bridge accepts and mixes the leg's audio.
const (
	SendRecv Direction = iota
	SendOnly           // we send, the leg only listens (remote said recvonly)
	RecvOnly           // we only receive (remote put us on hold with sendonly)
	Inactive
)

// StreamParams is the negotiated audio stream of a leg.
type StreamParams struct {
	// Codec is the one audio codec negotiated for this media line.
	Codec codec.Info
	// PayloadType is the payload type both sides use for Codec.
	PayloadType uint8
	// EventPayloadType is the telephone-event (RFC 4733) payload type, or -1.
	EventPayloadType int
	// Remote is where RTP goes until packets arrive from elsewhere
	// (symmetric RTP); RemoteRTCP defaults to Remote's port + 1.
	Remote, RemoteRTCP netip.AddrPort
	// Direction of the stream, from our side.
	Direction Direction
}

// EventKind tells what happened on a leg.
type EventKind uint8

// Kinds of leg events.
const (
	// EventMediaTimeout: no RTP for MediaTimeout on a sendrecv stream; the
	// signalling side should hang the call up.
	EventMediaTimeout EventKind = iota + 1
	// EventDTMF: a digit arrived as an RFC 4733 telephone-event or, on a
	// stream without telephone-event, as in-band tones (Digit and Source
	// are set).
	EventDTMF
	// EventTalking: the leg started (Talking true) or stopped talking.
	EventTalking
)

// Event is a leg event, delivered to LegOptions.OnEvent.
type Event struct {
	Kind    EventKind
	Digit   rune
	Talking bool
	At      time.Time
	// Source says how an EventDTMF digit arrived: SourceRFC4733 or
	// SourceInband, so that signalling can merge it with digits from other
	// methods (SIP INFO) and count each method apart.
	Source uint8
}

// LegOptions identifies a new leg.
type LegOptions struct {
	// ID names the leg in logs and stats.
	ID string
	// Room is the conference the leg's audio is mixed in.
	Room string
	// Logger, when set, is used instead of the bridge's.
	Logger *slog.Logger
	// OnEvent is called from the leg's goroutines; it must not block.
	OnEvent func(Event)
}

// LegStats is a snapshot of a leg's counters.
type LegStats struct {
	Codec      string
	Remote     netip.AddrPort
	LocalPort  int
	PacketsIn  uint64
	PacketsOut uint64
	BytesIn    uint64
	BytesOut   uint64
	// Lost is the number of packets lost on the way in (RFC 3550 A.3).
	Lost uint64
	// JitterMs is the interarrival jitter of the incoming stream (RFC 3550 A.8).
	JitterMs float64
	// RemoteLost and RemoteJitterMs come from the leg's RTCP receiver reports.
	RemoteLost     uint64
	RemoteJitterMs float64
	Talking        bool
	// Dropped packets by reason.
	DroppedWrongSource, DroppedUnknownPT, DroppedMalformed uint64
}

// Errors.
var (
	ErrNoPorts = errors.New("bridge: no free RTP port pair in the configured range")
	ErrClosed  = errors.New("bridge: closed")
	// ErrMediaTimeout is the leg's cause when it sent nothing for MediaTimeout.
	ErrMediaTimeout = errors.New("bridge: media timeout")
	// ErrNoPrompts is returned by Play and Announce when Config.Prompts is nil.
	ErrNoPrompts = errors.New("bridge: no prompt library configured")
	// ErrNoTelephoneEvent is returned by SendDigits when the leg negotiated
	// no telephone-event payload type: signalling falls back to SIP INFO
	// (or H.245 UserInputIndication).
	ErrNoTelephoneEvent = errors.New("bridge: no telephone-event negotiated")
)

// The methods below are the contract; their implementation lives in the
// other files of this package.
//
//	func New(cfg Config) (*Bridge, error)
//	func (b *Bridge) Close() error
//	func (b *Bridge) NewLeg(opts LegOptions) (*Leg, error)   // allocates the port pair
//	func (l *Leg) LocalPort() int                            // RTP; RTCP is +1
//	func (l *Leg) Start(p StreamParams) error                // first negotiated media; joins the room
//	func (l *Leg) Update(p StreamParams) error               // re-INVITE / UPDATE: hold, new address, new codec
//	func (l *Leg) Stats() LegStats
//	func (l *Leg) Close(cause error)                         // idempotent; waits; releases the ports
//	func (l *Leg) Done() <-chan struct{}
//	func (l *Leg) Cause() error
//	func (l *Leg) SetRoom(name string) error                // lobby -> conference; media untouched
//	func (l *Leg) SetMuted(muted bool)
//
// Prompts, announcements, volume and DTMF (conf's IVR and in-call commands):
//
//	// Play queues prompts for this leg alone, after any still queued; the
//	// leg hears them over its room's audio, which is ducked by 10 dB. The
//	// channel closes once they have played, or on StopPlaying or Close.
//	// Unknown names: an error wrapping prompt.ErrUnknown, nothing queued.
//	// Plays to a muted or held leg and to a leg alone in its room.
//	func (l *Leg) Play(names ...string) (<-chan struct{}, error)
//	func (l *Leg) StopPlaying()                              // drops the queue, cuts the prompt
//	// Announce plays prompts to every leg of a room (join/leave tones,
//	// prompt.ConferenceEnded), after any announcement still playing there;
//	// a room with no legs: nil, nothing happens.
//	func (b *Bridge) Announce(room string, names ...string) error
//	// SetGain sets the listen and talk volume in 3 dB steps, clamped to
//	// -4..+4 (0 = unchanged); talk gain applies before talker detection.
//	func (l *Leg) SetGain(listen, talk int)
//	// PassDigit makes the other legs of the room hear the DTMF tone of d
//	// (100 ms) as part of this leg's audio; invalid digits are ignored.
//	func (l *Leg) PassDigit(d rune)
//	// SendDigits sends RFC 4733 telephone-events to the leg on the mixer's
//	// clock (',' is a 500 ms pause); ErrNoTelephoneEvent when none was
//	// negotiated; digits outside 0-9*#A-D: error, nothing sent.
//	func (l *Leg) SendDigits(digits string) error
