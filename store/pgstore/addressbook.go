package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roomgate/roomgate/conf"
)

// ---- groups ----

// CreateGroup inserts g with its members in one transaction;
// conf.ErrExists when the ID is taken, conf.ErrNotFound when a member is
// not a user.
func (s *Store) CreateGroup(ctx context.Context, g conf.Group) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO user_groups (id, name, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO NOTHING`, txt(g.ID), txt(g.Name), g.CreatedAt.UTC())
		if err := insertedOne(tag, err, "creating group "+g.ID); err != nil {
			return err
		}
		return insertMembers(ctx, tx, g)
	})
}

// insertMembers adds the members of g in their order. A member that is
// not a user is named in the error; one deleted by a concurrent
// transaction after the check fails the foreign key, also as
// conf.ErrNotFound.
func insertMembers(ctx context.Context, tx pgx.Tx, g conf.Group) error {
	if len(g.Members) == 0 {
		return nil
	}
	members := txts(g.Members)
	var missing string
	err := tx.QueryRow(ctx, `SELECT m FROM unnest($1::text[]) WITH ORDINALITY AS t(m, n)
		WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = t.m) ORDER BY n LIMIT 1`, members).Scan(&missing)
	switch {
	case err == nil:
		return fmt.Errorf("group %s: member %s: %w", g.ID, missing, conf.ErrNotFound)
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("group %s: checking members: %w", g.ID, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO group_members (group_id, user_id, position)
		SELECT $1::text, m, n - 1 FROM unnest($2::text[]) WITH ORDINALITY AS t(m, n)`, txt(g.ID), members)
	if err != nil {
		return wrap("group "+g.ID+": adding members", err)
	}
	return nil
}

// groupQuery reads groups with their members in one statement, so that a
// group and its members come from the same snapshot.
const groupQuery = `SELECT g.id, g.name, g.created_at,
		COALESCE(array_agg(m.user_id ORDER BY m.position) FILTER (WHERE m.user_id IS NOT NULL), '{}')
	FROM user_groups g LEFT JOIN group_members m ON m.group_id = g.id`

func scanGroup(row pgx.Row) (conf.Group, error) {
	var g conf.Group
	var created time.Time
	if err := row.Scan(&g.ID, &g.Name, &created, &g.Members); err != nil {
		return conf.Group{}, err
	}
	g.CreatedAt = utc(created)
	if g.Members == nil {
		g.Members = []string{}
	}
	return g, nil
}

// GetGroup returns group id with its members; conf.ErrNotFound when there
// is none.
func (s *Store) GetGroup(ctx context.Context, id string) (conf.Group, error) {
	g, err := scanGroup(s.pool.QueryRow(ctx, groupQuery+` WHERE g.id = $1 GROUP BY g.id`, txt(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return conf.Group{}, fmt.Errorf("group %s: %w", id, conf.ErrNotFound)
	}
	if err != nil {
		return conf.Group{}, fmt.Errorf("reading group %s: %w", id, err)
	}
	return g, nil
}

// ListGroups returns every group with its members, ordered by ID.
func (s *Store) ListGroups(ctx context.Context) ([]conf.Group, error) {
	rows, err := s.pool.Query(ctx, groupQuery+` GROUP BY g.id ORDER BY g.id`)
	if err != nil {
		return nil, fmt.Errorf("listing groups: %w", err)
	}
	defer rows.Close()
	out := []conf.Group{}
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, fmt.Errorf("listing groups: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing groups: %w", err)
	}
	return out, nil
}

// UpdateGroup replaces the name and members of group g.ID atomically;
// conf.ErrNotFound when there is no such group or a member is not a user.
// The UPDATE locks the group's row, so concurrent updates of one group
// apply one after the other.
func (s *Store) UpdateGroup(ctx context.Context, g conf.Group) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE user_groups SET name = $2 WHERE id = $1`, txt(g.ID), txt(g.Name))
		if err := affectedOne(tag, err, "updating group "+g.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM group_members WHERE group_id = $1`, txt(g.ID)); err != nil {
			return fmt.Errorf("updating group %s: %w", g.ID, err)
		}
		return insertMembers(ctx, tx, g)
	})
}

// DeleteGroup removes group id (not its users); conf.ErrNotFound when
// there is none.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM user_groups WHERE id = $1`, txt(id))
	return affectedOne(tag, err, "deleting group "+id)
}

// ---- removals ----

// AddBan records that subject may not rejoin conference confID;
// conf.ErrNotFound when the conference does not exist.
func (s *Store) AddBan(ctx context.Context, confID, subject string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO conference_bans (conference_id, subject, created_at)
		SELECT id, $2::text, $3::timestamptz FROM conferences WHERE id = $1
		ON CONFLICT (conference_id, subject) DO UPDATE SET created_at = excluded.created_at`,
		txt(confID), txt(subject), at.UTC())
	return affectedOne(tag, err, "banning from conference "+confID)
}

// LiftBans forgets the bans of subjects in conference confID.
func (s *Store) LiftBans(ctx context.Context, confID string, subjects []string) error {
	if len(subjects) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM conference_bans WHERE conference_id = $1 AND subject = ANY($2::text[])`,
		txt(confID), txts(subjects)); err != nil {
		return fmt.Errorf("lifting bans in conference %s: %w", confID, err)
	}
	return nil
}

// IsBanned reports whether subject is banned from conference confID.
func (s *Store) IsBanned(ctx context.Context, confID, subject string) (bool, error) {
	var banned bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM conference_bans WHERE conference_id = $1 AND subject = $2)`,
		txt(confID), txt(subject)).Scan(&banned); err != nil {
		return false, fmt.Errorf("reading bans of conference %s: %w", confID, err)
	}
	return banned, nil
}

// ---- templates ----

// CreateTemplate inserts t; conf.ErrExists when its ID is taken.
func (s *Store) CreateTemplate(ctx context.Context, t conf.Template) error {
	what := "creating template " + t.ID
	settings, err := json.Marshal(t.Settings)
	if err != nil {
		return fmt.Errorf("%s: encoding settings: %w", what, err)
	}
	var layout []byte // NULL: no layout
	if t.Layout != nil {
		if layout, err = json.Marshal(t.Layout); err != nil {
			return fmt.Errorf("%s: encoding layout: %w", what, err)
		}
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO templates (id, name, owner, settings, layout, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
		txt(t.ID), txt(t.Name), txt(t.Owner), cleanJSON(settings), cleanJSON(layout), t.CreatedAt.UTC())
	return insertedOne(tag, err, what)
}

const templateColumns = `id, name, owner, settings, layout, created_at`

func scanTemplate(row pgx.Row) (conf.Template, error) {
	var t conf.Template
	var settings, layout []byte
	var created time.Time
	if err := row.Scan(&t.ID, &t.Name, &t.Owner, &settings, &layout, &created); err != nil {
		return conf.Template{}, err
	}
	if err := json.Unmarshal(settings, &t.Settings); err != nil {
		return conf.Template{}, fmt.Errorf("%w: template %s settings: %v", ErrCorrupt, t.ID, err)
	}
	if layout != nil {
		t.Layout = &conf.Layout{}
		if err := json.Unmarshal(layout, t.Layout); err != nil {
			return conf.Template{}, fmt.Errorf("%w: template %s layout: %v", ErrCorrupt, t.ID, err)
		}
	}
	if t.Settings.Invitations == nil {
		t.Settings.Invitations = []conf.Invitation{}
	}
	t.CreatedAt = utc(created)
	return t, nil
}

// GetTemplate returns template id; conf.ErrNotFound when there is none.
func (s *Store) GetTemplate(ctx context.Context, id string) (conf.Template, error) {
	t, err := scanTemplate(s.pool.QueryRow(ctx, `SELECT `+templateColumns+` FROM templates WHERE id = $1`, txt(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return conf.Template{}, fmt.Errorf("template %s: %w", id, conf.ErrNotFound)
	}
	if err != nil {
		return conf.Template{}, fmt.Errorf("reading template %s: %w", id, err)
	}
	return t, nil
}

// ListTemplates returns every template ordered by ID.
func (s *Store) ListTemplates(ctx context.Context) ([]conf.Template, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+templateColumns+` FROM templates ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing templates: %w", err)
	}
	defer rows.Close()
	out := []conf.Template{}
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, fmt.Errorf("listing templates: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing templates: %w", err)
	}
	return out, nil
}

// DeleteTemplate removes template id; conf.ErrNotFound when there is none.
func (s *Store) DeleteTemplate(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM templates WHERE id = $1`, txt(id))
	return affectedOne(tag, err, "deleting template "+id)
}

// ---- layouts ----

// GetLayout returns the layout of conference confID; conf.ErrNotFound when
// it has none.
func (s *Store) GetLayout(ctx context.Context, confID string) (conf.Layout, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT layout FROM conference_layouts WHERE conference_id = $1`, txt(confID)).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return conf.Layout{}, fmt.Errorf("layout of conference %s: %w", confID, conf.ErrNotFound)
	}
	if err != nil {
		return conf.Layout{}, fmt.Errorf("reading layout of conference %s: %w", confID, err)
	}
	var l conf.Layout
	if err := json.Unmarshal(raw, &l); err != nil {
		return conf.Layout{}, fmt.Errorf("%w: layout of conference %s: %v", ErrCorrupt, confID, err)
	}
	return l, nil
}

// SetLayout stores the layout of conference confID; conf.ErrNotFound when
// the conference does not exist.
func (s *Store) SetLayout(ctx context.Context, confID string, l conf.Layout) error {
	raw, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("setting layout of conference %s: encoding: %w", confID, err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO conference_layouts (conference_id, layout)
		SELECT id, $2::jsonb FROM conferences WHERE id = $1
		ON CONFLICT (conference_id) DO UPDATE SET layout = excluded.layout`, txt(confID), cleanJSON(raw))
	return affectedOne(tag, err, "setting layout of conference "+confID)
}

// DeleteLayout removes the layout of conference confID; conf.ErrNotFound
// when it has none.
func (s *Store) DeleteLayout(ctx context.Context, confID string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM conference_layouts WHERE conference_id = $1`, txt(confID))
	return affectedOne(tag, err, "deleting layout of conference "+confID)
}
