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

// newMetrics makes the Service's collectors; extra are those of its parts
// (the lobby and in-call commands), registered with them.
func newMetrics(extra ...prometheus.Collector) *metrics {
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
	m.collectors = append(m.collectors, extra...)
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

// Labels of the lobby, PIN and DTMF metrics.
const (
	lobbyJoined            = "joined"
	lobbyInvalidConference = "invalid_conference"
	lobbyWrongPIN          = "wrong_pin"
	lobbyRefused           = "refused" // locked, full, removed, guest in an internal conference
	lobbyTimeout           = "timeout"
	lobbyHungUp            = "hung_up" // the caller left first
	lobbyError             = "error"

	digitInvalid = "invalid"
	digitFlood   = "flood"
	digitQueue   = "queue"

	commandOK     = "ok"
	commandDenied = "denied"
	commandFailed = "failed"
)

// ivrMetrics count what the lobby, the PIN guard and in-call commands do.
type ivrMetrics struct {
	lobby         *prometheus.CounterVec
	pinFailures   *prometheus.CounterVec
	pinCooldowns  prometheus.Counter
	pinRefused    prometheus.Counter
	digitsDropped *prometheus.CounterVec
	commands      *prometheus.CounterVec
}

func newIVRMetrics() *ivrMetrics {
	m := &ivrMetrics{
		lobby: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_conf_lobby_calls_total",
			Help: "Calls that left the IVR lobby, by result: joined, invalid_conference, wrong_pin, refused, timeout, hung_up, error.",
		}, []string{"result"}),
		pinFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_conf_pin_failures_total",
			Help: "Wrong PINs, by where they were entered: dial_string, lobby, in_call.",
		}, []string{"where"}),
		pinCooldowns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomgate_conf_pin_cooldowns_total",
			Help: "Source addresses refused for the PIN cool-down after too many wrong PINs.",
		}),
		pinRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomgate_conf_pin_refused_calls_total",
			Help: "Calls refused or hung up because their source address was in the PIN cool-down or they entered too many wrong PINs.",
		}),
		digitsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_conf_dtmf_dropped_total",
			Help: "DTMF keys dropped, by reason: invalid (not 0-9*#A-D), flood (too many per second), queue (not handled fast enough).",
		}, []string{"reason"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomgate_conf_dtmf_commands_total",
			Help: "In-call DTMF commands, by command and result: ok, denied (no right or wrong PIN), failed, confirming and cancelled (end).",
		}, []string{"command", "result"}),
	}
	for _, r := range []string{lobbyJoined, lobbyInvalidConference, lobbyWrongPIN, lobbyRefused, lobbyTimeout, lobbyHungUp, lobbyError} {
		m.lobby.WithLabelValues(r)
	}
	for _, w := range []string{pinWhereDialString, pinWhereLobby, pinWhereInCall} {
		m.pinFailures.WithLabelValues(w)
	}
	for _, r := range []string{digitInvalid, digitFlood, digitQueue} {
		m.digitsDropped.WithLabelValues(r)
	}
	return m
}

func (m *ivrMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.lobby, m.pinFailures, m.pinCooldowns, m.pinRefused, m.digitsDropped, m.commands}
}
