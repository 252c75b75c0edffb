package conf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Layout types.
const (
	// LayoutAuto picks the number of windows from the number of
	// participants, up to Windows.
	LayoutAuto = "auto"
	// LayoutGrid shows Windows equal windows.
	LayoutGrid = "grid"
	// LayoutSpeaker shows one large window and Windows-1 small ones.
	LayoutSpeaker = "speaker"

	NamePositionTop    = "top"
	NamePositionBottom = "bottom"
	NamePositionNone   = "none"

	// MaxLayoutWindows is the most windows a composed picture has (a 5x5
	// grid).
	MaxLayoutWindows = 25
)

// Layout is how a conference's composed video is arranged. It is stored
// with the conference now so that the video side can honour it; an
// asymmetric (lecture) conference has none, because everyone sees the
// presenter and the presenter sees all.
type Layout struct {
	Type    string `json:"type"`    // auto | grid | speaker
	Windows int    `json:"windows"` // 1..MaxLayoutWindows
	// ContentWindow is the window (1-based) that shows shared content, 0
	// for none.
	ContentWindow int `json:"content_window,omitempty"`
	// Participants pins a participant (user ID or call string) to each
	// window in order; "" leaves a window to auto-fill. Windows beyond
	// the list are auto-filled when AutoFill is true and stay empty
	// otherwise.
	Participants []string `json:"participants"`
	AutoFill     bool     `json:"auto_fill"`
	NamePosition string   `json:"name_position"` // top | bottom | none
	// Locked means users may not change the layout on their side.
	Locked bool `json:"locked"`
}

// LayoutStore is implemented by stores that keep layout settings.
type LayoutStore interface {
	// GetLayout returns the layout of conference confID (ErrNotFound when
	// it has none).
	GetLayout(ctx context.Context, confID string) (Layout, error)
	// SetLayout stores l for conference confID (ErrNotFound when the
	// conference does not exist).
	SetLayout(ctx context.Context, confID string, l Layout) error
	// DeleteLayout removes it (ErrNotFound when there is none).
	DeleteLayout(ctx context.Context, confID string) error
}

// ValidateLayout fills the defaults of l and checks it for a conference
// in mode; field names are prefixed with "layout.".
func ValidateLayout(l *Layout, mode string) error {
	if mode == ModeAsymmetric {
		return invalid("layout", "an asymmetric conference has no layout: everyone sees the presenter")
	}
	switch l.Type {
	case "":
		l.Type = LayoutAuto
	case LayoutAuto, LayoutGrid, LayoutSpeaker:
	default:
		return invalid("layout.type", "must be %q, %q or %q", LayoutAuto, LayoutGrid, LayoutSpeaker)
	}
	if l.Windows == 0 && l.Type == LayoutAuto {
		l.Windows = 9
	}
	if l.Windows < 1 || l.Windows > MaxLayoutWindows {
		return invalid("layout.windows", "must be between 1 and %d", MaxLayoutWindows)
	}
	if l.Type == LayoutSpeaker && l.Windows < 2 {
		return invalid("layout.windows", "a %q layout needs at least 2 windows", LayoutSpeaker)
	}
	if l.ContentWindow < 0 || l.ContentWindow > l.Windows {
		return invalid("layout.content_window", "must be 0 (none) or a window between 1 and %d", l.Windows)
	}
	if len(l.Participants) > l.Windows {
		return invalid("layout.participants", "names %d windows but the layout has %d", len(l.Participants), l.Windows)
	}
	if l.Participants == nil {
		l.Participants = []string{}
	}
	seen := make(map[string]bool, len(l.Participants))
	for i, p := range l.Participants {
		field := fmt.Sprintf("layout.participants[%d]", i)
		p = strings.TrimSpace(p)
		l.Participants[i] = p
		if p == "" {
			continue
		}
		if i+1 == l.ContentWindow {
			return invalid(field, "window %d is the content window", i+1)
		}
		if len(p) > MaxInvitationLen || strings.ContainsFunc(p, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			return invalid(field, "must be a user ID or call string of at most %d characters without spaces", MaxInvitationLen)
		}
		if seen[p] {
			return invalid(field, "%q is in two windows", truncate(p, 32))
		}
		seen[p] = true
	}
	switch l.NamePosition {
	case "":
		l.NamePosition = NamePositionBottom
	case NamePositionTop, NamePositionBottom, NamePositionNone:
	default:
		return invalid("layout.name_position", "must be %q, %q or %q", NamePositionTop, NamePositionBottom, NamePositionNone)
	}
	return nil
}

func (s *Service) layoutStore() (LayoutStore, error) {
	if s.layouts == nil {
		return nil, fmt.Errorf("the store keeps no layouts: %w", ErrNotSupported)
	}
	return s.layouts, nil
}

// GetLayout returns the layout of conference id if actor may view it
// (ErrNotFound when it has none: the video side then picks its default).
func (s *Service) GetLayout(ctx context.Context, actor User, id string) (Layout, error) {
	ls, err := s.layoutStore()
	if err != nil {
		return Layout{}, err
	}
	if _, err := s.conferenceFor(ctx, actor, id, ActionView); err != nil {
		return Layout{}, fmt.Errorf("getting layout: %w", err)
	}
	l, err := ls.GetLayout(ctx, id)
	if err != nil {
		return Layout{}, fmt.Errorf("getting layout of conference %s: %w", id, err)
	}
	return l, nil
}

// SetLayout validates and stores the layout of conference id; moderators
// may change it. It is refused for asymmetric conferences.
func (s *Service) SetLayout(ctx context.Context, actor User, id string, l Layout) (Layout, error) {
	ls, err := s.layoutStore()
	if err != nil {
		return Layout{}, err
	}
	c, err := s.conferenceFor(ctx, actor, id, ActionModerate)
	if err != nil {
		return Layout{}, fmt.Errorf("setting layout: %w", err)
	}
	if err := ValidateLayout(&l, c.Mode); err != nil {
		return Layout{}, err
	}
	if err := ls.SetLayout(ctx, id, l); err != nil {
		return Layout{}, fmt.Errorf("setting layout of conference %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "layout set", "conf", id, "type", l.Type, "windows", l.Windows, "by", actor.ID)
	return l, nil
}

// DeleteLayout removes the layout settings of conference id (moderators
// may), so that the video side uses its default.
func (s *Service) DeleteLayout(ctx context.Context, actor User, id string) error {
	ls, err := s.layoutStore()
	if err != nil {
		return err
	}
	if _, err := s.conferenceFor(ctx, actor, id, ActionModerate); err != nil {
		return fmt.Errorf("deleting layout: %w", err)
	}
	if err := ls.DeleteLayout(ctx, id); err != nil {
		return fmt.Errorf("deleting layout of conference %s: %w", id, err)
	}
	return nil
}

// checkModeLayout refuses to make conference c asymmetric while it has a
// layout: the layout would silently stop meaning anything.
func (s *Service) checkModeLayout(ctx context.Context, c Conference) error {
	if c.Mode != ModeAsymmetric || s.layouts == nil {
		return nil
	}
	_, err := s.layouts.GetLayout(ctx, c.ID)
	switch {
	case err == nil:
		return invalid("mode", "the conference has layout settings, which an asymmetric conference cannot have; delete them first")
	case errors.Is(err, ErrNotFound):
		return nil
	default:
		return fmt.Errorf("reading layout: %w", err)
	}
}
