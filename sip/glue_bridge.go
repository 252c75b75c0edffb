package sip

import (
	"github.com/roomgate/roomgate/bridge"
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
