package sip

import (
	"context"
	"errors"
	"fmt"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// Session timers (RFC 4028). We always run one: when the peer refreshes and
// stops doing so, the call is ended with BYE before the interval runs out;
// when we refresh, we send UPDATE (if the peer allows it) or a re-INVITE
// with our unchanged SDP at half the interval.

// sessionTimer is the negotiated session timer of a call.
type sessionTimer struct {
	interval  time.Duration
	weRefresh bool
	noUpdate  bool // the peer refused UPDATE: refresh with re-INVITE
	t         Timer
}

func (st *sessionTimer) stopLocked() {
	if st.t != nil {
		st.t.Stop()
		st.t = nil
	}
}

// applyLocked takes the interval and refresher of a renegotiation.
func (st *sessionTimer) applyLocked(n sessionTimer) {
	st.interval, st.weRefresh = n.interval, n.weRefresh
}

// refreshTimeout bounds one refresh transaction.
const refreshTimeout = 32 * time.Second

// negotiateTimer picks the session interval and refresher of an initial
// INVITE (RFC 4028 §9): the peer's Session-Expires, lowered to ours but never
// below its Min-SE; 422 below our Min-SE; refresher as the peer asked, else
// the peer (uac) when it supports timers, else us.
func (s *Server) negotiateTimer(req *sipmsg.Request) (sessionTimer, error) {
	return s.timerFor(req, supports(req, "timer"), sessionTimer{})
}

// renegotiateTimer does the same for a re-INVITE or UPDATE of the peer;
// without Session-Expires the current timer continues.
func (s *Server) renegotiateTimer(req *sipmsg.Request, c *call) (sessionTimer, error) {
	c.mu.Lock()
	cur := c.timer
	peerTimer := c.peerTimer
	c.mu.Unlock()
	return s.timerFor(req, peerTimer || supports(req, "timer"), cur)
}

func (s *Server) timerFor(req *sipmsg.Request, peerSupports bool, cur sessionTimer) (sessionTimer, error) {
	se, present, err := parseSessionExpires(req)
	if err != nil {
		return sessionTimer{}, err
	}
	minSE, err := parseMinSE(req)
	if err != nil {
		return sessionTimer{}, err
	}
	if present && se.Delta < s.cfg.MinSE {
		return sessionTimer{}, &StatusError{Status: 422, Reason: "Session Interval Too Small",
			Err: fmt.Errorf("session expires %v below our min SE %v", se.Delta, s.cfg.MinSE)}
	}
	if !present && cur.interval > 0 {
		return sessionTimer{interval: cur.interval, weRefresh: cur.weRefresh}, nil
	}
	interval := s.cfg.SessionExpires
	if present && se.Delta < interval {
		interval = se.Delta
	}
	interval = max(interval, minSE, s.cfg.MinSE)
	weRefresh := !peerSupports
	if peerSupports && present && se.Refresher == "uas" {
		weRefresh = true
	}
	return sessionTimer{interval: interval, weRefresh: weRefresh}, nil
}

// addTimerHeaders puts Session-Expires (and Require: timer when the peer
// supports it) into a 2xx.
func (c *call) addTimerHeaders(res *sipmsg.Response) {
	c.mu.Lock()
	st, peerTimer := c.timer, c.peerTimer
	c.mu.Unlock()
	if st.interval == 0 {
		return
	}
	refresher := "uac"
	if st.weRefresh {
		refresher = "uas"
	}
	res.AppendHeader(sipmsg.NewHeader("Session-Expires", seconds(st.interval)+";refresher="+refresher))
	if peerTimer {
		res.AppendHeader(sipmsg.NewHeader("Require", "timer"))
	}
}

// startTimer (re)arms the session timer from now.
func (c *call) startTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.startTimerLocked(0)
}

// startTimerLocked arms the timer; after, when not zero, overrides the delay.
func (c *call) startTimerLocked(after time.Duration) {
	c.timer.stopLocked()
	if c.state == stateTerminated || c.timer.interval == 0 {
		return
	}
	iv := c.timer.interval
	if c.timer.weRefresh {
		d := iv / 2
		if after > 0 {
			d = after
		}
		c.timer.t = c.s.clock.AfterFunc(d, func() { c.s.track(c.refresh) })
		return
	}
	// RFC 4028 §10: BYE at interval minus the smaller of 32 s and a third.
	d := iv - min(32*time.Second, iv/3)
	c.timer.t = c.s.clock.AfterFunc(d, func() {
		c.log.Info("session timer expired without refresh", "interval", iv.String())
		c.terminate(ErrSessionExpired, true)
	})
}

// refresh sends one session refresh and re-arms the timer.
func (c *call) refresh() {
	c.mu.Lock()
	if c.state == stateTerminated {
		c.mu.Unlock()
		return
	}
	if c.serverOffer || c.clientOffer || c.ackPending != nil {
		// An exchange of the peer is under way; it refreshes the
		// session as well. Look again shortly.
		c.startTimerLocked(time.Second)
		c.mu.Unlock()
		return
	}
	useUpdate := c.peerAllowsUpdate && !c.timer.noUpdate
	c.clientOffer = !useUpdate
	interval := c.timer.interval
	lines := c.lastLines
	c.mu.Unlock()

	for attempt := 0; attempt < 3; attempt++ {
		res, req, err := c.sendRefresh(useUpdate, interval, lines)
		if err != nil {
			c.finishRefresh()
			c.log.Info("session refresh failed", "err", err)
			c.terminate(fmt.Errorf("%w: %w", ErrRefreshFailed, err), true)
			return
		}
		switch {
		case res.IsSuccess():
			if !useUpdate {
				if err := c.sendAck(req, res); err != nil {
					c.log.Debug("acknowledging refresh", "err", err)
				}
				c.applyRefreshAnswer(res)
			}
			c.mu.Lock()
			if se, ok, err := parseSessionExpires(res); err == nil && ok {
				c.timer.interval = max(se.Delta, c.s.cfg.MinSE)
				c.timer.weRefresh = se.Refresher != "uas"
			}
			c.clientOffer = false
			c.startTimerLocked(0)
			c.mu.Unlock()
			c.log.Debug("session refreshed", "method", req.Method.String())
			return
		case res.StatusCode == 422:
			if m, err := parseMinSE(res); err == nil && m > interval {
				interval = m
				c.mu.Lock()
				c.timer.interval = m
				c.mu.Unlock()
				continue
			}
		case useUpdate && (res.StatusCode == 405 || res.StatusCode == 501):
			useUpdate = false
			c.mu.Lock()
			c.timer.noUpdate = true
			c.clientOffer = true
			c.mu.Unlock()
			continue
		case res.StatusCode == 491:
			c.mu.Lock()
			c.clientOffer = false
			c.startTimerLocked(time.Second)
			c.mu.Unlock()
			return
		}
		c.finishRefresh()
		c.log.Info("session refresh refused", "status", res.StatusCode)
		c.terminate(fmt.Errorf("%w: %d %s", ErrRefreshFailed, res.StatusCode, res.Reason), res.StatusCode != 481)
		return
	}
	c.finishRefresh()
	c.terminate(fmt.Errorf("%w: gave up after retries", ErrRefreshFailed), true)
}

func (c *call) finishRefresh() {
	c.mu.Lock()
	c.clientOffer = false
	c.mu.Unlock()
}

// sendRefresh sends UPDATE without SDP, or a re-INVITE with our last SDP
// (same o= version: nothing changed).
func (c *call) sendRefresh(useUpdate bool, interval time.Duration, lines []MediaLine) (*sipmsg.Response, *sipmsg.Request, error) {
	method := sipmsg.INVITE
	if useUpdate {
		method = sipmsg.UPDATE
	}
	req := c.newRequest(method)
	req.AppendHeader(sipmsg.NewHeader("Session-Expires", seconds(interval)+";refresher=uac"))
	req.AppendHeader(sipmsg.NewHeader("Min-SE", seconds(c.s.cfg.MinSE)))
	req.AppendHeader(sipmsg.NewHeader("Supported", "timer"))
	req.AppendHeader(sipmsg.NewHeader("Allow", allowedMethods))
	if !useUpdate && lines != nil {
		c.mu.Lock()
		body := c.sdpLocked(lines)
		c.mu.Unlock()
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
	}
	ctx, cancel := context.WithTimeout(c.ctx, refreshTimeout)
	defer cancel()
	res, err := c.do(ctx, req)
	if err != nil {
		if errors.Is(err, context.Canceled) && c.ctx.Err() != nil {
			return nil, req, context.Cause(c.ctx)
		}
		return nil, req, err
	}
	return res, req, nil
}

// applyRefreshAnswer applies the SDP answer of a 2xx to our re-INVITE; a
// peer may use a refresh to move its media.
func (c *call) applyRefreshAnswer(res *sipmsg.Response) {
	if len(res.Body()) == 0 {
		return
	}
	st, err := c.s.parseAnswer(res.Body(), c.s.prefs)
	if err != nil {
		c.log.Info("unusable SDP answer to session refresh", "err", err)
		return
	}
	c.mu.Lock()
	leg, started, cur := c.leg, c.started, c.stream
	c.mu.Unlock()
	if !started || cur == st {
		return
	}
	if err := leg.Update(st); err != nil {
		c.log.Warn("applying SDP answer of session refresh", "err", err)
		return
	}
	c.mu.Lock()
	c.stream = st
	c.mu.Unlock()
}
