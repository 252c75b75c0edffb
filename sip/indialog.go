package sip

import (
	"errors"
	"fmt"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/roomgate/roomgate/bridge"
)

// handleInDialog serves requests of an established dialog: re-INVITE,
// UPDATE, BYE, INFO and OPTIONS (ACK goes to handleAck).
func (c *call) handleInDialog(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s := c.s
	c.mu.Lock()
	if c.state == stateTerminated {
		c.mu.Unlock()
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist", nil)
		return
	}
	// RFC 3261 §12.2.2: CSeq must grow.
	if cs := req.CSeq().SeqNo; cs <= c.remoteCSeq && req.Method != sipmsg.CANCEL {
		c.mu.Unlock()
		s.respond(tx, req, 500, "Server Internal Error - CSeq out of order", nil)
		return
	}
	c.remoteCSeq = req.CSeq().SeqNo
	if req.Source() != "" {
		c.dest = req.Source()
	}
	c.mu.Unlock()

	switch req.Method {
	case sipmsg.BYE:
		s.respond(tx, req, 200, "OK", nil)
		c.log.Info("peer hung up")
		c.terminate(ErrBye, false)
	case sipmsg.INVITE:
		c.handleReinvite(req, tx)
	case sipmsg.UPDATE:
		c.handleUpdate(req, tx)
	case sipmsg.INFO:
		c.handleInfo(req, tx)
	case sipmsg.OPTIONS:
		s.respondCapabilities(tx, req)
	default:
		s.respond(tx, req, 405, "Method Not Allowed", nil, sipmsg.NewHeader("Allow", allowedMethods))
	}
}

// beginOffer marks an offer/answer exchange of the peer; it answers 491 or
// 500 and reports false when one is already in progress (RFC 3261 §14.2,
// RFC 3311 §5.2).
func (c *call) beginOffer(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	c.awaitAck(req.CSeq().SeqNo)
	c.mu.Lock()
	clientOffer, serverOffer, waiting := c.clientOffer, c.serverOffer, c.ackPending != nil
	if !clientOffer && !serverOffer && !waiting {
		c.serverOffer = true
	}
	c.mu.Unlock()
	switch {
	case clientOffer:
		c.s.respond(tx, req, 491, "Request Pending", nil)
		return false
	case serverOffer || waiting:
		c.s.respond(tx, req, 500, "Server Internal Error", nil, sipmsg.NewHeader("Retry-After", "1"))
		return false
	}
	return true
}

// ackReorderWait bounds how long a request waits for the ACK it overtook.
const ackReorderWait = time.Second

// awaitAck handles a request that overtook the ACK of our last 2xx: the stack
// hands each request to its own goroutine, so an ACK sent just before a
// re-INVITE may be processed after it. A peer sends a newer request only
// after its ACK, so wait for that ACK briefly.
func (c *call) awaitAck(cseq uint32) {
	c.mu.Lock()
	p := c.ackPending
	c.mu.Unlock()
	if p == nil || cseq <= p.cseq {
		return
	}
	wake := make(chan struct{})
	t := c.s.clock.AfterFunc(ackReorderWait, func() { close(wake) })
	defer t.Stop()
	select {
	case <-p.cleared:
	case <-wake:
	case <-c.ctx.Done():
	}
}

func (c *call) endOffer() {
	c.mu.Lock()
	c.serverOffer = false
	c.mu.Unlock()
}

// handleReinvite answers a re-INVITE: hold, resume, new address or codec,
// session refresh, or an offerless re-INVITE answered with our offer.
func (c *call) handleReinvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if !c.beginOffer(req, tx) {
		return
	}
	st, err := c.s.renegotiateTimer(req, c)
	if err != nil {
		c.endOffer()
		c.rejectTimer(req, tx, err)
		return
	}
	c.refreshTarget(req)

	body := req.Body()
	var out []byte
	if len(body) > 0 {
		if !isSDP(req) {
			c.endOffer()
			c.s.respond(tx, req, 415, "Unsupported Media Type", nil, sipmsg.NewHeader("Accept", "application/sdp"))
			return
		}
		out, err = c.applyOffer(body)
		if err != nil {
			c.endOffer()
			c.rejectOffer(req, tx, err)
			return
		}
	} else {
		c.mu.Lock()
		cur := c.stream.Codec.Name
		dir := bridgeDirectionName(c.stream.Direction)
		if !c.started {
			dir = dirSendRecv
		}
		lines := []MediaLine{c.s.offerLine(prefsFor(c.s.prefs, cur), c.leg.LocalPort(), dir)}
		hasVideo := c.video != nil
		c.mu.Unlock()
		if hasVideo {
			if vl, ok := c.videoOffer(); ok {
				lines = append(lines, vl)
			}
		}
		c.mu.Lock()
		out = c.sdpLocked(lines)
		c.mu.Unlock()
	}
	res := c.response(req, 200, "OK", out)
	c.mu.Lock()
	c.timer.applyLocked(st)
	c.mu.Unlock()
	c.addTimerHeaders(res)
	c.armAck(req.CSeq().SeqNo, tx, res, len(body) == 0)
	c.startTimer()
	c.s.send(tx, res)
}

// handleUpdate answers UPDATE (RFC 3311): an offer, or a session refresh.
func (c *call) handleUpdate(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	body := req.Body()
	if len(body) > 0 && !c.beginOffer(req, tx) {
		return
	}
	if len(body) > 0 {
		defer c.endOffer()
	}
	st, err := c.s.renegotiateTimer(req, c)
	if err != nil {
		c.rejectTimer(req, tx, err)
		return
	}
	c.refreshTarget(req)
	var out []byte
	if len(body) > 0 {
		if !isSDP(req) {
			c.s.respond(tx, req, 415, "Unsupported Media Type", nil, sipmsg.NewHeader("Accept", "application/sdp"))
			return
		}
		if out, err = c.applyOffer(body); err != nil {
			c.rejectOffer(req, tx, err)
			return
		}
	}
	res := c.response(req, 200, "OK", out)
	c.mu.Lock()
	c.timer.applyLocked(st)
	c.mu.Unlock()
	c.addTimerHeaders(res)
	c.startTimer()
	c.s.send(tx, res)
}

// refreshTarget takes a new Contact from a target refresh request.
func (c *call) refreshTarget(req *sipmsg.Request) {
	if ct := req.Contact(); ct != nil {
		c.mu.Lock()
		c.target = ct.Address
		c.mu.Unlock()
	}
}

// applyOffer negotiates an in-dialog offer, updates the media leg and
// returns our answer.
func (c *call) applyOffer(body []byte) ([]byte, error) {
	c.mu.Lock()
	leg, cur, started := c.leg, c.stream.Codec.Name, c.started
	c.mu.Unlock()
	neg, err := c.s.negotiate(body, prefsFor(c.s.prefs, cur), leg.LocalPort())
	if err != nil {
		return nil, err
	}
	if started {
		err = leg.Update(neg.Audio)
	} else {
		err = leg.Start(neg.Audio)
	}
	if err != nil {
		return nil, &StatusError{Status: 500, Reason: "Server Internal Error", Err: fmt.Errorf("updating media: %w", err)}
	}
	c.mu.Lock()
	c.stream, c.started = neg.Audio, true
	c.mu.Unlock()
	lines := c.answerVideo(body, neg.Lines)
	c.mu.Lock()
	out := c.sdpLocked(lines)
	c.mu.Unlock()
	c.log.Info("media renegotiated", "codec", neg.Audio.Codec.Name, "pt", neg.Audio.PayloadType,
		"remote", neg.Audio.Remote.String(), "direction", bridgeDirectionName(neg.Audio.Direction),
		"hold", neg.Audio.Direction == bridge.RecvOnly || neg.Audio.Direction == bridge.Inactive)
	return out, nil
}

// rejectOffer answers a failed in-dialog offer; the session goes on as it was.
func (c *call) rejectOffer(req *sipmsg.Request, tx sipmsg.ServerTransaction, err error) {
	var se *StatusError
	if errors.As(err, &se) {
		c.log.Warn("in-dialog offer failed", "err", err)
		c.s.respond(tx, req, se.Status, se.Reason, nil)
		return
	}
	code, reason, hdrs := sdpFailure(err, c.contactHost)
	c.log.Info("in-dialog offer refused", "status", code, "err", err)
	c.s.respond(tx, req, code, reason, nil, hdrs...)
}

// rejectTimer answers a refresh with an unusable Session-Expires.
func (c *call) rejectTimer(req *sipmsg.Request, tx sipmsg.ServerTransaction, err error) {
	var se *StatusError
	if errors.As(err, &se) && se.Status == 422 {
		c.s.respond(tx, req, 422, "Session Interval Too Small", nil, sipmsg.NewHeader("Min-SE", seconds(c.s.cfg.MinSE)))
		return
	}
	c.s.respond(tx, req, 400, "Bad Request - "+sanitizeReason(err.Error()), nil)
}
