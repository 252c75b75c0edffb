package conf

import (
	"sync"
	"time"
)

// Event types of the live event stream.
const (
	EventJoined   = "participant_joined"
	EventLeft     = "participant_left"
	EventRemoved  = "participant_removed"
	EventMuted    = "participant_muted"
	EventUnmuted  = "participant_unmuted"
	EventLocked   = "conference_locked"
	EventUnlocked = "conference_unlocked"
	EventStarted  = "conference_started"
	EventEnded    = "conference_ended"
	EventDeleted  = "conference_deleted"
	EventCreated  = "conference_created"
	// Role-based and asymmetric conferences (podium.go).
	EventHandRaised  = "hand_raised"
	EventHandLowered = "hand_lowered"
	EventPodiumGiven = "podium_given"
	EventPodiumTaken = "podium_taken"
	EventPresenter   = "presenter_changed"
	// E-mail invitations (guestmail.go); Target is the address.
	EventMailSent   = "invite_mailed"
	EventMailFailed = "invite_mail_failed"
	eventQueueSize  = 256
)

// Event is one thing that happened in a live conference, as the event
// stream (GET /api/v1/events) sends it. Seq increases by one per event of
// the Service, so a client sees from a gap that it missed some.
type Event struct {
	Seq           uint64    `json:"seq"`
	Type          string    `json:"type"`
	ConferenceID  string    `json:"conference_id"`
	ParticipantID string    `json:"participant_id,omitempty"`
	DisplayName   string    `json:"display_name,omitempty"`
	UserID        string    `json:"user_id,omitempty"`
	By            string    `json:"by,omitempty"` // the user who caused it, when one did
	Cause         string    `json:"cause,omitempty"`
	Target        string    `json:"target,omitempty"` // invite_* events: the call string, without secrets
	Time          time.Time `json:"time"`
}

// Subscription receives the events of a Service. A subscriber that does
// not keep up loses the oldest events, never blocks the Service: joins and
// leaves must not wait for an HTTP client.
type Subscription struct {
	c       chan Event
	b       *broker
	mu      sync.Mutex
	dropped uint64
	closed  bool
}

// C delivers the events; it is closed by Close.
func (sub *Subscription) C() <-chan Event { return sub.c }

// Dropped returns how many events were lost because the subscriber was
// slow.
func (sub *Subscription) Dropped() uint64 {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.dropped
}

// Close ends the subscription; it is idempotent.
func (sub *Subscription) Close() {
	sub.b.mu.Lock()
	delete(sub.b.subs, sub)
	sub.b.mu.Unlock()
	sub.mu.Lock()
	if !sub.closed {
		sub.closed = true
		close(sub.c)
	}
	sub.mu.Unlock()
}

// broker fans events out to subscriptions.
type broker struct {
	mu   sync.Mutex
	seq  uint64
	subs map[*Subscription]struct{}
}

func (b *broker) publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	e.Seq = b.seq
	for sub := range b.subs {
		sub.mu.Lock()
		if !sub.closed {
			for {
				select {
				case sub.c <- e:
				default:
					// Full: drop the oldest and try again.
					select {
					case <-sub.c:
						sub.dropped++
					default:
					}
					continue
				}
				break
			}
		}
		sub.mu.Unlock()
	}
}

// Subscribe returns a subscription to every event from now on. The caller
// must Close it.
func (s *Service) Subscribe() *Subscription {
	sub := &Subscription{c: make(chan Event, eventQueueSize), b: &s.events}
	s.events.mu.Lock()
	if s.events.subs == nil {
		s.events.subs = make(map[*Subscription]struct{})
	}
	s.events.subs[sub] = struct{}{}
	s.events.mu.Unlock()
	return sub
}

// emit publishes an event stamped with the Service's clock.
func (s *Service) emit(e Event) {
	e.Time = s.clock()
	s.events.publish(e)
}

// participantEvent is an event about p.
func participantEvent(typ string, p *Participant) Event {
	return Event{Type: typ, ConferenceID: p.confID, ParticipantID: p.id, DisplayName: p.displayName, UserID: p.userID}
}
