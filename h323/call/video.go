package call

import (
	"fmt"
	"github.com/roomgate/roomgate/bridge/video"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/h323/h245"
	"github.com/roomgate/roomgate/internal/callleg"
)

// VideoFormat is the conference video format: what our capability set
// advertises (H.264 per H.241) and the most a peer is asked to send or is
// sent. The zero value is 1280x720 at 30 frames/s and 2000 kbit/s, which is
// H.264 level 3.1 (720p30) with no custom parameters.
type VideoFormat struct {
	// Disabled makes calls audio only: no video capability, video channels refused.
	Disabled bool
	// MaxWidth and MaxHeight in pixels, MaxFPS in frames per second.
	MaxWidth, MaxHeight, MaxFPS int
	// MaxBitrateKbps is the video bit rate in kbit/s.
	MaxBitrateKbps int
}

// Defaults of VideoFormat.
const (
	DefaultVideoWidth   = 1280
	DefaultVideoHeight  = 720
	DefaultVideoFPS     = 30
	DefaultVideoBitrate = 2000 // kbit/s
)

// withDefaults fills zero fields and checks the others.
func (f VideoFormat) withDefaults() (VideoFormat, error) {
	if f.MaxWidth == 0 {
		f.MaxWidth = DefaultVideoWidth
	}
	if f.MaxHeight == 0 {
		f.MaxHeight = DefaultVideoHeight
	}
	if f.MaxFPS == 0 {
		f.MaxFPS = DefaultVideoFPS
	}
	if f.MaxBitrateKbps == 0 {
		f.MaxBitrateKbps = DefaultVideoBitrate
	}
	if f.MaxWidth < 16 || f.MaxWidth > 8192 || f.MaxHeight < 16 || f.MaxHeight > 8192 || f.MaxFPS < 1 || f.MaxFPS > 240 ||
		f.MaxBitrateKbps < 64 || f.MaxBitrateKbps > 200000 {
		return f, fmt.Errorf("%w: video format %dx%d@%d %d kbit/s", ErrConfig, f.MaxWidth, f.MaxHeight, f.MaxFPS, f.MaxBitrateKbps)
	}
	return f, nil
}

// h264Level is an H.264 level as H.241 codes it, with its Baseline MaxBR
// (Table A-1); its frame size and macroblock rate come from
// video.LevelLimits, the one copy of that table.
type h264Level struct {
	code   int   // H.241 level code (parameter 42)
	idc    uint8 // level_idc, as video.LevelLimits takes it
	brKbps int   // MaxBR, kbit/s
}

var h264Levels = [...]h264Level{
	{15, 10, 64}, {22, 11, 192}, {29, 12, 384}, {36, 13, 768}, {43, 20, 2000}, {50, 21, 4000}, {57, 22, 4000},
	{64, 30, 10000}, {71, 31, 14000}, {78, 32, 20000}, {85, 40, 20000}, {92, 41, 50000}, {99, 42, 50000},
	{106, 50, 135000}, {113, 51, 240000},
}

// capability is the H.264 capability (H.241 clause 8.3) the format allows:
// Baseline profile (what the bridge forwards without transcoding; Constrained
// Baseline streams are Baseline streams), the lowest level whose frame size
// and macroblock rate hold the format, and CustomMaxBRandCPB when the bit
// rate is above the level's (H.241 custom parameters only ever raise a
// level's limits). maxBitRate is in units of 100 bit/s.
func (f VideoFormat) capability() h245.H264 {
	fs := ((f.MaxWidth + 15) / 16) * ((f.MaxHeight + 15) / 16)
	mbps := fs * f.MaxFPS
	var lv h264Level
	var lvMBPS, lvFS int
	for _, l := range h264Levels {
		m, s, _ := video.LevelLimits(l.idc)
		lv, lvMBPS, lvFS = l, int(m), int(s)
		if lvFS >= fs && lvMBPS >= mbps {
			break // else the loop ends on the highest level
		}
	}
	h := h245.H264{Profile: h245.H241ProfileBaseline, Level: lv.code, MaxBitRate: f.MaxBitrateKbps * 10}
	// Beyond level 5.1 the custom parameters carry the rest (units of 256 MBs and 500 MB/s).
	if fs > lvFS {
		h.MaxFS = (fs + 255) / 256
	}
	if mbps > lvMBPS {
		h.MaxMBPS = (mbps + 499) / 500
	}
	if f.MaxBitrateKbps > lv.brKbps {
		h.MaxBR = (f.MaxBitrateKbps*1000 + 24999) / 25000
	}
	return h
}

// defaultVideoPT is the dynamic RTP payload type of our H.264 channel when
// the peer has not named one yet (Polycom and Tandberg use 109 too).
const defaultVideoPT = 109

// fastUpdateInterval is the least time between two videoFastUpdatePicture
// commands we send: the router repeats keyframe requests on its own, and
// room systems slow down when flooded with them.
const fastUpdateInterval = time.Second

// fastUpdateLimiter spaces the videoFastUpdatePicture commands we send. A
// request inside the interval is not lost: it is sent when the interval
// ends, merged with any others that came meanwhile.
type fastUpdateLimiter struct {
	interval time.Duration
	last     time.Time
	pending  bool
}

// request reports whether to send now; otherwise wait is how long until the
// merged request may go (0 when one is already pending).
func (l *fastUpdateLimiter) request(now time.Time) (send bool, wait time.Duration) {
	if l.last.IsZero() || now.Sub(l.last) >= l.interval {
		l.last, l.pending = now, false
		return true, 0
	}
	if l.pending {
		return false, 0
	}
	l.pending = true
	return false, l.interval - now.Sub(l.last)
}

// due is called when the wait ends: it reports whether a merged request is
// to be sent now.
func (l *fastUpdateLimiter) due(now time.Time) bool {
	if !l.pending {
		return false
	}
	l.pending, l.last = false, now
	return true
}

// rawVideoFactory is a media factory that hands out the bridge's own video
// legs (*bridge.Bridge has this method).
type rawVideoFactory interface {
	NewVideoLeg(opts bridge.VideoLegOptions) (*bridge.VideoLeg, error)
}

// newVideoLeg creates the call's video leg in room when the media factory
// gives video and the format allows it; a call without one is audio only
// and advertises no video. It fails only when the bridge refuses.
func (c *call) newVideoLeg(room string) error {
	if c.env.video.Disabled {
		return nil
	}
	opts := bridge.VideoLegOptions{ID: c.id, Room: room, Logger: c.log, OnKeyframeRequest: c.onKeyframeRequest}
	var leg videoLeg
	switch f := c.env.media.(type) {
	case callleg.VideoFactory:
		l, err := f.NewVideoLeg(opts)
		if err != nil {
			return fmt.Errorf("allocating video for %s: %w", c.id, err)
		}
		leg = l
	case rawVideoFactory:
		l, err := f.NewVideoLeg(opts)
		if err != nil {
			return fmt.Errorf("allocating video for %s: %w", c.id, err)
		}
		leg = l
	default:
		return nil
	}
	c.mediaMu.Lock()
	c.video.leg = leg
	if c.cameraMuted {
		leg.SetCameraMuted(true) // muted by conf before the video existed
	}
	c.mediaMu.Unlock()
	return nil
}

// onKeyframeRequest is the video leg's OnKeyframeRequest: the room needs a
// keyframe from our peer. It runs on the leg's goroutine and never blocks;
// the loop sends the command.
func (c *call) onKeyframeRequest(bool) {
	select {
	case c.video.kfReq <- struct{}{}:
	default: // one is pending: it stands for this one too
	}
}

// closeMedia closes both media legs of a call that never ran its loop.
func (c *call) closeMedia(cause error) {
	if c.leg != nil {
		c.leg.Close(cause)
	}
	if c.video.leg != nil {
		c.video.leg.Close(cause)
	}
}
