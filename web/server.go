// Package web serves Roomgate's HTTP side: the REST API under /api/v1
// (JSON, snake_case, bearer tokens), its OpenAPI document, Prometheus
// metrics on /metrics and a liveness probe on /healthz. It is a thin layer
// over conf.Service: it decodes and encodes, maps domain errors to HTTP
// statuses and the JSON error shape {"error","message","field"}, and
// holds no rules of its own: every action passes the authenticated user
// to conf, which decides (403 when he may not). Besides conferences it
// serves the address book (users, groups), templates, layouts, live
// moderation (remove, mute, mute all, lock, stop, run, extend, invite),
// the podium of role-based and asymmetric conferences (hands, seats,
// presenter), leaving or ending for all, and a server-sent event stream
// of what happens in conferences.
//
// Routing uses the standard library's method and wildcard patterns; every
// path also has a method-less fallback so that a wrong method gets a JSON
// 405 with an Allow header instead of the mux's plain-text answer.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/roomgate/roomgate/conf"
)

// Limits and timeouts of the HTTP server.
const (
	// MaxBodyBytes is the largest request body accepted (413 above it).
	MaxBodyBytes = 1 << 20
	// shutdownOnCancel bounds the graceful shutdown that follows the
	// cancellation of Start's context.
	shutdownOnCancel   = 5 * time.Second
	readHeaderTimeout  = 10 * time.Second
	readTimeout        = 60 * time.Second
	idleTimeout        = 120 * time.Second
	maxHeaderBytes     = 64 << 10
	apiPrefix          = "/api/v1"
	bearerScheme       = "Bearer"
	contentTypeJSON    = "application/json"
	contentTypeYAML    = "application/yaml"
	defaultListenAddr  = ":8080"
	wwwAuthenticateVal = `Bearer realm="roomgate"`
)

// Config configures the HTTP server.
type Config struct {
	// Listen is the host:port to bind; port 0 picks a free port (Addr
	// tells which). Empty means ":8080".
	Listen string
}

// Server is the HTTP server. Build it with NewServer, then Start and
// Shutdown it; Handler serves the same routes without a listener (tests).
type Server struct {
	cfg     Config
	svc     *conf.Service
	metrics http.Handler
	log     *slog.Logger
	handler http.Handler
	// quit is closed when the server shuts down, to end event streams,
	// which would otherwise hold Shutdown until its deadline.
	quit     chan struct{}
	quitOnce sync.Once

	mu      sync.Mutex
	srv     *http.Server
	addr    netip.AddrPort
	served  chan struct{} // closed when Serve returned
	stop    chan struct{} // closed by Shutdown to end the context watcher
	watched chan struct{} // closed when the context watcher returned
}

// NewServer returns a server of the REST API over svc. metrics, when not
// nil, is served on /metrics without authentication.
func NewServer(cfg Config, svc *conf.Service, metrics http.Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, svc: svc, metrics: metrics, log: log, quit: make(chan struct{})}
	s.handler = s.routes()
	return s
}

// Handler returns the server's routes with their middleware.
func (s *Server) Handler() http.Handler { return s.handler }

// Start binds the listen address and serves in the background until
// Shutdown is called or ctx is cancelled (which shuts down gracefully).
// Requests' contexts derive from ctx.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return ErrStarted
	}
	listen := s.cfg.Listen
	if listen == "" {
		listen = defaultListenAddr
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return fmt.Errorf("%w %q: %v", ErrBadListen, listen, err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return fmt.Errorf("http listen on %s: %w", listen, err)
	}
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		_ = ln.Close()
		return fmt.Errorf("http listen on %s: unexpected address type %T", listen, ln.Addr())
	}
	ap := tcp.AddrPort()
	s.addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.srv.RegisterOnShutdown(s.closeStreams)
	s.served, s.stop, s.watched = make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv, served, stop, watched := s.srv, s.served, s.stop, s.watched
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	go func() {
		defer close(watched)
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownOnCancel)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				s.log.Warn("http shutdown", "err", err)
			}
		case <-stop:
		}
	}()
	s.log.InfoContext(ctx, "http listening", "addr", s.addr.String())
	return nil
}

// closeStreams ends the event streams; it is idempotent.
func (s *Server) closeStreams() { s.quitOnce.Do(func() { close(s.quit) }) }

// Addr is the bound address (valid after Start).
func (s *Server) Addr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Shutdown stops accepting requests, waits for those in flight until ctx
// ends, and waits for the server's goroutines. It is safe to call more
// than once and before Start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, served, stop, watched := s.srv, s.served, s.stop, s.watched
	if srv != nil && stop != nil {
		select {
		case <-stop:
		default:
			close(stop)
		}
	}
	s.mu.Unlock()
	s.closeStreams()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		// Requests still running past the deadline are cut off.
		_ = srv.Close()
	}
	<-watched
	select {
	case <-served:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}
