package conf

import (
	"context"
	"errors"
	"fmt"
)

// Who may be heard. conf decides, for every protocol, whether a live
// participant may open his own microphone, and keeps the bridge's mute in
// step with that decision through MutableLeg:
//
//   - symmetric: everybody speaks. MuteMicrophonesOnJoin mutes everyone but
//     the owner and moderators as they join; they may unmute themselves.
//   - role-based: the owner and moderators (operators and administrators
//     count as moderators) are speakers. Everybody else joins as a listener:
//     muted in the bridge and unable to unmute himself. A moderator gives a
//     listener a podium seat (he is unmuted and may mute and unmute himself)
//     and takes it back (he is muted again). PodiumSeats bounds the number
//     of speakers in the room, and, as in TrueConf, the owner and the
//     moderators present occupy seats too: with 4 seats, an owner and a
//     moderator leave 2 for the others. Moderators are never refused for
//     want of a seat; they only keep others off the podium.
//   - asymmetric (lecture): the presenter (the owner unless a moderator
//     named another live participant) is heard by all. Everybody but the
//     presenter, the owner and the moderators is a listener, exactly as in
//     role-based mode, and a moderator may give one of them the floor: one
//     seat, given and taken like a podium seat.
//
// Listeners raise and lower their hand to ask for a seat; giving the seat
// lowers it. A guest of a public conference whose GuestRights deny "speak"
// joins muted in every mode and can never unmute himself; a moderator may
// unmute him, give him a seat or make him the presenter, which opens his
// microphone without giving him the right to open it himself.
//
// Moderators may mute and unmute anyone at any time (issue 4, rights): an
// unmute by a moderator overrides the rules above for that moment, it does
// not make a listener a speaker.
//
// The mode of a conference cannot change while someone is in it
// (UpdateConference answers ErrConflict), so the rules a participant joined
// under hold until he leaves; changed guest rights and the recording switch
// apply to live participants at once.

// Rights a participant may or may not have; MayParticipant checks them.
const (
	RightSpeak        = "speak"
	RightVideo        = "video"
	RightChat         = "chat"
	RightShareContent = "share_content"
	RightRecord       = "record"
)

// ParticipantRights are a live participant's effective rights: the guest
// rights of his conference for a guest (everything for anybody else), his
// place in the conference's mode for speak, and the conference's
// recording switch for record.
type ParticipantRights struct {
	// Speak: he may open his own microphone.
	Speak bool `json:"speak"`
	// Video: he may send video.
	Video bool `json:"video"`
	// Chat: he may write in the conference chat.
	Chat bool `json:"chat"`
	// ShareContent: he may share a screen or content channel (H.239, BFCP).
	ShareContent bool `json:"share_content"`
	// Record: he may record the conference.
	Record bool `json:"record"`
}

// ParticipantState is the live state of a participant beyond
// ParticipantInfo: what the participant list of the REST API shows.
type ParticipantState struct {
	Rights ParticipantRights `json:"rights"`
	// Speaker: his place lets him be heard by the room (always in a
	// symmetric conference; owner, moderators, podium and presenter in
	// the others). A speaker may still be muted.
	Speaker bool `json:"speaker"`
	// Podium: a moderator gave him a podium seat (role-based) or the floor
	// (asymmetric).
	Podium bool `json:"podium"`
	// Presenter: he is the presenter of an asymmetric conference.
	Presenter bool `json:"presenter"`
	// HandRaised: he asks for a seat.
	HandRaised bool `json:"hand_raised"`
	// CameraMuted: his video is not to be shown (the conference mutes
	// cameras on join, or his guest rights deny video); the video router
	// honours it.
	CameraMuted bool `json:"camera_muted"`
}

// LiveParticipant is a live participant with his state. Both halves are
// embedded, so its JSON is one flat object.
type LiveParticipant struct {
	ParticipantInfo
	ParticipantState
}

// allRights are the rights of everybody who is not a restricted guest.
var allRights = GuestRights{Speak: true, Video: true, Chat: true, ShareContent: true, Record: true}

// liveRules are the settings of his conference a participant's rights
// depend on, copied when he joins (and when the conference is updated)
// so that MayParticipant needs no store read.
type liveRules struct {
	mode      string
	guest     GuestRights
	recording bool
}

func rulesOf(c Conference) liveRules {
	g := allRights
	if c.GuestRights != nil && c.Access == AccessPublic {
		g = *c.GuestRights
	}
	return liveRules{mode: c.Mode, guest: g, recording: c.RecordingAllowed}
}

// isChair reports whether p runs the conference: the owner or a moderator
// (operators and administrators join as moderators).
func isChair(p *Participant) bool {
	r := p.Role()
	return r == RoleOwner || r == RoleModerator
}

// prepareJoinLocked sets the rules and the join-time state of p, who is
// about to be admitted to c, and reports whether his microphone must be
// closed as he joins. A leg that cannot be muted is refused when the mute
// enforces a rule (a listener, a guest who may not speak); when it is only
// the conference's courtesy (MuteMicrophonesOnJoin) it is admitted open,
// with a warning. s.mu must be held.
func (s *Service) prepareJoinLocked(c Conference, p *Participant) (bool, error) {
	p.rules = rulesOf(c)
	chair := isChair(p)
	guest := p.Role() == RoleGuest
	enforced := (guest && !p.rules.guest.Speak) || (!chair && c.Mode != ModeSymmetric)
	mute := enforced || (c.MuteMicrophonesOnJoin && !chair) || cameraAudioMutedOnJoin(c, p)
	p.cameraMuted = !chair && (c.MuteCamerasOnJoin || (guest && !p.rules.guest.Video))
	if mute {
		if _, ok := p.leg.(MutableLeg); !ok {
			if enforced {
				return false, fmt.Errorf("his %s leg cannot be muted and he may not speak in this conference: %w",
					p.protocol, ErrNotSupported)
			}
			s.log.Warn("leg cannot be muted on join; it joins with an open microphone",
				"conf", c.ID, "protocol", p.protocol, "remote", p.remote)
			mute = false
		}
	}
	p.muted = mute
	return mute, nil
}

// refreshRulesLocked gives the live participants of c its current rules;
// s.mu must be held.
func (s *Service) refreshRulesLocked(c Conference) {
	if r := s.rooms[c.ID]; r != nil {
		rules := rulesOf(c)
		for _, p := range r.legs {
			p.rules = rules
		}
	}
}

// presenterLocked reports whether p is the presenter of his asymmetric
// conference: the participant a moderator named, or else the owner.
// s.mu must be held.
func (s *Service) presenterLocked(p *Participant) bool {
	if p.rules.mode != ModeAsymmetric {
		return false
	}
	if id, ok := s.presenter[p.confID]; ok {
		return id == p.id
	}
	return p.Role() == RoleOwner
}

// speakerLocked reports whether p's place lets him be heard; s.mu must be
// held.
func (s *Service) speakerLocked(p *Participant) bool {
	switch p.rules.mode {
	case ModeRoleBased:
		return isChair(p) || p.podium
	case ModeAsymmetric:
		return isChair(p) || p.podium || s.presenterLocked(p)
	default:
		return true
	}
}

// rightsLocked computes p's effective rights; s.mu must be held.
func (s *Service) rightsLocked(p *Participant) ParticipantRights {
	base := allRights
	if p.Role() == RoleGuest {
		base = p.rules.guest
	}
	return ParticipantRights{
		Speak:        base.Speak && s.speakerLocked(p),
		Video:        base.Video,
		Chat:         base.Chat,
		ShareContent: base.ShareContent,
		Record:       base.Record && p.rules.recording,
	}
}

// stateLocked is p's ParticipantState; s.mu must be held.
func (s *Service) stateLocked(p *Participant) ParticipantState {
	return ParticipantState{
		Rights:      s.rightsLocked(p),
		Speaker:     s.speakerLocked(p),
		Podium:      p.podium,
		Presenter:   s.presenterLocked(p),
		HandRaised:  p.handRaised,
		CameraMuted: p.cameraMuted,
	}
}

// MayParticipant reports whether live participant p may do right (one of
// the Right constants) now. Signalling and media packages ask it before
// they let a participant open his microphone, send video or content,
// chat or record; an unknown right, or a participant who left, is denied.
// It takes the Service's lock and allocates nothing (BenchmarkMayParticipant):
// ask it when a participant asks for something, not for every packet.
func (s *Service) MayParticipant(p *Participant, right string) bool {
	if p == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.left {
		return false
	}
	r := s.rightsLocked(p)
	switch right {
	case RightSpeak:
		return r.Speak
	case RightVideo:
		return r.Video
	case RightChat:
		return r.Chat
	case RightShareContent:
		return r.ShareContent
	case RightRecord:
		return r.Record
	}
	return false
}

// State returns live participant p's state (false when he left).
func (s *Service) State(p *Participant) (ParticipantState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p == nil || p.left {
		return ParticipantState{}, false
	}
	return s.stateLocked(p), true
}

// LiveParticipantsAs lists the live participants of conference id with
// their state, if actor may view it.
func (s *Service) LiveParticipantsAs(ctx context.Context, actor User, id string) ([]LiveParticipant, error) {
	if _, err := s.GetConferenceAs(ctx, actor, id); err != nil {
		return nil, fmt.Errorf("listing participants: %w", err)
	}
	return s.LiveParticipants(ctx, id)
}

// applyMute sets p's microphone and muted flag. check, when not nil, runs
// under s.mu first and may refuse; it sees the state the change applies
// to, because p.muteMu is held throughout.
func (s *Service) applyMute(p *Participant, muted bool, check func() error) error {
	ml, ok := p.leg.(MutableLeg)
	if !ok {
		return fmt.Errorf("muting participant %s: his %s leg cannot be muted: %w", p.id, p.protocol, ErrNotSupported)
	}
	p.muteMu.Lock()
	defer p.muteMu.Unlock()
	s.mu.Lock()
	if p.left {
		s.mu.Unlock()
		return fmt.Errorf("participant %s of conference %s: %w", p.id, p.confID, ErrNotFound)
	}
	if check != nil {
		if err := check(); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	p.muted = muted
	s.mu.Unlock()
	ml.SetMuted(muted)
	return nil
}

// MuteSelf is the participant closing (muted true) or opening his own
// microphone, whatever way he asked (a DTMF key, his client, the REST API
// with his own token). Closing is always allowed; opening only when
// MayParticipant(p, RightSpeak): a listener or a guest denied "speak"
// gets ErrForbidden.
func (s *Service) MuteSelf(ctx context.Context, p *Participant, muted bool) error {
	if p == nil {
		return fmt.Errorf("muting oneself: %w", ErrNotFound)
	}
	err := s.applyMute(p, muted, func() error {
		if muted || s.rightsLocked(p).Speak {
			return nil
		}
		why := "he is a listener; a moderator gives the podium"
		if p.Role() == RoleGuest && !p.rules.guest.Speak {
			why = "guests of this conference may not speak; only a moderator may unmute them"
		}
		return fmt.Errorf("participant %s unmuting himself in conference %s: %s: %w", p.id, p.confID, why, ErrForbidden)
	})
	if err != nil {
		return err
	}
	typ := EventUnmuted
	if muted {
		typ = EventMuted
	}
	e := participantEvent(typ, p)
	e.By = p.userID
	e.Cause = "by himself"
	s.emit(e)
	s.log.InfoContext(ctx, "participant muted himself", "conf", p.confID, "leg", p.id, "muted", muted)
	return nil
}

// selfOrModerator finds live participant pid of conference confID and
// checks that actor is that participant (his token's user) or may
// moderate the conference. Someone who is neither gets ErrForbidden even
// when pid does not exist, so that outsiders learn nothing of who is in.
func (s *Service) selfOrModerator(ctx context.Context, actor User, confID, pid string) (Conference, *Participant, bool, error) {
	c, err := s.GetConference(ctx, confID)
	if err != nil {
		return Conference{}, nil, false, err
	}
	authErr := s.Authorize(ctx, actor, c, ActionModerate)
	p, err := s.liveParticipant(confID, pid)
	self := err == nil && actor.ID != "" && actor.ID == p.userID
	switch {
	case authErr != nil && !self:
		return Conference{}, nil, false, authErr
	case err != nil:
		return Conference{}, nil, false, err
	}
	return c, p, authErr == nil, nil
}

// SetHand raises or lowers the hand of live participant pid of conference
// confID. The participant himself (his token's user) or a moderator may;
// only a listener raises his hand (ErrConflict for a speaker, who has
// nothing to ask for). Lowering a lowered hand does nothing.
func (s *Service) SetHand(ctx context.Context, actor User, confID, pid string, raised bool) error {
	_, p, _, err := s.selfOrModerator(ctx, actor, confID, pid)
	if err != nil {
		return fmt.Errorf("raising a hand: %w", err)
	}
	return s.setHand(ctx, p, raised, actor.ID)
}

// RaiseHand is the participant raising (or lowering) his own hand from
// his call (a DTMF key); the rules are SetHand's.
func (s *Service) RaiseHand(ctx context.Context, p *Participant, raised bool) error {
	if p == nil {
		return fmt.Errorf("raising a hand: %w", ErrNotFound)
	}
	return s.setHand(ctx, p, raised, p.userID)
}

func (s *Service) setHand(ctx context.Context, p *Participant, raised bool, by string) error {
	s.mu.Lock()
	if p.left {
		s.mu.Unlock()
		return fmt.Errorf("raising a hand: participant %s: %w", p.id, ErrNotFound)
	}
	if raised && s.speakerLocked(p) {
		s.mu.Unlock()
		return fmt.Errorf("raising the hand of participant %s: he may speak already; listeners raise hands: %w", p.id, ErrConflict)
	}
	changed := p.handRaised != raised
	p.handRaised = raised
	s.mu.Unlock()
	if !changed {
		return nil
	}
	typ := EventHandLowered
	if raised {
		typ = EventHandRaised
	}
	e := participantEvent(typ, p)
	e.By = by
	s.emit(e)
	s.log.InfoContext(ctx, "hand changed", "conf", p.confID, "leg", p.id, "raised", raised, "by", by)
	return nil
}

// GivePodium gives live participant pid a podium seat (role-based) or the
// floor (asymmetric): his hand is lowered and his microphone opened. Only
// moderators may. ErrConflict: a symmetric conference, the participant is
// the owner, a moderator or the presenter, or every seat is taken.
// Giving a seat he holds does nothing.
func (s *Service) GivePodium(ctx context.Context, actor User, confID, pid string) error {
	return s.setPodium(ctx, actor, confID, pid, true)
}

// TakePodium takes the seat of live participant pid back: he is a
// listener again, muted. Taking from one who holds none does nothing.
func (s *Service) TakePodium(ctx context.Context, actor User, confID, pid string) error {
	return s.setPodium(ctx, actor, confID, pid, false)
}

func (s *Service) setPodium(ctx context.Context, actor User, confID, pid string, on bool) error {
	what := "taking a podium seat"
	if on {
		what = "giving a podium seat"
	}
	c, err := s.conferenceFor(ctx, actor, confID, ActionModerate)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	p, err := s.liveParticipant(confID, pid)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var changed, lowered bool
	err = s.applyMute(p, !on, func() error {
		switch {
		case p.rules.mode == ModeSymmetric:
			return fmt.Errorf("%s in conference %s: a symmetric conference has no podium: %w", what, confID, ErrConflict)
		case isChair(p):
			return fmt.Errorf("%s to participant %s: the owner and moderators always speak: %w", what, pid, ErrConflict)
		case s.presenterLocked(p):
			return fmt.Errorf("%s to participant %s: he is the presenter: %w", what, pid, ErrConflict)
		case p.podium == on:
			return errUnchanged
		}
		if on {
			seats, taken := s.seatsLocked(c, p.confID)
			if taken >= seats {
				return fmt.Errorf("%s in conference %s: all %d seats are taken: %w", what, confID, seats, ErrConflict)
			}
			lowered, p.handRaised = p.handRaised, false
		}
		p.podium, changed = on, true
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !changed {
		return nil
	}
	typ, mtyp := EventPodiumTaken, EventMuted
	if on {
		typ, mtyp = EventPodiumGiven, EventUnmuted
	}
	for _, t := range []string{typ, mtyp} {
		e := participantEvent(t, p)
		e.By = actor.ID
		s.emit(e)
	}
	if lowered {
		e := participantEvent(EventHandLowered, p)
		e.By, e.Cause = actor.ID, "given the podium"
		s.emit(e)
	}
	s.log.InfoContext(ctx, "podium changed", "conf", confID, "leg", pid, "seat", on, "by", actor.ID)
	return nil
}

// errUnchanged tells setPodium's check that nothing is to be done; it
// never leaves this file.
var errUnchanged = errors.New("conf: unchanged")

// seatsLocked returns how many seats conference c has and how many are
// taken in room confID: in role-based mode every speaker takes one
// (owner and moderators included); in asymmetric mode there is one floor
// seat besides the presenter. s.mu must be held.
func (s *Service) seatsLocked(c Conference, confID string) (seats, taken int) {
	r := s.rooms[confID]
	if c.Mode == ModeAsymmetric {
		seats = 1
	} else {
		seats = c.PodiumSeats
		if seats <= 0 {
			seats = DefaultPodiumSeats
		}
	}
	if r == nil {
		return seats, 0
	}
	for _, q := range r.legs {
		if q.podium || (c.Mode == ModeRoleBased && isChair(q)) {
			taken++
		}
	}
	return seats, taken
}

// SetPresenter makes live participant pid the presenter of asymmetric
// conference confID: he is heard by all (his microphone is opened and any
// floor seat he had is given up). The former presenter named by a
// moderator becomes a listener again (muted) unless he runs the
// conference; an owner stays a speaker. When the named presenter leaves,
// the owner is the presenter again. Only moderators may; a conference of
// another mode answers ErrConflict.
func (s *Service) SetPresenter(ctx context.Context, actor User, confID, pid string) error {
	c, err := s.conferenceFor(ctx, actor, confID, ActionModerate)
	if err != nil {
		return fmt.Errorf("setting the presenter: %w", err)
	}
	if c.Mode != ModeAsymmetric {
		return fmt.Errorf("setting the presenter of conference %s: only an asymmetric conference has one: %w", confID, ErrConflict)
	}
	p, err := s.liveParticipant(confID, pid)
	if err != nil {
		return fmt.Errorf("setting the presenter: %w", err)
	}
	var prev string
	open := func() error {
		prev = s.presenter[confID]
		s.presenter[confID] = p.id
		p.podium, p.handRaised = false, false
		return nil
	}
	if _, ok := p.leg.(MutableLeg); ok {
		err = s.applyMute(p, false, open)
	} else {
		// A leg that cannot be muted was never muted: it only changes place.
		s.mu.Lock()
		if p.left {
			err = fmt.Errorf("participant %s of conference %s: %w", p.id, confID, ErrNotFound)
		} else {
			err = open()
		}
		s.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("setting the presenter: %w", err)
	}
	e := participantEvent(EventPresenter, p)
	e.By = actor.ID
	s.emit(e)
	s.log.InfoContext(ctx, "presenter changed", "conf", confID, "leg", pid, "by", actor.ID)
	if prev == "" || prev == p.id {
		return nil
	}
	old, err := s.liveParticipant(confID, prev)
	if err != nil {
		return nil // he left meanwhile
	}
	if _, ok := old.leg.(MutableLeg); !ok {
		return nil
	}
	muted := false
	err = s.applyMute(old, true, func() error {
		if old.left || isChair(old) || old.podium || s.presenter[confID] == old.id || old.muted {
			return errUnchanged
		}
		muted = true
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		s.log.WarnContext(ctx, "muting the former presenter", "conf", confID, "leg", prev, "err", err)
	}
	if muted {
		e := participantEvent(EventMuted, old)
		e.By, e.Cause = actor.ID, "no longer the presenter"
		s.emit(e)
	}
	return nil
}
