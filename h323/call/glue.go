package call

import (
	"context"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
)

// BridgeMedia makes the real bridge the server's MediaFactory.
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

// ConfService makes *conf.Service the server's Conferences.
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

// Leave removes a participant that Join returned.
func (c confService) Leave(p Participant, cause error) {
	if cp, ok := p.(*conf.Participant); ok {
		c.s.Leave(cp, cause)
	}
}
