package conf

import (
	"context"
	"log/slog"
)

// OwnerKey gives the external tests the owner's in-call admission keys:
// it reports whether digit d, pressed by participant p, was taken as an
// answer to a waiting caller.
func OwnerKey(ctx context.Context, s *Service, p *Participant, d byte) bool {
	c := &Call{s: s, log: slog.New(slog.DiscardHandler)}
	return c.admissionDigit(ctx, p, d)
}
