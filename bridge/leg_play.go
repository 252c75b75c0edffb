package bridge

import (
	"fmt"

	"github.com/roomgate/roomgate/bridge/prompt"
)

// Private prompts. A leg keeps a queue of play requests under its mutex;
// the mixer takes the current one at the start of each tick (prepare) and
// pulls one 20 ms frame of it at the leg's own rate in the tick, whether
// or not the leg is sending, so that a held leg completes a prompt on time
// and the IVR is never left waiting. The frame is mixed over what the leg
// hears of its room, ducked, which gives the leg its own encode for the
// prompt's duration. Playing at the leg's rate keeps the prompt independent
// of the room's mix rate, which may change while it plays; a codec change
// rebuilds the player at the new rate from where it was.

// playReq is one Play call: its prompts and the channel closed when they end.
type playReq struct {
	names  []string
	player *prompt.Player // at the rate it was last played at
	done   chan struct{}
}

// Play queues the named prompts for this leg alone, after any it still has
// queued, and returns a channel closed when they have been played, or were
// stopped, or the leg closed. The leg hears them mixed over its room's
// audio, which is ducked by about 10 dB meanwhile; the others in the room
// hear nothing of them. They play to a muted leg, to a held leg (which
// hears nothing but whose prompt still ends on time) and to a leg alone in
// its room, such as an IVR lobby; a leg that has not started plays them
// once it starts. An unknown name fails with an error wrapping
// prompt.ErrUnknown and queues nothing; no library fails with ErrNoPrompts.
func (l *Leg) Play(names ...string) (<-chan struct{}, error) {
	lib := l.b.cfg.Prompts
	if lib == nil {
		return nil, fmt.Errorf("playing prompts to leg %q: %w", l.id, ErrNoPrompts)
	}
	for _, n := range names {
		if !lib.Has(n) {
			return nil, fmt.Errorf("playing prompt %q to leg %q: %w", n, l.id, prompt.ErrUnknown)
		}
	}
	req := &playReq{names: append([]string(nil), names...), done: make(chan struct{})}
	if len(names) == 0 {
		close(req.done)
		return req.done, nil
	}
	l.mu.Lock()
	rate := l.info.SampleRate
	l.mu.Unlock()
	// The player is made here, at the leg's current rate, so that the
	// mixer does not allocate when the request starts.
	if p, err := lib.Player(rate, req.names...); err == nil {
		req.player = p
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() != nil {
		return nil, fmt.Errorf("playing prompts to leg %q: %w", l.id, ErrClosed)
	}
	l.playQ = append(l.playQ, req)
	l.b.metrics.prompts.Inc()
	l.log.Debug("prompts queued", "prompts", names, "queued", len(l.playQ))
	return req.done, nil
}

// StopPlaying drops the leg's queued prompts and cuts the one playing; all
// their channels close. The leg hears its room as before from the next
// tick.
func (l *Leg) StopPlaying() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopPromptsLocked() {
		l.log.Debug("prompts stopped")
	}
}

// Playing reports whether a prompt is playing or queued for the leg.
func (l *Leg) Playing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.playCur != nil || len(l.playQ) > 0
}

// stopPromptsLocked closes every play request; l.mu must be held. It
// reports whether there was one.
func (l *Leg) stopPromptsLocked() bool {
	had := l.playCur != nil || len(l.playQ) > 0
	if l.playCur != nil {
		close(l.playCur.done)
		l.playCur = nil
	}
	for _, req := range l.playQ {
		close(req.done)
	}
	l.playQ = nil
	return had
}

// preparePrompt, at the start of a tick, sets mx.player to the prompt
// player of the current request at the leg's rate, closing the requests
// that have finished. l.mu must be held.
func (l *Leg) preparePrompt(mx *legMix) {
	mx.player = nil
	for {
		cur := l.playCur
		if cur == nil {
			if len(l.playQ) == 0 {
				l.playQ = nil
				return
			}
			cur = l.playQ[0]
			l.playQ[0] = nil
			l.playQ = l.playQ[1:]
			l.playCur = cur
		}
		if rate := mx.info.SampleRate; cur.player == nil || cur.player.Rate() != rate {
			p, err := l.b.cfg.Prompts.Player(rate, cur.names...)
			if err != nil {
				// A codec at a rate prompts cannot play at: the request
				// ends unheard rather than holding up the IVR.
				l.log.Warn("cannot play prompts at the leg's rate", "rate", rate, "err", err)
				close(cur.done)
				l.playCur = nil
				continue
			}
			if cur.player != nil {
				p.Seek(cur.player.Elapsed())
			}
			cur.player = p
		}
		if cur.player.Done() {
			close(cur.done)
			l.playCur = nil
			continue
		}
		mx.player = cur.player
		if mx.promptPCM == nil {
			// Most legs never hear a prompt: their frame buffer is made
			// with the first one, like the player itself.
			mx.promptPCM = make([]int16, maxFrame)
		}
		return
	}
}

// fillPrompt pulls this tick's frame of the leg's prompt into mx.promptPCM
// and reports whether there was one. It runs every tick, sent or not, so
// that prompts take their real time.
func (mx *legMix) fillPrompt() bool {
	if mx.player == nil {
		return false
	}
	return mx.player.Fill(mx.promptPCM[:mx.frame()]) > 0
}
