package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/codec"
)

// This file holds the SDP offer/answer model (RFC 3264) as pure functions:
// nothing here touches sockets, dialogs or the bridge's state, so every rule
// can be table-tested and fuzzed with real offers from phones and room systems.

// maxSDPSize bounds the SDP bodies we parse; real offers with video stay far
// below it.
const maxSDPSize = 16 << 10

// telephoneEvent is the RFC 4733 encoding name.
const telephoneEvent = "telephone-event"

// offerEventPT is the payload type of telephone-event/8000 in our own offers.
const offerEventPT = 101

// offerEventPT48k is the payload type of telephone-event/48000 in our own
// offers when Opus is configured, so that DTMF works with an Opus answer.
const offerEventPT48k = 102

// staticPayloads are the RFC 3551 static payload types we understand, used
// when an offer lists them without a=rtpmap.
var staticPayloads = map[int]rtpFormat{
	0: {Name: "PCMU", ClockRate: 8000, Channels: 1},
	8: {Name: "PCMA", ClockRate: 8000, Channels: 1},
	9: {Name: "G722", ClockRate: 8000, Channels: 1},
}

// rtpFormat is one payload format of an m-line as rtpmap and fmtp describe it.
type rtpFormat struct {
	PT        int
	Name      string
	ClockRate int
	Channels  int
	Fmtp      string
}

// MediaLine is the answer to, or the content of, one m-line.
type MediaLine struct {
	// Media is the media type ("audio", "video", "application", ...).
	Media string
	// Port is the port we put on the line; 0 rejects the stream.
	Port int
	// Proto is the transport protocol, echoed from the offer.
	Proto string
	// Formats are the payload formats of the line; for rejected lines they
	// echo the offer's list, as RFC 3264 §6 requires at least one.
	Formats []string
	// Bandwidth are the b= lines of the m-line, without "b=" ("AS:2100",
	// "TIAS:2000000"); BuildSDP writes them after the m= line (RFC 4566 §5).
	Bandwidth []string
	// Attributes are the a= lines, without "a=".
	Attributes []string
}

// Negotiated is the outcome of an offer/answer exchange for a call: the one
// audio stream the bridge plays, and the m-lines to put into our SDP.
type Negotiated struct {
	// Audio is the negotiated audio stream (Remote and Direction included).
	Audio bridge.StreamParams
	// AudioIndex is the m-line carrying Audio.
	AudioIndex int
	// Fmtp is the format parameter line of the chosen codec we send back.
	Fmtp string
	// EventFmtp is the fmtp of telephone-event, echoed from the offer.
	EventFmtp string
	// Lines are the answer's m-lines, one per offered m-line in order.
	Lines []MediaLine
}

// SDPError is an SDP that could not be used. Status is the SIP status the
// request gets (400 or 488); Warning, when not zero, is the RFC 3261 §20.43
// warning code of a 488.
type SDPError struct {
	Status  int
	Warning int
	Text    string
	Err     error
}

// Error describes what was wrong with the SDP.
func (e *SDPError) Error() string { return "sdp: " + e.Text }

// Unwrap returns the sentinel the error belongs to.
func (e *SDPError) Unwrap() error { return e.Err }

// Warning codes of RFC 3261 §20.43 used in 488 answers.
const (
	warnIncompatibleAddress = 301
	warnMediaTypeNA         = 304
	warnIncompatibleFormat  = 305
)

// warningText is the text RFC 3261 gives each warning code we use.
func warningText(code int) string {
	switch code {
	case warnIncompatibleAddress:
		return "Incompatible network address formats"
	case warnMediaTypeNA:
		return "Media type not available"
	default:
		return "Incompatible media format"
	}
}

func badSDP(text string, err error) *SDPError {
	if err != nil {
		text += ": " + err.Error()
	}
	return &SDPError{Status: 400, Text: text, Err: ErrBadSDP}
}

func noMedia(warning int, text string) *SDPError {
	return &SDPError{Status: 488, Warning: warning, Text: text, Err: ErrNoCommonMedia}
}

// ParseSDP parses an SDP body, with limits and errors fit for hostile input.
func ParseSDP(body []byte) (*sdp.SessionDescription, error) {
	if len(body) == 0 {
		return nil, badSDP("empty body", nil)
	}
	if len(body) > maxSDPSize {
		return nil, badSDP(fmt.Sprintf("body of %d bytes is larger than %d", len(body), maxSDPSize), nil)
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, badSDP("malformed session description", err)
	}
	return &sd, nil
}

// Negotiate answers an SDP offer: it picks, in the order of prefs (our
// preference), the first codec the offer's first usable audio m-line carries,
// echoes the offerer's payload type numbers, adds telephone-event at the same
// clock rate when offered, and answers every other m-line with port 0.
// localPort is the RTP port of our media leg.
func Negotiate(offer []byte, prefs []codec.Info, localPort int) (*Negotiated, error) {
	sd, err := ParseSDP(offer)
	if err != nil {
		return nil, err
	}
	return negotiate(sd, prefs, localPort)
}

func negotiate(sd *sdp.SessionDescription, prefs []codec.Info, localPort int) (*Negotiated, error) {
	if len(sd.MediaDescriptions) == 0 {
		return nil, noMedia(warnMediaTypeNA, "offer has no m-line")
	}
	n := &Negotiated{AudioIndex: -1, Lines: make([]MediaLine, len(sd.MediaDescriptions))}
	sawAudio := false
	var lastErr *SDPError
	for i, md := range sd.MediaDescriptions {
		n.Lines[i] = rejectLine(md)
		if n.AudioIndex >= 0 || !strings.EqualFold(md.MediaName.Media, "audio") || md.MediaName.Port.Value == 0 {
			continue
		}
		if !isRTPAVP(md.MediaName.Protos) {
			continue
		}
		sawAudio = true
		st, fmtp, eventFmtp, err := answerAudio(sd, md, prefs, true)
		if err != nil {
			var se *SDPError
			if errors.As(err, &se) {
				if se.Status == 400 {
					return nil, se
				}
				lastErr = se
				continue
			}
			return nil, err
		}
		n.Audio, n.Fmtp, n.EventFmtp, n.AudioIndex = st, fmtp, eventFmtp, i
		n.Lines[i] = audioLine(md.MediaName.Protos, localPort, st, fmtp, eventFmtp, bridgeDirectionName(st.Direction))
	}
	if n.AudioIndex < 0 {
		if lastErr != nil {
			return nil, lastErr
		}
		if !sawAudio {
			return nil, noMedia(warnMediaTypeNA, "offer has no usable RTP/AVP audio stream")
		}
		return nil, noMedia(warnIncompatibleFormat, "no audio codec in common")
	}
	return n, nil
}

// ParseAnswer reads the peer's answer to our offer (late offer in 200, answer
// in ACK, or the 200 to our re-INVITE) and returns the stream it agreed to.
// The codec is the first of the answer's formats that we offered.
func ParseAnswer(answer []byte, prefs []codec.Info) (bridge.StreamParams, error) {
	sd, err := ParseSDP(answer)
	if err != nil {
		return bridge.StreamParams{}, err
	}
	for _, md := range sd.MediaDescriptions {
		if !strings.EqualFold(md.MediaName.Media, "audio") || md.MediaName.Port.Value == 0 || !isRTPAVP(md.MediaName.Protos) {
			continue
		}
		// The answer's direction is from its sender's point of view:
		// "recvonly" means the peer only receives, so we only send;
		// answerAudio mirrors it exactly so.
		st, _, _, err := answerAudio(sd, md, prefs, false)
		if err != nil {
			return bridge.StreamParams{}, err
		}
		return st, nil
	}
	return bridge.StreamParams{}, noMedia(warnMediaTypeNA, "answer has no active audio stream")
}

// answerAudio picks the codec of one audio m-line. With ourOrder the order of
// prefs decides (we answer an offer); otherwise the m-line's order does (we
// read an answer).
func answerAudio(sd *sdp.SessionDescription, md *sdp.MediaDescription, prefs []codec.Info, ourOrder bool) (bridge.StreamParams, string, string, error) {
	var st bridge.StreamParams
	formats, err := mediaFormats(md)
	if err != nil {
		return st, "", "", err
	}
	remote, err := remoteAddr(sd, md)
	if err != nil {
		return st, "", "", err
	}
	st.Remote = remote
	if rtcp, ok, err := rtcpAddr(md, remote.Addr()); err != nil {
		return st, "", "", err
	} else if ok {
		st.RemoteRTCP = rtcp
	}

	chosen, info, found := pickCodec(formats, prefs, ourOrder)
	if !found {
		return st, "", "", noMedia(warnIncompatibleFormat, "no audio codec in common")
	}
	st.Codec = info
	st.PayloadType = uint8(chosen.PT)
	st.EventPayloadType = -1
	eventFmtp := ""
	for _, f := range formats {
		if strings.EqualFold(f.Name, telephoneEvent) && f.ClockRate == info.ClockRate {
			st.EventPayloadType = f.PT
			eventFmtp = f.Fmtp
			break
		}
	}
	fmtp := info.Fmtp
	if fmtp == "" {
		fmtp = chosen.Fmtp
	}
	st.Direction = toBridgeDirection(answerDirection(md, sd))
	if isHoldAddress(remote.Addr()) {
		st.Direction = withoutSend(st.Direction)
	}
	return st, fmtp, eventFmtp, nil
}

// pickCodec finds the codec to use among formats.
func pickCodec(formats []rtpFormat, prefs []codec.Info, ourOrder bool) (rtpFormat, codec.Info, bool) {
	if ourOrder {
		for _, p := range prefs {
			for _, f := range formats {
				if matches(f, p) {
					return f, p, true
				}
			}
		}
		return rtpFormat{}, codec.Info{}, false
	}
	for _, f := range formats {
		for _, p := range prefs {
			if matches(f, p) {
				return f, p, true
			}
		}
	}
	return rtpFormat{}, codec.Info{}, false
}

// matches reports whether an offered format is the codec p. Opus may come
// with one channel from sloppy peers; RFC 7587 says /2, both work.
func matches(f rtpFormat, p codec.Info) bool {
	if !strings.EqualFold(f.Name, p.Name) || f.ClockRate != p.ClockRate {
		return false
	}
	if f.Channels == p.Channels {
		return true
	}
	return strings.EqualFold(p.Name, "opus") && f.Channels == 1
}

// mediaFormats lists the formats of an m-line with their rtpmap and fmtp.
func mediaFormats(md *sdp.MediaDescription) ([]rtpFormat, error) {
	formats := make([]rtpFormat, 0, len(md.MediaName.Formats))
	index := make(map[int]int, len(md.MediaName.Formats))
	for _, s := range md.MediaName.Formats {
		pt, err := strconv.Atoi(s)
		if err != nil || pt < 0 || pt > 127 {
			return nil, badSDP(fmt.Sprintf("payload type %q is not a number from 0 to 127", s), err)
		}
		if _, dup := index[pt]; dup {
			continue
		}
		f := rtpFormat{PT: pt}
		if st, ok := staticPayloads[pt]; ok {
			f.Name, f.ClockRate, f.Channels = st.Name, st.ClockRate, st.Channels
		}
		index[pt] = len(formats)
		formats = append(formats, f)
	}
	for _, a := range md.Attributes {
		switch strings.ToLower(a.Key) {
		case "rtpmap":
			pt, rest, ok := splitPT(a.Value)
			if !ok {
				return nil, badSDP(fmt.Sprintf("malformed a=rtpmap:%s", a.Value), nil)
			}
			i, listed := index[pt]
			if !listed {
				continue
			}
			name, clock, channels, err := parseRtpmap(rest)
			if err != nil {
				return nil, badSDP(fmt.Sprintf("malformed a=rtpmap:%s", a.Value), err)
			}
			formats[i].Name, formats[i].ClockRate, formats[i].Channels = name, clock, channels
		case "fmtp":
			pt, rest, ok := splitPT(a.Value)
			if !ok {
				continue // an fmtp we cannot read only loses parameters
			}
			if i, listed := index[pt]; listed {
				formats[i].Fmtp = strings.TrimSpace(rest)
			}
		}
	}
	return formats, nil
}

// splitPT splits "<pt> <rest>" of rtpmap and fmtp values.
func splitPT(v string) (int, string, bool) {
	v = strings.TrimSpace(v)
	sp := strings.IndexAny(v, " \t")
	if sp <= 0 {
		return 0, "", false
	}
	pt, err := strconv.Atoi(v[:sp])
	if err != nil || pt < 0 || pt > 127 {
		return 0, "", false
	}
	return pt, strings.TrimSpace(v[sp+1:]), true
}

// parseRtpmap reads "<name>/<clock>[/<channels>]".
func parseRtpmap(s string) (string, int, int, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return "", 0, 0, fmt.Errorf("want <encoding>/<clock rate>[/<channels>], got %q", s)
	}
	clock, err := strconv.Atoi(parts[1])
	if err != nil || clock <= 0 {
		return "", 0, 0, fmt.Errorf("clock rate %q: not a positive number", parts[1])
	}
	channels := 1
	if len(parts) == 3 {
		channels, err = strconv.Atoi(parts[2])
		if err != nil || channels <= 0 {
			return "", 0, 0, fmt.Errorf("channels %q: not a positive number", parts[2])
		}
	}
	return parts[0], clock, channels, nil
}

// remoteAddr returns where the m-line's RTP goes: the media-level c= or the
// session-level one (RFC 4566 §5.7), IPv4 or IPv6.
func remoteAddr(sd *sdp.SessionDescription, md *sdp.MediaDescription) (netip.AddrPort, error) {
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return netip.AddrPort{}, badSDP("no c= line for the audio stream", nil)
	}
	if !strings.EqualFold(ci.NetworkType, "IN") {
		return netip.AddrPort{}, noAddr(fmt.Sprintf("network type %q", ci.NetworkType))
	}
	host := ci.Address.Address
	if i := strings.IndexByte(host, '/'); i >= 0 { // multicast TTL
		host = host[:i]
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, noAddr(fmt.Sprintf("connection address %q is not an IP address", host))
	}
	if addr.Zone() != "" {
		return netip.AddrPort{}, noAddr(fmt.Sprintf("connection address %q has a zone", host))
	}
	switch {
	case strings.EqualFold(ci.AddressType, "IP4") && !addr.Is4():
		return netip.AddrPort{}, noAddr(fmt.Sprintf("IP4 address %q", host))
	case strings.EqualFold(ci.AddressType, "IP6") && !addr.Is6():
		return netip.AddrPort{}, noAddr(fmt.Sprintf("IP6 address %q", host))
	}
	port := md.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return netip.AddrPort{}, badSDP(fmt.Sprintf("media port %d out of range", port), nil)
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

func noAddr(text string) *SDPError {
	return &SDPError{Status: 488, Warning: warnIncompatibleAddress, Text: text, Err: ErrNoCommonMedia}
}

// rtcpAddr reads a=rtcp (RFC 3605): "<port> [IN IP4 <addr>]".
func rtcpAddr(md *sdp.MediaDescription, rtpAddr netip.Addr) (netip.AddrPort, bool, error) {
	v, ok := md.Attribute("rtcp")
	if !ok {
		return netip.AddrPort{}, false, nil
	}
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return netip.AddrPort{}, false, nil
	}
	port, err := strconv.Atoi(fields[0])
	if err != nil || port <= 0 || port > 65535 {
		return netip.AddrPort{}, false, badSDP(fmt.Sprintf("malformed a=rtcp:%s", v), err)
	}
	addr := rtpAddr
	if len(fields) >= 4 {
		if a, err := netip.ParseAddr(fields[3]); err == nil && a.Zone() == "" {
			addr = a.Unmap()
		}
	}
	return netip.AddrPortFrom(addr, uint16(port)), true, nil
}

// isRTPAVP reports whether the m-line's protocol is plain RTP (RTP/AVP, or
// RTP/AVPF whose feedback we can ignore). SRTP profiles are not ours yet.
func isRTPAVP(protos []string) bool {
	p := strings.ToUpper(strings.Join(protos, "/"))
	return p == "RTP/AVP" || p == "RTP/AVPF"
}

// isHoldAddress reports the RFC 2543 way of putting a call on hold.
func isHoldAddress(a netip.Addr) bool { return a.IsUnspecified() }

// Directions as SDP names them.
const (
	dirSendRecv = "sendrecv"
	dirSendOnly = "sendonly"
	dirRecvOnly = "recvonly"
	dirInactive = "inactive"
)

// mediaDirection is the direction attribute of an m-line, or of the session,
// or sendrecv (RFC 3264 §5.1).
func mediaDirection(md *sdp.MediaDescription, sd *sdp.SessionDescription) string {
	for _, attrs := range [][]sdp.Attribute{md.Attributes, sd.Attributes} {
		for _, a := range attrs {
			switch k := strings.ToLower(a.Key); k {
			case dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive:
				return k
			}
		}
	}
	return dirSendRecv
}

// answerDirection is our answer's direction for an offered m-line
// (RFC 3264 §6.1): sendonly→recvonly, recvonly→sendonly, inactive→inactive.
func answerDirection(md *sdp.MediaDescription, sd *sdp.SessionDescription) string {
	return mirrorName(mediaDirection(md, sd))
}

func mirrorName(d string) string {
	switch d {
	case dirSendOnly:
		return dirRecvOnly
	case dirRecvOnly:
		return dirSendOnly
	default:
		return d
	}
}

// toBridgeDirection converts the direction we put in our SDP to the bridge's.
func toBridgeDirection(ours string) bridge.Direction {
	switch ours {
	case dirSendOnly:
		return bridge.SendOnly
	case dirRecvOnly:
		return bridge.RecvOnly
	case dirInactive:
		return bridge.Inactive
	default:
		return bridge.SendRecv
	}
}

// withoutSend drops our sending half: a peer at 0.0.0.0 cannot be sent to.
func withoutSend(d bridge.Direction) bridge.Direction {
	switch d {
	case bridge.SendRecv:
		return bridge.RecvOnly
	case bridge.SendOnly:
		return bridge.Inactive
	default:
		return d
	}
}

// bridgeDirectionName is the SDP attribute for our side's bridge direction.
func bridgeDirectionName(d bridge.Direction) string {
	switch d {
	case bridge.SendOnly:
		return dirSendOnly
	case bridge.RecvOnly:
		return dirRecvOnly
	case bridge.Inactive:
		return dirInactive
	default:
		return dirSendRecv
	}
}

// rejectLine answers an m-line with port 0, keeping its format list.
func rejectLine(md *sdp.MediaDescription) MediaLine {
	formats := md.MediaName.Formats
	if len(formats) == 0 {
		formats = []string{"0"}
	}
	proto := strings.Join(md.MediaName.Protos, "/")
	if proto == "" {
		proto = "RTP/AVP"
	}
	media := md.MediaName.Media
	if media == "" {
		media = "audio"
	}
	return MediaLine{Media: media, Port: 0, Proto: proto, Formats: append([]string(nil), formats...)}
}

// audioLine is our accepted audio m-line.
func audioLine(protos []string, port int, st bridge.StreamParams, fmtp, eventFmtp, direction string) MediaLine {
	l := MediaLine{Media: "audio", Port: port, Proto: strings.Join(protos, "/")}
	pt := strconv.Itoa(int(st.PayloadType))
	l.Formats = append(l.Formats, pt)
	l.Attributes = append(l.Attributes, "rtpmap:"+pt+" "+rtpmapValue(st.Codec))
	if fmtp != "" {
		l.Attributes = append(l.Attributes, "fmtp:"+pt+" "+fmtp)
	}
	if st.EventPayloadType >= 0 {
		ept := strconv.Itoa(st.EventPayloadType)
		l.Formats = append(l.Formats, ept)
		l.Attributes = append(l.Attributes, "rtpmap:"+ept+" "+telephoneEvent+"/"+strconv.Itoa(st.Codec.ClockRate))
		if eventFmtp != "" {
			l.Attributes = append(l.Attributes, "fmtp:"+ept+" "+eventFmtp)
		}
	}
	l.Attributes = append(l.Attributes, "ptime:20", direction)
	return l
}

func rtpmapValue(c codec.Info) string {
	s := c.Name + "/" + strconv.Itoa(c.ClockRate)
	if c.Channels > 1 {
		s += "/" + strconv.Itoa(c.Channels)
	}
	return s
}

// OfferLine builds our audio m-line for an offer with every codec of prefs
// (late offer, re-INVITE without SDP), telephone-event at 8 kHz, and at
// 48 kHz when Opus is among prefs. Static codecs keep their payload type;
// dynamic ones get 96 upwards, skipping the telephone-event types.
func OfferLine(prefs []codec.Info, port int, direction string) MediaLine {
	l := MediaLine{Media: "audio", Port: port, Proto: "RTP/AVP"}
	next := 96
	has48k := false
	for _, c := range prefs {
		pt := c.StaticPT
		if pt < 0 {
			for next == offerEventPT || next == offerEventPT48k {
				next++
			}
			pt = next
			next++
		}
		if c.ClockRate == 48000 {
			has48k = true
		}
		s := strconv.Itoa(pt)
		l.Formats = append(l.Formats, s)
		l.Attributes = append(l.Attributes, "rtpmap:"+s+" "+rtpmapValue(c))
		if c.Fmtp != "" {
			l.Attributes = append(l.Attributes, "fmtp:"+s+" "+c.Fmtp)
		}
	}
	l.Formats = append(l.Formats, strconv.Itoa(offerEventPT))
	l.Attributes = append(l.Attributes, "rtpmap:101 telephone-event/8000", "fmtp:101 0-15")
	if has48k {
		l.Formats = append(l.Formats, strconv.Itoa(offerEventPT48k))
		l.Attributes = append(l.Attributes, "rtpmap:102 telephone-event/48000", "fmtp:102 0-15")
	}
	l.Attributes = append(l.Attributes, "ptime:20", direction)
	return l
}

// LocalSession is what our SDP says about us.
type LocalSession struct {
	// Username of the o= line.
	Username string
	// SessionID and Version of the o= line; Version grows on every change.
	SessionID, Version uint64
	// Addr goes into o= and c=: an IP address, or a host name (NAT setups).
	Addr string
}

// BuildSDP writes a session description with the given m-lines.
func BuildSDP(ls LocalSession, lines []MediaLine) []byte {
	var b strings.Builder
	b.Grow(256 + 96*len(lines))
	addrType := "IP4"
	if a, err := netip.ParseAddr(ls.Addr); err == nil && a.Is6() && !a.Is4In6() {
		addrType = "IP6"
	}
	user := ls.Username
	if user == "" || strings.ContainsAny(user, " \t\r\n") {
		user = "-"
	}
	fmt.Fprintf(&b, "v=0\r\no=%s %d %d IN %s %s\r\ns=%s\r\nc=IN %s %s\r\nt=0 0\r\n",
		user, ls.SessionID, ls.Version, addrType, ls.Addr, user, addrType, ls.Addr)
	for _, l := range lines {
		fmt.Fprintf(&b, "m=%s %d %s %s\r\n", l.Media, l.Port, l.Proto, strings.Join(l.Formats, " "))
		if l.Port != 0 {
			for _, bw := range l.Bandwidth {
				b.WriteString("b=")
				b.WriteString(bw)
				b.WriteString("\r\n")
			}
		}
		for _, a := range l.Attributes {
			b.WriteString("a=")
			b.WriteString(a)
			b.WriteString("\r\n")
		}
	}
	return []byte(b.String())
}

// withoutTelephoneEvent drops the telephone-event formats of a media line
// (dtmf.telephone_event off, or a dial-out whose post-dial digits must go
// in-band or by INFO).
func withoutTelephoneEvent(l MediaLine) MediaLine {
	drop := map[string]bool{}
	for _, a := range l.Attributes {
		if v, ok := strings.CutPrefix(a, "rtpmap:"); ok {
			pt, enc, _ := strings.Cut(v, " ")
			if strings.HasPrefix(strings.ToLower(enc), telephoneEvent+"/") {
				drop[pt] = true
			}
		}
	}
	out := MediaLine{Media: l.Media, Port: l.Port, Proto: l.Proto}
	for _, f := range l.Formats {
		if !drop[f] {
			out.Formats = append(out.Formats, f)
		}
	}
	for _, a := range l.Attributes {
		pt, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "rtpmap:"), "fmtp:"), " ")
		if (strings.HasPrefix(a, "rtpmap:") || strings.HasPrefix(a, "fmtp:")) && drop[pt] {
			continue
		}
		out.Attributes = append(out.Attributes, a)
	}
	return out
}

// negotiate answers an offer under the server's configuration: without
// telephone-event when Config.NoTelephoneEvent is set, so that the caller
// falls back to in-band tones or INFO.
func (s *Server) negotiate(offer []byte, prefs []codec.Info, localPort int) (*Negotiated, error) {
	n, err := Negotiate(offer, prefs, localPort)
	if err != nil || !s.cfg.NoTelephoneEvent {
		return n, err
	}
	n.Audio.EventPayloadType, n.EventFmtp = -1, ""
	n.Lines[n.AudioIndex] = withoutTelephoneEvent(n.Lines[n.AudioIndex])
	return n, nil
}

// offerLine is OfferLine under the server's configuration.
func (s *Server) offerLine(prefs []codec.Info, port int, direction string) MediaLine {
	l := OfferLine(prefs, port, direction)
	if s.cfg.NoTelephoneEvent {
		l = withoutTelephoneEvent(l)
	}
	return l
}

// parseAnswer is ParseAnswer under the server's configuration: a
// telephone-event we did not offer is not used.
func (s *Server) parseAnswer(answer []byte, prefs []codec.Info) (bridge.StreamParams, error) {
	st, err := ParseAnswer(answer, prefs)
	if err == nil && s.cfg.NoTelephoneEvent {
		st.EventPayloadType = -1
	}
	return st, err
}
