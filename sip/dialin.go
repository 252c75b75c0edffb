package sip

import (
	"fmt"
	"net"
	"strings"

	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/internal/callleg"
)

// Dial-in calls are routed by conf (Admitter): straight into the
// conference, into the IVR lobby, or refused. conf talks back to the caller
// through the methods below, which make a call a conf.InteractiveLeg: they
// play prompts, move the media from the lobby into the conference, set the
// caller's volume and send him DTMF. The decisions (what to play, when to
// enter, what a key means) are conf's.

// dialInTarget splits the dialled user part into a conference ID and a PIN
// carried in the dial string, as Polycom room systems dial them
// (1000**1234, 1000$$1234). A user part that is not of that form is the
// conference ID as it is; conf decides whether it names a conference.
func dialInTarget(user string) (confID, pin string) {
	for _, sep := range []string{"**", "$$"} {
		if id, p, ok := strings.Cut(user, sep); ok && id != "" && p != "" && allDigitsOrEmpty(p) {
			return id, p
		}
	}
	return user, ""
}

func allDigitsOrEmpty(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// sourceIP is the host part of a signalling source address, the subject of
// conf's brute-force limits.
func sourceIP(src string) string {
	host, _, err := net.SplitHostPort(src)
	if err != nil {
		return src
	}
	return host
}

// interactive returns the call's media leg when it can play prompts and
// change rooms (*bridge.Leg can; test fakes may not).
func (c *call) interactive() callleg.InteractiveMedia {
	c.mu.Lock()
	defer c.mu.Unlock()
	im, _ := c.leg.(callleg.InteractiveMedia)
	return im
}

// closedChan is returned by Play when nothing will be played.
func closedChan() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// Play queues prompts to this caller alone (conf.InteractiveLeg). The
// channel closes when they were played, stopped, or could not be played.
func (c *call) Play(names ...string) <-chan struct{} {
	im := c.interactive()
	if im == nil || c.ctx.Err() != nil {
		return closedChan()
	}
	done, err := im.Play(names...)
	if err != nil {
		c.log.Warn("playing prompts", "prompts", names, "err", err)
		return closedChan()
	}
	return done
}

// StopPlaying cuts the prompt playing to the caller (he pressed a key).
func (c *call) StopPlaying() {
	if im := c.interactive(); im != nil {
		im.StopPlaying()
	}
}

// Enter moves the caller's media from the lobby into conference id.
func (c *call) Enter(id string) error {
	im := c.interactive()
	if im == nil {
		return fmt.Errorf("moving call %s into conference %s: %w", c.callID, id, ErrNotSupported)
	}
	if err := im.SetRoom(id); err != nil {
		return fmt.Errorf("moving call %s into conference %s: %w", c.callID, id, err)
	}
	c.mu.Lock()
	c.room = id
	c.mu.Unlock()
	c.moveVideo(id)
	c.log.Info("entered conference from the lobby", "entered", id)
	return nil
}

// SetGain sets what the caller hears and how loud he is, in 3 dB steps.
func (c *call) SetGain(listen, talk int) {
	if im := c.interactive(); im != nil {
		im.SetGain(listen, talk)
	}
}

// PassDigit lets the others hear a key the caller pressed (conference
// option dtmf_passthrough).
func (c *call) PassDigit(d rune) {
	if im := c.interactive(); im != nil {
		im.PassDigit(d)
	}
}

// SendDigits sends DTMF to the caller: RFC 4733 events in the RTP stream
// when telephone-event was negotiated, SIP INFO otherwise
// (conf.DigitSender).
func (c *call) SendDigits(digits string) error {
	keys, err := parseSendDigits(c.callID, digits)
	if err != nil {
		return err
	}
	c.mu.Lock()
	events := c.started && c.stream.EventPayloadType >= 0
	c.mu.Unlock()
	if !events {
		return c.sendInfoDigits(keys)
	}
	im := c.interactive()
	if im == nil {
		return fmt.Errorf("sending DTMF to call %s: the media leg cannot send events: %w", c.callID, ErrNotSupported)
	}
	if err := im.SendDigits(digits); err != nil {
		return fmt.Errorf("sending DTMF to call %s: %w", c.callID, err)
	}
	return nil
}

// Compile-time checks: a call is what conf talks to.
var (
	_ conf.InteractiveLeg   = (*call)(nil)
	_ conf.DigitSender      = (*call)(nil)
	_ conf.DigitPassthrough = (*call)(nil)
	_ conf.MutableLeg       = (*call)(nil)
	_ conf.AuthenticatedLeg = (*call)(nil)
)
