package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/roomgate/roomgate/conf"
)

// Live moderation and the event stream.

// sseKeepAlive is how often the event stream sends a comment line, so
// that proxies do not close an idle stream and dead clients are noticed.
const sseKeepAlive = 15 * time.Second

func (s *Server) liveRoutes(route func(string, map[string]http.HandlerFunc), auth func(http.HandlerFunc) http.HandlerFunc) {
	route(apiPrefix+"/conferences/{id}/participants/{pid}", map[string]http.HandlerFunc{
		http.MethodDelete: auth(s.removeParticipant),
	})
	route(apiPrefix+"/conferences/{id}/participants/{pid}/mute", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.muteParticipant(true)),
	})
	route(apiPrefix+"/conferences/{id}/participants/{pid}/unmute", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.muteParticipant(false)),
	})
	route(apiPrefix+"/conferences/{id}/lock", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.lockConference(true)),
	})
	route(apiPrefix+"/conferences/{id}/unlock", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.lockConference(false)),
	})
	route(apiPrefix+"/conferences/{id}/stop", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.stopConference),
	})
	route(apiPrefix+"/conferences/{id}/run", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.runConference),
	})
	route(apiPrefix+"/conferences/{id}/extend", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.extendConference),
	})
	route(apiPrefix+"/conferences/{id}/invitations", map[string]http.HandlerFunc{
		http.MethodPost: auth(s.inviteToConference),
	})
	route(apiPrefix+"/conferences/{id}/layout", map[string]http.HandlerFunc{
		http.MethodGet:    auth(s.getLayout),
		http.MethodPut:    auth(s.setLayout),
		http.MethodDelete: auth(s.deleteLayout),
	})
	route(apiPrefix+"/events", map[string]http.HandlerFunc{
		http.MethodGet: auth(s.events),
	})
}

func (s *Server) removeParticipant(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.RemoveParticipant(r.Context(), actor(r), r.PathValue("id"), r.PathValue("pid")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) muteParticipant(muted bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.svc.SetMuted(r.Context(), actor(r), r.PathValue("id"), r.PathValue("pid"), muted); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) lockConference(locked bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.svc.SetLocked(r.Context(), actor(r), r.PathValue("id"), locked)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	}
}

func (s *Server) stopConference(w http.ResponseWriter, r *http.Request) {
	c, err := s.svc.StopConference(r.Context(), actor(r), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) runConference(w http.ResponseWriter, r *http.Request) {
	c, err := s.svc.RunConference(r.Context(), actor(r), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) getLayout(w http.ResponseWriter, r *http.Request) {
	l, err := s.svc.GetLayout(r.Context(), actor(r), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) setLayout(w http.ResponseWriter, r *http.Request) {
	var l conf.Layout
	if !s.decodeBody(w, r, &l) {
		return
	}
	l, err := s.svc.SetLayout(r.Context(), actor(r), r.PathValue("id"), l)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) deleteLayout(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.DeleteLayout(r.Context(), actor(r), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// extendBody is the body of POST /conferences/{id}/extend.
type extendBody struct {
	Minutes int `json:"minutes"`
}

// extendAnswer says when the extended occurrence now ends.
type extendAnswer struct {
	Ends time.Time `json:"ends"`
}

func (s *Server) extendConference(w http.ResponseWriter, r *http.Request) {
	var b extendBody
	if !s.decodeBody(w, r, &b) {
		return
	}
	end, err := s.svc.ExtendConference(r.Context(), actor(r), r.PathValue("id"), b.Minutes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, extendAnswer{Ends: end})
}

// inviteBody is the body of POST /conferences/{id}/invitations.
type inviteBody struct {
	Invitations []conf.Invitation `json:"invitations"`
}

func (s *Server) inviteToConference(w http.ResponseWriter, r *http.Request) {
	var b inviteBody
	if !s.decodeBody(w, r, &b) {
		return
	}
	c, err := s.svc.Invite(r.Context(), actor(r), r.PathValue("id"), b.Invitations)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// events streams conference events as server-sent events
// (text/event-stream): "id" is the event's seq, "event" its type, "data"
// its JSON. Staff see every conference; other users must name one they
// may view with ?conference=ID.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	u := actor(r)
	confID := r.URL.Query().Get("conference")
	if confID != "" {
		if _, err := s.svc.GetConferenceAs(r.Context(), u, confID); err != nil {
			s.writeError(w, r, err)
			return
		}
	} else if u.Role != conf.UserRoleAdmin && u.Role != conf.UserRoleOperator {
		writeErrorCode(w, http.StatusForbidden, "forbidden",
			"only operators and administrators may follow every conference; name one with ?conference=ID", "conference")
		return
	}
	rc := http.NewResponseController(w)
	sub := s.svc.Subscribe()
	defer sub.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": roomgate events\n\n"); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		s.log.WarnContext(r.Context(), "event stream cannot flush", "err", err)
		return
	}
	keep := time.NewTicker(sseKeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.quit:
			return
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case e, ok := <-sub.C():
			if !ok {
				return
			}
			if confID != "" && e.ConferenceID != confID {
				continue
			}
			data, err := json.Marshal(e)
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, data); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
