package sip

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/roomgate/roomgate/internal/callleg"
	"log/slog"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/bridge/dtmf"
	"github.com/roomgate/roomgate/conf"
)

// RFC 3261 timer values for the dialog's own 2xx retransmission (§13.3.1.4).
const (
	timerT1 = 500 * time.Millisecond
	timerT2 = 4 * time.Second
	// ackWait is 64*T1: how long a 2xx waits for its ACK.
	ackWait = 64 * timerT1
)

// callState is where a dialog is.
type callState uint8

const (
	stateEarly      callState = iota // INVITE received, no final answer
	stateWaitAck                     // 200 sent for the initial INVITE
	stateConfirmed                   // ACK received
	stateTerminated                  // BYE sent or received, or failed
)

// call is one SIP dialog with its media leg and conference participant. It
// is the conf.LegHandle of the participant.
type call struct {
	s      *Server
	log    *slog.Logger
	key    string
	legID  string
	confID string
	callID string

	ctx    context.Context
	cancel context.CancelCauseFunc

	// Fixed after the INVITE.
	localTag, remoteTag string
	localURI, remoteURI sipmsg.Uri // our To, their From (without tags)
	remoteName          string
	transport           string
	routeSet            []sipmsg.Uri
	contactHost         string
	peerAllowsUpdate    bool
	peerTimer           bool
	dtmf                dtmfState
	outbound            bool // we placed the call (dialout.go)
	// userID is the address-book user the call belongs to: the user whose
	// registered device we called, or a caller who passed digest
	// authentication; "" for a guest.
	userID string

	mu          sync.Mutex
	state       callState
	remoteCSeq  uint32
	localCSeq   uint32
	target      sipmsg.Uri // remote Contact
	dest        string     // where our requests go (the peer's source)
	leg         MediaLeg
	part        Participant        // dial-out: the joined participant
	dialin      callleg.DialInCall // dial-in: conf's side of the call (lobby, participant, commands)
	room        string             // the conference the media is in, once it is in one
	stream      bridge.StreamParams
	started     bool
	session     LocalSession
	lastLines   []MediaLine // our last SDP's m-lines, for refresh and version
	ackPending  *pendingAck // a 2xx of ours waiting for its ACK
	serverOffer bool        // an INVITE/UPDATE of the peer is being processed
	clientOffer bool        // our re-INVITE/UPDATE is outstanding
	timer       sessionTimer
	muted       bool // the moderator closed this caller's microphone
	// mediaRoom is the bridge room the call's media is in: the lobby's or
	// the conference's (room is set only for the latter).
	mediaRoom string
	// video is the call's video leg, nil without video (call_video.go);
	// videoParams is its negotiated stream once videoStarted.
	video        callleg.VideoLeg
	videoParams  bridge.VideoParams
	videoStarted bool
	cameraMuted  bool // conf keeps the caller's video off screen
}

// pendingAck is a 2xx to an INVITE that is retransmitted until its ACK.
type pendingAck struct {
	cseq     uint32
	tx       sipmsg.ServerTransaction
	res      *sipmsg.Response
	interval time.Duration
	retrans  Timer
	giveUp   Timer
	// lateOffer is our offer carried in the 2xx; the answer comes in ACK.
	lateOffer bool
	// cleared is closed when the wait ends (ACK, give-up or hang-up).
	cleared chan struct{}
}

// newCallID returns random hex for tags and leg IDs.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	const hex = "0123456789abcdef"
	out := make([]byte, 2*n)
	for i, v := range b {
		out[2*i], out[2*i+1] = hex[v>>4], hex[v&15]
	}
	return string(out)
}

func randomUint63() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 2
}

// handleInvite runs a new incoming call until its final response; caller
// is the address-book user digest authentication proved the caller to be,
// "" for a guest.
func (s *Server) handleInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction, caller string) {
	confID, dialPIN := dialInTarget(req.Recipient.User)
	callID := req.CallID().Value()
	log := s.log.With("call_id", callID, "conf", confID, "src", req.Source(), "transport", req.Transport())

	endCause := ErrCancelled // why an unanswered call ends
	reject := func(code int, reason string, err error, hdrs ...sipmsg.Header) {
		if err != nil {
			endCause = &StatusError{Status: code, Reason: reason, Err: err}
		}
		log.Info("call rejected", "status", code, "reason", reason, "err", err)
		s.m.calls.WithLabelValues("rejected").Inc()
		s.respond(tx, req, code, reason, nil, hdrs...)
	}

	// RFC 3261 §8.2.2.3: extensions we do not support.
	var unsupported []string
	for _, opt := range headerValues(req, "Require") {
		if !strings.EqualFold(opt, "timer") {
			unsupported = append(unsupported, opt)
		}
	}
	if len(unsupported) > 0 {
		reject(420, "Bad Extension", nil, sipmsg.NewHeader("Unsupported", strings.Join(unsupported, ", ")))
		return
	}
	if req.Contact() == nil {
		reject(400, "Bad Request - missing Contact", nil)
		return
	}
	body := req.Body()
	if len(body) > 0 && !isSDP(req) {
		reject(415, "Unsupported Media Type", nil, sipmsg.NewHeader("Accept", "application/sdp"))
		return
	}
	st, err := s.negotiateTimer(req)
	if err != nil {
		var se *StatusError
		if errors.As(err, &se) && se.Status == 422 {
			reject(422, "Session Interval Too Small", err, sipmsg.NewHeader("Min-SE", seconds(s.cfg.MinSE)))
			return
		}
		reject(400, "Bad Request - "+sanitizeReason(err.Error()), err)
		return
	}
	var neg *Negotiated
	if len(body) > 0 {
		log.Debug("sdp offer", "sdp", string(body))
		neg, err = s.negotiate(body, s.prefs, 0)
		if err != nil {
			code, reason, hdrs := sdpFailure(err, s.localHost(req.Source()))
			reject(code, reason, err, hdrs...)
			return
		}
	}

	c := s.newCall(req, confID, log)
	c.userID = caller
	c.timer = st
	defer func() {
		// The call was not answered: nothing of it may outlive the INVITE.
		c.mu.Lock()
		early := c.state == stateEarly
		c.mu.Unlock()
		if early {
			c.terminate(endCause, false)
		}
	}()
	if err := c.initDTMF(req); err != nil {
		reject(500, "Server Internal Error", err)
		return
	}

	cancelled := make(chan struct{})
	var cancelOnce sync.Once
	markCancelled := func() { cancelOnce.Do(func() { close(cancelled) }) }
	if stx, ok := tx.(*sipmsg.ServerTx); ok && !stx.OnCancel(func(*sipmsg.Request) { markCancelled() }) {
		markCancelled() // cancelled before we could listen
	}
	s.respond(tx, req, 100, "Trying", nil)

	if d := s.cfg.AnswerDelay; d > 0 {
		ring := c.response(req, 180, "Ringing", nil)
		s.send(tx, ring)
		wake := make(chan struct{})
		t := s.clock.AfterFunc(d, func() { close(wake) })
		select {
		case <-wake:
		case <-cancelled:
			t.Stop()
			c.log.Info("call cancelled while ringing")
			s.m.calls.WithLabelValues("cancelled").Inc()
			c.terminate(ErrCancelled, false)
			return
		case <-tx.Done():
			t.Stop()
			c.terminate(ErrCancelled, false)
			return
		case <-s.ctx.Done():
			t.Stop()
			reject(503, "Service Unavailable", ErrShutdown)
			return
		}
	}

	// Admission first: a caller refused by conf costs no RTP ports.
	dialin, err := s.admit.Admit(c.ctx, conf.DialIn{
		ConferenceID: confID,
		PIN:          dialPIN,
		DisplayName:  c.remoteName,
		Protocol:     conf.ProtocolSIP,
		Remote:       req.Source(),
		SourceIP:     sourceIP(req.Source()),
		Leg:          c,
	})
	if err != nil {
		code, reason := joinFailure(err)
		reject(code, reason, err)
		return
	}
	room := dialin.Room()
	c.mu.Lock()
	c.dialin = dialin
	c.mediaRoom = room
	if dialin.ParticipantID() != "" {
		c.room = room
	}
	gone := c.state == stateTerminated
	c.mu.Unlock()
	if gone {
		// Hung up (by conf itself) before Admit returned: terminate ran
		// without conf's call, so it ends here.
		cause := context.Cause(c.ctx)
		dialin.End(cause)
		reject(480, "Temporarily Unavailable", cause)
		return
	}
	// The bridge adds "conf" and "leg" to the logger itself.
	leg, err := s.media.NewLeg(bridge.LegOptions{ID: c.legID, Room: room,
		Logger: s.log.With("call_id", c.callID), OnEvent: c.onMediaEvent})
	if err != nil {
		reject(503, "Service Unavailable", fmt.Errorf("creating media leg: %w", err))
		return
	}
	c.mu.Lock()
	c.leg = leg
	gone = c.state == stateTerminated
	if c.muted {
		setLegMuted(leg, true) // muted by a moderator while the leg was being made
	}
	c.mu.Unlock()
	if gone {
		// Hung up while the leg was being made: terminate missed it.
		cause := context.Cause(c.ctx)
		leg.Close(cause)
		reject(480, "Temporarily Unavailable", cause)
		return
	}
	select {
	case <-cancelled:
		c.log.Info("call cancelled before the answer")
		s.m.calls.WithLabelValues("cancelled").Inc()
		return
	default:
	}

	var answer []byte
	if neg != nil {
		neg.Lines[neg.AudioIndex].Port = leg.LocalPort()
		if err := leg.Start(neg.Audio); err != nil {
			reject(500, "Server Internal Error", fmt.Errorf("starting media: %w", err))
			return
		}
		c.mu.Lock()
		c.stream, c.started = neg.Audio, true
		c.mu.Unlock()
		lines := c.answerVideo(body, neg.Lines)
		c.mu.Lock()
		answer = c.sdpLocked(lines)
		c.mu.Unlock()
		c.log.Info("media negotiated", "codec", neg.Audio.Codec.Name, "pt", neg.Audio.PayloadType,
			"remote", neg.Audio.Remote.String(), "direction", bridgeDirectionName(neg.Audio.Direction))
	} else {
		lines := []MediaLine{s.offerLine(s.prefs, leg.LocalPort(), dirSendRecv)}
		if vl, ok := c.videoOffer(); ok {
			lines = append(lines, vl)
		}
		c.mu.Lock()
		answer = c.sdpLocked(lines)
		c.mu.Unlock()
	}

	log.Debug("sdp answer", "sdp", string(answer))
	res := c.response(req, 200, "OK", answer)
	c.addTimerHeaders(res)
	c.mu.Lock()
	if c.state == stateTerminated {
		// conf hung the caller up while we were setting up (kicked,
		// conference deleted): never answer.
		c.mu.Unlock()
		reject(480, "Temporarily Unavailable", context.Cause(c.ctx))
		return
	}
	c.state = stateWaitAck
	c.remoteCSeq = req.CSeq().SeqNo
	c.mu.Unlock()
	s.register(c)
	c.armAck(req.CSeq().SeqNo, tx, res, neg == nil)
	c.startTimer()
	s.m.active.Inc()
	s.send(tx, res)
	select {
	case <-cancelled:
		// The CANCEL won the race: the caller got 487, not our 200.
		c.log.Info("call cancelled as it was answered")
		s.m.calls.WithLabelValues("cancelled").Inc()
		c.terminate(ErrCancelled, false)
		return
	default:
	}
	s.m.calls.WithLabelValues("answered").Inc()
	c.log.Info("call answered", "from", c.remoteURI.String(), "name", c.remoteName, "late_offer", neg == nil,
		"lobby", dialin.ParticipantID() == "")
	s.track(func() { c.watchLeg(leg) })
	s.track(func() { c.runDialIn(dialin) })
}

// runDialIn runs conf's side of an answered call (lobby dialogue or
// greetings) once the caller has acknowledged the answer, so that the first
// prompt is not played into a media path the caller has not opened yet.
func (c *call) runDialIn(d callleg.DialInCall) {
	c.mu.Lock()
	var acked <-chan struct{}
	if p := c.ackPending; p != nil {
		acked = p.cleared
	}
	c.mu.Unlock()
	if acked != nil {
		select {
		case <-acked:
		case <-c.ctx.Done():
			return
		}
	}
	d.Run(c.ctx)
}

// newCall makes the dialog state of an incoming INVITE.
func (s *Server) newCall(req *sipmsg.Request, confID string, log *slog.Logger) *call {
	legID := "sip-" + randomToken(8)
	c := &call{
		s:         s,
		legID:     legID,
		confID:    confID,
		callID:    req.CallID().Value(),
		localTag:  randomToken(8),
		transport: req.Transport(),
		dest:      req.Source(),
		target:    req.Contact().Address,
		session:   LocalSession{Username: "roomgate", SessionID: randomUint63(), Version: randomUint63() >> 32},
	}
	c.log = log.With("leg", legID)
	c.key = dialogKey(c.callID, c.localTag)
	c.remoteTag, _ = req.From().Params.Get("tag")
	c.remoteURI = req.From().Address
	c.remoteName = req.From().DisplayName
	if c.remoteName == "" {
		c.remoteName = req.From().Address.User
	}
	c.localURI = req.To().Address
	c.contactHost = s.localHost(req.Source())
	c.peerAllowsUpdate = allows(req, "UPDATE")
	c.peerTimer = supports(req, "timer")
	// RFC 3261 §12.1.1: the UAS keeps the Record-Route URIs in order.
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sipmsg.RecordRouteHeader); ok {
			c.routeSet = append(c.routeSet, rr.Address)
		}
	}
	c.ctx, c.cancel = context.WithCancelCause(s.ctx)
	return c
}

// response builds a response of the dialog with our tag and Contact.
func (c *call) response(req *sipmsg.Request, code int, reason string, body []byte) *sipmsg.Response {
	res := sipmsg.NewResponseFromRequest(req, code, reason, body)
	if to := res.To(); to != nil {
		to.Params.Add("tag", c.localTag)
	}
	if code > 100 && code < 300 {
		res.AppendHeader(c.contact())
		for _, h := range capabilityHeaders() {
			res.AppendHeader(h)
		}
	}
	if len(body) > 0 {
		res.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	}
	return res
}

// contact is our Contact header: PublicAddress and the listening port.
func (c *call) contact() *sipmsg.ContactHeader {
	user := c.confID
	if !isToken(strings.ToUpper(user)) {
		user = "roomgate" // never echo odd bytes of a Request-URI into our Contact
	}
	u := sipmsg.Uri{Scheme: "sip", User: user, Host: bracketHost(c.contactHost), Port: int(c.s.addr.Port())}
	if strings.EqualFold(c.transport, "TCP") {
		u.UriParams = sipmsg.NewParams()
		u.UriParams.Add("transport", "tcp")
	}
	return &sipmsg.ContactHeader{Address: u}
}

// sdpLocked renders our SDP with lines, bumping the o= version when the
// content changed (RFC 3264 §8). c.mu must be held.
func (c *call) sdpLocked(lines []MediaLine) []byte {
	c.session.Addr = c.contactHost
	if c.lastLines != nil && !sameLines(c.lastLines, lines) {
		c.session.Version++
	}
	c.lastLines = lines
	return BuildSDP(c.session, lines)
}

func sameLines(a, b []MediaLine) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Media != b[i].Media || a[i].Port != b[i].Port || a[i].Proto != b[i].Proto ||
			strings.Join(a[i].Formats, " ") != strings.Join(b[i].Formats, " ") ||
			strings.Join(a[i].Attributes, "\n") != strings.Join(b[i].Attributes, "\n") ||
			strings.Join(a[i].Bandwidth, "\n") != strings.Join(b[i].Bandwidth, "\n") {
			return false
		}
	}
	return true
}

// armAck starts retransmitting res (UDP) and the 64*T1 wait for its ACK.
func (c *call) armAck(cseq uint32, tx sipmsg.ServerTransaction, res *sipmsg.Response, lateOffer bool) {
	p := &pendingAck{cseq: cseq, tx: tx, res: res, interval: timerT1, lateOffer: lateOffer, cleared: make(chan struct{})}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ackPending = p
	if !sipmsg.IsReliable(c.transport) {
		c.scheduleRetransmitLocked(p)
	}
	p.giveUp = c.s.clock.AfterFunc(ackWait, func() {
		c.mu.Lock()
		missing := c.ackPending == p
		c.mu.Unlock()
		if missing {
			c.log.Warn("no ACK for 200 OK, hanging up")
			c.terminate(ErrNoAck, true)
		}
	})
}

func (c *call) scheduleRetransmitLocked(p *pendingAck) {
	p.retrans = c.s.clock.AfterFunc(p.interval, func() {
		c.mu.Lock()
		if c.ackPending != p || c.state == stateTerminated {
			c.mu.Unlock()
			return
		}
		p.interval = min(2*p.interval, timerT2)
		c.scheduleRetransmitLocked(p)
		c.mu.Unlock()
		if err := p.tx.Respond(p.res); err != nil {
			c.log.Debug("retransmitting 200 OK", "err", err)
		}
	})
}

// clearAckLocked stops the 2xx retransmission; c.mu must be held.
func (c *call) clearAckLocked() *pendingAck {
	p := c.ackPending
	if p == nil {
		return nil
	}
	c.ackPending = nil
	close(p.cleared)
	if p.retrans != nil {
		p.retrans.Stop()
	}
	if p.giveUp != nil {
		p.giveUp.Stop()
	}
	return p
}

// handleAck confirms a 2xx; for a late offer the ACK carries the answer.
func (c *call) handleAck(req *sipmsg.Request) {
	c.mu.Lock()
	p := c.ackPending
	if p == nil || req.CSeq().SeqNo != p.cseq {
		c.mu.Unlock()
		return // retransmitted ACK, or for a 2xx we no longer wait on
	}
	c.clearAckLocked()
	if c.state == stateWaitAck {
		c.state = stateConfirmed
	}
	c.serverOffer = false
	leg, started := c.leg, c.started
	c.mu.Unlock()

	if !p.lateOffer {
		return
	}
	if len(req.Body()) == 0 || !isSDP(req) {
		c.log.Info("ACK carries no SDP answer to our offer")
		c.terminate(ErrAckWithoutAnswer, true)
		return
	}
	st, err := c.s.parseAnswer(req.Body(), c.s.prefs)
	if err != nil {
		c.log.Info("unusable SDP answer in ACK", "err", err)
		c.terminate(fmt.Errorf("%w: %w", ErrAckWithoutAnswer, err), true)
		return
	}
	if started {
		err = leg.Update(st)
	} else {
		err = leg.Start(st)
	}
	if err != nil {
		c.log.Warn("applying SDP answer from ACK", "err", err)
		c.terminate(fmt.Errorf("applying answer from ACK: %w", err), true)
		return
	}
	c.mu.Lock()
	c.stream, c.started = st, true
	c.mu.Unlock()
	c.log.Info("media negotiated", "codec", st.Codec.Name, "pt", st.PayloadType, "remote", st.Remote.String(),
		"direction", bridgeDirectionName(st.Direction))
	c.applyVideoAnswer(req.Body())
}

// onMediaEvent receives the leg's events; it must not block.
func (c *call) onMediaEvent(ev bridge.Event) {
	switch ev.Kind {
	case bridge.EventMediaTimeout:
		c.s.track(func() {
			c.log.Info("media timeout, hanging up")
			c.terminate(bridge.ErrMediaTimeout, true)
		})
	case bridge.EventDTMF:
		// Stamped on our clock, like INFO digits, so that the two methods
		// compare on one time base.
		c.pushDigit(ev.Digit, digitSource(ev.Source), c.s.clock.Now())
	}
}

// digitSource maps the bridge's source of a digit to the dtmf package's.
func digitSource(s uint8) dtmf.Source {
	if s == bridge.SourceInband {
		return dtmf.SourceInband
	}
	return dtmf.SourceRFC4733
}

// watchLeg hangs up when the media leg ends by itself.
func (c *call) watchLeg(leg MediaLeg) {
	select {
	case <-leg.Done():
		cause := leg.Cause()
		if cause == nil {
			cause = bridge.ErrClosed
		}
		c.terminate(cause, true)
	case <-c.ctx.Done():
	}
}

// UserID is the address-book user of the call, "" for a guest; it makes a
// call a conf.AuthenticatedLeg, so conf applies that user's rights.
func (c *call) UserID() string { return c.userID }

// Hangup ends the call with BYE; conf calls it (kick, conference deleted).
func (c *call) Hangup(cause error) {
	if cause == nil {
		cause = conf.ErrConferenceDeleted
	}
	if !c.s.track(func() { c.terminate(cause, true) }) {
		c.terminate(cause, false)
	}
}

// SetMuted closes or opens the caller's microphone in the mix; conf calls it
// when a moderator mutes the participant (it makes call a conf.MutableLeg).
// A mute that arrives before the media leg exists is applied when it does.
func (c *call) SetMuted(muted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.muted = muted
	if c.leg != nil {
		setLegMuted(c.leg, muted)
	}
}

// setLegMuted mutes a media leg that supports it (*bridge.Leg does; test
// fakes may not).
func setLegMuted(leg MediaLeg, muted bool) {
	if m, ok := leg.(interface{ SetMuted(bool) }); ok {
		m.SetMuted(muted)
	}
}

// Stats returns the media leg's counters.
func (c *call) Stats() bridge.LegStats {
	c.mu.Lock()
	leg := c.leg
	c.mu.Unlock()
	if leg == nil {
		return bridge.LegStats{}
	}
	return leg.Stats()
}

// terminate ends the call once: it leaves the conference, closes the media
// leg and, when bye is set and the dialog exists, sends BYE with a Reason.
func (c *call) terminate(cause error, bye bool) {
	c.mu.Lock()
	if c.state == stateTerminated {
		c.mu.Unlock()
		return
	}
	prev := c.state
	c.state = stateTerminated
	c.clearAckLocked()
	c.timer.stopLocked()
	leg, part, dialin, video := c.leg, c.part, c.dialin, c.video
	c.mu.Unlock()

	c.cancel(cause)
	c.s.unregister(c)
	if part != nil {
		c.s.confs.Leave(part, cause)
	}
	if dialin != nil {
		dialin.End(cause)
	}
	if leg != nil {
		leg.Close(cause)
	}
	if video != nil {
		video.Close(cause)
	}
	if prev != stateEarly {
		c.s.m.active.Dec()
		if bye {
			c.sendBye(cause)
		}
		c.log.Info("call ended", "cause", cause.Error())
	}
}

// sendBye ends the dialog from our side.
func (c *call) sendBye(cause error) {
	req := c.newRequest(sipmsg.BYE)
	req.AppendHeader(sipmsg.NewHeader("Reason", reasonHeader(cause)))
	ctx, cancel := context.WithTimeout(c.s.byeCtx, ackWait)
	defer cancel()
	res, err := c.do(ctx, req)
	if err != nil {
		c.log.Info("BYE got no answer", "err", err)
		return
	}
	c.log.Debug("BYE answered", "status", res.StatusCode)
}

// reasonHeader is the RFC 3326 Reason of a BYE we send.
func reasonHeader(cause error) string {
	switch {
	case errors.Is(cause, bridge.ErrMediaTimeout):
		return `Q.850;cause=102;text="media timeout"`
	case errors.Is(cause, ErrSessionExpired):
		return `SIP;cause=408;text="session timer expired"`
	case errors.Is(cause, ErrNoAck):
		return `SIP;cause=408;text="no ACK"`
	case errors.Is(cause, ErrAckWithoutAnswer):
		return `SIP;cause=488;text="no SDP answer in ACK"`
	case errors.Is(cause, ErrRefreshFailed):
		return `SIP;cause=408;text="session refresh failed"`
	case errors.Is(cause, conf.ErrConferenceDeleted):
		return `Q.850;cause=16;text="conference deleted"`
	case errors.Is(cause, ErrShutdown):
		return `Q.850;cause=16;text="server shutting down"`
	default:
		return `Q.850;cause=16;text="` + sanitizeQuoted(cause.Error()) + `"`
	}
}

// joinFailure maps conf errors to SIP answers.
func joinFailure(err error) (int, string) {
	switch {
	case errors.Is(err, conf.ErrNotFound):
		return 404, "Not Found"
	case errors.Is(err, conf.ErrFull):
		return 486, "Busy Here"
	case errors.Is(err, conf.ErrLocked), errors.Is(err, conf.ErrUnauthorized):
		return 403, "Forbidden"
	case errors.Is(err, context.Canceled):
		return 487, "Request Terminated"
	default:
		return 500, "Server Internal Error"
	}
}

// sdpFailure maps an SDP error to status, reason phrase and headers.
func sdpFailure(err error, host string) (int, string, []sipmsg.Header) {
	var se *SDPError
	if !errors.As(err, &se) {
		return 500, "Server Internal Error", nil
	}
	if se.Status == 488 {
		w := se.Warning
		if w == 0 {
			w = warnIncompatibleFormat
		}
		return 488, "Not Acceptable Here", []sipmsg.Header{
			sipmsg.NewHeader("Warning", fmt.Sprintf("%d %s \"%s\"", w, host, warningText(w))),
		}
	}
	return 400, "Bad Request - SDP " + sanitizeReason(se.Text), nil
}

// isSDP reports whether the message body is SDP.
func isSDP(m interface {
	ContentType() *sipmsg.ContentTypeHeader
}) bool {
	ct := m.ContentType()
	if ct == nil {
		return true // RFC 3261 §20.15 wants it, but many UAs omit it for SDP
	}
	v, _, _ := strings.Cut(ct.Value(), ";")
	return strings.EqualFold(strings.TrimSpace(v), "application/sdp")
}

// sanitizeReason makes text safe for a reason phrase: printable ASCII only,
// bounded length.
func sanitizeReason(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 120 {
			break
		}
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte(' ')
		}
	}
	return strings.TrimSpace(b.String())
}

func sanitizeQuoted(s string) string {
	return strings.NewReplacer(`"`, "'", `\`, "/").Replace(sanitizeReason(s))
}

// prefsFor orders our codecs with the current one first, so that a
// re-INVITE keeps the codec unless the offer drops it.
func prefsFor(prefs []codec.Info, current string) []codec.Info {
	if current == "" {
		return prefs
	}
	out := make([]codec.Info, 0, len(prefs))
	for _, p := range prefs {
		if p.Name == current {
			out = append(out, p)
		}
	}
	for _, p := range prefs {
		if p.Name != current {
			out = append(out, p)
		}
	}
	return out
}
