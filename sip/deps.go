package sip

import (
	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
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
	// DialInCall is conf's side of an incoming call.
	DialInCall = callleg.DialInCall
)

// BridgeMedia makes the real bridge the server's MediaFactory.
func BridgeMedia(b *bridge.Bridge) MediaFactory { return callleg.BridgeMedia(b) }

// ConfService makes *conf.Service the server's Conferences.
func ConfService(s *conf.Service) Conferences { return callleg.ConfService(s) }
