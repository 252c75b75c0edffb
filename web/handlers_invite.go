package web

import (
	"net/http"

	"github.com/roomgate/roomgate/conf"
)

// Inviting by call string (DESIGN.md §3, TrueConf's shape):
//
//	POST /api/v1/conferences/{id}/invite   {"participants": ["sip:1000@room.example", "alice", ...]}
//
// Every target is parsed before anything is dialled; a bad one fails the
// request with 400 and names it ("participants[1]"). Otherwise the answer
// is 202 Accepted with one result per target: the calls run in the
// background and their outcome comes on the event stream
// (invite_answered, invite_failed).

// inviteRoutes registers the invite route.
func (s *Server) inviteRoutes(route func(string, map[string]http.HandlerFunc), auth func(http.HandlerFunc) http.HandlerFunc) {
	route(apiPrefix+"/conferences/{id}/invite", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.inviteAndDial),
	})
}

// inviteAndDialBody is the body of POST /conferences/{id}/invite.
type inviteAndDialBody struct {
	Participants []string `json:"participants"`
}

// inviteAndDialAnswer is the 202 answer.
type inviteAndDialAnswer struct {
	ConferenceID string              `json:"conference_id"`
	Results      []conf.InviteResult `json:"results"`
}

func (s *Server) inviteAndDial(w http.ResponseWriter, r *http.Request) {
	var b inviteAndDialBody
	if !s.decodeBody(w, r, &b) {
		return
	}
	id := r.PathValue("id")
	res, err := s.svc.InviteAndDial(r.Context(), actor(r), id, b.Participants)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, inviteAndDialAnswer{ConferenceID: id, Results: res})
}
