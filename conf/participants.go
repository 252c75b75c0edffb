package conf

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Roles of live participants.
const (
	RoleOwner       = "owner"
	RoleModerator   = "moderator"
	RoleParticipant = "participant"
	RoleGuest       = "guest"
)

// Protocols of live participants.
const (
	ProtocolSIP    = "sip"
	ProtocolH323   = "h323"
	ProtocolRTSP   = "rtsp"
	ProtocolNative = "native"
)

// maxJoinRetries bounds how often Join re-reads a conference that changed
// while it was being admitted; the last try reads it under the lock.
const maxJoinRetries = 4

// Participant is a live leg admitted into a conference. It is created by
// Join and ends with Leave; its identity fields do not change while it
// lives, so their accessors need no lock. The live state below them (mute,
// hand, podium seat, the conference rules he joined under) is guarded by
// Service.mu.
type Participant struct {
	id          string
	confID      string
	displayName string
	protocol    string
	remote      string
	role        atomic.Pointer[string] // a moderator PIN can raise it while the call lives
	userID      string
	joinedAt    time.Time
	leg         LegHandle
	left        bool // guarded by Service.mu
	muted       bool // guarded by Service.mu
	// muteMu serialises changes of the leg's microphone with the muted
	// flag, so that the leg and the live list never disagree when a join,
	// a moderator and the participant himself act at once. It is taken
	// before Service.mu, never while holding it.
	muteMu sync.Mutex
	// Guarded by Service.mu (podium.go).
	handRaised  bool
	podium      bool // a podium seat (role-based) or the floor (asymmetric)
	cameraMuted bool
	rules       liveRules
}

// ID is the participant's ID, unique among the live participants of the
// process; the REST API and logs name the leg with it.
func (p *Participant) ID() string { return p.id }

// ConferenceID is the conference the participant is in.
func (p *Participant) ConferenceID() string { return p.confID }

// DisplayName is the caller's name as signalling gave it.
func (p *Participant) DisplayName() string { return p.displayName }

// Protocol is sip, h323, rtsp or native.
func (p *Participant) Protocol() string { return p.protocol }

// Remote is the signalling peer address.
func (p *Participant) Remote() string { return p.remote }

// Role is the participant's role in the conference when he joined: owner,
// moderator (invited as one, directly or through a group), participant
// (any other address-book user) or guest.
func (p *Participant) Role() string {
	if r := p.role.Load(); r != nil {
		return *r
	}
	return ""
}

// setRole changes the participant's role while he is in the conference
// (a moderator PIN entered during the call, a moderator's decision).
func (p *Participant) setRole(role string) { p.role.Store(&role) }

// UserID is the address-book user the caller authenticated as, or "" for
// a guest.
func (p *Participant) UserID() string { return p.userID }

// JoinedAt is when the participant was admitted.
func (p *Participant) JoinedAt() time.Time { return p.joinedAt }

// Leg is the handle signalling gave when joining.
func (p *Participant) Leg() LegHandle { return p.leg }

// AuthenticatedLeg is implemented by a LegHandle whose caller proved to be
// an address-book user (SIP digest, H.235, a native login). Legs that do not
// implement it, or return "", are guests: they may join public conferences
// only.
type AuthenticatedLeg interface {
	LegHandle
	// UserID is the authenticated user's ID, or "" for a guest.
	UserID() string
}

// Join admits req.Leg into conference req.ConferenceID. It returns
// ErrNotFound for an unknown conference, ErrLocked when it is locked,
// ErrFull when MaxParticipants live legs are in it, ErrUnauthorized when a
// guest calls an internal conference, ErrRemoved (also ErrUnauthorized)
// when a moderator removed the caller and nobody invited him again,
// ErrNotStarted (also ErrLocked) for a scheduled conference outside its
// time that nobody started (its owner may: his join starts it), and a
// *ValidationError for a request without a leg. The cost is one indexed
// store read, one more for a ban check, one more for an authenticated
// caller (his role), and group reads when the conference invites groups.
func (s *Service) Join(ctx context.Context, req JoinRequest) (*Participant, error) {
	p, err := s.join(ctx, req)
	s.metrics.joins.WithLabelValues(joinResult(err)).Inc()
	return p, err
}

func (s *Service) join(ctx context.Context, req JoinRequest) (*Participant, error) {
	if req.Leg == nil {
		return nil, invalid("leg", "is required")
	}
	if !ValidConferenceID(req.ConferenceID) {
		return nil, fmt.Errorf("joining conference %q: %w", truncate(req.ConferenceID, MaxIDLen), ErrNotFound)
	}
	var userID string
	if a, ok := req.Leg.(AuthenticatedLeg); ok {
		userID = a.UserID()
	}
	p := &Participant{
		confID:      req.ConferenceID,
		displayName: req.DisplayName,
		protocol:    req.Protocol,
		remote:      req.Remote,
		userID:      userID,
		leg:         req.Leg,
	}
	// Nobody else can reach p before it is admitted; holding muteMu until
	// the mute on join reached the leg keeps a moderator's unmute from
	// being overtaken by it.
	p.muteMu.Lock()
	defer p.muteMu.Unlock()
	for try := 0; ; try++ {
		last := try >= maxJoinRetries
		s.mu.Lock()
		gen := s.gen
		if !last {
			s.mu.Unlock()
		}
		c, err := s.store.GetConference(ctx, req.ConferenceID)
		if !last {
			s.mu.Lock()
		}
		if err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("joining conference %s: %w", req.ConferenceID, err)
		}
		if !last {
			// Role and bans need more reads: do them unlocked too, and let
			// the generation check below catch a change meanwhile.
			s.mu.Unlock()
		}
		role, err := s.admissionChecks(ctx, c, p)
		if !last {
			s.mu.Lock()
		}
		if err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("joining conference %s: %w", req.ConferenceID, err)
		}
		if s.gen != gen {
			s.mu.Unlock()
			continue // updated or deleted meanwhile: read it again
		}
		if req.asModerator && role != RoleOwner {
			role = RoleModerator
		}
		p.setRole(role)
		open := s.scheduleOpenLocked(c, s.clock())
		if !open && role != RoleOwner {
			s.mu.Unlock()
			return nil, fmt.Errorf("joining conference %s: %w", req.ConferenceID, errNotStarted(c))
		}
		mute, err := s.admitLocked(c, p)
		startedNow := false
		if err == nil {
			delete(s.ended, c.ID)
			if !open {
				// The owner dialling in starts his conference early.
				s.started[c.ID], startedNow = true, true
			}
		}
		s.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("joining conference %s: %w", req.ConferenceID, err)
		}
		if mute {
			// The leg was checked by prepareJoinLocked: it can be muted.
			if ml, ok := p.leg.(MutableLeg); ok {
				ml.SetMuted(true)
			}
		}
		if startedNow {
			s.emit(Event{Type: EventStarted, ConferenceID: c.ID, By: p.userID})
		}
		s.log.InfoContext(ctx, "participant joined", "conf", p.confID, "leg", p.id,
			"protocol", p.protocol, "remote", p.remote, "role", p.Role(), "muted", mute)
		s.emit(participantEvent(EventJoined, p))
		if mute {
			e := participantEvent(EventMuted, p)
			e.Cause = "muted on join"
			s.emit(e)
		}
		return p, nil
	}
}

// admitLocked applies the admission rules to p for conference c and adds
// it to the room; it reports whether p's microphone is to be closed as he
// joins (podium.go). s.mu must be held.
func (s *Service) admitLocked(c Conference, p *Participant) (mute bool, err error) {
	if c.Locked && !isChair(p) {
		return false, ErrLocked // a lock keeps out everyone but the owner and moderators
	}
	if p.userID == "" && c.Access != AccessPublic && !isDialledLeg(p.leg) { // dialled legs: see dialer.go
		return false, fmt.Errorf("guests may not join an internal conference: %w", ErrUnauthorized)
	}
	r := s.rooms[c.ID]
	if r == nil {
		r = &room{legs: make(map[string]*Participant)}
	}
	if c.MaxParticipants > 0 && len(r.legs) >= c.MaxParticipants {
		return false, ErrFull
	}
	if mute, err = s.prepareJoinLocked(c, p); err != nil {
		return false, err
	}
	for {
		id, err := randomID(s.rand)
		if err != nil {
			return false, fmt.Errorf("generating participant ID: %w", err)
		}
		if !s.liveIDLocked(id) {
			p.id = id
			break
		}
	}
	p.joinedAt = s.clock()
	r.legs[p.id] = p
	s.rooms[c.ID] = r
	s.metrics.live.Inc()
	return mute, nil
}

// liveIDLocked reports whether a live participant already has id.
func (s *Service) liveIDLocked(id string) bool {
	for _, r := range s.rooms {
		if _, ok := r.legs[id]; ok {
			return true
		}
	}
	return false
}

// randomID returns 8 lowercase hex characters: short enough to type in a
// CLI, random so that IDs from different runs rarely meet in call records.
func randomID(r io.Reader) (string, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// Leave removes p from its conference because of cause (nil for a normal
// hang-up) and writes its call record. It is idempotent, and does nothing
// for a participant that DeleteConference already removed.
func (s *Service) Leave(p *Participant, cause error) {
	if p == nil {
		return
	}
	s.mu.Lock()
	if p.left {
		s.mu.Unlock()
		return
	}
	s.removeLegLocked(p)
	s.mu.Unlock()
	ended := s.clock()
	s.log.Info("participant left", "conf", p.confID, "leg", p.id, "cause", causeText(cause),
		"duration", ended.Sub(p.joinedAt).Round(time.Millisecond))
	s.recordCall(p, ended, cause)
	e := participantEvent(EventLeft, p)
	e.Cause = causeText(cause)
	s.emit(e)
}

// removeLegLocked takes p out of its room and forgets what only a live
// participant holds (the presenter's place); s.mu must be held and p must
// not have left.
func (s *Service) removeLegLocked(p *Participant) {
	p.left = true
	s.metrics.leaves.Inc()
	s.metrics.live.Dec()
	if r := s.rooms[p.confID]; r != nil {
		delete(r.legs, p.id)
		if len(r.legs) == 0 {
			delete(s.rooms, p.confID)
		}
	}
	if s.presenter[p.confID] == p.id {
		delete(s.presenter, p.confID)
	}
}

// Participants lists the live participants of conference id, oldest first,
// with their legs' current media statistics. It returns ErrNotFound when
// the conference does not exist.
func (s *Service) Participants(ctx context.Context, id string) ([]ParticipantInfo, error) {
	live, err := s.LiveParticipants(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]ParticipantInfo, len(live))
	for i := range live {
		out[i] = live[i].ParticipantInfo
	}
	return out, nil
}

// LiveParticipants is Participants with each participant's live state
// (rights, hand, podium seat, presenter, camera): what the REST API's
// participant list shows.
func (s *Service) LiveParticipants(ctx context.Context, id string) ([]LiveParticipant, error) {
	if _, err := s.GetConference(ctx, id); err != nil {
		return nil, fmt.Errorf("listing participants: %w", err)
	}
	type snap struct {
		p     *Participant
		muted bool
		state ParticipantState
	}
	s.mu.Lock()
	var live []snap
	if r := s.rooms[id]; r != nil {
		live = make([]snap, 0, len(r.legs))
		for _, p := range r.legs {
			live = append(live, snap{p: p, muted: p.muted, state: s.stateLocked(p)})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(live, func(a, b snap) int {
		return cmp.Or(a.p.joinedAt.Compare(b.p.joinedAt), cmp.Compare(a.p.id, b.p.id))
	})
	out := make([]LiveParticipant, 0, len(live))
	for _, l := range live {
		p := l.p
		// Stats is called without the lock: it reads the leg's counters.
		st := p.leg.Stats()
		remote := p.remote
		if st.Remote.IsValid() {
			remote = st.Remote.String()
		}
		out = append(out, LiveParticipant{
			ParticipantInfo: ParticipantInfo{
				ID:          p.id,
				DisplayName: p.displayName,
				Protocol:    p.protocol,
				Role:        p.Role(),
				Muted:       l.muted,
				Talking:     st.Talking,
				Codec:       st.Codec,
				Remote:      remote,
				JoinedAt:    p.joinedAt,
				Video:       s.participantVideo(p),
				Stats: LegStats{
					PacketsIn:  st.PacketsIn,
					PacketsOut: st.PacketsOut,
					Lost:       st.Lost,
					JitterMs:   st.JitterMs,
				},
			},
			ParticipantState: l.state,
		})
	}
	return out, nil
}

// LiveCount returns how many legs are live in conference id, for metrics
// and the CLI.
func (s *Service) LiveCount(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[id]; r != nil {
		return len(r.legs)
	}
	return 0
}

// causeText is the cause as call records and logs keep it.
func causeText(cause error) string {
	if cause == nil || errors.Is(cause, context.Canceled) {
		return "normal"
	}
	return cause.Error()
}
