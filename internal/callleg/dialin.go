package callleg

import (
	"context"

	"github.com/roomgate/roomgate/conf"
)

// DialInCall is conf's side of one incoming call: the lobby dialogue, then
// the participant and his in-call commands. *conf.Call is one, through the
// adapter ConfService.
type DialInCall interface {
	// Room is the bridge room the call's media starts in: the conference,
	// or a private lobby room.
	Room() string
	// ParticipantID is the live participant's ID, or "" while in the lobby.
	ParticipantID() string
	// Run plays the lobby dialogue or the greetings after the answer; it
	// returns when they are done or ctx ends.
	Run(ctx context.Context)
	// Digit hands over one key press; it never blocks.
	Digit(d rune)
	// End says the call ended; it leaves the conference. Idempotent.
	End(cause error)
}

// Admitter routes incoming calls through conf's rules: straight into the
// conference, into the IVR lobby, or refused with a conf error.
type Admitter interface {
	Admit(ctx context.Context, d conf.DialIn) (DialInCall, error)
}

// InteractiveMedia is what the lobby and in-call commands need of a media
// leg beyond MediaLeg; *bridge.Leg has it. Signalling type-asserts it, so
// fakes of MediaLeg need not implement it.
type InteractiveMedia interface {
	// Play queues prompts to this leg alone; the channel closes when they
	// were played or stopped.
	Play(names ...string) (<-chan struct{}, error)
	// StopPlaying cuts the prompt playing and drops the queue.
	StopPlaying()
	// SetRoom moves the leg into another room (lobby -> conference).
	SetRoom(name string) error
	// SetGain sets listen and talk volume in 3 dB steps (-4..4).
	SetGain(listen, talk int)
	// PassDigit lets the room hear the tones of a key the caller pressed.
	PassDigit(d rune)
	// SendDigits sends RFC 4733 events to the leg, or fails when
	// telephone-event was not negotiated.
	SendDigits(digits string) error
}

// Admit routes an incoming call through conf's rules (the Admitter of
// ConfService).
func (c confService) Admit(ctx context.Context, d conf.DialIn) (DialInCall, error) {
	call, err := c.s.Admit(ctx, d)
	if err != nil {
		return nil, err
	}
	return confCall{call}, nil
}

// confCall adapts *conf.Call to DialInCall.
type confCall struct{ *conf.Call }

// ParticipantID is the live participant's ID, or "" in the lobby.
func (c confCall) ParticipantID() string {
	if p := c.Participant(); p != nil {
		return p.ID()
	}
	return ""
}
