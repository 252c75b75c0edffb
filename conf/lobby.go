package conf

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/roomgate/roomgate/bridge/prompt"
)

// The IVR lobby: a call that named no conference, an unknown one, or one
// whose PIN it must enter, hears prompts in a room of its own and answers
// with keys. The dialogue:
//
//  1. "welcome", then "enter the conference ID followed by #" unless the
//     dialled conference exists (an unknown one is said to be invalid
//     first). IVRConfig.Attempts wrong IDs end the call.
//  2. "enter the PIN" when the conference has a PIN or a moderator PIN;
//     either is accepted and the moderator PIN makes the caller moderator.
//     With only a moderator PIN set, an empty entry (just #) joins as a
//     participant. IVRConfig.Attempts wrong PINs, or maxCallPINFailures, or
//     a source address that reached its PIN limit, end the call.
//  3. Join, then the leg's media moves into the conference (Enter). A
//     refused join (locked, full, removed, guest of an internal conference)
//     is told and hung up.
//
// An entry ends with #, or when DigitTimeout passed after the last key (or
// after the prompt, before the first one): silence counts as #. * starts
// the entry again. Keys pressed while a prompt plays stop it and count
// (type-ahead). An empty entry is asked again without counting an attempt;
// EntryTimeout, running since Admit, bounds the whole dialogue whatever
// the caller does.

// lobby runs the dialogue. It returns the joined participant, or false
// when the call was hung up or ended meanwhile.
func (c *Call) lobby(ctx context.Context) (*Participant, bool) {
	lead := []string{prompt.Welcome}
	confID := c.target
	if confID == "" {
		if c.unknownID {
			lead = append(lead, prompt.InvalidConference)
		}
		id, ok := c.askConference(ctx, lead)
		if !ok {
			return nil, false
		}
		confID, lead = id, nil
	}
	role, ok := c.askPIN(ctx, confID, lead)
	if !ok {
		return nil, false
	}
	return c.joinFromLobby(ctx, confID, role)
}

// collect plays names and gathers one entry of at most maxLen digits (one
// more is kept so that an over-long entry stays wrong). The error is
// ErrLobbyTimeout or the cause that ended ctx.
func (c *Call) collect(ctx context.Context, names []string, maxLen int) (string, error) {
	var playing <-chan struct{}
	if len(names) > 0 {
		playing = c.leg.Play(names...)
	}
	dt := c.iv.cfg.DigitTimeout
	t := time.NewTimer(dt)
	defer t.Stop()
	if playing != nil {
		t.Stop() // armed when the prompts end, or at the first key
	}
	buf := make([]byte, 0, maxLen+1)
	defer clear(buf[:cap(buf)])
	for {
		select {
		case <-ctx.Done():
			return "", context.Cause(ctx)
		case <-c.expired:
			return "", ErrLobbyTimeout
		case <-playing:
			playing = nil
			t.Reset(dt)
		case <-t.C:
			return string(buf), nil
		case d := <-c.digits:
			if playing != nil {
				c.leg.StopPlaying()
				playing = nil
			}
			switch {
			case d == '#':
				return string(buf), nil
			case d == '*':
				clear(buf)
				buf = buf[:0]
			case d >= '0' && d <= '9' && len(buf) <= maxLen:
				buf = append(buf, d)
			}
			t.Reset(dt)
		}
	}
}

// askConference asks for a conference ID until an existing one is entered.
func (c *Call) askConference(ctx context.Context, lead []string) (string, bool) {
	names := append(lead, prompt.EnterConferenceID)
	tries := 0
	for {
		entry, err := c.collect(ctx, names, MaxIDLen)
		if err != nil {
			c.lobbyInterrupted(ctx, err)
			return "", false
		}
		names = []string{prompt.EnterConferenceID}
		if entry == "" {
			continue
		}
		conf, err := c.s.GetConference(ctx, entry)
		switch {
		case err == nil:
			return conf.ID, true
		case !errors.Is(err, ErrNotFound):
			c.lobbyFailed(ctx, lobbyError, fmt.Errorf("lobby: reading the conference entered: %w", err), prompt.Goodbye)
			return "", false
		}
		tries++
		c.log.InfoContext(ctx, "lobby: no such conference", "entered", entry, "attempt", tries)
		if tries >= c.iv.cfg.Attempts {
			c.lobbyFailed(ctx, lobbyInvalidConference, ErrNoConference, prompt.InvalidConference, prompt.Goodbye)
			return "", false
		}
		names = []string{prompt.InvalidConference, prompt.EnterConferenceID}
	}
}

// askPIN asks for conference confID's PIN when it has one; role is
// RoleModerator when the moderator PIN was entered.
func (c *Call) askPIN(ctx context.Context, confID string, lead []string) (role string, ok bool) {
	conf, ok := c.lobbyConference(ctx, confID)
	if !ok {
		return "", false
	}
	if conf.PIN == "" && conf.ModeratorPIN == "" {
		return "", true
	}
	names := lead
	if c.dialWrong {
		names = append(names, prompt.WrongPIN)
	}
	names = append(names, prompt.EnterPIN)
	for {
		entry, err := c.collect(ctx, names, MaxPINLen)
		if err != nil {
			c.lobbyInterrupted(ctx, err)
			return "", false
		}
		names = []string{prompt.EnterPIN}
		// Read it again: a PIN changed meanwhile applies now.
		if conf, ok = c.lobbyConference(ctx, confID); !ok {
			return "", false
		}
		switch {
		case samePIN(entry, conf.ModeratorPIN):
			return RoleModerator, true
		case samePIN(entry, conf.PIN):
			return "", true
		case entry == "" && conf.PIN == "":
			return "", true // only moderators have a PIN to enter
		case entry == "":
			continue
		}
		c.pinFailures++
		hangup, cause := c.pinFailed(ctx, confID, pinWhereLobby)
		if !hangup && c.pinFailures >= c.iv.cfg.Attempts {
			hangup, cause = true, ErrWrongPIN
		}
		if hangup {
			c.lobbyFailed(ctx, lobbyWrongPIN, cause, prompt.WrongPIN, promptTooManyAttempts, prompt.Goodbye)
			return "", false
		}
		names = []string{prompt.WrongPIN, prompt.EnterPIN}
	}
}

// lobbyConference reads conference id for the lobby; a conference deleted
// meanwhile ends the call.
func (c *Call) lobbyConference(ctx context.Context, id string) (Conference, bool) {
	conf, err := c.s.GetConference(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		c.lobbyFailed(ctx, lobbyInvalidConference, fmt.Errorf("lobby: %w", err), prompt.InvalidConference, prompt.Goodbye)
		return Conference{}, false
	case err != nil:
		c.lobbyFailed(ctx, lobbyError, fmt.Errorf("lobby: reading conference %s: %w", id, err), prompt.Goodbye)
		return Conference{}, false
	}
	return conf, true
}

// joinFromLobby joins conference confID and moves the media into it.
func (c *Call) joinFromLobby(ctx context.Context, confID, role string) (*Participant, bool) {
	p, err := c.s.Join(ctx, JoinRequest{asModerator: role == RoleModerator, ConferenceID: confID, DisplayName: c.in.DisplayName,
		Protocol: c.in.Protocol, Remote: c.in.Remote, Leg: c.leg})
	if err != nil {
		err = fmt.Errorf("lobby: %w", err)
		switch {
		case errors.Is(err, ErrLocked):
			c.lobbyFailed(ctx, lobbyRefused, err, prompt.Locked, prompt.Goodbye)
		case errors.Is(err, ErrNotFound):
			c.lobbyFailed(ctx, lobbyInvalidConference, err, prompt.InvalidConference, prompt.Goodbye)
		case errors.Is(err, ErrFull), errors.Is(err, ErrUnauthorized):
			c.lobbyFailed(ctx, lobbyRefused, err, promptNotAllowed, prompt.Goodbye)
		default:
			c.lobbyFailed(ctx, lobbyError, err, prompt.Goodbye)
		}
		return nil, false
	}
	conf, _ := c.s.store.GetConference(ctx, confID)
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		c.s.Leave(p, context.Cause(c.ctx)) // hung up while joining
		c.iv.metrics.lobby.WithLabelValues(lobbyHungUp).Inc()
		return nil, false
	}
	c.p, c.room, c.tones = p, confID, conf.Tones != TonesOff
	c.entryTimer.Stop()
	c.mu.Unlock()
	if err := c.leg.Enter(confID); err != nil {
		err = fmt.Errorf("lobby: moving the call into conference %s: %w", confID, err)
		c.iv.metrics.lobby.WithLabelValues(lobbyError).Inc()
		c.log.ErrorContext(ctx, "lobby call not moved into its conference", "conf", confID, "leg", p.id, "err", err)
		c.hangup(ctx, err, prompt.Goodbye)
		return nil, false
	}
	c.iv.metrics.lobby.WithLabelValues(lobbyJoined).Inc()
	c.log.InfoContext(ctx, "lobby call joined", "conf", confID, "leg", p.id, "role", p.Role())
	return p, true
}

// lobbyFailed says why the call cannot go on (names), hangs it up with
// cause and counts it as result.
func (c *Call) lobbyFailed(ctx context.Context, result string, cause error, names ...string) {
	c.iv.metrics.lobby.WithLabelValues(result).Inc()
	c.log.InfoContext(ctx, "lobby call refused", "result", result, "cause", cause.Error())
	c.hangup(ctx, cause, names...)
}

// lobbyInterrupted handles an entry that did not end with a key: the
// EntryTimeout (goodbye and hang-up) or the end of the call or of Run.
func (c *Call) lobbyInterrupted(ctx context.Context, err error) {
	if errors.Is(err, ErrLobbyTimeout) {
		c.lobbyFailed(ctx, lobbyTimeout, ErrLobbyTimeout, prompt.Goodbye)
		return
	}
	c.iv.metrics.lobby.WithLabelValues(lobbyHungUp).Inc()
}
