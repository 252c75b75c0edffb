package interop

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Registered users: a baresip phone registers to Roomgate's registrar as an
// address-book user (digest authentication) and is then reached by
// inviting the user, over REST and by a scheduled conference's start.

// registeredPhone is a baresip instance with a second account that
// registers to the server as user id with password pass and answers calls
// automatically.
type registeredPhone struct {
	b    *baresip
	id   string
	from int // ctrl_tcp message index before the account was added
}

// startRegisteredPhone starts a baresip (its own default account does not
// register) and adds the account of user id over ctrl_tcp (uanew).
func startRegisteredPhone(t *testing.T, srv *server, id, pass, tone string) *registeredPhone {
	t.Helper()
	b := startBaresip(t, baresipOpts{name: "phone-" + id, codecs: "PCMU/8000/1", source: tone})
	account := fmt.Sprintf("<sip:%s@%s>;auth_user=%s;auth_pass=%s;regint=60;answermode=auto;audio_codecs=PCMU/8000/1",
		id, srv.sipAddr, id, pass)
	from := b.ctrl.eventCount()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := b.ctrl.command(ctx, "uanew", account); err != nil {
		t.Fatalf("adding account %s to baresip: %v", id, err)
	}
	return &registeredPhone{b: b, id: id, from: from}
}

// waitRegistration waits for baresip's verdict on the account's REGISTER.
func (p *registeredPhone) waitRegistration(t *testing.T) baresipEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ev, err := p.b.ctrl.waitEvent(ctx, p.from, "REGISTER_OK", "REGISTER_FAIL")
	if err != nil {
		t.Fatalf("phone of %s: %v\n%s", p.id, err, p.b.p.out.tail(40))
	}
	return ev
}

// createUser adds an address-book user over REST.
func (s *server) createUser(t *testing.T, id, password string) {
	t.Helper()
	var u struct {
		ID string `json:"id"`
	}
	s.api(t, http.MethodPost, "/api/v1/users", map[string]any{"id": id, "password": password, "display_name": "User " + id}, &u)
	if u.ID != id {
		t.Fatalf("created user %+v, want %s", u, id)
	}
}

// heardIn waits until a SIP participant of conference confID sends media
// steadily: its packet counter grows by more than a second's worth.
func heardIn(t *testing.T, srv *server, confID string, timeout time.Duration) participant {
	t.Helper()
	first := srv.waitParticipants(t, confID, timeout, "the invited phone", func(ps []participant) bool {
		return len(ps) == 1 && ps[0].Protocol == "sip" && ps[0].Stats.PacketsIn > 0
	})[0]
	time.Sleep(2 * time.Second)
	for _, p := range srv.participants(t, confID) {
		if p.ID == first.ID {
			if got := p.Stats.PacketsIn - first.Stats.PacketsIn; got < 50 {
				t.Fatalf("the phone sent %d packets in 2 s, want about 100: %+v", got, p)
			}
			return p
		}
	}
	t.Fatalf("the phone left conference %s", confID)
	return participant{}
}

func TestRegisteredPhoneIsInvited(t *testing.T) {
	requirePeer(t, "baresip")
	srv := startServer(t, serverOpts{})
	tone := filepath.Join(t.TempDir(), "tone.wav")
	if err := WriteToneWAV(tone, 8000, 440, 0.25, 120*time.Second); err != nil {
		t.Fatal(err)
	}
	srv.createUser(t, "alice", "alice-secret-1")
	srv.createUser(t, "bob", "bob-secret-1")

	// A wrong password is refused.
	bad := startRegisteredPhone(t, srv, "bob", "not-his-password", tone)
	if ev := bad.waitRegistration(t); ev.Type != "REGISTER_FAIL" {
		t.Fatalf("registration with a wrong password: %+v", ev)
	}
	if !strings.Contains(srv.p.out.String(), "sip authentication failed") {
		t.Errorf("the refused registration was not logged")
	}

	phone := startRegisteredPhone(t, srv, "alice", "alice-secret-1", tone)
	if ev := phone.waitRegistration(t); ev.Type != "REGISTER_OK" {
		t.Fatalf("registration of alice: %+v\n%s", ev, srv.p.out.tail(40))
	}

	// Invited over REST, the phone rings, answers by itself and is heard.
	srv.createConference(t, "1000", "Board")
	var ans struct {
		Results []struct {
			Target, Kind, Status, Message string
		} `json:"results"`
	}
	srv.api(t, http.MethodPost, "/api/v1/conferences/1000/invite", map[string]any{"participants": []string{"alice", "bob"}}, &ans)
	if len(ans.Results) != 2 || ans.Results[0].Status != "dialing" || ans.Results[1].Status != "invited" ||
		!strings.HasPrefix(ans.Results[1].Message, "not reachable") {
		t.Fatalf("invite results %+v", ans.Results)
	}
	p := heardIn(t, srv, "1000", 20*time.Second)
	t.Logf("invited phone: %+v", p)
	if !strings.EqualFold(p.Codec, "PCMU") {
		t.Errorf("codec %q, want PCMU", p.Codec)
	}
	// End it from the server (baresip's hangup command acts on its first
	// account, not the one in the call).
	from := phone.b.ctrl.eventCount()
	srv.api(t, http.MethodPost, "/api/v1/conferences/1000/stop", nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := phone.b.ctrl.waitEvent(ctx, from, "CALL_CLOSED"); err != nil {
		t.Fatalf("the phone's call did not end: %v", err)
	}
	srv.waitParticipants(t, "1000", 10*time.Second, "nobody", func(ps []participant) bool { return len(ps) == 0 })

	// A scheduled conference calls its invitee at its start.
	start := time.Now().Add(8 * time.Second).UTC().Truncate(time.Second)
	srv.createConference(t, "2000", "Weekly", map[string]any{
		"schedule":    map[string]any{"type": "once", "start": start.Format(time.RFC3339), "duration_minutes": 30},
		"invitations": []map[string]any{{"target": "alice"}},
	})
	if n := len(srv.participants(t, "2000")); n != 0 {
		t.Fatalf("%d participants before the start", n)
	}
	p = heardIn(t, srv, "2000", time.Until(start)+20*time.Second)
	t.Logf("called at the start: %+v", p)
}

// TestCallToOwnerJoinsHisConference: a registered phone calls the owner's
// user ID while his conference runs; with admit_without_confirmation the
// caller (authenticated by digest on his INVITE) joins at once.
func TestCallToOwnerJoinsHisConference(t *testing.T) {
	requirePeer(t, "baresip")
	srv := startServer(t, serverOpts{})
	tone := filepath.Join(t.TempDir(), "tone.wav")
	if err := WriteToneWAV(tone, 8000, 1000, 0.25, 120*time.Second); err != nil {
		t.Fatal(err)
	}
	srv.createUser(t, "alice", "alice-secret-1")
	srv.createUser(t, "bob", "bob-secret-1")
	srv.createConference(t, "1000", "Alice's room", map[string]any{"owner": "alice", "admit_without_confirmation": true})

	// Something runs in alice's conference: a phone dialled in.
	room := startBaresip(t, baresipOpts{name: "room", codecs: "PCMU/8000/1", source: tone})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	room.dial(t, ctx, "sip:1000@"+srv.sipAddr)
	srv.waitParticipants(t, "1000", 10*time.Second, "the room phone", func(ps []participant) bool { return len(ps) == 1 })

	bob := startRegisteredPhone(t, srv, "bob", "bob-secret-1", tone)
	if ev := bob.waitRegistration(t); ev.Type != "REGISTER_OK" {
		t.Fatalf("registration of bob: %+v", ev)
	}
	// Calls leave from baresip's current account: make it bob's.
	if _, err := bob.b.ctrl.command(ctx, "uafind", "sip:bob@"+srv.sipAddr); err != nil {
		t.Fatalf("selecting bob's account: %v", err)
	}
	bob.b.dial(t, ctx, "sip:alice@"+srv.sipAddr)
	srv.waitParticipants(t, "1000", 10*time.Second, "bob joined", func(ps []participant) bool {
		return len(ps) == 2 && ps[0].Stats.PacketsIn > 0 && ps[1].Stats.PacketsIn > 0
	})
	if !strings.Contains(srv.p.out.String(), "caller admitted into the owner's conference") {
		t.Errorf("the admission was not logged")
	}
}
