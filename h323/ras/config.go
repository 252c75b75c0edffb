package ras

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomgate/roomgate/h323/h225"
)

// Defaults of Config.
const (
	// DefaultPort is the gatekeeper's unicast RAS port (H.225.0: UDP 1719).
	DefaultPort = 1719
	// DefaultTimeout and DefaultRetries are the RAS request timers of H.225.0
	// (and h323plus): 3 s per transmission, 2 retransmissions.
	DefaultTimeout = 3 * time.Second
	DefaultRetries = 2
	// DefaultTimeToLive is the registration lifetime we ask for.
	DefaultTimeToLive = 300 * time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait before registering
	// again after a failure; it doubles from the first to the second.
	DefaultMinBackoff = 2 * time.Second
	DefaultMaxBackoff = 2 * time.Minute
	// DefaultBandwidth is what ARQ asks for a call: 128 kbit/s both ways, in 100 bit/s.
	DefaultBandwidth = 2560
)

// Limits that keep a Client bounded whatever the gatekeeper or conf do.
const (
	// maxPending bounds requests waiting for an answer.
	maxPending = 256
	// maxCalls bounds admitted calls (IRR lists them).
	maxCalls = 4096
	// maxAliases bounds the aliases of one RRQ (one UDP datagram).
	maxAliases = 512
	// maxDisengage bounds DRQs in flight.
	maxDisengage = 64
	// maxDatagram is the largest RAS message we read.
	maxDatagram = 65535
)

// Config configures a Client.
type Config struct {
	// Gatekeeper is host[:port] of the gatekeeper's RAS channel (port 1719 by default).
	Gatekeeper string
	// GatekeeperID, when set, is the gatekeeper identifier we ask for.
	GatekeeperID string
	// Discover sends GRQ before the first registration. Without it we send RRQ
	// straight away, and discover only when the gatekeeper answers
	// RRJ discoveryRequired.
	Discover bool
	// Listen is the local UDP address of our RAS channel; empty means any port.
	Listen string
	// Alias is our h323-ID.
	Alias string
	// CallSignal is our H.225.0 call signalling address, where the gatekeeper
	// routes calls to us. An unspecified IP is replaced by the local IP that
	// routes to the gatekeeper. It may be left out of New and given with
	// SetCallSignal before Start, once the listener has its port.
	CallSignal netip.AddrPort
	// TimeToLive is the registration lifetime we ask for; the gatekeeper may grant less.
	TimeToLive time.Duration
	// Vendor identifies us in RRQ; zero means a Roomgate vendor.
	Vendor h225.Vendor
	// Timeout and Retries: see DefaultTimeout and DefaultRetries.
	Timeout time.Duration
	Retries int
	// MinBackoff and MaxBackoff: see DefaultMinBackoff.
	MinBackoff, MaxBackoff time.Duration
	// PacketConn, when set, is used instead of binding Listen (tests pass
	// in-memory connections); the Client closes it.
	PacketConn net.PacketConn
	// Registerer, when set, receives the client's Prometheus collectors.
	Registerer prometheus.Registerer
}

// defaultVendor identifies Roomgate in RRQ (H.225.0 VendorIdentifier).
var defaultVendor = h225.Vendor{T35Country: 181, Manufacturer: 0x5247, ProductID: "Roomgate", VersionID: "1"}

func (c Config) withDefaults() (Config, error) {
	if c.Gatekeeper == "" {
		return c, fmt.Errorf("%w: no gatekeeper address", ErrConfig)
	}
	if _, _, err := splitHostPort(c.Gatekeeper); err != nil {
		return c, err
	}
	if c.Alias == "" || len(c.Alias) > 256 {
		return c, fmt.Errorf("%w: alias %q: want an h323-ID of 1 to 256 characters", ErrConfig, c.Alias)
	}
	if c.CallSignal.IsValid() && c.CallSignal.Port() == 0 {
		return c, fmt.Errorf("%w: call signalling address %v: want ip:port of the H.323 listener", ErrConfig, c.CallSignal)
	}
	if c.Listen == "" {
		c.Listen = ":0"
	}
	if c.TimeToLive == 0 {
		c.TimeToLive = DefaultTimeToLive
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.TimeToLive < time.Second || c.Timeout < 0 || c.Retries < 0 || c.MinBackoff < 0 || c.MaxBackoff < c.MinBackoff {
		return c, fmt.Errorf("%w: timers %+v", ErrConfig, c)
	}
	if c.Vendor == (h225.Vendor{}) {
		c.Vendor = defaultVendor
	}
	return c, nil
}

// splitHostPort splits host[:port] (IPv6 in brackets when a port follows).
func splitHostPort(s string) (string, int, error) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return "", 0, fmt.Errorf("%w: gatekeeper %q: bad port", ErrConfig, s)
		}
		return h, n, nil
	}
	h := strings.Trim(s, "[]")
	if h == "" || strings.ContainsAny(h, " /@;") {
		return "", 0, fmt.Errorf("%w: gatekeeper %q: want host or host:port", ErrConfig, s)
	}
	return h, DefaultPort, nil
}
