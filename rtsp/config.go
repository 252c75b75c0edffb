package rtsp

import (
	"fmt"
	"math"
	"time"
)

// Transports of Config.Transport.
const (
	// TransportAuto asks for RTP over UDP first and falls back to TCP
	// interleaved (RFC 2326 §10.12) when the camera refuses UDP (461) or
	// no UDP packet arrives within three seconds (a NAT or firewall eats
	// them).
	TransportAuto = "auto"
	// TransportUDP uses RTP over UDP only.
	TransportUDP = "udp"
	// TransportTCP uses TCP interleaved only: the choice for cameras
	// behind NAT or lossy links.
	TransportTCP = "tcp"
)

// Config is how cameras are pulled. The zero value is usable: Defaults
// fills what is left zero.
type Config struct {
	// Transport is TransportAuto (default), TransportUDP or TransportTCP.
	Transport string
	// ConnectTimeout bounds one connection attempt, from the TCP connect
	// to the answer to PLAY (default 10 s).
	ConnectTimeout time.Duration
	// ReadTimeout is how long a request may wait for its answer, and how
	// long a playing stream may stay silent before it counts as lost
	// (default 10 s).
	ReadTimeout time.Duration
	// Retries is how many more attempts the first connection gets after a
	// transient failure (timeout, unreachable, protocol error); wrong
	// credentials, an unknown path and no usable track fail at once
	// unless RetryPermanent is set. Default 0: the inviter learns at once.
	Retries int
	// RetryPermanent retries the first connection on 401, 404 and no
	// usable track too.
	RetryPermanent bool
	// Reconnects bounds the reconnection attempts after a playing stream
	// was lost: 0 (the default) retries for as long as the leg lives, n > 0
	// gives up after n failed attempts in a row, negative never
	// reconnects. A successful reconnection resets the count.
	// Wrong credentials stop reconnecting at once: retrying them can lock
	// the camera's account.
	Reconnects int
	// Backoff spaces the attempts.
	Backoff Backoff
}

// Backoff is a bounded, jittered exponential backoff: attempt n waits
// Initial·Multiplier^(n-1), at most Max, then moved by up to ±Jitter of
// itself so that cameras behind one switch that dropped together do not
// reconnect in lock-step.
type Backoff struct {
	Initial    time.Duration // default 500 ms
	Max        time.Duration // default 30 s
	Multiplier float64       // default 2
	Jitter     float64       // 0..1, default 0.2
}

// Defaults returns c with every zero field set to its default.
func (c Config) Defaults() Config {
	if c.Transport == "" {
		c.Transport = TransportAuto
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.Backoff.Initial == 0 {
		c.Backoff.Initial = 500 * time.Millisecond
	}
	if c.Backoff.Max == 0 {
		c.Backoff.Max = 30 * time.Second
	}
	if c.Backoff.Multiplier == 0 {
		c.Backoff.Multiplier = 2
	}
	if c.Backoff.Jitter == 0 {
		c.Backoff.Jitter = 0.2
	}
	return c
}

// Validate reports the first value out of range, naming its field.
func (c Config) Validate() error {
	switch c.Transport {
	case TransportAuto, TransportUDP, TransportTCP:
	default:
		return fmt.Errorf("rtsp transport %q: want auto, udp or tcp: %w", c.Transport, ErrBadConfig)
	}
	if c.ConnectTimeout <= 0 || c.ReadTimeout <= 0 {
		return fmt.Errorf("rtsp connect_timeout %v, read_timeout %v: must be positive: %w", c.ConnectTimeout, c.ReadTimeout, ErrBadConfig)
	}
	if c.Retries < 0 {
		return fmt.Errorf("rtsp retries %d: must not be negative: %w", c.Retries, ErrBadConfig)
	}
	b := c.Backoff
	if b.Initial <= 0 || b.Max < b.Initial {
		return fmt.Errorf("rtsp backoff initial %v, max %v: need 0 < initial <= max: %w", b.Initial, b.Max, ErrBadConfig)
	}
	if b.Multiplier < 1 || math.IsInf(b.Multiplier, 0) || math.IsNaN(b.Multiplier) {
		return fmt.Errorf("rtsp backoff multiplier %v: must be at least 1: %w", b.Multiplier, ErrBadConfig)
	}
	if b.Jitter < 0 || b.Jitter > 1 || math.IsNaN(b.Jitter) {
		return fmt.Errorf("rtsp backoff jitter %v: must be within 0..1: %w", b.Jitter, ErrBadConfig)
	}
	return nil
}

// Delay is the wait before attempt n (1 for the first retry); rnd is a
// uniform random number in [0, 1).
func (b Backoff) Delay(n int, rnd float64) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(n-1))
	if d > float64(b.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(b.Max)
	}
	d += d * b.Jitter * (2*rnd - 1)
	if d < 0 {
		d = 0
	}
	return time.Duration(d)
}
