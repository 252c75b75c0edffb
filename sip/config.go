package sip

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/roomgate/roomgate/bridge/codec"
)

// RFC 4028 defaults.
const (
	// DefaultSessionExpires is the session interval we ask for (RFC 4028 §4 recommends 1800 s).
	DefaultSessionExpires = 1800 * time.Second
	// DefaultMinSE is the smallest session interval we accept (RFC 4028 §4: 90 s).
	DefaultMinSE = 90 * time.Second
)

// DefaultCodecs is the codec preference used when Config.Codecs is empty:
// wideband first, G.711 as the common ground of every SIP device.
var defaultCodecs = []string{"opus", "G722", "PCMU", "PCMA"}

// Config configures a Server.
type Config struct {
	// Listen is host:port for both UDP and TCP. Port 0 picks a free port:
	// UDP is bound first and TCP then takes the same port number.
	Listen string
	// PublicAddress is the host or IP put into Contact and SDP c= lines
	// (for NAT). Empty means the address we listen on, or, when listening
	// on an unspecified address, the local address facing the caller.
	PublicAddress string
	// Codecs lists the audio codecs we accept, in our order of preference
	// ("opus", "G722", "PCMU", "PCMA"). Empty means all of them.
	Codecs []string
	// SessionExpires is the RFC 4028 session interval we ask for (default 1800 s).
	SessionExpires time.Duration
	// MinSE is the smallest session interval we accept (default 90 s).
	MinSE time.Duration
	// AnswerDelay is how long a call rings (180 Ringing) before it is
	// answered; 0 answers at once.
	AnswerDelay time.Duration
	// UserAgent is sent in User-Agent and Server headers.
	UserAgent string
	// OnDigit, when set, receives every DTMF key press of a call, once,
	// whether it came as an RFC 4733 event or a SIP INFO (or both). It is
	// called on the goroutine that received the digit (the call's media leg
	// or its SIP request handler) and must not block: hand the digit to a
	// channel or a goroutine of your own.
	OnDigit func(DigitEvent)
	// NoTelephoneEvent leaves RFC 4733 telephone-event out of our offers
	// and answers (dtmf.telephone_event: false): callers then send DTMF
	// in-band, which the bridge detects, or by INFO.
	NoTelephoneEvent bool

	// Video (call_video.go).

	// VideoEnabled answers and offers an H.264 video m-line when the media
	// factory also makes video legs (callleg.VideoFactory); otherwise video
	// lines are rejected with port 0 and calls go on with audio.
	VideoEnabled bool
	// Video is the conference-wide video format every sender is asked for
	// and every receiver must decode; zero fields take DefaultVideoFormat's.
	Video VideoFormat

	// Dial-out (dialout.go).

	// Trunks hold digest credentials for the hosts we call: a 401/407 from
	// a host is answered with the trunk whose Host matches it.
	Trunks []Trunk
	// RingTimeout is how long an outgoing call may ring before we CANCEL
	// it (default 60 s).
	RingTimeout time.Duration
	// OutboundProxy is host:port where calls to a user without a host
	// (#sip:alice) go; empty refuses them.
	OutboundProxy string
}

// withDefaults fills zero values and checks the rest.
func (c Config) withDefaults() (Config, []codec.Info, error) {
	if c.Listen == "" {
		c.Listen = "0.0.0.0:5060"
	}
	if _, err := netip.ParseAddrPort(c.Listen); err != nil {
		return c, nil, fmt.Errorf("%w: listen address %q: want ip:port, e.g. 0.0.0.0:5060 or [::]:5060: %v", ErrConfig, c.Listen, err)
	}
	if c.SessionExpires == 0 {
		c.SessionExpires = DefaultSessionExpires
	}
	if c.MinSE == 0 {
		c.MinSE = DefaultMinSE
	}
	if c.MinSE < 90*time.Second {
		return c, nil, fmt.Errorf("%w: min SE %v is below the 90 s RFC 4028 allows", ErrConfig, c.MinSE)
	}
	if c.SessionExpires < c.MinSE {
		return c, nil, fmt.Errorf("%w: session expires %v is below min SE %v", ErrConfig, c.SessionExpires, c.MinSE)
	}
	if c.AnswerDelay < 0 {
		return c, nil, fmt.Errorf("%w: answer delay %v is negative", ErrConfig, c.AnswerDelay)
	}
	if c.RingTimeout < 0 {
		return c, nil, fmt.Errorf("%w: ring timeout %v is negative", ErrConfig, c.RingTimeout)
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = DefaultRingTimeout
	}
	if c.VideoEnabled {
		if _, err := c.Video.compile(); err != nil {
			return c, nil, fmt.Errorf("video format: %w", err)
		}
	}
	if err := checkTrunks(c.Trunks); err != nil {
		return c, nil, err
	}
	if c.UserAgent == "" {
		c.UserAgent = "Roomgate"
	}
	names := c.Codecs
	if len(names) == 0 {
		names = defaultCodecs
	}
	prefs := make([]codec.Info, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		info, err := codec.Lookup(n)
		if err != nil {
			return c, nil, fmt.Errorf("%w: codec %q: accepted are opus, G722, PCMU, PCMA: %v", ErrConfig, n, err)
		}
		if seen[info.Name] {
			continue
		}
		seen[info.Name] = true
		prefs = append(prefs, info)
	}
	return c, prefs, nil
}
