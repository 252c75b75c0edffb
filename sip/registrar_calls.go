package sip

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/roomgate/roomgate/conf"
)

// Calls to address-book users (an INVITE whose Request-URI user is a user
// ID, not a conference). The caller must authenticate with digest like a
// REGISTER (an unauthenticated caller is challenged and never makes the
// server call anyone); then conf decides (conf.Service.RouteCall):
//
//   - a call to the owner of a running conference rings while the owner
//     is asked to admit the caller (RequestAdmission); admitted, the call
//     continues as a dial-in to that conference (its PIN and access rules
//     apply as to anyone dialling it); declined or unanswered: 603;
//   - a call placed by the owner or a moderator from inside a running
//     conference invites the target into it: the call itself is answered
//     480 with a Warning that names the conference;
//   - otherwise a point-to-point call (conf.Service.CallUser): conf makes
//     an ad-hoc room owned by the caller and rings the callee's devices
//     while the caller hears ringing; once the callee is in, the call
//     continues as the caller's dial-in to that room, so the bridge mixes
//     the two (a B2BUA whose media go through the mixer), and either can
//     turn it into a conference by inviting a third. A callee who does not
//     answer gets the caller 486 (busy), 603 (declined), 480 (no answer),
//     404 (no such user, or no registered device) or 487 (cancelled).
//
// The caller authenticated here is handed to the dial-in that follows,
// so that he joins as himself: the owner of the ad-hoc room, or a known
// user in the owner's conference.

// CallRouter is conf's side of calls to users; *conf.Service implements
// it. A Registry that also implements it enables those calls.
type CallRouter interface {
	GetConference(ctx context.Context, id string) (conf.Conference, error)
	GetUser(ctx context.Context, id string) (conf.User, error)
	RouteCall(ctx context.Context, caller conf.User, target string) (conf.CallRoute, error)
	RequestAdmission(ctx context.Context, confID string, caller conf.User, display string) error
	CallUser(ctx context.Context, caller conf.User, target string) (conf.Conference, error)
}

// routeUserCall handles an INVITE to an address-book user. It reports
// handled false when the INVITE is not one (or no registrar routes such
// calls), so that it goes on as a dial-in; with true the INVITE was
// answered. For an admitted caller it rewrites the Request-URI to the
// conference, reports false, and returns the user digest authentication
// proved him to be, so that he joins as himself.
func (s *Server) routeUserCall(req *sipmsg.Request, tx sipmsg.ServerTransaction) (handled bool, callerID string) {
	r := s.registrar.Load()
	if r == nil {
		return false, ""
	}
	router, ok := r.reg.(CallRouter)
	if !ok {
		return false, ""
	}
	target := req.Recipient.User
	if target == "" || !conf.ValidAccountID(target) {
		return false, ""
	}
	ctx := s.ctx
	if _, err := router.GetConference(ctx, target); err == nil {
		return false, "" // a conference ID: a dial-in
	}
	if _, err := router.GetUser(ctx, target); err != nil {
		return false, ""
	}
	caller, ok := r.authenticate(ctx, s, req, tx)
	if !ok {
		return true, ""
	}
	log := s.log.With("call_id", callIDOf(req), "caller", caller.ID, "target", target, "src", req.Source())
	route, err := router.RouteCall(ctx, caller, target)
	switch {
	case errors.Is(err, conf.ErrForbidden), errors.Is(err, conf.ErrUnauthorized):
		log.Warn("call to a user refused", "err", err)
		s.respond(tx, req, 403, "Forbidden", nil)
		return true, ""
	case err != nil:
		log.Error("routing a call to a user", "err", err)
		s.respond(tx, req, 500, "Server Internal Error", nil)
		return true, ""
	}
	switch route.Route {
	case conf.RouteInvited:
		log.Info("call became an invitation", "conf", route.ConferenceID)
		s.respond(tx, req, 480, "Temporarily Unavailable", nil,
			sipmsg.NewHeader("Warning", `399 roomgate "invited into conference `+route.ConferenceID+`"`))
		return true, ""
	case conf.RouteJoinOwner:
		if route.NeedsConfirmation && !s.awaitAdmission(req, tx, router, caller, route.ConferenceID) {
			return true, ""
		}
		log.Info("caller admitted into the owner's conference", "conf", route.ConferenceID)
		req.Recipient.User = route.ConferenceID
		return false, caller.ID
	default:
		confID, ok := s.callUser(req, tx, router, caller, target, log)
		if !ok {
			return true, ""
		}
		log.Info("point-to-point call answered; the caller joins the room", "conf", confID)
		req.Recipient.User = confID
		return false, caller.ID
	}
}

// callUser rings the callee of a point-to-point call while the caller
// hears ringing. It returns the ad-hoc room once the callee is in it;
// otherwise it has answered the INVITE and reports false.
func (s *Server) callUser(req *sipmsg.Request, tx sipmsg.ServerTransaction, router CallRouter, caller conf.User, target string, log *slog.Logger) (string, bool) {
	ctx, cancel := context.WithCancelCause(s.ctx)
	defer cancel(nil)
	var once sync.Once
	onCancel := func(*sipmsg.Request) { once.Do(func() { cancel(ErrCancelled) }) }
	if stx, ok := tx.(*sipmsg.ServerTx); ok && !stx.OnCancel(onCancel) {
		onCancel(nil)
	}
	s.sendRinging(tx, req)
	c, err := router.CallUser(ctx, caller, target)
	if err == nil {
		return c.ID, true
	}
	code, reason := p2pFailure(err, context.Cause(ctx))
	log.Info("point-to-point call not connected", "status", code, "err", err)
	s.respond(tx, req, code, reason, nil)
	return "", false
}

// p2pFailure maps why a point-to-point call failed to the caller's final
// answer. Of several devices' answers a decline wins over busy, busy over
// no answer (RFC 3261 §16.7: 6xx first).
func p2pFailure(err, cause error) (int, string) {
	switch {
	case errors.Is(cause, ErrCancelled):
		return 487, "Request Terminated"
	case errors.Is(err, conf.ErrForbidden), errors.Is(err, conf.ErrUnauthorized):
		return 403, "Forbidden"
	case errors.Is(err, conf.ErrCalleeNotRegistered), errors.Is(err, conf.ErrNotFound):
		return 404, "Not Found"
	case errors.Is(err, ErrDeclined):
		return 603, "Decline"
	case errors.Is(err, ErrBusy):
		return 486, "Busy Here"
	case errors.Is(err, ErrShutdown), errors.Is(err, conf.ErrDialingStopped):
		return 503, "Service Unavailable"
	default:
		return 480, "Temporarily Unavailable"
	}
}

// sendRinging answers 180 with a To tag (RFC 3261 §8.2.6.2); the dial-in
// that follows answers with its own, as a forked call would.
func (s *Server) sendRinging(tx sipmsg.ServerTransaction, req *sipmsg.Request) {
	ring := sipmsg.NewResponseFromRequest(req, 180, "Ringing", nil)
	if to := ring.To(); to != nil {
		if to.Params == nil {
			to.Params = sipmsg.NewParams()
		}
		to.Params.Add("tag", randomToken(8))
	}
	s.send(tx, ring)
}

// awaitAdmission rings the caller while the owner decides. It reports
// true when admitted; otherwise it has answered the INVITE (603, or 487
// when the caller cancelled).
func (s *Server) awaitAdmission(req *sipmsg.Request, tx sipmsg.ServerTransaction, router CallRouter, caller conf.User, confID string) bool {
	ctx, cancel := context.WithCancelCause(s.ctx)
	defer cancel(nil)
	var once sync.Once
	onCancel := func(*sipmsg.Request) { once.Do(func() { cancel(ErrCancelled) }) }
	if stx, ok := tx.(*sipmsg.ServerTx); ok && !stx.OnCancel(onCancel) {
		onCancel(nil)
	}
	s.sendRinging(tx, req)
	display := caller.DisplayName
	if f := req.From(); f != nil && f.DisplayName != "" {
		display = f.DisplayName
	}
	err := router.RequestAdmission(ctx, confID, caller, display)
	switch {
	case err == nil:
		return true
	case errors.Is(context.Cause(ctx), ErrCancelled):
		s.respond(tx, req, 487, "Request Terminated", nil)
	default:
		s.log.Info("caller not admitted", "conf", confID, "caller", caller.ID, "err", err)
		s.respond(tx, req, 603, "Decline", nil)
	}
	return false
}
