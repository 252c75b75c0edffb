package web

import (
	"errors"
	"testing"
	"time"

	"github.com/roomgate/roomgate/conf"
)

// A caller asking the owner to join waits until a moderator decides over
// the API; others may neither see nor decide.
func TestAdmissionsOverREST(t *testing.T) {
	e := newEnv(t)
	owner := e.loginAs("owner", "user")
	member := e.loginAs("member", "user")
	e.do("POST", "/api/v1/conferences", owner, `{"id":"1000","name":"Board","access":"internal"}`, 201, nil)

	ask := func() <-chan error {
		done := make(chan error, 1)
		go func() {
			done <- e.svc.RequestAdmission(t.Context(), "1000", conf.User{ID: "member", DisplayName: "Member"}, "")
		}()
		return done
	}
	waiting := func() []conf.PendingAdmission {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			var l admissionList
			e.do("GET", "/api/v1/conferences/1000/admissions", owner, "", 200, &l)
			if len(l.Admissions) > 0 || time.Now().After(deadline) {
				return l.Admissions
			}
		}
	}

	done := ask()
	as := waiting()
	if len(as) != 1 || as[0].UserID != "member" {
		t.Fatalf("waiting callers %+v", as)
	}
	e.wantError("GET", "/api/v1/conferences/1000/admissions", member, "", 403, "forbidden", "")
	e.wantError("POST", "/api/v1/conferences/1000/admissions/"+as[0].ID, member, `{"admit":true}`, 403, "forbidden", "")
	e.wantError("POST", "/api/v1/conferences/1000/admissions/"+as[0].ID, owner, `{}`, 400, "validation_failed", "admit")
	e.wantError("POST", "/api/v1/conferences/1000/admissions/nobody", owner, `{"admit":true}`, 404, "not_found", "")
	e.do("POST", "/api/v1/conferences/1000/admissions/"+as[0].ID, owner, `{"admit":true}`, 204, nil)
	if err := <-done; err != nil {
		t.Fatalf("admitted caller: %v", err)
	}

	done = ask()
	as = waiting()
	e.do("POST", "/api/v1/conferences/1000/admissions/"+as[0].ID, owner, `{"admit":false}`, 204, nil)
	if err := <-done; !errors.Is(err, conf.ErrAdmissionDeclined) {
		t.Fatalf("declined caller: %v, want ErrAdmissionDeclined", err)
	}
}
