package conf

import (
	"context"
	"errors"
	"fmt"
)

// Live moderation: removing, muting, locking, ending and starting. Each
// method checks the actor's rights first (see rights.go), so the REST API,
// DTMF commands and later the web pages share one set of rules.

// MutableLeg is implemented by legs whose microphone the server can close
// (a *bridge.Leg does: the mixer then ignores its audio). Muting a leg
// that does not implement it fails with ErrNotSupported.
type MutableLeg interface {
	LegHandle
	SetMuted(muted bool)
}

// admissionChecks runs the rules of Join that need more reads than the
// conference itself: the caller's ban, his role, and for an internal
// conference whether he is invited.
func (s *Service) admissionChecks(ctx context.Context, c Conference, p *Participant) (string, error) {
	if s.bans != nil {
		banned, err := s.bans.IsBanned(ctx, c.ID, banSubject(p.userID, p.remote))
		if err != nil {
			return "", fmt.Errorf("checking removals: %w", err)
		}
		if banned {
			// Also ErrUnauthorized, so that signalling that predates
			// ErrRemoved still refuses with its "forbidden" answer.
			return "", fmt.Errorf("%w (%w)", ErrRemoved, ErrUnauthorized)
		}
	}
	role, invited, err := s.roleFor(ctx, c, p.userID)
	if err != nil {
		return "", err
	}
	if role == RoleParticipant && !invited && c.Access == AccessInternal && !c.JoinWithoutInvitation && !isDialledLeg(p.leg) {
		// Also ErrUnauthorized: signalling refuses it as it refuses a
		// guest (SIP 403).
		return "", fmt.Errorf("user %s is not invited to internal conference %s: %w (%w)",
			p.userID, c.ID, ErrForbidden, ErrUnauthorized)
	}
	return role, nil
}

// liftBansOfNewInvitations forgets the removal of every target that c
// invites and old did not: inviting someone again is how a moderator lets
// a removed participant back.
func (s *Service) liftBansOfNewInvitations(ctx context.Context, old, c Conference) error {
	if s.bans == nil {
		return nil
	}
	before := make(map[string]bool, len(old.Invitations))
	for _, inv := range old.Invitations {
		before[inv.Target] = true
	}
	var subjects []string
	for _, inv := range c.Invitations {
		if !before[inv.Target] {
			subjects = append(subjects, s.banSubjectsOf(ctx, inv.Target)...)
		}
	}
	if len(subjects) == 0 {
		return nil
	}
	if err := s.bans.LiftBans(ctx, c.ID, subjects); err != nil {
		return fmt.Errorf("lifting removals: %w", err)
	}
	return nil
}

// banSubjectsOf is what inviting target lets back in: the user, or the
// members of a group.
func (s *Service) banSubjectsOf(ctx context.Context, target string) []string {
	if !ValidAccountID(target) {
		return nil
	}
	out := []string{banSubject(target, "")}
	if s.book != nil {
		if g, err := s.book.GetGroup(ctx, target); err == nil {
			for _, m := range g.Members {
				out = append(out, banSubject(m, ""))
			}
		}
	}
	return out
}

// liveParticipant returns the live participant pid of conference confID.
func (s *Service) liveParticipant(confID, pid string) (*Participant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[confID]; r != nil {
		if p := r.legs[pid]; p != nil {
			return p, nil
		}
	}
	return nil, fmt.Errorf("participant %q of conference %s: %w", truncate(pid, 16), confID, ErrNotFound)
}

// conferenceFor reads conference id and checks that actor may do a.
func (s *Service) conferenceFor(ctx context.Context, actor User, id string, a Action) (Conference, error) {
	c, err := s.GetConference(ctx, id)
	if err != nil {
		return Conference{}, err
	}
	if err := s.Authorize(ctx, actor, c, a); err != nil {
		return Conference{}, err
	}
	return c, nil
}

// RemoveParticipant hangs up live participant pid of conference confID
// with cause ErrKicked and bans him: he cannot rejoin by himself, even as a
// moderator, until he is invited again (his direct invitation is withdrawn
// so that inviting him is a change). The owner cannot be removed.
func (s *Service) RemoveParticipant(ctx context.Context, actor User, confID, pid string) error {
	c, err := s.conferenceFor(ctx, actor, confID, ActionModerate)
	if err != nil {
		return fmt.Errorf("removing a participant: %w", err)
	}
	if s.bans == nil {
		return fmt.Errorf("removing a participant: the store cannot remember removals: %w", ErrNotSupported)
	}
	p, err := s.liveParticipant(confID, pid)
	if err != nil {
		return fmt.Errorf("removing a participant: %w", err)
	}
	if p.userID != "" && p.userID == c.Owner {
		return fmt.Errorf("removing participant %s: he is the owner of conference %s: %w", pid, confID, ErrForbidden)
	}
	// Ban first, under a generation change, so that a join racing with
	// this removal reads the ban.
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
	if subject := banSubject(p.userID, p.remote); subject != "guest:" {
		if err := s.bans.AddBan(ctx, confID, subject, s.clock()); err != nil {
			return fmt.Errorf("removing participant %s: %w", pid, err)
		}
	} else {
		// A guest without a signalling address has nothing to ban him by;
		// banning "no address" would shut out every such guest.
		s.log.WarnContext(ctx, "removed guest has no address; he is not banned", "conf", confID, "leg", pid)
	}
	if p.userID != "" {
		kept := make([]Invitation, 0, len(c.Invitations))
		for _, inv := range c.Invitations {
			if inv.Target != p.userID {
				kept = append(kept, inv)
			}
		}
		if len(kept) != len(c.Invitations) {
			c.Invitations = kept
			c.UpdatedAt = s.clock()
			if err := s.store.UpdateConference(ctx, c); err != nil {
				return fmt.Errorf("removing participant %s: withdrawing his invitation: %w", pid, err)
			}
		}
	}
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
	if !s.dropLeg(p, ErrKicked) {
		return nil // he left meanwhile; the ban stands
	}
	p.leg.Hangup(ErrKicked)
	e := participantEvent(EventRemoved, p)
	e.By, e.Cause = actor.ID, causeText(ErrKicked)
	s.emit(e)
	s.log.InfoContext(ctx, "participant removed", "conf", confID, "leg", pid, "by", actor.ID)
	return nil
}

// dropLeg removes p from its room as Leave does, and writes his call
// record, without an event; it reports false when p had already left.
func (s *Service) dropLeg(p *Participant, cause error) bool {
	s.mu.Lock()
	if p.left {
		s.mu.Unlock()
		return false
	}
	s.removeLegLocked(p)
	s.mu.Unlock()
	s.recordCall(p, s.clock(), cause)
	return true
}

// SetMuted closes (muted true) or opens the microphone of live
// participant pid in conference confID. Moderators may mute and unmute
// anyone; the participant himself (his token's user) may mute himself and
// unmute himself when MayParticipant allows him to speak (see MuteSelf).
func (s *Service) SetMuted(ctx context.Context, actor User, confID, pid string, muted bool) error {
	_, p, moderator, err := s.selfOrModerator(ctx, actor, confID, pid)
	if err != nil {
		return fmt.Errorf("muting a participant: %w", err)
	}
	if !moderator {
		return s.MuteSelf(ctx, p, muted)
	}
	if err := s.applyMute(p, muted, nil); err != nil {
		return err
	}
	typ := EventUnmuted
	if muted {
		typ = EventMuted
	}
	e := participantEvent(typ, p)
	e.By = actor.ID
	s.emit(e)
	s.log.InfoContext(ctx, "participant muted", "conf", confID, "leg", pid, "muted", muted, "by", actor.ID)
	return nil
}

// SetLocked locks (nobody else may join) or unlocks conference id.
func (s *Service) SetLocked(ctx context.Context, actor User, id string, locked bool) (Conference, error) {
	c, err := s.conferenceFor(ctx, actor, id, ActionModerate)
	if err != nil {
		return Conference{}, fmt.Errorf("locking a conference: %w", err)
	}
	if c.Locked != locked {
		c.Locked, c.UpdatedAt = locked, s.clock()
		s.mu.Lock()
		s.gen++
		s.mu.Unlock()
		if err := s.store.UpdateConference(ctx, c); err != nil {
			return Conference{}, fmt.Errorf("locking conference %s: %w", id, err)
		}
		s.mu.Lock()
		s.gen++
		s.mu.Unlock()
		typ := EventUnlocked
		if locked {
			typ = EventLocked
		}
		s.emit(Event{Type: typ, ConferenceID: id, By: actor.ID})
		s.log.InfoContext(ctx, "conference lock changed", "conf", id, "locked", locked, "by", actor.ID)
	}
	s.mu.Lock()
	s.setState(&c)
	s.mu.Unlock()
	return c, nil
}

// StopConference ends conference id for all: every live leg is hung up
// with cause ErrEnded and the conference is "ended" until someone joins
// again or it is run. A scheduled conference stays closed for the rest of
// its occurrence.
func (s *Service) StopConference(ctx context.Context, actor User, id string) (Conference, error) {
	c, err := s.conferenceFor(ctx, actor, id, ActionModerate)
	if err != nil {
		return Conference{}, fmt.Errorf("ending a conference: %w", err)
	}
	return s.stopConference(ctx, c, actor.ID), nil
}

// stopConference ends c for all on behalf of user by (rights checked).
func (s *Service) stopConference(ctx context.Context, c Conference, by string) Conference {
	id := c.ID
	n := s.endRoom(id, ErrEnded)
	now := s.clock()
	s.mu.Lock()
	delete(s.started, id)
	s.ended[id] = true
	if o, ok := occurrenceAt(c.Schedule, now); ok {
		s.occ[id] = o
		s.closed[id] = o.start
	} else if o, ok := s.occ[id]; ok {
		s.closed[id] = o.start // ended during its extension
	}
	s.setState(&c)
	s.mu.Unlock()
	s.emit(Event{Type: EventEnded, ConferenceID: id, By: by})
	s.log.InfoContext(ctx, "conference ended for all", "conf", id, "legs", n, "by", by)
	return c
}

// ErrLeft is the cause given to a leg that left because he (or a
// moderator for him) asked through LeaveAs or LeaveCall, rather than by
// hanging up.
var ErrLeft = errors.New("conf: left the conference")

// LeaveAs is a participant leaving conference confID: "leave" (the others
// go on) or, with endForAll, "end for all" (StopConference: every leg is
// hung up with ErrEnded). The participant himself (his token's user) or a
// moderator may ask (for the owner only he himself, since hanging him up
// would remove him); ending for all needs the right to moderate, and
// asking for it without that right is refused (ErrForbidden) with
// nothing done, so that a client never believes the room ended when it
// did not. It reports whether the conference was ended.
func (s *Service) LeaveAs(ctx context.Context, actor User, confID, pid string, endForAll bool) (bool, error) {
	c, p, moderator, err := s.selfOrModerator(ctx, actor, confID, pid)
	if err != nil {
		return false, fmt.Errorf("leaving a conference: %w", err)
	}
	if endForAll {
		if !moderator {
			return false, fmt.Errorf("ending conference %s for all: only the owner and moderators may: %w", confID, ErrForbidden)
		}
		s.stopConference(ctx, c, actor.ID)
		return true, nil
	}
	if self := actor.ID != "" && actor.ID == p.userID; !self && p.userID != "" && p.userID == c.Owner {
		// Hanging the owner up is removing him, which nobody may.
		return false, fmt.Errorf("making participant %s leave: he is the owner of conference %s: %w", pid, confID, ErrForbidden)
	}
	s.leaveByRequest(ctx, p, actor.ID)
	return false, nil
}

// LeaveCall is LeaveAs from the call itself (a DTMF key): ending for all
// needs the participant's live role to be owner or moderator (a
// moderator PIN entered during the call counts).
func (s *Service) LeaveCall(ctx context.Context, p *Participant, endForAll bool) (bool, error) {
	if p == nil {
		return false, fmt.Errorf("leaving a conference: %w", ErrNotFound)
	}
	if endForAll {
		if !isChair(p) {
			return false, fmt.Errorf("ending conference %s for all: only the owner and moderators may: %w", p.confID, ErrForbidden)
		}
		c, err := s.GetConference(ctx, p.confID)
		if err != nil {
			return false, fmt.Errorf("ending a conference for all: %w", err)
		}
		s.stopConference(ctx, c, p.userID)
		return true, nil
	}
	s.leaveByRequest(ctx, p, p.userID)
	return false, nil
}

// leaveByRequest takes p out as Leave does and hangs his leg up with
// ErrLeft.
func (s *Service) leaveByRequest(ctx context.Context, p *Participant, by string) {
	if !s.dropLeg(p, ErrLeft) {
		return // gone already
	}
	p.leg.Hangup(ErrLeft)
	e := participantEvent(EventLeft, p)
	e.By, e.Cause = by, causeText(ErrLeft)
	s.emit(e)
	s.log.InfoContext(ctx, "participant left at request", "conf", p.confID, "leg", p.id, "by", by)
}

// RunConference starts conference id now (before its scheduled time, or a
// virtual room nobody is in yet); it runs until StopConference.
func (s *Service) RunConference(ctx context.Context, actor User, id string) (Conference, error) {
	c, err := s.conferenceFor(ctx, actor, id, ActionManage)
	if err != nil {
		return Conference{}, fmt.Errorf("starting a conference: %w", err)
	}
	s.mu.Lock()
	was := s.started[id]
	s.started[id] = true
	delete(s.ended, id)
	delete(s.closed, id)
	s.setState(&c)
	s.mu.Unlock()
	if !was {
		s.emit(Event{Type: EventStarted, ConferenceID: id, By: actor.ID})
		s.log.InfoContext(ctx, "conference started", "conf", id, "by", actor.ID)
	}
	return c, nil
}

// Invite adds invitations to conference id (or changes the moderator flag
// of existing ones) and lets removed invitees back in. Moderators may
// invite; naming a target again is how a removed participant is invited
// again.
func (s *Service) Invite(ctx context.Context, actor User, id string, invs []Invitation) (Conference, error) {
	c, err := s.conferenceFor(ctx, actor, id, ActionModerate)
	if err != nil {
		return Conference{}, fmt.Errorf("inviting: %w", err)
	}
	if len(invs) == 0 {
		return Conference{}, invalid("invitations", "must name at least one target")
	}
	asked := Conference{Access: c.Access, Invitations: invs}
	if err := validateInvitations(&asked); err != nil {
		return Conference{}, err // field names index the request's list
	}
	invs = asked.Invitations
	before := c.Invitations
	old := c
	old.Invitations = nil // every named target counts as invited again
	next := append([]Invitation(nil), c.Invitations...)
	for _, inv := range invs {
		replaced := false
		for i := range next {
			if next[i].Target == inv.Target {
				next[i].Moderator, replaced = inv.Moderator, true
			}
		}
		if !replaced {
			next = append(next, inv)
		}
	}
	c.Invitations = next
	if err := validateInvitations(&c); err != nil {
		return Conference{}, err
	}
	if err := s.liftBansOfNewInvitations(ctx, old, c); err != nil {
		return Conference{}, fmt.Errorf("inviting to conference %s: %w", id, err)
	}
	c.UpdatedAt = s.clock()
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
	if err := s.store.UpdateConference(ctx, c); err != nil {
		return Conference{}, fmt.Errorf("inviting to conference %s: %w", id, err)
	}
	s.mu.Lock()
	s.gen++
	s.setState(&c)
	s.mu.Unlock()
	s.log.InfoContext(ctx, "invited", "conf", id, "targets", len(invs), "by", actor.ID)
	s.mailNewInvitations(ctx, before, c)
	return c, nil
}
