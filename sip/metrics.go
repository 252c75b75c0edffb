package sip

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomgate/roomgate/bridge/dtmf"
)

// metrics are the Prometheus collectors of one Server.
type metrics struct {
	requests  *prometheus.CounterVec
	responses *prometheus.CounterVec
	malformed *prometheus.CounterVec
	calls     *prometheus.CounterVec
	active    prometheus.Gauge
	dtmfVec   *prometheus.CounterVec
	// fastUpdates counts RFC 5168 picture_fast_update INFOs by direction
	// (received, sent).
	fastUpdates *prometheus.CounterVec
	// dtmf holds the series of dtmfVec by source and verdict, resolved
	// once so that counting a digit allocates nothing.
	dtmf [dtmfSources + 1][dtmfVerdicts + 1]prometheus.Counter
}

// Sizes of the dtmf counter table: the highest dtmf.Source and dtmf.Verdict.
const (
	dtmfSources  = int(dtmf.SourceH245)
	dtmfVerdicts = int(dtmf.Limited)
)

// countDTMF counts one digit report by source and verdict.
func (m *metrics) countDTMF(src dtmf.Source, v dtmf.Verdict) {
	if int(src) > dtmfSources || int(v) > dtmfVerdicts {
		return
	}
	if c := m.dtmf[src][v]; c != nil {
		c.Inc()
	}
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_sip_requests_total",
			Help: "SIP requests received, by method.",
		}, []string{"method"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_sip_responses_total",
			Help: "Final SIP responses sent, by status code.",
		}, []string{"code"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_sip_malformed_messages_total",
			Help: "SIP messages that could not be parsed, by transport.",
		}, []string{"transport"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_sip_calls_total",
			Help: "Incoming SIP calls by outcome: answered, rejected, cancelled.",
		}, []string{"result"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomgate_sip_active_calls",
			Help: "SIP calls answered and not yet ended.",
		}),
		dtmfVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_sip_dtmf_total",
			Help: "DTMF digits received on SIP calls, by source (rfc4733, info) and verdict " +
				"(accepted, duplicate, garbage, limited).",
		}, []string{"source", "verdict"}),
		fastUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_sip_video_fast_updates_total",
			Help: "SIP INFO picture_fast_update keyframe requests, by direction (received, sent).",
		}, []string{"direction"}),
	}
	// A SIP call hears digits by these two methods only.
	for _, src := range []dtmf.Source{dtmf.SourceRFC4733, dtmf.SourceINFO, dtmf.SourceInband} {
		for v := dtmf.Accepted; int(v) <= dtmfVerdicts; v++ {
			m.dtmf[src][v] = m.dtmfVec.WithLabelValues(src.String(), v.String())
		}
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.responses, m.malformed, m.calls, m.active, m.dtmfVec, m.fastUpdates} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if errors.As(err, &already) {
				return nil, fmt.Errorf("registering sip metrics (one registry per server): %w", err)
			}
			return nil, fmt.Errorf("registering sip metrics: %w", err)
		}
	}
	return m, nil
}
