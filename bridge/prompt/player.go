package prompt

import (
	"fmt"
	"strconv"
	"time"

	"github.com/roomgate/roomgate/bridge/codec"
)

// Player plays a sequence of prompts as 20 ms frames at one rate. The mixer
// pulls a frame per tick, as from a leg; the last frame is padded with
// silence. Fill does not allocate. A Player is not safe for concurrent use.
type Player struct {
	rate  int
	clips [][]int16
	total int // samples of all clips
	i     int // current clip
	off   int // samples of clips[i] played
	done  int // samples played
}

// Player returns a Player of the named prompts, in order, at rate (8000,
// 16000 or 48000 Hz). Every name must exist.
func (l *Library) Player(rate int, names ...string) (*Player, error) {
	p := &Player{rate: rate, clips: make([][]int16, 0, len(names))}
	for _, name := range names {
		pcm, err := l.Samples(name, rate)
		if err != nil {
			return nil, fmt.Errorf("making a player: %w", err)
		}
		p.clips = append(p.clips, pcm)
		p.total += len(pcm)
	}
	return p, nil
}

// Rate returns the sample rate of the frames.
func (p *Player) Rate() int { return p.rate }

// FrameSize returns the samples in one 20 ms frame at the player's rate.
func (p *Player) FrameSize() int { return p.rate * codec.FrameDuration / 1000 }

// Duration returns the length of the whole sequence.
func (p *Player) Duration() time.Duration {
	return time.Duration(p.total) * time.Second / time.Duration(p.rate)
}

// Done reports whether every sample has been played.
func (p *Player) Done() bool { return p.done == p.total }

// Fill writes the next len(frame) samples of the sequence into frame,
// silence after its end, and returns how many samples came from the
// prompts: less than len(frame) at the end, 0 once Done.
func (p *Player) Fill(frame []int16) int {
	n := 0
	for n < len(frame) && p.i < len(p.clips) {
		k := copy(frame[n:], p.clips[p.i][p.off:])
		n += k
		p.off += k
		if p.off == len(p.clips[p.i]) {
			p.i++
			p.off = 0
		}
	}
	clear(frame[n:])
	p.done += n
	return n
}

// Elapsed returns how much of the sequence has been played.
func (p *Player) Elapsed() time.Duration {
	return time.Duration(p.done) * time.Second / time.Duration(p.rate)
}

// Seek moves the play position to d from the start of the sequence (to
// its end when d is longer, to the start when negative). With Elapsed, it
// lets a caller carry a half-played sequence over to a Player at another
// rate when the rate it plays at changes.
func (p *Player) Seek(d time.Duration) {
	pos := p.total
	if d < p.Duration() {
		// Rounded, so that a position taken from Elapsed at any rate
		// comes back to the same sample.
		pos = int((max(d, 0)*time.Duration(p.rate) + time.Second/2) / time.Second)
	}
	p.i, p.off, p.done = 0, 0, pos
	for p.i < len(p.clips) && pos >= len(p.clips[p.i]) {
		pos -= len(p.clips[p.i])
		p.i++
	}
	if p.i < len(p.clips) {
		p.off = pos
	}
}

// Number returns the prompts that speak n digit by digit ("4", "1 2").
func Number(n int) ([]string, error) {
	if n < 0 {
		return nil, fmt.Errorf("speaking %d: %w", n, ErrCount)
	}
	s := strconv.Itoa(n)
	names := make([]string, len(s))
	for i := range s {
		names[i] = Digit(int(s[i] - '0'))
	}
	return names, nil
}

// ParticipantCount returns the prompts announcing n participants: "there
// are 4 participants", or "you are the only participant" for one.
func ParticipantCount(n int) ([]string, error) {
	if n == 1 {
		return []string{OnlyParticipant}, nil
	}
	num, err := Number(n)
	if err != nil {
		return nil, err
	}
	return append(append([]string{ThereAre}, num...), Participants), nil
}

// Position returns the prompts telling a caller that it is participant
// number n: "you are participant 4", or "you are the first participant".
func Position(n int) ([]string, error) {
	if n < 1 {
		return nil, fmt.Errorf("announcing position %d: %w", n, ErrCount)
	}
	if n == 1 {
		return []string{FirstParticipant}, nil
	}
	num, err := Number(n)
	if err != nil {
		return nil, err
	}
	return append([]string{YouAreParticipant}, num...), nil
}
