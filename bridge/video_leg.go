package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomgate/roomgate/bridge/video"
)

// Video legs. A VideoLeg is one participant's H.264 stream: its own RTP/RTCP
// port pair, separate from the audio leg's, registered with the video.Router
// of its room both as a source (what the peer's camera sends) and as a
// receiver (the switched picture the peer sees). The router does the
// switching; the leg does the sockets, symmetric RTP and RTCP feedback:
//
//   - RTP in: validated, latched (the same symmetric RTP rule as audio legs),
//     then handed to Router.Forward, which rewrites and sends the packet to
//     every receiver through their Sink, i.e. straight out of the receiver
//     leg's RTP socket. Nothing is allocated per packet.
//   - RTCP in (on the RTCP port or multiplexed on the RTP port): PLI and FIR
//     become Router.RequestFromReceiver (rate-limited per source by the
//     router), NACK is answered from the receiver's retransmission cache,
//     REMB and TMMBR set the receiver's bandwidth limit.
//   - Keyframe requests from the router go to the source's peer as RTCP PLI
//     and/or FIR, whichever it negotiated, and to OnKeyframeRequest so that
//     signalling can also send SIP INFO picture_fast_update (RFC 5168).
//   - Once a second the room asks each source that negotiated goog-remb or
//     ccm tmmbr for the lowest limit of the receivers that see it, and each
//     leg sends an RTCP receiver report with SDES CNAME every 2.5–7.5 s.
//     No sender reports: the switched stream's timestamps belong to whichever
//     source is on screen, so there is no clock of ours to map them to.
//
// A leg whose direction does not let us receive is a disabled source (camera
// off); one that does not let us send stays a receiver whose packets are
// dropped at the socket, so its rewritten stream keeps its SSRC and
// numbering across a hold, and a keyframe is asked for when it resumes.

// VideoFeedback is the RTCP feedback (RFC 4585 a=rtcp-fb) negotiated with the
// peer for its video payload type.
type VideoFeedback struct {
	// NACK: "nack", generic NACK (RFC 4585 §6.2.1).
	NACK bool
	// PLI: "nack pli" (RFC 4585 §6.3.1).
	PLI bool
	// FIR: "ccm fir" (RFC 5104 §4.3.1).
	FIR bool
	// REMB: "goog-remb" (draft-alvestrand-rmcat-remb).
	REMB bool
	// TMMBR: "ccm tmmbr" (RFC 5104 §4.2.1).
	TMMBR bool
}

// VideoParams is the negotiated video stream of a leg.
type VideoParams struct {
	// PayloadType is the H.264 payload type both sides use.
	PayloadType uint8
	// Fmtp holds the peer's H.264 format parameters; its
	// sprop-parameter-sets, if any, seed the source's SPS/PPS cache.
	Fmtp video.H264Fmtp
	// Remote is where RTP goes until packets arrive from elsewhere
	// (symmetric RTP); RemoteRTCP defaults to Remote's port + 1.
	Remote, RemoteRTCP netip.AddrPort
	// RTCPMux: RTCP shares the RTP port (RFC 5761).
	RTCPMux bool
	// Direction of the stream, from our side.
	Direction Direction
	// Feedback is the RTCP feedback the peer negotiated.
	Feedback VideoFeedback
	// MaxBitrate is what the peer can receive in bit/s (b=TIAS, or b=AS
	// times 1000), 0 for no limit; it caps what its source is asked for.
	MaxBitrate uint64
}

// VideoLegOptions identifies a new video leg.
type VideoLegOptions struct {
	// ID names the leg; use the ID of the call's audio leg, so that the
	// mixer's loudest talker names the video source to switch to.
	ID string
	// Room is the conference; the same name as the audio leg's room.
	Room string
	// Logger, when set, is used instead of the bridge's.
	Logger *slog.Logger
	// OnKeyframeRequest, when set, is called each time the room needs a
	// keyframe from this leg's peer. rtcpSent says whether an RTCP PLI or
	// FIR went out (the peer negotiated one); signalling should send SIP
	// INFO picture_fast_update at least when it did not. It runs on a
	// goroutine of its own, one call at a time; requests that arrive while
	// one is being delivered are merged into the next call.
	OnKeyframeRequest func(rtcpSent bool)
}

// VideoLegStats is a snapshot of a video leg's state and counters.
type VideoLegStats struct {
	// Codec is "H264" once started.
	Codec string
	// Width and Height of the peer's picture, from its latest SPS (0 until
	// one was seen).
	Width, Height int
	// ProfileLevelID is the peer's negotiated profile-level-id.
	ProfileLevelID string
	LocalPort      int
	Remote         netip.AddrPort
	// PacketsIn and BytesIn count the peer's accepted RTP packets.
	PacketsIn, BytesIn uint64
	// PacketsOut and BytesOut count the switched stream sent to the peer.
	PacketsOut, BytesOut uint64
	// FramesIn counts the peer's complete frames (marker bits), FramesOut
	// those forwarded to it; KeyframesIn its IDR pictures.
	FramesIn, FramesOut, KeyframesIn uint64
	// KeyframeRequestsSent: requests made to this peer (RTCP and/or the
	// OnKeyframeRequest callback). KeyframeRequestsReceived: PLI, FIR and
	// picture_fast_update received from it.
	KeyframeRequestsSent, KeyframeRequestsReceived uint64
	// NacksReceived and Retransmits: the peer's NACKs and the packets
	// re-sent for them.
	NacksReceived, Retransmits uint64
	// OnScreen: some other leg currently sees this leg's video.
	OnScreen bool
	// Watching is the leg whose video this leg sees ("" for none yet).
	Watching string
	// Active: the peer's camera is on (enabled and sending).
	Active bool
	// Lost is the number of the peer's packets lost on the way in and
	// JitterMs their interarrival jitter (RFC 3550 A.3, A.8).
	Lost     uint64
	JitterMs float64
	// Dropped packets by reason.
	DroppedWrongSource, DroppedUnknownPT, DroppedMalformed, DroppedNotReceiving uint64
	// SendErrors counts RTP and RTCP sends that failed.
	SendErrors uint64
}

// VideoLeg is one participant's video stream in a room's video router.
type VideoLeg struct {
	b       *Bridge
	id      string
	log     *slog.Logger
	onKF    func(bool)
	ports   portPair
	rtpOut  *udpSender // used only under the router's lock (videoSink)
	rtcpOut *udpSender // guarded by mu
	ssrc    uint32
	sink    *videoSink
	epoch   time.Time // origin of arrival times for jitter

	ctx     context.Context
	cancel  context.CancelCauseFunc
	readers sync.WaitGroup
	// moveMu serialises Start and SetRoom, the two ways into a room.
	moveMu sync.Mutex
	closed chan struct{}
	kfCh   chan bool // pending OnKeyframeRequest; true when RTCP was sent

	mu sync.Mutex // guards the fields below
	// roomName is the room the leg is in, or will start in (SetRoom
	// changes it).
	roomName string
	// camMuted keeps the peer's video off screen whatever its direction
	// (SetCameraMuted).
	camMuted bool
	started  bool
	closing  bool
	params   VideoParams
	room     *videoRoom
	latched  bool
	latchTo  netip.AddrPort
	latchSrc uint32
	rtcpFrom netip.AddrPort
	kf       video.KeyframeFeedback
	limitIn  uint64 // latest REMB/TMMBR from the peer
	// sentLimit and sentLimitAt: the last bandwidth limit asked of the
	// peer's encoder, so that the room repeats it only now and then.
	sentLimit   uint64
	sentLimitAt time.Time
	// rx: receive statistics of the peer's stream, for our reports and
	// Stats; reportAt: when our next receiver report is due.
	rx       rxStats
	reportAt time.Time
	rtcpBuf  [128]byte

	// dest is where the switched stream goes; sending is false while the
	// direction lets us only receive. Both are read by the sink without
	// the leg's lock.
	dest    atomic.Pointer[netip.AddrPort]
	sending atomic.Bool

	width, height                                atomic.Int64
	packetsIn, bytesIn, packetsOut, bytesOut     atomic.Uint64
	kfSent, kfReceived, nacksIn, sendErrors      atomic.Uint64
	dropWrong, dropPT, dropMalformed, dropNotRcv atomic.Uint64

	rbuf [maxDatagram + 1]byte // the RTP reader's buffer
	cbuf [maxDatagram + 1]byte // the RTCP reader's buffer
}

// videoSink is a receiver's video.Sink: it sends the rewritten packet out of
// the leg's RTP socket, without blocking (sendto with MSG_DONTWAIT on
// Linux), allocating nothing.
type videoSink struct{ l *VideoLeg }

// errNoVideoDest means the switched stream has nowhere to go yet.
var errNoVideoDest = errors.New("bridge: no video destination")

// WriteRTP implements video.Sink. The router calls it with its lock held,
// which serialises every use of the leg's rtpOut.
func (s *videoSink) WriteRTP(pkt []byte) error {
	l := s.l
	if !l.sending.Load() {
		return nil // held: the peer does not want our video now
	}
	dst := l.dest.Load()
	if dst == nil {
		return errNoVideoDest
	}
	if err := l.rtpOut.send(pkt, *dst); err != nil {
		l.sendErrors.Add(1)
		return err
	}
	l.packetsOut.Add(1)
	l.bytesOut.Add(uint64(len(pkt)))
	return nil
}

// NewVideoLeg allocates an RTP/RTCP port pair for a video stream and starts
// reading it. The leg joins its room's video router on Start; packets that
// arrive before are dropped.
func (b *Bridge) NewVideoLeg(opts VideoLegOptions) (*VideoLeg, error) {
	if opts.ID == "" || opts.Room == "" {
		return nil, fmt.Errorf("creating video leg %q in room %q: %w: empty ID or room name", opts.ID, opts.Room, ErrBadParams)
	}
	pp, err := b.ports.allocate()
	if err != nil {
		return nil, fmt.Errorf("creating video leg %q: %w", opts.ID, err)
	}
	log := opts.Logger
	if log == nil {
		log = b.log
	}
	log = log.With("conf", opts.Room, "leg", opts.ID, "media", "video")
	l := &VideoLeg{
		b:        b,
		id:       opts.ID,
		roomName: opts.Room,
		log:      log,
		onKF:     opts.OnKeyframeRequest,
		ports:    pp,
		ssrc:     nonZeroRand(),
		epoch:    b.clk.Now(),
		closed:   make(chan struct{}),
	}
	l.sink = &videoSink{l: l}
	l.kf.SenderSSRC = l.ssrc
	if l.rtpOut, err = newUDPSender(pp.rtp); err == nil {
		l.rtcpOut, err = newUDPSender(pp.rtcp)
	}
	if err != nil {
		pp.close()
		b.ports.release(pp.port)
		return nil, fmt.Errorf("creating video leg %q: %w", opts.ID, err)
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		pp.close()
		b.ports.release(pp.port)
		return nil, fmt.Errorf("creating video leg %q: %w", opts.ID, ErrClosed)
	}
	l.ctx, l.cancel = context.WithCancelCause(b.ctx)
	if l.onKF != nil {
		l.kfCh = make(chan bool, 1)
		b.wg.Go(l.deliverKeyframeRequests)
	}
	b.wg.Go(l.run)
	b.mu.Unlock()

	l.readers.Add(2)
	go l.readRTP()
	go l.readRTCP()
	log.Debug("video leg created", "rtp_port", pp.port)
	return l, nil
}

// ID returns the leg's ID.
func (l *VideoLeg) ID() string { return l.id }

// LocalPort is the leg's RTP port; its RTCP port is LocalPort()+1.
func (l *VideoLeg) LocalPort() int { return l.ports.port }

// validVideoParams checks p.
func validVideoParams(p VideoParams) error {
	if p.PayloadType > 127 || (p.PayloadType >= 64 && p.PayloadType < 96) {
		// 64–95 collide with RTCP packet types under rtcp-mux (RFC 5761 §4).
		return fmt.Errorf("%w: video payload type %d", ErrBadParams, p.PayloadType)
	}
	if p.Direction > Inactive {
		return fmt.Errorf("%w: direction %d", ErrBadParams, p.Direction)
	}
	if p.Fmtp.PacketizationMode > 1 {
		return fmt.Errorf("%w: H.264 packetization-mode %d", ErrBadParams, p.Fmtp.PacketizationMode)
	}
	return nil
}

// Start applies the first negotiated video stream and joins the room's
// video router, creating it for the room's first video leg. The leg then
// sees the room's picture and asks its source for a keyframe.
func (l *VideoLeg) Start(p VideoParams) error {
	if err := validVideoParams(p); err != nil {
		return fmt.Errorf("starting video leg %q: %w", l.id, err)
	}
	l.moveMu.Lock()
	defer l.moveMu.Unlock()
	l.mu.Lock()
	if l.closing || l.ctx.Err() != nil {
		l.mu.Unlock()
		return fmt.Errorf("starting video leg %q: %w", l.id, ErrClosed)
	}
	if l.started {
		l.mu.Unlock()
		return fmt.Errorf("starting video leg %q: %w", l.id, ErrAlreadyStarted)
	}
	l.started = true
	l.apply(p)
	name := l.roomName
	l.mu.Unlock()

	if err := l.enter(name, p); err != nil {
		return fmt.Errorf("starting video leg %q: %w", l.id, err)
	}
	l.log.Info("video leg started", "pt", p.PayloadType, "profile_level_id", p.Fmtp.ProfileLevelID.String(),
		"packetization_mode", p.Fmtp.PacketizationMode, "remote", p.Remote, "direction", p.Direction)
	return nil
}

// Update applies renegotiated video (re-INVITE, UPDATE): a hold or resume, a
// new address (re-latched), new feedback or bandwidth. The switched stream
// we send keeps its SSRC and numbering; a resumed peer is sent a keyframe
// as soon as its source provides one.
func (l *VideoLeg) Update(p VideoParams) error {
	if err := validVideoParams(p); err != nil {
		return fmt.Errorf("updating video leg %q: %w", l.id, err)
	}
	l.mu.Lock()
	if l.closing || l.ctx.Err() != nil {
		l.mu.Unlock()
		return fmt.Errorf("updating video leg %q: %w", l.id, ErrClosed)
	}
	if !l.started || l.room == nil {
		l.mu.Unlock()
		return fmt.Errorf("updating video leg %q: %w", l.id, ErrNotStarted)
	}
	old := l.params
	l.apply(p)
	vr := l.room
	limit := l.receiverLimit()
	camMuted := l.camMuted
	l.mu.Unlock()

	rt := vr.rt
	if old.PayloadType != p.PayloadType {
		// The receiver's stream is rebuilt for the new payload type.
		_ = rt.RemoveReceiver(l.id)
		if err := rt.AddReceiver(l.id, l.receiverConfig(p)); err != nil {
			return fmt.Errorf("updating video leg %q: %w", l.id, err)
		}
	}
	if err := rt.SetSourceEnabled(l.id, receives(p.Direction) && !camMuted); err != nil {
		return fmt.Errorf("updating video leg %q: %w", l.id, err)
	}
	if err := rt.SetReceiverBandwidth(l.id, limit); err != nil {
		return fmt.Errorf("updating video leg %q: %w", l.id, err)
	}
	if sends(p.Direction) && !sends(old.Direction) {
		if _, err := rt.RequestFromReceiver(l.id); err != nil {
			return fmt.Errorf("updating video leg %q: %w", l.id, err)
		}
	}
	l.log.Info("video leg updated", "pt", p.PayloadType, "remote", p.Remote, "direction", p.Direction)
	return nil
}

// receives reports whether we accept the peer's video in direction d.
func receives(d Direction) bool { return d == SendRecv || d == RecvOnly }

// sends reports whether we send video to the peer in direction d.
func sends(d Direction) bool { return d == SendRecv || d == SendOnly }

// apply installs p; l.mu must be held.
func (l *VideoLeg) apply(p VideoParams) {
	l.params = p
	l.latched = false // symmetric RTP: latch again after a renegotiation
	l.rtcpFrom = netip.AddrPort{}
	if r := p.Remote; r.Addr().IsValid() && !r.Addr().IsUnspecified() && r.Port() != 0 {
		d := netip.AddrPortFrom(r.Addr().Unmap(), r.Port())
		l.dest.Store(&d)
	} else {
		l.dest.Store(nil)
	}
	l.sending.Store(sends(p.Direction))
}

// receiverLimit is the bit rate limit of what the peer can receive: the
// lower of its SDP bandwidth and its latest REMB/TMMBR. l.mu must be held.
func (l *VideoLeg) receiverLimit() uint64 {
	a, b := l.params.MaxBitrate, l.limitIn
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// receiverConfig describes the stream we send the peer: our SSRC and a
// random start (RFC 3550 §5.1).
func (l *VideoLeg) receiverConfig(p VideoParams) video.ReceiverConfig {
	return video.ReceiverConfig{
		SSRC:             l.ssrc,
		PayloadType:      p.PayloadType,
		InitialSequence:  uint16(rand.Uint32()),
		InitialTimestamp: rand.Uint32(),
		Sink:             l.sink,
	}
}

// HandleFastUpdate takes a keyframe request the peer made by signalling
// (SIP INFO picture_fast_update, H.245 videoFastUpdatePicture) and passes it
// to the source the peer sees, rate-limited like RTCP PLI/FIR.
func (l *VideoLeg) HandleFastUpdate() {
	l.kfReceived.Add(1)
	l.mu.Lock()
	vr := l.room
	l.mu.Unlock()
	if vr != nil {
		_, _ = vr.rt.RequestFromReceiver(l.id)
	}
}

// requestKeyframe asks the peer for a keyframe: RTCP PLI and/or FIR as
// negotiated, and the OnKeyframeRequest callback. It never blocks.
func (l *VideoLeg) requestKeyframe() {
	l.kfSent.Add(1)
	l.mu.Lock()
	fb := l.params.Feedback
	rtcpSent := false
	if (fb.PLI || fb.FIR) && l.latched {
		l.kf.MediaSSRC = l.latchSrc
		pkt, err := l.kf.Marshal(fb.PLI, fb.FIR)
		dst := l.rtcpDest()
		switch {
		case err != nil:
			l.log.Warn("building keyframe request", "err", err)
		case dst.IsValid():
			if err := l.rtcpOut.send(pkt, dst); err != nil {
				l.sendErrors.Add(1)
				l.log.Debug("sending keyframe request", "to", dst, "err", err)
			} else {
				rtcpSent = true
			}
		}
	}
	l.mu.Unlock()
	l.log.Debug("keyframe requested", "rtcp", rtcpSent)
	if l.kfCh == nil {
		return
	}
	select {
	case l.kfCh <- rtcpSent:
	default: // one is pending already: it stands for this one too
	}
}

// deliverKeyframeRequests runs OnKeyframeRequest until the leg ends.
func (l *VideoLeg) deliverKeyframeRequests() {
	for {
		select {
		case sent := <-l.kfCh:
			l.onKF(sent)
		case <-l.ctx.Done():
			return
		}
	}
}

// rtpDest is where RTP goes; l.mu must be held.
func (l *VideoLeg) rtpDest() netip.AddrPort {
	if d := l.dest.Load(); d != nil {
		return *d
	}
	return netip.AddrPort{}
}

// rtcpDest is where RTCP goes: where the peer's RTCP comes from, else the
// signalled RTCP address, else the RTP destination (rtcp-mux) or its port
// + 1 (RFC 3550 §11). l.mu must be held.
func (l *VideoLeg) rtcpDest() netip.AddrPort {
	if l.rtcpFrom.IsValid() {
		return l.rtcpFrom
	}
	if r := l.params.RemoteRTCP; r.Addr().IsValid() && !r.Addr().IsUnspecified() && r.Port() != 0 {
		return netip.AddrPortFrom(r.Addr().Unmap(), r.Port())
	}
	d := l.rtpDest()
	if l.params.RTCPMux || !d.IsValid() {
		return d
	}
	if d.Port() < 65535 {
		return netip.AddrPortFrom(d.Addr(), d.Port()+1)
	}
	return netip.AddrPort{}
}

// readRTP reads the leg's RTP socket until it is closed.
func (l *VideoLeg) readRTP() {
	defer l.readers.Done()
	for {
		n, from, err := l.ports.rtp.ReadFromUDPAddrPort(l.rbuf[:])
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Debug("reading video RTP", "err", err)
			continue
		}
		l.handleRTP(l.rbuf[:n], from)
	}
}

// readRTCP reads the leg's RTCP socket until it is closed.
func (l *VideoLeg) readRTCP() {
	defer l.readers.Done()
	for {
		n, from, err := l.ports.rtcp.ReadFromUDPAddrPort(l.cbuf[:])
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Debug("reading video RTCP", "err", err)
			continue
		}
		l.handleRTCP(l.cbuf[:n], from)
	}
}

// handleRTP processes one datagram from the RTP port: RTCP multiplexed on it
// goes to handleRTCP; RTP of the negotiated payload type from the latched
// peer goes to the router. It allocates nothing in steady state.
func (l *VideoLeg) handleRTP(pkt []byte, from netip.AddrPort) {
	if len(pkt) > maxDatagram {
		l.dropMalformed.Add(1)
		return
	}
	if isRTCP(pkt) {
		l.handleRTCP(pkt, from)
		return
	}
	h, err := video.ParseRTPHeader(pkt)
	if err != nil {
		l.dropMalformed.Add(1)
		return
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())

	l.mu.Lock()
	vr := l.room
	switch {
	case vr == nil:
		l.mu.Unlock()
		l.dropPT.Add(1)
		return
	case h.PayloadType != l.params.PayloadType:
		l.mu.Unlock()
		l.dropPT.Add(1)
		return
	case !receives(l.params.Direction):
		l.mu.Unlock()
		l.dropNotRcv.Add(1)
		return
	case l.latched && from != l.latchTo && h.SSRC == l.latchSrc:
		l.mu.Unlock()
		l.dropWrong.Add(1)
		return
	}
	if !l.latched || h.SSRC != l.latchSrc {
		// A new SSRC is a new stream (the peer restarted or moved).
		l.latched, l.latchTo, l.latchSrc = true, from, h.SSRC
		l.rx = rxStats{}
		d := from
		l.dest.Store(&d) // allocates once per latch, not per packet
	}
	// Arrival time in the 90 kHz video clock (RFC 3550 A.8).
	l.rx.update(h.SequenceNumber, h.Timestamp, uint32(l.b.clk.Now().Sub(l.epoch).Microseconds()*9/100))
	l.mu.Unlock()
	l.forward(vr, pkt, &h)
}

// forward notes the picture size of an SPS in pkt and hands pkt to the
// room's router. It allocates nothing.
func (l *VideoLeg) forward(vr *videoRoom, pkt []byte, h *video.RTPHeader) {
	payload := pkt[h.PayloadOffset:h.PayloadEnd]
	if len(payload) > 0 && (payload[0]&0x1f == byte(video.NALSPS) || payload[0]&0x1f == byte(video.NALSTAPA)) {
		if sps, ok := video.FindSPS(payload); ok {
			if info, err := video.ParseSPS(sps); err == nil {
				l.width.Store(int64(info.Width))
				l.height.Store(int64(info.Height))
			}
		}
	}
	if err := vr.rt.Forward(l.id, pkt); err != nil {
		l.dropMalformed.Add(1)
		return
	}
	l.packetsIn.Add(1)
	l.bytesIn.Add(uint64(len(pkt)))
}

// Stats returns a snapshot of the leg's state and counters.
func (l *VideoLeg) Stats() VideoLegStats {
	l.mu.Lock()
	s := VideoLegStats{
		LocalPort: l.ports.port,
		Remote:    l.rtpDest(),
	}
	if l.started {
		s.Codec = "H264"
		s.ProfileLevelID = l.params.Fmtp.ProfileLevelID.String()
	}
	s.Lost, s.JitterMs = l.rx.lost(), l.rx.jitter/90
	vr := l.room
	l.mu.Unlock()
	s.Width, s.Height = int(l.width.Load()), int(l.height.Load())
	s.PacketsIn, s.BytesIn = l.packetsIn.Load(), l.bytesIn.Load()
	s.PacketsOut, s.BytesOut = l.packetsOut.Load(), l.bytesOut.Load()
	s.KeyframeRequestsSent, s.KeyframeRequestsReceived = l.kfSent.Load(), l.kfReceived.Load()
	s.NacksReceived = l.nacksIn.Load()
	s.DroppedWrongSource, s.DroppedUnknownPT = l.dropWrong.Load(), l.dropPT.Load()
	s.DroppedMalformed, s.DroppedNotReceiving = l.dropMalformed.Load(), l.dropNotRcv.Load()
	s.SendErrors = l.sendErrors.Load()
	if vr == nil {
		return s
	}
	snap := vr.rt.Snapshot()
	for _, src := range snap.Sources {
		if src.ID == l.id {
			s.FramesIn, s.KeyframesIn, s.Active = src.FramesIn, src.KeyframesIn, src.Active
		}
	}
	for _, r := range snap.Receivers {
		if r.ID == l.id {
			s.FramesOut, s.Retransmits, s.Watching = r.FramesOut, r.Retransmits, r.Source
		} else if r.Source == l.id {
			s.OnScreen = true
		}
	}
	return s
}

// Close ends the leg: it leaves the video router (its receivers switch to
// another source), stops its goroutines and releases its ports. cause
// (ErrLegClosed when nil) becomes Cause(). Close is idempotent and returns
// only once the leg is fully closed.
func (l *VideoLeg) Close(cause error) {
	if cause == nil {
		cause = ErrLegClosed
	}
	l.cancel(cause)
	<-l.closed
}

// Done is closed when the leg ends (Close or the bridge closed).
func (l *VideoLeg) Done() <-chan struct{} { return l.ctx.Done() }

// Cause says why the leg ended, or nil while it runs.
func (l *VideoLeg) Cause() error { return context.Cause(l.ctx) }

// run waits for the leg's end (Close, or the bridge's Close cancelling its
// context) and tears it down: out of the router first, so that no packet is
// sent on a closed socket, then the sockets, the readers and the ports.
func (l *VideoLeg) run() {
	<-l.ctx.Done()
	l.mu.Lock()
	l.closing = true
	vr := l.room
	l.room = nil
	l.mu.Unlock()
	if vr != nil {
		vr.removeLeg(l)
		vr.leave(l)
	}
	l.mu.Lock()
	name := l.roomName
	l.mu.Unlock()
	l.b.videoRooms().dropPin(name, l.id)
	l.ports.close()
	l.readers.Wait()
	l.b.ports.release(l.ports.port)
	l.log.Info("video leg closed", "cause", context.Cause(l.ctx))
	close(l.closed)
}
