package conf

import (
	"cmp"
	"context"
	"errors"
	"fmt"
)

// Moderation by a participant in the call. A participant's rights are his
// live role (owner, moderator by invitation or by the moderator PIN) or,
// failing that, those Authorize gives his address-book user now (he may
// have been invited as moderator since he joined). lockAs and removeAs are
// the parts of SetLocked and RemoveParticipant that follow their rights
// check, for an actor who may have no user to check (stopConference is
// StopConference's).

// participantMay returns nil when p may moderate conference c, and an
// error wrapping ErrForbidden otherwise.
func (s *Service) participantMay(ctx context.Context, p *Participant, c Conference) error {
	if isChair(p) {
		return nil
	}
	if p.userID != "" {
		// His stored role matters (operators moderate everywhere); an
		// account the store does not know is still checked by its ID
		// against the invitations.
		u, err := s.store.GetUser(ctx, p.userID)
		switch {
		case errors.Is(err, ErrNotFound):
			u = User{ID: p.userID, Role: UserRoleUser}
		case err != nil:
			return fmt.Errorf("checking the rights of participant %s: %w", p.id, err)
		}
		return s.Authorize(ctx, u, c, ActionModerate)
	}
	return fmt.Errorf("participant %s may not moderate conference %s: %w", p.id, c.ID, ErrForbidden)
}

// lockAs locks or unlocks conference c for a checked actor; by is the user
// named in the event.
func (s *Service) lockAs(ctx context.Context, c Conference, locked bool, by string) error {
	if c.Locked == locked {
		return nil
	}
	c.Locked, c.UpdatedAt = locked, s.clock()
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
	err := s.store.UpdateConference(ctx, c)
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("locking conference %s: %w", c.ID, err)
	}
	typ := EventUnlocked
	if locked {
		typ = EventLocked
	}
	s.emit(Event{Type: typ, ConferenceID: c.ID, By: by})
	s.log.InfoContext(ctx, "conference lock changed", "conf", c.ID, "locked", locked, "by", by)
	return nil
}

// lastJoined returns the live participant of conference c who joined
// last, other than except and the owner; nil when there is none.
func (s *Service) lastJoined(c Conference, except *Participant) *Participant {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last *Participant
	if r := s.rooms[c.ID]; r != nil {
		for _, p := range r.legs {
			if p == except || p.Role() == RoleOwner || (p.userID != "" && p.userID == c.Owner) {
				continue
			}
			if last == nil || cmp.Or(p.joinedAt.Compare(last.joinedAt), cmp.Compare(p.id, last.id)) > 0 {
				last = p
			}
		}
	}
	return last
}

// removeAs removes live participant p from conference c for a checked
// actor, with RemoveParticipant's rules: never the owner, and a ban so
// that he cannot rejoin until invited again.
func (s *Service) removeAs(ctx context.Context, c Conference, p *Participant, by string) error {
	if p.userID != "" && p.userID == c.Owner {
		return fmt.Errorf("removing participant %s: he is the owner of conference %s: %w", p.id, c.ID, ErrForbidden)
	}
	if s.bans == nil {
		return fmt.Errorf("removing a participant: the store cannot remember removals: %w", ErrNotSupported)
	}
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
	if subject := banSubject(p.userID, p.remote); subject != "guest:" {
		if err := s.bans.AddBan(ctx, c.ID, subject, s.clock()); err != nil {
			return fmt.Errorf("removing participant %s: %w", p.id, err)
		}
	} else {
		s.log.WarnContext(ctx, "removed guest has no address; he is not banned", "conf", c.ID, "leg", p.id)
	}
	if p.userID != "" {
		kept := make([]Invitation, 0, len(c.Invitations))
		for _, inv := range c.Invitations {
			if inv.Target != p.userID {
				kept = append(kept, inv)
			}
		}
		if len(kept) != len(c.Invitations) {
			c.Invitations, c.UpdatedAt = kept, s.clock()
			if err := s.store.UpdateConference(ctx, c); err != nil {
				return fmt.Errorf("removing participant %s: withdrawing his invitation: %w", p.id, err)
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
	e.By, e.Cause = by, causeText(ErrKicked)
	s.emit(e)
	s.log.InfoContext(ctx, "participant removed", "conf", c.ID, "leg", p.id, "by", by)
	return nil
}
