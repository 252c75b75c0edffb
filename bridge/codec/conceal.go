package codec

import "fmt"

// concealer hides lost packets for codecs without their own loss
// concealment (G.711, G.722) by repeating the last 20 ms that were decoded,
// fading out: each concealed frame ramps linearly from the previous gain to
// half of it, so there is no step within a frame, and after concealFrames
// losses in a row it produces silence rather than a buzz. Simple, but it
// bridges the single lost packets that make up most loss on real networks.
type concealer struct {
	name   string
	last   []int16 // the most recent SamplesPerFrame decoded samples
	filled int     // how many of last hold decoded audio (at the end)
	losses int     // consecutive concealed frames
}

// concealFrames is how many consecutive frames are concealed before silence.
const concealFrames = 5

// newConcealer returns a concealer for one frame of info's codec.
func newConcealer(info Info) concealer {
	return concealer{name: info.Name, last: make([]int16, info.SamplesPerFrame())}
}

// remember keeps the tail of freshly decoded audio and ends any loss run.
func (c *concealer) remember(pcm []int16) {
	c.losses = 0
	n := len(c.last)
	if len(pcm) >= n {
		copy(c.last, pcm[len(pcm)-n:])
		c.filled = n
		return
	}
	copy(c.last, c.last[len(pcm):])
	copy(c.last[n-len(pcm):], pcm)
	c.filled = min(n, c.filled+len(pcm))
}

// conceal writes one frame of faded repetition into pcm.
func (c *concealer) conceal(pcm []int16) (int, error) {
	n := len(c.last)
	if len(pcm) < n {
		return 0, fmt.Errorf("concealing %s: %d-sample buffer, need %d: %w", c.name, len(pcm), n, ErrShortBuffer)
	}
	pcm = pcm[:n]
	if c.losses >= concealFrames || c.filled == 0 {
		clear(pcm)
		c.losses++
		return n, nil
	}
	// Gains in Q15: from 2^-losses to 2^-(losses+1) across the frame.
	g0 := int32(32768) >> c.losses
	g1 := g0 >> 1
	for i, s := range c.last {
		g := g0 - (g0-g1)*int32(i)/int32(n)
		pcm[i] = int16(int32(s) * g >> 15)
	}
	c.losses++
	return n, nil
}
