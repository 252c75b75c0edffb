// Package callleg is what every signalling package (sip, h323/call, and the
// protocols to come) needs from the rest of Roomgate to turn a call into a
// conference leg: admission through conf and media through the bridge. The
// interfaces are small so that signalling tests can use fakes; the adapters
// bind them to the real *conf.Service and *bridge.Bridge. It holds no state
// and makes no decisions: the rules stay in conf, the media in bridge.
package callleg

import (
	"context"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
)

// Participant is a caller admitted into a conference; *conf.Participant is one.
type Participant interface {
	ID() string
}

// Conferences admits callers into conferences. *conf.Service does it through
// the adapter ConfService; tests use fakes.
type Conferences interface {
	// Join admits the caller or fails with conf.ErrNotFound, conf.ErrFull,
	// conf.ErrLocked or another error.
	Join(ctx context.Context, req conf.JoinRequest) (Participant, error)
	// Leave removes an admitted caller; cause says why the call ended.
	Leave(p Participant, cause error)
}

// MediaLeg is one call's media in the bridge; *bridge.Leg is one.
type MediaLeg interface {
	// LocalPort is the RTP port we announce to the peer (RTCP is +1).
	LocalPort() int
	// Start plays the first negotiated stream.
	Start(p bridge.StreamParams) error
	// Update applies a renegotiated stream (hold, new address, new codec).
	Update(p bridge.StreamParams) error
	// Stats returns the leg's counters.
	Stats() bridge.LegStats
	// Close ends the leg; it is idempotent, waits and releases the ports.
	Close(cause error)
	// Done is closed when the leg ended, for whatever reason.
	Done() <-chan struct{}
	// Cause says why the leg ended.
	Cause() error
}

// MediaFactory creates media legs. BridgeMedia adapts *bridge.Bridge.
// Events such as bridge.EventMediaTimeout come back through opts.OnEvent.
type MediaFactory interface {
	NewLeg(opts bridge.LegOptions) (MediaLeg, error)
}

// BridgeMedia makes the real bridge a MediaFactory.
func BridgeMedia(b *bridge.Bridge) MediaFactory { return bridgeMedia{b: b} }

type bridgeMedia struct{ b *bridge.Bridge }

// NewLeg allocates a leg's RTP/RTCP ports in the bridge.
func (m bridgeMedia) NewLeg(opts bridge.LegOptions) (MediaLeg, error) {
	l, err := m.b.NewLeg(opts)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// ConfService makes *conf.Service the Conferences of a signalling package.
func ConfService(s *conf.Service) Conferences { return confService{s: s} }

type confService struct{ s *conf.Service }

// Join admits a caller through conf's rules.
func (c confService) Join(ctx context.Context, req conf.JoinRequest) (Participant, error) {
	p, err := c.s.Join(ctx, req)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Leave removes a participant that Join returned; only what Join returned
// comes back here.
func (c confService) Leave(p Participant, cause error) {
	if cp, ok := p.(*conf.Participant); ok {
		c.s.Leave(cp, cause)
	}
}
