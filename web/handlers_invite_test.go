package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

// recordingDialer records the calls it is asked to place and fails them.
type recordingDialer struct {
	mu      sync.Mutex
	targets []string
}

func (d *recordingDialer) Schemes() []string { return []string{"sip"} }

func (d *recordingDialer) Dial(_ context.Context, req conf.DialRequest) (conf.DialResult, error) {
	d.mu.Lock()
	d.targets = append(d.targets, req.Target.Display)
	d.mu.Unlock()
	return conf.DialResult{}, conf.ErrNotSupported
}

func TestInviteByCallString(t *testing.T) {
	e := newEnv(t)
	d := &recordingDialer{}
	e.svc.RegisterDialer(d)
	e.do("POST", "/api/v1/conferences", e.token, `{"id":"1000","name":"Board"}`, 201, nil)
	userTok := e.loginAs("carol", "user")

	var ans inviteAndDialAnswer
	e.do("POST", "/api/v1/conferences/1000/invite", e.token,
		`{"participants":["sip:room@192.0.2.1;transport=tcp","rtsp://cam:pw@192.0.2.2/live","carol"]}`, http.StatusAccepted, &ans)
	if ans.ConferenceID != "1000" || len(ans.Results) != 3 {
		t.Fatalf("answer %+v", ans)
	}
	if r := ans.Results[0]; r.Status != conf.DialStatusDialing || r.Scheme != "sip" || r.Target != "sip:room@192.0.2.1;transport=tcp" {
		t.Errorf("sip result %+v", r)
	}
	if r := ans.Results[1]; r.Status != conf.DialStatusInvited || strings.Contains(r.Target, "pw") {
		t.Errorf("rtsp result %+v", r)
	}
	if r := ans.Results[2]; r.Kind != conf.TargetUser || r.Status != conf.DialStatusInvited {
		t.Errorf("user result %+v", r)
	}

	var apiErr errorBody
	e.do("POST", "/api/v1/conferences/1000/invite", e.token, `{"participants":["sip:ok@192.0.2.1","sip:a@h\r\nX: y"]}`, 400, &apiErr)
	if apiErr.Field != "participants[1]" || !strings.Contains(apiErr.Message, "control character") {
		t.Errorf("bad target: %+v", apiErr)
	}
	e.do("POST", "/api/v1/conferences/1000/invite", e.token, `{"participants":["gopher://x"]}`, 400, &apiErr)
	if apiErr.Field != "participants[0]" || !strings.Contains(apiErr.Message, "scheme") {
		t.Errorf("unknown scheme: %+v", apiErr)
	}
	e.do("POST", "/api/v1/conferences/1000/invite", e.token, `{"participants":[]}`, 400, nil)
	e.do("POST", "/api/v1/conferences/1000/invite", e.token, `{"targets":["x"]}`, 400, nil)
	e.do("POST", "/api/v1/conferences/1000/invite", userTok, `{"participants":["sip:x@192.0.2.9"]}`, 403, nil)
	e.do("POST", "/api/v1/conferences/1000/invite", "", `{"participants":["sip:x@192.0.2.9"]}`, 401, nil)
	e.do("POST", "/api/v1/conferences/4040/invite", e.token, `{"participants":["sip:x@192.0.2.9"]}`, 404, nil)
	e.do("GET", "/api/v1/conferences/1000/invite", e.token, "", 405, nil)

	e.stop() // waits for the background dials
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.targets) != 1 || d.targets[0] != "sip:room@192.0.2.1;transport=tcp" {
		t.Errorf("dialled %q", d.targets)
	}
}
