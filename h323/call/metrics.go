package call

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Prometheus collectors of one Server.
type metrics struct {
	calls     *prometheus.CounterVec
	active    prometheus.Gauge
	digits    *prometheus.CounterVec
	malformed prometheus.Counter
	// Video: videoFastUpdatePicture by direction (sent, received), flowControlCommand
	// by direction, and video channels opened by direction (send, receive).
	fastUpdates, flowControl, videoChannels *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_h323_calls_total",
			Help: "H.323 calls by outcome: answered, rejected, failed (incoming); dialled, dial_failed (placed for conf).",
		}, []string{"result"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomgate_h323_active_calls",
			Help: "H.323 calls connected and not yet released.",
		}),
		digits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_h323_dtmf_digits_total",
			Help: "DTMF digits received on H.323 calls, by source: uii, keypad, rfc2833.",
		}, []string{"source"}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomgate_h323_malformed_messages_total",
			Help: "H.225.0 and H.245 messages that could not be decoded.",
		}),
		fastUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_h323_video_fast_updates_total",
			Help: "H.245 videoFastUpdatePicture commands, by direction: sent, received.",
		}, []string{"direction"}),
		flowControl: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_h323_video_flow_control_total",
			Help: "H.245 flowControlCommands on video, by direction: sent, received.",
		}, []string{"direction"}),
		videoChannels: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_h323_video_channels_total",
			Help: "H.264 video logical channels opened, by direction: send (ours, acked), receive (the peer's, acked).",
		}, []string{"direction"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.calls, m.active, m.digits, m.malformed, m.fastUpdates, m.flowControl, m.videoChannels} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if errors.As(err, &already) {
				return nil, fmt.Errorf("registering h323 metrics (one registry per server): %w", err)
			}
			return nil, fmt.Errorf("registering h323 metrics: %w", err)
		}
	}
	return m, nil
}
