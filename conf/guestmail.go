package conf

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// E-mail invitations. A public conference may invite people who are in no
// address book by their e-mail address, written as a mailto: target
// ("mailto:ann@example.com", RFC 6068): a bare "ann@example.com" is a SIP
// address of another server (callstring.go), so the scheme is what tells
// the two apart. Internal conferences admit only address-book users, so
// validation refuses e-mail invitations there.
//
// When such invitations are added (a conference created with them, an
// update or an invitation that names new ones) the Mailer configured with
// WithMailer is asked to send them, in the background: a slow or failing
// SMTP server never fails or delays the API call that added them. Sends
// are bounded (maxMailSends at once, maxMailPending queued; beyond that an
// invitation is dropped with a warning), each has mailSendTimeout, and
// every outcome is logged and published as EventMailSent or
// EventMailFailed. StopMailing cancels and waits for them.

// MailtoScheme prefixes an e-mail invitation target.
const MailtoScheme = "mailto:"

const (
	// maxMailSends bounds the SMTP conversations in flight.
	maxMailSends = 4
	// maxMailPending bounds the sends waiting for one of them; a burst
	// beyond it is dropped rather than held in memory without limit.
	maxMailPending = 256
	// mailSendTimeout bounds one send, SMTP dialogue included.
	mailSendTimeout = 2 * time.Minute
)

// mailState is the Service's e-mail sender and its sends in flight.
type mailState struct {
	mailer Mailer
	sem    chan struct{} // a token per SMTP conversation in flight

	mu      sync.Mutex
	pending int // sends started and not finished, waiting ones included
	stopped bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// WithMailer makes the Service mail the e-mail invitations of public
// conferences through m (cmd wires the SMTP sender when smtp.host is set).
// Without it they are stored and shown, but not sent.
func WithMailer(m Mailer) Option {
	return func(s *Service) {
		s.mail.mailer = m
		s.mail.sem = make(chan struct{}, maxMailSends)
	}
}

// EmailTarget returns the address of an e-mail invitation target
// ("mailto:ann@example.com", the scheme in any case) and whether target
// is one.
func EmailTarget(target string) (string, bool) {
	if len(target) < len(MailtoScheme) || !strings.EqualFold(target[:len(MailtoScheme)], MailtoScheme) {
		return "", false
	}
	return target[len(MailtoScheme):], true
}

// mailNewInvitations sends c's e-mail invitations that before did not
// have. It never fails: problems are logged and published as events.
func (s *Service) mailNewInvitations(ctx context.Context, before []Invitation, c Conference) {
	if s.mail.mailer == nil || c.Access != AccessPublic {
		return
	}
	had := make(map[string]bool, len(before))
	for _, inv := range before {
		if addr, ok := EmailTarget(inv.Target); ok {
			had[strings.ToLower(addr)] = true
		}
	}
	var to []string
	for _, inv := range c.Invitations {
		if addr, ok := EmailTarget(inv.Target); ok && !had[strings.ToLower(addr)] {
			to = append(to, addr)
		}
	}
	if len(to) == 0 {
		return
	}
	m := &s.mail
	m.mu.Lock()
	if m.stopped || m.pending >= maxMailPending {
		why := "the server is stopping"
		if !m.stopped {
			why = "too many invitations are waiting to be mailed"
		}
		m.mu.Unlock()
		s.log.WarnContext(ctx, "e-mail invitations not sent", "conf", c.ID, "to", len(to), "why", why)
		s.emitMail(EventMailFailed, c.ID, to, why)
		return
	}
	if m.ctx == nil {
		// The sends outlive the request that added the invitations.
		m.ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	}
	m.pending++
	m.wg.Add(1)
	base := m.ctx
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		defer func() {
			m.mu.Lock()
			m.pending--
			m.mu.Unlock()
		}()
		select {
		case m.sem <- struct{}{}:
			defer func() { <-m.sem }()
		case <-base.Done():
			s.emitMail(EventMailFailed, c.ID, to, "the server is stopping")
			return
		}
		sctx, cancel := context.WithTimeout(base, mailSendTimeout)
		defer cancel()
		if err := m.mailer.SendInvitation(sctx, c, to); err != nil {
			s.log.WarnContext(sctx, "e-mail invitations failed", "conf", c.ID, "to", len(to), "err", err)
			s.emitMail(EventMailFailed, c.ID, to, strings.TrimPrefix(err.Error(), "conf: "))
			return
		}
		s.log.InfoContext(sctx, "e-mail invitations sent", "conf", c.ID, "to", len(to))
		s.emitMail(EventMailSent, c.ID, to, "")
	}()
}

// emitMail publishes one event per address.
func (s *Service) emitMail(typ, confID string, to []string, cause string) {
	for _, a := range to {
		s.emit(Event{Type: typ, ConferenceID: confID, Target: a, Cause: cause})
	}
}

// StopMailing cancels the e-mail invitations being sent, refuses new ones
// and waits for the sends to return. Call it before closing the Service;
// it is idempotent.
func (s *Service) StopMailing() {
	m := &s.mail
	m.mu.Lock()
	m.stopped = true
	if m.cancel != nil {
		m.cancel()
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// DrainMail refuses new e-mail invitations and waits for those being sent
// until ctx ends, then cancels what is left (StopMailing). The CLI, which
// exits right after its one action, calls it so that the invitations it
// added are mailed rather than cut off.
func (s *Service) DrainMail(ctx context.Context) error {
	m := &s.mail
	m.mu.Lock()
	m.stopped = true // no Add after this: Wait below is not racing one
	m.mu.Unlock()
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.StopMailing() // the sends return, and so does the goroutine above
		<-done
		return fmt.Errorf("sending e-mail invitations: %w", context.Cause(ctx))
	}
}
