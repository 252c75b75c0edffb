package video

// SourceStats is a snapshot of one source's counters, for the participant
// list.
type SourceStats struct {
	ID               string
	Active           bool // camera on: enabled and packets recently
	PacketsIn        uint64
	FramesIn         uint64
	KeyframesIn      uint64
	Malformed        uint64
	KeyframeRequests uint64
	HasParamSets     bool
}

// ReceiverStats is a snapshot of one receiver's stream.
type ReceiverStats struct {
	ID          string
	Source      string // source on screen, "" before the first keyframe
	Pending     string // source being switched to, waiting for its keyframe
	PacketsOut  uint64
	FramesOut   uint64
	Switches    uint64
	Retransmits uint64
	SendErrors  uint64
	Bandwidth   uint64
}

// Snapshot is the router's state for the API and the events stream.
type Snapshot struct {
	Speaker   string
	Pinned    string
	Sources   []SourceStats
	Receivers []ReceiverStats
}

// Snapshot returns the current state and counters.
func (rt *Router) Snapshot() Snapshot {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	now := rt.cfg.Clock.Now()
	snap := Snapshot{Speaker: rt.speaker, Pinned: rt.pinned}
	for _, s := range rt.srcOrder {
		snap.Sources = append(snap.Sources, SourceStats{
			ID: s.id, Active: rt.active(s, now), PacketsIn: s.packetsIn, FramesIn: s.framesIn,
			KeyframesIn: s.keyframesIn, Malformed: s.malformed, KeyframeRequests: s.kfRequests,
			HasParamSets: s.params.Complete(),
		})
	}
	for _, r := range rt.rcvList {
		rs := ReceiverStats{
			ID: r.id, PacketsOut: r.packetsOut, FramesOut: r.framesOut, Switches: r.switches,
			Retransmits: r.retransmits, SendErrors: r.sendErrors, Bandwidth: r.bandwidth,
		}
		if r.cur != nil {
			rs.Source = r.cur.id
		}
		if r.pending != nil {
			rs.Pending = r.pending.id
		}
		snap.Receivers = append(snap.Receivers, rs)
	}
	return snap
}
