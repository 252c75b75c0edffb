package sip

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Prometheus collectors of one Server.
type metrics struct {
	requests  *prometheus.CounterVec
	responses *prometheus.CounterVec
	malformed *prometheus.CounterVec
	calls     *prometheus.CounterVec
	active    prometheus.Gauge
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
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.responses, m.malformed, m.calls, m.active} {
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
