package call

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

// MediaLeg is one call's audio in the bridge; *bridge.Leg is one.
type MediaLeg interface {
	// LocalPort is the RTP port we announce in fastStart and OLCAck (RTCP is +1).
	LocalPort() int
	// Start plays the first negotiated stream.
	Start(p bridge.StreamParams) error
	// Update applies a changed stream (new address or codec after a channel reopens).
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
