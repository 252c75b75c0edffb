package call

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/q931"
	"github.com/roomgate/roomgate/h323/ras"
)

// Admission: what the gatekeeper (RAS) and conf decide about a call, and
// how their answers become Q.931 causes.
//
// Every conf admission of an H.323 call goes through joinRequest and
// joinFailure, for calls we answer and calls we place alike. Moving H.323
// to conf's dial-in contract (Service.Admit, Call.Digit, Call.End) changes
// these two functions and the two places that call Conferences.Join
// (onSetup, Server.dialOut); the rest of the package does not care.

// gkTimeout bounds one admission request (ARQ) including its
// retransmissions (H.225.0: 3 s, 2 retries).
const gkTimeout = 10 * time.Second

// joinRequest is the conf.JoinRequest of this call.
func (c *call) joinRequest(room, display string, dialled bool) conf.JoinRequest {
	return conf.JoinRequest{ConferenceID: room, DisplayName: display, Protocol: "h323",
		Remote: c.conn.RemoteAddr().String(), Leg: legHandle{c: c, dialled: dialled}}
}

// joinFailure is the release cause of a call conf refused.
func joinFailure(room string, err error) error {
	return &CauseError{Cause: joinCause(err), Err: fmt.Errorf("joining conference %s: %w", room, err)}
}

// joinCause maps a conf admission failure to the Q.931 cause of our ReleaseComplete.
func joinCause(err error) uint8 {
	switch {
	case errors.Is(err, conf.ErrNotFound):
		return CauseUnallocated
	case errors.Is(err, conf.ErrFull):
		return q931.CauseUserBusy
	case errors.Is(err, conf.ErrLocked), errors.Is(err, conf.ErrUnauthorized), errors.Is(err, conf.ErrRemoved),
		errors.Is(err, conf.ErrForbidden):
		return q931.CauseCallRejected
	}
	return q931.CauseResourceUnavail
}

// ErrDropped is the cause of a call the gatekeeper ended (its DRQ).
var ErrDropped = errors.New("h323 call: ended by the gatekeeper")

// admitIncoming asks the gatekeeper to admit a call we are about to answer
// (ARQ with answerCall, H.225.0 clause 7.10). A refusal releases the call
// with cause 21; a gatekeeper that cannot be asked (we are not registered,
// it does not answer) does not stop calls that reached us directly.
func (c *call) admitIncoming(ctx context.Context, uu *h225.Message) error {
	if c.env.gk == nil {
		return nil
	}
	a := ras.Admission{CallRef: c.crv, CallID: c.callID, ConferenceID: c.confID, Answer: true, Dest: uu.Dest,
		Source: validAliases(uu.Source), Drop: func() { c.hangup(ErrDropped) }}
	actx, cancel := context.WithTimeout(ctx, gkTimeout)
	defer cancel()
	_, err := c.env.gk.Admit(actx, a)
	var rj *ras.RejectError
	switch {
	case err == nil:
		c.admission = &a
		return nil
	case errors.As(err, &rj):
		return &CauseError{Cause: q931.CauseCallRejected, Err: fmt.Errorf("gatekeeper refused the call: %w", err)}
	default:
		c.log.Warn("answering without gatekeeper admission", "err", err)
		return nil
	}
}

// admitOutgoing asks the gatekeeper where to send the Setup of a call we
// place (ARQ, H.225.0 clause 7.10): the ACF's destCallSignalAddress, the
// callee for direct calls or the gatekeeper for routed ones. Without an
// answer, a target with a host is called directly; one without fails.
func admitOutgoing(ctx context.Context, gk Gatekeeper, a ras.Admission, t h225.Target) (netip.AddrPort, bool, error) {
	actx, cancel := context.WithTimeout(ctx, gkTimeout)
	defer cancel()
	ok, err := gk.Admit(actx, a)
	var rj *ras.RejectError
	switch {
	case err == nil:
		return ok.DestSignal, true, nil
	case errors.As(err, &rj):
		kind := ErrDeclined
		switch rj.Reason {
		case "calledPartyNotRegistered", "incompleteAddress", "unallocatedNumber", "noRouteToDestination":
			kind = ErrUnknownTarget
		}
		return netip.AddrPort{}, false, &CauseError{Cause: q931.CauseCallRejected,
			Err: fmt.Errorf("%w: gatekeeper refused admission: %w", kind, err)}
	case t.Host != "" && ctx.Err() == nil:
		return netip.AddrPort{}, false, nil
	default:
		return netip.AddrPort{}, false, fmt.Errorf("%w: asking the gatekeeper: %w", ErrNoRoute, err)
	}
}

// validAliases keeps the aliases that can be sent again (a peer may send
// empty ones or kinds we do not build).
func validAliases(as []h225.Alias) []h225.Alias {
	var out []h225.Alias
	for _, a := range as {
		if a.Value == "" || len(a.Value) > 256 {
			continue
		}
		switch a.Kind {
		case h225.AliasH323ID, h225.AliasURL, h225.AliasEmail:
		case h225.AliasDialedDigits:
			if strings.Trim(a.Value, "0123456789*#,") != "" || len(a.Value) > 128 {
				continue
			}
		default:
			continue
		}
		out = append(out, a)
		if len(out) == 16 {
			break
		}
	}
	return out
}
