package call

import (
	"context"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/video"
	"github.com/roomgate/roomgate/h323/h245"
)

// videoSession is the main video (H.245 session 2) of one call: two
// unidirectional logical channels, the peer's into our video leg and ours
// out of it, on one bridge video leg. Fields other than the counters and
// leg (written under the call's mediaMu) belong to the call loop.
type videoSession struct {
	leg videoLeg // nil: the call is audio only

	peer    h245.PeerVideo // from the peer's latest TerminalCapabilitySet
	peerTCS bool           // peer is known (a non-empty TCS, no pause since)

	ourOLC      int // our transmit channel, 0 when none
	ourAcked    bool
	ourRejected bool // the peer refused it: we do not insist
	ourPT       int
	ourCap      h245.H264 // what our OLC announced
	remote      netip.AddrPort
	remoteRTCP  netip.AddrPort

	peerOLC  int // the peer's transmit channel into our leg, 0 when none
	peerPT   int
	peerCap  h245.H264
	peerPack h245.Packetization

	started   bool
	fastStart bool // the video channels came up by Fast Connect
	reopens   int  // times we reopened our channel to follow the peer's payload type
	// flowLimit is the peer's flowControlCommand restriction on what we send, bit/s (0: none).
	flowLimit uint64

	// kfReq carries the leg's keyframe requests to the loop; limiter and
	// kfTimer space the videoFastUpdatePicture commands they become.
	kfReq   chan struct{}
	limiter fastUpdateLimiter
	kfTimer *time.Timer

	// Counters for logs and tests.
	fastUpdatesIn, fastUpdatesOut, flowCommands atomic.Uint64
}

// videoLeg is what a call needs of its bridge video leg; callleg.VideoLeg
// and *bridge.VideoLeg are ones.
type videoLeg interface {
	LocalPort() int
	Start(p bridge.VideoParams) error
	Update(p bridge.VideoParams) error
	SetRoom(room string) error
	HandleFastUpdate()
	SetCameraMuted(muted bool)
	Stats() bridge.VideoLegStats
	Close(cause error)
}

// kfTimerC is the pending fast update's timer channel, nil when none.
func (v *videoSession) kfTimerC() <-chan time.Time {
	if v.kfTimer == nil {
		return nil
	}
	return v.kfTimer.C
}

// maxVideoReopens bounds how often we reopen our video channel with the
// peer's payload type in one call.
const maxVideoReopens = 2

// nextChannel returns a new logical channel number for a channel we open;
// channel 1 is the audio channel (Fast Connect uses it without counting).
func (c *call) nextChannel() int {
	c.h245.lastOLC = max(c.h245.lastOLC, ourChannel) + 1
	return c.h245.lastOLC
}

func (c *call) videoRTP() netip.AddrPort {
	return netip.AddrPortFrom(c.localIP, uint16(c.video.leg.LocalPort()))
}

func (c *call) videoRTCP() netip.AddrPort {
	return netip.AddrPortFrom(c.localIP, uint16(c.video.leg.LocalPort()+1))
}

// videoCapability is the H.264 entry of our TCS, nil for an audio-only call.
func (c *call) videoCapability() *h245.H264 {
	if c.video.leg == nil {
		return nil
	}
	h := c.env.video.capability()
	return &h
}

// onPeerVideoCaps takes the video part of the peer's TerminalCapabilitySet.
func (c *call) onPeerVideoCaps(m *h245.Message, empty bool) {
	v := &c.video
	if empty {
		// A pause (third-party re-routing): our transmit channel closes until a new set comes.
		v.peerTCS = false
		c.closeOurVideo()
		return
	}
	v.peer, v.peerTCS = h245.TCSVideo(m), true
}

// maybeOpenVideo opens our video channel once capabilities are exchanged
// and master/slave is determined, when the peer receives H.264 Baseline and
// Fast Connect did not open it already (a callee that answered Fast
// Connect for audio only gets its video this way).
func (c *call) maybeOpenVideo() {
	v := &c.video
	if v.leg == nil || c.released || !v.peerTCS || c.h245.msd != msdDone || v.ourOLC != 0 || v.ourRejected {
		return
	}
	theirs, ok := v.peer.Best(h245.H241ProfileBaseline)
	if !ok {
		if len(v.peer.H264) > 0 {
			c.log.Info("peer receives no H.264 Baseline; no video sent", "peer_h264", len(v.peer.H264))
		}
		return
	}
	ours := c.env.video.capability()
	ours.Level = min(ours.Level, theirs.Level)
	if theirs.MaxBitRate > 0 {
		ours.MaxBitRate = min(ours.MaxBitRate, theirs.MaxBitRate)
	}
	// Custom parameters may only raise the level we now announce; keep those the peer has too.
	ours.MaxFS, ours.MaxMBPS, ours.MaxBR = min(ours.MaxFS, theirs.MaxFS), min(ours.MaxMBPS, theirs.MaxMBPS), min(ours.MaxBR, theirs.MaxBR)
	pt := v.peerPT
	if pt == 0 {
		pt = defaultVideoPT
	}
	if len(v.peer.Packetizations) > 0 && !v.peer.Supports(h245.PacketizationNonInterleaved) {
		// The router forwards what sources send (FU-A, STAP-A); it cannot repacketize.
		c.log.Warn("peer lists no non-interleaved H.264 packetization; sending it anyway")
	}
	v.ourOLC, v.ourAcked, v.ourPT, v.ourCap = c.nextChannel(), false, pt, ours
	c.reply(h245.OLC(h245.Channel{Number: v.ourOLC, SessionID: 2, Video: &ours, MediaControl: c.videoRTCP(),
		PayloadType: pt, Packetization: h245.PacketizationNonInterleaved}))
}

// onVideoOLC answers the peer's OpenLogicalChannel for main video.
func (c *call) onVideoOLC(m *h245.Message) {
	v := &c.video
	o := m.OLC
	switch {
	case v.leg == nil || o.Video == nil || o.Reverse:
		// H.261/H.263, H.239 content (extendedVideoCapability) and bidirectional video are
		// not forwarded by the bridge.
		c.reply(h245.OLCReject(m.Channel, "dataTypeNotSupported"))
		return
	case o.Video.Profile&h245.H241ProfileBaseline == 0 || o.Packetization == h245.PacketizationInterleaved:
		// Our capability set offers Baseline only: the other legs of the room decode what
		// the bridge forwards, and it does not transcode. Interleaved mode it cannot forward.
		c.reply(h245.OLCReject(m.Channel, "dataTypeNotSupported"))
		return
	}
	pt := o.PayloadType
	if pt < 96 || pt > 127 {
		c.log.Info("peer's H.264 channel names no dynamic payload type; assuming ours", "pt", pt)
		pt = defaultVideoPT
	}
	if v.peerOLC != 0 && v.peerOLC != m.Channel {
		c.log.Info("peer replaces its video channel", "old", v.peerOLC, "new", m.Channel)
	}
	v.peerOLC, v.peerPT, v.peerCap, v.peerPack = m.Channel, pt, *o.Video, o.Packetization
	c.reply(h245.OLCAck(m.Channel, o.SessionID, c.videoRTP(), c.videoRTCP()))
	c.env.m.videoChannels.WithLabelValues("receive").Inc()
	if v.ourOLC != 0 && v.ourPT != pt && v.reopens < maxVideoReopens {
		// One video leg, one payload type: reopen ours with the peer's. Bounded, so that
		// a peer doing the same to us cannot make both sides reopen for ever.
		v.reopens++
		c.closeOurVideo()
	}
	if limit := c.env.video.MaxBitrateKbps * 10; o.Video.MaxBitRate > limit {
		// The peer may send more than the conference format: hold it to the format.
		c.video.flowCommands.Add(1)
		c.env.m.flowControl.WithLabelValues("sent").Inc()
		c.reply(h245.FlowControl(m.Channel, limit))
	}
	c.applyVideo()
	c.maybeOpenVideo()
}

// onVideoOLCAck takes the peer's acknowledgement of our video channel; the
// sessionID may differ from ours (Tandberg), only the addresses matter.
func (c *call) onVideoOLCAck(m *h245.Message) {
	v := &c.video
	if !m.Media.IsValid() {
		c.log.Warn("video OpenLogicalChannelAck without a media address; closing the channel", "channel", m.Channel)
		c.closeOurVideo()
		v.ourRejected = true
		return
	}
	if !v.ourAcked {
		c.env.m.videoChannels.WithLabelValues("send").Inc()
	}
	v.ourAcked, v.remote, v.remoteRTCP = true, m.Media, m.MediaControl
	c.applyVideo()
}

// closeOurVideo closes our video channel (CLC), if one is open or opening.
func (c *call) closeOurVideo() {
	v := &c.video
	if v.ourOLC == 0 {
		return
	}
	if !c.peerGone {
		c.reply(h245.CLC(v.ourOLC))
	}
	v.ourOLC, v.ourAcked = 0, false
	v.remote, v.remoteRTCP = netip.AddrPort{}, netip.AddrPort{}
	c.applyVideo()
}

// applyVideo starts or updates the video leg from the channels open now.
func (c *call) applyVideo() {
	v := &c.video
	if v.leg == nil || c.released {
		return
	}
	recv, send := v.peerOLC != 0, v.ourOLC != 0 && v.ourAcked
	if !v.started && !recv && !send {
		return
	}
	p := bridge.VideoParams{Remote: v.remote, RemoteRTCP: v.remoteRTCP, MaxBitrate: c.videoLimit()}
	switch {
	case recv && send:
		p.Direction = bridge.SendRecv
	case recv:
		p.Direction = bridge.RecvOnly
	case send:
		p.Direction = bridge.SendOnly
	default:
		p.Direction = bridge.Inactive
	}
	hc := v.ourCap
	p.PayloadType = uint8(v.ourPT)
	if recv {
		// When both are open the payload types agree (onVideoOLC reopens ours).
		hc, p.PayloadType = v.peerCap, uint8(v.peerPT)
		p.Fmtp.PacketizationMode = v.peerPack.Mode()
	} else {
		p.Fmtp.PacketizationMode = 1
	}
	p.Fmtp.ProfileLevelID = profileLevelID(hc)
	var err error
	if v.started {
		err = v.leg.Update(p)
	} else {
		err = v.leg.Start(p)
	}
	if err != nil {
		// Video is best effort: the call goes on with audio.
		c.log.Warn("applying video channels", "err", err, "recv", recv, "send", send)
		return
	}
	if !v.started {
		c.log.Info("h323 video open", "recv_channel", v.peerOLC, "send_channel", v.ourOLC, "pt", p.PayloadType,
			"remote", v.remote.String(), "profile_level_id", p.Fmtp.ProfileLevelID.String())
	}
	v.started = true
}

// profileLevelID maps an H.241 capability to RFC 6184's profile-level-id.
func profileLevelID(h h245.H264) video.ProfileLevelID {
	p := video.ProfileLevelID{ProfileIDC: h245.ProfileIDC(h.Profile)}
	idc, ok := h245.LevelIDC(h.Level)
	if !ok {
		idc = 10
	}
	if idc == 9 { // level 1b: level_idc 11 with constraint_set3 (Baseline)
		idc, p.ProfileIOP = 11, 0x10
	}
	p.LevelIDC = idc
	return p
}

// videoLimit is what the peer can receive, in bit/s: the lowest of its
// capability's maxBitRate, the conference format and its flowControlCommand.
func (c *call) videoLimit() uint64 {
	v := &c.video
	limit := uint64(c.env.video.MaxBitrateKbps) * 1000
	if v.ourCap.MaxBitRate > 0 {
		limit = min(limit, uint64(v.ourCap.MaxBitRate)*100)
	}
	if v.flowLimit > 0 {
		limit = min(limit, v.flowLimit)
	}
	return limit
}

// onFlowControl honours the peer's flowControlCommand (H.245 clause
// 8.12, maximumBitRate in units of 100 bit/s) on what we send: the video
// leg's bandwidth limit. A restriction on the whole multiplex leaves audio
// its 64 kbit/s; noRestriction lifts it.
func (c *call) onFlowControl(m *h245.Message) {
	v := &c.video
	switch {
	case m.Scope == "logicalChannelNumber" && (m.Channel == 0 || m.Channel != v.ourOLC):
		return // our audio, or a channel that is not ours
	case m.Scope != "logicalChannelNumber" && m.Scope != "wholeMultiplex":
		return
	}
	var limit uint64
	if m.MaxBitRate >= 0 {
		limit = uint64(m.MaxBitRate) * 100
		if m.Scope == "wholeMultiplex" {
			limit = max(limit, 128000) - 64000
		}
		limit = max(limit, 1) // a zero restriction stops what it can
	}
	v.flowLimit = limit
	c.env.m.flowControl.WithLabelValues("received").Inc()
	c.log.Info("peer limits our video", "max_bps", limit, "scope", m.Scope)
	if v.started {
		c.applyVideo()
	}
}

// onFastUpdateCommand passes the peer's videoFastUpdatePicture on to the
// source it sees. H.264 has no GOBs or macroblock rows to refresh alone, so
// the GOB and MB variants ask for a whole picture too, and so does
// lostPicture: the bridge forwards, it cannot resend one picture.
func (c *call) onFastUpdateCommand(m *h245.Message) {
	v := &c.video
	switch m.Command {
	case "videoFastUpdatePicture", "videoFastUpdateGOB", "videoFastUpdateMB", "lostPicture":
	default:
		return
	}
	if v.leg == nil || m.Channel == 0 || (m.Channel != v.ourOLC && m.Channel != v.peerOLC) {
		return
	}
	v.fastUpdatesIn.Add(1)
	c.env.m.fastUpdates.WithLabelValues("received").Inc()
	v.leg.HandleFastUpdate()
}

// onKeyframeNeeded sends videoFastUpdatePicture on the peer's video channel
// (H.245 clause 8.12), no more often than fastUpdateInterval.
func (c *call) onKeyframeNeeded() {
	v := &c.video
	if v.peerOLC == 0 || c.released {
		return
	}
	send, wait := v.limiter.request(time.Now())
	switch {
	case send:
		c.sendFastUpdate()
	case wait > 0 && v.kfTimer == nil:
		v.kfTimer = time.NewTimer(wait)
	}
}

// onKeyframeTimer sends the fast update merged while the limiter held it.
func (c *call) onKeyframeTimer() {
	v := &c.video
	v.kfTimer = nil
	if v.limiter.due(time.Now()) && v.peerOLC != 0 && !c.released {
		c.sendFastUpdate()
	}
}

func (c *call) sendFastUpdate() {
	v := &c.video
	pdu, err := h245.VideoFastUpdatePicture(v.peerOLC)
	if err != nil {
		c.log.Error("building videoFastUpdatePicture", "err", err)
		return
	}
	v.fastUpdatesOut.Add(1)
	c.env.m.fastUpdates.WithLabelValues("sent").Inc()
	c.sendH245(pdu)
}

// onVideoClose handles the peer's CloseLogicalChannel of its video channel.
func (c *call) onVideoClose(n int) bool {
	v := &c.video
	if n == 0 || n != v.peerOLC {
		return false
	}
	v.peerOLC = 0
	c.applyVideo()
	return true
}

// onVideoCloseRequest handles the peer's RequestChannelClose of our video
// channel: we agree and close it.
func (c *call) onVideoCloseRequest(n int) bool {
	v := &c.video
	if n == 0 || n != v.ourOLC {
		return false
	}
	c.reply(h245.RequestChannelCloseAck(n))
	c.closeOurVideo()
	v.ourRejected = true // the peer does not want our video; a new TCS may change that
	return true
}

// stopVideo closes our video channel as the call ends; the leg itself
// closes in teardown.
func (c *call) stopVideo() {
	if c.video.kfTimer != nil {
		c.video.kfTimer.Stop()
		c.video.kfTimer = nil
	}
	if c.video.ourOLC != 0 && c.h245Ready && !c.peerGone {
		if pdu, err := h245.CLC(c.video.ourOLC); err == nil {
			c.sendH245(pdu)
		}
	}
	c.video.ourOLC = 0
}

// VideoStats is a snapshot of a call's video for logs, tests and the API.
type VideoStats struct {
	// SendChannel and RecvChannel are the open logical channels (0: none).
	SendChannel, RecvChannel int
	// FastUpdatesIn and FastUpdatesOut count videoFastUpdatePicture received and sent;
	// FlowControlsSent the flowControlCommands that held the peer to the format.
	FastUpdatesIn, FastUpdatesOut, FlowControlsSent uint64
	// LimitBps is the bit rate the peer is sent at most (0 before video opens).
	LimitBps uint64
	// Leg is the bridge video leg's snapshot.
	Leg bridge.VideoLegStats
}

// videoStats runs on the loop.
func (c *call) videoStats() VideoStats {
	v := &c.video
	s := VideoStats{SendChannel: v.ourOLC, RecvChannel: v.peerOLC, FastUpdatesIn: v.fastUpdatesIn.Load(),
		FastUpdatesOut: v.fastUpdatesOut.Load(), FlowControlsSent: v.flowCommands.Load()}
	if v.started {
		s.LimitBps = c.videoLimit()
	}
	if v.leg != nil {
		s.Leg = v.leg.Stats()
	}
	return s
}

// VideoStats returns the call's video state; zero when it has ended.
func (k *Call) VideoStats() VideoStats {
	var s VideoStats
	if err := k.c.doWait(context.Background(), func() { s = k.c.videoStats() }); err != nil {
		return VideoStats{}
	}
	return s
}

// fastStartVideoSend is the number of our H.264 send proposal in a Setup's
// fastStart (audio send proposals are 101..); the receive proposal uses the
// next free channel.
const fastStartVideoSend = 201

// fastStartVideoProposals returns our H.264 proposals for Fast Connect
// (H.323 clause 8.1.7.1): one to receive at our video leg and one to send,
// in the conference format, after the audio ones. None without a video leg.
func (c *call) fastStartVideoProposals() ([][]byte, error) {
	if c.video.leg == nil {
		return nil, nil
	}
	ours := c.env.video.capability()
	recv, err := h245.FastStartOLC(h245.Channel{Number: ourChannel + 1, SessionID: 2, Video: &ours, Reverse: true,
		Media: c.videoRTP(), MediaControl: c.videoRTCP(), PayloadType: defaultVideoPT, Packetization: h245.PacketizationNonInterleaved})
	if err != nil {
		return nil, err
	}
	send, err := h245.FastStartOLC(h245.Channel{Number: fastStartVideoSend, SessionID: 2, Video: &ours,
		MediaControl: c.videoRTCP(), PayloadType: defaultVideoPT, Packetization: h245.PacketizationNonInterleaved})
	if err != nil {
		return nil, err
	}
	return [][]byte{recv, send}, nil
}

// usableVideo reports whether a proposed or answered video channel is H.264
// the bridge can forward and our capability set offers.
func usableVideo(o *h245.OLCInfo) bool {
	return o.DataType == "videoData" && o.Video != nil && o.Video.Profile&h245.H241ProfileBaseline != 0 &&
		o.Packetization != h245.PacketizationInterleaved
}

// videoPT is a channel's dynamic payload type, ours when it names none.
func videoPT(o *h245.OLCInfo) int {
	if o.PayloadType >= 96 && o.PayloadType <= 127 {
		return o.PayloadType
	}
	return defaultVideoPT
}

// answerFastStartVideo picks the caller's H.264 proposals, when it made any
// we can use, and returns our answer elements; the channels are open from
// then on (no OLCAck in Fast Connect).
func (c *call) answerFastStartVideo(proposals [][]byte) [][]byte {
	v := &c.video
	if v.leg == nil {
		return nil
	}
	var recv, send *h245.OLCInfo
	for _, p := range proposals {
		o, err := h245.ParseOLC(p)
		if err != nil || !usableVideo(o) {
			continue
		}
		switch {
		case o.Reverse && o.Media.IsValid() && recv == nil:
			recv = o
		case !o.Reverse && o.Number > 0 && send == nil:
			send = o
		}
	}
	var answer [][]byte
	if recv != nil {
		// The caller receives: our send channel, narrowed to what it proposed.
		ours := c.env.video.capability()
		ours.Level = min(ours.Level, recv.Video.Level)
		if recv.Video.MaxBitRate > 0 {
			ours.MaxBitRate = min(ours.MaxBitRate, recv.Video.MaxBitRate)
		}
		ours.MaxFS, ours.MaxMBPS, ours.MaxBR = 0, 0, 0
		n := c.nextChannel()
		b, err := h245.FastStartAnswer(h245.Channel{Number: n, SessionID: 2, Video: &ours, Reverse: true,
			MediaControl: c.videoRTCP(), PayloadType: videoPT(recv), Packetization: h245.PacketizationNonInterleaved})
		if err != nil {
			c.log.Error("building fastStart video answer", "err", err)
			return nil
		}
		answer = append(answer, b)
		v.ourOLC, v.ourAcked, v.ourPT, v.ourCap = n, true, videoPT(recv), ours
		v.remote, v.remoteRTCP = recv.Media, recv.MediaControl
	}
	if send != nil {
		b, err := h245.FastStartAnswer(h245.Channel{Number: send.Number, SessionID: 2, Video: send.Video,
			Media: c.videoRTP(), MediaControl: c.videoRTCP(), PayloadType: videoPT(send), Packetization: send.Packetization})
		if err != nil {
			c.log.Error("building fastStart video answer", "err", err)
			return answer
		}
		answer = append(answer, b)
		v.peerOLC, v.peerPT, v.peerCap, v.peerPack = send.Number, videoPT(send), *send.Video, send.Packetization
	}
	if len(answer) > 0 {
		v.fastStart = true
		c.countFastStartVideo()
		c.applyVideo()
	}
	return answer
}

// acceptFastStartVideo applies the video elements of the callee's Fast
// Connect answer: a forward element names where our video goes, a reverse
// one the channel it sends us.
func (c *call) acceptFastStartVideo(items [][]byte) {
	v := &c.video
	if v.leg == nil {
		return
	}
	for _, b := range items {
		o, err := h245.ParseOLC(b)
		if err != nil || !usableVideo(o) {
			continue
		}
		switch {
		case !o.Reverse && o.Number == fastStartVideoSend && o.Media.IsValid() && v.ourOLC == 0:
			v.ourOLC, v.ourAcked, v.ourPT, v.ourCap = o.Number, true, videoPT(o), *o.Video
			v.remote, v.remoteRTCP = o.Media, o.MediaControl
		case o.Reverse && o.Number > 0 && v.peerOLC == 0:
			v.peerOLC, v.peerPT, v.peerCap, v.peerPack = o.Number, videoPT(o), *o.Video, o.Packetization
		}
	}
	if v.ourOLC != 0 || v.peerOLC != 0 {
		v.fastStart = true
		c.countFastStartVideo()
		c.applyVideo()
	}
}

func (c *call) countFastStartVideo() {
	if c.video.ourOLC != 0 {
		c.env.m.videoChannels.WithLabelValues("send").Inc()
	}
	if c.video.peerOLC != 0 {
		c.env.m.videoChannels.WithLabelValues("receive").Inc()
	}
}
