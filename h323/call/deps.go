package call

import (
	"context"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/h323/ras"
	"github.com/roomgate/roomgate/internal/callleg"
)

// The seams to conf and the bridge are shared by every signalling package
// (internal/callleg); the aliases keep this package's own names.
type (
	// Participant is a caller admitted into a conference.
	Participant = callleg.Participant
	// Conferences admits callers into conferences.
	Conferences = callleg.Conferences
	// MediaLeg is one call's media in the bridge.
	MediaLeg = callleg.MediaLeg
	// MediaFactory creates media legs.
	MediaFactory = callleg.MediaFactory
)

// BridgeMedia makes the real bridge the server's MediaFactory.
func BridgeMedia(b *bridge.Bridge) MediaFactory { return callleg.BridgeMedia(b) }

// ConfService makes *conf.Service the server's Conferences.
func ConfService(s *conf.Service) Conferences { return callleg.ConfService(s) }

// Gatekeeper admits calls through RAS when the server is registered with a
// gatekeeper (H.225.0 ARQ before each call, DRQ after it); *ras.Client
// implements it. Calls proceed without it when none is configured.
type Gatekeeper interface {
	// Admit asks admission for a call (ARQ) and returns the gatekeeper's ACF.
	Admit(ctx context.Context, a ras.Admission) (ras.Admitted, error)
	// Disengage reports the end of an admitted call (DRQ); it must not block.
	Disengage(a ras.Admission)
}
