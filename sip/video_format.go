package sip

import (
	"fmt"

	"github.com/roomgate/roomgate/bridge/video"
)

// cbLevels are the H.264 levels a Constrained Baseline conference format
// may use, lowest first (level_idc; 1b is left out: it needs
// constraint_set3 and no room system asks for it).
var cbLevels = []uint8{10, 11, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 52}

// VideoFormatFor is the conference format of the video.* settings: the
// largest picture (width x height pixels) at fps frames per second and
// kbps kbit/s, in Constrained Baseline at the lowest level whose frame
// size and macroblock rate take it (RFC 6184 §8.1; max-fs and max-mbps
// say exactly how much of the level is used). 1280x720 at 30 fps gives
// level 3.1 with max-fs 3600 and max-mbps 108000, DefaultVideoFormat's.
func VideoFormatFor(width, height, fps, kbps int) (VideoFormat, error) {
	if width <= 0 || height <= 0 || fps <= 0 || kbps <= 0 {
		return VideoFormat{}, fmt.Errorf("video format %dx%d at %d fps and %d kbit/s: every value must be positive: %w",
			width, height, fps, kbps, ErrConfig)
	}
	fs := uint32((width+15)/16) * uint32((height+15)/16)
	mbps := fs * uint32(fps)
	for _, lvl := range cbLevels {
		lm, lf, _ := video.LevelLimits(lvl)
		if lf < fs || lm < mbps {
			continue
		}
		pli := video.ProfileLevelID{ProfileIDC: 0x42, ProfileIOP: 0xe0, LevelIDC: lvl}
		f := DefaultVideoFormat()
		f.ProfileLevelID = pli.String()
		f.MaxFS, f.MaxMBPS = fs, mbps
		f.Bitrate = uint64(kbps) * 1000
		f.MaxBR = uint32(kbps)
		return f, nil
	}
	return VideoFormat{}, fmt.Errorf("video format %dx%d at %d fps is beyond H.264 level 5.2: %w", width, height, fps, ErrConfig)
}
