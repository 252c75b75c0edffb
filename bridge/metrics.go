package bridge

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a received packet is dropped, as the "reason" label of
// roomgate_bridge_rtp_dropped_total.
const (
	dropWrongSource = "wrong_source"
	dropUnknownPT   = "unknown_pt"
	dropMalformed   = "malformed"
	dropOversized   = "oversized"
	dropLate        = "late"
	dropDuplicate   = "duplicate"
	dropNotStarted  = "not_started"
	dropOverflow    = "overflow" // older packets pushed out of a full jitter buffer
)

// metrics holds the bridge's Prometheus collectors. The hot path only touches
// pre-resolved children (no label lookups per packet).
type metrics struct {
	packetsIn, packetsOut  prometheus.Counter
	bytesIn, bytesOut      prometheus.Counter
	sendErrors             prometheus.Counter
	rtcpIn, rtcpErrors     prometheus.Counter
	rtcpOut                prometheus.Counter
	dtmfEvents             prometheus.Counter
	concealed              prometheus.Counter
	mediaTimeouts          prometheus.Counter
	legs, rooms            prometheus.Gauge
	tickSeconds            prometheus.Histogram
	overruns               prometheus.Counter
	lateFrames             prometheus.Counter
	skippedFrames          prometheus.Counter
	compressed             prometheus.Counter
	prompts, announcements prometheus.Counter
	dtmfSent, dtmfPassed   prometheus.Counter

	dropWrongSource, dropUnknownPT, dropMalformed, dropOversized prometheus.Counter
	dropLate, dropDuplicate, dropNotStarted, dropOverflow        prometheus.Counter
}

// tickBuckets are fine buckets from 10 µs to 40 ms: the tick budget is 20 ms
// and a healthy tick of a small room takes microseconds.
func tickBuckets() []float64 {
	return []float64{
		10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 350e-6, 500e-6, 750e-6,
		1e-3, 1.5e-3, 2e-3, 3e-3, 5e-3, 7.5e-3, 10e-3, 15e-3, 20e-3, 30e-3, 40e-3,
	}
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roomgate_bridge_rtp_dropped_total",
		Help: "Received RTP packets dropped, by reason.",
	}, []string{"reason"})
	m := &metrics{
		packetsIn:     counter("roomgate_bridge_rtp_packets_in_total", "RTP packets received and accepted."),
		packetsOut:    counter("roomgate_bridge_rtp_packets_out_total", "RTP packets sent."),
		bytesIn:       counter("roomgate_bridge_rtp_bytes_in_total", "RTP bytes received and accepted."),
		bytesOut:      counter("roomgate_bridge_rtp_bytes_out_total", "RTP bytes sent."),
		sendErrors:    counter("roomgate_bridge_send_errors_total", "RTP/RTCP datagrams that could not be sent (never retried)."),
		rtcpIn:        counter("roomgate_bridge_rtcp_packets_in_total", "RTCP compound packets received."),
		rtcpOut:       counter("roomgate_bridge_rtcp_packets_out_total", "RTCP compound reports sent."),
		rtcpErrors:    counter("roomgate_bridge_rtcp_errors_total", "RTCP datagrams that failed to parse."),
		dtmfEvents:    counter("roomgate_bridge_dtmf_events_total", "DTMF digits delivered, from RFC 4733 telephone events and in-band tones."),
		concealed:     counter("roomgate_bridge_concealed_frames_total", "Lost packets replaced by loss concealment."),
		mediaTimeouts: counter("roomgate_bridge_media_timeouts_total", "Legs closed because they sent no RTP for the media timeout."),
		legs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomgate_bridge_legs", Help: "Open legs.",
		}),
		rooms: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomgate_bridge_rooms", Help: "Rooms with a running mixer.",
		}),
		tickSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "roomgate_mixer_tick_seconds",
			Help:    "Processing time of one 20 ms mixer tick of one room.",
			Buckets: tickBuckets(),
		}),
		overruns: counter("roomgate_mixer_overruns_total", "Mixer ticks that took longer than 20 ms."),
		lateFrames: counter("roomgate_mixer_late_frames_total",
			"Mixer frames produced after their deadline, in a catch-up burst (no audio lost)."),
		skippedFrames: counter("roomgate_mixer_skipped_frames_total",
			"Mixer frames skipped because the mixer fell more than 5 frames behind (a gap on every leg)."),
		compressed: counter("roomgate_bridge_jitter_compressed_total",
			"Received packets dropped from a jitter buffer that stayed deeper than its target (drift, bursts)."),
	}
	m.prompts = counter("roomgate_bridge_prompts_total", "Prompt sequences queued for one leg (Play).")
	m.announcements = counter("roomgate_bridge_announcements_total", "Prompt sequences queued for a whole room (Announce).")
	m.dtmfSent = counter("roomgate_bridge_dtmf_sent_total", "DTMF digits sent to legs as RFC 4733 telephone events.")
	m.dtmfPassed = counter("roomgate_bridge_dtmf_passed_total", "DTMF digits passed into a room as tones (pass-through).")
	if reg != nil {
		// A second bridge on the same registry (a restart, tests) shares
		// the collectors already registered.
		var err error
		register := func(c prometheus.Collector) prometheus.Collector {
			if err != nil {
				return c
			}
			if e := reg.Register(c); e != nil {
				var are prometheus.AlreadyRegisteredError
				if errors.As(e, &are) {
					return are.ExistingCollector
				}
				err = fmt.Errorf("registering bridge metrics: %w", e)
			}
			return c
		}
		for _, c := range []*prometheus.Counter{
			&m.packetsIn, &m.packetsOut, &m.bytesIn, &m.bytesOut, &m.sendErrors, &m.rtcpIn, &m.rtcpOut,
			&m.rtcpErrors, &m.dtmfEvents, &m.concealed, &m.mediaTimeouts, &m.overruns,
			&m.lateFrames, &m.skippedFrames, &m.compressed,
			&m.prompts, &m.announcements, &m.dtmfSent, &m.dtmfPassed,
		} {
			if got, ok := register(*c).(prometheus.Counter); ok {
				*c = got
			}
		}
		for _, g := range []*prometheus.Gauge{&m.legs, &m.rooms} {
			if got, ok := register(*g).(prometheus.Gauge); ok {
				*g = got
			}
		}
		if got, ok := register(m.tickSeconds).(prometheus.Histogram); ok {
			m.tickSeconds = got
		}
		if got, ok := register(dropped).(*prometheus.CounterVec); ok {
			dropped = got
		}
		if err != nil {
			return nil, err
		}
	}
	m.dropWrongSource = dropped.WithLabelValues(dropWrongSource)
	m.dropUnknownPT = dropped.WithLabelValues(dropUnknownPT)
	m.dropMalformed = dropped.WithLabelValues(dropMalformed)
	m.dropOversized = dropped.WithLabelValues(dropOversized)
	m.dropLate = dropped.WithLabelValues(dropLate)
	m.dropDuplicate = dropped.WithLabelValues(dropDuplicate)
	m.dropNotStarted = dropped.WithLabelValues(dropNotStarted)
	m.dropOverflow = dropped.WithLabelValues(dropOverflow)
	return m, nil
}
