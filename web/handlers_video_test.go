package web

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
)

// pinRouter is the bridge's video pinning for the REST tests.
type pinRouter struct {
	mu   sync.Mutex
	pins map[string]string
}

func (r *pinRouter) PinVideo(room, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pins[room] = id
	return nil
}

func (r *pinRouter) UnpinVideo(room string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pins, room)
}

func (r *pinRouter) VideoPin(room string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pins[room]
}

// videoMemberLeg is a user's leg with video in the bridge.
type videoMemberLeg struct {
	memberLeg
	*pinRouter
	media    string
	hasVideo bool
}

func (l *videoMemberLeg) MediaID() string { return l.media }
func (l *videoMemberLeg) VideoStats() (bridge.VideoLegStats, bool) {
	return bridge.VideoLegStats{Codec: "H264", Width: 1280, Height: 720, Active: true}, l.hasVideo
}

// withVideoRoutes serves e's API with the video routes, as routes() does
// once they are registered there.
func withVideoRoutes(e *env) {
	s := NewServer(Config{}, e.svc, nil, nil)
	mux := http.NewServeMux()
	s.videoRoutes(func(path string, methods map[string]http.HandlerFunc) {
		for m, h := range methods {
			mux.HandleFunc(m+" "+path, h)
		}
	}, s.requireToken)
	mux.Handle("/", s.Handler())
	old := e.ts
	e.ts = httptest.NewServer(mux)
	old.Close()
}

func TestVideoPinOverREST(t *testing.T) {
	e := newEnv(t)
	withVideoRoutes(e)
	owner := e.loginAs("owner", "user")
	member := e.loginAs("member", "user")
	e.do("POST", "/api/v1/conferences", owner,
		`{"id":"1000","name":"Board","access":"internal","invitations":[{"target":"member"}]}`, 201, nil)
	r := &pinRouter{pins: map[string]string{}}
	join := func(user string, video bool) *conf.Participant {
		t.Helper()
		l := &videoMemberLeg{memberLeg: memberLeg{user: user}, pinRouter: r, media: "sip-" + user, hasVideo: video}
		p, err := e.svc.Join(t.Context(), conf.JoinRequest{ConferenceID: "1000", DisplayName: user, Protocol: "sip",
			Remote: "192.0.2.9:5060", Leg: l})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	po := join("owner", true)
	pm := join("member", true)

	e.wantError("POST", "/api/v1/conferences/1000/video/pin", member, `{"participant":"`+po.ID()+`"}`, 403, "forbidden", "")
	e.wantError("POST", "/api/v1/conferences/1000/video/pin", owner, `{}`, 400, "validation_failed", "participant")
	e.wantError("POST", "/api/v1/conferences/1000/video/pin", owner, `{"participant":"nobody"}`, 404, "not_found", "")
	e.wantError("POST", "/api/v1/conferences/1000/video/pin", owner, `{"participant":1}`, 400, "validation_failed", "participant")
	e.do("POST", "/api/v1/conferences/1000/video/pin", owner, `{"participant":"`+pm.ID()+`"}`, 204, nil)
	if got := r.VideoPin("1000"); got != "sip-member" {
		t.Fatalf("bridge pinned %q, want sip-member", got)
	}
	var v conf.ConferenceVideo
	e.do("GET", "/api/v1/conferences/1000/video", member, "", 200, &v)
	if v.Pinned != pm.ID() || len(v.Participants) != 2 {
		t.Fatalf("video state %+v", v)
	}
	for _, pv := range v.Participants {
		if pv.Video.Codec != "H264" || pv.Video.Width != 1280 || pv.Video.Pinned != (pv.ID == pm.ID()) {
			t.Errorf("participant video %+v", pv)
		}
	}
	e.wantError("DELETE", "/api/v1/conferences/1000/video/pin", member, "", 403, "forbidden", "")
	e.do("DELETE", "/api/v1/conferences/1000/video/pin", owner, "", 204, nil)
	if got := r.VideoPin("1000"); got != "" {
		t.Fatalf("still pinned to %q", got)
	}
	e.wantError("GET", "/api/v1/conferences/2000/video", owner, "", 404, "not_found", "")

	// A participant who sends no video is a conflict.
	e.do("POST", "/api/v1/users", e.token, `{"id":"cam","role":"user","password":"pw-cam-1234"}`, 201, nil)
	e.do("PUT", "/api/v1/conferences/1000", owner,
		`{"id":"1000","name":"Board","access":"internal","invitations":[{"target":"member"},{"target":"cam"}]}`, 200, nil)
	pc := join("cam", false)
	e.wantError("POST", "/api/v1/conferences/1000/video/pin", owner, `{"participant":"`+pc.ID()+`"}`, 409, "conflict", "")
}
