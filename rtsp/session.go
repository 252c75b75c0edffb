package rtsp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/conf"
)

// DefaultPort is the RTSP port of a call string without one (RFC 2326 §3.2).
const DefaultPort = 554

// defaultSessionTimeout is the session timeout of a camera whose Session
// header names none (RFC 2326 §12.37).
const defaultSessionTimeout = 60 * time.Second

// session is one playing RTSP session: DESCRIBE, SETUP and PLAY done,
// packets flowing to the handlers.
type session interface {
	// tracks is what the session plays.
	tracks() Tracks
	// transport is the transport in use now ("UDP" or "TCP"); automatic
	// fall-back can change it after PLAY.
	transport() string
	// wait blocks until the session ends and says why.
	wait() error
	// close ends the session (TEARDOWN) and waits for its goroutines, so
	// that no handler runs after it returns. Idempotent.
	close()
	// requestKeyframe asks the camera for an IDR picture with RTCP PLI
	// (RFC 4585 §6.3.1); many cameras ignore it and send one per GOP.
	requestKeyframe()
}

// handlers receive a session's packets; they run on the session's reader
// goroutines and must not block.
type handlers struct {
	// setup learns the tracks after SETUP, before PLAY: no packet of the
	// session has come yet.
	setup func(Tracks)
	video func(*rtp.Packet)
	audio func(*rtp.Packet)
	lost  func(uint64)
}

// connector opens sessions; the real one is gortsplib's client, tests of
// the reconnection logic use fakes.
type connector interface {
	connect(ctx context.Context, h handlers) (session, error)
}

// targetURL turns a parsed rtsp call string into the URL to pull, with
// the credentials as userinfo so that the client can answer Basic and
// Digest challenges (RFC 2617) with them.
func targetURL(t conf.Target) (*base.URL, error) {
	if t.Scheme != conf.SchemeRTSP || t.Host == "" {
		return nil, fmt.Errorf("pulling %q: not an rtsp address with a host: %w", t.Display, ErrBadTarget)
	}
	port := t.Port
	if port == 0 {
		port = DefaultPort
	}
	path := t.Path
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	u, err := base.ParseURL("rtsp://" + net.JoinHostPort(t.Host, strconv.Itoa(port)) + path)
	if err != nil {
		return nil, fmt.Errorf("pulling %q: %w: %w", t.Display, ErrBadTarget, err)
	}
	switch {
	case t.User != "" && t.HasPassword:
		u.User = url.UserPassword(t.User, t.Password)
	case t.User != "":
		u.User = url.User(t.User)
	}
	return u, nil
}

// clientConnector pulls with gortsplib's client.
type clientConnector struct {
	url *base.URL
	cfg Config
	log *slog.Logger
}

func (c *clientConnector) connect(ctx context.Context, h handlers) (session, error) {
	cctx, cancel := context.WithTimeoutCause(ctx, c.cfg.ConnectTimeout, ErrConnectTimeout)
	defer cancel()
	s := &clientSession{log: c.log}
	cl := &gortsplib.Client{
		Scheme:      c.url.Scheme,
		Host:        c.url.Host,
		ReadTimeout: c.cfg.ReadTimeout,
		UserAgent:   "Roomgate",
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: nc, n: &s.readBytes}, nil
		},
		OnResponse: func(res *base.Response) {
			s.respBytes.Store(s.readBytes.Load())
			// gortsplib sends keep-alives at the session timeout
			// minus 5 s; we keep the value to show and log it.
			if v, ok := res.Header["Session"]; ok {
				var sx headers.Session
				if sx.Unmarshal(v) == nil && sx.Timeout != nil {
					s.timeout.Store(int64(*sx.Timeout))
				}
			}
		},
		OnTransportSwitch: func(err error) {
			c.log.Info("camera transport switched", "why", err)
		},
		OnPacketsLost: h.lost,
		OnDecodeError: func(err error) {
			c.log.Debug("camera packet not decodable", "err", err)
		},
	}
	switch c.cfg.Transport {
	case TransportUDP:
		p := gortsplib.ProtocolUDP
		cl.Protocol = &p
	case TransportTCP:
		p := gortsplib.ProtocolTCP
		cl.Protocol = &p
	}
	if err := cl.Start(); err != nil {
		return nil, fmt.Errorf("starting RTSP client: %w", err)
	}
	s.cl = cl
	stop := context.AfterFunc(cctx, cl.Close)
	err := s.play(c.url, h)
	if !stop() {
		// The deadline or the caller ended the attempt; the client is
		// closing, whatever the steps returned.
		cl.Close()
		cause := context.Cause(cctx)
		if errors.Is(cause, ErrConnectTimeout) {
			return nil, fmt.Errorf("pulling %s: no answer within %v: %w", redact(c.url), c.cfg.ConnectTimeout, ErrConnectTimeout)
		}
		return nil, fmt.Errorf("pulling %s: %w", redact(c.url), cause)
	}
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("pulling %s: %w", redact(c.url), err)
	}
	return s, nil
}

// clientSession is a playing gortsplib client.
type clientSession struct {
	cl      *gortsplib.Client
	log     *slog.Logger
	sel     selection
	timeout atomic.Int64 // seconds, from the Session header
	ssrc    atomic.Uint32
	haveSSR atomic.Bool
	// readBytes counts bytes read from the RTSP connection; respBytes is
	// its value at the last answer parsed. A request that times out with
	// bytes read since then got something that is not RTSP.
	readBytes atomic.Uint64
	respBytes atomic.Uint64
}

// countingConn counts the bytes read from the camera's connection.
type countingConn struct {
	net.Conn
	n *atomic.Uint64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(uint64(n))
	return n, err
}

// garbage turns a request timeout into ErrProtocol when the camera did
// send something, just nothing the client could read as an answer.
func (s *clientSession) garbage(err error) error {
	if errors.Is(err, ErrConnectTimeout) {
		if n := s.readBytes.Load() - s.respBytes.Load(); n > 0 {
			return fmt.Errorf("camera sent %d bytes that are not an RTSP answer: %w: %w", n, ErrProtocol, err)
		}
	}
	return err
}

// play runs DESCRIBE, SETUP for the chosen streams and PLAY.
func (s *clientSession) play(u *base.URL, h handlers) error {
	desc, _, err := s.cl.Describe(u)
	if err != nil {
		return s.garbage(classify("DESCRIBE", err, false))
	}
	s.sel, err = selectTracks(desc)
	if err != nil {
		return err
	}
	if s.sel.tracks.AudioNote != "" {
		s.log.Warn("camera joins without audio", "why", s.sel.tracks.AudioNote, "offered", s.sel.tracks.Offered)
	}
	for _, m := range []*description.Media{s.sel.videoMedia, s.sel.audioMedia} {
		if m == nil {
			continue
		}
		if _, err := s.cl.Setup(desc.BaseURL, m, 0, 0); err != nil {
			return s.garbage(classify("SETUP", err, false))
		}
	}
	if m := s.sel.videoMedia; m != nil {
		s.cl.OnPacketRTP(m, s.sel.videoForma, func(pkt *rtp.Packet) {
			if !s.haveSSR.Load() {
				s.ssrc.Store(pkt.SSRC)
				s.haveSSR.Store(true)
			}
			h.video(pkt)
		})
	}
	if m := s.sel.audioMedia; m != nil {
		s.cl.OnPacketRTP(m, s.sel.audioForma, h.audio)
	}
	h.setup(s.sel.tracks)
	if _, err := s.cl.Play(nil); err != nil {
		return s.garbage(classify("PLAY", err, false))
	}
	return nil
}

func (s *clientSession) tracks() Tracks {
	t := s.sel.tracks
	t.Transport = s.transport()
	t.SessionTimeout = defaultSessionTimeout
	if n := s.timeout.Load(); n > 0 {
		t.SessionTimeout = time.Duration(n) * time.Second
	}
	return t
}

func (s *clientSession) transport() string {
	if tr := s.cl.Transport(); tr != nil && tr.Session != nil {
		return tr.Session.Protocol.String()
	}
	return ""
}

func (s *clientSession) wait() error {
	return classify("", s.cl.Wait(), true)
}

func (s *clientSession) close() { s.cl.Close() }

func (s *clientSession) requestKeyframe() {
	if s.sel.videoMedia == nil || !s.haveSSR.Load() {
		return
	}
	pli := &rtcp.PictureLossIndication{MediaSSRC: s.ssrc.Load()}
	if err := s.cl.WritePacketRTCP(s.sel.videoMedia, pli); err != nil {
		s.log.Debug("keyframe request not sent", "err", err)
	}
}

// classify wraps a gortsplib error in our sentinels: the camera's error
// statuses become a *StatusError; a request that got no answer is
// ErrConnectTimeout; a failed TCP connect is ErrUnreachable; a connection
// closed or silent while playing is ErrStreamLost; anything else the
// camera did is ErrProtocol.
func classify(method string, err error, playing bool) error {
	if err == nil {
		return nil
	}
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		return &StatusError{Method: method, Code: int(bad.Code), Reason: bad.Message}
	}
	step := "playing"
	if method != "" {
		step = method
	}
	var (
		reqTimeout liberrors.ErrClientRequestTimedOut
		tcpTimeout liberrors.ErrClientTCPTimeout
		udpTimeout liberrors.ErrClientUDPTimeout
		terminated liberrors.ErrClientTerminated
		opErr      *net.OpError
		netErr     net.Error
	)
	switch {
	case errors.As(err, &terminated):
		return fmt.Errorf("%s: %w", step, ErrClosed)
	case errors.As(err, &tcpTimeout), errors.As(err, &udpTimeout):
		return fmt.Errorf("%s: no packets: %w: %w", step, ErrStreamLost, err)
	case errors.As(err, &reqTimeout):
		if playing {
			return fmt.Errorf("%s: %w: %w", step, ErrStreamLost, err)
		}
		return fmt.Errorf("%s: %w: %w", step, ErrConnectTimeout, err)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		if opErr.Timeout() {
			return fmt.Errorf("%s: %w: %w", step, ErrConnectTimeout, err)
		}
		return fmt.Errorf("%s: %w: %w", step, ErrUnreachable, err)
	case playing:
		return fmt.Errorf("%s: %w: %w", step, ErrStreamLost, err)
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("%s: %w: %w", step, ErrConnectTimeout, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("%s: camera closed the connection: %w: %w", step, ErrProtocol, err)
	}
	return fmt.Errorf("%s: %w: %w", step, ErrProtocol, err)
}

// redact is u without its password, for logs and errors.
func redact(u *base.URL) string {
	return (*url.URL)(u).Redacted()
}
