package conf

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/roomgate/roomgate/bridge/prompt"
)

// Calls between address-book users while a conference runs (the TrueConf
// rules). The signalling side authenticates the caller (SIP digest
// against his credentials) and asks RouteCall what to do with his call:
//
//   - A call to the owner of a running conference (his user ID) asks the
//     owner to admit the caller: an EventAdmitRequest in the API, and for
//     an owner on a phone a chime with keys 1 (admit) and 2 (decline) on
//     his in-call keypad. The caller waits (ringing) in RequestAdmission
//     until the owner decides, the caller gives up, or AdmitTimeout. With
//     the conference's AdmitWithoutConfirmation he is admitted at once.
//   - A call placed by the owner or a moderator of a running conference,
//     while he is in it, invites the called target into that conference
//     instead of making a point-to-point call (InviteAndDial on his
//     behalf, so his rights and dial-out rule apply).
//   - Anything else is not routed here (RouteNone).
//
// An unauthenticated caller (no user ID) is refused with ErrUnauthorized:
// he can never make the server call anyone.

// Routes of a call between users.
const (
	// RouteNone: no rule applies; the call is handled as any other.
	RouteNone = "none"
	// RouteInvited: the target was invited into the caller's conference.
	RouteInvited = "invited"
	// RouteJoinOwner: the caller asks to join the owner's conference.
	RouteJoinOwner = "join_owner"
)

// Admission events of the live event stream: Target carries the request
// ID that DecideAdmission takes, UserID and DisplayName the caller.
const (
	EventAdmitRequest  = "admit_request"
	EventAdmitted      = "admit_accepted"
	EventAdmitDeclined = "admit_declined"
	EventAdmitExpired  = "admit_expired"
)

// AdmitTimeout bounds how long a caller waits for the owner's answer.
const AdmitTimeout = 60 * time.Second

// maxPendingAdmissions bounds the callers waiting for owners.
const maxPendingAdmissions = 256

// In-call keys of an owner asked to admit a caller.
const (
	AdmitKey   = '1'
	DeclineKey = '2'
)

// ErrAdmissionDeclined: the owner (or a moderator) declined the caller, or
// nobody answered in time.
var ErrAdmissionDeclined = errors.New("conf: admission declined")

// CallRoute is what RouteCall decided.
type CallRoute struct {
	Route        string `json:"route"`
	ConferenceID string `json:"conference_id,omitempty"`
	// NeedsConfirmation (RouteJoinOwner): the owner must admit the caller
	// (RequestAdmission) before he joins.
	NeedsConfirmation bool `json:"needs_confirmation,omitempty"`
	// Results (RouteInvited) of the invitation.
	Results []InviteResult `json:"results,omitempty"`
}

// admitRequest is one caller waiting for an owner.
type admitRequest struct {
	id       string
	confID   string
	caller   User
	display  string
	since    time.Time
	decision chan bool // buffered; the first decision wins
}

// RouteCall decides what to do with a call that authenticated user caller
// places to target (a user ID or a call string).
func (s *Service) RouteCall(ctx context.Context, caller User, target string) (CallRoute, error) {
	if caller.ID == "" {
		s.log.WarnContext(ctx, "call between users refused: caller not authenticated", "target", truncate(target, 64))
		return CallRoute{}, fmt.Errorf("routing a call to %q: the caller is not authenticated: %w", truncate(target, 64), ErrUnauthorized)
	}
	t, err := ParseCallString(target)
	if err != nil {
		return CallRoute{Route: RouteNone}, nil
	}
	if t.Kind == TargetUser && t.User != caller.ID {
		c, running, err := s.runningOf(ctx, t.User)
		if err != nil {
			return CallRoute{}, fmt.Errorf("routing a call to %s: %w", t.User, err)
		}
		if running {
			return CallRoute{Route: RouteJoinOwner, ConferenceID: c.ID, NeedsConfirmation: !c.AdmitWithoutConfirmation}, nil
		}
	}
	if t.Kind == TargetConference || t.Kind == TargetUser && t.User == caller.ID {
		return CallRoute{Route: RouteNone}, nil
	}
	confID := s.moderatingIn(caller.ID)
	if confID == "" {
		return CallRoute{Route: RouteNone}, nil
	}
	res, err := s.InviteAndDial(ctx, caller, confID, []string{target})
	if err != nil {
		return CallRoute{}, fmt.Errorf("inviting by calling: %w", err)
	}
	s.log.InfoContext(ctx, "call from a moderator in a conference became an invitation", "conf", confID, "by", caller.ID, "target", t.Display)
	return CallRoute{Route: RouteInvited, ConferenceID: confID, Results: res}, nil
}

// moderatingIn returns the conference in which userID takes part live as
// owner or moderator (the one he joined first), or "".
func (s *Service) moderatingIn(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best string
	var since time.Time
	for id, r := range s.rooms {
		for _, p := range r.legs {
			if p.userID != userID || (p.Role() != RoleOwner && p.Role() != RoleModerator) {
				continue
			}
			if best == "" || p.joinedAt.Before(since) {
				best, since = id, p.joinedAt
			}
		}
	}
	return best
}

// RequestAdmission asks the owner of conference confID to admit caller
// (shown as display) and waits for the answer: nil when admitted,
// ErrAdmissionDeclined when declined or unanswered within AdmitTimeout,
// or ctx's error when the caller gave up. A conference with
// AdmitWithoutConfirmation admits at once.
func (s *Service) RequestAdmission(ctx context.Context, confID string, caller User, display string) error {
	c, err := s.GetConference(ctx, confID)
	if err != nil {
		return fmt.Errorf("asking to be admitted: %w", err)
	}
	if c.AdmitWithoutConfirmation {
		return nil
	}
	if display == "" {
		display = caller.DisplayName
	}
	id, err := randomID(s.rand)
	if err != nil {
		return fmt.Errorf("asking to be admitted: %w", err)
	}
	req := &admitRequest{id: id, confID: confID, caller: caller, display: display, since: s.clock(), decision: make(chan bool, 1)}
	st := &s.dial.users
	st.mu.Lock()
	if len(st.admits) >= maxPendingAdmissions {
		st.mu.Unlock()
		return fmt.Errorf("asking to be admitted to %s: too many callers waiting: %w", confID, ErrAdmissionDeclined)
	}
	if st.admits == nil {
		st.admits = make(map[string]*admitRequest)
	}
	st.admits[id] = req
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		delete(st.admits, id)
		st.mu.Unlock()
	}()
	ev := Event{ConferenceID: confID, UserID: caller.ID, DisplayName: display, Target: id}
	ev.Type = EventAdmitRequest
	s.emit(ev)
	s.log.InfoContext(ctx, "caller asks the owner to be admitted", "conf", confID, "caller", caller.ID, "request", id)
	s.chimeOwner(c)

	t := time.NewTimer(AdmitTimeout)
	defer t.Stop()
	select {
	case ok := <-req.decision:
		if ok {
			ev.Type = EventAdmitted
			s.emit(ev)
			return nil
		}
		ev.Type = EventAdmitDeclined
		s.emit(ev)
		return fmt.Errorf("joining conference %s: %w", confID, ErrAdmissionDeclined)
	case <-t.C:
		ev.Type = EventAdmitExpired
		s.emit(ev)
		return fmt.Errorf("joining conference %s: the owner did not answer: %w", confID, ErrAdmissionDeclined)
	case <-ctx.Done():
		ev.Type, ev.Cause = EventAdmitExpired, "the caller gave up"
		s.emit(ev)
		return fmt.Errorf("joining conference %s: %w", confID, context.Cause(ctx))
	}
}

// chimeOwner plays the join chime to the owner's phones in conference c:
// someone is asking to be let in (keys AdmitKey and DeclineKey answer).
func (s *Service) chimeOwner(c Conference) {
	if c.Owner == "" {
		return
	}
	s.mu.Lock()
	var legs []InteractiveLeg
	if r := s.rooms[c.ID]; r != nil {
		for _, p := range r.legs {
			if il, ok := p.leg.(InteractiveLeg); ok && p.userID == c.Owner {
				legs = append(legs, il)
			}
		}
	}
	s.mu.Unlock()
	for _, l := range legs {
		l.Play(prompt.Join, prompt.AdmitRequest) // a chime, then what 1 and 2 do
	}
}

// PendingAdmission is a caller waiting for an owner, as the API lists it.
type PendingAdmission struct {
	ID          string    `json:"id"`
	UserID      string    `json:"user_id"`
	DisplayName string    `json:"display_name"`
	Since       time.Time `json:"since"`
}

// PendingAdmissions lists the callers waiting to join conference confID,
// oldest first; those who may moderate it may see them.
func (s *Service) PendingAdmissions(ctx context.Context, actor User, confID string) ([]PendingAdmission, error) {
	if _, err := s.conferenceFor(ctx, actor, confID, ActionModerate); err != nil {
		return nil, fmt.Errorf("listing callers waiting: %w", err)
	}
	return s.pendingOf(confID), nil
}

func (s *Service) pendingOf(confID string) []PendingAdmission {
	st := &s.dial.users
	st.mu.Lock()
	defer st.mu.Unlock()
	out := []PendingAdmission{}
	for _, r := range st.admits {
		if r.confID == confID {
			out = append(out, PendingAdmission{ID: r.id, UserID: r.caller.ID, DisplayName: r.display, Since: r.since})
		}
	}
	slices.SortFunc(out, func(a, b PendingAdmission) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// DecideAdmission admits or declines the waiting caller requestID of
// conference confID; those who may moderate it may.
func (s *Service) DecideAdmission(ctx context.Context, actor User, confID, requestID string, admit bool) error {
	if _, err := s.conferenceFor(ctx, actor, confID, ActionModerate); err != nil {
		return fmt.Errorf("admitting a caller: %w", err)
	}
	if !s.decide(confID, requestID, admit) {
		return fmt.Errorf("admitting caller %q to %s: %w", truncate(requestID, 16), confID, ErrNotFound)
	}
	s.log.InfoContext(ctx, "admission decided", "conf", confID, "request", requestID, "admit", admit, "by", actor.ID)
	return nil
}

// decide delivers a decision; it reports false when no such request waits.
func (s *Service) decide(confID, requestID string, admit bool) bool {
	st := &s.dial.users
	st.mu.Lock()
	r := st.admits[requestID]
	st.mu.Unlock()
	if r == nil || r.confID != confID {
		return false
	}
	select {
	case r.decision <- admit:
	default: // decided already
	}
	return true
}

// admissionDigit is the in-call hook of the owner's keypad: while callers
// wait to join p's conference and p is its owner, AdmitKey admits the one
// who has waited longest and DeclineKey declines him. It reports whether
// it used the digit (the key map then does not see it).
func (c *Call) admissionDigit(ctx context.Context, p *Participant, d byte) bool {
	if d != AdmitKey && d != DeclineKey || p.userID == "" {
		return false
	}
	waiting := c.s.pendingOf(p.confID)
	if len(waiting) == 0 {
		return false
	}
	conf, err := c.s.GetConference(ctx, p.confID)
	if err != nil || conf.Owner != p.userID {
		return false
	}
	admit := d == AdmitKey
	if c.s.decide(p.confID, waiting[0].ID, admit) {
		c.log.InfoContext(ctx, "admission decided on the keypad", "conf", p.confID, "leg", p.id, "request", waiting[0].ID, "admit", admit)
	}
	return true
}
