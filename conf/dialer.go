package conf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Dial-out. conf decides who may be called and into which conference; the
// signalling packages (sip, h323, rtsp) implement Dialer for their call
// string schemes and register with the Service, so conf never imports
// them. A dialer that reaches its target joins the answered leg through
// Service.Join, exactly as a dial-in leg does, so every admission rule
// (capacity, lock, removals) holds for invited legs too.

// Dialer calls a target into a conference over one protocol.
type Dialer interface {
	// Schemes lists the call-string schemes the dialer handles (SchemeSIP,
	// SchemeSIPS, ...).
	Schemes() []string
	// Dial calls req.Target and, once it answers, joins it to
	// req.ConferenceID. It returns when the call is answered and joined,
	// or failed (busy, no answer, refused, ctx done); it must honour ctx.
	Dial(ctx context.Context, req DialRequest) (DialResult, error)
}

// DialRequest is one call to place.
type DialRequest struct {
	ConferenceID string
	Target       Target
	// DisplayName is what the called party sees as the caller (the
	// conference's name).
	DisplayName string
	// Moderator: the invitation makes the target a moderator.
	Moderator bool
	// By is the user who asked for the call, for logs and call records.
	By User
	// UserID is the address-book user whose registered device is called,
	// empty for a call string.
	UserID string
}

// DialledLeg is implemented by legs a Dialer placed: the server called
// them because a moderator invited them, so Join admits them to an
// internal conference although they are not address-book users. Every
// other rule (lock, capacity, removals) still holds.
type DialledLeg interface {
	LegHandle
	// Dialled reports whether the server placed the call.
	Dialled() bool
}

func isDialledLeg(l LegHandle) bool {
	d, ok := l.(DialledLeg)
	return ok && d.Dialled()
}

// DialResult is an answered call.
type DialResult struct {
	// ParticipantID is the live participant the answered leg became.
	ParticipantID string
	// Remote is the signalling address of the answering party.
	Remote string
}

// Invitation dial events of the live event stream; Cause says why a dial
// failed.
const (
	EventDialing     = "invite_dialing"
	EventDialAnswer  = "invite_answered"
	EventDialFailed  = "invite_failed"
	EventDialSkipped = "invite_not_dialled"
)

// Dial statuses of an InviteResult.
const (
	// DialStatusDialing: a dialer is calling the target; the outcome comes
	// as an event.
	DialStatusDialing = "dialing"
	// DialStatusInvited: the target is invited but cannot be called now
	// (an address-book user with no registered device, a conference, or a
	// scheme no dialer serves); he may still dial in. For a user the
	// Message then starts with "not reachable".
	DialStatusInvited = "invited"
	// DialStatusMailed: an address-book user with no registered device
	// was sent the invitation by e-mail.
	DialStatusMailed = "mailed"
)

// NotReachable starts the Message of an invited user who can be neither
// called nor mailed.
const NotReachable = "not reachable"

// InviteResult says what became of one target of InviteAndDial.
type InviteResult struct {
	Target  string `json:"target"` // display form, without passwords
	Kind    string `json:"kind"`
	Scheme  string `json:"scheme,omitempty"`
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// dialState is the Service's registry of dialers and its calls in flight.
type dialState struct {
	mu      sync.Mutex
	dialers map[string]Dialer
	// cancels holds the cancel function of each call in flight by a
	// serial number (pointers to zero-size values may all be equal, so
	// they cannot serve as keys).
	cancels map[uint64]context.CancelCauseFunc
	serial  uint64
	stopped bool
	wg      sync.WaitGroup

	users userState // registered devices, SIP auth guard, retries (registry.go)
}

// ErrDialingStopped is the cause given to dials cancelled because the
// Service is closing.
var ErrDialingStopped = errors.New("conf: dialling stopped")

// RegisterDialer makes d dial every scheme it lists, replacing an earlier
// dialer of the same scheme.
func (s *Service) RegisterDialer(d Dialer) {
	s.dial.mu.Lock()
	defer s.dial.mu.Unlock()
	if s.dial.dialers == nil {
		s.dial.dialers = make(map[string]Dialer)
	}
	for _, sc := range d.Schemes() {
		s.dial.dialers[strings.ToLower(sc)] = d
	}
}

func (s *Service) dialerFor(scheme string) Dialer {
	s.dial.mu.Lock()
	defer s.dial.mu.Unlock()
	return s.dial.dialers[scheme]
}

// InviteAndDial invites targets (call strings, user or group IDs) into
// conference confID and calls each one a registered dialer can reach.
// Every target is parsed first: one that does not parse fails the whole
// request with a *ValidationError naming it ("participants[2]"), before
// anything is dialled. Only those who may moderate the conference may
// invite, and the server calls only what the actor's dial-out rule allows
// (DialOutRule: none calls nobody, internal no telephone numbers); a
// target the rule forbids fails the whole request with ErrForbidden.
//
// An address-book user is called on every device he registered, in
// parallel; the first to answer joins and the others are cancelled. A
// user with no registered device is sent the invitation by e-mail when he
// has an address and a Mailer is configured, else his result says
// NotReachable. A group invites each member so, with one result for the
// group.
//
// The invitations are recorded and lift earlier removals (see Invite).
// Calls run in the background, bounded by the Service's life (Close
// cancels them); their outcome comes as EventDialAnswer or
// EventDialFailed.
func (s *Service) InviteAndDial(ctx context.Context, actor User, confID string, targets []string) ([]InviteResult, error) {
	c, err := s.conferenceFor(ctx, actor, confID, ActionModerate)
	if err != nil {
		return nil, fmt.Errorf("inviting: %w", err)
	}
	if len(targets) == 0 {
		return nil, invalid("participants", "must name at least one target")
	}
	if len(targets) > MaxInvitations {
		return nil, invalid("participants", "must have at most %d entries", MaxInvitations)
	}
	parsed := make([]Target, len(targets))
	invs := make([]Invitation, len(targets))
	for i, raw := range targets {
		field := fmt.Sprintf("participants[%d]", i)
		if len(raw) > MaxInvitationLen {
			return nil, invalid(field, "longer than %d bytes", MaxInvitationLen)
		}
		t, err := ParseCallString(raw)
		if err != nil {
			var ce *CallStringError
			if errors.As(err, &ce) {
				return nil, invalid(field, "%s: %s", ce.Part, ce.Message)
			}
			return nil, invalid(field, "%v", err)
		}
		if t.Kind != TargetConference {
			if err := mayDial(actor, t); err != nil {
				s.log.WarnContext(ctx, "dial-out refused by the dial-out rule", "conf", confID, "by", actor.ID,
					"rule", DialOutRule(actor), "target", t.Display)
				return nil, fmt.Errorf("%s: %w", field, err)
			}
		}
		parsed[i] = t
		invs[i] = Invitation{Target: strings.Trim(raw, " ")}
	}
	// Record the invitations first: that lifts removals, so that the
	// answered legs pass Join's ban check.
	if _, err := s.Invite(ctx, actor, confID, invs); err != nil {
		return nil, err
	}
	out := make([]InviteResult, len(parsed))
	for i, t := range parsed {
		out[i] = s.dialTarget(ctx, actor, c, t, false, nil)
	}
	s.log.InfoContext(ctx, "inviting by call string", "conf", confID, "targets", len(targets), "by", actor.ID)
	return out, nil
}

// dialTarget calls one parsed target into conference c on actor's behalf
// (his dial-out rule already checked) and says what became of it. retry,
// when not nil, is how a scheduled start retries calls that fail.
func (s *Service) dialTarget(ctx context.Context, actor User, c Conference, t Target, moderator bool, retry *retryPolicy) InviteResult {
	res := InviteResult{Target: t.Display, Kind: t.Kind, Scheme: t.Scheme, Status: DialStatusInvited}
	switch t.Kind {
	case TargetAddress:
		d := s.dialerFor(t.Scheme)
		if d == nil {
			res.Message = fmt.Sprintf("no %s dialler is configured", t.Scheme)
			break
		}
		req := DialRequest{ConferenceID: c.ID, Target: t, DisplayName: c.Name, Moderator: moderator, By: actor}
		if err := s.startCalls(ctx, t.Display, []forkCall{{d, req}}, retry); err != nil {
			res.Message = err.Error()
			break
		}
		res.Status = DialStatusDialing
		return res
	case TargetUser:
		return s.dialUserOrGroup(ctx, actor, c, t, moderator, retry)
	case TargetConference:
		res.Message = "conferences are not dialled"
	}
	s.emit(Event{Type: EventDialSkipped, ConferenceID: c.ID, Target: t.Display, By: actor.ID, Cause: res.Message})
	return res
}

// dialUserOrGroup rings an address-book user, or each member of a group.
func (s *Service) dialUserOrGroup(ctx context.Context, actor User, c Conference, t Target, moderator bool, retry *retryPolicy) InviteResult {
	res := InviteResult{Target: t.Display, Kind: t.Kind, Status: DialStatusInvited}
	u, err := s.store.GetUser(ctx, t.User)
	if err == nil {
		res.Status, res.Message = s.dialUser(ctx, actor, c, u, moderator, retry)
		return res
	}
	if !errors.Is(err, ErrNotFound) {
		res.Message = fmt.Sprintf("reading user %s: %v", t.User, err)
		return res
	}
	var g Group
	if s.book != nil {
		g, err = s.book.GetGroup(ctx, t.User)
	}
	if s.book == nil || err != nil {
		res.Message = NotReachable + ": no such user or group in the address book"
		s.emit(Event{Type: EventDialSkipped, ConferenceID: c.ID, Target: t.Display, By: actor.ID, Cause: res.Message})
		return res
	}
	counts := map[string]int{}
	for _, m := range g.Members {
		mu, err := s.store.GetUser(ctx, m)
		if err != nil {
			counts[NotReachable]++
			continue
		}
		st, msg := s.dialUser(ctx, actor, c, mu, moderator, retry)
		if st == DialStatusInvited && strings.HasPrefix(msg, NotReachable) {
			st = NotReachable
		}
		counts[st]++
	}
	if counts[DialStatusDialing] > 0 {
		res.Status = DialStatusDialing
	} else if counts[DialStatusMailed] > 0 {
		res.Status = DialStatusMailed
	}
	res.Message = fmt.Sprintf("group of %d: %d called, %d e-mailed, %d %s", len(g.Members),
		counts[DialStatusDialing], counts[DialStatusMailed], counts[NotReachable]+counts[DialStatusInvited], NotReachable)
	return res
}

// dialUser rings every registered device of u, or mails him. It returns
// the status and message of his result.
func (s *Service) dialUser(ctx context.Context, actor User, c Conference, u User, moderator bool, retry *retryPolicy) (string, string) {
	var calls []forkCall
	for _, b := range s.Contacts(u.ID) {
		t, err := ParseCallString(b.Contact)
		if err != nil || t.Kind != TargetAddress {
			s.log.InfoContext(ctx, "registered contact is not a callable address", "user", u.ID,
				"contact", contactDisplay(b.Contact), "err", err)
			continue
		}
		d := s.dialerFor(t.Scheme)
		if d == nil {
			continue
		}
		calls = append(calls, forkCall{d, DialRequest{ConferenceID: c.ID, Target: t, DisplayName: c.Name,
			Moderator: moderator, By: actor, UserID: u.ID}})
	}
	if len(calls) > 0 {
		if err := s.startCalls(ctx, u.ID, calls, retry); err != nil {
			return DialStatusInvited, err.Error()
		}
		return DialStatusDialing, fmt.Sprintf("ringing %d registered device(s)", len(calls))
	}
	if u.Email != "" && s.mail.mailer != nil {
		s.mailUser(ctx, c, u.Email)
		return DialStatusMailed, "no registered device; invitation e-mailed"
	}
	msg := NotReachable + ": no registered device and no e-mail address"
	if u.Email != "" {
		msg = NotReachable + ": no registered device and no mail server configured"
	}
	s.emit(Event{Type: EventDialSkipped, ConferenceID: c.ID, Target: u.ID, By: actor.ID, Cause: msg})
	return DialStatusInvited, msg
}

// mailUser mails the invitation to c to an address-book user, through the
// bounded sender of e-mail invitations (guestmail.go). That sender mails
// only the new mailto: invitations of public conferences, because guests
// are invited so; a user of the address book may be invited to any
// conference, so it is handed a copy that names just his address.
func (s *Service) mailUser(ctx context.Context, c Conference, addr string) {
	cc := c
	cc.Access = AccessPublic
	cc.Invitations = []Invitation{{Target: MailtoScheme + addr}}
	s.mailNewInvitations(ctx, nil, cc)
}

// forkCall is one call of a fork: a dialer and what to ask it.
type forkCall struct {
	d   Dialer
	req DialRequest
}

// ErrAnsweredElsewhere is the cause given to the calls of a fork that
// lost: another device of the user answered first.
var ErrAnsweredElsewhere = errors.New("conf: answered on another device")

// startCalls runs, in the background, the calls of one target: several
// for a user with several devices (the first to answer wins and the
// others are cancelled), one otherwise. display names the target in
// events. With retry, failed attempts are repeated (callInvitees). The
// calls outlive the request that asked for them (an HTTP request ends
// with its 202), so their context keeps ctx's values but not its
// cancellation; Close cancels them.
func (s *Service) startCalls(ctx context.Context, display string, calls []forkCall, retry *retryPolicy) error {
	s.dial.mu.Lock()
	if s.dial.stopped {
		s.dial.mu.Unlock()
		return ErrDialingStopped
	}
	dctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	s.dial.serial++
	key := s.dial.serial
	if s.dial.cancels == nil {
		s.dial.cancels = make(map[uint64]context.CancelCauseFunc)
	}
	s.dial.cancels[key] = cancel
	s.dial.wg.Add(1)
	s.dial.mu.Unlock()

	req := calls[0].req
	go func() {
		defer s.dial.wg.Done()
		defer func() {
			s.dial.mu.Lock()
			delete(s.dial.cancels, key)
			s.dial.mu.Unlock()
			cancel(nil)
		}()
		for attempt := 0; ; attempt++ {
			s.emit(Event{Type: EventDialing, ConferenceID: req.ConferenceID, Target: display, By: req.By.ID})
			res, err := s.fork(dctx, calls)
			if err == nil {
				s.log.InfoContext(dctx, "invited target answered", "conf", req.ConferenceID, "target", display, "leg", res.ParticipantID)
				s.emit(Event{Type: EventDialAnswer, ConferenceID: req.ConferenceID, Target: display, By: req.By.ID,
					ParticipantID: res.ParticipantID})
				return
			}
			if cause := context.Cause(dctx); cause != nil && !errors.Is(err, cause) {
				err = fmt.Errorf("%w (%w)", err, cause)
			}
			s.log.InfoContext(dctx, "invited target not reached", "conf", req.ConferenceID, "target", display,
				"attempt", attempt+1, "err", err)
			s.emit(Event{Type: EventDialFailed, ConferenceID: req.ConferenceID, Target: display, By: req.By.ID,
				Cause: strings.TrimPrefix(err.Error(), "conf: ")})
			if retry == nil || attempt >= retry.retries || dctx.Err() != nil || !retry.wait(dctx) {
				return
			}
			if !s.stillWanted(req) {
				return
			}
		}
	}()
	return nil
}

// fork places calls in parallel and returns the first answer; the other
// calls are cancelled with ErrAnsweredElsewhere, and one that answered
// all the same is hung up. With one call it is just that call.
func (s *Service) fork(ctx context.Context, calls []forkCall) (DialResult, error) {
	if len(calls) == 1 {
		return calls[0].d.Dial(ctx, calls[0].req)
	}
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type outcome struct {
		res DialResult
		err error
	}
	ch := make(chan outcome, len(calls))
	for _, fc := range calls {
		go func() {
			res, err := fc.d.Dial(fctx, fc.req)
			ch <- outcome{res, err}
		}()
	}
	var won *DialResult
	var errs []error
	for range calls {
		o := <-ch
		switch {
		case o.err != nil:
			if !errors.Is(o.err, ErrAnsweredElsewhere) {
				errs = append(errs, o.err)
			}
		case won == nil:
			won = &o.res
			cancel(ErrAnsweredElsewhere)
		default:
			s.hangUpParticipant(calls[0].req.ConferenceID, o.res.ParticipantID, ErrAnsweredElsewhere)
		}
	}
	if won != nil {
		return *won, nil
	}
	return DialResult{}, fmt.Errorf("no device answered: %w", errors.Join(errs...))
}

// hangUpParticipant hangs up live participant pid, if he is still there.
func (s *Service) hangUpParticipant(confID, pid string, cause error) {
	if p, err := s.liveParticipant(confID, pid); err == nil {
		p.leg.Hangup(cause)
	}
}

// StopDialing cancels the dials in flight with ErrDialingStopped, refuses
// new ones and waits for the dialers to return. Call it before closing the
// signalling servers the dialers use; Close calls it too. It is idempotent.
func (s *Service) StopDialing() {
	s.dial.mu.Lock()
	s.dial.stopped = true
	for _, cancel := range s.dial.cancels {
		cancel(ErrDialingStopped)
	}
	s.dial.mu.Unlock()
	s.dial.wg.Wait()
}
