package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/config"
	"github.com/roomgate/roomgate/h323/call"
	"github.com/roomgate/roomgate/sip"
	"github.com/roomgate/roomgate/store"
	"github.com/roomgate/roomgate/web"
)

func serveCommand(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file (embedded defaults when omitted)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, newLogger(cfg.Log, stderr))
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the server until ctx is cancelled, then shuts it down.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	srv, err := startServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("roomgate stopping")
	srv.Close()
	return nil
}

// server is a running Roomgate: every component, for orderly shutdown and
// for tests that boot the whole server in-process.
type server struct {
	log    *slog.Logger
	store  *store.SQLite
	svc    *conf.Service
	bridge *bridge.Bridge
	sip    *sip.Server
	h323   *call.Server
	http   *web.Server

	stopRun context.CancelFunc
	runDone chan struct{}
}

// startServer opens the store, ensures the admin account and starts the
// bridge, SIP and HTTP. On error, what was started is stopped again.
func startServer(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *server, err error) {
	log.Info("roomgate starting", "version", version, "data_dir", cfg.DataDir)
	s := &server{log: log}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	s.store, err = store.OpenSQLite(ctx, cfg.DataDir, log)
	if err != nil {
		return nil, fmt.Errorf("opening the store in %s: %w", cfg.DataDir, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.svc = conf.NewService(s.store, log, conf.WithRegisterer(reg))
	// Run hangs up live legs of conferences deleted behind the server's
	// back (by the CLI on the same store) until the server stops.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	s.stopRun = stopRun
	s.runDone = make(chan struct{})
	go func() {
		defer close(s.runDone)
		s.svc.Run(runCtx, 0)
	}()
	generated, err := s.svc.EnsureAdmin(ctx, cfg.AdminPassword)
	if err != nil {
		return nil, fmt.Errorf("creating the admin account: %w", err)
	}
	if generated != "" {
		// Printed once, on the first start only: the hash is all that is kept.
		log.Warn("created API account admin with a generated password; it is shown only this once", "username", "admin", "password", generated)
	}

	s.bridge, err = bridge.New(bridge.Config{
		BindAddr:     netip.MustParseAddr(cfg.RTP.Bind),
		PortMin:      cfg.RTP.PortMin,
		PortMax:      cfg.RTP.PortMax,
		MediaTimeout: cfg.RTP.Timeout,
		MaxTalkers:   cfg.Audio.MaxTalkers,
		Logger:       log,
		Registerer:   reg,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the media bridge: %w", err)
	}

	s.sip, err = sip.NewServer(sip.Config{
		Listen:         cfg.SIP.Listen,
		PublicAddress:  cfg.SIP.PublicAddress,
		Codecs:         cfg.Audio.Codecs,
		SessionExpires: cfg.SIP.SessionExpires,
		MinSE:          cfg.SIP.MinSE,
		AnswerDelay:    cfg.SIP.AnswerDelay,
		UserAgent:      cfg.SIP.UserAgent,
		RingTimeout:    cfg.SIP.RingTimeout,
		OutboundProxy:  cfg.SIP.OutboundProxy,
	}, sip.BridgeMedia(s.bridge), sip.ConfService(s.svc), log, reg)
	if err != nil {
		return nil, fmt.Errorf("configuring SIP: %w", err)
	}
	if err := s.sip.Start(ctx); err != nil {
		s.sip = nil
		return nil, fmt.Errorf("starting SIP on %s: %w", cfg.SIP.Listen, err)
	}

	// Invitations by call string dial out over SIP.
	s.svc.RegisterDialer(s.sip.Dialer())

	s.h323, err = call.NewServer(call.Config{Listen: cfg.H323.Listen, Codecs: cfg.Audio.Codecs},
		call.BridgeMedia(s.bridge), call.ConfService(s.svc), log, reg)
	if err != nil {
		return nil, fmt.Errorf("configuring H.323: %w", err)
	}
	if err := s.h323.Start(ctx); err != nil {
		s.h323 = nil
		return nil, fmt.Errorf("starting H.323 on %s: %w", cfg.H323.Listen, err)
	}

	s.http = web.NewServer(web.Config{Listen: cfg.HTTP.Listen}, s.svc,
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}), log)
	if err := s.http.Start(ctx); err != nil {
		s.http = nil
		return nil, fmt.Errorf("starting HTTP on %s: %w", cfg.HTTP.Listen, err)
	}
	log.Info("roomgate ready", "sip", s.sip.Addr().String(), "h323", s.h323.Addr().String(), "http", s.http.Addr().String())
	return s, nil
}

// Close stops the server in the order that lets every call end cleanly: SIP
// first (BYE to every leg), then HTTP, the bridge and the store.
func (s *server) Close() {
	if s.svc != nil {
		s.svc.StopDialing() // no new outgoing calls while shutting down
	}
	if s.sip != nil {
		if err := s.sip.Close(); err != nil {
			s.log.Warn("closing SIP", "err", err)
		}
	}
	if s.h323 != nil {
		if err := s.h323.Close(); err != nil {
			s.log.Warn("closing H.323", "err", err)
		}
	}
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.http.Shutdown(ctx); err != nil {
			s.log.Warn("closing HTTP", "err", err)
		}
	}
	if s.stopRun != nil {
		s.stopRun()
		<-s.runDone
	}
	if s.svc != nil {
		// Writes the call records of the legs that just ended.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.svc.Close(ctx); err != nil {
			s.log.Warn("closing the conference service", "err", err)
		}
	}
	if s.bridge != nil {
		if err := s.bridge.Close(); err != nil {
			s.log.Warn("closing the bridge", "err", err)
		}
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.log.Warn("closing the store", "err", err)
		}
	}
}
