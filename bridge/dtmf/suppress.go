package dtmf

import "fmt"

// Suppressor keeps in-band DTMF out of a conference mix: it passes a leg's
// decoded audio through a Detector, delayed by one frame, and silences
// every frame that overlaps a tone, plus one frame of hangover, so the
// others in the room hear neither the press nor its edges. The delay is
// what lets it silence the start of a tone, which the detector can only
// recognise a block later. It does not allocate and is not safe for
// concurrent use.
type Suppressor struct {
	det   *Detector
	delay []int16 // the previous frame
	full  bool    // delay holds a frame
	// tone[0] is whether the frame in delay overlapped a tone, tone[1]
	// whether the one before it did.
	tone [2]bool
}

// NewSuppressor returns a Suppressor for frames of frame samples around
// det, which it owns from now on.
func NewSuppressor(det *Detector, frame int) (*Suppressor, error) {
	if det == nil || frame <= 0 || frame > det.rate {
		return nil, fmt.Errorf("creating DTMF suppressor: frame of %d samples: %w", frame, ErrConfig)
	}
	return &Suppressor{det: det, delay: make([]int16, frame)}, nil
}

// Detector returns the detector the suppressor feeds.
func (s *Suppressor) Detector() *Detector { return s.det }

// Process detects tones in frame, appending presses to dst, and replaces
// frame with the previous frame (silence for the first), silenced if it or
// a neighbour overlapped a tone. frame must hold exactly the frame size.
// The audio thus comes out one frame late.
func (s *Suppressor) Process(dst []Tone, frame []int16) ([]Tone, error) {
	if len(frame) != len(s.delay) {
		return dst, fmt.Errorf("suppressing DTMF: frame of %d samples, want %d: %w", len(frame), len(s.delay), ErrConfig)
	}
	before := s.det.toneBlocks
	dst = s.det.Process(dst, frame)
	// A block is shorter than a frame, so the blocks that completed during
	// this frame cover its start and the end of the previous one.
	cur := s.det.toneBlocks != before || s.det.Present()
	mute := cur || s.tone[0] || s.tone[1]
	for i, v := range frame {
		frame[i], s.delay[i] = s.delay[i], v
	}
	if mute || !s.full {
		clear(frame)
	}
	s.full = true
	s.tone[1], s.tone[0] = s.tone[0], cur
	return dst, nil
}

// Reset forgets the delayed frame and the detector's state.
func (s *Suppressor) Reset() {
	s.det.Reset()
	clear(s.delay)
	s.full = false
	s.tone = [2]bool{}
}
