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
	// (an address-book user, a conference, or a scheme no dialer
	// serves); he may still dial in.
	DialStatusInvited = "invited"
)

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
	cancels map[*struct{}]context.CancelCauseFunc
	stopped bool
	wg      sync.WaitGroup
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

// InviteAndDial invites targets (call strings or user IDs) into conference
// confID and calls each one a registered dialer can reach. Every target is
// parsed first: one that does not parse fails the whole request with a
// *ValidationError naming it ("participants[2]"), before anything is
// dialled. Only those who may moderate the conference may invite; tel:
// targets (paid calls through a trunk) only administrators and operators.
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
		if t.ViaTrunk && !isStaff(actor) {
			s.log.WarnContext(ctx, "dial-out refused: telephone numbers need an operator",
				"conf", confID, "by", actor.ID, "target", t.Display)
			return nil, fmt.Errorf("dialling telephone number %s (%s): only operators and administrators may call numbers: %w",
				t.Display, field, ErrForbidden)
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
		out[i] = InviteResult{Target: t.Display, Kind: t.Kind, Scheme: t.Scheme, Status: DialStatusInvited}
		var d Dialer
		switch t.Kind {
		case TargetAddress:
			if d = s.dialerFor(t.Scheme); d == nil {
				out[i].Message = fmt.Sprintf("no %s dialler is configured", t.Scheme)
			}
		case TargetUser:
			out[i].Message = "address-book users are called on their registered devices, which this server does not track yet"
		case TargetConference:
			out[i].Message = "conferences are not dialled"
		}
		if d == nil {
			s.emit(Event{Type: EventDialSkipped, ConferenceID: confID, Target: t.Display, By: actor.ID, Cause: out[i].Message})
			continue
		}
		req := DialRequest{ConferenceID: confID, Target: t, DisplayName: c.Name, By: actor}
		if err := s.startDial(ctx, d, req); err != nil {
			out[i].Message = err.Error()
			continue
		}
		out[i].Status = DialStatusDialing
	}
	s.log.InfoContext(ctx, "inviting by call string", "conf", confID, "targets", len(targets), "by", actor.ID)
	return out, nil
}

// startDial runs one dial in the background. The call outlives the
// request that asked for it (an HTTP request ends with its 202), so its
// context keeps ctx's values but not its cancellation; Close cancels it.
func (s *Service) startDial(ctx context.Context, d Dialer, req DialRequest) error {
	s.dial.mu.Lock()
	if s.dial.stopped {
		s.dial.mu.Unlock()
		return ErrDialingStopped
	}
	dctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	key := new(struct{})
	if s.dial.cancels == nil {
		s.dial.cancels = make(map[*struct{}]context.CancelCauseFunc)
	}
	s.dial.cancels[key] = cancel
	s.dial.wg.Add(1)
	s.dial.mu.Unlock()

	s.emit(Event{Type: EventDialing, ConferenceID: req.ConferenceID, Target: req.Target.Display, By: req.By.ID})
	go func() {
		defer s.dial.wg.Done()
		defer func() {
			s.dial.mu.Lock()
			delete(s.dial.cancels, key)
			s.dial.mu.Unlock()
			cancel(nil)
		}()
		res, err := d.Dial(dctx, req)
		if err != nil {
			if cause := context.Cause(dctx); cause != nil && !errors.Is(err, cause) {
				err = fmt.Errorf("%w (%w)", err, cause)
			}
			s.log.InfoContext(dctx, "invited target not reached", "conf", req.ConferenceID, "target", req.Target.Display, "err", err)
			s.emit(Event{Type: EventDialFailed, ConferenceID: req.ConferenceID, Target: req.Target.Display, By: req.By.ID,
				Cause: strings.TrimPrefix(err.Error(), "conf: ")})
			return
		}
		s.log.InfoContext(dctx, "invited target answered", "conf", req.ConferenceID, "target", req.Target.Display, "leg", res.ParticipantID)
		s.emit(Event{Type: EventDialAnswer, ConferenceID: req.ConferenceID, Target: req.Target.Display, By: req.By.ID,
			ParticipantID: res.ParticipantID})
	}()
	return nil
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
