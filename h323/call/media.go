package call

import (
	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/h323/h245"
	"github.com/roomgate/roomgate/h323/per"
)

type h245Audio = h245.Audio

// audioTable maps the codecs the bridge plays to their H.245 audio capabilities
// (H.245 AudioCapability; G.711 and G.722 use static RTP payload types, RFC 3551).
var audioTable = []audio{
	{info: codec.Info{Name: "PCMU", StaticPT: 0}, cap: h245.G711Ulaw, h245Name: "g711Ulaw64k"},
	{info: codec.Info{Name: "PCMA", StaticPT: 8}, cap: h245.G711Alaw, h245Name: "g711Alaw64k"},
	{info: codec.Info{Name: "G722", StaticPT: 9}, cap: h245.G722, h245Name: "g722-64k"},
}

func audioByName(name string) (audio, bool) {
	for _, a := range audioTable {
		if a.info.Name == name {
			return a, true
		}
	}
	return audio{}, false
}

// findAudio returns the preferred codec whose H.245 alternative is name.
func findAudio(prefs []audio, h245Name string) (audio, bool) {
	for _, a := range prefs {
		if a.h245Name == h245Name {
			return a, true
		}
	}
	return audio{}, false
}

// capabilities is the TerminalCapabilitySet we send: our audio codecs, user
// input and, when the call has a video leg, H.264 in the conference format.
// A TCS must be truthful, so an audio-only call advertises no video; audio
// and video are separate alternative sets of one descriptor, so that they
// are simultaneous.
func capabilities(prefs []audio, video *h245.H264) h245.Capabilities {
	c := h245.Capabilities{UserInput: true, RFC2833: eventPayloadType}
	if video != nil {
		c.Video = []h245.H264{*video}
	}
	for _, a := range prefs {
		c.Audio = append(c.Audio, h245.AudioCap{Codec: a.cap, Frames: codec.FrameDuration})
	}
	return c
}

// eventPayloadType is the dynamic RTP payload type we receive RFC 2833
// telephone events on (receiveRTPAudioTelephonyEventCapability in our TCS);
// 101 is what room systems and h323plus use.
const eventPayloadType = 101

// maxCapabilities bounds how many capability table entries we look at.
const maxCapabilities = 256

// tcsAudio lists the AudioCapability alternatives a peer can receive, from the
// capabilityTable of its TerminalCapabilitySet (H.245 clause 8.2). Only the
// entries we could send count: receiveAudioCapability and
// receiveAndTransmitAudioCapability. events is the payload type of its
// receiveRTPAudioTelephonyEventCapability (RFC 2833), 0 when it has none.
func tcsAudio(m *h245.Message) (names []string, events int, empty bool) {
	_, body, ok := m.Value.Choice()
	if !ok {
		return nil, 0, true
	}
	_, tcs, ok := body.Choice()
	if !ok {
		return nil, 0, true
	}
	table := tcs.Field("capabilityTable")
	if !table.Present() {
		return nil, 0, true
	}
	for i := range table.Elems {
		if i >= maxCapabilities {
			break
		}
		capab := table.Elems[i].Field("capability")
		if !capab.Present() {
			continue
		}
		kind, alt, ok := capab.Choice()
		if ok && kind == "receiveRTPAudioTelephonyEventCapability" {
			if pt := alt.Field("dynamicRTPPayloadType"); pt.Present() {
				events = int(pt.Int)
			}
			continue
		}
		if !ok || (kind != "receiveAudioCapability" && kind != "receiveAndTransmitAudioCapability") {
			continue
		}
		if name := choiceName(alt); name != "" {
			names = append(names, name)
		}
	}
	return names, events, false
}

func choiceName(v *per.Value) string {
	if !v.Present() {
		return ""
	}
	n, _, _ := v.Choice()
	return n
}
