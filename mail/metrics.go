package mail

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Prometheus collectors of one Sender. They exist even
// when no registerer was given, so the code that updates them needs no
// nil checks.
type metrics struct {
	sent   prometheus.Counter
	failed prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomgate_mail_invitations_sent_total",
			Help: "Invitation mails the SMTP server accepted, one per recipient.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomgate_mail_invitations_failed_total",
			Help: "Invitation mails not sent, one per recipient: invalid address, server unreachable or refusing.",
		}),
	}
}

// register adds the collectors to reg.
func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.sent, m.failed} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("mail: registering metrics: %w", err)
		}
	}
	return nil
}
