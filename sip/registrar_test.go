package sip

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/store"
)

const testRealm = "rg.test"

// regEnv is a server with a registrar over a real conf.Service.
type regEnv struct {
	h    *harness
	svc  *conf.Service
	r    *Registrar
	p    *peer
	now  *stepClock
	cseq uint32
	mu   sync.Mutex
}

func newRegEnv(t *testing.T, opts ...conf.Option) *regEnv {
	t.Helper()
	st, err := store.OpenSQLite(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := &stepClock{now: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	opts = append([]conf.Option{conf.WithSIPRealm(testRealm), conf.WithPasswordIterations(1000), conf.WithClock(clk.Now)}, opts...)
	svc := conf.NewService(st, testLogger(t), opts...)
	t.Cleanup(func() { svc.Close(context.Background()); st.Close() })
	if _, err := svc.CreateUser(t.Context(), conf.System(), conf.UserInput{ID: "alice", Password: "alice-secret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(t.Context(), conf.System(), conf.UserInput{ID: "bob", Password: "bob-secret-1"}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{})
	r, err := NewRegistrar(RegistrarConfig{Realm: testRealm}, svc, testLogger(t), h.reg)
	if err != nil {
		t.Fatal(err)
	}
	h.s.SetRegistrar(r)
	return &regEnv{h: h, svc: svc, r: r, p: newPeer(t, h.s.Addr().String(), "udp"), now: clk}
}

// register sends one REGISTER for aor with contacts (raw header values)
// and answers a challenge with user/pass when they are not empty.
func (e *regEnv) register(t *testing.T, aor, user, pass string, expires int, contacts ...string) *sipmsg.Response {
	t.Helper()
	e.mu.Lock()
	e.cseq++
	cseq := e.cseq
	e.mu.Unlock()
	build := func(seq uint32, auth string) *sipmsg.Request {
		uri := sipmsg.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(e.h.s.Addr().Port())}
		req := sipmsg.NewRequest(sipmsg.REGISTER, uri)
		req.SetTransport("UDP")
		to := sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: aor, Host: "127.0.0.1"}}
		from := sipmsg.FromHeader{Address: to.Address, Params: sipmsg.NewParams()}
		from.Params.Add("tag", "regtag")
		req.AppendHeader(&to)
		req.AppendHeader(&from)
		cid := sipmsg.CallIDHeader("reg-call-" + aor)
		req.AppendHeader(&cid)
		req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: seq, MethodName: sipmsg.REGISTER})
		for _, c := range contacts {
			req.AppendHeader(sipmsg.NewHeader("Contact", c))
		}
		if expires >= 0 {
			req.AppendHeader(sipmsg.NewHeader("Expires", strconv.Itoa(expires)))
		}
		if auth != "" {
			req.AppendHeader(sipmsg.NewHeader("Authorization", auth))
		}
		return req
	}
	res := e.p.mustDo(build(cseq, ""))
	if res.StatusCode != 401 || user == "" {
		return res
	}
	// Answer the first challenge we understand, as a phone does.
	var auth string
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		ch, err := digest.ParseChallenge(h.Value())
		if err != nil {
			t.Fatal(err)
		}
		uri := "sip:127.0.0.1:" + strconv.Itoa(int(e.h.s.Addr().Port()))
		cred, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: uri, Username: user, Password: pass, Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		auth = cred.String()
		break
	}
	e.mu.Lock()
	e.cseq++
	cseq = e.cseq
	e.mu.Unlock()
	return e.p.mustDo(build(cseq, auth))
}

func contactOf(port int, user string) string {
	return "<sip:" + user + "@127.0.0.1:" + strconv.Itoa(port) + ";transport=udp>"
}

func TestRegistrarRegisterAndUnregister(t *testing.T) {
	e := newRegEnv(t)
	// No credentials: challenged with MD5, qop=auth.
	res := e.register(t, "alice", "", "", 600, contactOf(5062, "alice"))
	if res.StatusCode != 401 {
		t.Fatalf("REGISTER without credentials: %d", res.StatusCode)
	}
	chals := res.GetHeaders("WWW-Authenticate")
	if len(chals) != 1 || !strings.Contains(chals[0].Value(), "algorithm=MD5") || !strings.Contains(chals[0].Value(), `qop="auth"`) ||
		!strings.Contains(chals[0].Value(), `realm="`+testRealm+`"`) {
		t.Fatalf("challenges %v", chals)
	}
	if got := e.svc.Contacts("alice"); len(got) != 0 {
		t.Fatalf("unauthenticated REGISTER bound %v", got)
	}

	res = e.register(t, "alice", "alice", "alice-secret", 600, contactOf(5062, "alice"))
	if res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d %s", res.StatusCode, res.Reason)
	}
	if c := res.GetHeaders("Contact"); len(c) != 1 || !strings.Contains(c[0].Value(), "expires=600") {
		t.Fatalf("200 OK contacts %v", c)
	}
	// A second device; both are listed.
	res = e.register(t, "alice", "alice", "alice-secret", -1, contactOf(5064, "alice")+";expires=120")
	if res.StatusCode != 200 || len(res.GetHeaders("Contact")) != 2 {
		t.Fatalf("second device: %d %v", res.StatusCode, res.GetHeaders("Contact"))
	}
	got := e.svc.Contacts("alice")
	if len(got) != 2 || got[0].Contact != "sip:alice@127.0.0.1:5062;transport=udp" || got[1].TTL != 120*time.Second {
		t.Fatalf("bindings %+v", got)
	}
	// Expiry on conf's clock.
	e.now.add(121 * time.Second)
	if got := e.svc.Contacts("alice"); len(got) != 1 {
		t.Fatalf("after 121 s: %+v", got)
	}
	// Expires: 0 on one contact removes it.
	if res := e.register(t, "alice", "alice", "alice-secret", 0, contactOf(5062, "alice")); res.StatusCode != 200 {
		t.Fatalf("unregister: %d", res.StatusCode)
	}
	if got := e.svc.Contacts("alice"); len(got) != 0 {
		t.Fatalf("after unregister: %+v", got)
	}
	// Contact: * with Expires: 0 removes all; with another expiry it is refused.
	e.register(t, "alice", "alice", "alice-secret", 600, contactOf(5062, "alice"), contactOf(5066, "alice"))
	if res := e.register(t, "alice", "alice", "alice-secret", 60, "*"); res.StatusCode != 400 {
		t.Fatalf("Contact * with Expires 60: %d", res.StatusCode)
	}
	if res := e.register(t, "alice", "alice", "alice-secret", 0, "*"); res.StatusCode != 200 {
		t.Fatalf("Contact *: %d", res.StatusCode)
	}
	if got := e.svc.Contacts("alice"); len(got) != 0 {
		t.Fatalf("after Contact *: %+v", got)
	}
	if v := testutil.ToFloat64(e.r.registrations.WithLabelValues("ok")); v < 3 {
		t.Fatalf("ok registrations counted %v", v)
	}
}

func TestRegistrarRefusals(t *testing.T) {
	e := newRegEnv(t, conf.WithSIPAuthLimits(3, time.Minute, 5*time.Minute))
	// Too brief: 423 with Min-Expires.
	res := e.register(t, "alice", "alice", "alice-secret", 10, contactOf(5062, "alice"))
	if res.StatusCode != 423 || res.GetHeader("Min-Expires") == nil || res.GetHeader("Min-Expires").Value() != "60" {
		t.Fatalf("brief registration: %d %v", res.StatusCode, res.GetHeader("Min-Expires"))
	}
	// Too long: capped at the maximum.
	res = e.register(t, "alice", "alice", "alice-secret", 999999, contactOf(5062, "alice"))
	if res.StatusCode != 200 || !strings.Contains(res.GetHeader("Contact").Value(), "expires=7200") {
		t.Fatalf("long registration: %d %v", res.StatusCode, res.GetHeader("Contact"))
	}
	// Someone else's address with one's own credentials.
	if res := e.register(t, "bob", "alice", "alice-secret", 600, contactOf(5070, "bob")); res.StatusCode != 403 {
		t.Fatalf("registering bob as alice: %d", res.StatusCode)
	}
	if got := e.svc.Contacts("bob"); len(got) != 0 {
		t.Fatalf("bob bound %v", got)
	}
	// Wrong password: 403, counted; unknown user alike.
	if res := e.register(t, "bob", "bob", "wrong-password", 600, contactOf(5070, "bob")); res.StatusCode != 403 {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	if res := e.register(t, "mallory", "mallory", "whatever1", 600, contactOf(5070, "mallory")); res.StatusCode != 403 {
		t.Fatalf("unknown user: %d", res.StatusCode)
	}
	if v := testutil.ToFloat64(e.r.authFailures.WithLabelValues("wrong_credentials")); v != 2 {
		t.Fatalf("wrong_credentials counted %v, want 2", v)
	}
	// The third failure puts the source in cool-down: even the right
	// password is refused now, without a challenge.
	e.register(t, "bob", "bob", "still-wrong", 600, contactOf(5070, "bob"))
	if res := e.register(t, "bob", "", "", 600, contactOf(5070, "bob")); res.StatusCode != 403 {
		t.Fatalf("source in cool-down answered %d, want 403", res.StatusCode)
	}
	if got := e.svc.Contacts("bob"); len(got) != 0 {
		t.Fatalf("bob bound during cool-down: %v", got)
	}
	if v := testutil.ToFloat64(e.r.authFailures.WithLabelValues("cooling_down")); v < 1 {
		t.Fatalf("cooling_down counted %v", v)
	}
	// After the cool-down it works.
	e.now.add(6 * time.Minute)
	if res := e.register(t, "bob", "bob", "bob-secret-1", 600, contactOf(5070, "bob")); res.StatusCode != 200 {
		t.Fatalf("after cool-down: %d", res.StatusCode)
	}
}

func TestRegistrarUserWithoutCredentials(t *testing.T) {
	// Users made before the realm was configured have no credentials
	// until their password is set again.
	st, err := store.OpenSQLite(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	old := conf.NewService(st, nil, conf.WithPasswordIterations(1000))
	if _, err := old.CreateUser(t.Context(), conf.System(), conf.UserInput{ID: "carol", Password: "carol-secret"}); err != nil {
		t.Fatal(err)
	}
	old.Close(context.Background())
	svc := conf.NewService(st, nil, conf.WithPasswordIterations(1000), conf.WithSIPRealm(testRealm))
	t.Cleanup(func() { svc.Close(context.Background()); st.Close() })
	h := newHarness(t, Config{})
	r, err := NewRegistrar(RegistrarConfig{Realm: testRealm}, svc, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.s.SetRegistrar(r)
	e := &regEnv{h: h, svc: svc, r: r, p: newPeer(t, h.s.Addr().String(), "udp")}
	if res := e.register(t, "carol", "carol", "carol-secret", 600, contactOf(5080, "carol")); res.StatusCode != 403 {
		t.Fatalf("user without credentials: %d", res.StatusCode)
	}
	if v := testutil.ToFloat64(r.authFailures.WithLabelValues("no_credentials")); v != 1 {
		t.Fatalf("no_credentials counted %v", v)
	}
	if _, err := svc.UpdateUser(t.Context(), conf.System(), conf.UserInput{ID: "carol", Password: "carol-secret"}); err != nil {
		t.Fatal(err)
	}
	if res := e.register(t, "carol", "carol", "carol-secret", 600, contactOf(5080, "carol")); res.StatusCode != 200 {
		t.Fatalf("after the password was set again: %d", res.StatusCode)
	}
}

func TestRegisterWithoutRegistrar(t *testing.T) {
	h := newHarness(t, Config{})
	e := &regEnv{h: h, p: newPeer(t, h.s.Addr().String(), "udp")}
	if res := e.register(t, "alice", "", "", 600, contactOf(5062, "alice")); res.StatusCode != 405 {
		t.Fatalf("REGISTER without a registrar: %d, want 405", res.StatusCode)
	}
}
