package conf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // schedule time zones must validate on hosts without /usr/share/zoneinfo
	"unicode"
	"unicode/utf8"
)

// Conference field values.
const (
	AccessInternal = "internal"
	AccessPublic   = "public"

	ModeSymmetric  = "symmetric"
	ModeAsymmetric = "asymmetric"
	ModeRoleBased  = "role-based"

	ScheduleNone   = "none"
	ScheduleOnce   = "once"
	ScheduleWeekly = "weekly"

	StateIdle    = "idle"
	StateRunning = "running"
	StateEnded   = "ended"
)

// Limits of conference fields. They are generous bounds that keep one
// conference row small and reject garbage, not product policy.
const (
	MaxIDLen             = 32
	MaxNameLen           = 128
	MaxOwnerLen          = 64
	MaxDescriptionLen    = 2000
	MinPINLen            = 4
	MaxPINLen            = 16
	MaxParticipantsLimit = 100000
	MaxPodiumSeats       = 36
	// DefaultPodiumSeats is what a role-based conference gets when it names no
	// number of podium seats.
	DefaultPodiumSeats  = 4
	MaxInvitations      = 1000
	MaxInvitationLen    = 256
	MaxOnceDuration     = 7 * 24 * 60 // minutes
	MaxWeeklyDuration   = 24 * 60     // minutes: one occurrence per chosen day
	maxTimeZoneLen      = 64
	generatedIDDigits   = 6
	maxGeneratedIDTries = 20
)

// weekdays are the accepted schedule.days values, in week order.
var weekdays = [...]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// DecodeConference reads one conference JSON object from r, strictly: unknown
// fields, trailing data and wrong types are errors. A wrong type or an unknown
// field is a *ValidationError naming the field; a body that is not a JSON
// object wraps ErrInvalidJSON; an error of r itself (such as
// *http.MaxBytesError) is returned wrapped so callers can tell it apart.
// Read-only fields (state, created_at, updated_at) are accepted and ignored,
// so that a client may PUT back what it got. The result is not validated:
// the Service does that when it stores it.
func DecodeConference(r io.Reader) (Conference, error) {
	c := conferenceAlias{}
	w := conferenceWire{conferenceAlias: &c}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Conference{}, decodeError(err)
	}
	// Exactly one value: anything but white space after it is an error.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil || isJSONError(err) {
			return Conference{}, fmt.Errorf("%w: unexpected data after the JSON object", ErrInvalidJSON)
		}
		return Conference{}, fmt.Errorf("reading conference: %w", err)
	}
	out := Conference(c)
	out.Schedule = Schedule{}
	if w.Schedule != nil {
		s := w.Schedule
		out.Schedule = Schedule{Type: s.Type, DurationMinutes: s.DurationMinutes, Days: s.Days, TimeZone: s.TimeZone}
		if s.Start != "" {
			t, err := time.Parse(time.RFC3339, s.Start)
			if err != nil {
				return Conference{}, invalid("schedule.start", "must be an RFC 3339 timestamp such as 2026-01-02T15:04:05Z")
			}
			out.Schedule.Start = t
		}
	}
	g, err := decodeGuestRights(w.GuestRights)
	if err != nil {
		return Conference{}, err
	}
	out.GuestRights = g
	out.State, out.CreatedAt, out.UpdatedAt = "", time.Time{}, time.Time{}
	return out, nil
}

// conferenceAlias has Conference's fields and JSON names but none of its
// methods, so that conferenceWire can override some of them.
type conferenceAlias Conference

// conferenceWire is the decoding shape of a conference: fields that need a
// clearer error than encoding/json gives, or that are read-only, are shadowed.
type conferenceWire struct {
	*conferenceAlias
	Schedule    *scheduleWire   `json:"schedule"`
	GuestRights json.RawMessage `json:"guest_rights"`
	State       json.RawMessage `json:"state"`
	CreatedAt   json.RawMessage `json:"created_at"`
	UpdatedAt   json.RawMessage `json:"updated_at"`
}

// decodeGuestRights reads the guest_rights object strictly, naming a wrong
// entry as guest_rights.<name>. A right the client did not name is
// allowed: denying is what guest_rights is for, so only what is written
// false denies. Absent or null: no restriction (nil).
func decodeGuestRights(raw json.RawMessage) (*GuestRights, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var g guestRightsWire
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typ) && typ.Field != "":
			return nil, invalid("guest_rights."+typ.Field, "must be true or false, not %s", typ.Value)
		case errors.As(err, &typ):
			return nil, invalid("guest_rights", "must be an object, not %s", typ.Value)
		}
		if name, ok := strings.CutPrefix(err.Error(), `json: unknown field "`); ok && name != `"` {
			return nil, invalid("guest_rights."+strings.TrimSuffix(name, `"`), "unknown right; rights are speak, video, chat, share_content and record")
		}
		return nil, invalid("guest_rights", "must be an object of true/false rights")
	}
	allowed := func(b *bool) bool { return b == nil || *b }
	return &GuestRights{
		Speak: allowed(g.Speak), Video: allowed(g.Video), Chat: allowed(g.Chat),
		ShareContent: allowed(g.ShareContent), Record: allowed(g.Record),
	}, nil
}

// guestRightsWire tells an omitted right (allowed) from one set to false.
type guestRightsWire struct {
	Speak        *bool `json:"speak"`
	Video        *bool `json:"video"`
	Chat         *bool `json:"chat"`
	ShareContent *bool `json:"share_content"`
	Record       *bool `json:"record"`
}

type scheduleWire struct {
	Type            string   `json:"type"`
	Start           string   `json:"start"`
	DurationMinutes int      `json:"duration_minutes"`
	Days            []string `json:"days"`
	TimeZone        string   `json:"time_zone"`
}

func isJSONError(err error) bool {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syn) || errors.As(err, &typ) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func decodeError(err error) error {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		if typ.Field == "" {
			return fmt.Errorf("%w: body must be a JSON object, not %s", ErrInvalidJSON, typ.Value)
		}
		// The embedded alias shows up in the path under its Go name.
		field := strings.TrimPrefix(typ.Field, "conferenceAlias.")
		return invalid(field, "must be %s, not %s", jsonTypeName(typ.Type.Kind().String()), typ.Value)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: empty body", ErrInvalidJSON)
	}
	if isJSONError(err) {
		return fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	// encoding/json reports unknown fields only as text.
	if name, ok := strings.CutPrefix(err.Error(), `json: unknown field "`); ok {
		if name = strings.TrimSuffix(name, `"`); name == "" {
			return fmt.Errorf("%w: a field with an empty name", ErrInvalidJSON)
		}
		return invalid(name, "unknown field")
	}
	return fmt.Errorf("reading conference: %w", err)
}

func jsonTypeName(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	default:
		return "an object"
	}
}

// ValidateConference fills the defaults of c in place and checks every
// field; the first problem is returned as a *ValidationError. An empty ID is
// allowed (the Service generates one). now is used to refuse one-off
// schedules that have already ended.
func ValidateConference(c *Conference, now time.Time) error {
	if err := validateConference(c); err != nil {
		return err
	}
	return checkScheduleFuture(c.Schedule, now)
}

// validateConference is ValidateConference without the clock check, for
// updates of conferences whose schedule did not change.
func validateConference(c *Conference) error {
	if c.ID != "" {
		if err := validateConferenceID(c.ID); err != nil {
			return err
		}
	}
	var err error
	if c.Name, err = cleanText("name", c.Name, MaxNameLen, true); err != nil {
		return err
	}
	if c.Owner, err = cleanText("owner", c.Owner, MaxOwnerLen, false); err != nil {
		return err
	}
	if c.Description, err = cleanText("description", c.Description, MaxDescriptionLen, false); err != nil {
		return err
	}
	switch c.Access {
	case "":
		c.Access = AccessPublic
	case AccessInternal, AccessPublic:
	default:
		return invalid("access", "must be %q or %q", AccessInternal, AccessPublic)
	}
	if c.GuestRights != nil && c.Access != AccessPublic {
		return invalid("guest_rights", "only a public conference admits guests; remove guest_rights or make it public")
	}
	if c.JoinWithoutInvitation && c.Access != AccessInternal {
		return invalid("join_without_invitation", "is only for internal conferences; a public conference admits everybody")
	}
	switch c.Mode {
	case "":
		c.Mode = ModeSymmetric
	case ModeSymmetric, ModeAsymmetric, ModeRoleBased:
	default:
		return invalid("mode", "must be %q, %q or %q", ModeSymmetric, ModeAsymmetric, ModeRoleBased)
	}
	switch {
	case c.PodiumSeats < 0 || c.PodiumSeats > MaxPodiumSeats:
		return invalid("podium_seats", "must be between 1 and %d", MaxPodiumSeats)
	case c.Mode != ModeRoleBased && c.PodiumSeats != 0:
		return invalid("podium_seats", "only a role-based conference has podium seats")
	case c.Mode == ModeRoleBased && c.PodiumSeats == 0:
		c.PodiumSeats = DefaultPodiumSeats
	}
	if err := validatePIN("pin", c.PIN); err != nil {
		return err
	}
	if err := validatePIN("moderator_pin", c.ModeratorPIN); err != nil {
		return err
	}
	if c.PIN != "" && c.PIN == c.ModeratorPIN {
		return invalid("moderator_pin", "must differ from pin")
	}
	if c.KeyMap != "" {
		if _, err := ParseKeyMap(c.KeyMap); err != nil {
			return invalid("key_map", "%s", err)
		}
	}
	switch c.Tones {
	case "", TonesOn, TonesOff:
	default:
		return invalid("tones", "must be %q or %q", TonesOn, TonesOff)
	}
	if c.MaxParticipants < 0 || c.MaxParticipants > MaxParticipantsLimit {
		return invalid("max_participants", "must be 0 (unlimited) or between 1 and %d", MaxParticipantsLimit)
	}
	if err := validateSchedule(&c.Schedule); err != nil {
		return err
	}
	return validateInvitations(c)
}

// validateConferenceID checks a conference ID as given by a client or taken
// from a dial string.
func validateConferenceID(id string) error {
	if len(id) == 0 || len(id) > MaxIDLen {
		return invalid("id", "must be 1 to %d digits", MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return invalid("id", "must contain only digits 0-9")
		}
	}
	return nil
}

// ValidConferenceID reports whether id has the shape of a conference ID, so
// signalling can refuse nonsense before asking the store.
func ValidConferenceID(id string) bool { return validateConferenceID(id) == nil }

func validatePIN(field, pin string) error {
	if pin == "" {
		return nil
	}
	if len(pin) < MinPINLen || len(pin) > MaxPINLen {
		return invalid(field, "must be %d to %d digits", MinPINLen, MaxPINLen)
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return invalid(field, "must contain only digits 0-9 (it is entered with DTMF)")
		}
	}
	return nil
}

// cleanText trims s and checks it is valid UTF-8 without control
// characters and at most max characters long.
func cleanText(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			return "", invalid(field, "is required")
		}
		return "", nil
	}
	if !utf8.ValidString(s) {
		return "", invalid(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", invalid(field, "must be at most %d characters, not %d", max, n)
	}
	allowNewline := field == "description"
	for _, r := range s {
		if unicode.IsControl(r) && !(allowNewline && (r == '\n' || r == '\t' || r == '\r')) {
			return "", invalid(field, "must not contain control characters")
		}
	}
	return s, nil
}

func validateSchedule(s *Schedule) error {
	switch s.Type {
	case "":
		s.Type = ScheduleNone
		fallthrough
	case ScheduleNone:
		switch {
		case !s.Start.IsZero():
			return invalid("schedule.start", "is only for schedule type %q or %q", ScheduleOnce, ScheduleWeekly)
		case s.DurationMinutes != 0:
			return invalid("schedule.duration_minutes", "is only for schedule type %q or %q", ScheduleOnce, ScheduleWeekly)
		case len(s.Days) != 0:
			return invalid("schedule.days", "is only for schedule type %q", ScheduleWeekly)
		case s.TimeZone != "":
			return invalid("schedule.time_zone", "is only for schedule type %q or %q", ScheduleOnce, ScheduleWeekly)
		}
		s.Days = nil
		return nil
	case ScheduleOnce, ScheduleWeekly:
	default:
		return invalid("schedule.type", "must be %q, %q or %q", ScheduleNone, ScheduleOnce, ScheduleWeekly)
	}
	if s.Start.IsZero() {
		return invalid("schedule.start", "is required for schedule type %q", s.Type)
	}
	if y := s.Start.Year(); y < 2000 || y > 9999 {
		return invalid("schedule.start", "year must be between 2000 and 9999")
	}
	limit := MaxOnceDuration
	if s.Type == ScheduleWeekly {
		limit = MaxWeeklyDuration
	}
	if s.DurationMinutes < 1 || s.DurationMinutes > limit {
		return invalid("schedule.duration_minutes", "must be between 1 and %d for schedule type %q", limit, s.Type)
	}
	if s.TimeZone != "" {
		if len(s.TimeZone) > maxTimeZoneLen || strings.ContainsAny(s.TimeZone, "\x00\\") || strings.Contains(s.TimeZone, "..") {
			return invalid("schedule.time_zone", "must be an IANA time zone name such as Europe/Berlin")
		}
		if _, err := time.LoadLocation(s.TimeZone); err != nil {
			return invalid("schedule.time_zone", "must be an IANA time zone name such as Europe/Berlin")
		}
	}
	if s.Type == ScheduleOnce {
		if len(s.Days) != 0 {
			return invalid("schedule.days", "is only for schedule type %q", ScheduleWeekly)
		}
		s.Days = nil
		return nil
	}
	if len(s.Days) == 0 {
		return invalid("schedule.days", "must name at least one day for schedule type %q", ScheduleWeekly)
	}
	if len(s.Days) > len(weekdays) {
		return invalid("schedule.days", "must name each day at most once")
	}
	seen := [len(weekdays)]bool{}
	for i, d := range s.Days {
		d = strings.ToLower(strings.TrimSpace(d))
		j := slices.Index(weekdays[:], d)
		if j < 0 {
			return invalid("schedule.days", "%q is not one of mon, tue, wed, thu, fri, sat, sun", truncate(s.Days[i], 16))
		}
		if seen[j] {
			return invalid("schedule.days", "%q is named twice", d)
		}
		seen[j] = true
	}
	// Store the days normalised and in week order.
	days := make([]string, 0, len(s.Days))
	for j, ok := range seen {
		if ok {
			days = append(days, weekdays[j])
		}
	}
	s.Days = days
	return nil
}

// checkScheduleFuture refuses a one-off schedule that has already ended.
func checkScheduleFuture(s Schedule, now time.Time) error {
	if s.Type == ScheduleOnce {
		end := s.Start.Add(time.Duration(s.DurationMinutes) * time.Minute)
		if !end.After(now) {
			return invalid("schedule.start", "the conference would already have ended")
		}
	}
	return nil
}

func validateInvitations(c *Conference) error {
	if len(c.Invitations) > MaxInvitations {
		return invalid("invitations", "must have at most %d entries", MaxInvitations)
	}
	if c.Invitations == nil {
		c.Invitations = []Invitation{}
	}
	seen := make(map[string]struct{}, len(c.Invitations))
	for i := range c.Invitations {
		field := fmt.Sprintf("invitations[%d].target", i)
		t, err := cleanText(field, c.Invitations[i].Target, MaxInvitationLen, true)
		if err != nil {
			return err
		}
		if strings.ContainsFunc(t, unicode.IsSpace) {
			return invalid(field, "must not contain spaces")
		}
		key := t
		if addr, ok := EmailTarget(t); ok {
			if !validMailAddress(addr) {
				return invalid(field, "must be an e-mail address such as mailto:someone@example.com")
			}
			if c.Access == AccessInternal {
				return invalid(field, "e-mail invitations are for public conferences only; an internal one admits address-book users")
			}
			t = MailtoScheme + addr
			key = strings.ToLower(t) // e-mail addresses are compared without case
		}
		if _, dup := seen[key]; dup {
			return invalid(field, "%q is invited twice", t)
		}
		seen[key] = struct{}{}
		c.Invitations[i].Target = t
	}
	return nil
}

// validMailAddress accepts the plain addresses an invitation is mailed to:
// local@domain in printable ASCII, a dotted domain, and none of the
// characters that would let the address carry a display name, a second
// address or a header into the message (RFC 5322 specials).
func validMailAddress(a string) bool {
	if len(a) > MaxEmailLen {
		return false
	}
	local, domain, ok := strings.Cut(a, "@")
	if !ok || local == "" || domain == "" || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>[]:;,\"@`, c) >= 0 && i != len(local) {
			return false
		}
	}
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	b := []byte(s[:n])
	return string(bytes.ToValidUTF8(b, nil)) + "..."
}
