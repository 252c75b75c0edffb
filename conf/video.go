package conf

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/roomgate/roomgate/bridge"
)

// Video: who is on screen. The bridge switches each conference's video by
// itself, following the loudest talker with a hold time; conf adds the
// rules:
//
//   - A moderator pins a participant as the picture everyone sees, and
//     unpins (PinVideo, UnpinVideo); the event stream announces it.
//   - An asymmetric conference shows its presenter: RunVideo pins him as he
//     joins or is named, and an unpin (or the pinned participant leaving)
//     goes back to him rather than to the speaker.
//   - A role-based conference switches among podium speakers only. That
//     needs no rule here: listeners are muted in the bridge, and the
//     bridge's loudest talker is chosen among unmuted legs. (A moderator who
//     unmutes a listener for a moment lets him onto the screen for that
//     moment too; pin the speaker to prevent it.)
//   - A participant who joins with his camera muted (MuteCamerasOnJoin, a
//     guest without the video right) is kept off screen: RunVideo mutes
//     his leg's camera in the bridge (CameraMutableLeg).
//   - The bridge's switches come back through VideoSwitched as
//     video_switched events naming the participant now on screen.
//
// conf does not hold the bridge: it reaches a conference's video router
// through its live legs (a leg that has video in the bridge implements
// VideoRouter for its room), and names a participant's video by the ID of
// his media in the bridge (MediaIdentified). The pin itself lives in the
// bridge, which drops it when the pinned leg's video closes.

// Event types of video switching.
const (
	// EventVideoSwitched: the picture follows a new speaker;
	// ParticipantID is who is on screen now ("" if not a participant).
	EventVideoSwitched = "video_switched"
	// EventVideoPinned: a moderator (By) pinned ParticipantID, or conf
	// pinned the presenter of an asymmetric conference.
	EventVideoPinned = "video_pinned"
	// EventVideoUnpinned: back to voice-activated switching.
	EventVideoUnpinned = "video_unpinned"
)

// VideoRouter is the video switching of conference rooms: the bridge's
// PinVideo and UnpinVideo, with the room named by the conference ID and the
// video by its media leg ID.
type VideoRouter interface {
	PinVideo(room, mediaLegID string) error
	UnpinVideo(room string)
	// VideoPin returns the media leg room is pinned to, "" for none.
	VideoPin(room string) string
}

// MediaIdentified is a LegHandle whose media has an ID in the bridge: the
// ID the bridge names the speaker by and a pin takes.
type MediaIdentified interface {
	LegHandle
	MediaID() string
}

// VideoStatsLeg is a LegHandle that may carry video; ok is false while it
// has none (audio only, or video not negotiated yet).
type VideoStatsLeg interface {
	LegHandle
	VideoStats() (st bridge.VideoLegStats, ok bool)
}

// CameraMutableLeg is a LegHandle whose video the bridge can keep off
// screen; conf mutes the cameras of participants whose CameraMuted is set
// (MuteCamerasOnJoin, a guest without the video right) as they join.
type CameraMutableLeg interface {
	LegHandle
	SetCameraMuted(muted bool)
}

// VideoRouterLeg is a LegHandle through which conf reaches the video
// router of the conference the leg is in.
type VideoRouterLeg interface {
	LegHandle
	VideoRouter
}

// mediaIDOf returns the bridge ID of p's media, or "".
func mediaIDOf(p *Participant) string {
	if m, ok := p.leg.(MediaIdentified); ok {
		return m.MediaID()
	}
	return ""
}

// videoRouterLocked returns a router of conference confID reached through
// one of its live legs, preferring first's; s.mu must be held.
func (s *Service) videoRouterLocked(confID string, first *Participant) VideoRouter {
	if first != nil {
		if r, ok := first.leg.(VideoRouterLeg); ok {
			return r
		}
	}
	if r := s.rooms[confID]; r != nil {
		for _, p := range r.legs {
			if vr, ok := p.leg.(VideoRouterLeg); ok {
				return vr
			}
		}
	}
	return nil
}

// PinVideo makes participant pid's video the picture everyone in
// conference confID sees (he sees the speaker), until UnpinVideo or until he
// leaves. Moderators only. A participant who sends no video is refused
// with ErrConflict; a deployment whose legs cannot reach the video router
// with ErrNotSupported.
func (s *Service) PinVideo(ctx context.Context, actor User, confID, pid string) error {
	if _, err := s.conferenceFor(ctx, actor, confID, ActionModerate); err != nil {
		return fmt.Errorf("pinning video: %w", err)
	}
	p, err := s.liveParticipant(confID, pid)
	if err != nil {
		return fmt.Errorf("pinning video: %w", err)
	}
	id := mediaIDOf(p)
	vs, hasStats := p.leg.(VideoStatsLeg)
	if id == "" || !hasStats {
		return fmt.Errorf("pinning video of participant %s: his %s leg has no video: %w", pid, p.protocol, ErrNotSupported)
	}
	if _, ok := vs.VideoStats(); !ok {
		return fmt.Errorf("pinning video of participant %s: he sends no video: %w", pid, ErrConflict)
	}
	s.mu.Lock()
	r := s.videoRouterLocked(confID, p)
	s.mu.Unlock()
	if r == nil {
		return fmt.Errorf("pinning video in conference %s: no leg reaches the video router: %w", confID, ErrNotSupported)
	}
	if err := r.PinVideo(confID, id); err != nil {
		return fmt.Errorf("pinning video of participant %s: %w", pid, err)
	}
	e := participantEvent(EventVideoPinned, p)
	e.By = actor.ID
	s.emit(e)
	s.log.InfoContext(ctx, "video pinned", "conf", confID, "leg", pid, "by", actor.ID)
	return nil
}

// UnpinVideo returns conference confID's picture to the speaker, or, in an
// asymmetric conference, to the presenter. Moderators only.
func (s *Service) UnpinVideo(ctx context.Context, actor User, confID string) error {
	if _, err := s.conferenceFor(ctx, actor, confID, ActionModerate); err != nil {
		return fmt.Errorf("unpinning video: %w", err)
	}
	s.mu.Lock()
	r := s.videoRouterLocked(confID, nil)
	presenter := s.presenterOfLocked(confID)
	s.mu.Unlock()
	if r == nil {
		// No live leg has video: nothing is pinned.
		return nil
	}
	if presenter != nil {
		if id := mediaIDOf(presenter); id != "" {
			if err := r.PinVideo(confID, id); err != nil {
				return fmt.Errorf("showing the presenter again: %w", err)
			}
			e := participantEvent(EventVideoPinned, presenter)
			e.By = actor.ID
			s.emit(e)
			return nil
		}
	}
	r.UnpinVideo(confID)
	s.emit(Event{Type: EventVideoUnpinned, ConferenceID: confID, By: actor.ID})
	s.log.InfoContext(ctx, "video unpinned", "conf", confID, "by", actor.ID)
	return nil
}

// presenterOfLocked returns the live presenter of asymmetric conference
// confID, or nil (another mode, or he is not here); s.mu must be held.
func (s *Service) presenterOfLocked(confID string) *Participant {
	r := s.rooms[confID]
	if r == nil {
		return nil
	}
	for _, p := range r.legs {
		if s.presenterLocked(p) {
			return p
		}
	}
	return nil
}

// VideoSwitched is the bridge's OnSwitch: room's picture now follows the
// leg with media ID mediaID. It publishes a video_switched event naming the
// participant; it does not block.
func (s *Service) VideoSwitched(room, mediaID string) {
	e := Event{Type: EventVideoSwitched, ConferenceID: room}
	s.mu.Lock()
	if r := s.rooms[room]; r != nil && mediaID != "" {
		for _, p := range r.legs {
			if mediaIDOf(p) == mediaID {
				e.ParticipantID, e.DisplayName, e.UserID = p.id, p.displayName, p.userID
				break
			}
		}
	}
	s.mu.Unlock()
	s.emit(e)
}

// RunVideo applies the video rules until ctx ends: the camera of a
// participant who joins with CameraMuted is muted in the bridge; in an
// asymmetric conference the presenter is pinned as he joins or is named,
// and when the pinned participant leaves the picture goes back to him. cmd
// runs it beside the Service.
func (s *Service) RunVideo(ctx context.Context) {
	sub := s.Subscribe()
	defer sub.Close()
	// Who joined before the subscription is caught up with here; who joins
	// after comes as an event.
	s.mu.Lock()
	type joined struct{ conf, pid string }
	var live []joined
	for id, r := range s.rooms {
		for pid := range r.legs {
			live = append(live, joined{id, pid})
		}
	}
	s.mu.Unlock()
	for _, j := range live {
		s.muteCamera(j.conf, j.pid)
		s.showPresenter(ctx, j.conf, j.pid, false)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.C():
			if !ok {
				return
			}
			switch e.Type {
			case EventPresenter:
				s.showPresenter(ctx, e.ConferenceID, "", true)
			case EventJoined:
				s.muteCamera(e.ConferenceID, e.ParticipantID)
				s.showPresenter(ctx, e.ConferenceID, e.ParticipantID, false)
			case EventLeft, EventRemoved:
				s.showPresenter(ctx, e.ConferenceID, "", false)
			}
		}
	}
}

// muteCamera keeps the video of participant pid off screen when his
// state says his camera is muted.
func (s *Service) muteCamera(confID, pid string) {
	s.mu.Lock()
	var leg CameraMutableLeg
	if r := s.rooms[confID]; r != nil {
		if p := r.legs[pid]; p != nil && p.cameraMuted {
			leg, _ = p.leg.(CameraMutableLeg)
		}
	}
	s.mu.Unlock()
	if leg != nil {
		leg.SetCameraMuted(true)
	}
}

// showPresenter pins the presenter of asymmetric conference confID: always
// when force (he was just named), when joined is he, or when the room's
// pin names nobody live (none, or the participant who just left).
func (s *Service) showPresenter(ctx context.Context, confID, joined string, force bool) {
	s.mu.Lock()
	p := s.presenterOfLocked(confID)
	var r VideoRouter
	live := map[string]bool{}
	if p != nil {
		r = s.videoRouterLocked(confID, p)
		if rm := s.rooms[confID]; rm != nil {
			for _, o := range rm.legs {
				live[mediaIDOf(o)] = true
			}
		}
	}
	s.mu.Unlock()
	if p == nil || r == nil {
		return
	}
	id := mediaIDOf(p)
	if id == "" {
		return
	}
	pin := r.VideoPin(confID)
	if pin == id || !(force || joined == p.id || pin == "" || !live[pin]) {
		return
	}
	if err := r.PinVideo(confID, id); err != nil {
		s.log.WarnContext(ctx, "pinning the presenter's video", "conf", confID, "leg", p.id, "err", err)
		return
	}
	s.emit(participantEvent(EventVideoPinned, p))
	s.log.InfoContext(ctx, "presenter's video pinned", "conf", confID, "leg", p.id)
}

// videoInfoOf returns the video state of participant p's leg for the
// participant list, or nil when he has no video; mediaToParticipant maps
// media IDs of the conference to participant IDs, for Watching.
func videoInfoOf(p *Participant, pinned string, mediaToParticipant map[string]string) *VideoInfo {
	vs, ok := p.leg.(VideoStatsLeg)
	if !ok {
		return nil
	}
	st, ok := vs.VideoStats()
	if !ok {
		return nil
	}
	return &VideoInfo{
		Codec:                    st.Codec,
		Width:                    st.Width,
		Height:                   st.Height,
		ProfileLevelID:           st.ProfileLevelID,
		FramesIn:                 st.FramesIn,
		FramesOut:                st.FramesOut,
		KeyframesIn:              st.KeyframesIn,
		KeyframeRequests:         st.KeyframeRequestsSent,
		KeyframeRequestsReceived: st.KeyframeRequestsReceived,
		PacketsIn:                st.PacketsIn,
		PacketsOut:               st.PacketsOut,
		Lost:                     st.Lost,
		Active:                   st.Active,
		OnScreen:                 st.OnScreen,
		Pinned:                   pinned != "" && pinned == mediaIDOf(p),
		Watching:                 mediaToParticipant[st.Watching],
	}
}

// ConferenceVideo is the video state of a live conference.
type ConferenceVideo struct {
	// Pinned is the participant everyone sees, "" when the picture
	// follows the speaker.
	Pinned string `json:"pinned,omitempty"`
	// Participants are the live participants that have video, with its
	// state.
	Participants []ParticipantVideo `json:"participants"`
}

// ParticipantVideo is one participant's video in ConferenceVideo.
type ParticipantVideo struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"display_name"`
	Video       VideoInfo `json:"video"`
}

// Video returns the video state of conference confID: who is pinned, and
// each participant's video. Like the participant list, anyone who may see
// the conference may read it.
func (s *Service) Video(ctx context.Context, actor User, confID string) (ConferenceVideo, error) {
	if _, err := s.conferenceFor(ctx, actor, confID, ActionView); err != nil {
		return ConferenceVideo{}, fmt.Errorf("reading video state: %w", err)
	}
	s.mu.Lock()
	var live []*Participant
	ids := map[string]string{}
	if r := s.rooms[confID]; r != nil {
		for _, p := range r.legs {
			live = append(live, p)
			if id := mediaIDOf(p); id != "" {
				ids[id] = p.id
			}
		}
	}
	r := s.videoRouterLocked(confID, nil)
	s.mu.Unlock()
	slices.SortFunc(live, func(a, b *Participant) int {
		return cmp.Or(a.joinedAt.Compare(b.joinedAt), cmp.Compare(a.id, b.id))
	})
	pinned := ""
	if r != nil {
		pinned = r.VideoPin(confID)
	}
	out := ConferenceVideo{Pinned: ids[pinned], Participants: []ParticipantVideo{}}
	for _, p := range live {
		if vi := videoInfoOf(p, pinned, ids); vi != nil {
			out.Participants = append(out.Participants, ParticipantVideo{ID: p.id, DisplayName: p.displayName, Video: *vi})
		}
	}
	return out, nil
}

// participantVideo is p's video for the participant list (nil without
// video). It takes s.mu itself: call it without the lock.
func (s *Service) participantVideo(p *Participant) *VideoInfo {
	if _, ok := p.leg.(VideoStatsLeg); !ok {
		return nil
	}
	s.mu.Lock()
	ids := map[string]string{}
	if r := s.rooms[p.confID]; r != nil {
		for _, o := range r.legs {
			if id := mediaIDOf(o); id != "" {
				ids[id] = o.id
			}
		}
	}
	r := s.videoRouterLocked(p.confID, p)
	s.mu.Unlock()
	pinned := ""
	if r != nil {
		pinned = r.VideoPin(p.confID)
	}
	return videoInfoOf(p, pinned, ids)
}
