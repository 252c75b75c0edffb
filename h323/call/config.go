package call

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/ras"
)

// Defaults of Config and DialOptions.
const (
	// DefaultListen is the H.225.0 call signalling address (H.225.0 clause 7.3: TCP 1720).
	DefaultListen = "0.0.0.0:1720"
	// DefaultSetupTimeout bounds the wait for Setup on a new connection.
	DefaultSetupTimeout = 10 * time.Second
	// DefaultH245Timeout bounds capability exchange, master/slave determination and
	// logical channel opening of a slow-start call (H.245 timers T101/T103/T106 are of
	// this order), and the wait for a separate H.245 connection.
	DefaultH245Timeout = 30 * time.Second
	// DefaultConnectTimeout bounds how long a call we place may ring.
	DefaultConnectTimeout = 60 * time.Second
	// writeTimeout bounds one write to a peer that does not read.
	writeTimeout = 5 * time.Second
)

// defaultCodecs is our audio preference: wideband first, then G.711.
var defaultCodecs = []string{"G722", "PCMU", "PCMA"}

// DefaultVendor identifies Roomgate in EndpointType (H.225.0 VendorIdentifier).
var DefaultVendor = h225.Vendor{T35Country: 181, Manufacturer: 0x5247, ProductID: "Roomgate", VersionID: "1"}

// Config configures a Server.
type Config struct {
	// Listen is the TCP address for call signalling ("0.0.0.0:1720"); port 0 picks a free port.
	Listen string
	// MediaAddress is the IP announced for RTP/RTCP and the separate H.245 channel; empty
	// means the local address of each signalling connection.
	MediaAddress string
	// Codecs are the audio codecs we accept, in our order of preference ("G722", "PCMU",
	// "PCMA"; "opus" is skipped, H.323 has no capability for it). Empty means all three.
	Codecs []string
	// DefaultConference receives calls whose Setup names no destination (room systems
	// dialling an IP address only); empty releases them with cause 1 (unallocated number).
	DefaultConference string
	// SetupTimeout, H245Timeout: see the defaults of the same name.
	SetupTimeout, H245Timeout time.Duration
	// Vendor is our EndpointType vendor; zero means DefaultVendor.
	Vendor h225.Vendor
	// OnDigit, when set, receives every DTMF key press of every call once, however
	// many ways it arrived (H.245 UserInputIndication, Q.931 Keypad, RFC 2833), from
	// the call's own goroutine; it must not block.
	OnDigit func(Digit)
	// Alias is our h323-ID, sent as sourceAddress in the Setup of calls we place;
	// empty sends none.
	Alias string
	// Gatekeeper, when set, admits every call (ARQ before answering or dialling,
	// DRQ after it) and resolves aliases of calls we place that name no host.
	Gatekeeper Gatekeeper
	// RingTimeout bounds how long a call we place rings; zero means DefaultConnectTimeout.
	RingTimeout time.Duration
	// Video is the conference video format our calls advertise and send (H.264 per
	// H.241); zero means 720p30 at 2000 kbit/s. Calls have video only when the media
	// factory also creates video legs (BridgeMedia's does).
	Video VideoFormat
	// RefuseFastStart answers Fast Connect proposals with fastConnectRefused, so that
	// calls start slowly (capability exchange and logical channels over H.245); for
	// peers whose Fast Connect is broken, and for tests of the fallback.
	RefuseFastStart bool
	// NoFastStart places calls without Fast Connect proposals (slow start:
	// capability exchange and logical channels over H.245), and NoTunnelling
	// asks for a separate H.245 TCP channel instead of tunnelling H.245 in
	// Q.931: for endpoints that need them, and to exercise every mode.
	NoFastStart, NoTunnelling bool
}

// Digit is one DTMF key press received on a call.
type Digit struct {
	// Call is the call's ID as used in logs, Conference the conference it is in.
	Call, Conference string
	// Participant is the ID conf gave the caller, empty before it joined.
	Participant string
	// Digit is one of 0-9 * # A-D.
	Digit rune
	// Source is the method that reported the press first: "uii" (H.245
	// UserInputIndication), "keypad" (Q.931 Keypad IE), "rfc2833" (RTP telephone
	// event) or "inband" (tones detected in the audio).
	Source string
}

// audio is one codec as both the bridge and H.245 know it.
type audio struct {
	info codec.Info
	cap  h245Audio
	// h245Name is the AudioCapability alternative in H.245.
	h245Name string
}

// parseCodecs turns codec names into our preference list.
func parseCodecs(names []string) ([]audio, error) {
	if len(names) == 0 {
		names = defaultCodecs
	}
	var out []audio
	seen := map[string]bool{}
	for _, n := range names {
		info, err := codec.Lookup(n)
		if err != nil {
			return nil, fmt.Errorf("%w: codec %q: H.323 legs accept G722, PCMU, PCMA: %v", ErrConfig, n, err)
		}
		a, ok := audioByName(info.Name)
		if !ok {
			// A bridge codec H.323 room systems do not speak (opus): SIP uses it, we skip it.
			continue
		}
		if seen[a.info.Name] {
			continue
		}
		seen[a.info.Name] = true
		a.info = info
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: codecs %v: none of G722, PCMU, PCMA, the audio codecs H.323 legs speak", ErrConfig, names)
	}
	return out, nil
}

func (c Config) withDefaults() (Config, []audio, error) {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if _, err := netip.ParseAddrPort(c.Listen); err != nil {
		return c, nil, fmt.Errorf("%w: listen address %q: want ip:port, e.g. 0.0.0.0:1720: %v", ErrConfig, c.Listen, err)
	}
	if c.MediaAddress != "" {
		if _, err := netip.ParseAddr(c.MediaAddress); err != nil {
			return c, nil, fmt.Errorf("%w: media address %q: %v", ErrConfig, c.MediaAddress, err)
		}
	}
	if c.SetupTimeout < 0 || c.H245Timeout < 0 || c.RingTimeout < 0 {
		return c, nil, fmt.Errorf("%w: negative timeout", ErrConfig)
	}
	if c.SetupTimeout == 0 {
		c.SetupTimeout = DefaultSetupTimeout
	}
	if c.H245Timeout == 0 {
		c.H245Timeout = DefaultH245Timeout
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = DefaultConnectTimeout
	}
	if c.Vendor == (h225.Vendor{}) {
		c.Vendor = DefaultVendor
	}
	if g, ok := c.Gatekeeper.(*ras.Client); ok && g == nil {
		// A nil *ras.Client (no gatekeeper configured) in the interface means none.
		c.Gatekeeper = nil
	}
	v, err := c.Video.withDefaults()
	if err != nil {
		return c, nil, err
	}
	c.Video = v
	prefs, err := parseCodecs(c.Codecs)
	return c, prefs, err
}
