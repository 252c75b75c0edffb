package conf

import (
	"context"
	"errors"
	"time"
)

// Calling the invitees of a scheduled conference at its start. When
// CheckSchedules sees an occurrence begin it calls every invitation of the
// conference that can be called (addresses, users on their registered
// devices, group members); mailto: invitations were mailed when they were
// added, and conferences are not dialled. A call that fails (busy, no
// answer, nobody registered yet is not retried: there is nothing to call)
// is tried again up to WithInviteRetries' count, its interval apart, as
// long as the conference is still running.
//
// The calls are placed on behalf of the conference's owner, so his
// dial-out rule applies: a conference scheduled by a user whose rule is
// "internal" never makes the server call a telephone number, whatever its
// invitations say. A conference without an owner (made from the command
// line) calls with the rights of the system.

// retryPolicy is how often a failed call is tried again.
type retryPolicy struct {
	retries  int
	interval time.Duration
}

// wait sleeps one interval; it reports false when ctx ended first.
func (r *retryPolicy) wait(ctx context.Context) bool {
	t := time.NewTimer(r.interval)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// stillWanted reports whether a retry of req is still useful: its
// conference exists and runs.
func (s *Service) stillWanted(req DialRequest) bool {
	c, err := s.GetConference(context.Background(), req.ConferenceID)
	return err == nil && c.State == StateRunning
}

// callInviteesAtStart calls the invitees of conference c, whose scheduled
// occurrence just began. It never fails: what cannot be called is logged
// and published as an event.
func (s *Service) callInviteesAtStart(ctx context.Context, c Conference) {
	if len(c.Invitations) == 0 {
		return
	}
	actor := System()
	if c.Owner != "" {
		u, err := s.store.GetUser(ctx, c.Owner)
		if err != nil {
			s.log.WarnContext(ctx, "not calling invitees: reading the owner", "conf", c.ID, "owner", c.Owner, "err", err)
			return
		}
		actor = u
	}
	var retry *retryPolicy
	if st := &s.dial.users; st.retryInterval > 0 {
		retry = &retryPolicy{retries: st.retries, interval: st.retryInterval}
	}
	called := 0
	for _, inv := range c.Invitations {
		if _, mail := EmailTarget(inv.Target); mail {
			continue
		}
		t, err := ParseCallString(inv.Target)
		if err != nil || t.Kind == TargetConference {
			continue
		}
		if err := mayDial(actor, t); err != nil {
			s.log.WarnContext(ctx, "not calling invitee: the owner's dial-out rule forbids it", "conf", c.ID,
				"owner", actor.ID, "rule", DialOutRule(actor), "target", t.Display)
			s.emit(Event{Type: EventDialSkipped, ConferenceID: c.ID, Target: t.Display, By: actor.ID,
				Cause: "the owner's dial-out rule forbids calling it"})
			continue
		}
		res := s.dialTarget(ctx, actor, c, t, inv.Moderator, retry)
		if res.Status == DialStatusDialing {
			called++
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			return
		}
	}
	s.log.InfoContext(ctx, "scheduled conference calls its invitees", "conf", c.ID, "invitations", len(c.Invitations), "calling", called)
}
