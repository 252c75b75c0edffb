package conf

// API CONTRACT for dial-in calls, the IVR lobby, PINs and in-call DTMF
// commands (used by sip/, h323/ and cmd/): keep these names and signatures;
// add freely.
//
// A signalling package turns every incoming call into a *Call:
//
//	call, err := svc.Admit(ctx, conf.DialIn{...})   // before answering
//	if err != nil { reject with a protocol status (joinFailure) }
//	media leg created in room call.Room()          // the conference, or a private lobby room
//	answer the call
//	go call.Run(ctx)                                // lobby dialogue, greetings; returns when it is done
//	every key press:  call.Digit(r)                 // once per press, whatever the DTMF method
//	hang-up (BYE, timeout, shutdown): call.End(cause)
//
// conf reaches the leg back through InteractiveLeg: it plays prompts to the
// caller alone, moves the media from the lobby into the conference and
// hangs up. Every rule (which conference, PINs, brute-force limits, what a
// key means, who may do what) is decided here, never in signalling.

import (
	"context"
	"time"
)

// DialIn is an incoming call as signalling sees it before answering.
type DialIn struct {
	// ConferenceID is the dialled conference (request-URI user, H.323 alias
	// or E.164 number); "" when the call named none.
	ConferenceID string
	// PIN is a PIN carried in the dial string (Polycom id**pin, id$$pin);
	// "" when none was given.
	PIN string
	// DisplayName, Protocol and Remote are as in JoinRequest.
	DisplayName, Protocol, Remote string
	// SourceIP is the caller's network address without port: the subject
	// of the brute-force limits. "" disables them for this call.
	SourceIP string
	// Leg is the call.
	Leg InteractiveLeg
}

// InteractiveLeg is a leg conf can talk to. Its methods must not block long
// and must be safe to call after the call ended (then they do nothing).
type InteractiveLeg interface {
	LegHandle
	// Play queues the named prompts (bridge/prompt names) to this caller
	// alone, after any still playing. The channel is closed when they have
	// been played or were stopped, or at once when the leg has no media.
	Play(names ...string) <-chan struct{}
	// StopPlaying drops what Play queued and cuts the prompt playing now
	// (a key pressed over a prompt: type-ahead).
	StopPlaying()
	// Enter moves the leg's media from the lobby into conference id's room.
	Enter(conferenceID string) error
	// SetGain sets what the caller hears (listen) and how loud he is in
	// the mix (talk), in steps of 3 dB from -4 (quieter) to +4 (louder).
	SetGain(listen, talk int)
}

// DigitSender is implemented by legs that can send DTMF to the caller
// (RFC 4733 or SIP INFO, whichever was negotiated).
type DigitSender interface {
	SendDigits(digits string) error
}

// Announcer plays prompts to every leg of a conference's room (join and
// leave tones, "the conference has ended"); cmd wires the bridge to it with
// WithAnnouncer.
type Announcer interface {
	Announce(conferenceID string, names ...string) error
}

// DigitPassthrough is implemented by legs that can let the others of their
// conference hear a key the caller pressed (conference option
// dtmf_passthrough); the bridge mixes the digit's tones into his audio.
type DigitPassthrough interface {
	PassDigit(d rune)
}

// IVRConfig configures the lobby, PIN limits and the default key map; cmd
// fills it from the ivr.*, security.* and dtmf.* keys with WithIVR.
type IVRConfig struct {
	// LobbyNumbers are dialled numbers that lead to the lobby.
	LobbyNumbers []string
	// DigitTimeout ends an entry after this much silence after a key;
	// EntryTimeout bounds the whole lobby dialogue.
	DigitTimeout, EntryTimeout time.Duration
	// Attempts is how many tries the conference ID and the PIN each get.
	Attempts int
	// PINFailures wrong PINs from one source address within PINWindow
	// refuse that address for PINCooldown.
	PINFailures int
	PINWindow   time.Duration
	PINCooldown time.Duration
	// KeyMap is the default in-call key map (dtmf.key_map); "" is the
	// built-in DefaultKeyMap.
	KeyMap string
}

// The methods below are the contract; their implementation lives in the
// other files of this package.
//
//	func WithIVR(cfg IVRConfig) Option          // NewService fails nothing: a bad KeyMap is caught by ParseKeyMap in cmd first
//	func WithAnnouncer(a Announcer) Option
//	func ParseKeyMap(spec string) (KeyMap, error)   // *KeyMapError naming the entry; fuzzed
//	const DefaultKeyMap string                       // the built-in table, published in the README
//	func (s *Service) Admit(ctx, d DialIn) (*Call, error)
//	    - a known conference that admits the caller and needs no PIN (or got the right one in d.PIN): joined now
//	    - no conference, a lobby number, an unknown ID, or a PIN to ask: the call goes to the lobby
//	    - refused (locked, full, banned, guest in an internal conference, source in PIN cool-down):
//	      the Join errors (ErrLocked, ErrFull, ErrUnauthorized, ErrRemoved ...) or ErrCoolDown (also ErrUnauthorized)
//	func (c *Call) Room() string          // bridge room for the media leg: the conference ID, or a private lobby room
//	func (c *Call) Participant() *Participant // nil while in the lobby
//	func (c *Call) Run(ctx)               // after answering: lobby dialogue or greetings; returns when done
//	func (c *Call) Digit(d rune)          // never blocks; digits outside 0-9*#A-D are counted and dropped
//	func (c *Call) End(cause error)       // idempotent; leaves the conference
//
// Calls to users (sip/registrar_calls.go asks, conf decides):
//
//	func (s *Service) RouteCall(ctx, caller User, target string) (CallRoute, error)   // invite, join the owner, or 1:1
//	func (s *Service) CallUser(ctx, caller User, target string) (Conference, error)   // 1:1: ad-hoc room, callee rung, returns once he answered
//	func (s *Service) RequestAdmission(ctx, confID string, caller User, display string) error // owner admits (keys 1/2, REST) unless admit_without_confirmation

// Mailer sends e-mail invitations (package mail implements it over SMTP;
// cmd wires it with WithMailer when smtp.host is set). conf calls it for
// the e-mail addresses among a public conference's invitations when they are
// added, and for invited address-book users with an e-mail address who have
// no registered device to ring.
type Mailer interface {
	// SendInvitation mails the invitation to conference c to each address;
	// it returns after the SMTP server accepted or refused the message.
	SendInvitation(ctx context.Context, c Conference, to []string) error
}
