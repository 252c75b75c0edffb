package sip

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/video"
)

// Video SDP negotiation (RFC 6184 for H.264, RFC 4585/5104 for feedback),
// as pure functions beside the audio ones in sdp_negotiate.go.
//
// The bridge switches video without transcoding, so every receiver must be
// able to decode whatever any sender sends. The conference therefore has one
// format (VideoFormat: a profile, a level and max-fs/max-mbps/max-br on top
// of it, by default Constrained Baseline up to 720p30) and:
//
//   - asks every sender for at most that format: the answer's fmtp is what
//     we receive (RFC 6184 §8.2.2), so it carries the conference's max-fs,
//     max-mbps and max-br, and b=AS / b=TIAS carry its bit rate;
//   - accepts a video line only when its receiver can decode that format:
//     an H.264 payload type in packetization-mode 1 (preferred) or 0, whose
//     profile can carry Constrained Baseline, and whose level (raised by its
//     max-fs/max-mbps) takes the format's picture size and macroblock rate.
//     Anything else is rejected with port 0 and a reason to log, and the
//     call goes on with audio.
//
// Decisions where the RFCs leave a choice:
//
//   - The answer keeps the offer's profile_idc and constraint flags (the
//     same profile, §8.2.2) and answers the lower of the offer's level and
//     ours, never a higher one, even with level-asymmetry-allowed.
//   - A plain Baseline offer (42 without constraint_set1) is accepted: a
//     Baseline decoder decodes Constrained Baseline, and the Baseline
//     features Constrained Baseline lacks (FMO, ASO, redundant slices) are
//     not used by real encoders. Main, Extended and High offers are accepted
//     only with the flags that make them Constrained Baseline.
//   - An offer without profile-level-id means Baseline level 1.0 (§8.1),
//     which cannot take 720p: such a line is rejected unless max-fs and
//     max-mbps raise it.
//   - Feedback is answered as the intersection of what was offered for the
//     chosen payload type (or "*") and what the bridge does: nack,
//     nack pli, ccm fir, ccm tmmbr, goog-remb. We never add feedback the
//     offer did not have (RFC 4585 §4.2).
//   - sprop-parameter-sets of the offer seed the bridge's SPS/PPS cache and
//     are not echoed (they describe the offerer's stream, not ours).

// VideoFormat is the conference-wide video format.
type VideoFormat struct {
	// ProfileLevelID is the profile and level of the format (6 hex
	// digits). Default "42e01f": Constrained Baseline, level 3.1.
	ProfileLevelID string
	// MaxFS is the largest picture in macroblocks (3600 = 1280x720) and
	// MaxMBPS the macroblock rate (108000 = 720p30). 0: the level's.
	MaxFS, MaxMBPS uint32
	// MaxBR is the largest video bit rate in kbit/s put into max-br; it is
	// only sent when above the level's own MaxBR (RFC 6184 §8.1). 0: none.
	MaxBR uint32
	// Bitrate is the video bit rate we ask senders for, in bit/s
	// (b=TIAS; b=AS adds 5 % for packet headers). Default 2 Mbit/s.
	Bitrate uint64
	// PayloadType is the first payload type of our own offers (mode 1;
	// mode 0 gets the next one). Default 97.
	PayloadType int
}

// DefaultVideoFormat returns Constrained Baseline up to 720p30 at 2 Mbit/s.
func DefaultVideoFormat() VideoFormat {
	return VideoFormat{ProfileLevelID: "42e01f", MaxFS: 3600, MaxMBPS: 108000, Bitrate: 2_000_000, PayloadType: 97}
}

// videoFormat is a VideoFormat checked and decoded.
type videoFormat struct {
	VideoFormat
	pli     video.ProfileLevelID
	frameMB uint32 // picture size senders are asked for, in macroblocks
	mbps    uint32 // macroblock rate senders are asked for
}

// compile fills in defaults and checks f.
func (f VideoFormat) compile() (videoFormat, error) {
	d := DefaultVideoFormat()
	if f.ProfileLevelID == "" {
		f.ProfileLevelID = d.ProfileLevelID
	}
	if f.Bitrate == 0 {
		f.Bitrate = d.Bitrate
	}
	if f.PayloadType == 0 {
		f.PayloadType = d.PayloadType
	}
	if f.PayloadType < 96 || f.PayloadType > 126 {
		return videoFormat{}, fmt.Errorf("video payload type %d: want 96 to 126: %w", f.PayloadType, ErrConfig)
	}
	pli, err := video.ParseProfileLevelID(f.ProfileLevelID)
	if err != nil {
		return videoFormat{}, fmt.Errorf("video format: %w: %w", ErrConfig, err)
	}
	mbps, fs, ok := video.LevelLimits(pli.Level())
	if !ok {
		return videoFormat{}, fmt.Errorf("video format: unknown H.264 level_idc %d: %w", pli.LevelIDC, ErrConfig)
	}
	vf := videoFormat{VideoFormat: f, pli: pli, frameMB: max(fs, f.MaxFS), mbps: max(mbps, f.MaxMBPS)}
	return vf, nil
}

// VideoAnswer is the answer to one offered video m-line.
type VideoAnswer struct {
	// Accepted says whether the line was accepted; Reason says why not,
	// for the log (the call goes on with audio).
	Accepted bool
	Reason   string
	// Line is the answer's m-line: port 0 when rejected.
	Line MediaLine
	// Bandwidth are the b= lines of the answer's m-line ("AS:2100",
	// "TIAS:2000000"), to write after the m= line before its a= lines.
	Bandwidth []string
	// Params configure the bridge's video leg (bridge.VideoLeg.Start).
	Params bridge.VideoParams
}

// h264Candidate is one H.264 payload type of an offer, decoded.
type h264Candidate struct {
	format rtpFormat
	fmtp   video.H264Fmtp
}

// FindVideoLine returns the index of the m-line that should carry the
// conference's video: the first video line with a port, that is not a
// presentation (a=content:slides, RFC 4796). It returns -1 when none.
func FindVideoLine(sd *sdp.SessionDescription) int {
	for i, md := range sd.MediaDescriptions {
		if !strings.EqualFold(md.MediaName.Media, "video") || md.MediaName.Port.Value == 0 {
			continue
		}
		if c, ok := md.Attribute("content"); ok && !strings.EqualFold(strings.TrimSpace(c), "main") {
			continue
		}
		return i
	}
	return -1
}

// AnswerVideo answers the offered video m-line md of sd with the conference
// format f. localPort is the RTP port of our video leg. A line we cannot
// take comes back rejected (port 0) with a reason; an f that cannot work is
// an error wrapping ErrConfig.
func AnswerVideo(sd *sdp.SessionDescription, md *sdp.MediaDescription, f VideoFormat, localPort int) (VideoAnswer, error) {
	vf, err := f.compile()
	if err != nil {
		return VideoAnswer{}, err
	}
	ans := VideoAnswer{Line: rejectLine(md)}
	reject := func(reason string) (VideoAnswer, error) {
		ans.Reason = reason
		return ans, nil
	}
	if !strings.EqualFold(md.MediaName.Media, "video") {
		return reject(fmt.Sprintf("m-line is %q, not video", md.MediaName.Media))
	}
	if md.MediaName.Port.Value == 0 {
		return reject("video line has port 0")
	}
	if !isRTPAVP(md.MediaName.Protos) {
		return reject(fmt.Sprintf("video protocol %s is not RTP/AVP or RTP/AVPF", strings.Join(md.MediaName.Protos, "/")))
	}
	formats, err := mediaFormats(md)
	if err != nil {
		return reject(fmt.Sprintf("malformed video line: %v", err))
	}
	remote, err := remoteAddr(sd, md)
	if err != nil {
		return reject(fmt.Sprintf("video address: %v", err))
	}
	rtcpTo, hasRTCP, err := rtcpAddr(md, remote.Addr())
	if err != nil {
		return reject(fmt.Sprintf("video RTCP address: %v", err))
	}

	chosen, reason := pickH264(formats, vf)
	if reason != "" {
		return reject(reason)
	}
	p := bridge.VideoParams{
		PayloadType: uint8(chosen.format.PT),
		Fmtp:        chosen.fmtp,
		Remote:      remote,
		Direction:   toBridgeDirection(answerDirection(md, sd)),
		Feedback:    offeredFeedback(md, chosen.format.PT),
		MaxBitrate:  offeredBitrate(md.Bandwidth),
	}
	if hasRTCP {
		p.RemoteRTCP = rtcpTo
	}
	if _, ok := md.Attribute("rtcp-mux"); ok {
		p.RTCPMux = true
	}
	if isHoldAddress(remote.Addr()) {
		p.Direction = withoutSend(p.Direction)
	}

	ours := answerFmtp(chosen.fmtp, vf)
	pt := strconv.Itoa(chosen.format.PT)
	line := MediaLine{Media: "video", Port: localPort, Proto: strings.Join(md.MediaName.Protos, "/"), Formats: []string{pt}}
	line.Attributes = append(line.Attributes, "rtpmap:"+pt+" H264/90000", "fmtp:"+pt+" "+ours.Format())
	line.Attributes = append(line.Attributes, feedbackAttrs(pt, p.Feedback)...)
	if p.RTCPMux {
		line.Attributes = append(line.Attributes, "rtcp-mux")
	}
	line.Attributes = append(line.Attributes, "content:main", bridgeDirectionName(p.Direction))
	line.Bandwidth = bandwidthLines(vf.Bitrate)
	return VideoAnswer{Accepted: true, Line: line, Bandwidth: line.Bandwidth, Params: p}, nil
}

// pickH264 chooses the offer's H.264 payload type: the first one in offer
// order that the conference format can use with packetization-mode 1, else
// the first with mode 0. When none fits, reason says why the best candidate
// failed.
func pickH264(formats []rtpFormat, vf videoFormat) (h264Candidate, string) {
	var mode0 *h264Candidate
	reason := ""
	sawH264 := false
	for _, fm := range formats {
		if !strings.EqualFold(fm.Name, "H264") || fm.ClockRate != 90000 {
			continue
		}
		sawH264 = true
		fp, err := video.ParseH264Fmtp(fm.Fmtp)
		if err != nil {
			if reason == "" {
				reason = fmt.Sprintf("H.264 payload type %d: %v", fm.PT, err)
			}
			continue
		}
		if why := h264Unfit(fp, vf); why != "" {
			if reason == "" {
				reason = fmt.Sprintf("H.264 payload type %d: %s", fm.PT, why)
			}
			continue
		}
		c := h264Candidate{format: fm, fmtp: fp}
		if fp.PacketizationMode == 1 {
			return c, ""
		}
		if mode0 == nil {
			mode0 = &c
		}
	}
	if mode0 != nil {
		return *mode0, ""
	}
	if !sawH264 {
		return h264Candidate{}, "no H.264 in the video offer"
	}
	return h264Candidate{}, reason
}

// h264Unfit says why the receiver described by fp cannot decode the
// conference format, or "" when it can.
func h264Unfit(fp video.H264Fmtp, vf videoFormat) string {
	if fp.PacketizationMode > 1 {
		return fmt.Sprintf("packetization-mode %d is not supported", fp.PacketizationMode)
	}
	if !profileCarries(fp.ProfileLevelID, vf.pli) {
		return fmt.Sprintf("profile-level-id %s cannot carry the conference's profile %s", fp.ProfileLevelID, vf.pli)
	}
	if _, _, ok := video.LevelLimits(fp.ProfileLevelID.Level()); !ok {
		return fmt.Sprintf("profile-level-id %s: unknown level", fp.ProfileLevelID)
	}
	if fs := fp.MaxFrameMBs(); fs < vf.frameMB {
		return fmt.Sprintf("receiver takes frames of at most %d macroblocks, the conference sends %d", fs, vf.frameMB)
	}
	if mbps := fp.MaxMBsPerSecond(); mbps < vf.mbps {
		return fmt.Sprintf("receiver takes at most %d macroblocks/s, the conference sends %d", mbps, vf.mbps)
	}
	return ""
}

// profileCarries reports whether a payload type offered with profile p can
// carry a stream of the conference's profile conf both ways: the offerer
// decodes it and what the offerer sends in that profile can be forwarded.
func profileCarries(p, conf video.ProfileLevelID) bool {
	if conf.ConstrainedBaseline() {
		return p.ConstrainedBaseline() || p.ProfileIDC == 66
	}
	return p.ProfileIDC == conf.ProfileIDC && p.ProfileIOP&^0x10 == conf.ProfileIOP&^0x10
}

// answerFmtp builds our fmtp for the chosen payload type: the offer's
// profile, the lower of the two levels, the offer's packetization mode, and
// what we receive on top of the level (max-fs, max-mbps, max-br) when it is
// more than the level gives.
func answerFmtp(offer video.H264Fmtp, vf videoFormat) video.H264Fmtp {
	pli := offer.ProfileLevelID
	if vf.pli.Level() < pli.Level() {
		pli.LevelIDC = vf.pli.LevelIDC
		// constraint_set3 means level 1b for level_idc 11 only; copy ours.
		pli.ProfileIOP = pli.ProfileIOP&^0x10 | vf.pli.ProfileIOP&0x10
	}
	ans := video.H264Fmtp{ProfileLevelID: pli, PacketizationMode: offer.PacketizationMode}
	mbps, fs, _ := video.LevelLimits(pli.Level())
	if vf.frameMB > fs {
		ans.MaxFS = vf.frameMB
	}
	if vf.mbps > mbps {
		ans.MaxMBPS = vf.mbps
	}
	if vf.MaxBR > 0 && vf.MaxBR > levelMaxBR(pli.Level()) {
		ans.MaxBR = vf.MaxBR
	}
	return ans
}

// levelMaxBR is MaxBR of an H.264 level in kbit/s (Table A-1, Baseline,
// Extended and Main: cpbBrVclFactor 1000).
func levelMaxBR(level uint8) uint32 {
	switch level {
	case 9:
		return 128
	case 10:
		return 64
	case 11:
		return 192
	case 12:
		return 384
	case 13:
		return 768
	case 20:
		return 2000
	case 21, 22:
		return 4000
	case 30:
		return 10000
	case 31:
		return 14000
	case 32:
		return 20000
	case 40:
		return 20000
	case 41, 42:
		return 50000
	case 50:
		return 135000
	}
	return 240000
}

// Feedback the bridge does, as a=rtcp-fb values (RFC 4585, 5104, REMB).
const (
	fbNACK  = "nack"
	fbPLI   = "nack pli"
	fbFIR   = "ccm fir"
	fbTMMBR = "ccm tmmbr"
	fbREMB  = "goog-remb"
)

// offeredFeedback reads the a=rtcp-fb lines for payload type pt (or "*").
func offeredFeedback(md *sdp.MediaDescription, pt int) bridge.VideoFeedback {
	var fb bridge.VideoFeedback
	want := strconv.Itoa(pt)
	for _, a := range md.Attributes {
		if !strings.EqualFold(a.Key, "rtcp-fb") {
			continue
		}
		target, rest, ok := strings.Cut(strings.TrimSpace(a.Value), " ")
		if !ok || (target != "*" && target != want) {
			continue
		}
		switch strings.ToLower(strings.Join(strings.Fields(rest), " ")) {
		case fbNACK:
			fb.NACK = true
		case fbPLI:
			fb.PLI = true
		case fbFIR:
			fb.FIR = true
		case fbTMMBR:
			fb.TMMBR = true
		case fbREMB:
			fb.REMB = true
		}
	}
	return fb
}

// feedbackAttrs writes fb as a=rtcp-fb values for payload type pt.
func feedbackAttrs(pt string, fb bridge.VideoFeedback) []string {
	var out []string
	for _, f := range []struct {
		on  bool
		val string
	}{{fb.NACK, fbNACK}, {fb.PLI, fbPLI}, {fb.FIR, fbFIR}, {fb.TMMBR, fbTMMBR}, {fb.REMB, fbREMB}} {
		if f.on {
			out = append(out, "rtcp-fb:"+pt+" "+f.val)
		}
	}
	return out
}

// offeredBitrate is what the peer says it can receive on this line, in
// bit/s: b=TIAS (RFC 3890), else b=AS (kbit/s, RFC 4566), else 0.
func offeredBitrate(bws []sdp.Bandwidth) uint64 {
	var as uint64
	for _, b := range bws {
		switch strings.ToUpper(b.Type) {
		case "TIAS":
			if b.Bandwidth > 0 {
				return b.Bandwidth
			}
		case "AS":
			if b.Bandwidth > 0 && b.Bandwidth < 1<<40 {
				as = b.Bandwidth * 1000
			}
		}
	}
	return as
}

// bandwidthLines are the b= values for a video bit rate of bps: AS in kbit/s
// with about 5 % for IP/UDP/RTP headers (RFC 4566 §5.8), and TIAS.
func bandwidthLines(bps uint64) []string {
	as := (bps*105/100 + 999) / 1000
	return []string{"AS:" + strconv.FormatUint(as, 10), "TIAS:" + strconv.FormatUint(bps, 10)}
}

// VideoOfferLine builds our video m-line for an offer (dial-out, late
// offer, re-INVITE without SDP): H.264 in the conference format with
// packetization-mode 1 and, as a fallback, 0; the feedback the bridge does;
// and the b= values to put on the line.
func VideoOfferLine(f VideoFormat, port int, direction string) (MediaLine, []string, error) {
	vf, err := f.compile()
	if err != nil {
		return MediaLine{}, nil, err
	}
	l := MediaLine{Media: "video", Port: port, Proto: "RTP/AVP"}
	all := bridge.VideoFeedback{NACK: true, PLI: true, FIR: true, TMMBR: true, REMB: true}
	for mode := range 2 {
		pt := strconv.Itoa(vf.PayloadType + mode)
		fp := video.H264Fmtp{ProfileLevelID: vf.pli, PacketizationMode: 1 - mode}
		fp = answerFmtp(fp, vf) // the level's extras, as in an answer
		l.Formats = append(l.Formats, pt)
		l.Attributes = append(l.Attributes, "rtpmap:"+pt+" H264/90000", "fmtp:"+pt+" "+fp.Format())
		l.Attributes = append(l.Attributes, feedbackAttrs(pt, all)...)
	}
	l.Attributes = append(l.Attributes, "content:main", direction)
	l.Bandwidth = bandwidthLines(vf.Bitrate)
	return l, l.Bandwidth, nil
}

// ParseVideoAnswer reads the peer's answer to our VideoOfferLine: the
// stream it accepted (the first of our H.264 payload types it kept, with
// its fmtp, feedback and bandwidth). ok is false, with a reason, when it
// rejected video or answered something we did not offer.
func ParseVideoAnswer(sd *sdp.SessionDescription, md *sdp.MediaDescription, f VideoFormat) (p bridge.VideoParams, ok bool, reason string, err error) {
	vf, err := f.compile()
	if err != nil {
		return p, false, "", err
	}
	if md.MediaName.Port.Value == 0 {
		return p, false, "peer rejected video", nil
	}
	formats, ferr := mediaFormats(md)
	if ferr != nil {
		return p, false, fmt.Sprintf("malformed video answer: %v", ferr), nil
	}
	remote, aerr := remoteAddr(sd, md)
	if aerr != nil {
		return p, false, fmt.Sprintf("video address: %v", aerr), nil
	}
	var chosen *rtpFormat
	for i, fm := range formats {
		if (fm.PT == vf.PayloadType || fm.PT == vf.PayloadType+1) && strings.EqualFold(fm.Name, "H264") {
			chosen = &formats[i]
			break
		}
	}
	if chosen == nil {
		return p, false, "answer has none of our H.264 payload types", nil
	}
	fp, perr := video.ParseH264Fmtp(chosen.Fmtp)
	if perr != nil {
		return p, false, fmt.Sprintf("H.264 answer: %v", perr), nil
	}
	if fp.PacketizationMode > 1 || !profileCarries(fp.ProfileLevelID, vf.pli) {
		return p, false, fmt.Sprintf("answered profile-level-id %s packetization-mode %d cannot carry the conference format", fp.ProfileLevelID, fp.PacketizationMode), nil
	}
	p = bridge.VideoParams{
		PayloadType: uint8(chosen.PT),
		Fmtp:        fp,
		Remote:      remote,
		// The answer's direction is from its sender's side; ours mirrors it.
		Direction:  toBridgeDirection(mirrorName(mediaDirection(md, sd))),
		Feedback:   offeredFeedback(md, chosen.PT),
		MaxBitrate: offeredBitrate(md.Bandwidth),
	}
	if rtcpTo, has, rerr := rtcpAddr(md, remote.Addr()); rerr == nil && has {
		p.RemoteRTCP = rtcpTo
	}
	if _, mux := md.Attribute("rtcp-mux"); mux {
		p.RTCPMux = true
	}
	if isHoldAddress(remote.Addr()) {
		p.Direction = withoutSend(p.Direction)
	}
	return p, true, "", nil
}
