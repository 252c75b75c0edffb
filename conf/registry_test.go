package conf_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/store"
)

const realm = "rg.test"

// newRealmEnv is a Service with a SIP realm over a fresh SQLite store;
// clock nil means the wall clock (the fake one of a synctest bubble).
func newRealmEnv(t *testing.T, clock *fakeClock, opts ...conf.Option) (*conf.Service, *store.SQLite) {
	t.Helper()
	st, err := store.OpenSQLite(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	opts = append([]conf.Option{conf.WithSIPRealm(realm), conf.WithPasswordIterations(1000)}, opts...)
	if clock != nil {
		opts = append(opts, conf.WithClock(clock.Now))
	}
	svc := conf.NewService(st, nil, opts...)
	t.Cleanup(func() {
		if err := svc.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return svc, st
}

func mustUser(t *testing.T, svc *conf.Service, in conf.UserInput) conf.User {
	t.Helper()
	if in.Password == "" {
		in.Password = "password-" + in.ID
	}
	u, err := svc.CreateUser(context.Background(), conf.System(), in)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSIPCredentialsFollowPassword(t *testing.T) {
	svc, st := newRealmEnv(t, nil)
	ctx := t.Context()
	u := mustUser(t, svc, conf.UserInput{ID: "alice", Password: "first-secret"})
	md5hex, shahex := conf.DigestHA1("alice", realm, "first-secret")
	if u.SIPRealm != realm || u.SIPHA1MD5 != md5hex || u.SIPHA1SHA256 != shahex {
		t.Fatalf("credentials %q %q %q", u.SIPRealm, u.SIPHA1MD5, u.SIPHA1SHA256)
	}
	// RFC 2617 §3.5's example user gives the known HA1 (MD5).
	if m, _ := conf.DigestHA1("Mufasa", "testrealm@host.com", "Circle Of Life"); m != "939e7578ed9e3c518a452acee763bce9" {
		t.Fatalf("HA1 of the RFC 2617 example: %s", m)
	}
	got, err := svc.SIPUser(ctx, "alice")
	if err != nil || got.SIPHA1MD5 != md5hex {
		t.Fatalf("SIPUser: %+v, %v", got, err)
	}
	// Not in the JSON of the API.
	if b, err := json.Marshal(got); err != nil || strings.Contains(string(b), md5hex) || strings.Contains(string(b), shahex) {
		t.Fatalf("credentials leak into JSON: %s", b)
	}
	// A change of display name keeps them; a new password renews them.
	if u, err = svc.UpdateUser(ctx, conf.System(), conf.UserInput{ID: "alice", DisplayName: "Alice"}); err != nil || u.SIPHA1MD5 != md5hex {
		t.Fatalf("update without password: %v %q", err, u.SIPHA1MD5)
	}
	if u, err = svc.UpdateUser(ctx, u, conf.UserInput{ID: "alice", Password: "second-secret"}); err != nil {
		t.Fatal(err)
	}
	md5b, shab := conf.DigestHA1("alice", realm, "second-secret")
	if stored, _ := st.GetUser(ctx, "alice"); stored.SIPHA1MD5 != md5b || stored.SIPHA1SHA256 != shab {
		t.Fatalf("stored after the new password: %+v", stored)
	}
	// Another realm: the stored credentials no longer serve.
	other := conf.NewService(st, nil, conf.WithSIPRealm("other.realm"))
	defer other.Close(context.Background())
	if _, err := other.SIPUser(ctx, "alice"); !errors.Is(err, conf.ErrNoSIPCredentials) {
		t.Fatalf("SIPUser under another realm: %v", err)
	}
	if _, err := svc.SIPUser(ctx, "nobody"); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("SIPUser of nobody: %v", err)
	}
}

func TestRegisterContactBindings(t *testing.T) {
	clk := &fakeClock{now: start}
	svc, _ := newRealmEnv(t, clk)
	ctx := t.Context()
	mustUser(t, svc, conf.UserInput{ID: "alice"})
	reg := func(contact string, cseq uint32, ttl time.Duration) error {
		_, err := svc.RegisterContact(ctx, "alice", conf.Binding{Contact: contact, CallID: "c1", CSeq: cseq}, ttl)
		return err
	}
	if err := reg("sip:alice@192.0.2.1:5060", 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := reg("sip:alice@192.0.2.2:5060", 2, time.Minute); err != nil {
		t.Fatal(err)
	}
	bs := svc.Contacts("alice")
	if len(bs) != 2 || bs[0].Contact != "sip:alice@192.0.2.1:5060" || bs[1].TTL != time.Minute || !bs[0].Expires.Equal(start.Add(time.Hour)) {
		t.Fatalf("bindings %+v", bs)
	}
	// Out of order (RFC 3261 §10.3 step 7): same Call-ID, CSeq not above.
	if err := reg("sip:alice@192.0.2.1:5060", 1, time.Hour); !errors.Is(err, conf.ErrStaleRegistration) {
		t.Fatalf("repeated CSeq: %v", err)
	}
	// Expiry on the Service's clock.
	clk.Advance(time.Minute)
	if bs := svc.Contacts("alice"); len(bs) != 1 || bs[0].TTL != 59*time.Minute {
		t.Fatalf("after a minute: %+v", bs)
	}
	// Removal with a zero ttl.
	if err := reg("sip:alice@192.0.2.1:5060", 3, 0); err != nil {
		t.Fatal(err)
	}
	if bs := svc.Contacts("alice"); len(bs) != 0 {
		t.Fatalf("after removal: %+v", bs)
	}
	// At most MaxContactsPerUser devices.
	for i := range conf.MaxContactsPerUser {
		if err := reg(fmt.Sprintf("sip:alice@192.0.2.%d", 10+i), uint32(10+i), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg("sip:alice@192.0.2.99", 99, time.Hour); !errors.Is(err, conf.ErrTooManyContacts) {
		t.Fatalf("one device too many: %v", err)
	}
	// A refresh of a known one is still fine.
	if err := reg("sip:alice@192.0.2.10", 100, 2*time.Hour); err != nil {
		t.Fatalf("refresh at the limit: %v", err)
	}
	// Bad input.
	if _, err := svc.RegisterContact(ctx, "../x", conf.Binding{Contact: "sip:a@b"}, time.Hour); !errors.Is(err, conf.ErrNotFound) {
		t.Fatalf("bad user ID: %v", err)
	}
	var ve *conf.ValidationError
	if _, err := svc.RegisterContact(ctx, "alice", conf.Binding{}, time.Hour); !errors.As(err, &ve) {
		t.Fatalf("empty contact: %v", err)
	}
	// Contact: * and deleting the user both drop everything.
	svc.RemoveContacts(ctx, "alice")
	if bs := svc.Contacts("alice"); len(bs) != 0 {
		t.Fatalf("after RemoveContacts: %+v", bs)
	}
	mustUser(t, svc, conf.UserInput{ID: "bob"})
	if _, err := svc.RegisterContact(ctx, "bob", conf.Binding{Contact: "sip:bob@192.0.2.5"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteUser(ctx, conf.System(), "bob"); err != nil {
		t.Fatal(err)
	}
	if bs := svc.Contacts("bob"); len(bs) != 0 {
		t.Fatalf("deleted user keeps %+v", bs)
	}
}

func TestSIPAuthGuard(t *testing.T) {
	clk := &fakeClock{now: start}
	svc, _ := newRealmEnv(t, clk, conf.WithSIPAuthLimits(3, time.Minute, 10*time.Minute))
	ctx := t.Context()
	for i := range 2 {
		if svc.SIPAuthFailed(ctx, "192.0.2.7", "alice") {
			t.Fatalf("cooling down after %d failures", i+1)
		}
	}
	if err := svc.SIPAuthAllowed("192.0.2.7"); err != nil {
		t.Fatalf("two failures: %v", err)
	}
	if !svc.SIPAuthFailed(ctx, "192.0.2.7", "alice") {
		t.Fatal("third failure did not start a cool-down")
	}
	if err := svc.SIPAuthAllowed("192.0.2.7"); !errors.Is(err, conf.ErrAuthCoolDown) || !errors.Is(err, conf.ErrUnauthorized) {
		t.Fatalf("in cool-down: %v", err)
	}
	if err := svc.SIPAuthAllowed("192.0.2.8"); err != nil {
		t.Fatalf("another source: %v", err)
	}
	clk.Advance(10 * time.Minute)
	if err := svc.SIPAuthAllowed("192.0.2.7"); err != nil {
		t.Fatalf("after the cool-down: %v", err)
	}
}

func TestDialOutRules(t *testing.T) {
	svc, _ := newRealmEnv(t, nil)
	ctx := t.Context()
	d := &joinDialer{svc: svc, schemes: []string{"sip", "sips", "tel"}, block: true}
	svc.RegisterDialer(d)
	admin := mustUser(t, svc, conf.UserInput{ID: "root", Role: conf.UserRoleAdmin})
	for i, in := range []conf.UserInput{
		{ID: "plain"}, {ID: "mute", DialOut: conf.DialOutNone}, {ID: "caller", DialOut: conf.DialOutTrunks},
		{ID: "oper", Role: conf.UserRoleOperator}, {ID: "oper2", Role: conf.UserRoleOperator, DialOut: conf.DialOutInternal},
	} {
		u := mustUser(t, svc, in)
		if _, err := svc.CreateConferenceAs(ctx, u, conf.Conference{ID: fmt.Sprint(5000 + i), Name: in.ID}); err != nil {
			t.Fatal(err)
		}
	}
	confOf := map[string]string{}
	cs, _ := svc.ListConferences(ctx)
	for _, c := range cs {
		confOf[c.Owner] = c.ID
	}
	cases := []struct {
		user, target string
		ok           bool
	}{
		{"plain", "sip:room@192.0.2.1", true},
		{"plain", "#tel:+15551234", false},
		{"mute", "sip:room@192.0.2.1", false},
		{"mute", "alice", false},
		{"mute", `\c\1000`, true}, // nothing is dialled
		{"caller", "#tel:+15551234", true},
		{"oper", "#tel:+15551234", true},
		{"oper2", "#tel:+15551234", false},
		{"oper2", "sip:room@192.0.2.1", true},
	}
	for _, tc := range cases {
		u, err := svc.GetUser(ctx, tc.user)
		if err != nil {
			t.Fatal(err)
		}
		_, err = svc.InviteAndDial(ctx, u, confOf[tc.user], []string{tc.target})
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, conf.ErrForbidden) {
			t.Errorf("%s (rule %s) inviting %s: %v, want allowed=%v", tc.user, conf.DialOutRule(u), tc.target, err, tc.ok)
		}
	}
	// Only administrators set the rule, and only to known values.
	plain, _ := svc.GetUser(ctx, "plain")
	if _, err := svc.UpdateUser(ctx, plain, conf.UserInput{ID: "plain", DialOut: conf.DialOutTrunks}); !errors.Is(err, conf.ErrForbidden) {
		t.Fatalf("user raising his own rule: %v", err)
	}
	var ve *conf.ValidationError
	if _, err := svc.UpdateUser(ctx, admin, conf.UserInput{ID: "plain", DialOut: "world"}); !errors.As(err, &ve) || ve.Field != "dial_out" {
		t.Fatalf("unknown rule: %v", err)
	}
	if u, err := svc.UpdateUser(ctx, admin, conf.UserInput{ID: "plain", DialOut: conf.DialOutNone}); err != nil || u.DialOut != conf.DialOutNone {
		t.Fatalf("admin setting the rule: %+v %v", u, err)
	}
	svc.StopDialing()
}
