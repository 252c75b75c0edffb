package sip

import (
	"context"

	"github.com/roomgate/roomgate/conf"
)

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
	// Only what Join returned comes back here.
	if cp, ok := p.(*conf.Participant); ok {
		c.s.Leave(cp, cause)
	}
}
