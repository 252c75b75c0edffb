package h245

import (
	"github.com/roomgate/roomgate/h323/per"
)

// h241Levels maps the H.241 level codes (parameter 42, H.241 Table 8-5) to H.264 level_idc
// (H.264 Annex A: ten times the level; level 1b is reported as 9 here).
var h241Levels = [...]struct {
	code int
	idc  uint8
}{
	{15, 10}, {19, 9}, {22, 11}, {29, 12}, {36, 13}, {43, 20}, {50, 21}, {57, 22}, {64, 30},
	{71, 31}, {78, 32}, {85, 40}, {92, 41}, {99, 42}, {106, 50}, {113, 51}, {120, 52},
}

// LevelIDC returns the H.264 level_idc of an H.241 level code (9 for level 1b). A code
// between two table entries means the lower level (H.241 rounds down), so ok is false only
// for codes below level 1.
func LevelIDC(code int) (idc uint8, ok bool) {
	best := -1
	for i, l := range h241Levels {
		if l.code <= code && (best < 0 || l.code > h241Levels[best].code) {
			best = i
		}
	}
	if best < 0 {
		return 0, false
	}
	return h241Levels[best].idc, true
}

// LevelCode returns the H.241 level code of an H.264 level_idc (9 for level 1b).
func LevelCode(idc uint8) (code int, ok bool) {
	for _, l := range h241Levels {
		if l.idc == idc {
			return l.code, true
		}
	}
	return 0, false
}

// H.241 profile bits (parameter 41, a booleanArray whose most significant bit is the first
// profile).
const (
	H241ProfileBaseline = 64
	H241ProfileMain     = 32
	H241ProfileExtended = 16
	H241ProfileHigh     = 8
)

// ProfileIDC returns the H.264 profile_idc of the highest-ranking H.241 profile bit in
// profile, in the order High, Main, Extended, Baseline; 0 when no known bit is set.
func ProfileIDC(profile int) uint8 {
	switch {
	case profile&H241ProfileHigh != 0:
		return 100
	case profile&H241ProfileMain != 0:
		return 77
	case profile&H241ProfileExtended != 0:
		return 88
	case profile&H241ProfileBaseline != 0:
		return 66
	}
	return 0
}

// Bounds on what we read from a peer's capabilities.
const (
	maxTableEntries = 256
	maxParameters   = 64
)

// PeerVideo is what a peer's TerminalCapabilitySet says about the H.264 video it receives.
type PeerVideo struct {
	// H264 lists its receiveVideoCapability and receiveAndTransmitVideoCapability H.264
	// entries, in table order. H.239 content (extendedVideoCapability) is not main video and
	// is left out.
	H264 []H264
	// Packetizations are the H.264 modes of its mediaPacketizationCapability; empty when it
	// lists none (then only single NAL unit mode is certain, H.241 clause 8.3.2).
	Packetizations []Packetization
}

// Best returns the peer's H.264 capability with the highest level among those whose
// profiles include ours (profile bits), and ok false when there is none.
func (p PeerVideo) Best(profile int) (H264, bool) {
	var best H264
	found := false
	for _, h := range p.H264 {
		if h.Profile&profile == 0 {
			continue
		}
		if !found || h.Level > best.Level {
			best, found = h, true
		}
	}
	return best, found
}

// Supports reports whether the peer listed packetization mode k.
func (p PeerVideo) Supports(k Packetization) bool {
	for _, m := range p.Packetizations {
		if m == k {
			return true
		}
	}
	return false
}

// TCSVideo reads the H.264 video capabilities of a TerminalCapabilitySet message. A message
// that is not a TerminalCapabilitySet, or has no capability table, yields none.
func TCSVideo(m *Message) PeerVideo {
	var pv PeerVideo
	if m == nil || m.Kind != "terminalCapabilitySet" {
		return pv
	}
	_, body, ok := m.Value.Choice()
	if !ok {
		return pv
	}
	_, tcs, ok := body.Choice()
	if !ok || !tcs.Present() {
		return pv
	}
	if n, mux, ok := tcs.Field("multiplexCapability").Choice(); ok && n == "h2250Capability" {
		if list := mux.Field("mediaPacketizationCapability").Field("rtpPayloadType"); list.Present() {
			for i := range list.Elems {
				if i >= maxTableEntries {
					break
				}
				if k, ok := payloadDescriptor(&list.Elems[i]); ok {
					pv.Packetizations = append(pv.Packetizations, k)
				}
			}
		}
	}
	table := tcs.Field("capabilityTable")
	if !table.Present() {
		return pv
	}
	for i := range table.Elems {
		if i >= maxTableEntries {
			break
		}
		kind, alt, ok := table.Elems[i].Field("capability").Choice()
		if !ok || (kind != "receiveVideoCapability" && kind != "receiveAndTransmitVideoCapability") {
			continue
		}
		if h, ok := ParseH264Capability(alt); ok {
			pv.H264 = append(pv.H264, h)
		}
	}
	return pv
}

// ParseH264Capability reads a VideoCapability that is an H.241 genericVideoCapability
// (capabilityIdentifier 0.0.8.241.0.0.1). Parameters it does not know are kept in Extra
// when they are unsignedMin or unsigned32Min values; ok is false for any other capability
// or an H.264 capability without profile or level.
func ParseH264Capability(v *per.Value) (H264, bool) {
	name, g, ok := v.Choice()
	if !ok || name != "genericVideoCapability" || !g.Present() {
		return H264{}, false
	}
	idName, id, ok := g.Field("capabilityIdentifier").Choice()
	if !ok || idName != "standard" {
		return H264{}, false
	}
	if s, err := per.FormatOID(id.Bytes); err != nil || s != OIDH264 {
		return H264{}, false
	}
	var h H264
	if br := g.Field("maxBitRate"); br.Present() {
		h.MaxBitRate = clampInt(br.Int)
	}
	for _, list := range []string{"collapsing", "nonCollapsing"} {
		ps := g.Field(list)
		if !ps.Present() {
			continue
		}
		for i := range ps.Elems {
			if i >= maxParameters {
				break
			}
			p := &ps.Elems[i]
			idKind, pid, ok := p.Field("parameterIdentifier").Choice()
			if !ok || idKind != "standard" {
				continue
			}
			valKind, val, ok := p.Field("parameterValue").Choice()
			if !ok || !val.Present() {
				continue
			}
			switch valKind {
			case "booleanArray", "unsignedMin", "unsignedMax", "unsigned32Min", "unsigned32Max":
			default:
				continue
			}
			n := clampInt(val.Int)
			switch int(pid.Int) {
			case H241Profile:
				h.Profile = n
			case H241Level:
				h.Level = n
			case H241MaxMBPS:
				h.MaxMBPS = n
			case H241MaxFS:
				h.MaxFS = n
			case H241MaxBR:
				h.MaxBR = n
			default:
				if len(h.Extra) < maxParameters {
					h.Extra = append(h.Extra, [2]int{int(pid.Int), n})
				}
			}
		}
	}
	if h.Profile == 0 || h.Level == 0 {
		return H264{}, false
	}
	return h, true
}

// payloadDescriptor reads the H.264 packetization mode of an RTPPayloadType. Polycom sends
// the single NAL unit OID one arc short (0.0.8.241.0.0.0); it means single NAL unit mode.
func payloadDescriptor(v *per.Value) (Packetization, bool) {
	name, d, ok := v.Field("payloadDescriptor").Choice()
	if !ok || name != "oid" || !d.Present() {
		return PacketizationUnsignalled, false
	}
	s, err := per.FormatOID(d.Bytes)
	if err != nil {
		return PacketizationUnsignalled, false
	}
	switch s {
	case OIDH264SingleNAL, oidH264Truncated:
		return PacketizationSingleNAL, true
	case OIDH264NonInterleaved:
		return PacketizationNonInterleaved, true
	case OIDH264Interleaved:
		return PacketizationInterleaved, true
	}
	return PacketizationUnsignalled, false
}

// clampInt converts a decoded INTEGER to int, saturating what does not fit a 32-bit value.
func clampInt(v int64) int {
	switch {
	case v < 0:
		return 0
	case v > 1<<31-1:
		return 1<<31 - 1
	}
	return int(v)
}
