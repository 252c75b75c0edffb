package conf

import (
	"context"
	"fmt"
)

// MuteAll closes the microphone of every live participant of conference
// confID except its owner and moderators, and returns how many it muted
// (those already muted are not counted). Moderators, the owner, operators
// and administrators may do it (ActionModerate). Participants whose leg
// cannot be muted are skipped and logged: one old phone does not stop a
// moderator from silencing the rest.
func (s *Service) MuteAll(ctx context.Context, actor User, confID string) (muted int, err error) {
	c, err := s.conferenceFor(ctx, actor, confID, ActionModerate)
	if err != nil {
		return 0, fmt.Errorf("muting all participants: %w", err)
	}
	return s.muteAll(ctx, c, nil, actor.ID)
}

// muteAllAs is MuteAll for a participant acting with DTMF: his rights are
// those of his live role (a guest made moderator by the moderator PIN has
// no user to authorize) or of his address-book user. He is not muted
// himself.
func (s *Service) muteAllAs(ctx context.Context, actor *Participant) (int, error) {
	c, err := s.GetConference(ctx, actor.confID)
	if err != nil {
		return 0, fmt.Errorf("muting all participants: %w", err)
	}
	if err := s.participantMay(ctx, actor, c); err != nil {
		return 0, fmt.Errorf("muting all participants: %w", err)
	}
	return s.muteAll(ctx, c, actor, actor.userID)
}

// muteAll mutes the live participants of c other than its owner, its
// moderators and actor; by is the user named in the events.
func (s *Service) muteAll(ctx context.Context, c Conference, actor *Participant, by string) (int, error) {
	s.mu.Lock()
	var targets []*Participant
	if r := s.rooms[c.ID]; r != nil {
		for _, p := range r.legs {
			if p == actor || p.muted || (p.userID != "" && p.userID == c.Owner) {
				continue
			}
			if role := p.Role(); role == RoleOwner || role == RoleModerator {
				continue
			}
			targets = append(targets, p)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, p := range targets {
		if err := s.setLiveMuted(ctx, p, true, by); err != nil {
			s.log.WarnContext(ctx, "mute all: participant not muted", "conf", c.ID, "leg", p.id, "err", err)
			continue
		}
		n++
	}
	s.log.InfoContext(ctx, "all participants muted", "conf", c.ID, "muted", n, "by", by)
	return n, nil
}

// setLiveMuted closes or opens p's microphone for a checked actor, through
// applyMute as SetMuted does, and emits the event; by is the user named in
// it.
func (s *Service) setLiveMuted(ctx context.Context, p *Participant, muted bool, by string) error {
	if err := s.applyMute(p, muted, nil); err != nil {
		return err
	}
	typ := EventUnmuted
	if muted {
		typ = EventMuted
	}
	e := participantEvent(typ, p)
	e.By = by
	s.emit(e)
	s.log.InfoContext(ctx, "participant muted", "conf", p.confID, "leg", p.id, "muted", muted, "by", by)
	return nil
}
