package conf

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
)

// Rights. Every API action on a conference names what it needs, and
// Authorize decides from the actor's role and his place in the conference:
//
//   - administrators and operators may do everything in every conference;
//   - the owner may do everything in his conference;
//   - moderators (invited with moderator=true, directly or through a group)
//     may remove, mute, lock and end;
//   - invited users may see the conference and its participants;
//   - everybody else gets ErrForbidden.
//
// Joining (Join, for every protocol): a public conference admits anybody,
// guests included (with the conference's guest rights). An internal one
// admits address-book users only, and of those only its owner, operators
// and administrators, and the users it invites (directly or through a
// group), unless it sets JoinWithoutInvitation; legs the server dialled
// because a moderator invited them are let in too.
//
// The same rules hold whatever protocol a participant uses: signalling asks
// conf, never decides itself.

// Action is what an actor wants to do with a conference.
type Action int

// Actions, from the least to the most privileged.
const (
	// ActionView reads a conference and its live participants.
	ActionView Action = iota
	// ActionModerate removes, mutes, locks and ends.
	ActionModerate
	// ActionManage changes settings, deletes, starts early and saves
	// templates: the owner's actions.
	ActionManage
)

// String names the action for error messages.
func (a Action) String() string {
	switch a {
	case ActionView:
		return "view"
	case ActionModerate:
		return "moderate"
	case ActionManage:
		return "manage"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// isStaff reports whether u acts as a moderator in every conference.
func isStaff(u User) bool { return u.Role == UserRoleAdmin || u.Role == UserRoleOperator }

// Authorize returns nil when actor may do a with conference c, and an
// error wrapping ErrForbidden otherwise.
func (s *Service) Authorize(ctx context.Context, actor User, c Conference, a Action) error {
	if isStaff(actor) || (actor.ID != "" && actor.ID == c.Owner) {
		return nil
	}
	if actor.ID != "" && a <= ActionModerate {
		invited, moderator, err := s.invitedAs(ctx, c, actor.ID)
		if err != nil {
			return fmt.Errorf("checking rights in conference %s: %w", c.ID, err)
		}
		if moderator || (invited && a == ActionView) {
			return nil
		}
	}
	return fmt.Errorf("%s conference %s: %w", a, c.ID, ErrForbidden)
}

// invitedAs reports whether user userID is on c's invitation list, directly
// or as a member of an invited group, and whether any of those invitations
// makes him a moderator. Groups are read only when the direct entries do
// not already answer both questions.
func (s *Service) invitedAs(ctx context.Context, c Conference, userID string) (invited, moderator bool, err error) {
	for _, inv := range c.Invitations {
		if inv.Target == userID {
			invited = true
			moderator = moderator || inv.Moderator
		}
	}
	if moderator || s.book == nil {
		return invited, moderator, nil
	}
	for _, inv := range c.Invitations {
		if inv.Target == userID || (invited && !inv.Moderator) || !ValidAccountID(inv.Target) {
			continue
		}
		g, err := s.book.GetGroup(ctx, inv.Target)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return false, false, fmt.Errorf("expanding group %s: %w", inv.Target, err)
		}
		for _, m := range g.Members {
			if m == userID {
				invited = true
				moderator = moderator || inv.Moderator
				break
			}
		}
		if moderator {
			break
		}
	}
	return invited, moderator, nil
}

// roleFor is the live role of a caller authenticated as userID ("" for a
// guest) in conference c, and whether c invites him (directly or through
// a group; always false for a guest).
func (s *Service) roleFor(ctx context.Context, c Conference, userID string) (role string, invited bool, err error) {
	switch {
	case userID == "":
		return RoleGuest, false, nil
	case userID == c.Owner:
		return RoleOwner, false, nil
	}
	invited, mod, err := s.invitedAs(ctx, c, userID)
	if err != nil {
		return "", false, err
	}
	if mod {
		return RoleModerator, true, nil
	}
	// Operators and administrators act as moderators everywhere.
	u, err := s.store.GetUser(ctx, userID)
	switch {
	case err == nil && isStaff(u):
		return RoleModerator, invited, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return "", false, fmt.Errorf("looking up user %s: %w", userID, err)
	}
	return RoleParticipant, invited, nil
}

// banSubject is what a removal bans: the user for an authenticated caller,
// the signalling host for a guest (a guest has no other identity; his port
// changes from call to call).
func banSubject(userID, remote string) string {
	if userID != "" {
		return "user:" + userID
	}
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	return "guest:" + host
}

// BanStore is implemented by stores that remember who was removed from a
// conference, so that a removal outlives a restart. Without it removals
// are refused with ErrNotSupported (a removal that does not keep the
// caller out would be a lie).
type BanStore interface {
	// AddBan records that subject may not rejoin conference confID.
	AddBan(ctx context.Context, confID, subject string, at time.Time) error
	// LiftBans forgets the bans of subjects in conference confID.
	LiftBans(ctx context.Context, confID string, subjects []string) error
	// IsBanned reports whether subject is banned from conference confID.
	IsBanned(ctx context.Context, confID, subject string) (bool, error)
}

// CreateConferenceAs creates c on behalf of actor. A plain user always
// owns what he creates; staff may name another owner, and the actor
// becomes the owner when none is named.
//
// A user who asks for a new virtual room (no schedule) for himself while
// a conference of his is running with participants in it is taken back
// into that one, as TrueConf does: nothing is created, and the running
// conference is returned together with a *RunningConferenceError (which
// is also ErrConflict), so that his client joins it. Scheduled
// conferences are for later and are always created, and operators and
// administrators, who manage many rooms, are never taken back.
func (s *Service) CreateConferenceAs(ctx context.Context, actor User, c Conference) (Conference, error) {
	if c.Owner == "" {
		c.Owner = actor.ID
	} else if c.Owner != actor.ID && !isStaff(actor) {
		return Conference{}, fmt.Errorf("creating a conference owned by %s: only an operator or administrator may: %w",
			truncate(c.Owner, MaxOwnerLen), ErrForbidden)
	}
	if actor.ID != "" && !isStaff(actor) && c.Owner == actor.ID && (c.Schedule.Type == "" || c.Schedule.Type == ScheduleNone) {
		running, ok, err := s.runningOf(ctx, actor.ID)
		if err != nil {
			return Conference{}, fmt.Errorf("creating a conference: %w", err)
		}
		if ok {
			s.log.InfoContext(ctx, "owner taken back into his running conference", "conf", running.ID, "user", actor.ID)
			return running, &RunningConferenceError{Conference: running}
		}
	}
	return s.CreateConference(ctx, c)
}

// RunningConferenceError is CreateConferenceAs's answer to an owner whose
// conference is running with participants: Conference is that one.
type RunningConferenceError struct {
	Conference Conference
}

// Error implements error.
func (e *RunningConferenceError) Error() string {
	return fmt.Sprintf("conference %s of this owner is running with participants; join it", e.Conference.ID)
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *RunningConferenceError) Unwrap() error { return ErrConflict }

// runningOf returns the conference owned by userID that has live
// participants (the one that has had them longest when there are
// several). It reads one conference per room with someone in it.
func (s *Service) runningOf(ctx context.Context, userID string) (Conference, bool, error) {
	s.mu.Lock()
	type live struct {
		id    string
		since time.Time
	}
	var rooms []live
	for id, r := range s.rooms {
		var first time.Time
		for _, p := range r.legs {
			if first.IsZero() || p.joinedAt.Before(first) {
				first = p.joinedAt
			}
		}
		if len(r.legs) > 0 {
			rooms = append(rooms, live{id, first})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(rooms, func(a, b live) int { return cmp.Or(a.since.Compare(b.since), cmp.Compare(a.id, b.id)) })
	for _, r := range rooms {
		c, err := s.GetConference(ctx, r.id)
		switch {
		case errors.Is(err, ErrNotFound):
			continue // deleted meanwhile
		case err != nil:
			return Conference{}, false, err
		}
		if c.Owner == userID && c.State == StateRunning {
			return c, true, nil
		}
	}
	return Conference{}, false, nil
}

// GetConferenceAs returns conference id if actor may view it.
func (s *Service) GetConferenceAs(ctx context.Context, actor User, id string) (Conference, error) {
	c, err := s.GetConference(ctx, id)
	if err != nil {
		return Conference{}, err
	}
	if err := s.Authorize(ctx, actor, c, ActionView); err != nil {
		return Conference{}, err
	}
	return c, nil
}

// ListConferencesAs returns the conferences actor may view.
func (s *Service) ListConferencesAs(ctx context.Context, actor User) ([]Conference, error) {
	cs, err := s.ListConferences(ctx)
	if err != nil || isStaff(actor) {
		return cs, err
	}
	out := cs[:0]
	for _, c := range cs {
		err := s.Authorize(ctx, actor, c, ActionView)
		switch {
		case err == nil:
			out = append(out, c)
		case !errors.Is(err, ErrForbidden):
			return nil, err
		}
	}
	return out, nil
}

// UpdateConferenceAs replaces the settings of conference c.ID if actor
// manages it. Only staff may give a conference to another owner.
func (s *Service) UpdateConferenceAs(ctx context.Context, actor User, c Conference) (Conference, error) {
	old, err := s.GetConference(ctx, c.ID)
	if err != nil {
		return Conference{}, fmt.Errorf("updating conference: %w", err)
	}
	if err := s.Authorize(ctx, actor, old, ActionManage); err != nil {
		return Conference{}, err
	}
	if c.Owner != "" && c.Owner != old.Owner && !isStaff(actor) {
		return Conference{}, fmt.Errorf("changing the owner of conference %s: only an operator or administrator may: %w", c.ID, ErrForbidden)
	}
	return s.UpdateConference(ctx, c)
}

// DeleteConferenceAs deletes conference id if actor manages it.
func (s *Service) DeleteConferenceAs(ctx context.Context, actor User, id string) error {
	c, err := s.GetConference(ctx, id)
	if err != nil {
		return fmt.Errorf("deleting conference: %w", err)
	}
	if err := s.Authorize(ctx, actor, c, ActionManage); err != nil {
		return err
	}
	return s.DeleteConference(ctx, id)
}

// ParticipantsAs lists the live participants of conference id if actor
// may view it.
func (s *Service) ParticipantsAs(ctx context.Context, actor User, id string) ([]ParticipantInfo, error) {
	if _, err := s.GetConferenceAs(ctx, actor, id); err != nil {
		return nil, fmt.Errorf("listing participants: %w", err)
	}
	return s.Participants(ctx, id)
}
