package video

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// ProfileLevelID is the decoded profile-level-id fmtp parameter
// (RFC 6184 §8.1): profile_idc, the constraint flags byte (profile-iop) and
// level_idc of H.264 Annex A.
type ProfileLevelID struct {
	ProfileIDC uint8
	ProfileIOP uint8
	LevelIDC   uint8
}

// DefaultProfileLevelID is what RFC 6184 §8.1 says to assume when the
// parameter is absent: Baseline profile, level 1.0.
var DefaultProfileLevelID = ProfileLevelID{ProfileIDC: 66, LevelIDC: 10}

// ParseProfileLevelID decodes the six hexadecimal digits of a
// profile-level-id value.
func ParseProfileLevelID(s string) (ProfileLevelID, error) {
	if len(s) != 6 {
		return ProfileLevelID{}, fmt.Errorf("profile-level-id %q is not 6 hex digits: %w", s, ErrBadFmtp)
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return ProfileLevelID{}, fmt.Errorf("profile-level-id %q: %w", s, ErrBadFmtp)
	}
	return ProfileLevelID{ProfileIDC: uint8(v >> 16), ProfileIOP: uint8(v >> 8), LevelIDC: uint8(v)}, nil
}

// String formats p as six lowercase hexadecimal digits for an SDP answer.
func (p ProfileLevelID) String() string {
	return fmt.Sprintf("%02x%02x%02x", p.ProfileIDC, p.ProfileIOP, p.LevelIDC)
}

// ConstrainedBaseline reports whether p signals the Constrained Baseline
// profile (RFC 6184 Table 5): Baseline with constraint_set1, Main with
// constraint_set0, or Extended with constraint_set0 and constraint_set1.
func (p ProfileLevelID) ConstrainedBaseline() bool {
	switch p.ProfileIDC {
	case 66:
		return p.ProfileIOP&0x40 != 0
	case 77:
		return p.ProfileIOP&0x80 != 0
	case 88:
		return p.ProfileIOP&0xc0 == 0xc0
	}
	return false
}

// Level returns the level as H.264 numbers it times ten (31 for 3.1), with
// level 1b reported as 9 (RFC 6184 §8.1: level_idc 11 with constraint_set3
// in Baseline, Constrained Baseline or Extended).
func (p ProfileLevelID) Level() uint8 {
	if p.LevelIDC == 11 && p.ProfileIOP&0x10 != 0 && (p.ProfileIDC == 66 || p.ProfileIDC == 77 || p.ProfileIDC == 88) {
		return 9
	}
	return p.LevelIDC
}

// LevelLimits returns MaxMBPS (macroblocks per second) and MaxFS
// (macroblocks per frame) of an H.264 level (Table A-1), given as Level
// returns it; ok is false for an unknown level.
func LevelLimits(level uint8) (maxMBPS, maxFS uint32, ok bool) {
	switch level {
	case 9, 10:
		return 1485, 99, true
	case 11:
		return 3000, 396, true
	case 12:
		return 6000, 396, true
	case 13, 20:
		return 11880, 396, true
	case 21:
		return 19800, 792, true
	case 22:
		return 20250, 1620, true
	case 30:
		return 40500, 1620, true
	case 31:
		return 108000, 3600, true
	case 32:
		return 216000, 5120, true
	case 40, 41:
		return 245760, 8192, true
	case 42:
		return 522240, 8704, true
	case 50:
		return 589824, 22080, true
	case 51:
		return 983040, 36864, true
	case 52:
		return 2073600, 36864, true
	}
	return 0, 0, false
}

// H264Fmtp holds the RFC 6184 §8.1 format parameters of one H.264 payload
// type. Zero MaxFS/MaxMBPS/MaxBR mean "not given" (the level's limits hold).
type H264Fmtp struct {
	ProfileLevelID        ProfileLevelID
	PacketizationMode     int
	LevelAsymmetryAllowed bool
	MaxFS                 uint32 // macroblocks per frame
	MaxMBPS               uint32 // macroblocks per second
	MaxBR                 uint32 // kbit/s (units of 1000 bit/s for the VCL HRD)
	MaxFPS                uint32 // frames per second ×100 (RFC 6184 has none; H.241 style peers send it)
	// SpropParameterSets are the decoded NAL units of sprop-parameter-sets.
	SpropParameterSets [][]byte
}

// Bounds on hostile fmtp lines.
const (
	maxFmtpLen   = 4096
	maxSpropSets = 8
)

// ParseH264Fmtp parses the value of an a=fmtp line for H.264 (everything
// after "a=fmtp:<pt> "), e.g.
// "profile-level-id=42e01f;packetization-mode=1;max-fs=3600". Unknown
// parameters are ignored as RFC 6184 §8.1 requires; a known parameter with
// an invalid value is an error wrapping ErrBadFmtp.
func ParseH264Fmtp(s string) (H264Fmtp, error) {
	f := H264Fmtp{ProfileLevelID: DefaultProfileLevelID}
	if len(s) > maxFmtpLen {
		return f, fmt.Errorf("fmtp of %d bytes: %w", len(s), ErrBadFmtp)
	}
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, _ := strings.Cut(part, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "profile-level-id":
			f.ProfileLevelID, err = ParseProfileLevelID(val)
		case "packetization-mode":
			var v uint32
			v, err = parseFmtpUint(key, val)
			if err == nil && v > 2 {
				err = fmt.Errorf("packetization-mode %d: %w", v, ErrBadFmtp)
			}
			f.PacketizationMode = int(v)
		case "level-asymmetry-allowed":
			var v uint32
			v, err = parseFmtpUint(key, val)
			f.LevelAsymmetryAllowed = v == 1
		case "max-fs":
			f.MaxFS, err = parseFmtpUint(key, val)
		case "max-mbps":
			f.MaxMBPS, err = parseFmtpUint(key, val)
		case "max-br":
			f.MaxBR, err = parseFmtpUint(key, val)
		case "max-fps":
			f.MaxFPS, err = parseFmtpUint(key, val)
		case "sprop-parameter-sets":
			f.SpropParameterSets, err = parseSprop(val)
		}
		if err != nil {
			return f, fmt.Errorf("parsing H.264 fmtp: %w", err)
		}
	}
	return f, nil
}

func parseFmtpUint(key, val string) (uint32, error) {
	v, err := strconv.ParseUint(val, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: %w", key, val, ErrBadFmtp)
	}
	return uint32(v), nil
}

func parseSprop(val string) ([][]byte, error) {
	var sets [][]byte
	for enc := range strings.SplitSeq(val, ",") {
		if enc == "" {
			continue
		}
		if len(sets) == maxSpropSets {
			return nil, fmt.Errorf("sprop-parameter-sets: more than %d sets: %w", maxSpropSets, ErrBadFmtp)
		}
		nal, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			// Some encoders drop the padding.
			nal, err = base64.RawStdEncoding.DecodeString(enc)
		}
		if err != nil || len(nal) == 0 || nal[0]&0x80 != 0 {
			return nil, fmt.Errorf("sprop-parameter-sets %q: %w", enc, ErrBadFmtp)
		}
		sets = append(sets, nal)
	}
	return sets, nil
}

// MaxFrameMBs returns the largest frame the receiver accepts, in
// macroblocks: max-fs when given and larger than the level's, else the
// level's MaxFS (0 for an unknown level).
func (f H264Fmtp) MaxFrameMBs() uint32 {
	_, fs, _ := LevelLimits(f.ProfileLevelID.Level())
	return max(fs, f.MaxFS)
}

// MaxMBsPerSecond returns the largest macroblock rate the receiver accepts:
// max-mbps when given and larger than the level's, else the level's.
func (f H264Fmtp) MaxMBsPerSecond() uint32 {
	mbps, _, _ := LevelLimits(f.ProfileLevelID.Level())
	return max(mbps, f.MaxMBPS)
}

// Format writes the parameters back as an fmtp value (without
// sprop-parameter-sets, which a receiver never needs echoed).
func (f H264Fmtp) Format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "profile-level-id=%s;packetization-mode=%d", f.ProfileLevelID, f.PacketizationMode)
	if f.LevelAsymmetryAllowed {
		b.WriteString(";level-asymmetry-allowed=1")
	}
	if f.MaxFS > 0 {
		fmt.Fprintf(&b, ";max-fs=%d", f.MaxFS)
	}
	if f.MaxMBPS > 0 {
		fmt.Fprintf(&b, ";max-mbps=%d", f.MaxMBPS)
	}
	if f.MaxBR > 0 {
		fmt.Fprintf(&b, ";max-br=%d", f.MaxBR)
	}
	return b.String()
}

// SeedParamSets stores the SPS and PPS found in sprop-parameter-sets into c,
// so that a source whose encoder never repeats them in-band can still be
// switched to.
func (f H264Fmtp) SeedParamSets(c *ParamSets) error {
	for _, nal := range f.SpropParameterSets {
		if err := c.Update(nal); err != nil {
			return fmt.Errorf("seeding parameter sets from SDP: %w", err)
		}
	}
	return nil
}
