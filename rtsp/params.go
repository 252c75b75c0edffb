package rtsp

import (
	"bytes"
	"slices"
	"sync"

	"github.com/roomgate/roomgate/bridge/video"
)

// VideoInfo is what is known of the camera's H.264 stream: the latest
// parameter sets, from sprop-parameter-sets or in band, and the picture
// they describe.
type VideoInfo struct {
	SPS, PPS      []byte // copies, header byte included; nil while unknown
	Width, Height int    // 0 while no SPS parsed
	ProfileIDC    uint8
	LevelIDC      uint8
	// BadParamSets counts parameter sets that were malformed or too
	// large to cache; Keyframes counts IDR pictures started.
	BadParamSets, Keyframes uint64
}

// videoParams caches a camera's SPS and PPS and the picture size of its
// SPS. Cameras repeat the parameter sets before every IDR (GStreamer's
// config-interval=1, most IP cameras alike), so observe runs often: it
// copies into fixed arrays and parses an SPS only when its bytes changed,
// and allocates nothing. One goroutine observes at a time (the session's
// video reader); info may be called from any.
type videoParams struct {
	mu      sync.Mutex
	ps      video.ParamSets
	lastSPS [video.MaxSPSSize]byte
	lastLen int
	info    video.SPSInfo
	bad     uint64
	idr     uint64
}

// seed stores parameter sets from sprop-parameter-sets; empty ones are
// ignored. A malformed set is counted and skipped.
func (v *videoParams) seed(sps, pps []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(sps) > 0 {
		if v.ps.SetSPS(sps) != nil {
			v.bad++
		}
	}
	if len(pps) > 0 {
		if v.ps.SetPPS(pps) != nil {
			v.bad++
		}
	}
	v.parseLocked()
}

// observe looks at one H.264 RTP payload for parameter sets and keyframes.
func (v *videoParams) observe(p []byte) {
	if len(p) == 0 {
		return
	}
	switch video.NALType(p[0] & 0x1f) {
	case video.NALSPS, video.NALPPS, video.NALSTAPA:
		v.mu.Lock()
		if v.ps.Update(p) != nil {
			v.bad++
		}
		v.parseLocked()
		if video.IsKeyframeStart(p) {
			v.idr++
		}
		v.mu.Unlock()
	case video.NALIDR, video.NALFUA:
		if video.IsKeyframeStart(p) {
			v.mu.Lock()
			v.idr++
			v.mu.Unlock()
		}
	}
}

// parseLocked re-reads the picture size when the cached SPS changed.
func (v *videoParams) parseLocked() {
	sps := v.ps.SPS()
	if len(sps) == 0 || bytes.Equal(sps, v.lastSPS[:v.lastLen]) {
		return
	}
	v.lastLen = copy(v.lastSPS[:], sps)
	info, err := video.ParseSPS(sps)
	if err != nil {
		v.bad++
		v.info = video.SPSInfo{}
		return
	}
	v.info = info
}

// reset forgets everything, for a camera that came back with a new
// description.
func (v *videoParams) reset() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ps.Reset()
	v.lastLen = 0
	v.info = video.SPSInfo{}
}

// snapshot copies what is known.
func (v *videoParams) snapshot() VideoInfo {
	v.mu.Lock()
	defer v.mu.Unlock()
	vi := VideoInfo{
		Width: v.info.Width, Height: v.info.Height,
		ProfileIDC: v.info.ProfileIDC, LevelIDC: v.info.LevelIDC,
		BadParamSets: v.bad, Keyframes: v.idr,
	}
	if s := v.ps.SPS(); len(s) > 0 {
		vi.SPS = slices.Clone(s)
	}
	if p := v.ps.PPS(); len(p) > 0 {
		vi.PPS = slices.Clone(p)
	}
	return vi
}
