package web

import (
	"net/http"

	"github.com/roomgate/roomgate/conf"
)

// Callers asking the owner to join his running conference (conf/owner_call.go):
//
//	GET  /api/v1/conferences/{id}/admissions                          moderators; 200 {"admissions": [...]}
//	POST /api/v1/conferences/{id}/admissions/{rid}  {"admit": true}   moderators; 204, 404 when nobody waits
//
// The event stream announces each request, so that a client can ask its
// user; the owner's phone gets the same question with keys 1 and 2.

func (s *Server) admissionRoutes(route func(string, map[string]http.HandlerFunc), auth func(http.HandlerFunc) http.HandlerFunc) {
	route(apiPrefix+"/conferences/{id}/admissions", map[string]http.HandlerFunc{
		http.MethodGet: auth(s.listAdmissions),
	})
	route(apiPrefix+"/conferences/{id}/admissions/{rid}", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.decideAdmission),
	})
}

// admissionList is the answer of GET .../admissions.
type admissionList struct {
	Admissions []conf.PendingAdmission `json:"admissions"`
}

// admissionBody is the body of POST .../admissions/{rid}.
type admissionBody struct {
	Admit *bool `json:"admit"`
}

func (s *Server) listAdmissions(w http.ResponseWriter, r *http.Request) {
	as, err := s.svc.PendingAdmissions(r.Context(), actor(r), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, admissionList{Admissions: as})
}

func (s *Server) decideAdmission(w http.ResponseWriter, r *http.Request) {
	var b admissionBody
	if !s.decodeBody(w, r, &b) {
		return
	}
	if b.Admit == nil {
		s.writeError(w, r, &conf.ValidationError{Field: "admit", Message: "is required: true admits the caller, false declines"})
		return
	}
	if err := s.svc.DecideAdmission(r.Context(), actor(r), r.PathValue("id"), r.PathValue("rid"), *b.Admit); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
