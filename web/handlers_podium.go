package web

import (
	"net/http"

	"github.com/roomgate/roomgate/conf"
)

// Podium, hands, presenter and leaving (conf/podium.go has the rules):
//
//	POST   /api/v1/conferences/{id}/participants/{pid}/hand    {"raised": true}      himself or a moderator; 204
//	POST   /api/v1/conferences/{id}/participants/{pid}/podium                        a moderator; 204
//	DELETE /api/v1/conferences/{id}/participants/{pid}/podium                        a moderator; 204
//	POST   /api/v1/conferences/{id}/presenter                   {"participant": pid} a moderator; 204
//	POST   /api/v1/conferences/{id}/participants/{pid}/leave   {"end_for_all": true} himself or a moderator; 200
//	POST   /api/v1/conferences/{id}/mute_all                                         a moderator; 200 {"muted": n}
//
// Conflicts with the conference's state (a symmetric conference has no
// podium, every seat is taken, a speaker raising his hand) are 409.

func (s *Server) podiumRoutes(route func(string, map[string]http.HandlerFunc), auth func(http.HandlerFunc) http.HandlerFunc) {
	route(apiPrefix+"/conferences/{id}/participants/{pid}/hand", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.setHand),
	})
	route(apiPrefix+"/conferences/{id}/participants/{pid}/podium", map[string]http.HandlerFunc{
		http.MethodPost:   auth(s.podium(true)),
		http.MethodDelete: auth(s.podium(false)),
	})
	route(apiPrefix+"/conferences/{id}/presenter", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.setPresenter),
	})
	route(apiPrefix+"/conferences/{id}/participants/{pid}/leave", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.leave),
	})
	route(apiPrefix+"/conferences/{id}/mute_all", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.muteAll),
	})
}

// muteAllAnswer says how many microphones mute_all closed.
type muteAllAnswer struct {
	ConferenceID string `json:"conference_id"`
	Muted        int    `json:"muted"`
}

// muteAll mutes everybody but the owner and the moderators.
func (s *Server) muteAll(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n, err := s.svc.MuteAll(r.Context(), actor(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, muteAllAnswer{ConferenceID: id, Muted: n})
}

// handBody is the body of POST .../participants/{pid}/hand.
type handBody struct {
	Raised *bool `json:"raised"`
}

func (s *Server) setHand(w http.ResponseWriter, r *http.Request) {
	var b handBody
	if !s.decodeBody(w, r, &b) {
		return
	}
	if b.Raised == nil {
		s.writeError(w, r, &conf.ValidationError{Field: "raised", Message: "is required (true or false)"})
		return
	}
	if err := s.svc.SetHand(r.Context(), actor(r), r.PathValue("id"), r.PathValue("pid"), *b.Raised); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) podium(give bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f := s.svc.TakePodium
		if give {
			f = s.svc.GivePodium
		}
		if err := f(r.Context(), actor(r), r.PathValue("id"), r.PathValue("pid")); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// presenterBody is the body of POST .../presenter.
type presenterBody struct {
	Participant string `json:"participant"`
}

func (s *Server) setPresenter(w http.ResponseWriter, r *http.Request) {
	var b presenterBody
	if !s.decodeBody(w, r, &b) {
		return
	}
	if b.Participant == "" {
		s.writeError(w, r, &conf.ValidationError{Field: "participant", Message: "is required: the ID of a live participant"})
		return
	}
	if err := s.svc.SetPresenter(r.Context(), actor(r), r.PathValue("id"), b.Participant); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// leaveBody is the body of POST .../participants/{pid}/leave; an empty
// body means {"end_for_all": false}.
type leaveBody struct {
	EndForAll bool `json:"end_for_all"`
}

// leaveAnswer says what leaving did.
type leaveAnswer struct {
	ConferenceID string `json:"conference_id"`
	EndedForAll  bool   `json:"ended_for_all"`
}

func (s *Server) leave(w http.ResponseWriter, r *http.Request) {
	var b leaveBody
	if r.ContentLength != 0 && !s.decodeBody(w, r, &b) {
		return
	}
	id := r.PathValue("id")
	ended, err := s.svc.LeaveAs(r.Context(), actor(r), id, r.PathValue("pid"), b.EndForAll)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, leaveAnswer{ConferenceID: id, EndedForAll: ended})
}
