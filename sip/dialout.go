package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/dtmf"
	"github.com/roomgate/roomgate/conf"
)

// Dial-out: the server calls a sip: target with its own offer and, once it
// answers, joins it to the conference through the same Conferences
// interface as a dial-in call. The answered dialog is an ordinary *call:
// BYE both ways, re-INVITE, UPDATE, INFO and hang-up by conf all go through
// call.go and indialog.go, which do not care who sent the INVITE.
//
// Decisions:
//   - The media leg is made before the INVITE, since its port goes into our
//     offer; a failed call closes it.
//   - 18x with SDP starts the leg (early media: ring-back, announcements);
//     the 2xx answer then updates it.
//   - One redirect (3xx, first Contact) and one digest challenge (401/407,
//     RFC 2617 via github.com/icholy/digest, credentials of the trunk whose
//     host matches) are followed; a second of either fails the call.
//   - No final answer within Config.RingTimeout: CANCEL, ErrNoAnswer.
//   - Post-dial digits go by INFO after the answer (Server.SendDTMF). So
//     that the peer accepts them, an offer for a target with post-dial
//     digits leaves telephone-event out (we do not send RFC 4733 events).
//   - tel: numbers go to the first configured trunk as sip:number@trunk;user=phone.
//   - sips: and TLS/WS transports are refused (no TLS transport yet).
//   - Session timers are not negotiated on outgoing calls yet; the peer
//     may still refresh, which the in-dialog code answers.

// DefaultRingTimeout is how long an outgoing call rings by default.
const DefaultRingTimeout = 60 * time.Second

// Dial-out errors; every failed Dial wraps one of them (and a *StatusError
// when the peer answered with a final failure).
var (
	// ErrBusy: the target answered 486 or 600.
	ErrBusy = errors.New("sip: target busy")
	// ErrDeclined: the target answered 603 or 403.
	ErrDeclined = errors.New("sip: call declined")
	// ErrUnknownTarget: the target answered 404, 604 or 484.
	ErrUnknownTarget = errors.New("sip: target not found")
	// ErrNoAnswer: nobody answered within the ring timeout (or the peer
	// said 408/480).
	ErrNoAnswer = errors.New("sip: no answer")
	// ErrAuthFailed: a digest challenge we had no credentials for, or a
	// second challenge after ours.
	ErrAuthFailed = errors.New("sip: authentication failed")
	// ErrCallFailed: any other final failure.
	ErrCallFailed = errors.New("sip: call failed")
)

// Trunk holds the digest credentials for one host we call.
type Trunk struct {
	// Name is for logs.
	Name string
	// Host is matched, case-insensitively, against the host we call; the
	// first trunk also carries tel: calls.
	Host string
	// Port is where tel: calls go (0: 5060).
	Port     int
	Username string
	Password string
}

func checkTrunks(ts []Trunk) error {
	for i, t := range ts {
		if t.Host == "" || t.Username == "" {
			return fmt.Errorf("%w: trunk %d (%s): host and username are required", ErrConfig, i, t.Name)
		}
	}
	return nil
}

// Dialer returns the conf.Dialer that calls sip: targets from this server;
// register it with conf.Service.RegisterDialer.
func (s *Server) Dialer() conf.Dialer { return sipDialer{s: s} }

type sipDialer struct{ s *Server }

// Schemes implements conf.Dialer.
// tel: is served only when a trunk is configured to carry it.
func (d sipDialer) Schemes() []string {
	if len(d.s.cfg.Trunks) > 0 {
		return []string{conf.SchemeSIP, conf.SchemeSIPS, conf.SchemeTel}
	}
	return []string{conf.SchemeSIP, conf.SchemeSIPS}
}

// Dial implements conf.Dialer.
func (d sipDialer) Dial(ctx context.Context, req conf.DialRequest) (conf.DialResult, error) {
	res, err := d.s.dialOut(ctx, req)
	if err != nil {
		return conf.DialResult{}, fmt.Errorf("calling %s: %w", req.Target.Display, err)
	}
	return res, nil
}

// Dialled makes an outgoing call a conf.DialledLeg: conf admits it to an
// internal conference, since a moderator asked for it.
func (c *call) Dialled() bool { return c.outbound }

// dialOut places one call and joins it once answered.
func (s *Server) dialOut(ctx context.Context, req conf.DialRequest) (conf.DialResult, error) {
	t := req.Target
	s.mu.Lock()
	running := s.started && !s.closed
	s.mu.Unlock()
	if !running {
		return conf.DialResult{}, ErrClosed
	}
	if t.Scheme == conf.SchemeTel {
		// A number goes to the first trunk as sip:number@trunk (RFC 3261 §19.1.6).
		if len(s.cfg.Trunks) == 0 {
			return conf.DialResult{}, fmt.Errorf("%s: no trunk is configured: %w", t.Display, ErrConfig)
		}
		tr := s.cfg.Trunks[0]
		t.Scheme, t.Host, t.Port = conf.SchemeSIP, tr.Host, tr.Port
		t.Params = append([]conf.Param{{Name: "user", Value: "phone"}}, t.Params...)
	}
	if t.Scheme != conf.SchemeSIP || t.Transport == "tls" || t.Transport == "ws" || t.Transport == "wss" {
		return conf.DialResult{}, fmt.Errorf("%s over %s: %w", t.Scheme, t.Transport, ErrNotSupported)
	}
	transport := "UDP"
	if t.Transport == "tcp" {
		transport = "TCP"
	}
	host, port := t.Host, t.Port
	if t.ViaProxy {
		if s.cfg.OutboundProxy == "" {
			return conf.DialResult{}, fmt.Errorf("%s has no host and no outbound proxy is configured: %w", t.Display, ErrConfig)
		}
		h, p, err := net.SplitHostPort(s.cfg.OutboundProxy)
		if err != nil {
			return conf.DialResult{}, fmt.Errorf("outbound proxy %q: %w", s.cfg.OutboundProxy, ErrConfig)
		}
		host = h
		port, _ = strconv.Atoi(p)
	}
	dest, err := resolve(ctx, host, port)
	if err != nil {
		return conf.DialResult{}, err
	}
	ruri := sipmsg.Uri{Scheme: "sip", User: t.User, Host: bracketHost(host), Port: port}
	for _, p := range t.Params {
		if p.Name == "postd" {
			continue
		}
		if ruri.UriParams == nil {
			ruri.UriParams = sipmsg.NewParams()
		}
		ruri.UriParams.Add(p.Name, p.Value)
	}

	c := s.newOutboundCall(req, ruri, dest, transport)
	digits, err := dtmf.NewStream(dtmf.StreamConfig{})
	if err != nil {
		c.terminate(err, false)
		return conf.DialResult{}, fmt.Errorf("creating the call's DTMF stream: %w", err)
	}
	c.dtmf.digits = digits
	c.dtmf.infoLimit = tokenBucket{rate: infoRate, burst: infoBurst}
	leg, err := s.media.NewLeg(bridge.LegOptions{ID: c.legID, Room: req.ConferenceID,
		Logger: s.log.With("call_id", c.callID), OnEvent: c.onMediaEvent})
	if err != nil {
		c.terminate(err, false)
		return conf.DialResult{}, fmt.Errorf("creating media leg: %w", err)
	}
	c.mu.Lock()
	c.leg = leg
	c.mediaRoom = req.ConferenceID
	line := s.offerLine(s.prefs, leg.LocalPort(), dirSendRecv)
	if t.Postdial != "" {
		line = withoutTelephoneEvent(line)
	}
	c.mu.Unlock()
	lines := []MediaLine{line}
	if vl, ok := c.videoOffer(); ok {
		lines = append(lines, vl)
	}
	c.mu.Lock()
	offer := c.sdpLocked(lines)
	c.mu.Unlock()

	res, inv, err := s.invite(ctx, c, offer)
	if err != nil {
		c.log.Info("outgoing call failed", "err", err)
		s.m.calls.WithLabelValues("failed").Inc()
		c.terminate(err, false)
		return conf.DialResult{}, err
	}
	if err := s.answered(c, inv, res); err != nil {
		c.terminate(err, true)
		return conf.DialResult{}, err
	}
	part, err := s.confs.Join(c.ctx, conf.JoinRequest{ConferenceID: req.ConferenceID, DisplayName: c.remoteName,
		Protocol: "sip", Remote: c.dest, Leg: c})
	if err != nil {
		c.log.Info("answered call refused by the conference", "err", err)
		c.terminate(err, true)
		return conf.DialResult{}, fmt.Errorf("joining the answered call: %w", err)
	}
	c.mu.Lock()
	c.part, c.room = part, req.ConferenceID
	gone := c.state == stateTerminated
	c.mu.Unlock()
	if gone {
		cause := context.Cause(c.ctx)
		s.confs.Leave(part, cause)
		return conf.DialResult{}, fmt.Errorf("call ended as it joined: %w", cause)
	}
	s.m.calls.WithLabelValues("answered").Inc()
	c.log.Info("outgoing call answered", "to", ruri.String())
	s.track(func() { c.watchLeg(leg) })
	if t.Postdial != "" {
		s.track(func() { c.sendPostdial(t.Postdial) })
	}
	return conf.DialResult{ParticipantID: part.ID(), Remote: c.dest}, nil
}

// resolve turns host and port (0: 5060) into an ip:port destination.
func resolve(ctx context.Context, host string, port int) (string, error) {
	if port == 0 {
		port = 5060
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return netip.AddrPortFrom(a, uint16(port)).String(), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return "", fmt.Errorf("resolving %s: %w (%w)", host, ErrUnknownTarget, err)
	}
	return netip.AddrPortFrom(addrs[0].Unmap(), uint16(port)).String(), nil
}

// newOutboundCall makes the dialog state of a call we place: our From
// (the conference, tagged) is the local URI, the target the remote one.
func (s *Server) newOutboundCall(req conf.DialRequest, ruri sipmsg.Uri, dest, transport string) *call {
	legID := "sip-" + randomToken(8)
	c := &call{
		s:         s,
		legID:     legID,
		confID:    req.ConferenceID,
		userID:    req.UserID, // a user's registered device answers as that user
		callID:    randomToken(16),
		localTag:  randomToken(8),
		transport: transport,
		dest:      dest,
		target:    ruri,
		remoteURI: ruri,
		outbound:  true,
		session:   LocalSession{Username: "roomgate", SessionID: randomUint63(), Version: randomUint63() >> 32},
	}
	c.contactHost = s.localHost(dest)
	user := req.ConferenceID
	if !isToken(strings.ToUpper(user)) {
		user = "roomgate"
	}
	c.localURI = sipmsg.Uri{Scheme: "sip", User: user, Host: bracketHost(c.contactHost), Port: int(s.addr.Port())}
	c.remoteName = req.Target.Display
	c.log = s.log.With("call_id", c.callID, "conf", req.ConferenceID, "leg", legID, "dest", dest)
	c.key = dialogKey(c.callID, c.localTag)
	c.ctx, c.cancel = context.WithCancelCause(s.ctx)
	return c
}

// invite sends INVITEs until a 2xx or a failure, following one redirect
// and one digest challenge. It returns the 2xx and the INVITE it answers.
func (s *Server) invite(ctx context.Context, c *call, offer []byte) (*sipmsg.Response, *sipmsg.Request, error) {
	redirected, authed := false, false
	var auth sipmsg.Header
	for {
		inv := c.newRequest(sipmsg.INVITE)
		inv.AppendHeader(sipmsg.NewHeader("Allow", allowedMethods))
		inv.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		if auth != nil {
			inv.AppendHeader(auth)
		}
		inv.SetBody(offer)
		res, err := s.inviteOnce(ctx, c, inv)
		if err != nil {
			return nil, nil, err
		}
		switch code := res.StatusCode; {
		case code >= 200 && code < 300:
			return res, inv, nil
		case (code == 401 || code == 407) && !authed:
			authed = true
			if auth, err = s.authorize(c, inv, res); err != nil {
				return nil, nil, err
			}
		case code >= 300 && code < 400 && !redirected:
			redirected = true
			ct := res.Contact()
			if ct == nil || !strings.EqualFold(ct.Address.Scheme, "sip") {
				return nil, nil, &StatusError{Status: code, Reason: res.Reason, Err: fmt.Errorf("redirect without a sip: Contact: %w", ErrCallFailed)}
			}
			dest, err := resolve(ctx, ct.Address.Host, ct.Address.Port)
			if err != nil {
				return nil, nil, err
			}
			c.mu.Lock()
			c.target, c.remoteURI, c.dest = *ct.Address.Clone(), *ct.Address.Clone(), dest
			c.mu.Unlock()
			c.log.Info("following redirect", "status", code, "to", ct.Address.String())
		default:
			return nil, nil, failure(res)
		}
	}
}

// failure maps a final failure response to an error.
func failure(res *sipmsg.Response) error {
	var kind error
	switch res.StatusCode {
	case 486, 600:
		kind = ErrBusy
	case 403, 603:
		kind = ErrDeclined
	case 404, 484, 604:
		kind = ErrUnknownTarget
	case 408, 480:
		kind = ErrNoAnswer
	case 401, 407:
		kind = ErrAuthFailed
	default:
		kind = ErrCallFailed
	}
	return &StatusError{Status: res.StatusCode, Reason: sanitizeReason(res.Reason), Err: kind}
}

// authorize answers a digest challenge with the credentials of the trunk
// whose host we called (RFC 3261 §22.2, §22.3).
func (s *Server) authorize(c *call, inv *sipmsg.Request, res *sipmsg.Response) (sipmsg.Header, error) {
	chName, authName := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		chName, authName = "Proxy-Authenticate", "Proxy-Authorization"
	}
	h := res.GetHeader(chName)
	if h == nil {
		return nil, &StatusError{Status: res.StatusCode, Reason: res.Reason, Err: fmt.Errorf("no %s header: %w", chName, ErrAuthFailed)}
	}
	host := strings.Trim(inv.Recipient.Host, "[]")
	var trunk *Trunk
	for i := range s.cfg.Trunks {
		if strings.EqualFold(strings.Trim(s.cfg.Trunks[i].Host, "[]"), host) {
			trunk = &s.cfg.Trunks[i]
			break
		}
	}
	if trunk == nil {
		return nil, &StatusError{Status: res.StatusCode, Reason: res.Reason, Err: fmt.Errorf("no trunk credentials for %s: %w", host, ErrAuthFailed)}
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		return nil, &StatusError{Status: res.StatusCode, Reason: res.Reason, Err: fmt.Errorf("parsing %s: %w (%w)", chName, ErrAuthFailed, err)}
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: inv.Recipient.String(),
		Username: trunk.Username, Password: trunk.Password, Count: 1})
	if err != nil {
		return nil, &StatusError{Status: res.StatusCode, Reason: res.Reason, Err: fmt.Errorf("answering the challenge: %w (%w)", ErrAuthFailed, err)}
	}
	c.log.Info("answering digest challenge", "trunk", trunk.Name, "realm", chal.Realm)
	return sipmsg.NewHeader(authName, cred.String()), nil
}

// inviteOnce runs one INVITE transaction to its final response. Early
// media starts the leg; the ring timeout, ctx or shutdown CANCEL it.
func (s *Server) inviteOnce(ctx context.Context, c *call, inv *sipmsg.Request) (*sipmsg.Response, error) {
	tx, err := s.client.TransactionRequest(ctx, inv, prebuilt)
	if err != nil {
		return nil, fmt.Errorf("sending INVITE: %w", err)
	}
	defer tx.Terminate()
	ringOut := make(chan struct{})
	ring := s.clock.AfterFunc(s.cfg.RingTimeout, func() { close(ringOut) })
	defer ring.Stop()
	provisional := false
	var stop error // why we cancelled
	stopCh := func() <-chan struct{} {
		if stop != nil {
			return nil
		}
		return ctx.Done()
	}
	shutdown := func() <-chan struct{} {
		if stop != nil {
			return nil
		}
		return s.ctx.Done()
	}
	ringCh := func() <-chan struct{} {
		if stop != nil {
			return nil
		}
		return ringOut
	}
	var giveUp <-chan struct{}
	var giveUpTimer Timer
	defer func() {
		if giveUpTimer != nil {
			giveUpTimer.Stop()
		}
	}()
	cancelCall := func(cause error) {
		stop = cause
		g := make(chan struct{})
		giveUp = g
		giveUpTimer = s.clock.AfterFunc(ackWait, func() { close(g) })
		if provisional {
			s.sendCancel(c, inv)
		}
	}
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				if res.StatusCode > 100 {
					provisional = true
					if stop != nil {
						s.sendCancel(c, inv) // we wanted to cancel before it rang
					}
					s.earlyMedia(c, res)
				}
				continue
			}
			if stop != nil {
				if res.IsSuccess() {
					// The answer crossed our CANCEL: take the call and end it.
					if err := s.answered(c, inv, res); err == nil {
						c.terminate(stop, true)
					}
				}
				return nil, stop
			}
			return res, nil
		case <-tx.Done():
			if stop != nil {
				return nil, stop
			}
			return nil, fmt.Errorf("INVITE got no final answer: %w (%w)", ErrNoAnswer, tx.Err())
		case <-ringCh():
			c.log.Info("ring timeout, cancelling", "after", s.cfg.RingTimeout)
			cancelCall(fmt.Errorf("%w within %v", ErrNoAnswer, s.cfg.RingTimeout))
		case <-stopCh():
			cancelCall(context.Cause(ctx))
		case <-shutdown():
			cancelCall(ErrShutdown)
		case <-giveUp:
			return nil, stop
		}
	}
}

// sendCancel cancels inv (RFC 3261 §9.1): same Request-URI, Via branch,
// From, To and Call-ID, CSeq number with method CANCEL.
func (s *Server) sendCancel(c *call, inv *sipmsg.Request) {
	cr := sipmsg.NewRequest(sipmsg.CANCEL, *inv.Recipient.Clone())
	cr.AppendHeader(inv.Via().Clone())
	sipmsg.CopyHeaders("Route", inv, cr)
	maxFwd := sipmsg.MaxForwardsHeader(70)
	cr.AppendHeader(&maxFwd)
	sipmsg.CopyHeaders("From", inv, cr)
	sipmsg.CopyHeaders("To", inv, cr)
	sipmsg.CopyHeaders("Call-ID", inv, cr)
	cr.AppendHeader(&sipmsg.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sipmsg.CANCEL})
	cr.SetTransport(inv.Transport())
	cr.SetDestination(inv.Destination())
	cr.SetBody(nil)
	s.track(func() {
		ctx, cancel := context.WithTimeout(s.byeCtx, ackWait)
		defer cancel()
		if _, err := c.do(ctx, cr); err != nil {
			c.log.Info("CANCEL got no answer", "err", err)
		}
	})
}

// earlyMedia starts the leg on the SDP of a provisional response.
func (s *Server) earlyMedia(c *call, res *sipmsg.Response) {
	if len(res.Body()) == 0 || !isSDP(res) {
		return
	}
	c.mu.Lock()
	started, leg := c.started, c.leg
	c.mu.Unlock()
	if started || leg == nil {
		return
	}
	st, err := s.parseAnswer(res.Body(), s.prefs)
	if err != nil {
		c.log.Info("unusable early media SDP", "status", res.StatusCode, "err", err)
		return
	}
	if err := leg.Start(st); err != nil {
		c.log.Warn("starting early media", "err", err)
		return
	}
	c.mu.Lock()
	c.stream, c.started = st, true
	c.mu.Unlock()
	c.log.Info("early media", "status", res.StatusCode, "codec", st.Codec.Name, "remote", st.Remote.String())
}

// answered makes the dialog of a 2xx (RFC 3261 §12.1.2), acknowledges it
// and applies its SDP answer.
func (s *Server) answered(c *call, inv *sipmsg.Request, res *sipmsg.Response) error {
	c.mu.Lock()
	c.remoteTag, _ = res.To().Params.Get("tag")
	if ct := res.Contact(); ct != nil {
		c.target = *ct.Address.Clone()
	}
	// The UAC keeps the Record-Route URIs in reverse order.
	rr := res.GetHeaders("Record-Route")
	c.routeSet = nil
	for i := len(rr) - 1; i >= 0; i-- {
		if h, ok := rr[i].(*sipmsg.RecordRouteHeader); ok {
			c.routeSet = append(c.routeSet, h.Address)
		}
	}
	if src := res.Source(); src != "" {
		c.dest = src // symmetric signalling, as for dial-in
	}
	c.peerAllowsUpdate = allows(res, "UPDATE")
	c.peerTimer = supports(res, "timer")
	c.dtmf.peerAllowsInfo = res.GetHeader("Allow") == nil || allows(res, "INFO")
	c.remoteCSeq = 0
	c.state = stateConfirmed
	started, leg := c.started, c.leg
	target, dest := c.target, c.dest
	c.mu.Unlock()
	s.m.active.Inc() // terminate decrements it for every call past stateEarly

	ack := c.buildRequest(sipmsg.ACK, inv.CSeq().SeqNo, target, dest)
	ack.SetBody(nil)
	if err := s.client.WriteRequest(ack, prebuilt); err != nil {
		c.log.Warn("sending ACK", "err", err)
	}
	s.register(c)

	if len(res.Body()) == 0 || !isSDP(res) {
		return fmt.Errorf("2xx without an SDP answer: %w", ErrAckWithoutAnswer)
	}
	sp, err := s.parseAnswer(res.Body(), s.prefs)
	if err != nil {
		return fmt.Errorf("SDP answer: %w", err)
	}
	if started {
		err = leg.Update(sp)
	} else {
		err = leg.Start(sp)
	}
	if err != nil {
		return fmt.Errorf("starting media: %w", err)
	}
	c.mu.Lock()
	c.stream, c.started = sp, true
	c.mu.Unlock()
	c.log.Info("media negotiated", "codec", sp.Codec.Name, "pt", sp.PayloadType, "remote", sp.Remote.String())
	c.applyVideoAnswer(res.Body())
	return nil
}

// sendPostdial sends post-dial digits by INFO; each ',' waits a second.
func (c *call) sendPostdial(pd string) {
	for len(pd) > 0 {
		if pd[0] == ',' {
			wake := make(chan struct{})
			t := c.s.clock.AfterFunc(time.Second, func() { close(wake) })
			select {
			case <-wake:
			case <-c.ctx.Done():
				t.Stop()
				return
			}
			pd = pd[1:]
			continue
		}
		group := pd
		if i := strings.IndexByte(pd, ','); i >= 0 {
			group = pd[:i]
		}
		pd = pd[len(group):]
		if err := c.s.SendDTMF(c.callID, group); err != nil {
			c.log.Info("post-dial digits not sent", "err", err)
			return
		}
	}
}
