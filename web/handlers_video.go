package web

import (
	"net/http"

	"github.com/roomgate/roomgate/conf"
)

// Video switching of a live conference (conf/video.go has the rules):
//
//	GET    /api/v1/conferences/{id}/video                              who may see the conference; 200 conf.ConferenceVideo
//	POST   /api/v1/conferences/{id}/video/pin   {"participant": pid}   a moderator; 204
//	DELETE /api/v1/conferences/{id}/video/pin                          a moderator; 204
//
// A participant who sends no video cannot be pinned (409); one whose
// protocol has no video at all is 501 like any missing capability. The
// event stream announces pins (video_pinned, video_unpinned) and the
// bridge's switches (video_switched).

func (s *Server) videoRoutes(route func(string, map[string]http.HandlerFunc), auth func(http.HandlerFunc) http.HandlerFunc) {
	route(apiPrefix+"/conferences/{id}/video", map[string]http.HandlerFunc{
		http.MethodGet: auth(s.getVideo),
	})
	route(apiPrefix+"/conferences/{id}/video/pin", map[string]http.HandlerFunc{
		http.MethodPost:   auth(s.pinVideo),
		http.MethodDelete: auth(s.unpinVideo),
	})
}

// pinBody is the body of POST .../video/pin.
type pinBody struct {
	Participant string `json:"participant"`
}

func (s *Server) getVideo(w http.ResponseWriter, r *http.Request) {
	v, err := s.svc.Video(r.Context(), actor(r), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) pinVideo(w http.ResponseWriter, r *http.Request) {
	var b pinBody
	if !s.decodeBody(w, r, &b) {
		return
	}
	if b.Participant == "" {
		s.writeError(w, r, &conf.ValidationError{Field: "participant", Message: "is required: the ID of a live participant"})
		return
	}
	if err := s.svc.PinVideo(r.Context(), actor(r), r.PathValue("id"), b.Participant); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) unpinVideo(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.UnpinVideo(r.Context(), actor(r), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
