package conf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Point-to-point calls between address-book users. When a user calls
// another user and no rule of owner_call.go applies (the callee owns no
// running conference, the caller moderates none he is in), CallUser makes
// the call a conference of two: an ad-hoc virtual room owned by the
// caller, the callee invited as a moderator, his registered devices rung
// (first to answer wins, as for any invitation). The signalling side keeps
// the caller ringing meanwhile and, once the callee is in, admits the
// caller into the same room through the ordinary dial-in path, so the
// bridge mixes the two legs: a B2BUA whose media go through the mixer.
//
// Because it is an ordinary conference, escalation needs nothing special:
// either party (both moderate it) adds a third one by the API or by
// calling him from his phone (RouteCall's moderator rule), and the third
// joins the same room while the two keep talking. The room is deleted
// when its last participant leaves; call records stay.

// Sentinels of point-to-point calls.
var (
	// ErrCalleeNotRegistered: the called user has no registered device.
	ErrCalleeNotRegistered = errors.New("conf: the called user has no registered device")
	// ErrNotAUserCall: the target of CallUser is not another user of the
	// address book (a conference, a group, an address, the caller).
	ErrNotAUserCall = errors.New("conf: not a call to another user")
)

// CallerJoinTimeout bounds how long the callee of a point-to-point call
// waits in the room for the caller once he has answered: the caller's
// side may fail after the answer (he hung up at that instant, or his
// dial-in is refused), and the callee must not be left alone on the line.
const CallerJoinTimeout = 30 * time.Second

// adHocSeparator joins the two parties in the name of an ad-hoc room,
// "Alice ↔ Bob", so that listings show what it is.
const adHocSeparator = " ↔ "

// CallUser places a point-to-point call from caller (authenticated) to
// the address-book user named by target (a user ID or a user call
// string). It creates the ad-hoc conference, rings the callee's devices
// and returns when one answers and has joined: the caller is then
// expected to join the returned conference (Admit) as its owner. It fails
// with ErrUnauthorized for an unauthenticated caller, ErrForbidden when
// his dial-out rule calls nobody, ErrNotFound for an unknown user,
// ErrCalleeNotRegistered, the dialers' errors (busy, declined, no answer)
// joined when no device answered, or ctx's cause when the caller gave up;
// the devices still ringing are then cancelled and the room deleted.
func (s *Service) CallUser(ctx context.Context, caller User, target string) (Conference, error) {
	if caller.ID == "" {
		return Conference{}, fmt.Errorf("calling %q: the caller is not authenticated: %w", truncate(target, 64), ErrUnauthorized)
	}
	t, err := ParseCallString(target)
	if err != nil {
		return Conference{}, fmt.Errorf("calling %q: %w", truncate(target, 64), err)
	}
	if t.Kind != TargetUser || t.User == caller.ID {
		return Conference{}, fmt.Errorf("calling %s: %w", t.Display, ErrNotAUserCall)
	}
	if err := mayDial(caller, t); err != nil {
		s.log.WarnContext(ctx, "point-to-point call refused by the dial-out rule", "caller", caller.ID, "target", t.User)
		return Conference{}, err
	}
	callee, err := s.store.GetUser(ctx, t.User)
	if err != nil {
		return Conference{}, fmt.Errorf("calling user %s: %w", t.User, err)
	}
	calls := s.deviceCalls(ctx, callee)
	if len(calls) == 0 {
		return Conference{}, fmt.Errorf("calling user %s: %w", callee.ID, ErrCalleeNotRegistered)
	}
	c, err := s.CreateConference(ctx, Conference{
		Name:        adHocName(caller, callee),
		Owner:       caller.ID,
		Access:      AccessInternal,
		Schedule:    Schedule{Type: ScheduleNone},
		Invitations: []Invitation{{Target: callee.ID, Moderator: true}},
		// A phone call does not beep when the other party answers.
		Tones: "off",
	})
	if err != nil {
		return Conference{}, fmt.Errorf("creating the room of a call to %s: %w", callee.ID, err)
	}
	log := s.log.With("component", "p2p", "conf", c.ID, "caller", caller.ID, "callee", callee.ID)
	for i := range calls {
		calls[i].req.ConferenceID, calls[i].req.DisplayName, calls[i].req.By = c.ID, displayOf(caller), caller
	}

	dctx, detach, done, err := s.trackCall(ctx)
	if err != nil {
		s.dropAdHoc(c.ID, log)
		return Conference{}, fmt.Errorf("calling user %s: %w", callee.ID, err)
	}
	s.emit(Event{Type: EventDialing, ConferenceID: c.ID, Target: callee.ID, By: caller.ID})
	log.InfoContext(ctx, "point-to-point call ringing", "devices", len(calls))
	res, err := s.fork(dctx, calls)
	if err != nil {
		if cause := context.Cause(dctx); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		done()
		log.InfoContext(ctx, "point-to-point call not answered", "err", err)
		s.emit(Event{Type: EventDialFailed, ConferenceID: c.ID, Target: callee.ID, By: caller.ID,
			Cause: strings.TrimPrefix(err.Error(), "conf: ")})
		s.dropAdHoc(c.ID, log)
		return Conference{}, fmt.Errorf("calling user %s: %w", callee.ID, err)
	}
	s.emit(Event{Type: EventDialAnswer, ConferenceID: c.ID, Target: callee.ID, By: caller.ID, ParticipantID: res.ParticipantID})
	log.InfoContext(ctx, "point-to-point call answered", "leg", res.ParticipantID)
	// The room outlives the caller's request: it lasts while anyone is in
	// it. The watch is bounded by the Service (StopDialing ends it).
	if !detach() {
		// The caller gave up as the callee answered.
		err := context.Cause(ctx)
		s.hangUpParticipant(c.ID, res.ParticipantID, err)
		done()
		s.dropAdHoc(c.ID, log)
		return Conference{}, fmt.Errorf("calling user %s: the caller gave up: %w", callee.ID, err)
	}
	sub := s.Subscribe()
	go func() {
		defer done()
		defer sub.Close()
		s.watchAdHoc(dctx, c.ID, caller.ID, sub, log)
	}()
	return c, nil
}

// deviceCalls is one call per callable registered device of u.
func (s *Service) deviceCalls(ctx context.Context, u User) []forkCall {
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
		calls = append(calls, forkCall{d, DialRequest{Target: t, Moderator: true, UserID: u.ID}})
	}
	return calls
}

// trackCall registers a call in flight with the dial state, so that
// StopDialing cancels it and waits for it. The returned context follows
// ctx (the caller hanging up cancels the callee's devices) until detach
// is called: the room outlives the caller's request. done must be called
// exactly once, when the call's goroutines are over.
func (s *Service) trackCall(ctx context.Context) (dctx context.Context, detach func() bool, done func(), err error) {
	s.dial.mu.Lock()
	defer s.dial.mu.Unlock()
	if s.dial.stopped {
		return nil, nil, nil, ErrDialingStopped
	}
	dctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	detach = context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	s.dial.serial++
	key := s.dial.serial
	if s.dial.cancels == nil {
		s.dial.cancels = make(map[uint64]context.CancelCauseFunc)
	}
	s.dial.cancels[key] = cancel
	s.dial.wg.Add(1)
	done = func() {
		detach()
		s.dial.mu.Lock()
		delete(s.dial.cancels, key)
		s.dial.mu.Unlock()
		cancel(nil)
		s.dial.wg.Done()
	}
	return dctx, detach, done, nil
}

// watchAdHoc deletes ad-hoc room id when its last participant has left,
// when the caller has not joined within CallerJoinTimeout, or when the
// Service stops dialling with nobody left in it.
func (s *Service) watchAdHoc(ctx context.Context, id, caller string, sub *Subscription, log *slog.Logger) {
	check := func() bool {
		if s.LiveCount(id) > 0 {
			return false
		}
		log.InfoContext(ctx, "ad-hoc room ended: nobody is left in it")
		s.dropAdHoc(id, log)
		return true
	}
	if check() {
		return
	}
	waitCaller := time.NewTimer(CallerJoinTimeout)
	defer waitCaller.Stop()
	if s.userIn(id, caller) {
		waitCaller.Stop()
	}
	for {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				return
			}
			if ev.ConferenceID != id {
				continue
			}
			switch ev.Type {
			case EventDeleted:
				return
			case EventJoined:
				if ev.UserID == caller {
					waitCaller.Stop()
				}
			case EventLeft:
				if check() {
					return
				}
			}
		case <-waitCaller.C:
			if s.userIn(id, caller) {
				continue
			}
			log.InfoContext(ctx, "ad-hoc room ended: the caller did not join", "timeout", CallerJoinTimeout)
			s.dropAdHoc(id, log)
			return
		case <-ctx.Done():
			check()
			return
		}
	}
}

// userIn reports whether user userID has a live leg in conference id.
func (s *Service) userIn(id, userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[id]; r != nil {
		for _, p := range r.legs {
			if p.userID == userID {
				return true
			}
		}
	}
	return false
}

// dropAdHoc deletes an ad-hoc room (its call records stay).
func (s *Service) dropAdHoc(id string, log *slog.Logger) {
	ctx := context.Background()
	if err := s.DeleteConference(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		log.WarnContext(ctx, "deleting an ad-hoc room", "err", err)
	}
}

// adHocName names the room of a call from a to b.
func adHocName(a, b User) string {
	n := displayOf(a) + adHocSeparator + displayOf(b)
	if len(n) > MaxNameLen {
		n = a.ID + adHocSeparator + b.ID
	}
	return n
}

// displayOf is how a user is named to others.
func displayOf(u User) string {
	if d := strings.TrimSpace(u.DisplayName); d != "" && !strings.ContainsAny(d, "\r\n\x00") {
		return d
	}
	return u.ID
}
