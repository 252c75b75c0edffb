package call

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/h323/h225"
)

// Dial-out for conf: the server calls an h323: target with Fast Connect
// offered (slow start follows when the callee refuses it), tunnelled H.245,
// our alias as sourceAddress and the conference's name in the Display IE.
// With a gatekeeper the call is admitted first (ARQ) and goes where the ACF
// says, so "#h323:alias" targets work; DRQ follows its end. Once answered
// and with audio open, the call joins the conference through Conferences
// as a conf.DialledLeg, exactly as an answered dial-in call does. Post-dial
// digits go as UserInputIndication after the join, ',' pausing a second.

// postdialPause is the pause a ',' in post-dial digits asks for.
const postdialPause = time.Second

// Dialer returns the conf.Dialer that calls h323: targets from this server;
// register it with conf.Service.RegisterDialer.
func (s *Server) Dialer() conf.Dialer { return h323Dialer{s: s} }

type h323Dialer struct{ s *Server }

// Schemes implements conf.Dialer.
func (d h323Dialer) Schemes() []string { return []string{conf.SchemeH323} }

// Dial implements conf.Dialer.
func (d h323Dialer) Dial(ctx context.Context, req conf.DialRequest) (conf.DialResult, error) {
	res, err := d.s.dialOut(ctx, req)
	if err != nil {
		return conf.DialResult{}, fmt.Errorf("calling %s: %w", req.Target.Display, err)
	}
	return res, nil
}

// targetOf turns a parsed call string into where to call: the alias goes
// as h323-ID, and as dialedDigits too when it is all digits.
func targetOf(t conf.Target) (h225.Target, error) {
	if t.Scheme != conf.SchemeH323 {
		return h225.Target{}, fmt.Errorf("%w: scheme %q is not h323", ErrConfig, t.Scheme)
	}
	out := h225.Target{Host: t.Host, Port: t.Port}
	if t.User != "" {
		out.Dest = append(out.Dest, h225.H323ID(t.User))
		if strings.Trim(t.User, "0123456789*#,") == "" {
			out.Dest = append(out.Dest, h225.Digits(t.User))
		}
	}
	return out, nil
}

// dialOut places one call for conf and joins it once answered.
func (s *Server) dialOut(ctx context.Context, req conf.DialRequest) (conf.DialResult, error) {
	s.mu.Lock()
	running := s.started && !s.draining
	s.mu.Unlock()
	if !running {
		return conf.DialResult{}, ErrClosed
	}
	t, err := targetOf(req.Target)
	if err != nil {
		return conf.DialResult{}, err
	}
	if t.Host == "" && s.cfg.Gatekeeper == nil {
		return conf.DialResult{}, ErrNoRoute
	}
	display := req.DisplayName
	if display == "" {
		display = s.env.display
	}
	o := DialOptions{Media: s.env.media, Room: req.ConferenceID, Codecs: s.cfg.Codecs, Video: s.cfg.Video, FastStart: !s.cfg.NoFastStart,
		Tunnelling: !s.cfg.NoTunnelling, DisplayName: display, Source: s.cfg.Alias, Vendor: s.cfg.Vendor,
		ConnectTimeout: s.cfg.RingTimeout, H245Timeout: s.cfg.H245Timeout, Logger: s.log, OnDigit: s.cfg.OnDigit,
		Gatekeeper: s.cfg.Gatekeeper, srv: s, metrics: s.env.m}
	o.netDial = s.env.dial
	k, err := dialTarget(ctx, t, o)
	if err != nil {
		s.env.m.calls.WithLabelValues("dial_failed").Inc()
		return conf.DialResult{}, err
	}
	c := k.c
	name := req.Target.Display
	var remote string
	if err := c.doWait(ctx, func() {
		if c.peerName != "" {
			name = c.peerName
		}
		remote = c.conn.RemoteAddr().String()
	}); err != nil {
		return conf.DialResult{}, err
	}
	p, err := s.confs.Join(ctx, c.joinRequest(req.ConferenceID, name, true))
	if err != nil {
		err = joinFailure(req.ConferenceID, err)
		c.hangup(err)
		<-c.done
		return conf.DialResult{}, err
	}
	ran := false
	if err := c.doWait(context.WithoutCancel(ctx), func() {
		c.part, c.confs = p, s.confs
		ran = true
	}); err != nil || !ran {
		// The call ended before the loop took the participant: teardown did not see it.
		s.confs.Leave(p, c.cause)
		return conf.DialResult{}, fmt.Errorf("call ended as it joined: %w", c.cause)
	}
	s.env.m.calls.WithLabelValues("dialled").Inc()
	c.log.Info("h323 outgoing call joined", "participant", p.ID())
	if pd := req.Target.Postdial; pd != "" {
		s.sendPostdial(k, pd)
	}
	return conf.DialResult{ParticipantID: p.ID(), Remote: remote}, nil
}

// sendPostdial sends post-dial digits in the background, within the
// server's lifetime.
func (s *Server) sendPostdial(k *Call, digits string) {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		for _, d := range digits {
			if d == ',' {
				t := time.NewTimer(postdialPause)
				select {
				case <-t.C:
				case <-k.c.done:
					t.Stop()
					return
				}
				continue
			}
			if err := k.SendDigits(s.ctx, string(d)); err != nil {
				k.c.log.Info("post-dial digits not sent", "err", err)
				return
			}
		}
	}()
}

var _ conf.DialledLeg = legHandle{}
