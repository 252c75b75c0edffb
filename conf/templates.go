package conf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// Template is a saved set of conference settings from which new
// conferences are made. Settings holds everything a conference has except
// its identity and live state: ID, owner, lock, state and times are
// cleared when a template is saved and set anew for each conference made
// from it.
type Template struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Owner    string     `json:"owner,omitempty"`
	Settings Conference `json:"settings"`
	// Layout is the conference's layout settings, if it had any.
	Layout    *Layout   `json:"layout,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// TemplateStore is implemented by stores that keep templates.
type TemplateStore interface {
	// CreateTemplate inserts t (ErrExists when its ID is taken).
	CreateTemplate(ctx context.Context, t Template) error
	// GetTemplate returns template id (ErrNotFound).
	GetTemplate(ctx context.Context, id string) (Template, error)
	// ListTemplates returns every template ordered by ID.
	ListTemplates(ctx context.Context) ([]Template, error)
	// DeleteTemplate removes template id (ErrNotFound).
	DeleteTemplate(ctx context.Context, id string) error
}

// TemplateOverrides are what a conference made from a template does not
// take from it.
type TemplateOverrides struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Schedule *Schedule `json:"schedule"`
}

func (s *Service) templateStore() (TemplateStore, error) {
	if s.templates == nil {
		return nil, fmt.Errorf("the store keeps no templates: %w", ErrNotSupported)
	}
	return s.templates, nil
}

// templateSettings strips c to what a template keeps.
func templateSettings(c Conference) Conference {
	c.ID, c.Owner, c.State, c.Locked = "", "", "", false
	c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
	if c.Invitations == nil {
		c.Invitations = []Invitation{}
	}
	return c
}

// SaveTemplate saves the settings of conference confID as a new template
// named name, owned by actor; he must manage the conference.
func (s *Service) SaveTemplate(ctx context.Context, actor User, confID, name string) (Template, error) {
	c, err := s.conferenceFor(ctx, actor, confID, ActionManage)
	if err != nil {
		return Template{}, fmt.Errorf("saving a template: %w", err)
	}
	if name == "" {
		name = c.Name
	}
	t := Template{Name: name, Settings: c}
	if s.layouts != nil {
		l, err := s.layouts.GetLayout(ctx, confID)
		switch {
		case err == nil:
			t.Layout = &l
		case !errors.Is(err, ErrNotFound):
			return Template{}, fmt.Errorf("saving a template: reading layout: %w", err)
		}
	}
	return s.CreateTemplate(ctx, actor, t)
}

// CreateTemplate stores t, owned by actor, with its settings validated as
// a conference's would be (except the clock: a template's schedule is
// checked when a conference is made from it). An empty t.ID is generated.
func (s *Service) CreateTemplate(ctx context.Context, actor User, t Template) (Template, error) {
	ts, err := s.templateStore()
	if err != nil {
		return Template{}, err
	}
	var verr *ValidationError
	if t.ID != "" {
		if err := validateAccountID("id", t.ID); err != nil {
			return Template{}, err
		}
	}
	if t.Name, err = cleanText("name", t.Name, MaxNameLen, true); err != nil {
		return Template{}, err
	}
	t.Settings = templateSettings(t.Settings)
	if err := validateConference(&t.Settings); err != nil {
		if errors.As(err, &verr) {
			return Template{}, &ValidationError{Field: "settings." + verr.Field, Message: verr.Message}
		}
		return Template{}, err
	}
	if t.Layout != nil {
		if err := ValidateLayout(t.Layout, t.Settings.Mode); err != nil {
			return Template{}, err
		}
	}
	t.Owner, t.CreatedAt = actor.ID, s.clock()
	generated := t.ID == ""
	for try := 0; ; try++ {
		if generated {
			if t.ID, err = randomID(s.rand); err != nil {
				return Template{}, fmt.Errorf("generating template ID: %w", err)
			}
		}
		err = ts.CreateTemplate(ctx, t)
		if generated && errors.Is(err, ErrExists) && try < maxGeneratedIDTries {
			continue
		}
		if err != nil {
			return Template{}, fmt.Errorf("creating template %s: %w", t.ID, err)
		}
		break
	}
	s.log.InfoContext(ctx, "template created", "template", t.ID, "by", actor.ID)
	return t, nil
}

// canUseTemplate reports whether actor may see and use t: its owner and
// staff may.
func canUseTemplate(actor User, t Template) bool {
	return isStaff(actor) || (actor.ID != "" && actor.ID == t.Owner)
}

// GetTemplate returns template id if actor may use it.
func (s *Service) GetTemplate(ctx context.Context, actor User, id string) (Template, error) {
	ts, err := s.templateStore()
	if err != nil {
		return Template{}, err
	}
	if !ValidAccountID(id) {
		return Template{}, fmt.Errorf("getting template %q: %w", truncate(id, MaxOwnerLen), ErrNotFound)
	}
	t, err := ts.GetTemplate(ctx, id)
	if err != nil {
		return Template{}, fmt.Errorf("getting template %s: %w", id, err)
	}
	if !canUseTemplate(actor, t) {
		return Template{}, fmt.Errorf("template %s belongs to someone else: %w", id, ErrForbidden)
	}
	return t, nil
}

// ListTemplates returns the templates actor may use, ordered by ID.
func (s *Service) ListTemplates(ctx context.Context, actor User) ([]Template, error) {
	ts, err := s.templateStore()
	if err != nil {
		return nil, err
	}
	all, err := ts.ListTemplates(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing templates: %w", err)
	}
	out := []Template{}
	for _, t := range all {
		if canUseTemplate(actor, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// DeleteTemplate removes template id if actor may use it.
func (s *Service) DeleteTemplate(ctx context.Context, actor User, id string) error {
	ts, err := s.templateStore()
	if err != nil {
		return err
	}
	if _, err := s.GetTemplate(ctx, actor, id); err != nil {
		return fmt.Errorf("deleting template: %w", err)
	}
	if err := ts.DeleteTemplate(ctx, id); err != nil {
		return fmt.Errorf("deleting template %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "template deleted", "template", id, "by", actor.ID)
	return nil
}

// CreateFromTemplate makes a conference owned by actor from template id,
// with the ID, name and schedule of ov where given.
func (s *Service) CreateFromTemplate(ctx context.Context, actor User, id string, ov TemplateOverrides) (Conference, error) {
	t, err := s.GetTemplate(ctx, actor, id)
	if err != nil {
		return Conference{}, fmt.Errorf("creating a conference from a template: %w", err)
	}
	c := t.Settings
	c.Invitations = append([]Invitation(nil), t.Settings.Invitations...)
	c.ID, c.Owner = ov.ID, actor.ID
	if ov.Name != "" {
		c.Name = ov.Name
	}
	if ov.Schedule != nil {
		c.Schedule = *ov.Schedule
	}
	if t.Layout != nil {
		if _, err := s.layoutStore(); err != nil {
			return Conference{}, err
		}
	}
	c, err = s.CreateConference(ctx, c)
	if err != nil || t.Layout == nil {
		return c, err
	}
	// The conference and its layout are two writes; if the second fails
	// the conference is deleted again, so nothing is left half-made.
	if err := s.layouts.SetLayout(ctx, c.ID, *t.Layout); err != nil {
		if derr := s.store.DeleteConference(ctx, c.ID); derr != nil {
			s.log.WarnContext(ctx, "undoing a conference whose layout failed", "conf", c.ID, "err", derr)
		}
		return Conference{}, fmt.Errorf("creating conference %s from template %s: setting layout: %w", c.ID, id, err)
	}
	return c, nil
}

// DecodeTemplateSettings reads a template's settings object with the same
// strictness as DecodeConference; field errors are named under
// "settings.".
func DecodeTemplateSettings(raw []byte) (Conference, error) {
	c, err := DecodeConference(bytes.NewReader(raw))
	var verr *ValidationError
	if errors.As(err, &verr) {
		return Conference{}, &ValidationError{Field: "settings." + verr.Field, Message: verr.Message}
	}
	return c, err
}
