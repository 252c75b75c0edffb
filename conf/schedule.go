package conf

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Running scheduled conferences. A conference with a schedule runs during
// each occurrence: it may be joined from the start, and at the end (plus
// any extension) every leg is hung up with ErrScheduleEnded. Before its
// time it refuses callers with ErrNotStarted unless the owner, or someone
// with the right, started it early (RunConference, or the owner dialling
// in). A virtual room (schedule "none") runs whenever someone is in it.
//
// Join decides from the clock directly, so admission never waits for a
// tick; CheckSchedules, called by Run every interval, does what needs no
// caller: announcing starts and ending conferences at their end.

// ScheduledLister is implemented by stores that can list only the
// conferences with a schedule, which CheckSchedules reads every few
// seconds; without it every conference is read.
type ScheduledLister interface {
	ListScheduledConferences(ctx context.Context) ([]Conference, error)
}

// MaxExtensionMinutes bounds how far one occurrence can be extended.
const MaxExtensionMinutes = 24 * 60

// occurrence is one run of a scheduled conference.
type occurrence struct {
	start, end time.Time
}

// occurrenceAt returns the occurrence of sc under way at now, if any.
func occurrenceAt(sc Schedule, now time.Time) (occurrence, bool) {
	dur := time.Duration(sc.DurationMinutes) * time.Minute
	switch sc.Type {
	case ScheduleOnce:
		o := occurrence{sc.Start, sc.Start.Add(dur)}
		return o, !now.Before(o.start) && now.Before(o.end)
	case ScheduleWeekly:
		loc := time.UTC
		if sc.TimeZone != "" {
			if l, err := time.LoadLocation(sc.TimeZone); err == nil {
				loc = l
			}
		}
		first := sc.Start.In(loc)
		local := now.In(loc)
		// An occurrence lasts at most a day, so only one that began today
		// or yesterday (local dates) can be under way.
		for back := 0; back <= 1; back++ {
			d := local.AddDate(0, 0, -back)
			start := time.Date(d.Year(), d.Month(), d.Day(), first.Hour(), first.Minute(), first.Second(), 0, loc)
			if start.Before(sc.Start) || !slices.Contains(sc.Days, weekdayName(start.Weekday())) {
				continue
			}
			if o := (occurrence{start, start.Add(dur)}); !now.Before(o.start) && now.Before(o.end) {
				return o, true
			}
		}
	}
	return occurrence{}, false
}

// weekdayName is the schedule.days name of w.
func weekdayName(w time.Weekday) string { return weekdays[(int(w)+6)%7] }

// scheduleOpenLocked reports whether conference c, scheduled, may be
// joined now: started (early or by its occurrence), or in an occurrence
// (with its extension). s.mu must be held.
func (s *Service) scheduleOpenLocked(c Conference, now time.Time) bool {
	if c.Schedule.Type == ScheduleNone || c.Schedule.Type == "" || s.started[c.ID] {
		return true
	}
	// Ended for all during an occurrence: closed until the next.
	closed, wasClosed := s.closed[c.ID]
	if cur, ok := occurrenceAt(c.Schedule, now); ok {
		return !wasClosed || !closed.Equal(cur.start)
	}
	o, ok := s.occ[c.ID]
	return ok && now.Before(o.end.Add(s.extension[c.ID])) && !(wasClosed && closed.Equal(o.start))
}

// CheckSchedules starts the scheduled conferences whose occurrence began
// and ends those whose occurrence (with its extension) is over, hanging
// up their legs with ErrScheduleEnded. Run calls it every interval; tests
// call it after moving a fake clock.
func (s *Service) CheckSchedules(ctx context.Context) error {
	var cs []Conference
	var err error
	if l, ok := s.store.(ScheduledLister); ok {
		cs, err = l.ListScheduledConferences(ctx)
	} else {
		cs, err = s.store.ListConferences(ctx)
	}
	if err != nil {
		return fmt.Errorf("checking schedules: %w", err)
	}
	now := s.clock()
	for _, c := range cs {
		if c.Schedule.Type == ScheduleNone || c.Schedule.Type == "" {
			continue
		}
		cur, active := occurrenceAt(c.Schedule, now)
		s.mu.Lock()
		prev, had := s.occ[c.ID]
		ext := s.extension[c.ID]
		var start, end, alreadyClosed bool
		closed, wasClosed := s.closed[c.ID]
		switch {
		case had && now.Before(prev.end.Add(ext)):
			// The occurrence under way (perhaps extended) goes on.
		case had:
			// Over. A moderator may have ended it for all already, but the
			// owner may have come back since: hang up whoever is left.
			end = true
			alreadyClosed = wasClosed && closed.Equal(prev.start)
			delete(s.occ, c.ID)
			delete(s.extension, c.ID)
			delete(s.started, c.ID)
			s.ended[c.ID] = true
			had = false
		}
		if active && (!had || !cur.start.Equal(prev.start)) && !(wasClosed && closed.Equal(cur.start)) {
			s.occ[c.ID] = cur
			delete(s.extension, c.ID)
			start = !s.started[c.ID]
			s.started[c.ID] = true
			delete(s.ended, c.ID)
		}
		s.mu.Unlock()
		if end {
			if n := s.endRoom(c.ID, ErrScheduleEnded); n > 0 || !alreadyClosed {
				s.emit(Event{Type: EventEnded, ConferenceID: c.ID, Cause: causeText(ErrScheduleEnded)})
				s.log.InfoContext(ctx, "scheduled conference ended", "conf", c.ID, "legs", n)
			}
		}
		if start {
			s.emit(Event{Type: EventStarted, ConferenceID: c.ID})
			s.log.InfoContext(ctx, "scheduled conference started", "conf", c.ID, "end", cur.end)
			s.callInviteesAtStart(ctx, c)
		}
	}
	return nil
}

// ExtendConference moves the end of the running occurrence of scheduled
// conference id by minutes (cumulative, at most MaxExtensionMinutes in
// all); the owner, operators and administrators may.
func (s *Service) ExtendConference(ctx context.Context, actor User, id string, minutes int) (time.Time, error) {
	c, err := s.conferenceFor(ctx, actor, id, ActionManage)
	if err != nil {
		return time.Time{}, fmt.Errorf("extending a conference: %w", err)
	}
	if c.Schedule.Type == ScheduleNone {
		return time.Time{}, fmt.Errorf("extending conference %s: a virtual room has no end: %w", id, ErrConflict)
	}
	if minutes < 1 || minutes > MaxExtensionMinutes {
		return time.Time{}, invalid("minutes", "must be between 1 and %d", MaxExtensionMinutes)
	}
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.occ[id]
	if !ok {
		// Started by its time but not yet seen by CheckSchedules.
		if o, ok = occurrenceAt(c.Schedule, now); ok {
			s.occ[id] = o
		}
	}
	if !ok || !now.Before(o.end.Add(s.extension[id])) {
		return time.Time{}, fmt.Errorf("extending conference %s: no occurrence is under way: %w", id, ErrConflict)
	}
	ext := s.extension[id] + time.Duration(minutes)*time.Minute
	if ext > MaxExtensionMinutes*time.Minute {
		return time.Time{}, invalid("minutes", "would extend the conference by more than %d minutes in all", MaxExtensionMinutes)
	}
	s.extension[id] = ext
	end := o.end.Add(ext)
	s.log.InfoContext(ctx, "conference extended", "conf", id, "end", end, "by", actor.ID)
	return end, nil
}

// errNotStarted is what Join returns for a scheduled conference outside
// its time.
func errNotStarted(c Conference) error {
	return fmt.Errorf("%w (%w): conference %s is scheduled", ErrNotStarted, ErrLocked, c.ID)
}

// OccurrenceAt reports the start and end of the occurrence of sc under
// way at now, if any; the API and pages use it to show "running until".
func OccurrenceAt(sc Schedule, now time.Time) (start, end time.Time, ok bool) {
	o, ok := occurrenceAt(sc, now)
	return o.start, o.end, ok
}
