package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/roomgate/roomgate/conf"
)

// Address book and templates: /api/v1/users, /api/v1/groups and
// /api/v1/templates. Every authenticated user may read the address book;
// conf decides who may write it and whose templates one sees.

func (s *Server) bookRoutes(route func(string, map[string]http.HandlerFunc), auth func(http.HandlerFunc) http.HandlerFunc) {
	route(apiPrefix+"/users", map[string]http.HandlerFunc{
		http.MethodGet:  auth(s.listUsers),
		http.MethodPost: auth(s.createUser),
	})
	route(apiPrefix+"/users/{id}", map[string]http.HandlerFunc{
		http.MethodGet:    auth(s.getUser),
		http.MethodPut:    auth(s.updateUser),
		http.MethodDelete: auth(s.deleteUser),
	})
	route(apiPrefix+"/groups", map[string]http.HandlerFunc{
		http.MethodGet:  auth(s.listGroups),
		http.MethodPost: auth(s.createGroup),
	})
	route(apiPrefix+"/groups/{id}", map[string]http.HandlerFunc{
		http.MethodGet:    auth(s.getGroup),
		http.MethodPut:    auth(s.updateGroup),
		http.MethodDelete: auth(s.deleteGroup),
	})
	route(apiPrefix+"/templates", map[string]http.HandlerFunc{
		http.MethodGet:  auth(s.listTemplates),
		http.MethodPost: auth(s.createTemplate),
	})
	route(apiPrefix+"/templates/{id}", map[string]http.HandlerFunc{
		http.MethodGet:    auth(s.getTemplate),
		http.MethodDelete: auth(s.deleteTemplate),
	})
	route(apiPrefix+"/templates/{id}/conferences", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.conferenceFromTemplate),
	})
}

// userBody is a user as clients write it: password is write-only and
// created_at, which clients may send back, is ignored.
type userBody struct {
	ID          string          `json:"id"`
	DisplayName string          `json:"display_name"`
	Email       string          `json:"email"`
	Role        string          `json:"role"`
	Password    string          `json:"password"`
	DialOut     string          `json:"dial_out"`
	CreatedAt   json.RawMessage `json:"created_at"`
}

func (b userBody) input() conf.UserInput {
	return conf.UserInput{ID: b.ID, DisplayName: b.DisplayName, Email: b.Email, Role: b.Role, Password: b.Password,
		DialOut: b.DialOut}
}

type userList struct {
	Users []conf.User `json:"users"`
}

type groupList struct {
	Groups []conf.Group `json:"groups"`
}

type templateList struct {
	Templates []conf.Template `json:"templates"`
}

// decodeBody checks the content type and strictly decodes the body into v;
// it answers and returns false when it cannot.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if !s.checkJSONBody(w, r) {
		return false
	}
	if err := decodeStrict(http.MaxBytesReader(w, r.Body, MaxBodyBytes), v); err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}

// pathIDMismatch answers 400 when a body names another ID than the path.
func (s *Server) pathIDMismatch(w http.ResponseWriter, r *http.Request, bodyID string) bool {
	if bodyID != "" && bodyID != r.PathValue("id") {
		s.writeError(w, r, &conf.ValidationError{Field: "id", Message: "differs from the ID in the path; IDs cannot be changed"})
		return true
	}
	return false
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := s.svc.ListUsers(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userList{Users: us})
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var b userBody
	if !s.decodeBody(w, r, &b) {
		return
	}
	u, err := s.svc.CreateUser(r.Context(), actor(r), b.input())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", apiPrefix+"/users/"+u.ID)
	writeJSON(w, http.StatusCreated, u)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.svc.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) {
	var b userBody
	if !s.decodeBody(w, r, &b) || s.pathIDMismatch(w, r, b.ID) {
		return
	}
	b.ID = r.PathValue("id")
	u, err := s.svc.UpdateUser(r.Context(), actor(r), b.input())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.DeleteUser(r.Context(), actor(r), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// groupBody is a group as clients write it.
type groupBody struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Members   []string        `json:"members"`
	CreatedAt json.RawMessage `json:"created_at"`
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	gs, err := s.svc.ListGroups(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, groupList{Groups: gs})
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	var b groupBody
	if !s.decodeBody(w, r, &b) {
		return
	}
	g, err := s.svc.CreateGroup(r.Context(), actor(r), conf.Group{ID: b.ID, Name: b.Name, Members: b.Members})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", apiPrefix+"/groups/"+g.ID)
	writeJSON(w, http.StatusCreated, g)
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	g, err := s.svc.GetGroup(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request) {
	var b groupBody
	if !s.decodeBody(w, r, &b) || s.pathIDMismatch(w, r, b.ID) {
		return
	}
	g, err := s.svc.UpdateGroup(r.Context(), actor(r), conf.Group{ID: r.PathValue("id"), Name: b.Name, Members: b.Members})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.DeleteGroup(r.Context(), actor(r), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// templateBody creates a template either from a conference
// (conference_id) or from explicit settings, not both.
type templateBody struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	ConferenceID string          `json:"conference_id"`
	Settings     json.RawMessage `json:"settings"`
	Layout       *conf.Layout    `json:"layout"`
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) {
	ts, err := s.svc.ListTemplates(r.Context(), actor(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, templateList{Templates: ts})
}

func (s *Server) createTemplate(w http.ResponseWriter, r *http.Request) {
	var b templateBody
	if !s.decodeBody(w, r, &b) {
		return
	}
	var t conf.Template
	var err error
	switch {
	case b.ConferenceID != "" && len(b.Settings) > 0:
		err = &conf.ValidationError{Field: "settings", Message: "give either conference_id or settings, not both"}
	case b.ConferenceID != "":
		if b.ID != "" || b.Layout != nil {
			field := "id"
			if b.ID == "" {
				field = "layout"
			}
			err = &conf.ValidationError{Field: field, Message: "is taken from the conference when saving it as a template"}
			break
		}
		t, err = s.svc.SaveTemplate(r.Context(), actor(r), b.ConferenceID, b.Name)
	case len(b.Settings) > 0:
		var c conf.Conference
		if c, err = conf.DecodeTemplateSettings(b.Settings); err == nil {
			t, err = s.svc.CreateTemplate(r.Context(), actor(r), conf.Template{ID: b.ID, Name: b.Name, Settings: c, Layout: b.Layout})
		}
	default:
		err = &conf.ValidationError{Field: "conference_id", Message: "or settings is required"}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", apiPrefix+"/templates/"+t.ID)
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) {
	t, err := s.svc.GetTemplate(r.Context(), actor(r), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) deleteTemplate(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.DeleteTemplate(r.Context(), actor(r), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// fromTemplateBody is the optional body of POST /templates/{id}/conferences.
type fromTemplateBody struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Schedule *struct {
		Type            string   `json:"type"`
		Start           string   `json:"start"`
		DurationMinutes int      `json:"duration_minutes"`
		Days            []string `json:"days"`
		TimeZone        string   `json:"time_zone"`
	} `json:"schedule"`
}

func (s *Server) conferenceFromTemplate(w http.ResponseWriter, r *http.Request) {
	var b fromTemplateBody
	if !s.checkJSONBody(w, r) {
		return
	}
	// The body is optional: without one the template is used as it is.
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		s.writeError(w, r, fmt.Errorf("reading request body: %w", err))
		return
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := decodeStrict(bytes.NewReader(raw), &b); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	ov := conf.TemplateOverrides{ID: b.ID, Name: b.Name}
	if b.Schedule != nil {
		sc := conf.Schedule{Type: b.Schedule.Type, DurationMinutes: b.Schedule.DurationMinutes,
			Days: b.Schedule.Days, TimeZone: b.Schedule.TimeZone}
		if b.Schedule.Start != "" {
			t, err := time.Parse(time.RFC3339, b.Schedule.Start)
			if err != nil {
				s.writeError(w, r, &conf.ValidationError{Field: "schedule.start", Message: "must be an RFC 3339 timestamp such as 2026-01-02T15:04:05Z"})
				return
			}
			sc.Start = t
		}
		ov.Schedule = &sc
	}
	c, err := s.svc.CreateFromTemplate(r.Context(), actor(r), r.PathValue("id"), ov)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", apiPrefix+"/conferences/"+c.ID)
	writeJSON(w, http.StatusCreated, c)
}
