package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/store"
)

// FuzzAPIBodies sends arbitrary bodies to the endpoints that decode JSON.
// Whatever arrives, the answer must be one of the documented statuses with
// a JSON body, and an error answer must have the error shape.
func FuzzAPIBodies(f *testing.F) {
	for _, s := range []string{
		`{"name":"Board room"}`, `{"id":"1000","name":"x","schedule":{"type":"weekly","start":"2030-01-01T00:00:00Z","duration_minutes":5,"days":["mon"]}}`,
		`{"username":"admin","password":"pw"}`, `{"username":1}`, `{}`, `[]`, `null`, ``, `{"name":"x"}{}`, `{"name":"\ud800"}`,
		`{"name":"x","invitations":[{"target":"sip:a@b"},{"target":"sip:a@b"}]}`,
		`{"name":"x","guest_rights":{"speak":false}}`, `{"name":"x","access":"internal","guest_rights":{}}`,
		`{"name":"x","invitations":[{"target":"mailto:ann@example.com"}]}`,
		`{"participant":"deadbeef"}`, `{"raised":true}`, `{"raised":null}`, `{"end_for_all":true}`,
	} {
		for which := range uint8(6) {
			f.Add(which, []byte(s))
		}
	}
	fx := newFuzzFixture(f)
	targets := []struct {
		method, path string
		ok           []int
	}{
		{"POST", "/api/v1/conferences", []int{201, 400, 409}},
		{"PUT", "/api/v1/conferences/1000", []int{200, 400}},
		{"POST", "/api/v1/auth/token", []int{200, 400, 401}},
		// Conference 1000 is symmetric and empty: a presenter is a
		// conflict, a participant is not found.
		{"POST", "/api/v1/conferences/1000/presenter", []int{400, 409}},
		{"POST", "/api/v1/conferences/1000/participants/deadbeef/hand", []int{400, 404}},
		{"POST", "/api/v1/conferences/1000/participants/deadbeef/leave", []int{400, 404}},
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		tg := targets[int(which)%len(targets)]
		rec := fx.send(t, tg.method, tg.path, body)
		if !slices.Contains(tg.ok, rec.Code) {
			t.Fatalf("%s %s %q: status %d, body %s", tg.method, tg.path, body, rec.Code, rec.Body)
		}
		if rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("content type %q", rec.Header().Get("Content-Type"))
		}
		if rec.Code >= 400 {
			var eb errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error == "" || eb.Message == "" {
				t.Fatalf("error body %s: %v", rec.Body, err)
			}
			if eb.Error == "validation_failed" && eb.Field == "" {
				t.Fatalf("validation error without a field: %s", rec.Body)
			}
		}
		if rec.Code == http.StatusCreated {
			var c conf.Conference
			if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil {
				t.Fatal(err)
			}
			// Keep the store small and IDs free for the next inputs.
			if err := fx.svc.DeleteConference(t.Context(), c.ID); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// fuzzFixture is the server the body fuzzers talk to: a real SQLite store,
// an admin token and conference 1000 to act on.
type fuzzFixture struct {
	svc   *conf.Service
	h     http.Handler
	token string
}

func newFuzzFixture(f *testing.F) *fuzzFixture {
	f.Helper()
	st, err := store.OpenSQLite(f.Context(), f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	svc := conf.NewService(st, nil, conf.WithPasswordIterations(1000))
	if _, err := svc.EnsureAdmin(f.Context(), "pw"); err != nil {
		f.Fatal(err)
	}
	token, _, err := svc.IssueToken(f.Context(), "admin", "pw")
	if err != nil {
		f.Fatal(err)
	}
	if _, err := svc.CreateConference(f.Context(), conf.Conference{ID: "1000", Name: "target"}); err != nil {
		f.Fatal(err)
	}
	return &fuzzFixture{svc: svc, h: NewServer(Config{}, svc, nil, nil).Handler(), token: token}
}

// send makes an authorised JSON request to the fixture's server.
func (fx *fuzzFixture) send(t *testing.T, method, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(t.Context(), method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+fx.token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	fx.h.ServeHTTP(rec, req)
	return rec
}
