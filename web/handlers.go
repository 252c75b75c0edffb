package web

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/roomgate/roomgate/conf"
)

//go:embed openapi.yaml
var openAPIDoc []byte

// userKey is the context key of the authenticated user.
type userKey struct{}

// logInfoKey is the context key of the access log's per-request record,
// which inner handlers fill in.
type logInfoKey struct{}

// logInfo is what handlers tell the access log about a request.
type logInfo struct {
	user string
}

// UserFrom returns the user a request was authenticated as, if any.
func UserFrom(ctx context.Context) (conf.User, bool) {
	u, ok := ctx.Value(userKey{}).(conf.User)
	return u, ok
}

// routes builds the mux. Every path registered with methods also gets a
// method-less fallback answering 405.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	route := func(path string, methods map[string]http.HandlerFunc) {
		allow := make([]string, 0, len(methods))
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			if h, ok := methods[m]; ok {
				mux.HandleFunc(m+" "+path, h)
				allow = append(allow, m)
			}
		}
		if _, ok := methods[http.MethodGet]; ok {
			allow = append(allow, http.MethodHead)
		}
		allowHeader := strings.Join(allow, ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allowHeader)
			writeErrorCode(w, http.StatusMethodNotAllowed, "method_not_allowed",
				fmt.Sprintf("%s is not allowed here; use %s", r.Method, allowHeader), "")
		})
	}
	auth := s.requireToken

	route("/healthz", map[string]http.HandlerFunc{http.MethodGet: s.healthz})
	if s.metrics != nil {
		route("/metrics", map[string]http.HandlerFunc{http.MethodGet: s.metrics.ServeHTTP})
	}
	route(apiPrefix+"/openapi.yaml", map[string]http.HandlerFunc{http.MethodGet: s.openAPI})
	route(apiPrefix+"/auth/token", map[string]http.HandlerFunc{http.MethodPost: s.issueToken})
	route(apiPrefix+"/conferences", map[string]http.HandlerFunc{
		http.MethodGet:  auth(s.listConferences),
		http.MethodPost: auth(s.createConference),
	})
	route(apiPrefix+"/conferences/{id}", map[string]http.HandlerFunc{
		http.MethodGet:    auth(s.getConference),
		http.MethodPut:    auth(s.updateConference),
		http.MethodDelete: auth(s.deleteConference),
	})
	route(apiPrefix+"/conferences/{id}/participants", map[string]http.HandlerFunc{
		http.MethodGet: auth(s.listParticipants),
	})
	s.liveRoutes(route, auth)
	s.podiumRoutes(route, auth) // hands, podium, presenter, leave (handlers_podium.go)
	s.bookRoutes(route, auth)
	s.inviteRoutes(route, auth)    // POST /conferences/{id}/invite (handlers_invite.go)
	s.videoRoutes(route, auth)     // /conferences/{id}/video and video/pin (handlers_video.go)
	s.admissionRoutes(route, auth) // /conferences/{id}/admissions (handlers_admissions.go)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrorCode(w, http.StatusNotFound, "not_found", "no such resource: "+r.URL.Path, "")
	})
	return s.accessLog(mux)
}

// statusWriter remembers the status and size of a response for the
// access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// WriteHeader records the first status written.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write counts the body bytes; a write without WriteHeader means 200.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog logs every request at debug level and sets headers common to
// all answers.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		sw := &statusWriter{ResponseWriter: w}
		info := &logInfo{}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), logInfoKey{}, info)))
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			return
		}
		s.log.DebugContext(r.Context(), "http request", "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "bytes", sw.bytes, "remote", r.RemoteAddr, "user", info.user,
			"duration", time.Since(began))
	})
}

// requireToken admits requests carrying a valid bearer token and puts the
// user into the request's context; others get 401.
func (s *Server) requireToken(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, bearerScheme) || strings.TrimSpace(token) == "" {
			w.Header().Set("WWW-Authenticate", wwwAuthenticateVal)
			writeErrorCode(w, http.StatusUnauthorized, "unauthorized", "an Authorization: Bearer <token> header is required", "")
			return
		}
		u, err := s.svc.CheckToken(r.Context(), strings.TrimSpace(token))
		if err != nil {
			if errors.Is(err, conf.ErrUnauthorized) {
				w.Header().Set("WWW-Authenticate", wwwAuthenticateVal+`, error="invalid_token"`)
				writeErrorCode(w, http.StatusUnauthorized, "unauthorized", "the token is unknown or expired", "")
				return
			}
			s.writeError(w, r, err)
			return
		}
		if info, ok := r.Context().Value(logInfoKey{}).(*logInfo); ok {
			info.user = u.ID
		}
		next(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", contentTypeYAML)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDoc)
}

// tokenRequest is the body of POST /api/v1/auth/token.
type tokenRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// tokenResponse is the answer of POST /api/v1/auth/token.
type tokenResponse struct {
	Token     string    `json:"token"`
	TokenType string    `json:"token_type"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	if !s.checkJSONBody(w, r) {
		return
	}
	var req tokenRequest
	if err := decodeStrict(http.MaxBytesReader(w, r.Body, MaxBodyBytes), &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case req.Username == "":
		s.writeError(w, r, &conf.ValidationError{Field: "username", Message: "is required"})
		return
	case req.Password == "":
		s.writeError(w, r, &conf.ValidationError{Field: "password", Message: "is required"})
		return
	}
	token, exp, err := s.svc.IssueToken(r.Context(), req.Username, req.Password)
	if err != nil {
		if errors.Is(err, conf.ErrUnauthorized) {
			s.log.InfoContext(r.Context(), "login refused", "user", req.Username, "remote", r.RemoteAddr)
			writeErrorCode(w, http.StatusUnauthorized, "unauthorized", "wrong user name or password", "")
			return
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{Token: token, TokenType: bearerScheme, ExpiresAt: exp})
}

// conferenceList is the answer of GET /api/v1/conferences.
type conferenceList struct {
	Conferences []conf.Conference `json:"conferences"`
}

// participantList is the answer of GET /api/v1/conferences/{id}/participants:
// each participant with his live state (rights, hand, podium, presenter).
type participantList struct {
	Participants []conf.LiveParticipant `json:"participants"`
}

// runningAnswer is the 409 answer of POST /api/v1/conferences to an owner
// whose conference is running with participants: the error shape plus
// that conference, which his client joins instead.
type runningAnswer struct {
	errorBody
	ConferenceID string          `json:"conference_id"`
	Conference   conf.Conference `json:"conference"`
}

func (s *Server) listConferences(w http.ResponseWriter, r *http.Request) {
	cs, err := s.svc.ListConferencesAs(r.Context(), actor(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, conferenceList{Conferences: cs})
}

func (s *Server) createConference(w http.ResponseWriter, r *http.Request) {
	if !s.checkJSONBody(w, r) {
		return
	}
	c, err := conf.DecodeConference(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err = s.svc.CreateConferenceAs(r.Context(), actor(r), c)
	var running *conf.RunningConferenceError
	if errors.As(err, &running) {
		w.Header().Set("Location", apiPrefix+"/conferences/"+running.Conference.ID)
		writeJSON(w, http.StatusConflict, runningAnswer{
			errorBody: errorBody{Error: "conference_running", Message: "your conference " + running.Conference.ID +
				" is running with participants; join it instead of creating another"},
			ConferenceID: running.Conference.ID,
			Conference:   running.Conference,
		})
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", apiPrefix+"/conferences/"+c.ID)
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) getConference(w http.ResponseWriter, r *http.Request) {
	c, err := s.svc.GetConferenceAs(r.Context(), actor(r), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) updateConference(w http.ResponseWriter, r *http.Request) {
	if !s.checkJSONBody(w, r) {
		return
	}
	id := r.PathValue("id")
	c, err := conf.DecodeConference(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if c.ID != "" && c.ID != id {
		s.writeError(w, r, &conf.ValidationError{Field: "id", Message: "differs from the ID in the path; IDs cannot be changed"})
		return
	}
	if !conf.ValidConferenceID(id) {
		s.writeError(w, r, fmt.Errorf("conference %q: %w", id, conf.ErrNotFound))
		return
	}
	c.ID = id
	c, err = s.svc.UpdateConferenceAs(r.Context(), actor(r), c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) deleteConference(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.DeleteConferenceAs(r.Context(), actor(r), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listParticipants(w http.ResponseWriter, r *http.Request) {
	ps, err := s.svc.LiveParticipantsAs(r.Context(), actor(r), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, participantList{Participants: ps})
}

// checkJSONBody answers 415 unless the request says its body is JSON (or
// says nothing, which curl users often do).
func (s *Server) checkJSONBody(w http.ResponseWriter, r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == contentTypeJSON || strings.HasSuffix(mt, "+json")) {
		return true
	}
	writeErrorCode(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
		"the request body must be "+contentTypeJSON, "")
	return false
}

// decodeStrict decodes exactly one JSON object into v, refusing unknown
// fields; errors are conf's, so writeError maps them like conference ones.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &typ) && typ.Field != "":
			return &conf.ValidationError{Field: typ.Field, Message: "must be " + typ.Type.Kind().String() + ", not " + typ.Value}
		case errors.As(err, &typ), errors.As(err, &syn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("%w: %v", conf.ErrInvalidJSON, err)
		}
		if name, ok := strings.CutPrefix(err.Error(), `json: unknown field "`); ok {
			if name = strings.TrimSuffix(name, `"`); name == "" {
				return fmt.Errorf("%w: a field with an empty name", conf.ErrInvalidJSON)
			}
			return &conf.ValidationError{Field: name, Message: "unknown field"}
		}
		return fmt.Errorf("reading request body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("reading request body: %w", err)
		}
		return fmt.Errorf("%w: unexpected data after the JSON object", conf.ErrInvalidJSON)
	}
	return nil
}

// errorBody is the JSON error shape of DESIGN.md.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// writeError maps err to a status and error code. Errors that are not the
// client's fault are logged and answered without internals.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ve *conf.ValidationError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeErrorCode(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("the request body is larger than %d bytes", mbe.Limit), "")
	case errors.As(err, &ve):
		writeErrorCode(w, http.StatusBadRequest, "validation_failed", ve.Field+" "+ve.Message, ve.Field)
	case errors.Is(err, conf.ErrInvalidJSON):
		writeErrorCode(w, http.StatusBadRequest, "invalid_json", strings.TrimPrefix(err.Error(), "conf: "), "")
	case errors.Is(err, conf.ErrNotFound):
		writeErrorCode(w, http.StatusNotFound, "not_found", "no such resource: "+r.URL.Path, "")
	case errors.Is(err, conf.ErrRemoved):
		writeErrorCode(w, http.StatusForbidden, "removed", "removed by a moderator; only a new invitation lets back in", "")
	case errors.Is(err, conf.ErrForbidden):
		writeErrorCode(w, http.StatusForbidden, "forbidden", forbiddenMessage(err), "")
	case errors.Is(err, conf.ErrConflict):
		writeErrorCode(w, http.StatusConflict, "conflict", strings.TrimPrefix(err.Error(), "conf: "), "")
	case errors.Is(err, conf.ErrNotSupported):
		writeErrorCode(w, http.StatusNotImplemented, "not_supported", strings.TrimPrefix(err.Error(), "conf: "), "")
	case errors.Is(err, conf.ErrExists):
		writeErrorCode(w, http.StatusConflict, "exists", "a resource with this ID already exists", "id")
	case errors.Is(err, conf.ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", wwwAuthenticateVal)
		writeErrorCode(w, http.StatusUnauthorized, "unauthorized", "authentication required", "")
	case errors.Is(err, conf.ErrNotStarted):
		writeErrorCode(w, http.StatusConflict, "not_started", "the scheduled conference has not started", "")
	case errors.Is(err, conf.ErrLocked):
		writeErrorCode(w, http.StatusConflict, "locked", "the conference is locked", "")
	case errors.Is(err, conf.ErrFull):
		writeErrorCode(w, http.StatusConflict, "full", "the conference is full", "")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		s.log.DebugContext(r.Context(), "request cancelled", "path", r.URL.Path)
		writeErrorCode(w, http.StatusServiceUnavailable, "cancelled", "the request was cancelled", "")
	default:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeErrorCode(w, http.StatusInternalServerError, "internal", "internal server error", "")
	}
}

// forbiddenMessage says which right was missing: conf's errors name the
// action and the resource, never secrets.
func forbiddenMessage(err error) string {
	msg := strings.TrimSuffix(err.Error(), ": "+conf.ErrForbidden.Error())
	return "you may not do this: " + msg
}

// actor is the authenticated user of a request behind requireToken.
func actor(r *http.Request) conf.User {
	u, _ := UserFrom(r.Context())
	return u
}

func writeErrorCode(w http.ResponseWriter, status int, code, message, field string) {
	writeJSON(w, status, errorBody{Error: code, Message: message, Field: field})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own types are encoded; this is a programming error.
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal","message":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
