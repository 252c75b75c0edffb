package conf

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Join results as the roomgate_conf_joins_total metric labels them.
const (
	joinOK           = "ok"
	joinNotFound     = "not_found"
	joinLocked       = "locked"
	joinFull         = "full"
	joinUnauthorized = "unauthorized"
	joinRemoved      = "removed"
	joinInvalid      = "invalid"
	joinError        = "error"
)

// metrics are the Prometheus collectors of one Service. They exist even
// when no registerer was given, so the code that updates them needs no
// nil checks.
type metrics struct {
	joins       *prometheus.CounterVec
	leaves      prometheus.Counter
	live        prometheus.Gauge
	cdrWritten  prometheus.Counter
	cdrFailed   prometheus.Counter
	cdrDropped  prometheus.Counter
	logins      *prometheus.CounterVec
	collectors  []prometheus.Collector
	registerErr error
}

func newMetrics() *metrics {
	m := &metrics{
		joins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_conf_joins_total",
			Help: "Requests to join a conference, by result: ok, not_found, locked, full, unauthorized, removed, invalid, error.",
		}, []string{"result"}),
		leaves: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomgate_conf_leaves_total",
			Help: "Participants that left a conference, including those ended by its deletion.",
		}),
		live: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomgate_conf_participants",
			Help: "Live participants in all conferences.",
		}),
		cdrWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomgate_conf_call_records_written_total",
			Help: "Call records written to the store.",
		}),
		cdrFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomgate_conf_call_records_failed_total",
			Help: "Call records the store refused or could not write in time.",
		}),
		cdrDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomgate_conf_call_records_dropped_total",
			Help: "Call records dropped because too many were waiting for the store.",
		}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_conf_logins_total",
			Help: "API token requests, by result: ok, refused, error.",
		}, []string{"result"}),
	}
	m.collectors = []prometheus.Collector{m.joins, m.leaves, m.live, m.cdrWritten, m.cdrFailed, m.cdrDropped, m.logins}
	// Pre-create the label values so that dashboards see zeros, not gaps.
	for _, r := range []string{joinOK, joinNotFound, joinLocked, joinFull, joinUnauthorized, joinRemoved, joinInvalid, joinError} {
		m.joins.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "refused", "error"} {
		m.logins.WithLabelValues(r)
	}
	return m
}

// register adds the collectors to reg; the first failure is kept and
// reported by NewService's log.
func (m *metrics) register(reg prometheus.Registerer) {
	for _, c := range m.collectors {
		if err := reg.Register(c); err != nil && m.registerErr == nil {
			m.registerErr = err
		}
	}
}

// WithRegisterer registers the Service's Prometheus collectors on reg.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(s *Service) {
		if reg != nil {
			s.metrics.register(reg)
		}
	}
}

// joinResult is the metric label of a Join outcome.
func joinResult(err error) string {
	switch {
	case err == nil:
		return joinOK
	case errors.Is(err, ErrNotFound):
		return joinNotFound
	case errors.Is(err, ErrLocked):
		return joinLocked
	case errors.Is(err, ErrFull):
		return joinFull
	case errors.Is(err, ErrRemoved):
		return joinRemoved
	case errors.Is(err, ErrUnauthorized):
		return joinUnauthorized
	case errors.Is(err, ErrInvalid):
		return joinInvalid
	default:
		return joinError
	}
}
