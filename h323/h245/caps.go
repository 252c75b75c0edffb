package h245

import (
	"fmt"
	"net/netip"

	"github.com/roomgate/roomgate/h323/per"
	"github.com/roomgate/roomgate/h323/schema"
)

// Audio codecs we offer and open.
type Audio int

// The audio codecs room systems share with us.
const (
	G711Alaw Audio = iota + 1
	G711Ulaw
	G722
	G7221At24k
	G7221At32k
)

// AudioCap is one audio capability: the codec and how many milliseconds (G.711/G.722 frames)
// fit in a packet.
type AudioCap struct {
	Codec  Audio
	Frames int
}

func (a AudioCap) json() (map[string]any, error) {
	frames := a.Frames
	if frames == 0 {
		frames = 20
	}
	switch a.Codec {
	case G711Alaw:
		return obj("g711Alaw64k", frames), nil
	case G711Ulaw:
		return obj("g711Ulaw64k", frames), nil
	case G722:
		return obj("g722-64k", frames), nil
	case G7221At24k, G7221At32k:
		rate := 24000
		if a.Codec == G7221At32k {
			rate = 32000
		}
		// H.245 Annex: G.722.1 generic capability, maxBitRate in 100 bit/s, parameter 1 = rx frames.
		return obj("genericAudioCapability", obj("capabilityIdentifier", obj("standard", OIDG7221),
			"maxBitRate", rate/100, "collapsing", []any{param(1, "unsignedMin", 1)})), nil
	}
	return nil, fmt.Errorf("audio codec %d: %w", a.Codec, ErrParam)
}

func param(id int, kind string, v any) map[string]any {
	return obj("parameterIdentifier", obj("standard", id), "parameterValue", obj(kind, v))
}

// H.241 generic H.264 capability parameter identifiers (H.241 Table 8-4).
const (
	H241Profile = 41 // booleanArray of profile bits: 64 Baseline, 32 Main, 16 Extended, 8 High
	H241Level   = 42 // unsignedMin level code: 15 = 1, 29 = 1.2, 36 = 1.3, 64 = 3, 71 = 3.1, 85 = 4
	H241MaxMBPS = 3  // custom max macroblocks/s in units of 500
	H241MaxFS   = 4  // custom max frame size in units of 256 macroblocks
	H241MaxDPB  = 5
	H241MaxBR   = 6 // custom max bit rate in units of 25000 bit/s
)

// H264 is an H.264 capability per H.241.
type H264 struct {
	Profile    int // profile bits, e.g. 64 for Baseline
	Level      int // H.241 level code, e.g. 36 (1.3), 71 (3.1), 85 (4)
	MaxBitRate int // units of 100 bit/s
	MaxMBPS    int // CustomMaxMBPS in units of 500 macroblocks/s; 0 = not sent
	MaxFS      int // CustomMaxFS in units of 256 macroblocks; 0 = not sent
	MaxBR      int // CustomMaxBRandCPB in units of 25000 bit/s; 0 = not sent
	// Extra parameters (identifier, unsignedMin value) sent after the custom ones.
	Extra [][2]int
}

func (h H264) json() (map[string]any, error) {
	if h.Profile <= 0 || h.Profile > 255 || h.Level <= 0 || h.Level > 65535 || h.MaxBitRate < 0 ||
		h.MaxMBPS < 0 || h.MaxMBPS > 65535 || h.MaxFS < 0 || h.MaxFS > 65535 || h.MaxBR < 0 || h.MaxBR > 65535 {
		return nil, fmt.Errorf("H.264 profile %d level %d: %w", h.Profile, h.Level, ErrParam)
	}
	ps := []any{param(H241Profile, "booleanArray", h.Profile), param(H241Level, "unsignedMin", h.Level)}
	if h.MaxFS > 0 {
		ps = append(ps, param(H241MaxFS, "unsignedMin", h.MaxFS))
	}
	if h.MaxMBPS > 0 {
		ps = append(ps, param(H241MaxMBPS, "unsignedMin", h.MaxMBPS))
	}
	if h.MaxBR > 0 {
		ps = append(ps, param(H241MaxBR, "unsignedMin", h.MaxBR))
	}
	for _, e := range h.Extra {
		ps = append(ps, param(e[0], "unsignedMin", e[1]))
	}
	return obj("genericVideoCapability", obj("capabilityIdentifier", obj("standard", OIDH264),
		"maxBitRate", h.MaxBitRate, "collapsing", ps)), nil
}

// Capabilities is what we put in a TerminalCapabilitySet.
type Capabilities struct {
	Audio []AudioCap
	Video []H264
	// Content is the H.239 presentation capability (extendedVideoCapability, role
	// presentation) plus the H.239 control capability, when set.
	Content *H264
	// UserInput offers DTMF as UserInputIndication (basicString, dtmf, hookflash).
	UserInput bool
	// RFC2833 offers RFC 2833/4733 telephone events with this dynamic payload type (0 = no).
	RFC2833 int
}

// TCS builds a TerminalCapabilitySet with sequence number seq. Capabilities are numbered 1..n
// and grouped in one descriptor: audio alternatives, video alternatives, content, control,
// user input, in that order.
func TCS(seq int, c Capabilities) ([]byte, error) {
	var table, sim []any
	next := 1
	addGroup := func(caps []map[string]any) {
		if len(caps) == 0 {
			return
		}
		var alts []any
		for _, cp := range caps {
			table = append(table, obj("capabilityTableEntryNumber", next, "capability", cp))
			alts = append(alts, next)
			next++
		}
		sim = append(sim, alts)
	}
	var audio, video []map[string]any
	for _, a := range c.Audio {
		j, err := a.json()
		if err != nil {
			return nil, err
		}
		audio = append(audio, obj("receiveAudioCapability", j))
	}
	for _, v := range c.Video {
		j, err := v.json()
		if err != nil {
			return nil, err
		}
		video = append(video, obj("receiveVideoCapability", j))
	}
	addGroup(audio)
	addGroup(video)
	if c.Content != nil {
		j, err := c.Content.json()
		if err != nil {
			return nil, err
		}
		ext := obj("extendedVideoCapability", obj("videoCapability", []any{j},
			"videoCapabilityExtension", []any{obj("capabilityIdentifier", obj("standard", OIDH239Video),
				"collapsing", []any{param(1, "booleanArray", 1)})}))
		addGroup([]map[string]any{obj("receiveVideoCapability", ext)})
		addGroup([]map[string]any{obj("genericControlCapability", obj("capabilityIdentifier", obj("standard", OIDH239Ctrl)))})
	}
	var ui []map[string]any
	if c.UserInput {
		for _, k := range []string{"basicString", "dtmf", "hookflash"} {
			ui = append(ui, obj("receiveUserInputCapability", obj(k, nil)))
		}
	}
	if c.RFC2833 != 0 {
		if c.RFC2833 < 96 || c.RFC2833 > 127 {
			return nil, fmt.Errorf("RFC 2833 payload type %d: %w", c.RFC2833, ErrParam)
		}
		ui = append(ui, obj("receiveRTPAudioTelephonyEventCapability", obj("dynamicRTPPayloadType", c.RFC2833,
			"audioTelephoneEvent", "0-16")))
	}
	addGroup(ui)
	noDist := []any{obj("centralizedControl", false, "distributedControl", false, "centralizedAudio", false,
		"distributedAudio", false, "centralizedVideo", false, "distributedVideo", false)}
	mp := func() map[string]any {
		return obj("multicastCapability", false, "multiUniCastConference", false, "mediaDistributionCapability", noDist)
	}
	h2250 := obj("maximumAudioDelayJitter", 250, "receiveMultipointCapability", mp(),
		"transmitMultipointCapability", mp(), "receiveAndTransmitMultipointCapability", mp(),
		"mcCapability", obj("centralizedConferenceMC", false, "decentralizedConferenceMC", false),
		"rtcpVideoControlCapability", false, "mediaPacketizationCapability", mediaPacketization(len(c.Video) > 0 || c.Content != nil),
		"logicalChannelSwitchingCapability", false, "t120DynamicPortCapability", false)
	body := obj("sequenceNumber", seq, "protocolIdentifier", ProtocolID,
		"multiplexCapability", obj("h2250Capability", h2250))
	if len(table) > 0 {
		body["capabilityTable"] = table
		body["capabilityDescriptors"] = []any{obj("capabilityDescriptorNumber", 1, "simultaneousCapabilities", sim)}
	}
	return msg("request", "terminalCapabilitySet", body)
}

// mediaPacketization is the MediaPacketizationCapability of our TCS. With H.264 it lists the
// H.241 packetization modes we receive (single NAL unit and non-interleaved), so that a peer
// knows it may fragment (FU-A) and aggregate (STAP-A).
func mediaPacketization(h264 bool) map[string]any {
	m := obj("h261aVideoPacketization", false)
	if h264 {
		m["rtpPayloadType"] = []any{
			obj("payloadDescriptor", obj("oid", OIDH264SingleNAL)),
			obj("payloadDescriptor", obj("oid", OIDH264NonInterleaved)),
		}
	}
	return m
}

// Packetization is the H.264 packetization mode of a channel (RFC 6184 clause 5.2), signalled
// in OpenLogicalChannel mediaPacketization as an H.241 payload descriptor OID.
type Packetization int

// The H.264 packetization modes; PacketizationUnsignalled leaves mediaPacketization out.
const (
	PacketizationUnsignalled Packetization = iota
	PacketizationSingleNAL
	PacketizationNonInterleaved
	PacketizationInterleaved
)

// Mode is the RFC 6184 packetization-mode number: 0 single NAL unit (also when unsignalled,
// RFC 6184's default), 1 non-interleaved, 2 interleaved.
func (p Packetization) Mode() int {
	switch p {
	case PacketizationNonInterleaved:
		return 1
	case PacketizationInterleaved:
		return 2
	}
	return 0
}

// Channel describes a logical channel we open (H.245 OpenLogicalChannel for H.225.0 media).
type Channel struct {
	Number    int // forwardLogicalChannelNumber
	SessionID int // 1 audio, 2 video, 3 data; 0 lets the master assign (H.239 content)
	Audio     *AudioCap
	Video     *H264
	// Content marks a video channel as H.239 presentation (role label 1).
	Content bool
	// MediaControl is our RTCP address for the channel.
	MediaControl netip.AddrPort
	// PayloadType is the dynamic RTP payload type (96..127), 0 for static types.
	PayloadType int
	// Packetization, for H.264 video, names the packetization mode in mediaPacketization.
	Packetization Packetization
	// Reverse makes this a receive proposal in fastStart (H.323 clause 8.1.7.1): the data
	// type goes in reverseLogicalChannelParameters with Media, our RTP address.
	Reverse bool
	Media   netip.AddrPort
}

func (c Channel) dataType() (map[string]any, error) {
	switch {
	case c.Audio != nil:
		j, err := c.Audio.json()
		if err != nil {
			return nil, err
		}
		return obj("audioData", j), nil
	case c.Video != nil:
		j, err := c.Video.json()
		if err != nil {
			return nil, err
		}
		if c.Content {
			j = obj("extendedVideoCapability", obj("videoCapability", []any{j},
				"videoCapabilityExtension", []any{obj("capabilityIdentifier", obj("standard", OIDH239Video),
					"collapsing", []any{param(1, "booleanArray", 1)})}))
		}
		return obj("videoData", j), nil
	}
	return nil, fmt.Errorf("channel %d has no data type: %w", c.Number, ErrParam)
}

// olc returns the OpenLogicalChannel content.
func (c Channel) olc() (map[string]any, error) {
	n, err := lcn(c.Number)
	if err != nil {
		return nil, err
	}
	dt, err := c.dataType()
	if err != nil {
		return nil, err
	}
	ctl, err := unicast(c.MediaControl)
	if err != nil {
		return nil, err
	}
	p := obj("sessionID", c.SessionID, "mediaGuaranteedDelivery", false, "mediaControlChannel", ctl)
	if c.Audio != nil {
		p["silenceSuppression"] = false
	}
	if c.PayloadType != 0 {
		if c.PayloadType < 96 || c.PayloadType > 127 {
			return nil, fmt.Errorf("payload type %d: %w", c.PayloadType, ErrParam)
		}
		p["dynamicRTPPayloadType"] = c.PayloadType
	}
	if c.Video != nil && c.Packetization != PacketizationUnsignalled {
		oid := OIDH264SingleNAL
		switch c.Packetization {
		case PacketizationNonInterleaved:
			oid = OIDH264NonInterleaved
		case PacketizationInterleaved:
			oid = OIDH264Interleaved
		}
		rpt := obj("payloadDescriptor", obj("oid", oid))
		if c.PayloadType != 0 {
			rpt["payloadType"] = c.PayloadType
		}
		p["mediaPacketization"] = obj("rtpPayloadType", rpt)
	}
	if c.Reverse {
		media, err := unicast(c.Media)
		if err != nil {
			return nil, err
		}
		p["mediaChannel"] = media
		delete(p, "silenceSuppression")
		return obj("forwardLogicalChannelNumber", n,
			"forwardLogicalChannelParameters", obj("dataType", obj("nullData", nil), "multiplexParameters", obj("none", nil)),
			"reverseLogicalChannelParameters", obj("dataType", dt, "multiplexParameters", obj("h2250LogicalChannelParameters", p))), nil
	}
	return obj("forwardLogicalChannelNumber", n, "forwardLogicalChannelParameters",
		obj("dataType", dt, "multiplexParameters", obj("h2250LogicalChannelParameters", p))), nil
}

// OLC builds an OpenLogicalChannel request for channel c.
func OLC(c Channel) ([]byte, error) {
	body, err := c.olc()
	if err != nil {
		return nil, err
	}
	return msg("request", "openLogicalChannel", body)
}

// FastStartOLC encodes c as a bare OpenLogicalChannel, the form each fastStart element
// carries (H.323 clause 8.1.7).
func FastStartOLC(c Channel) ([]byte, error) {
	body, err := c.olc()
	if err != nil {
		return nil, err
	}
	v, err := per.FromJSON(schema.OpenLogicalChannel, body, nil)
	if err != nil {
		return nil, fmt.Errorf("build fastStart OpenLogicalChannel: %w", err)
	}
	var e per.Encoder
	return e.Encode(nil, schema.OpenLogicalChannel, &v)
}

// OLCAck accepts channel n: media is where we receive RTP, control our RTCP address.
func OLCAck(n, sessionID int, media, control netip.AddrPort) ([]byte, error) {
	n, err := lcn(n)
	if err != nil {
		return nil, err
	}
	m, err := unicast(media)
	if err != nil {
		return nil, err
	}
	c, err := unicast(control)
	if err != nil {
		return nil, err
	}
	p := obj("mediaChannel", m, "mediaControlChannel", c, "flowControlToZero", false)
	if sessionID > 0 {
		p["sessionID"] = sessionID
	}
	return msg("response", "openLogicalChannelAck", obj("forwardLogicalChannelNumber", n,
		"forwardMultiplexAckParameters", obj("h2250LogicalChannelAckParameters", p)))
}

// OLCReject refuses channel n ("unspecified", "dataTypeNotSupported", "insufficientBandwidth", ...).
func OLCReject(n int, cause string) ([]byte, error) {
	n, err := lcn(n)
	if err != nil {
		return nil, err
	}
	return msg("response", "openLogicalChannelReject", obj("forwardLogicalChannelNumber", n, "cause", obj(cause, nil)))
}

// CLC closes our channel n.
func CLC(n int) ([]byte, error) {
	n, err := lcn(n)
	if err != nil {
		return nil, err
	}
	return msg("request", "closeLogicalChannel", obj("forwardLogicalChannelNumber", n, "source", obj("user", nil)))
}

// CLCAck acknowledges closing of channel n.
func CLCAck(n int) ([]byte, error) {
	n, err := lcn(n)
	if err != nil {
		return nil, err
	}
	return msg("response", "closeLogicalChannelAck", obj("forwardLogicalChannelNumber", n))
}

// RequestChannelClose asks the peer to close its channel n.
func RequestChannelClose(n int) ([]byte, error) {
	n, err := lcn(n)
	if err != nil {
		return nil, err
	}
	return msg("request", "requestChannelClose", obj("forwardLogicalChannelNumber", n))
}

// RequestChannelCloseAck agrees to close our channel n; a CloseLogicalChannel follows.
func RequestChannelCloseAck(n int) ([]byte, error) {
	n, err := lcn(n)
	if err != nil {
		return nil, err
	}
	return msg("response", "requestChannelCloseAck", obj("forwardLogicalChannelNumber", n))
}

// H.239 generic message sub-identifiers and parameter identifiers (H.239 generic messages).
const (
	H239FlowControlReleaseRequest  = 1
	H239FlowControlReleaseResponse = 2
	H239TokenRequest               = 3
	H239TokenResponse              = 4
	H239TokenRelease               = 5
	H239TokenIndicateOwner         = 6

	h239ChannelID        = 42
	h239SymmetryBreaking = 43
	h239TerminalLabel    = 44
	h239Acknowledge      = 126
	h239Reject           = 127
)

func h239(class, kind string, sub int, params []any) ([]byte, error) {
	return msg(class, kind, obj("messageIdentifier", obj("standard", OIDH239Generic),
		"subMessageIdentifier", sub, "messageContent", params))
}

// H239TokenRequestMsg asks for the presentation token for content channel channelID;
// symmetry breaks ties between simultaneous requests (1..127).
func H239TokenRequestMsg(terminalLabel, channelID, symmetry int) ([]byte, error) {
	return h239("request", "genericRequest", H239TokenRequest, []any{param(h239TerminalLabel, "unsignedMin", terminalLabel),
		param(h239ChannelID, "unsignedMin", channelID), param(h239SymmetryBreaking, "unsignedMin", symmetry)})
}

// H239TokenResponseMsg grants (ack) or refuses the presentation token.
func H239TokenResponseMsg(ack bool, terminalLabel, channelID int) ([]byte, error) {
	answer := h239Reject
	if ack {
		answer = h239Acknowledge
	}
	return h239("response", "genericResponse", H239TokenResponse, []any{param(answer, "logical", nil),
		param(h239TerminalLabel, "unsignedMin", terminalLabel), param(h239ChannelID, "unsignedMin", channelID)})
}

// H239TokenReleaseMsg gives the presentation token back.
func H239TokenReleaseMsg(terminalLabel, channelID int) ([]byte, error) {
	return h239("command", "genericCommand", H239TokenRelease, []any{param(h239TerminalLabel, "unsignedMin", terminalLabel),
		param(h239ChannelID, "unsignedMin", channelID)})
}

// H239TokenOwnerMsg announces who holds the presentation token.
func H239TokenOwnerMsg(terminalLabel, channelID int) ([]byte, error) {
	return h239("indication", "genericIndication", H239TokenIndicateOwner, []any{param(h239TerminalLabel, "unsignedMin", terminalLabel),
		param(h239ChannelID, "unsignedMin", channelID)})
}

// H239FlowControlReleaseResponseMsg answers a peer asking to free bandwidth for content.
func H239FlowControlReleaseResponseMsg(ack bool, channelID int) ([]byte, error) {
	answer := h239Reject
	if ack {
		answer = h239Acknowledge
	}
	return h239("response", "genericResponse", H239FlowControlReleaseResponse, []any{param(answer, "logical", nil),
		param(h239ChannelID, "unsignedMin", channelID)})
}
