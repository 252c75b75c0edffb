package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const adminPassword = "correct-horse-battery"

// env is a web server over a real SQLite store in a temporary directory.
type env struct {
	t     *testing.T
	dir   string
	store *store.SQLite
	svc   *conf.Service
	ts    *httptest.Server
	token string
	opts  []conf.Option // more options of the Service
}

func newEnv(t *testing.T, opts ...conf.Option) *env {
	e := &env{t: t, dir: t.TempDir(), opts: opts}
	e.boot()
	if _, err := e.svc.EnsureAdmin(t.Context(), adminPassword); err != nil {
		t.Fatal(err)
	}
	e.token = e.login(adminPassword)
	return e
}

// boot opens the store and starts a server over it, as the process does.
func (e *env) boot() {
	t := e.t
	st, err := store.OpenSQLite(t.Context(), e.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	e.svc = conf.NewService(st, nil, append([]conf.Option{conf.WithPasswordIterations(1000)}, e.opts...)...)
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "roomgate_up 1\n")
	})
	e.ts = httptest.NewServer(NewServer(Config{}, e.svc, metrics, nil).Handler())
	t.Cleanup(e.stop)
}

func (e *env) stop() {
	if e.ts != nil {
		e.ts.Close()
		e.svc.StopMailing()
		if err := e.svc.Close(context.Background()); err != nil {
			e.t.Error(err)
		}
		_ = e.store.Close()
		e.ts = nil
	}
}

func (e *env) login(password string) string {
	e.t.Helper()
	var tr tokenResponse
	e.do("POST", "/api/v1/auth/token", "", fmt.Sprintf(`{"username":"admin","password":%q}`, password), 200, &tr)
	if len(tr.Token) != 43 || tr.TokenType != "Bearer" || tr.ExpiresAt.IsZero() {
		e.t.Fatalf("token response %+v", tr)
	}
	return tr.Token
}

// do sends a request and checks the status; out, if not nil, receives the
// decoded JSON body.
func (e *env) do(method, path, token, body string, want int, out any) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: decoding %s: %v", method, path, raw, err)
		}
	}
	return resp
}

// wantError checks a JSON error answer.
func (e *env) wantError(method, path, token, body string, status int, code, field string) errorBody {
	e.t.Helper()
	var eb errorBody
	resp := e.do(method, path, token, body, status, &eb)
	if eb.Error != code || eb.Field != field || eb.Message == "" {
		e.t.Fatalf("%s %s: error %+v, want code %q field %q", method, path, eb, code, field)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("error content type %q", ct)
	}
	return eb
}

func TestTokenFlow(t *testing.T) {
	e := newEnv(t)
	e.wantError("POST", "/api/v1/auth/token", "", `{"username":"admin","password":"nope"}`, 401, "unauthorized", "")
	e.wantError("POST", "/api/v1/auth/token", "", `{"username":"ghost","password":"nope"}`, 401, "unauthorized", "")
	e.wantError("POST", "/api/v1/auth/token", "", `{"username":"admin"}`, 400, "validation_failed", "password")
	e.wantError("POST", "/api/v1/auth/token", "", `{"password":"x"}`, 400, "validation_failed", "username")
	e.wantError("POST", "/api/v1/auth/token", "", `{"username":"admin","password":"x","otp":1}`, 400, "validation_failed", "otp")
	e.wantError("POST", "/api/v1/auth/token", "", `{"username":"admin",`, 400, "invalid_json", "")
	e.wantError("POST", "/api/v1/auth/token", "", `{"username":"admin","password":"x"} []`, 400, "invalid_json", "")
	e.wantError("GET", "/api/v1/auth/token", "", "", 405, "method_not_allowed", "")

	// Without a token, with a bad one, with a malformed header.
	resp := e.do("GET", "/api/v1/conferences", "", "", 401, nil)
	if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
	}
	e.wantError("GET", "/api/v1/conferences", "", "", 401, "unauthorized", "")
	e.wantError("GET", "/api/v1/conferences", strings.Repeat("A", 43), "", 401, "unauthorized", "")
	e.wantError("GET", "/api/v1/conferences/1000", "garbage", "", 401, "unauthorized", "")
	e.wantError("DELETE", "/api/v1/conferences/1000", "", "", 401, "unauthorized", "")
	e.wantError("GET", "/api/v1/conferences/1000/participants", "", "", 401, "unauthorized", "")
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.ts.URL+"/api/v1/conferences", nil)
	req.Header.Set("Authorization", "Basic "+e.token)
	if resp, err := e.ts.Client().Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("Basic scheme: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	// The scheme is case-insensitive (RFC 9110 section 11.1).
	req.Header.Set("Authorization", "bearer "+e.token)
	if resp, err := e.ts.Client().Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("lower-case scheme: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	e.do("GET", "/api/v1/conferences", e.token, "", 200, nil)
}

func TestConferenceCRUD(t *testing.T) {
	e := newEnv(t)
	var list conferenceList
	e.do("GET", "/api/v1/conferences", e.token, "", 200, &list)
	if list.Conferences == nil || len(list.Conferences) != 0 {
		t.Fatalf("empty list %+v", list)
	}
	var c conf.Conference
	resp := e.do("POST", "/api/v1/conferences", e.token, `{"id":"1000","name":"Board room","pin":"4321"}`, 201, &c)
	if resp.Header.Get("Location") != "/api/v1/conferences/1000" {
		t.Fatalf("Location %q", resp.Header.Get("Location"))
	}
	if c.ID != "1000" || c.Name != "Board room" || c.Owner != "admin" || c.Access != "public" ||
		c.Mode != "symmetric" || c.Schedule.Type != "none" || c.State != "idle" || c.PIN != "4321" || c.CreatedAt.IsZero() {
		t.Fatalf("created %+v", c)
	}
	e.wantError("POST", "/api/v1/conferences", e.token, `{"id":"1000","name":"Again"}`, 409, "exists", "id")

	var gen conf.Conference
	e.do("POST", "/api/v1/conferences", e.token, `{"name":"Generated"}`, 201, &gen)
	if len(gen.ID) != 6 {
		t.Fatalf("generated ID %q", gen.ID)
	}
	e.do("GET", "/api/v1/conferences", e.token, "", 200, &list)
	if len(list.Conferences) != 2 || list.Conferences[0].ID != "1000" {
		t.Fatalf("list %+v", list)
	}
	var got conf.Conference
	e.do("GET", "/api/v1/conferences/1000", e.token, "", 200, &got)
	if got.Name != "Board room" {
		t.Fatalf("got %+v", got)
	}

	var up conf.Conference
	e.do("PUT", "/api/v1/conferences/1000", e.token, `{"name":"Renamed","locked":true,"state":"running"}`, 200, &up)
	if up.Name != "Renamed" || !up.Locked || up.PIN != "" || !up.CreatedAt.Equal(c.CreatedAt) || up.State != "idle" {
		t.Fatalf("updated %+v (PUT replaces all settings)", up)
	}
	e.wantError("PUT", "/api/v1/conferences/1000", e.token, `{"id":"2000","name":"x"}`, 400, "validation_failed", "id")
	e.wantError("PUT", "/api/v1/conferences/4040", e.token, `{"name":"x"}`, 404, "not_found", "")
	e.wantError("PUT", "/api/v1/conferences/1000", e.token, `{"name":""}`, 400, "validation_failed", "name")

	e.do("DELETE", "/api/v1/conferences/1000", e.token, "", 204, nil)
	e.wantError("GET", "/api/v1/conferences/1000", e.token, "", 404, "not_found", "")
	e.wantError("DELETE", "/api/v1/conferences/1000", e.token, "", 404, "not_found", "")
	e.wantError("GET", "/api/v1/conferences/abc", e.token, "", 404, "not_found", "")
	e.wantError("PATCH", "/api/v1/conferences/1000", e.token, `{}`, 405, "method_not_allowed", "")
	e.wantError("GET", "/api/v1/nothing-here", e.token, "", 404, "not_found", "")
}

func TestValidationErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ body, code, field string }{
		{`{"name":""}`, "validation_failed", "name"},
		{`{"id":"12x","name":"a"}`, "validation_failed", "id"},
		{`{"name":"a","access":"secret"}`, "validation_failed", "access"},
		{`{"name":"a","mode":"lecture"}`, "validation_failed", "mode"},
		{`{"name":"a","pin":"12"}`, "validation_failed", "pin"},
		{`{"name":"a","moderator_pin":"abcd"}`, "validation_failed", "moderator_pin"},
		{`{"name":"a","max_participants":-1}`, "validation_failed", "max_participants"},
		{`{"name":"a","max_participants":"many"}`, "validation_failed", "max_participants"},
		{`{"name":"a","schedule":{"type":"weekly","start":"2030-01-01T10:00:00Z","duration_minutes":30}}`, "validation_failed", "schedule.days"},
		{`{"name":"a","schedule":{"type":"weekly","start":"2030-01-01T10:00:00Z","duration_minutes":30,"days":["funday"]}}`, "validation_failed", "schedule.days"},
		{`{"name":"a","schedule":{"type":"once","start":"yesterday","duration_minutes":30}}`, "validation_failed", "schedule.start"},
		{`{"name":"a","schedule":{"type":"once","start":"2001-01-01T10:00:00Z","duration_minutes":30}}`, "validation_failed", "schedule.start"},
		{`{"name":"a","invitations":[{"target":""}]}`, "validation_failed", "invitations[0].target"},
		{`{"name":"a","layout":{}}`, "validation_failed", "layout"},
		{`{"name":"a"`, "invalid_json", ""},
		{`not json`, "invalid_json", ""},
		{`[{"name":"a"}]`, "invalid_json", ""},
		{`{"name":"a"}{"name":"b"}`, "invalid_json", ""},
	}
	for _, tc := range cases {
		eb := e.wantError("POST", "/api/v1/conferences", e.token, tc.body, 400, tc.code, tc.field)
		if tc.field != "" && !strings.Contains(eb.Message, tc.field) {
			t.Errorf("%s: message %q does not name the field", tc.body, eb.Message)
		}
	}
	// An empty body is invalid JSON, too.
	e.wantError("POST", "/api/v1/conferences", e.token, "", 400, "invalid_json", "")

	// Wrong content type.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.ts.URL+"/api/v1/conferences", strings.NewReader(`name=a`))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := e.ts.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form body: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	// Over 1 MiB.
	big := `{"name":"a","description":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	e.wantError("POST", "/api/v1/conferences", e.token, big, 413, "too_large", "")
	e.wantError("POST", "/api/v1/auth/token", "", `{"username":"`+strings.Repeat("x", MaxBodyBytes)+`"}`, 413, "too_large", "")
	var list conferenceList
	e.do("GET", "/api/v1/conferences", e.token, "", 200, &list)
	if len(list.Conferences) != 0 {
		t.Fatalf("a refused request stored something: %+v", list)
	}
}

// fakeLeg is a LegHandle with fixed stats that records hang-ups.
type fakeLeg struct {
	mu     sync.Mutex
	causes []error
	stats  bridge.LegStats
}

func (l *fakeLeg) Hangup(cause error) {
	l.mu.Lock()
	l.causes = append(l.causes, cause)
	l.mu.Unlock()
}

func (l *fakeLeg) Stats() bridge.LegStats { return l.stats }

func (l *fakeLeg) hangups() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.causes...)
}

func TestParticipantsAndDelete(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/api/v1/conferences", e.token, `{"id":"1000","name":"Board"}`, 201, nil)
	var pl participantList
	e.do("GET", "/api/v1/conferences/1000/participants", e.token, "", 200, &pl)
	if pl.Participants == nil || len(pl.Participants) != 0 {
		t.Fatalf("empty participants %+v", pl)
	}
	e.wantError("GET", "/api/v1/conferences/2000/participants", e.token, "", 404, "not_found", "")

	leg := &fakeLeg{stats: bridge.LegStats{Codec: "G722", Remote: netip.MustParseAddrPort("127.0.0.1:30000"),
		PacketsIn: 500, PacketsOut: 499, Lost: 3, JitterMs: 4.25, Talking: true}}
	p, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "1000", DisplayName: "Room 4",
		Protocol: "sip", Remote: "127.0.0.1:5070", Leg: leg})
	if err != nil {
		t.Fatal(err)
	}
	var c conf.Conference
	e.do("GET", "/api/v1/conferences/1000", e.token, "", 200, &c)
	if c.State != "running" {
		t.Fatalf("state %q with a live leg", c.State)
	}
	// Check the wire names, not just what our own types decode.
	var raw map[string][]map[string]any
	e.do("GET", "/api/v1/conferences/1000/participants", e.token, "", 200, &raw)
	ps := raw["participants"]
	if len(ps) != 1 {
		t.Fatalf("participants %v", raw)
	}
	got := ps[0]
	stats, _ := got["stats"].(map[string]any)
	if got["id"] != p.ID() || got["display_name"] != "Room 4" || got["protocol"] != "sip" || got["role"] != "guest" ||
		got["codec"] != "G722" || got["remote"] != "127.0.0.1:30000" || got["talking"] != true || got["muted"] != false ||
		got["joined_at"] == nil || stats["packets_in"] != 500.0 || stats["packets_out"] != 499.0 ||
		stats["lost"] != 3.0 || stats["jitter_ms"] != 4.25 {
		t.Fatalf("participant JSON %v", got)
	}

	e.do("DELETE", "/api/v1/conferences/1000", e.token, "", 204, nil)
	if h := leg.hangups(); len(h) != 1 || !errors.Is(h[0], conf.ErrConferenceDeleted) {
		t.Fatalf("hang-ups after delete: %v", h)
	}
	e.svc.Leave(p, nil)
}

func TestRestartKeepsTokenAndConferences(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/api/v1/conferences", e.token, `{"id":"555","name":"Persistent"}`, 201, nil)
	token := e.token
	e.stop()
	e.boot()
	if gen, err := e.svc.EnsureAdmin(t.Context(), ""); err != nil || gen != "" {
		t.Fatalf("EnsureAdmin after restart: %q, %v (must keep the existing admin)", gen, err)
	}
	var c conf.Conference
	e.do("GET", "/api/v1/conferences/555", token, "", 200, &c)
	if c.Name != "Persistent" {
		t.Fatalf("after restart %+v", c)
	}
	if e.login(adminPassword) == "" {
		t.Fatal("login after restart")
	}
}

func TestOpenAPIDocument(t *testing.T) {
	e := newEnv(t)
	resp, err := e.ts.Client().Get(e.ts.URL + "/api/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "yaml") {
		t.Fatalf("openapi: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parsing openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths) == 0 {
		t.Fatalf("not an OpenAPI 3 document: %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
	e.do("POST", "/api/v1/conferences", e.token, `{"id":"1","name":"x"}`, 201, nil)
	// Every documented operation exists; every undocumented method on a
	// documented path is refused with 405.
	for path, item := range doc.Paths {
		url := strings.ReplaceAll(path, "{id}", "1")
		for _, method := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
			op, documented := item[strings.ToLower(method)].(map[string]any)
			req, _ := http.NewRequestWithContext(t.Context(), method, e.ts.URL+url, strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer "+e.token)
			resp, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch {
			case documented && (resp.StatusCode == 405 || resp.StatusCode == 404 && !strings.Contains(path, "{id}")):
				t.Errorf("%s %s is documented but answers %d", method, path, resp.StatusCode)
			case !documented && resp.StatusCode != 405:
				t.Errorf("%s %s is not documented but answers %d", method, path, resp.StatusCode)
			}
			if documented {
				if _, ok := op["responses"]; !ok {
					t.Errorf("%s %s documents no responses", method, path)
				}
			}
		}
		// A documented DELETE removed conference 1: bring it back.
		if _, err := e.svc.CreateConference(t.Context(), conf.Conference{ID: "1", Name: "x"}); err != nil && !errors.Is(err, conf.ErrExists) {
			t.Fatal(err)
		}
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t)
	var h map[string]string
	e.do("GET", "/healthz", "", "", 200, &h)
	if h["status"] != "ok" {
		t.Fatalf("healthz %v", h)
	}
	resp, err := e.ts.Client().Get(e.ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "roomgate_up 1\n" {
		t.Fatalf("metrics %d %q", resp.StatusCode, body)
	}
}

// TestStartShutdown runs the real listener on port 0.
func TestStartShutdown(t *testing.T) {
	st, err := store.OpenSQLite(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := NewServer(Config{Listen: "127.0.0.1:0"}, conf.NewService(st, log), nil, log)
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown before Start: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	addr := srv.Addr()
	if !addr.Addr().IsLoopback() || addr.Port() == 0 {
		t.Fatalf("Addr %v", addr)
	}
	resp, err := http.Get("http://" + addr.String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz over the listener: %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("/metrics without a handler: %d", resp.StatusCode)
	}
	sctx, scancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if !strings.Contains(out, "http listening") || !strings.Contains(out, "addr="+addr.String()) {
		t.Fatalf("no listening log with the address:\n%s", out)
	}
	if !strings.Contains(out, `method=GET path=/healthz status=200`) {
		t.Fatalf("no access log at debug:\n%s", out)
	}

	// Cancelling Start's context shuts the server down, too.
	srv2 := NewServer(Config{Listen: "127.0.0.1:0"}, conf.NewService(st, nil), nil, nil)
	ctx2, cancel2 := context.WithCancel(t.Context())
	if err := srv2.Start(ctx2); err != nil {
		t.Fatal(err)
	}
	cancel2()
	if err := srv2.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + srv2.Addr().String() + "/healthz"); err == nil {
		t.Fatal("server still answers after its context was cancelled")
	}

	if err := NewServer(Config{Listen: "no-port"}, nil, nil, nil).Start(t.Context()); !errors.Is(err, ErrBadListen) {
		t.Fatalf("bad listen: %v", err)
	}
	srv3 := NewServer(Config{Listen: "127.0.0.1:0"}, nil, nil, nil)
	if err := srv3.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer srv3.Shutdown(sctx)
	busy := NewServer(Config{Listen: srv3.Addr().String()}, nil, nil, nil)
	if err := busy.Start(t.Context()); err == nil {
		t.Fatal("binding a port in use succeeded")
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestConcurrentRequests drives the API from many clients at once.
func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t)
	// status sends one request; it may run on any goroutine.
	status := func(method, path, body string) int {
		req, err := http.NewRequestWithContext(t.Context(), method, e.ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0
		}
		req.Header.Set("Authorization", "Bearer "+e.token)
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				id := fmt.Sprintf("%d%02d", w+1, i)
				steps := []struct {
					method, path, body string
					want               int
				}{
					{"POST", "/api/v1/conferences", `{"id":"` + id + `","name":"c"}`, 201},
					{"GET", "/api/v1/conferences/" + id, "", 200},
					{"GET", "/api/v1/conferences/" + id + "/participants", "", 200},
				}
				if i%2 == 0 {
					steps = append(steps, struct {
						method, path, body string
						want               int
					}{"DELETE", "/api/v1/conferences/" + id, "", 204})
				}
				for _, st := range steps {
					if got := status(st.method, st.path, st.body); got != st.want {
						t.Errorf("%s %s: %d, want %d", st.method, st.path, got, st.want)
					}
				}
			}
		})
	}
	wg.Wait()
	var list conferenceList
	e.do("GET", "/api/v1/conferences", e.token, "", 200, &list)
	if len(list.Conferences) != 40 {
		t.Fatalf("%d conferences, want 40", len(list.Conferences))
	}
}
