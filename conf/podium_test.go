package conf_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/roomgate/roomgate/conf"
)

// guestMuteLeg is a guest's leg whose microphone can be closed.
type guestMuteLeg struct {
	fakeLeg
	muted []bool
}

func (l *guestMuteLeg) SetMuted(m bool) {
	l.mu.Lock()
	l.muted = append(l.muted, m)
	l.mu.Unlock()
}

// mutes returns what SetMuted was called with, in order.
func (l *guestMuteLeg) mutes() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.muted...)
}

func (l *muteLeg) mutes() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.muted...)
}

// live returns the live state of participant p from the list.
func live(t *testing.T, e *env, p *conf.Participant) conf.LiveParticipant {
	t.Helper()
	ps, err := e.svc.LiveParticipants(t.Context(), p.ConferenceID())
	if err != nil {
		t.Fatal(err)
	}
	for _, lp := range ps {
		if lp.ID == p.ID() {
			return lp
		}
	}
	t.Fatalf("participant %s is not in the list", p.ID())
	return conf.LiveParticipant{}
}

// joiner joins users (or a guest for "") into conference id with mutable legs.
type joiner struct {
	t  *testing.T
	e  *env
	id string
}

func (j joiner) user(name string) (*conf.Participant, *muteLeg) {
	j.t.Helper()
	l := &muteLeg{userLeg: userLeg{user: name}}
	p, err := j.e.svc.Join(j.t.Context(), conf.JoinRequest{ConferenceID: j.id, DisplayName: name, Protocol: "sip",
		Remote: "192.0.2.1:5060", Leg: l})
	if err != nil {
		j.t.Fatalf("%s joins %s: %v", name, j.id, err)
	}
	return p, l
}

func (j joiner) guest(remote string) (*conf.Participant, *guestMuteLeg) {
	j.t.Helper()
	l := &guestMuteLeg{}
	p, err := j.e.svc.Join(j.t.Context(), conf.JoinRequest{ConferenceID: j.id, DisplayName: "guest", Protocol: "sip",
		Remote: remote, Leg: l})
	if err != nil {
		j.t.Fatalf("guest joins %s: %v", j.id, err)
	}
	return p, l
}

func TestGuestRights(t *testing.T) {
	e := newEnv(t)
	users, _ := book(t, e)
	ctx := t.Context()
	c, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{
		ID: "2000", Name: "Webinar", Access: conf.AccessPublic, RecordingAllowed: true,
		Invitations: []conf.Invitation{{Target: "mod", Moderator: true}},
		GuestRights: &conf.GuestRights{Speak: false, Video: false, Chat: true, ShareContent: false, Record: false},
	})
	if err != nil {
		t.Fatal(err)
	}
	j := joiner{t, e, c.ID}
	g, gLeg := j.guest("198.51.100.1:5060")
	member, mLeg := j.user("other")
	if got := gLeg.mutes(); len(got) != 1 || !got[0] {
		t.Fatalf("guest who may not speak: leg saw %v, want muted on join", got)
	}
	if got := mLeg.mutes(); len(got) != 0 {
		t.Fatalf("user joined muted: %v", got)
	}
	lg := live(t, e, g)
	want := conf.ParticipantRights{Chat: true}
	if !lg.Muted || lg.Rights != want || !lg.CameraMuted || !lg.Speaker {
		t.Errorf("guest state %+v", lg)
	}
	if lm := live(t, e, member); lm.Muted || lm.Rights != (conf.ParticipantRights{Speak: true, Video: true, Chat: true, ShareContent: true, Record: true}) {
		t.Errorf("user state %+v", lm)
	}
	for right, allowed := range map[string]bool{
		conf.RightSpeak: false, conf.RightVideo: false, conf.RightChat: true,
		conf.RightShareContent: false, conf.RightRecord: false, "fly": false,
	} {
		if got := e.svc.MayParticipant(g, right); got != allowed {
			t.Errorf("guest %s: %v, want %v", right, got, allowed)
		}
	}
	if !e.svc.MayParticipant(member, conf.RightRecord) || e.svc.MayParticipant(member, "fly") {
		t.Error("user rights")
	}
	// He cannot unmute himself; muting himself is fine.
	if err := e.svc.MuteSelf(ctx, g, false); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("guest unmutes himself: %v", err)
	}
	if err := e.svc.MuteSelf(ctx, g, true); err != nil {
		t.Errorf("guest mutes himself: %v", err)
	}
	// A moderator may unmute him; the right stays denied.
	if err := e.svc.SetMuted(ctx, users["mod"], c.ID, g.ID(), false); err != nil {
		t.Fatal(err)
	}
	if got := gLeg.mutes(); len(got) != 3 || got[2] {
		t.Errorf("leg after moderator unmute %v", got)
	}
	if live(t, e, g).Muted || e.svc.MayParticipant(g, conf.RightSpeak) {
		t.Error("guest after moderator unmute")
	}
	// Rights changed while he is in apply at once.
	c.GuestRights = &conf.GuestRights{Speak: true, Video: true}
	c.RecordingAllowed = false
	if _, err := e.svc.UpdateConferenceAs(ctx, users["owner"], c); err != nil {
		t.Fatal(err)
	}
	if !e.svc.MayParticipant(g, conf.RightSpeak) || e.svc.MayParticipant(g, conf.RightChat) || e.svc.MayParticipant(member, conf.RightRecord) {
		t.Errorf("rights after update: %+v", live(t, e, g).Rights)
	}
	if err := e.svc.MuteSelf(ctx, g, false); err != nil {
		t.Errorf("guest who may speak now unmutes himself: %v", err)
	}
	e.svc.Leave(g, nil)
	if e.svc.MayParticipant(g, conf.RightChat) || e.svc.MayParticipant(nil, conf.RightChat) {
		t.Error("a participant who left has rights")
	}
	// A guest whose leg cannot be muted cannot join where he may not speak.
	c.GuestRights = &conf.GuestRights{Video: true}
	if _, err := e.svc.UpdateConferenceAs(ctx, users["owner"], c); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: &fakeLeg{}}); !errors.Is(err, conf.ErrNotSupported) {
		t.Errorf("unmutable guest leg: %v", err)
	}
}

func TestMuteOnJoin(t *testing.T) {
	e := newEnv(t)
	users, _ := book(t, e)
	ctx := t.Context()
	c, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{
		ID: "2100", Name: "Quiet", MuteMicrophonesOnJoin: true, MuteCamerasOnJoin: true,
		Invitations: []conf.Invitation{{Target: "mod", Moderator: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	j := joiner{t, e, c.ID}
	owner, oLeg := j.user("owner")
	mod, modLeg := j.user("mod")
	oper, _ := j.user("oper")
	member, mLeg := j.user("other")
	g, gLeg := j.guest("198.51.100.2:5060")
	for _, tc := range []struct {
		p           *conf.Participant
		mutes       []bool
		muted, cams bool
	}{
		{owner, oLeg.mutes(), false, false},
		{mod, modLeg.mutes(), false, false},
		{oper, nil, false, false},
		{member, mLeg.mutes(), true, true},
		{g, gLeg.mutes(), true, true},
	} {
		lp := live(t, e, tc.p)
		if lp.Muted != tc.muted || lp.CameraMuted != tc.cams || len(tc.mutes) != map[bool]int{true: 1, false: 0}[tc.muted] {
			t.Errorf("%s (%s): muted %v camera %v, leg %v", tc.p.DisplayName(), tc.p.Role(), lp.Muted, lp.CameraMuted, tc.mutes)
		}
	}
	// Muted on join is a courtesy: he may unmute himself, by REST or DTMF.
	if err := e.svc.SetMuted(ctx, users["other"], c.ID, member.ID(), false); err != nil {
		t.Errorf("member unmutes himself: %v", err)
	}
	if err := e.svc.MuteSelf(ctx, g, false); err != nil {
		t.Errorf("guest unmutes himself: %v", err)
	}
	// Nobody else but a moderator may.
	if err := e.svc.SetMuted(ctx, users["other"], c.ID, g.ID(), true); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("member mutes a guest: %v", err)
	}
	// A leg that cannot be muted joins open, since nothing forbids him to speak.
	p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: &userLeg{user: "guest1"}})
	if err != nil || live(t, e, p).Muted {
		t.Errorf("unmutable leg on join: %v", err)
	}
}

func TestRoleBasedPodium(t *testing.T) {
	e := newEnv(t)
	users, _ := book(t, e)
	ctx := t.Context()
	c, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{
		ID: "2200", Name: "Panel", Mode: conf.ModeRoleBased, PodiumSeats: 3,
		Invitations: []conf.Invitation{{Target: "mod", Moderator: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sub := e.svc.Subscribe()
	defer sub.Close()
	j := joiner{t, e, c.ID}
	owner, _ := j.user("owner")
	mod, modLeg := j.user("mod")
	l1, l1Leg := j.user("other")
	l2, _ := j.guest("198.51.100.3:5060")
	if len(modLeg.mutes()) != 0 || !live(t, e, owner).Speaker || !live(t, e, mod).Speaker {
		t.Fatal("owner and moderator must be speakers, unmuted")
	}
	if got := l1Leg.mutes(); len(got) != 1 || !got[0] || live(t, e, l1).Speaker || live(t, e, l1).Rights.Speak {
		t.Fatalf("listener on join: leg %v state %+v", got, live(t, e, l1))
	}
	if err := e.svc.SetMuted(ctx, users["other"], c.ID, l1.ID(), false); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("listener unmutes himself: %v", err)
	}
	// Hands: listeners raise them, speakers have nothing to ask for.
	if err := e.svc.SetHand(ctx, users["other"], c.ID, l1.ID(), true); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RaiseHand(ctx, l2, true); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetHand(ctx, users["mod"], c.ID, mod.ID(), true); !errors.Is(err, conf.ErrConflict) {
		t.Errorf("speaker raises hand: %v", err)
	}
	if err := e.svc.SetHand(ctx, users["guest1"], c.ID, l1.ID(), false); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("someone else lowers his hand: %v", err)
	}
	if !live(t, e, l1).HandRaised || !live(t, e, l2).HandRaised {
		t.Error("hands not shown raised")
	}
	// Seats: owner and moderator hold two of three.
	if err := e.svc.GivePodium(ctx, users["other"], c.ID, l1.ID()); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("listener takes the podium: %v", err)
	}
	if err := e.svc.GivePodium(ctx, users["mod"], c.ID, mod.ID()); !errors.Is(err, conf.ErrConflict) {
		t.Errorf("podium to a moderator: %v", err)
	}
	if err := e.svc.GivePodium(ctx, users["mod"], c.ID, l1.ID()); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.GivePodium(ctx, users["mod"], c.ID, l1.ID()); err != nil {
		t.Errorf("giving a seat he holds: %v", err)
	}
	st := live(t, e, l1)
	if st.Muted || !st.Podium || st.HandRaised || !st.Speaker || !st.Rights.Speak {
		t.Errorf("after the podium: %+v", st)
	}
	if err := e.svc.GivePodium(ctx, users["oper"], c.ID, l2.ID()); !errors.Is(err, conf.ErrConflict) {
		t.Errorf("fourth speaker with three seats: %v", err)
	}
	// The seat holder may mute and unmute himself.
	if err := e.svc.MuteSelf(ctx, l1, true); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.MuteSelf(ctx, l1, false); err != nil {
		t.Errorf("speaker unmutes himself: %v", err)
	}
	if err := e.svc.TakePodium(ctx, users["owner"], c.ID, l1.ID()); err != nil {
		t.Fatal(err)
	}
	if st := live(t, e, l1); !st.Muted || st.Podium || st.Speaker {
		t.Errorf("after the podium was taken: %+v", st)
	}
	if got := l1Leg.mutes(); len(got) != 5 || !got[4] {
		t.Errorf("listener leg %v", got)
	}
	// A guest who may speak gets the freed seat; his hand goes down.
	if err := e.svc.GivePodium(ctx, users["oper"], c.ID, l2.ID()); err != nil {
		t.Fatal(err)
	}
	if st := live(t, e, l2); st.HandRaised || st.Muted {
		t.Errorf("guest on the podium %+v", st)
	}
	var types []string
	for len(sub.C()) > 0 {
		types = append(types, (<-sub.C()).Type)
	}
	for _, want := range []string{conf.EventHandRaised, conf.EventPodiumGiven, conf.EventHandLowered, conf.EventPodiumTaken} {
		found := false
		for _, typ := range types {
			found = found || typ == want
		}
		if !found {
			t.Errorf("no %s event in %v", want, types)
		}
	}
	// The mode cannot change under live participants.
	c.Mode, c.PodiumSeats = conf.ModeSymmetric, 0
	if _, err := e.svc.UpdateConferenceAs(ctx, users["owner"], c); !errors.Is(err, conf.ErrConflict) {
		t.Errorf("mode change while running: %v", err)
	}
	// A listener whose leg cannot be muted is refused.
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: &userLeg{user: "guest1"}}); !errors.Is(err, conf.ErrNotSupported) {
		t.Errorf("unmutable listener: %v", err)
	}
	if err := e.svc.GivePodium(ctx, users["owner"], c.ID, "deadbeef"); !errors.Is(err, conf.ErrNotFound) {
		t.Errorf("podium for nobody: %v", err)
	}
	// Symmetric conferences have no podium.
	x, _ := joiner{t, e, "1000"}.user("guest1")
	if err := e.svc.GivePodium(ctx, users["owner"], "1000", x.ID()); !errors.Is(err, conf.ErrConflict) {
		t.Errorf("podium in a symmetric conference: %v", err)
	}
}

func TestAsymmetricPresenter(t *testing.T) {
	e := newEnv(t)
	users, _ := book(t, e)
	ctx := t.Context()
	c, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{
		ID: "2300", Name: "Lecture", Mode: conf.ModeAsymmetric,
		Invitations: []conf.Invitation{{Target: "mod", Moderator: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	j := joiner{t, e, c.ID}
	owner, _ := j.user("owner")
	mod, _ := j.user("mod")
	a, aLeg := j.user("other")
	b, _ := j.user("guest1")
	d, _ := j.guest("198.51.100.4:5060")
	if !live(t, e, owner).Presenter || live(t, e, mod).Presenter || !live(t, e, mod).Speaker {
		t.Fatal("the owner presents by default; moderators speak")
	}
	if st := live(t, e, a); !st.Muted || st.Speaker {
		t.Fatalf("listener %+v", st)
	}
	if err := e.svc.SetPresenter(ctx, users["other"], c.ID, a.ID()); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("listener names himself: %v", err)
	}
	if err := e.svc.SetPresenter(ctx, users["mod"], c.ID, a.ID()); err != nil {
		t.Fatal(err)
	}
	if st := live(t, e, a); st.Muted || !st.Presenter || !st.Speaker || live(t, e, owner).Presenter || !live(t, e, owner).Speaker {
		t.Errorf("after naming a presenter: %+v", st)
	}
	if err := e.svc.GivePodium(ctx, users["mod"], c.ID, a.ID()); !errors.Is(err, conf.ErrConflict) {
		t.Errorf("the floor to the presenter: %v", err)
	}
	// One floor seat besides the presenter.
	if err := e.svc.GivePodium(ctx, users["mod"], c.ID, b.ID()); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.GivePodium(ctx, users["mod"], c.ID, d.ID()); !errors.Is(err, conf.ErrConflict) {
		t.Errorf("a second floor seat: %v", err)
	}
	// The floor holder becomes presenter: the former one listens again
	// and the floor is free.
	if err := e.svc.SetPresenter(ctx, users["owner"], c.ID, b.ID()); err != nil {
		t.Fatal(err)
	}
	if st := live(t, e, a); !st.Muted || st.Presenter || st.Speaker {
		t.Errorf("former presenter %+v (leg %v)", st, aLeg.mutes())
	}
	if err := e.svc.GivePodium(ctx, users["mod"], c.ID, d.ID()); err != nil {
		t.Errorf("the floor after it was freed: %v", err)
	}
	// The named presenter leaves: the owner presents again.
	e.svc.Leave(b, nil)
	if !live(t, e, owner).Presenter {
		t.Error("owner is not the presenter again")
	}
	// Only asymmetric conferences have a presenter.
	if err := e.svc.SetPresenter(ctx, users["owner"], "1000", owner.ID()); !errors.Is(err, conf.ErrConflict) {
		t.Errorf("presenter of a symmetric conference: %v", err)
	}
}

func TestLeaveAndEndForAll(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	ctx := t.Context()
	j := joiner{t, e, c.ID}
	ownerP, ownerLeg := j.user("owner")
	mod, modLeg := j.user("mod")
	member, mLeg := j.user("guest1")
	other, _ := j.user("gmod")
	// Nobody but the owner himself makes the owner leave.
	for _, u := range []string{"mod", "oper"} {
		if _, err := e.svc.LeaveAs(ctx, users[u], c.ID, ownerP.ID(), false); !errors.Is(err, conf.ErrForbidden) {
			t.Errorf("%s makes the owner leave: %v", u, err)
		}
	}
	// Someone else may not make a participant leave, nor end for all.
	if _, err := e.svc.LeaveAs(ctx, users["guest1"], c.ID, other.ID(), false); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("participant makes another leave: %v", err)
	}
	if _, err := e.svc.LeaveAs(ctx, users["guest1"], c.ID, member.ID(), true); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("participant ends for all: %v", err)
	}
	if _, err := e.svc.LeaveCall(ctx, member, true); !errors.Is(err, conf.ErrForbidden) {
		t.Errorf("participant ends for all by DTMF: %v", err)
	}
	if e.svc.LiveCount(c.ID) != 4 {
		t.Fatal("a refused end-for-all changed something")
	}
	// He leaves; the others go on.
	ended, err := e.svc.LeaveAs(ctx, users["guest1"], c.ID, member.ID(), false)
	if err != nil || ended {
		t.Fatalf("leave: %v %v", ended, err)
	}
	if h := mLeg.hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrLeft) {
		t.Errorf("hang-ups %v", h)
	}
	if e.svc.LiveCount(c.ID) != 3 {
		t.Errorf("live after leave %d", e.svc.LiveCount(c.ID))
	}
	// He may come back: leaving is not a removal.
	j.user("guest1")
	// A moderator who leaves with end for all ends it.
	ended, err = e.svc.LeaveCall(ctx, mod, true)
	if err != nil || !ended {
		t.Fatalf("moderator ends for all: %v %v", ended, err)
	}
	for _, l := range []*muteLeg{ownerLeg, modLeg} {
		if h := l.hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrEnded) {
			t.Errorf("hang-ups after end for all %v", h)
		}
	}
	if got, _ := e.svc.GetConference(ctx, c.ID); got.State != conf.StateEnded || e.svc.LiveCount(c.ID) != 0 {
		t.Errorf("after end for all: %s, %d live", got.State, e.svc.LiveCount(c.ID))
	}
}

func TestOwnerTakenBack(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e)
	ctx := t.Context()
	if _, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{Name: "idle one"}); err != nil {
		t.Fatalf("nothing running: %v", err)
	}
	j := joiner{t, e, c.ID}
	p, _ := j.user("mod") // someone is in the owner's conference
	got, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{Name: "another"})
	var re *conf.RunningConferenceError
	if !errors.As(err, &re) || !errors.Is(err, conf.ErrConflict) || re.Conference.ID != c.ID || got.ID != c.ID || got.State != conf.StateRunning {
		t.Fatalf("owner creates while his conference runs: %+v, %v", got, err)
	}
	// A scheduled conference is for later; another owner is unaffected;
	// staff creating for him are not taken anywhere.
	if _, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{Name: "later",
		Schedule: conf.Schedule{Type: conf.ScheduleOnce, Start: start.Add(48 * time.Hour), DurationMinutes: 30}}); err != nil {
		t.Errorf("scheduled: %v", err)
	}
	if _, err := e.svc.CreateConferenceAs(ctx, users["mod"], conf.Conference{Name: "mine"}); err != nil {
		t.Errorf("other owner: %v", err)
	}
	if _, err := e.svc.CreateConferenceAs(ctx, users["oper"], conf.Conference{Name: "for him", Owner: "owner"}); err != nil {
		t.Errorf("operator for the owner: %v", err)
	}
	e.svc.Leave(p, nil)
	if _, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{Name: "after"}); err != nil {
		t.Errorf("after everyone left: %v", err)
	}
}

func TestInternalJoinRules(t *testing.T) {
	e := newEnv(t)
	users, c := book(t, e) // internal, invites mod, group mods (gmod), guest1
	ctx := t.Context()
	open, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{ID: "1001", Name: "Open",
		Access: conf.AccessInternal, JoinWithoutInvitation: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		conf, user string
		ok         bool
	}{
		{c.ID, "owner", true}, {c.ID, "mod", true}, {c.ID, "gmod", true}, {c.ID, "guest1", true},
		{c.ID, "oper", true}, {c.ID, "root", true}, {c.ID, "other", false}, {c.ID, "", false},
		{open.ID, "other", true}, {open.ID, "owner", true}, {open.ID, "", false},
	} {
		var leg conf.LegHandle = &userLeg{user: tc.user}
		if tc.user == "" {
			leg = &fakeLeg{}
		}
		_, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: tc.conf, Leg: leg})
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, conf.ErrUnauthorized)) {
			t.Errorf("%q into %s: %v, want allowed %v", tc.user, tc.conf, err, tc.ok)
		}
	}
	// Invited later, he may.
	if _, err := e.svc.Invite(ctx, users["mod"], c.ID, []conf.Invitation{{Target: "other"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: c.ID, Leg: &userLeg{user: "other"}}); err != nil {
		t.Errorf("invited later: %v", err)
	}
}

func TestConcurrentMuteAndPodium(t *testing.T) {
	e := newEnv(t)
	users, _ := book(t, e)
	ctx := t.Context()
	c, err := e.svc.CreateConferenceAs(ctx, users["owner"], conf.Conference{ID: "2400", Name: "Busy", Mode: conf.ModeRoleBased, PodiumSeats: 2})
	if err != nil {
		t.Fatal(err)
	}
	j := joiner{t, e, c.ID}
	j.user("owner")
	p, l := j.user("other")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			_ = e.svc.GivePodium(context.Background(), users["owner"], c.ID, p.ID())
			_ = e.svc.TakePodium(context.Background(), users["owner"], c.ID, p.ID())
		}
	}()
	for range 50 {
		_ = e.svc.MuteSelf(ctx, p, false)
		_ = e.svc.SetMuted(ctx, users["oper"], c.ID, p.ID(), true)
	}
	<-done
	// Whatever the interleaving, the leg and the list agree.
	got := l.mutes()
	if st := live(t, e, p); len(got) == 0 || got[len(got)-1] != st.Muted {
		t.Errorf("leg last saw muted=%v, list says %v", got[len(got)-1], st.Muted)
	}
}

func BenchmarkMayParticipant(b *testing.B) {
	e := newEnv(b)
	ctx := b.Context()
	if _, err := e.svc.CreateConference(ctx, conf.Conference{ID: "2500", Name: "Bench", Mode: conf.ModeRoleBased,
		GuestRights: &conf.GuestRights{Video: true}}); err != nil {
		b.Fatal(err)
	}
	p, err := e.svc.Join(ctx, conf.JoinRequest{ConferenceID: "2500", Leg: &guestMuteLeg{}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if e.svc.MayParticipant(p, conf.RightSpeak) || !e.svc.MayParticipant(p, conf.RightVideo) {
			b.Fatal("wrong rights")
		}
	}
}
