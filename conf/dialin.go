package conf

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/roomgate/roomgate/bridge/prompt"
)

// Dial-in calls (the contract is in dialin_api.go). Admit decides at once
// what it can: a refused call gets an error that signalling turns into its
// status, a call with everything it needs joins, and every other call goes
// to the lobby, a dialogue run by Call.Run on the call's own goroutine.
// Call.Run keeps that goroutine for the whole call: after the lobby it
// greets the caller and then reads his keys as in-call commands (incall.go)
// until End. Digit only queues keys, so signalling never waits for a rule,
// a prompt or the store.
//
// Timeouts (digit, entry, the last prompts before a hang-up) are the time
// package's timers, and the flood limit and PIN limits read the Service's
// clock; in production both are the wall clock, and the tests run calls in
// testing/synctest bubbles, where both are the bubble's fake time.

// Sentinels of dial-in calls. They wrap the contract's errors so that
// signalling that only knows those still answers right.
var (
	// ErrCoolDown refuses a call whose source address entered too many
	// wrong PINs recently (SIP 403, like every ErrUnauthorized).
	ErrCoolDown = fmt.Errorf("conf: source address in PIN cool-down: %w", ErrUnauthorized)
	// ErrWrongPIN is the hang-up cause of a call that entered too many
	// wrong PINs.
	ErrWrongPIN = fmt.Errorf("conf: too many wrong PINs: %w", ErrUnauthorized)
	// ErrLobbyTimeout is the hang-up cause of a lobby call that did not
	// finish its entries within IVRConfig.EntryTimeout.
	ErrLobbyTimeout = errors.New("conf: lobby entry timed out")
	// ErrNoConference is the hang-up cause of a lobby call that entered no
	// existing conference ID in its attempts.
	ErrNoConference = fmt.Errorf("conf: no existing conference entered: %w", ErrNotFound)
)

// Defaults of IVRConfig's zero fields; they match config's defaults.
const (
	DefaultDigitTimeout = 5 * time.Second
	DefaultEntryTimeout = 60 * time.Second
	DefaultAttempts     = 3
	DefaultPINFailures  = 10
	DefaultPINWindow    = 10 * time.Minute
	DefaultPINCooldown  = 15 * time.Minute
)

// Limits of a call's key handling.
const (
	// digitQueueCap is how many keys wait for the call's goroutine; more are
	// dropped (a caller cannot type faster than the flood limit allows
	// anyway, so only a stalled goroutine fills it).
	digitQueueCap = 32
	// digitRate and digitBurst are the flood limit: a token bucket of
	// digitBurst keys refilled at digitRate keys a second. People type
	// fewer than 10 keys a second; a flood is a broken or hostile peer.
	digitRate  = 20
	digitBurst = 20
	// promptDrain bounds how long a call about to be hung up waits for its
	// last prompts ("wrong PIN", "goodbye") to play.
	promptDrain = 15 * time.Second
)

// Prompt names conf plays beside those of bridge/prompt's first set.
const (
	promptUnlocked          = "unlocked"
	promptHelp              = "help"
	promptModerator         = "moderator"
	promptEnterModeratorPIN = "enter-moderator-pin"
	promptAllMuted          = "all-muted"
	promptRemoved           = "participant-removed"
	promptConfirmEnd        = "confirm-end"
	promptNotAllowed        = "not-allowed"
	promptTooManyAttempts   = "too-many-attempts"
)

// Where a wrong PIN was entered, as the metrics label it.
const (
	pinWhereDialString = "dial_string"
	pinWhereLobby      = "lobby"
	pinWhereInCall     = "in_call"
)

// ivrState is the Service's dial-in configuration and shared state. The
// options set it before the Service is used; afterwards only guard (which
// locks itself) changes.
type ivrState struct {
	cfg       IVRConfig
	keyMap    KeyMap
	announcer Announcer
	guard     *pinGuard
	metrics   *ivrMetrics
}

func newIVRState() *ivrState {
	iv := &ivrState{keyMap: defaultKeyMap(), metrics: newIVRMetrics()}
	iv.cfg = withIVRDefaults(IVRConfig{})
	iv.guard = newPINGuard(iv.cfg.PINFailures, iv.cfg.PINWindow, iv.cfg.PINCooldown, maxPINSources)
	return iv
}

// withIVRDefaults fills the zero (or negative) fields of cfg.
func withIVRDefaults(cfg IVRConfig) IVRConfig {
	if cfg.DigitTimeout <= 0 {
		cfg.DigitTimeout = DefaultDigitTimeout
	}
	if cfg.EntryTimeout <= 0 {
		cfg.EntryTimeout = DefaultEntryTimeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.PINFailures <= 0 {
		cfg.PINFailures = DefaultPINFailures
	}
	if cfg.PINWindow <= 0 {
		cfg.PINWindow = DefaultPINWindow
	}
	if cfg.PINCooldown <= 0 {
		cfg.PINCooldown = DefaultPINCooldown
	}
	cfg.LobbyNumbers = slices.Clone(cfg.LobbyNumbers)
	return cfg
}

// ivr returns the Service's dial-in state.
func (s *Service) ivr() *ivrState { return s.ivrs }

// WithIVR configures the lobby, the PIN limits and the default key map.
// Zero fields keep their defaults. A KeyMap that does not parse is logged
// and the built-in one used: cmd checks it with ParseKeyMap before, so that
// a bad setting stops start-up with a message naming the key.
func WithIVR(cfg IVRConfig) Option {
	return func(s *Service) {
		iv := s.ivr()
		iv.cfg = withIVRDefaults(cfg)
		iv.guard.configure(iv.cfg.PINFailures, iv.cfg.PINWindow, iv.cfg.PINCooldown)
		iv.keyMap = defaultKeyMap()
		if cfg.KeyMap != "" {
			km, err := ParseKeyMap(cfg.KeyMap)
			if err != nil {
				s.log.Warn("dtmf key map ignored; using the built-in one", "err", err)
			} else {
				iv.keyMap = km
			}
		}
	}
}

// WithAnnouncer sets what plays join and leave tones and announcements to
// a whole conference; without one there are none.
func WithAnnouncer(a Announcer) Option { return func(s *Service) { s.ivr().announcer = a } }

// Call is one dial-in call from Admit to End. Its methods are safe for
// concurrent use.
type Call struct {
	s   *Service
	iv  *ivrState
	leg InteractiveLeg
	in  DialIn // as admitted, without its PIN
	log *slog.Logger

	digits chan byte
	// ctx ends with End; its cause is End's.
	ctx    context.Context
	cancel context.CancelCauseFunc

	// Set by Admit before the call is shared, for the lobby.
	target      string        // the dialled conference when it exists
	unknownID   bool          // the call dialled a conference that does not exist
	dialWrong   bool          // the dial string carried a wrong PIN
	expired     chan struct{} // closed when EntryTimeout passed in the lobby
	expiredOnce sync.Once

	mu         sync.Mutex
	entryTimer *time.Timer  // the lobby's EntryTimeout; nil for a direct call
	p          *Participant // nil while in the lobby
	room       string
	tones      bool // the conference has join and leave tones
	ended      bool
	running    bool
	dialogue   bool // Run is in the lobby dialogue
	// expiryClaimed is set by whoever hangs up a lobby call that Run
	// left at the entry timeout.
	expiryClaimed bool
	tokens        float64
	refilled      time.Time
	floodLogged   bool

	// Used by the call's goroutine only.
	pinFailures  int
	listen, talk int
}

// Admit decides about an incoming call before it is answered (see
// dialin_api.go). It returns the Join errors of a refused direct dial-in,
// ErrCoolDown for a source address in the PIN cool-down, and a
// *ValidationError for a DialIn without a leg. A call that goes to the
// lobby has its EntryTimeout running from now: whatever signalling does,
// the lobby never keeps a leg longer.
func (s *Service) Admit(ctx context.Context, d DialIn) (*Call, error) {
	if d.Leg == nil {
		return nil, invalid("leg", "is required")
	}
	iv := s.ivr()
	if cooling, until := iv.guard.coolingDown(d.SourceIP, s.now()); cooling {
		iv.metrics.pinRefused.Inc()
		s.log.WarnContext(ctx, "call refused: source in PIN cool-down", "conf", truncate(d.ConferenceID, MaxIDLen),
			"source", d.SourceIP, "until", until)
		return nil, fmt.Errorf("admitting a call from %s: %w", d.SourceIP, ErrCoolDown)
	}
	pin := d.PIN
	d.PIN = ""
	callCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	c := &Call{
		s: s, iv: iv, leg: d.Leg, in: d,
		log:      s.log.With("source", d.SourceIP, "remote", d.Remote),
		digits:   make(chan byte, digitQueueCap),
		ctx:      callCtx,
		cancel:   cancel,
		expired:  make(chan struct{}),
		tokens:   digitBurst,
		refilled: s.now(),
	}
	p, _, lobby, err := s.admitDirect(ctx, c, d, pin)
	if err != nil {
		cancel(err)
		return nil, err
	}
	if !lobby {
		c.p, c.room = p, p.confID
		c.log.InfoContext(ctx, "call admitted", "conf", p.confID, "leg", p.id, "protocol", d.Protocol)
		return c, nil
	}
	id, err := randomID(s.rand)
	if err != nil {
		cancel(err)
		return nil, fmt.Errorf("admitting a call to the lobby: generating its room: %w", err)
	}
	c.room = "lobby-" + id
	c.log = c.log.With("lobby", c.room)
	c.mu.Lock() // entryExpired and End read the timer under it
	c.entryTimer = time.AfterFunc(iv.cfg.EntryTimeout, c.entryExpired)
	c.mu.Unlock()
	c.log.InfoContext(ctx, "call sent to the lobby", "dialled", truncate(d.ConferenceID, MaxIDLen),
		"known", c.target != "", "protocol", d.Protocol)
	return c, nil
}

// admitDirect joins the call now when the dialled conference exists and
// needs no PIN or got the right one; lobby is true when the caller must be
// asked something first.
func (s *Service) admitDirect(ctx context.Context, c *Call, d DialIn, pin string) (p *Participant, role string, lobby bool, err error) {
	if d.ConferenceID == "" || slices.Contains(c.iv.cfg.LobbyNumbers, d.ConferenceID) {
		return nil, "", true, nil
	}
	conf, err := s.GetConference(ctx, d.ConferenceID)
	switch {
	case errors.Is(err, ErrNotFound):
		c.unknownID = true
		return nil, "", true, nil
	case err != nil:
		return nil, "", false, fmt.Errorf("admitting a call to conference %s: %w", d.ConferenceID, err)
	}
	c.target, c.tones = conf.ID, conf.Tones != TonesOff
	switch {
	case pin != "" && samePIN(pin, conf.ModeratorPIN):
		role = RoleModerator
	case pin != "" && samePIN(pin, conf.PIN):
	case pin != "" && (conf.PIN != "" || conf.ModeratorPIN != ""):
		c.dialWrong = true
		c.pinFailures++
		if hangup, cause := c.pinFailed(ctx, conf.ID, pinWhereDialString); hangup && errors.Is(cause, ErrCoolDown) {
			return nil, "", false, fmt.Errorf("admitting a call to conference %s: %w", conf.ID, cause)
		}
		return nil, "", true, nil
	case conf.PIN != "":
		return nil, "", true, nil
	}
	p, err = s.Join(ctx, JoinRequest{asModerator: role == RoleModerator, ConferenceID: conf.ID, DisplayName: d.DisplayName, Protocol: d.Protocol,
		Remote: d.Remote, Leg: d.Leg})
	if err != nil {
		return nil, "", false, fmt.Errorf("admitting a call: %w", err)
	}
	return p, role, false, nil
}

// samePIN compares an entered PIN with a conference's in constant time;
// an unset PIN matches nothing.
func samePIN(entered, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(entered), []byte(want)) == 1
}

// pinFailed counts a wrong PIN of this call (c.pinFailures, already
// incremented by the caller) and of its source address. It reports whether
// the call must be hung up, and why. The PIN itself is never logged.
func (c *Call) pinFailed(ctx context.Context, confID, where string) (hangup bool, cause error) {
	m := c.iv.metrics
	m.pinFailures.WithLabelValues(where).Inc()
	started, cooling := c.iv.guard.fail(c.in.SourceIP, c.s.now())
	c.log.WarnContext(ctx, "wrong PIN", "conf", confID, "where", where, "call_failures", c.pinFailures)
	if started {
		m.pinCooldowns.Inc()
		c.log.WarnContext(ctx, "source address refused for the PIN cool-down", "conf", confID,
			"cooldown", c.iv.cfg.PINCooldown)
	}
	switch {
	case cooling:
		m.pinRefused.Inc()
		return true, ErrCoolDown
	case c.pinFailures >= maxCallPINFailures:
		m.pinRefused.Inc()
		return true, ErrWrongPIN
	}
	return false, nil
}

// promote makes p a moderator during the call (he entered the moderator
// PIN after *9); the owner stays owner. Callers who prove the moderator PIN
// before joining join as moderators instead (JoinRequest.asModerator).
func (c *Call) promote(ctx context.Context, p *Participant, how string) {
	if isChair(p) {
		return
	}
	p.setRole(RoleModerator)
	c.log.InfoContext(ctx, "participant is moderator by PIN", "conf", p.confID, "leg", p.id, "via", how)
}

// Room is the bridge room of the call's media: its conference, or a
// private lobby room until the lobby moved it into one.
func (c *Call) Room() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.room
}

// Participant is the call's participant, nil while it is in the lobby.
func (c *Call) Participant() *Participant {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p
}

// Digit hands a key the caller pressed to the call. It never blocks: the
// key is queued for the call's goroutine, or dropped and counted when it
// is not 0-9*#A-D, when the caller sends more than digitRate keys a second
// (beyond a burst of digitBurst), or when the queue is full.
func (c *Call) Digit(d rune) {
	m := c.iv.metrics
	if !validKey(d) {
		m.digitsDropped.WithLabelValues(digitInvalid).Inc()
		return
	}
	now := c.s.now()
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	if dt := now.Sub(c.refilled); dt > 0 {
		c.tokens = min(digitBurst, c.tokens+dt.Seconds()*digitRate)
		c.refilled = now
	}
	if c.tokens < 1 {
		first := !c.floodLogged
		c.floodLogged = true
		c.mu.Unlock()
		m.digitsDropped.WithLabelValues(digitFlood).Inc()
		if first {
			c.log.Warn("DTMF flood: keys dropped", "limit_per_second", digitRate)
		}
		return
	}
	c.tokens--
	c.mu.Unlock()
	select {
	case c.digits <- byte(d):
	default:
		m.digitsDropped.WithLabelValues(digitQueue).Inc()
	}
}

// End ends the call with cause (nil for a normal hang-up): it leaves the
// conference, stops the call's timers and makes Run return. It is
// idempotent and does not wait for Run, so that a leg may call it from
// Hangup.
func (c *Call) End(cause error) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	p, tones, timer := c.p, c.tones, c.entryTimer
	c.mu.Unlock()
	if cause == nil {
		c.cancel(context.Canceled)
	} else {
		c.cancel(cause)
	}
	if timer != nil {
		timer.Stop()
	}
	if p == nil {
		c.log.Info("lobby call ended", "cause", causeText(cause))
		return
	}
	c.s.Leave(p, cause)
	if tones && c.s.LiveCount(p.confID) > 0 {
		c.announce(p.confID, prompt.Leave)
	}
}

// announce plays names to conference confID's room when there is an
// Announcer.
func (c *Call) announce(confID string, names ...string) {
	a := c.iv.announcer
	if a == nil {
		return
	}
	if err := a.Announce(confID, names...); err != nil {
		c.log.Warn("announcing to the conference", "conf", confID, "prompts", names, "err", err)
	}
}

// TonesOff is the Conference.Tones value that silences join and leave
// tones.
const TonesOff = "off"

// TonesOn is the default Conference.Tones value: join and leave tones play.
const TonesOn = "on"

// entryExpired runs when EntryTimeout passed since Admit: a call still in
// the lobby ends. When Run is not there to say goodbye, the call is hung up
// here.
func (c *Call) entryExpired() {
	c.expiredOnce.Do(func() { close(c.expired) })
	c.mu.Lock()
	idle := !c.dialogue && c.claimExpiryLocked()
	c.mu.Unlock()
	if idle {
		c.iv.metrics.lobby.WithLabelValues(lobbyTimeout).Inc()
		c.log.Warn("lobby call hung up: entry timeout before the dialogue started")
		c.leg.Hangup(ErrLobbyTimeout)
		c.End(ErrLobbyTimeout)
	}
}

// claimExpiryLocked reports whether the entry timeout must still hang the
// call up, and makes sure only one caller does; c.mu must be held.
func (c *Call) claimExpiryLocked() bool {
	if c.ended || c.p != nil || c.expiryClaimed {
		return false
	}
	c.expiryClaimed = true
	return true
}

// Run carries the call after it was answered: the lobby dialogue when it
// has one, then the greetings, then the caller's keys as in-call commands.
// It returns when the call ended (End, a lobby failure, which hangs the
// leg up) or ctx is done; a second Run returns at once.
func (c *Call) Run(ctx context.Context) {
	c.mu.Lock()
	if c.running || c.ended {
		c.mu.Unlock()
		return
	}
	c.running = true
	p := c.p
	c.dialogue = p == nil
	c.mu.Unlock()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(c.ctx, func() { cancel(context.Cause(c.ctx)) })
	defer stop()
	if p == nil {
		var ok bool
		p, ok = c.lobby(ctx)
		c.mu.Lock()
		c.dialogue = false
		c.mu.Unlock()
		if !ok {
			// Left without a hang-up (ctx ended): the entry timer hangs
			// up when it fires, or now if it already has.
			select {
			case <-c.expired:
				c.mu.Lock()
				stuck := c.claimExpiryLocked()
				c.mu.Unlock()
				if stuck {
					c.hangup(ctx, ErrLobbyTimeout)
				}
			default:
			}
			return
		}
	}
	c.inCall(ctx, p)
}

// hangup plays the last prompts (waiting for them at most promptDrain),
// hangs the leg up with cause and ends the call.
func (c *Call) hangup(ctx context.Context, cause error, names ...string) {
	if len(names) > 0 && ctx.Err() == nil {
		done := c.leg.Play(names...)
		t := time.NewTimer(promptDrain)
		select {
		case <-done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	c.leg.Hangup(cause)
	c.End(cause)
}
