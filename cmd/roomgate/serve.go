package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/roomgate/roomgate/bridge/prompt"
	"github.com/roomgate/roomgate/h323/ras"
	"github.com/roomgate/roomgate/internal/callleg"
	"github.com/roomgate/roomgate/internal/cameramedia"
	"github.com/roomgate/roomgate/mail"
	"github.com/roomgate/roomgate/rtsp"
	"io"
	"log/slog"
	"net"
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
	store  conf.Store
	svc    *conf.Service
	bridge *bridge.Bridge
	sip    *sip.Server
	h323   *call.Server
	gk     *ras.Client // nil without h323.gatekeeper
	rtsp   *rtsp.Dialer
	gkDone chan struct{} // closed when keepGatekeeperAliases returned
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

	s.store, err = openStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	prompts, err := prompt.New(prompt.Config{Dir: cfg.IVR.PromptsDir, Logger: log})
	if err != nil {
		return nil, &config.KeyError{Key: "ivr.prompts_dir", Value: cfg.IVR.PromptsDir,
			Accepted: "a directory of 16-bit mono PCM <prompt>.wav files at 8, 16 or 48 kHz (" + err.Error() + ")"}
	}
	if _, err := conf.ParseKeyMap(cfg.DTMF.KeyMap); cfg.DTMF.KeyMap != "" && err != nil {
		return nil, &config.KeyError{Key: "dtmf.key_map", Value: cfg.DTMF.KeyMap, Accepted: err.Error()}
	}
	s.bridge, err = bridge.New(bridge.Config{
		BindAddr:     netip.MustParseAddr(cfg.RTP.Bind),
		PortMin:      cfg.RTP.PortMin,
		PortMax:      cfg.RTP.PortMax,
		MediaTimeout: cfg.RTP.Timeout,
		MaxTalkers:   cfg.Audio.MaxTalkers,
		Logger:       log,
		Registerer:   reg,
		Prompts:      prompts,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the media bridge: %w", err)
	}

	opts := []conf.Option{
		conf.WithRegisterer(reg),
		conf.WithAnnouncer(s.bridge),
		conf.WithIVR(conf.IVRConfig{
			LobbyNumbers: cfg.IVR.LobbyNumbers,
			DigitTimeout: cfg.IVR.DigitTimeout,
			EntryTimeout: cfg.IVR.EntryTimeout,
			Attempts:     cfg.IVR.Attempts,
			PINFailures:  cfg.Security.PINFailures,
			PINWindow:    cfg.Security.PINWindow,
			PINCooldown:  cfg.Security.PINCooldown,
			KeyMap:       cfg.DTMF.KeyMap,
		}),
	}
	if cfg.SMTP.Host != "" {
		m, err := mail.New(mail.Config{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username,
			Password: cfg.SMTP.Password, From: cfg.SMTP.From, TLS: cfg.SMTP.TLS, Timeout: cfg.SMTP.Timeout,
			PublicURL: publicURL(cfg), Logger: log, Registerer: reg})
		if err != nil {
			return nil, &config.KeyError{Key: "smtp.host", Value: cfg.SMTP.Host, Accepted: "a usable SMTP server setting (" + err.Error() + ")"}
		}
		opts = append(opts, conf.WithMailer(m))
	}
	opts = append(opts, conf.WithSIPRealm(cfg.SIP.Realm), conf.WithInviteRetries(cfg.Invite.Retries, cfg.Invite.RetryInterval))
	s.svc = conf.NewService(s.store, log, opts...)
	// Video switching: the hold time, and switches on the event stream.
	s.bridge.SetVideoConfig(bridge.VideoConfig{Hold: cfg.Video.SwitchHold, OnSwitch: s.svc.VideoSwitched})
	// Run hangs up live legs of conferences deleted behind the server's
	// back (by the CLI on the same store) until the server stops.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	s.stopRun = stopRun
	s.runDone = make(chan struct{})
	go func() {
		defer close(s.runDone)
		videoDone := make(chan struct{})
		go func() { defer close(videoDone); s.svc.RunVideo(runCtx) }() // presenter pins, camera mutes
		s.svc.Run(runCtx, 0)
		<-videoDone
	}()
	generated, err := s.svc.EnsureAdmin(ctx, cfg.AdminPassword)
	if err != nil {
		return nil, fmt.Errorf("creating the admin account: %w", err)
	}
	if generated != "" {
		// Printed once, on the first start only: the hash is all that is kept.
		log.Warn("created API account admin with a generated password; it is shown only this once", "username", "admin", "password", generated)
	}

	videoFormat, err := sip.VideoFormatFor(cfg.Video.MaxWidth, cfg.Video.MaxHeight, cfg.Video.MaxFPS, cfg.Video.MaxBitrateKbps)
	if err != nil {
		return nil, &config.KeyError{Key: "video.max_width", Value: fmt.Sprintf("%dx%d at %d fps", cfg.Video.MaxWidth, cfg.Video.MaxHeight, cfg.Video.MaxFPS),
			Accepted: "a picture size and frame rate within H.264 level 5.2 (" + err.Error() + ")"}
	}
	cfgTrunks, err := cfg.SIP.ParseTrunks() // checked by Validate already
	if err != nil {
		return nil, err
	}
	trunks := make([]sip.Trunk, len(cfgTrunks))
	for i, t := range cfgTrunks {
		trunks[i] = sip.Trunk{Name: fmt.Sprintf("trunk-%d", i+1), Host: t.Host, Port: t.Port, Username: t.Username, Password: t.Password}
	}
	s.sip, err = sip.NewServer(sip.Config{
		Listen:           cfg.SIP.Listen,
		PublicAddress:    cfg.SIP.PublicAddress,
		Codecs:           cfg.Audio.Codecs,
		SessionExpires:   cfg.SIP.SessionExpires,
		MinSE:            cfg.SIP.MinSE,
		AnswerDelay:      cfg.SIP.AnswerDelay,
		UserAgent:        cfg.SIP.UserAgent,
		RingTimeout:      cfg.SIP.RingTimeout,
		OutboundProxy:    cfg.SIP.OutboundProxy,
		NoTelephoneEvent: !cfg.DTMF.TelephoneEvent,
		VideoEnabled:     cfg.Video.Enabled,
		Video:            videoFormat,
	}, sip.BridgeMedia(s.bridge), sip.ConfService(s.svc), log, reg)
	if err != nil {
		return nil, fmt.Errorf("configuring SIP: %w", err)
	}
	registrar, err := sip.NewRegistrar(sip.RegistrarConfig{Realm: cfg.SIP.Realm}, s.svc, log, reg)
	if err != nil {
		return nil, fmt.Errorf("configuring the SIP registrar: %w", err)
	}
	s.sip.SetRegistrar(registrar)
	if err := s.sip.Start(ctx); err != nil {
		s.sip = nil
		return nil, fmt.Errorf("starting SIP on %s: %w", cfg.SIP.Listen, err)
	}

	// Invitations by call string dial out over SIP.
	s.svc.RegisterDialer(s.sip.Dialer())

	if cfg.H323.Gatekeeper != "" {
		s.gk, err = ras.New(ras.Config{Gatekeeper: cfg.H323.Gatekeeper, GatekeeperID: cfg.H323.GatekeeperID,
			Alias: cfg.H323.Alias, TimeToLive: cfg.H323.TimeToLive, Registerer: reg}, log)
		if err != nil {
			return nil, &config.KeyError{Key: "h323.gatekeeper", Value: cfg.H323.Gatekeeper, Accepted: "host[:port] of a gatekeeper (" + err.Error() + ")"}
		}
	}
	h323cfg := call.Config{Listen: cfg.H323.Listen, Codecs: cfg.Audio.Codecs, Alias: cfg.H323.Alias, RingTimeout: cfg.SIP.RingTimeout,
		Video: call.VideoFormat{Disabled: !cfg.Video.Enabled, MaxWidth: cfg.Video.MaxWidth, MaxHeight: cfg.Video.MaxHeight,
			MaxFPS: cfg.Video.MaxFPS, MaxBitrateKbps: cfg.Video.MaxBitrateKbps},
		NoFastStart: !cfg.H323.FastStart, RefuseFastStart: !cfg.H323.FastStart, NoTunnelling: !cfg.H323.Tunnelling}
	if s.gk != nil {
		h323cfg.Gatekeeper = s.gk
	}
	s.h323, err = call.NewServer(h323cfg, call.BridgeMedia(s.bridge), call.ConfService(s.svc), log, reg)
	if err != nil {
		return nil, fmt.Errorf("configuring H.323: %w", err)
	}
	if err := s.h323.Start(ctx); err != nil {
		s.h323 = nil
		return nil, fmt.Errorf("starting H.323 on %s: %w", cfg.H323.Listen, err)
	}
	s.svc.RegisterDialer(s.h323.Dialer())
	if s.gk != nil {
		if err := s.gk.SetCallSignal(s.h323.Addr()); err != nil {
			return nil, fmt.Errorf("registering with the gatekeeper: %w", err)
		}
		s.registerConferences(ctx)
		if err := s.gk.Start(ctx); err != nil {
			return nil, fmt.Errorf("registering with the gatekeeper %s: %w", cfg.H323.Gatekeeper, err)
		}
		s.gkDone = make(chan struct{})
		go s.keepGatekeeperAliases(runCtx)
	}

	// IP cameras: rtsp:// invitations pull them into the conference.
	s.rtsp, err = rtsp.NewDialer(callleg.ConfService(s.svc), cameramedia.New(s.bridge, log), rtsp.Config{
		Transport: cfg.RTSP.Transport, ConnectTimeout: cfg.RTSP.ConnectTimeout, ReadTimeout: cfg.RTSP.ReadTimeout,
		Retries: cfg.RTSP.Retries, Reconnects: cfg.RTSP.Reconnects,
		Backoff: rtsp.Backoff{Initial: cfg.RTSP.BackoffInitial, Max: cfg.RTSP.BackoffMax},
	}, log)
	if err != nil {
		return nil, fmt.Errorf("configuring RTSP: %w", err)
	}
	s.svc.RegisterDialer(s.rtsp)

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
	if s.rtsp != nil {
		s.rtsp.Close(conf.ErrDialingStopped) // cameras stop pulling
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
	if s.gk != nil {
		if err := s.gk.Close(); err != nil { // DRQs in flight, then URQ
			s.log.Warn("unregistering from the gatekeeper", "err", err)
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
		if s.gkDone != nil {
			<-s.gkDone
		}
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

// publicURL is the base of links in e-mails: http.public_url, or the HTTP
// listener with this host's name when it listens on every address.
func publicURL(cfg *config.Config) string {
	if cfg.HTTP.PublicURL != "" {
		return cfg.HTTP.PublicURL
	}
	host, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		return ""
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "localhost"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// registerConferences tells the gatekeeper every conference ID, so that
// endpoints can dial a conference by its number through it.
func (s *server) registerConferences(ctx context.Context) {
	cs, err := s.svc.ListConferences(ctx)
	if err != nil {
		s.log.Warn("listing conferences for the gatekeeper", "err", err)
		return
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	s.gk.SetAliases(ids)
}

// keepGatekeeperAliases re-registers the conference IDs when conferences
// are created or deleted, and every minute for those the CLI changed in the
// store behind the server's back.
func (s *server) keepGatekeeperAliases(ctx context.Context) {
	defer close(s.gkDone)
	sub := s.svc.Subscribe()
	defer sub.Close()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.C():
			if !ok {
				return
			}
			if ev.Type != conf.EventCreated && ev.Type != conf.EventDeleted {
				continue
			}
		case <-t.C:
		}
		s.registerConferences(ctx)
	}
}
