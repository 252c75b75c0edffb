package bridge

import (
	"fmt"

	"github.com/roomgate/roomgate/bridge/prompt"
)

// Room announcements (join and leave tones, "the conference has ended")
// are one more voice in the room's mix: the mixer adds a frame of the
// announcement to the sum of the talkers, at the mix rate, so that every
// leg hears it through the encodes it already gets, talkers in their
// mix-minus and the others in the shared encode. An announcement thus
// costs one frame copy per tick whatever the size of the room, where a
// private prompt per leg would cost an encode per leg. Announcements are
// queued per room and play one after the other; a mix rate change rebuilds
// the player at the new rate from where it was.

// announcement is one Announce call.
type announcement struct {
	names  []string
	player *prompt.Player
}

// Announce plays the named prompts to every leg of room, after any
// announcement still playing there, and returns at once. A room with no
// legs (unknown to the bridge) is not an error: nobody is there to hear it.
// An unknown name fails with an error wrapping prompt.ErrUnknown; no
// library fails with ErrNoPrompts.
func (b *Bridge) Announce(room string, names ...string) error {
	lib := b.cfg.Prompts
	if lib == nil {
		return fmt.Errorf("announcing in room %q: %w", room, ErrNoPrompts)
	}
	for _, n := range names {
		if !lib.Has(n) {
			return fmt.Errorf("announcing %q in room %q: %w", n, room, prompt.ErrUnknown)
		}
	}
	if len(names) == 0 {
		return nil
	}
	b.mu.Lock()
	r := b.rooms[room]
	b.mu.Unlock()
	if r == nil {
		return nil
	}
	a := &announcement{names: append([]string(nil), names...)}
	// Made here at the room's current rate, so that the mixer does not
	// allocate when the announcement starts.
	p, err := lib.Player(int(r.mixRate.Load()), a.names...)
	if err != nil {
		return fmt.Errorf("announcing in room %q: %w", room, err)
	}
	a.player = p
	r.mu.Lock()
	r.annQ = append(r.annQ, a)
	r.annPending.Store(true)
	r.mu.Unlock()
	b.metrics.announcements.Inc()
	b.log.Debug("announcement queued", "conf", room, "prompts", names)
	return nil
}

// mixAnnouncement adds this tick's frame of the room's announcement, if
// one is playing, to acc (at the mix rate). It allocates only when the mix
// rate changed under a playing announcement.
func (r *room) mixAnnouncement(acc []int32) {
	for {
		a := r.ann
		if a == nil {
			if !r.annPending.Load() {
				return
			}
			r.mu.Lock()
			if len(r.annQ) > 0 {
				a = r.annQ[0]
				r.annQ[0] = nil
				r.annQ = r.annQ[1:]
			}
			if len(r.annQ) == 0 {
				r.annQ = nil
				r.annPending.Store(false)
			}
			r.mu.Unlock()
			if a == nil {
				return
			}
			r.ann = a
		}
		if a.player.Rate() != r.rate {
			p, err := r.b.cfg.Prompts.Player(r.rate, a.names...)
			if err != nil {
				r.b.log.Warn("cannot play announcement at the mix rate", "conf", r.name, "rate", r.rate, "err", err)
				r.ann = nil
				continue
			}
			p.Seek(a.player.Elapsed())
			a.player = p
		}
		if a.player.Done() {
			r.ann = nil
			continue
		}
		pcm := r.annPCM[:r.frame]
		a.player.Fill(pcm)
		accumulate(acc, pcm)
		return
	}
}
