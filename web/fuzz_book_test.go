package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

// FuzzBookBodies sends arbitrary bodies to the address-book, template,
// layout, invitation and extension endpoints: every answer must be a
// documented status with a JSON body in the error shape, and whatever is
// created is deleted again through its Location.
func FuzzBookBodies(f *testing.F) {
	for _, s := range []string{
		`{"id":"alice","password":"alice-secret","role":"operator","email":"a@b.example"}`,
		`{"id":"team","members":["admin"]}`, `{"id":"t","members":["ghost","admin"]}`,
		`{"name":"T","conference_id":"1000"}`, `{"name":"T","settings":{"name":"x","mode":"role-based"},"layout":{"windows":4}}`,
		`{"type":"speaker","windows":6,"content_window":2,"participants":["a",""]}`, `{"windows":"x"}`,
		`{"invitations":[{"target":"sip:a@b","moderator":true}]}`, `{"invitations":[]}`,
		`{"minutes":10}`, `{"id":"2000","name":"From T"}`, `{}`, `[]`, `null`, ``, `{"x":1}`, `{"id":"\u0000"}`,
	} {
		for w := range uint8(7) {
			f.Add(w, []byte(s))
		}
	}
	fx := newFuzzFixture(f)
	svc := fx.svc
	if _, err := svc.CreateTemplate(f.Context(), conf.System(), conf.Template{ID: "t1", Name: "T", Settings: conf.Conference{Name: "x"}}); err != nil {
		f.Fatal(err)
	}
	targets := []struct {
		method, path string
		ok           []int
	}{
		{"POST", "/api/v1/users", []int{201, 400, 409}},
		{"POST", "/api/v1/groups", []int{201, 400, 409}},
		{"POST", "/api/v1/templates", []int{201, 400, 404, 409}},
		{"PUT", "/api/v1/conferences/1000/layout", []int{200, 400}},
		{"POST", "/api/v1/conferences/1000/invitations", []int{200, 400}},
		{"POST", "/api/v1/conferences/1000/extend", []int{400, 409}},
		{"POST", "/api/v1/templates/t1/conferences", []int{201, 400, 409}},
	}
	send := fx.send
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		tg := targets[int(which)%len(targets)]
		rec := send(t, tg.method, tg.path, body)
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
		if loc := rec.Header().Get("Location"); rec.Code == http.StatusCreated && loc != "" {
			if del := send(t, "DELETE", loc, nil); del.Code != http.StatusNoContent {
				t.Fatalf("deleting %s: %d %s", loc, del.Code, del.Body)
			}
		}
	})
}
