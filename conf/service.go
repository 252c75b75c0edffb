package conf

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/roomgate/roomgate/bridge/prompt"
	"io"
	"log/slog"
	"math/big"
	"runtime"
	"sync"
	"time"
)

// Service is the conference domain: it validates and stores conferences,
// admits live legs into them, and authenticates API users. It is safe for
// concurrent use; signalling packages, the REST API and the CLI all go
// through it so that rules live in one place.
//
// Live participants are kept in memory only: a leg cannot outlive the
// process that carries its media, so there is nothing to restore after a
// restart. Persistent state (conferences, users, tokens, call records) is
// in the Store.
type Service struct {
	store     Store
	recorder  CallRecorder  // nil when the store keeps no call records
	book      AddressBook   // nil when the store keeps no address book
	bans      BanStore      // nil when the store cannot remember removals
	templates TemplateStore // nil when the store keeps no templates
	layouts   LayoutStore   // nil when the store keeps no layouts
	log       *slog.Logger
	now       func() time.Time
	rand      io.Reader
	tokenTTL  time.Duration
	pwIter    int
	hashSem   chan struct{} // bounds concurrent password hashing in IssueToken
	metrics   *metrics
	ivrs      *ivrState // the lobby's, PIN guard's and DTMF commands' state (dialin.go)

	mu sync.Mutex
	// gen counts changes to stored conferences (update, delete). Join reads
	// the conference without holding mu and admits only if gen is unchanged,
	// so a leg can never slip into a conference deleted or locked meanwhile.
	gen   uint64
	rooms map[string]*room // conference ID -> live legs
	// started holds conferences started with Run that have not ended;
	// ended holds those ended for all since their last participant or Run.
	// Both are in memory: a restart forgets them as it forgets legs.
	started map[string]bool
	ended   map[string]bool
	// occ is the occurrence CheckSchedules saw start, per scheduled
	// conference; extension how far ExtendConference moved its end.
	occ       map[string]occurrence
	extension map[string]time.Duration
	// closed holds the start of the occurrence a moderator ended for all:
	// it stays closed until the next one (or RunConference).
	closed map[string]time.Time
	// presenter is the participant a moderator made the presenter of an
	// asymmetric conference; absent: the owner presents (podium.go).
	presenter map[string]string

	events broker

	mail mailState // e-mail invitations being sent (guestmail.go)

	cdr cdrQueue // call records waiting to be written

	dial dialState // dialers and invitation calls in flight (dialer.go)
}

// room holds the live participants of one conference.
type room struct {
	legs map[string]*Participant
}

// Option changes a default of NewService.
type Option func(*Service)

// WithClock replaces time.Now, so that tests control token expiry and
// schedules.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithRandom replaces crypto/rand as the source of IDs, salts and tokens.
func WithRandom(r io.Reader) Option { return func(s *Service) { s.rand = r } }

// WithTokenTTL sets how long an issued API token is valid (default 24 h).
func WithTokenTTL(d time.Duration) Option {
	return func(s *Service) {
		if d > 0 {
			s.tokenTTL = d
		}
	}
}

// WithPasswordIterations sets the PBKDF2 iteration count for new password
// hashes (default DefaultPasswordIterations). Existing hashes keep the count
// they were made with. Tests lower it to stay fast under the race detector;
// production code should not.
func WithPasswordIterations(n int) Option {
	return func(s *Service) {
		if n > 0 {
			s.pwIter = n
		}
	}
}

// NewService returns a Service over st. If st also implements CallRecorder,
// a call record is written for every leg that leaves; call Close before
// closing st so that none is lost.
func NewService(st Store, log *slog.Logger, opts ...Option) *Service {
	iv := newIVRState()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		store:     st,
		log:       log, // the caller names the component (cmd adds component=conf)
		now:       time.Now,
		rand:      rand.Reader,
		tokenTTL:  DefaultTokenTTL,
		pwIter:    DefaultPasswordIterations,
		rooms:     make(map[string]*room),
		started:   make(map[string]bool),
		ended:     make(map[string]bool),
		occ:       make(map[string]occurrence),
		extension: make(map[string]time.Duration),
		closed:    make(map[string]time.Time),
		presenter: make(map[string]string),
		hashSem:   make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
		ivrs:      iv,
		metrics:   newMetrics(iv.metrics.collectors()...),
	}
	if r, ok := st.(CallRecorder); ok {
		s.recorder = r
	}
	if b, ok := st.(AddressBook); ok {
		s.book = b
	}
	if b, ok := st.(BanStore); ok {
		s.bans = b
	}
	if t, ok := st.(TemplateStore); ok {
		s.templates = t
	}
	if l, ok := st.(LayoutStore); ok {
		s.layouts = l
	}
	for _, o := range opts {
		o(s)
	}
	if err := s.metrics.registerErr; err != nil {
		s.log.Warn("registering conf metrics", "err", err)
	}
	return s
}

// clock returns the current time in UTC at the precision the store keeps.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// CreateConference validates c, fills its defaults, generates a numeric ID
// when c.ID is empty, and stores it. It returns the conference as stored
// (ErrExists when the ID is taken, a *ValidationError when a field is wrong).
func (s *Service) CreateConference(ctx context.Context, c Conference) (Conference, error) {
	now := s.clock()
	if err := ValidateConference(&c, now); err != nil {
		return Conference{}, err
	}
	c.CreatedAt, c.UpdatedAt, c.State = now, now, StateIdle
	if c.ID != "" {
		if err := s.store.CreateConference(ctx, c); err != nil {
			return Conference{}, fmt.Errorf("creating conference %s: %w", c.ID, err)
		}
		s.log.InfoContext(ctx, "conference created", "conf", c.ID, "name", c.Name)
		s.emit(Event{Type: EventCreated, ConferenceID: c.ID})
		s.mailNewInvitations(ctx, nil, c)
		return c, nil
	}
	// A random ID that is not in use: insert and retry on collision, with
	// more digits after a few tries so that a crowded space still works.
	for try := range maxGeneratedIDTries {
		id, err := s.randomDigits(generatedIDDigits + try/5)
		if err != nil {
			return Conference{}, fmt.Errorf("generating conference ID: %w", err)
		}
		c.ID = id
		err = s.store.CreateConference(ctx, c)
		if errors.Is(err, ErrExists) {
			continue
		}
		if err != nil {
			return Conference{}, fmt.Errorf("creating conference %s: %w", c.ID, err)
		}
		s.log.InfoContext(ctx, "conference created", "conf", c.ID, "name", c.Name)
		s.emit(Event{Type: EventCreated, ConferenceID: c.ID})
		s.mailNewInvitations(ctx, nil, c)
		return c, nil
	}
	return Conference{}, fmt.Errorf("generating conference ID: no free ID after %d tries: %w", maxGeneratedIDTries, ErrExists)
}

// randomDigits returns n random decimal digits, the first not zero (so the
// ID reads the same as a number and on a keypad).
func (s *Service) randomDigits(n int) (string, error) {
	b := make([]byte, n)
	for i := range b {
		limit := int64(10)
		if i == 0 {
			limit = 9
		}
		v, err := rand.Int(s.rand, big.NewInt(limit))
		if err != nil {
			return "", err
		}
		b[i] = byte('0' + v.Int64())
		if i == 0 {
			b[i]++
		}
	}
	return string(b), nil
}

// GetConference returns the stored conference id with State reflecting its
// live legs (ErrNotFound when there is none).
func (s *Service) GetConference(ctx context.Context, id string) (Conference, error) {
	if !ValidConferenceID(id) {
		return Conference{}, fmt.Errorf("getting conference %q: %w", truncate(id, MaxIDLen), ErrNotFound)
	}
	c, err := s.store.GetConference(ctx, id)
	if err != nil {
		return Conference{}, fmt.Errorf("getting conference %s: %w", id, err)
	}
	s.mu.Lock()
	s.setState(&c)
	s.mu.Unlock()
	return c, nil
}

// ListConferences returns every stored conference, ordered by ID as the
// store returns them, each with its live State.
func (s *Service) ListConferences(ctx context.Context) ([]Conference, error) {
	cs, err := s.store.ListConferences(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing conferences: %w", err)
	}
	s.mu.Lock()
	for i := range cs {
		s.setState(&cs[i])
	}
	s.mu.Unlock()
	if cs == nil {
		cs = []Conference{}
	}
	return cs, nil
}

// setState sets c.State from the live legs, Run and Stop; s.mu must be
// held. A conference runs while someone is in it or after Run until Stop;
// it is ended after Stop until someone joins or it is run again.
func (s *Service) setState(c *Conference) {
	switch r := s.rooms[c.ID]; {
	case r != nil && len(r.legs) > 0, s.started[c.ID]:
		c.State = StateRunning
	case s.ended[c.ID]:
		c.State = StateEnded
	default:
		c.State = StateIdle
	}
}

// UpdateConference replaces the settings of the existing conference c.ID
// with c (validated, defaults filled). CreatedAt is kept, and so is the
// owner when c names none; a one-off schedule
// is checked against the clock only when it changed. Live legs stay, even if
// the new MaxParticipants is lower than their number; new joins see the new
// settings at once.
func (s *Service) UpdateConference(ctx context.Context, c Conference) (Conference, error) {
	if c.ID == "" {
		return Conference{}, invalid("id", "is required")
	}
	if err := validateConference(&c); err != nil {
		return Conference{}, err
	}
	old, err := s.store.GetConference(ctx, c.ID)
	if err != nil {
		return Conference{}, fmt.Errorf("updating conference %s: %w", c.ID, err)
	}
	if err := s.checkModeLayout(ctx, c); err != nil {
		return Conference{}, err
	}
	if c.Mode != old.Mode && s.LiveCount(c.ID) > 0 {
		// Who is a listener was decided as each participant joined.
		return Conference{}, fmt.Errorf("updating conference %s: the mode cannot change while participants are in it: %w",
			c.ID, ErrConflict)
	}
	now := s.clock()
	if !sameSchedule(old.Schedule, c.Schedule) {
		if err := checkScheduleFuture(c.Schedule, now); err != nil {
			return Conference{}, err
		}
	}
	c.CreatedAt, c.UpdatedAt = old.CreatedAt, now
	if c.Owner == "" {
		c.Owner = old.Owner // a PUT without an owner does not orphan the conference
	}
	// Inviting someone again is what lifts his removal: do it before the
	// conference is written, so that a failure leaves him banned and
	// uninvited rather than invited and still refused.
	if err := s.liftBansOfNewInvitations(ctx, old, c); err != nil {
		return Conference{}, fmt.Errorf("updating conference %s: %w", c.ID, err)
	}
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
	if err := s.store.UpdateConference(ctx, c); err != nil {
		return Conference{}, fmt.Errorf("updating conference %s: %w", c.ID, err)
	}
	s.mu.Lock()
	s.gen++
	s.setState(&c)
	s.refreshRulesLocked(c)
	s.mu.Unlock()
	s.log.InfoContext(ctx, "conference updated", "conf", c.ID)
	s.mailNewInvitations(ctx, old.Invitations, c)
	return c, nil
}

func sameSchedule(a, b Schedule) bool {
	if a.Type != b.Type || !a.Start.Equal(b.Start) || a.DurationMinutes != b.DurationMinutes ||
		a.TimeZone != b.TimeZone || len(a.Days) != len(b.Days) {
		return false
	}
	for i := range a.Days {
		if a.Days[i] != b.Days[i] {
			return false
		}
	}
	return true
}

// DeleteConference removes conference id from the store and hangs up its
// live legs with cause ErrConferenceDeleted (ErrNotFound when there is no
// such conference). The legs are removed from the conference at once and
// their call records written; a later Leave for them does nothing.
func (s *Service) DeleteConference(ctx context.Context, id string) error {
	if !ValidConferenceID(id) {
		return fmt.Errorf("deleting conference %q: %w", truncate(id, MaxIDLen), ErrNotFound)
	}
	s.mu.Lock()
	s.gen++ // joins that read the conference before the delete must retry
	s.mu.Unlock()
	if err := s.store.DeleteConference(ctx, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			// Deleted by another process already: its legs here must go too.
			s.endRoom(id, ErrConferenceDeleted)
		}
		return fmt.Errorf("deleting conference %s: %w", id, err)
	}
	n := s.endRoom(id, ErrConferenceDeleted)
	s.mu.Lock()
	delete(s.started, id)
	delete(s.ended, id)
	delete(s.occ, id)
	delete(s.extension, id)
	delete(s.closed, id)
	s.mu.Unlock()
	s.emit(Event{Type: EventDeleted, ConferenceID: id})
	s.log.InfoContext(ctx, "conference deleted", "conf", id, "legs", n)
	return nil
}

// endRoom removes every live leg of conference id, hangs them up with
// cause and queues their call records. It returns how many there were.
// Hangup is called without the lock.
func (s *Service) endRoom(id string, cause error) int {
	s.mu.Lock()
	s.gen++
	var gone []*Participant
	if r := s.rooms[id]; r != nil {
		for _, p := range r.legs {
			p.left = true
			gone = append(gone, p)
		}
		delete(s.rooms, id)
	}
	delete(s.presenter, id)
	s.metrics.leaves.Add(float64(len(gone)))
	s.metrics.live.Sub(float64(len(gone)))
	s.mu.Unlock()
	ended := s.clock()
	for _, p := range gone {
		s.hangupWithGoodbye(p.leg, cause)
		s.recordCall(p, ended, cause)
		e := participantEvent(EventLeft, p)
		e.Cause = causeText(cause)
		s.emit(e)
	}
	return len(gone)
}

// goodbyeWait bounds how long a leg that can hear prompts keeps its call
// to hear "the conference has ended" before it is hung up.
const goodbyeWait = 5 * time.Second

// hangupWithGoodbye hangs leg up with cause; a leg that can hear prompts
// first hears that the conference has ended. The participant is already
// gone from the conference; only the signalling hang-up waits, on a
// goroutine of its own, so that ending a conference never blocks.
func (s *Service) hangupWithGoodbye(leg LegHandle, cause error) {
	il, ok := leg.(InteractiveLeg)
	if !ok {
		leg.Hangup(cause)
		return
	}
	played := il.Play(prompt.ConferenceEnded)
	go func() {
		t := time.NewTimer(goodbyeWait)
		defer t.Stop()
		select {
		case <-played:
		case <-t.C:
		}
		leg.Hangup(cause)
	}()
}

// ReconcileDeleted hangs up the live legs of conferences that are gone
// from the store: deleted by another process sharing the database (the
// CLI), which cannot reach this process's legs. It costs one indexed read
// per running conference.
func (s *Service) ReconcileDeleted(ctx context.Context) error {
	s.mu.Lock()
	ids := make([]string, 0, len(s.rooms))
	for id := range s.rooms {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		_, err := s.store.GetConference(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			if n := s.endRoom(id, ErrConferenceDeleted); n > 0 {
				s.log.InfoContext(ctx, "conference deleted elsewhere; legs hung up", "conf", id, "legs", n)
			}
		case err != nil:
			return fmt.Errorf("checking conference %s: %w", id, err)
		}
	}
	return nil
}

// DefaultReconcileInterval is how often Run looks for conferences deleted
// by another process.
const DefaultReconcileInterval = 2 * time.Second

// Run does the Service's background work until ctx ends: every interval
// (DefaultReconcileInterval when not positive) it calls ReconcileDeleted
// and CheckSchedules.
// The server runs it in a goroutine; one-shot users (the CLI) need not.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultReconcileInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.ReconcileDeleted(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "reconciling deleted conferences", "err", err)
			}
			if err := s.CheckSchedules(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "checking schedules", "err", err)
			}
		}
	}
}
