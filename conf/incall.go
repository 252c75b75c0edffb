package conf

import (
	"context"
	"errors"
	"time"

	"github.com/roomgate/roomgate/bridge/prompt"
)

// In-call DTMF commands. Once joined, the call's goroutine greets the
// caller and reads his keys through a keyMachine over the configured key
// map with the conference's KeyMap put over it (KeyMap.Override). Anybody
// may mute or unmute himself (a guest whose conference denies guests the
// right to speak may not unmute), change his volumes, hear the help and
// the participant count and become moderator with the moderator PIN;
// mute-all, lock, remove-last and end need moderator rights
// (participantMay) and answer "not allowed" otherwise. "end" waits for the
// confirm key 1; any other key or the digit timeout cancels it. Every
// command is logged with its result and counted; the actions emit the
// events of the API (muted, locked, removed, ended). With the conference's
// DTMFPassthrough and a leg that implements DigitPassthrough, every key
// is also passed on to the others, except the digits of a moderator PIN
// being entered; commands still work.

// Gain steps of InteractiveLeg.SetGain.
const (
	minGain = -4
	maxGain = 4
)

// inCall greets p and runs his commands until the call or ctx ends.
func (c *Call) inCall(ctx context.Context, p *Participant) {
	conf, err := c.s.GetConference(ctx, p.confID)
	if err != nil {
		c.log.WarnContext(ctx, "in call: reading the conference", "conf", p.confID, "leg", p.id, "err", err)
		conf = Conference{ID: p.confID}
	}
	km := c.iv.keyMap
	if conf.KeyMap != "" {
		if o, err := ParseKeyMap(conf.KeyMap); err != nil {
			c.log.WarnContext(ctx, "conference key map ignored", "conf", p.confID, "err", err)
		} else {
			km = km.Override(o)
		}
	}
	m := keyMachine{km: km}
	var pass DigitPassthrough
	if conf.DTMFPassthrough {
		pass, _ = c.leg.(DigitPassthrough)
	}
	playing := c.greet(ctx, p, conf)

	dt := c.iv.cfg.DigitTimeout
	t := time.NewTimer(dt)
	t.Stop()
	defer t.Stop()
	// The digit timeout runs while the machine waits for a key and no
	// prompt plays: a caller asked for a PIN has the whole timeout after
	// the question.
	rearm := func() {
		if m.waiting() && playing == nil {
			t.Reset(dt)
		} else {
			t.Stop()
		}
	}
	for {
		var ev keyEvent
		select {
		case <-ctx.Done():
			return
		case <-playing:
			playing = nil
			rearm()
			continue
		case <-t.C:
			ev = m.timeout()
		case d := <-c.digits:
			if playing != nil {
				c.leg.StopPlaying() // type-ahead
				playing = nil
			}
			if c.admissionDigit(ctx, p, d) {
				continue // the owner answered a caller asking to join (owner_call.go)
			}
			if pass != nil && !m.enteringPIN() {
				pass.PassDigit(rune(d)) // never the digits of a PIN
			}
			ev = m.key(d)
		}
		names, stop := c.handle(ctx, p, &m, ev)
		if stop {
			return
		}
		if len(names) > 0 {
			playing = c.leg.Play(names...)
		}
		rearm()
	}
}

// greet plays the caller's welcome into the conference: how many are
// there, whether he is muted; the others hear the join tone.
func (c *Call) greet(ctx context.Context, p *Participant, conf Conference) <-chan struct{} {
	var names []string
	if n := c.s.LiveCount(p.confID); n <= 1 {
		names = []string{prompt.FirstParticipant}
	} else {
		names, _ = prompt.ParticipantCount(n) // n > 1: no error
	}
	if c.muteOnJoin(p) {
		names = append(names, prompt.Muted)
	}
	if conf.Tones != TonesOff {
		c.announce(p.confID, prompt.Join)
	}
	return c.leg.Play(names...)
}

// muteOnJoin reports whether p is muted as he joins (Join applies the
// conference's mute-on-join and guest rules).
func (c *Call) muteOnJoin(p *Participant) bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return p.muted
}

// handle carries out what a key completed. It returns the prompts to play,
// and stop when the call was hung up.
func (c *Call) handle(ctx context.Context, p *Participant, m *keyMachine, ev keyEvent) (names []string, stop bool) {
	switch ev.kind {
	case keyCommand:
		return c.command(ctx, p, m, ev.cmd), false
	case keyPIN:
		return c.moderatorPIN(ctx, p, ev.pin)
	case keyConfirmed:
		return c.endForAll(ctx, p), false
	case keyCancelled:
		c.result(ctx, p, CommandEnd, "cancelled", nil)
	}
	return nil, false
}

// command runs cmd for p and returns the prompts that answer it.
func (c *Call) command(ctx context.Context, p *Participant, m *keyMachine, cmd string) []string {
	var conf Conference
	if moderatorCommand(cmd) || cmd == CommandModerator {
		var err error
		if conf, err = c.s.GetConference(ctx, p.confID); err != nil {
			c.result(ctx, p, cmd, commandFailed, err)
			return []string{promptNotAllowed}
		}
	}
	if moderatorCommand(cmd) {
		if err := c.s.participantMay(ctx, p, conf); err != nil {
			c.result(ctx, p, cmd, commandDenied, err)
			return []string{promptNotAllowed}
		}
	}
	switch cmd {
	case CommandMute:
		return c.toggleMute(ctx, p)
	case CommandListenDown, CommandListenUp, CommandTalkDown, CommandTalkUp:
		switch cmd {
		case CommandListenDown:
			c.listen = max(minGain, c.listen-1)
		case CommandListenUp:
			c.listen = min(maxGain, c.listen+1)
		case CommandTalkDown:
			c.talk = max(minGain, c.talk-1)
		case CommandTalkUp:
			c.talk = min(maxGain, c.talk+1)
		}
		c.leg.SetGain(c.listen, c.talk)
		c.result(ctx, p, cmd, commandOK, nil, "listen", c.listen, "talk", c.talk)
		return nil
	case CommandCount:
		n := c.s.LiveCount(p.confID)
		c.result(ctx, p, cmd, commandOK, nil, "participants", n)
		names, _ := prompt.ParticipantCount(max(n, 1))
		return names
	case CommandHelp:
		c.result(ctx, p, cmd, commandOK, nil)
		return []string{promptHelp}
	case CommandModerator:
		switch {
		case isChair(p):
			c.result(ctx, p, cmd, commandOK, nil, "already", true)
			return []string{promptModerator}
		case conf.ModeratorPIN == "":
			c.result(ctx, p, cmd, commandDenied, errors.New("the conference has no moderator PIN"))
			return []string{promptNotAllowed}
		}
		m.expectPIN()
		return []string{promptEnterModeratorPIN}
	case CommandMuteAll:
		n, err := c.s.muteAllAs(ctx, p)
		if err != nil {
			c.result(ctx, p, cmd, commandFailed, err)
			return []string{promptNotAllowed}
		}
		c.result(ctx, p, cmd, commandOK, nil, "muted", n)
		return []string{promptAllMuted}
	case CommandLock:
		locked := !conf.Locked
		if err := c.s.lockAs(ctx, conf, locked, p.userID); err != nil {
			c.result(ctx, p, cmd, commandFailed, err)
			return []string{promptNotAllowed}
		}
		c.result(ctx, p, cmd, commandOK, nil, "locked", locked)
		if locked {
			return []string{prompt.Locked}
		}
		return []string{promptUnlocked}
	case CommandRemoveLast:
		target := c.s.lastJoined(conf, p)
		if target == nil {
			c.result(ctx, p, cmd, commandFailed, errors.New("nobody to remove"))
			return []string{promptNotAllowed}
		}
		if err := c.s.removeAs(ctx, conf, target, p.userID); err != nil {
			c.result(ctx, p, cmd, commandFailed, err, "target", target.id)
			return []string{promptNotAllowed}
		}
		c.result(ctx, p, cmd, commandOK, nil, "target", target.id)
		return []string{promptRemoved}
	case CommandEnd:
		m.expectConfirm()
		c.result(ctx, p, cmd, "confirming", nil)
		return []string{promptConfirmEnd}
	}
	return nil
}

// toggleMute mutes or unmutes p himself, with MuteSelf's rules (a guest
// denied speech or a listener may not unmute).
func (c *Call) toggleMute(ctx context.Context, p *Participant) []string {
	c.s.mu.Lock()
	want := !p.muted
	c.s.mu.Unlock()
	if err := c.s.MuteSelf(ctx, p, want); err != nil {
		res := commandFailed
		if errors.Is(err, ErrForbidden) {
			res = commandDenied
		}
		c.result(ctx, p, CommandMute, res, err)
		return []string{promptNotAllowed}
	}
	c.result(ctx, p, CommandMute, commandOK, nil, "muted", want)
	if want {
		return []string{prompt.Muted}
	}
	return []string{prompt.Unmuted}
}

// moderatorPIN checks the moderator PIN entered after the moderator
// command. A wrong one counts toward the brute-force limits like one in
// the lobby; an empty entry cancels.
func (c *Call) moderatorPIN(ctx context.Context, p *Participant, pin string) ([]string, bool) {
	if pin == "" {
		c.result(ctx, p, CommandModerator, "cancelled", nil)
		return nil, false
	}
	conf, err := c.s.GetConference(ctx, p.confID)
	if err != nil {
		c.result(ctx, p, CommandModerator, commandFailed, err)
		return []string{promptNotAllowed}, false
	}
	if samePIN(pin, conf.ModeratorPIN) {
		c.promote(ctx, p, "in call")
		c.result(ctx, p, CommandModerator, commandOK, nil)
		return []string{promptModerator}, false
	}
	c.pinFailures++
	hangup, cause := c.pinFailed(ctx, p.confID, pinWhereInCall)
	c.result(ctx, p, CommandModerator, commandDenied, errors.New("wrong moderator PIN"))
	if hangup {
		c.hangup(ctx, cause, prompt.WrongPIN, promptTooManyAttempts, prompt.Goodbye)
		return nil, true
	}
	return []string{prompt.WrongPIN}, false
}

// endForAll ends p's conference for everybody after the confirm key.
func (c *Call) endForAll(ctx context.Context, p *Participant) []string {
	conf, err := c.s.GetConference(ctx, p.confID)
	if err == nil {
		err = c.s.participantMay(ctx, p, conf) // rights may have changed while confirming
	}
	if err != nil {
		c.result(ctx, p, CommandEnd, commandDenied, err)
		return []string{promptNotAllowed}
	}
	c.s.stopConference(ctx, conf, p.userID) // every leg hears that it ended, then is hung up
	c.result(ctx, p, CommandEnd, commandOK, nil)
	return nil
}

// result logs and counts the outcome of a command.
func (c *Call) result(ctx context.Context, p *Participant, cmd, result string, err error, attrs ...any) {
	c.iv.metrics.commands.WithLabelValues(cmd, result).Inc()
	args := append([]any{"conf", p.confID, "leg", p.id, "command", cmd, "result", result, "role", p.Role()}, attrs...)
	if err != nil {
		args = append(args, "err", err)
	}
	c.log.InfoContext(ctx, "dtmf command", args...)
}
