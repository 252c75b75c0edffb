package call

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/ras"
	"github.com/roomgate/roomgate/store"
)

// Through the real conference service, store and bridge: an H.323 caller
// becomes a live participant of the conference it dialled and leaves it on
// hang-up; an unknown conference is released as unallocated.
func TestRealConferenceService(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := conf.NewService(st, testLogger(t))
	defer svc.Close(ctx)
	c, err := svc.CreateConference(ctx, conf.Conference{ID: "4711", Name: "H.323 test", Access: "public",
		Mode: "symmetric", MaxParticipants: 10, Schedule: conf.Schedule{Type: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	b := newBridge(t)
	s := startServer(t, BridgeMedia(b), ConfService(svc), Config{Codecs: []string{"opus", "PCMU"}})

	call, err := Dial(ctx, "h323:"+c.ID+"@"+s.Addr().String(), DialOptions{Media: BridgeMedia(b), Room: "out",
		FastStart: true, Tunnelling: true, DisplayName: "Room system"})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := svc.Participants(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Protocol != "h323" || ps[0].DisplayName != "Room system" {
		t.Fatalf("participants %+v", ps)
	}
	waitPackets(t, "caller leg", call.Stats)
	if err := call.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ps, err := svc.Participants(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("participant still there: %+v", ps)
		}
		time.Sleep(5 * time.Millisecond) // the server side ends asynchronously after ReleaseComplete
	}

	// An unknown conference is answered by conf's lobby, which asks for
	// the conference ID.
	lobby, err := Dial(ctx, "h323:999999@"+s.Addr().String(), DialOptions{Media: BridgeMedia(b), Room: "out", Tunnelling: true})
	if err != nil {
		t.Fatalf("unknown conference not answered by the lobby: %v", err)
	}
	if err := lobby.Close(); err != nil {
		t.Fatal(err)
	}
}

// Config checks: H.323 speaks G.722 and G.711 only.
func TestConfigCodecs(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
		ok   bool
	}{
		{nil, []string{"G722", "PCMU", "PCMA"}, true},
		{[]string{"opus", "PCMA", "pcma", "G722"}, []string{"PCMA", "G722"}, true},
		{[]string{"opus"}, nil, false},
		{[]string{"G729"}, nil, false},
	} {
		got, err := parseCodecs(tc.in)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
			t.Errorf("%v: error %v", tc.in, err)
			continue
		}
		var names []string
		for _, a := range got {
			names = append(names, a.info.Name)
		}
		if len(names) != len(tc.want) {
			t.Errorf("%v: %v, want %v", tc.in, names, tc.want)
			continue
		}
		for i := range names {
			if names[i] != tc.want[i] {
				t.Errorf("%v: %v, want %v", tc.in, names, tc.want)
			}
		}
	}
	for _, cfg := range []Config{{Listen: "nonsense"}, {MediaAddress: "x"}, {SetupTimeout: -1}} {
		if _, err := NewServer(cfg, &fakeMedia{}, newFakeConfs(), nil, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	if _, err := NewServer(Config{}, nil, newFakeConfs(), nil, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("no media: %v", err)
	}
}

// A nil *ras.Client (no gatekeeper configured) means no gatekeeper, not a
// gatekeeper that panics.
func TestTypedNilGatekeeper(t *testing.T) {
	var none *ras.Client
	cfg, _, err := Config{Gatekeeper: none}.withDefaults()
	if err != nil || cfg.Gatekeeper != nil || cfg.RingTimeout != DefaultConnectTimeout {
		t.Errorf("config %+v, %v", cfg, err)
	}
	if _, _, err := (Config{RingTimeout: -time.Second}).withDefaults(); !errors.Is(err, ErrConfig) {
		t.Errorf("negative ring timeout: %v", err)
	}
}

func TestValidAliases(t *testing.T) {
	long := strings.Repeat("x", 300)
	in := []h225.Alias{h225.H323ID("room"), h225.H323ID(""), h225.Digits("12#"), h225.Digits("12a"),
		h225.H323ID(long), {Kind: h225.AliasURL, Value: "h323:x@y"}, {Kind: h225.AliasKind(99), Value: "z"}}
	got := validAliases(in)
	want := []h225.Alias{h225.H323ID("room"), h225.Digits("12#"), {Kind: h225.AliasURL, Value: "h323:x@y"}}
	if !slices.Equal(got, want) {
		t.Errorf("validAliases = %+v", got)
	}
	many := make([]h225.Alias, 40)
	for i := range many {
		many[i] = h225.H323ID("a")
	}
	if n := len(validAliases(many)); n != 16 {
		t.Errorf("%d aliases kept, want at most 16", n)
	}
}
