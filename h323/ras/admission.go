package ras

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/roomgate/roomgate/h323/h225"
)

// Admission (H.225.0 clause 7.10): ARQ before each call, DRQ after it.

// Admission is one call as the gatekeeper sees it.
type Admission struct {
	// CallRef is the Q.931 call reference value, CallID and ConferenceID the
	// call's H.225.0 identifiers.
	CallRef      uint16
	CallID       h225.GUID
	ConferenceID h225.GUID
	// Answer is set for a call we answer.
	Answer bool
	// Dest are the called aliases (destinationInfo); DestSignal the address
	// we call, when we know it. Source are the caller's aliases (srcInfo) of a
	// call we answer; empty means ours.
	Source     []h225.Alias
	Dest       []h225.Alias
	DestSignal netip.AddrPort
	// Bandwidth is what we ask for, in 100 bit/s; 0 means DefaultBandwidth.
	Bandwidth int
	// Drop, when set, is called when the gatekeeper ends the call (its DRQ);
	// it must not block.
	Drop func()
}

func (a Admission) callRAS() h225.CallRAS {
	bw := a.Bandwidth
	if bw <= 0 {
		bw = DefaultBandwidth
	}
	return h225.CallRAS{CallRef: a.CallRef, CallID: a.CallID, ConferenceID: a.ConferenceID, Answer: a.Answer,
		Bandwidth: bw, Source: a.Source}
}

// Admitted is the gatekeeper's ACF.
type Admitted struct {
	// DestSignal is where the call signalling goes (the callee, or the
	// gatekeeper for gatekeeper-routed calls).
	DestSignal netip.AddrPort
	// CallModel is "direct" or "gatekeeperRouted"; Bandwidth the granted
	// bandwidth in 100 bit/s.
	CallModel string
	Bandwidth int
}

// Admit asks the gatekeeper to admit a call (ARQ) and returns its ACF. An
// ARJ is a *RejectError; without a registration it fails with
// ErrNotRegistered. An admitted call must be reported with Disengage when
// it ends.
func (c *Client) Admit(ctx context.Context, a Admission) (Admitted, error) {
	c.mu.Lock()
	if c.closed || !c.started {
		c.mu.Unlock()
		return Admitted{}, ErrClosed
	}
	if !c.registered {
		c.mu.Unlock()
		return Admitted{}, ErrNotRegistered
	}
	if len(c.calls) >= maxCalls {
		c.mu.Unlock()
		return Admitted{}, fmt.Errorf("%d admitted calls: %w", maxCalls, ErrTooMany)
	}
	reg := c.regCopy()
	gk := c.gk
	c.mu.Unlock()
	cr := a.callRAS()
	m, err := c.transact(ctx, gk, func(seq int) ([]byte, error) { return reg.ARQ(seq, cr, a.Dest, a.DestSignal) },
		"admissionConfirm", "admissionReject")
	if err != nil {
		return Admitted{}, fmt.Errorf("ARQ: %w", err)
	}
	if m.Kind == "admissionReject" {
		if m.RejectReason == "callerNotRegistered" || m.RejectReason == "invalidEndpointIdentifier" {
			// The gatekeeper forgot us: register again.
			c.setRegistered(false, "", 0)
			c.kickLoop()
		}
		return Admitted{}, &RejectError{Kind: m.Kind, Reason: m.RejectReason}
	}
	if !m.DestSignal.IsValid() {
		return Admitted{}, fmt.Errorf("ACF without destCallSignalAddress: %w", ErrRejected)
	}
	c.mu.Lock()
	c.calls[a.CallID] = &admitted{a: a}
	c.mu.Unlock()
	return Admitted{DestSignal: m.DestSignal, CallModel: m.CallModel, Bandwidth: m.Bandwidth}, nil
}

// Disengage reports the end of an admitted call (DRQ, normalDrop) in the
// background; calls the gatekeeper did not admit, or already ended, are
// ignored.
func (c *Client) Disengage(a Admission) {
	c.mu.Lock()
	_, ok := c.calls[a.CallID]
	delete(c.calls, a.CallID)
	reg := c.regCopy()
	gk := c.gk
	if !ok || !c.started || c.closed {
		c.mu.Unlock()
		return
	}
	select {
	case c.drqSem <- struct{}{}:
	default:
		c.mu.Unlock()
		c.log.Warn("too many DRQs in flight; the gatekeeper will learn of the call's end from its IRQ")
		return
	}
	// Under c.mu, so that Close (which sets closed under it) waits for this DRQ.
	c.wg.Add(1)
	c.drqs.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		defer c.drqs.Done()
		defer func() { <-c.drqSem }()
		cr := a.callRAS()
		m, err := c.transact(c.ctx, gk, func(seq int) ([]byte, error) { return reg.DRQ(seq, cr, "normalDrop") },
			"disengageConfirm", "disengageReject")
		switch {
		case err != nil:
			c.log.Warn("DRQ", "err", err)
		case m.Kind == "disengageReject":
			c.log.Info("gatekeeper rejected DRQ", "reason", m.RejectReason)
		}
	}()
}
