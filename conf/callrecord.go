package conf

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Call record writing. Leave and DeleteConference only queue the record:
// a hang-up must not wait for a database write (and its occasional
// checkpoint fsync), and deleting a conference with two thousand legs must
// not run two thousand transactions. A writer goroutine, started when
// records are queued and ending when the queue is empty, writes them in
// batches. Close (or FlushCallRecords) waits for it.
const (
	// callRecordTimeout bounds the store write of one batch, so a database
	// locked by another process cannot keep the writer forever.
	callRecordTimeout = 10 * time.Second
	// maxQueuedCallRecords bounds memory when the store cannot keep up;
	// records beyond it are dropped with a warning.
	maxQueuedCallRecords = 100_000
	// maxCallRecordBatch is the most records written in one transaction.
	maxCallRecordBatch = 500
)

// CallRecord is the call detail record of one leg: who was in which
// conference, over what, from when to when, and why it ended.
type CallRecord struct {
	ID           int64     `json:"id"`
	ConferenceID string    `json:"conference_id"`
	Participant  string    `json:"participant"`
	UserID       string    `json:"user_id,omitempty"`
	DisplayName  string    `json:"display_name"`
	Protocol     string    `json:"protocol"`
	Remote       string    `json:"remote"`
	StartedAt    time.Time `json:"started_at"`
	EndedAt      time.Time `json:"ended_at"`
	Cause        string    `json:"cause"`
}

// CallRecorder is implemented by stores that keep call records. It is a
// separate interface so that a Store without history still works.
type CallRecorder interface {
	// RecordCall appends r; the store assigns r.ID.
	RecordCall(ctx context.Context, r CallRecord) error
}

// CallBatchRecorder is implemented by stores that can append many call
// records in one transaction; the Service prefers it when present.
type CallBatchRecorder interface {
	CallRecorder
	// RecordCalls appends rs atomically.
	RecordCalls(ctx context.Context, rs []CallRecord) error
}

// cdrQueue holds call records waiting for the writer goroutine.
type cdrQueue struct {
	mu      sync.Mutex
	pending []CallRecord
	running bool          // a writer goroutine is active
	idle    chan struct{} // closed when the writer ends; nil while none ran
	dropped uint64
}

// recordCall queues the call record of p.
func (s *Service) recordCall(p *Participant, ended time.Time, cause error) {
	if s.recorder == nil {
		return
	}
	r := CallRecord{
		ConferenceID: p.confID,
		Participant:  p.id,
		UserID:       p.userID,
		DisplayName:  p.displayName,
		Protocol:     p.protocol,
		Remote:       p.remote,
		StartedAt:    p.joinedAt,
		EndedAt:      ended,
		Cause:        causeText(cause),
	}
	q := &s.cdr
	q.mu.Lock()
	if len(q.pending) >= maxQueuedCallRecords {
		q.dropped++
		n := q.dropped
		q.mu.Unlock()
		s.metrics.cdrDropped.Inc()
		s.log.Warn("call record dropped: the store is not keeping up", "conf", p.confID, "leg", p.id, "dropped", n)
		return
	}
	q.pending = append(q.pending, r)
	if !q.running {
		q.running = true
		q.idle = make(chan struct{})
		go s.writeCallRecords(q.idle)
	}
	q.mu.Unlock()
}

// writeCallRecords writes queued records until the queue is empty, then
// closes idle.
func (s *Service) writeCallRecords(idle chan struct{}) {
	q := &s.cdr
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.running = false
			close(idle)
			q.mu.Unlock()
			return
		}
		n := min(len(q.pending), maxCallRecordBatch)
		batch := q.pending[:n:n]
		q.pending = q.pending[n:]
		if len(q.pending) == 0 {
			q.pending = nil // let the backing array go
		}
		q.mu.Unlock()
		if err := s.storeCallRecords(batch); err != nil {
			s.metrics.cdrFailed.Add(float64(len(batch)))
			s.log.Warn("writing call records", "records", len(batch), "err", err)
		} else {
			s.metrics.cdrWritten.Add(float64(len(batch)))
		}
	}
}

func (s *Service) storeCallRecords(batch []CallRecord) error {
	ctx, cancel := context.WithTimeout(context.Background(), callRecordTimeout)
	defer cancel()
	if b, ok := s.recorder.(CallBatchRecorder); ok {
		return b.RecordCalls(ctx, batch)
	}
	for _, r := range batch {
		if err := s.recorder.RecordCall(ctx, r); err != nil {
			return fmt.Errorf("call record of %s in %s: %w", r.Participant, r.ConferenceID, err)
		}
	}
	return nil
}

// FlushCallRecords waits until every queued call record has been written
// (or failed), or ctx ends.
func (s *Service) FlushCallRecords(ctx context.Context) error {
	s.cdr.mu.Lock()
	idle, running := s.cdr.idle, s.cdr.running
	s.cdr.mu.Unlock()
	if !running {
		return nil
	}
	select {
	case <-idle:
		// Records queued after this writer ended started a new one.
		return s.FlushCallRecords(ctx)
	case <-ctx.Done():
		return fmt.Errorf("flushing call records: %w", context.Cause(ctx))
	}
}

// Close cancels invitation calls in flight and flushes the queued call
// records; call it before closing the store.
// Live legs are not touched: the signalling packages end them first.
func (s *Service) Close(ctx context.Context) error {
	s.StopDialing() // invitation calls first: they may still join legs
	s.StopMailing()
	return s.FlushCallRecords(ctx)
}
