package ras

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The registration state machine (H.225.0 clause 7.9): unregistered →
// (GRQ) → RRQ → registered; registered → lightweight RRQ at three quarters
// of timeToLive → registered; RRJ, a timeout or the gatekeeper's URQ →
// unregistered, and registering again after a backoff that doubles from
// MinBackoff to MaxBackoff while failures last. An alias change is a full
// RRQ while the old registration stays valid.

// loop runs the registration until ctx ends.
func (c *Client) loop(ctx context.Context) {
	backoff := time.Duration(0)
	var renew *time.Timer
	defer func() {
		if renew != nil {
			renew.Stop()
		}
	}()
	for ctx.Err() == nil {
		c.mu.Lock()
		registered, dirty, urq := c.registered, c.dirty, c.urq
		c.urq = false
		ttl := c.ttl
		c.mu.Unlock()
		if urq && !registered {
			// Register again later, not at once: the gatekeeper may be going down for maintenance.
			backoff = max(backoff, c.cfg.MinBackoff)
		}
		if !registered || dirty {
			if backoff > 0 && !c.sleep(ctx, backoff) {
				return
			}
			err := c.register(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				backoff = min(max(2*backoff, c.cfg.MinBackoff), c.cfg.MaxBackoff)
				c.log.Warn("gatekeeper registration failed", "err", err, "retry_in", backoff)
				continue
			}
			backoff = 0
			continue
		}
		wait := renewAfter(ttl)
		if renew == nil {
			renew = time.NewTimer(wait)
		} else {
			renew.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
			// Aliases changed or the gatekeeper unregistered us: the top of the loop decides.
			renew.Stop()
		case <-renew.C:
			if err := c.keepAlive(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				c.log.Warn("gatekeeper keep-alive failed; registering again", "err", err)
				c.setRegistered(false, "", 0)
				var rj *RejectError
				if !errors.As(err, &rj) {
					// No answer: the gatekeeper may be down; do not hammer it.
					backoff = c.cfg.MinBackoff
				}
			}
		}
	}
}

// renewAfter is when the keep-alive goes: three quarters of the lifetime.
func renewAfter(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		ttl = DefaultTimeToLive
	}
	return max(ttl*3/4, 500*time.Millisecond)
}

// sleep waits d; false when ctx ended first. Kicks wait too: an alias
// change during a backoff goes in the registration that ends it.
func (c *Client) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// register discovers the gatekeeper when asked to (or told to by RRJ
// discoveryRequired) and sends a full RRQ.
func (c *Client) register(ctx context.Context) error {
	c.mu.Lock()
	discover := c.cfg.Discover && !c.gkDiscovered
	c.mu.Unlock()
	if discover {
		if err := c.discover(ctx); err != nil {
			return err
		}
	}
	err := c.fullRRQ(ctx)
	var rj *RejectError
	if errors.As(err, &rj) && rj.Reason == "discoveryRequired" {
		if err := c.discover(ctx); err != nil {
			return err
		}
		err = c.fullRRQ(ctx)
	}
	return err
}

// discover sends GRQ to the configured gatekeeper (H.225.0 clause 7.9.1,
// unicast discovery) and adopts the RAS address and identifier of its GCF.
func (c *Client) discover(ctx context.Context) error {
	gk, err := c.resolve(ctx)
	c.mu.Lock()
	reg := c.regCopy()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	m, err := c.transact(ctx, gk, reg.GRQ, "gatekeeperConfirm", "gatekeeperReject")
	if err != nil {
		return fmt.Errorf("GRQ: %w", err)
	}
	if m.Kind == "gatekeeperReject" {
		return &RejectError{Kind: m.Kind, Reason: m.RejectReason}
	}
	c.mu.Lock()
	if m.RASAddress.IsValid() && !m.RASAddress.Addr().IsUnspecified() {
		c.gk = m.RASAddress
	} else {
		c.gk = gk
	}
	if m.GatekeeperID != "" {
		c.reg.GatekeeperID = m.GatekeeperID
	}
	c.gkDiscovered = true
	c.mu.Unlock()
	c.log.Info("gatekeeper discovered", "gatekeeper_id", m.GatekeeperID, "ras", m.RASAddress.String())
	return nil
}

// fullRRQ registers our addresses and aliases.
func (c *Client) fullRRQ(ctx context.Context) error {
	c.mu.Lock()
	reg := c.regCopy()
	reg.EndpointID = ""
	gk := c.gk
	c.dirty = false
	c.mu.Unlock()
	m, err := c.transact(ctx, gk, func(seq int) ([]byte, error) { return reg.RRQ(seq, false) },
		"registrationConfirm", "registrationReject")
	if err != nil {
		c.mu.Lock()
		c.dirty = true // the new aliases are still to be registered
		c.mu.Unlock()
		return fmt.Errorf("RRQ: %w", err)
	}
	if m.Kind == "registrationReject" {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		// The gatekeeper refused our registration: we are not registered.
		c.setRegistered(false, "", 0)
		return &RejectError{Kind: m.Kind, Reason: m.RejectReason}
	}
	if m.EndpointID == "" {
		return fmt.Errorf("RCF without an endpoint identifier: %w", ErrRejected)
	}
	ttl := c.granted(m.TimeToLive)
	c.mu.Lock()
	if m.GatekeeperID != "" {
		c.reg.GatekeeperID = m.GatekeeperID
	}
	c.mu.Unlock()
	c.stats.registrations.Add(1)
	c.setRegistered(true, m.EndpointID, ttl)
	c.log.Info("registered with the gatekeeper", "endpoint_id", m.EndpointID, "gatekeeper_id", m.GatekeeperID,
		"time_to_live", ttl, "aliases", len(reg.Aliases))
	return nil
}

// granted is the lifetime to keep: the gatekeeper's, or ours when it names none.
func (c *Client) granted(seconds int) time.Duration {
	if seconds > 0 {
		return time.Duration(seconds) * time.Second
	}
	return c.cfg.TimeToLive
}

// keepAlive renews the registration with a lightweight RRQ (keepAlive TRUE,
// H.225.0 clause 7.9.1).
func (c *Client) keepAlive(ctx context.Context) error {
	c.mu.Lock()
	reg := c.regCopy()
	gk := c.gk
	c.mu.Unlock()
	if reg.GatekeeperID == "" {
		// A lightweight RRQ needs the gatekeeper's identifier; without one, register in full.
		return c.fullRRQ(ctx)
	}
	m, err := c.transact(ctx, gk, func(seq int) ([]byte, error) { return reg.RRQ(seq, true) },
		"registrationConfirm", "registrationReject")
	if err != nil {
		return fmt.Errorf("keep-alive RRQ: %w", err)
	}
	if m.Kind == "registrationReject" {
		return &RejectError{Kind: m.Kind, Reason: m.RejectReason}
	}
	id := m.EndpointID
	if id == "" {
		id = reg.EndpointID
	}
	c.setRegistered(true, id, c.granted(m.TimeToLive))
	c.log.Debug("gatekeeper registration renewed")
	return nil
}
