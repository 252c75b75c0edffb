package sip

// This file carries DTMF between a SIP call and the rest of Roomgate. Key
// presses arrive as RFC 4733 telephone-events (the bridge reports them as
// leg events) and as SIP INFO requests with the de facto
// application/dtmf-relay or application/dtmf bodies (legacy INFO usage,
// RFC 6086 §9.1); many phones send both for one press. Each call merges them
// in one dtmf.Stream, so that conf sees every press exactly once. Digits go
// out to a call by INFO.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/roomgate/roomgate/bridge/dtmf"
)

// Limits of DTMF over INFO.
const (
	// infoRate and infoBurst bound how many INFO requests with a body one
	// call may have read per second: a phone sends one per key press, so
	// twice the digit rate of dtmf.Stream leaves room for the copies of
	// presses that also came as RFC 4733 events. Excess INFO is answered 200 (a flood must not turn into a
	// storm of error responses) and counted, but not read.
	infoRate  = 20
	infoBurst = 40
	// sendDuration is the press duration announced in the INFO we send;
	// sendPause separates two presses, so that a gateway turning them into
	// tones plays each one whole.
	sendDuration = dtmf.DefaultToneDuration
	sendPause    = dtmf.DefaultTonePause
	// maxSendDigits bounds one SendDTMF: at 180 ms a digit, 64 take about
	// twelve seconds, longer than any PIN or extension.
	maxSendDigits = 64
	// infoAccept is the Accept header of a 415 answer to an INFO.
	infoAccept = dtmf.ContentTypeRelay + ", " + dtmf.ContentTypeDTMF + ", " + ContentTypeMediaControl
)

// DigitEvent is one DTMF key press on a SIP call, handed to Config.OnDigit.
type DigitEvent struct {
	// CallID is the SIP Call-ID of the call, as SendDTMF takes it.
	CallID string
	// ConferenceID is the conference the call is in.
	ConferenceID string
	// ParticipantID is the ID conf gave the caller when it joined.
	ParticipantID string
	// Digit is the key: 0-9, *, #, A-D.
	Digit rune
	// Source is the method that reported the press first.
	Source dtmf.Source
	// At is when the press reached the signalling layer.
	At time.Time
}

// tokenBucket limits a rate of events; it starts full. It is not safe for
// concurrent use: the call's mutex guards it.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
	primed      bool
}

// take refills the bucket up to now and spends one token, reporting whether
// there was one.
func (b *tokenBucket) take(now time.Time) bool {
	if !b.primed {
		b.tokens, b.last, b.primed = b.burst, now, true
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.burst, b.tokens+el.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// dtmfState is the DTMF part of a call.
type dtmfState struct {
	// digits merges the presses of every method; it is safe for concurrent use.
	digits *dtmf.Stream
	// infoLimit is guarded by call.mu.
	infoLimit tokenBucket
	// peerAllowsInfo is false when the INVITE's Allow header left INFO out.
	peerAllowsInfo bool
	// sendMu keeps the digits of two SendDTMF calls from interleaving.
	sendMu sync.Mutex
}

// initDTMF prepares the DTMF state of a new call from its INVITE.
func (c *call) initDTMF(req *sipmsg.Request) error {
	st, err := dtmf.NewStream(dtmf.StreamConfig{})
	if err != nil {
		return fmt.Errorf("creating the call's DTMF stream: %w", err)
	}
	c.dtmf.digits = st
	c.dtmf.infoLimit = tokenBucket{rate: infoRate, burst: infoBurst}
	c.dtmf.peerAllowsInfo = req.GetHeader("Allow") == nil || allows(req, "INFO")
	return nil
}

// handleInfo answers an in-dialog INFO. An INFO without a body (some phones
// send them as keep-alives) is answered 200; a DTMF body is answered 200 and
// its digit passed on; other bodies get 415, malformed DTMF bodies 400.
func (c *call) handleInfo(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s := c.s
	body := req.Body()
	if len(body) == 0 {
		s.respond(tx, req, 200, "OK", nil)
		return
	}
	now := s.clock.Now()
	c.mu.Lock()
	ok := c.dtmf.infoLimit.take(now)
	c.mu.Unlock()
	if !ok {
		s.m.countDTMF(dtmf.SourceINFO, dtmf.Limited)
		s.respond(tx, req, 200, "OK", nil)
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	if isMediaControl(ct) {
		c.handleMediaControl(req, tx)
		return
	}
	info, err := dtmf.ParseInfo(ct, body)
	switch {
	case errors.Is(err, dtmf.ErrContentType):
		c.log.Debug("INFO body not read", "content_type", sanitizeReason(ct))
		s.respond(tx, req, 415, "Unsupported Media Type", nil, sipmsg.NewHeader("Accept", infoAccept))
		return
	case err != nil:
		s.m.countDTMF(dtmf.SourceINFO, dtmf.Garbage)
		c.log.Debug("malformed DTMF INFO", "err", err)
		s.respond(tx, req, 400, "Bad Request - "+sanitizeReason(err.Error()), nil)
		return
	}
	// Passed on before the answer, so that a peer (or test) seeing the
	// 200 knows the digit was handled.
	c.pushDigit(info.Digit, dtmf.SourceINFO, now)
	s.respond(tx, req, 200, "OK", nil)
}

// pushDigit reports a digit from src to the call's stream and passes on a
// new press. It does not allocate unless debug logging or OnDigit does.
func (c *call) pushDigit(d rune, src dtmf.Source, at time.Time) {
	if c.ctx.Err() != nil {
		return // the call has ended; conf no longer listens
	}
	digit, verdict := c.dtmf.digits.Push(d, src, at)
	c.s.m.countDTMF(src, verdict)
	debug := c.log.Enabled(c.ctx, slog.LevelDebug)
	if verdict != dtmf.Accepted {
		if debug {
			c.log.Debug("dtmf digit dropped", "source", src.String(), "verdict", verdict.String())
		}
		return
	}
	// Digits may be a PIN: never above debug.
	if debug {
		c.log.Debug("dtmf digit", "digit", string(digit), "source", src.String())
	}
	c.mu.Lock()
	part, dialin, room := c.part, c.dialin, c.room
	c.mu.Unlock()
	if dialin != nil {
		dialin.Digit(digit) // conf: lobby entry or in-call command
	}
	f := c.s.cfg.OnDigit
	if f == nil {
		return
	}
	ev := DigitEvent{CallID: c.callID, ConferenceID: room, Digit: digit, Source: src, At: at}
	switch {
	case part != nil:
		ev.ParticipantID = part.ID()
	case dialin != nil:
		ev.ParticipantID = dialin.ParticipantID()
	}
	f(ev)
}

// SendDTMF sends digits (0-9, *, #, A-D) to the call with SIP Call-ID
// callID: as RFC 4733 events in the RTP stream when the peer negotiated
// telephone-event, otherwise one INFO with an application/dtmf-relay body
// per digit, paced like key presses. It returns when every digit was sent
// (INFO: acknowledged), or at the first failure: ErrNoSuchCall, a
// *StatusError when the peer refused an INFO, or ErrNotSupported when the
// peer has neither telephone-event nor INFO in its Allow header.
func (s *Server) SendDTMF(callID, digits string) error {
	c := s.callByID(callID)
	if c == nil {
		return fmt.Errorf("sending DTMF to call %s: %w", callID, ErrNoSuchCall)
	}
	return c.SendDigits(digits)
}

// parseSendDigits checks digits to send and returns them as keys.
func parseSendDigits(callID, digits string) ([]rune, error) {
	if digits == "" {
		return nil, fmt.Errorf("sending DTMF to call %s: no digits: %w", callID, dtmf.ErrDigit)
	}
	keys := make([]rune, 0, len(digits))
	for _, r := range digits {
		k, err := dtmf.Normalize(r)
		if err != nil {
			return nil, fmt.Errorf("sending DTMF to call %s: %q: %w", callID, r, err)
		}
		keys = append(keys, k)
	}
	if len(keys) > maxSendDigits {
		return nil, fmt.Errorf("sending DTMF to call %s: %d digits, at most %d at once: %w",
			callID, len(keys), maxSendDigits, ErrNotSupported)
	}
	return keys, nil
}

// sendInfoDigits sends keys by SIP INFO from a tracked goroutine.
func (c *call) sendInfoDigits(keys []rune) error {
	if !c.dtmf.peerAllowsInfo {
		return fmt.Errorf("sending DTMF to call %s: the peer's Allow header has no INFO: %w", c.callID, ErrNotSupported)
	}
	done := make(chan error, 1)
	if !c.s.track(func() { done <- c.sendDigits(keys) }) {
		return fmt.Errorf("sending DTMF to call %s: %w", c.callID, ErrClosed)
	}
	return <-done
}

// callByID finds an answered call by its Call-ID.
func (s *Server) callByID(callID string) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.callID == callID {
			return c
		}
	}
	return nil
}

// sendDigits sends one INFO per key, waiting for each answer and pausing
// between presses.
func (c *call) sendDigits(keys []rune) error {
	c.dtmf.sendMu.Lock()
	defer c.dtmf.sendMu.Unlock()
	for i, k := range keys {
		if i > 0 {
			if err := c.pause(sendDuration + sendPause); err != nil {
				return fmt.Errorf("sending DTMF to call %s: %w", c.callID, err)
			}
		}
		body, err := dtmf.AppendRelayBody(nil, k, sendDuration)
		if err != nil {
			return fmt.Errorf("sending DTMF to call %s: %w", c.callID, err)
		}
		req := c.newRequest(sipmsg.INFO)
		req.AppendHeader(sipmsg.NewHeader("Content-Type", dtmf.ContentTypeRelay))
		req.SetBody(body)
		ctx, cancel := context.WithTimeout(c.ctx, ackWait)
		res, err := c.do(ctx, req)
		cancel()
		if err != nil {
			return fmt.Errorf("sending DTMF to call %s: %w", c.callID, err)
		}
		if !res.IsSuccess() {
			return fmt.Errorf("sending DTMF to call %s: %w", c.callID,
				&StatusError{Status: res.StatusCode, Reason: sanitizeReason(res.Reason), Err: errors.New("peer refused DTMF INFO")})
		}
	}
	c.log.Debug("dtmf sent", "digits", len(keys))
	return nil
}

// pause waits d on the server's clock, or until the call ends.
func (c *call) pause(d time.Duration) error {
	wake := make(chan struct{})
	t := c.s.clock.AfterFunc(d, func() { close(wake) })
	defer t.Stop()
	select {
	case <-wake:
		return nil
	case <-c.ctx.Done():
		return context.Cause(c.ctx)
	}
}
