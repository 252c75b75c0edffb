package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/roomgate/roomgate/conf"
)

var (
	_ conf.AddressBook   = (*SQLite)(nil)
	_ conf.BanStore      = (*SQLite)(nil)
	_ conf.TemplateStore = (*SQLite)(nil)
	_ conf.LayoutStore   = (*SQLite)(nil)
)

// ---- users ----

// ListUsers returns every user ordered by ID.
func (s *SQLite) ListUsers(ctx context.Context) ([]conf.User, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	out := []conf.User{}
	for rows.Next() {
		var u conf.User
		var created int64
		if err := rows.Scan(userFields(&u, &created)...); err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		u.CreatedAt = fromMicros(created)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	return out, nil
}

// UpdateUser replaces user u.ID; conf.ErrNotFound when there is none.
func (s *SQLite) UpdateUser(ctx context.Context, u conf.User) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET display_name = ?, email = ?, role = ?, password_hash = ?,
			sip_realm = ?, sip_ha1_md5 = ?, sip_ha1_sha256 = ?, dial_out = ?
			WHERE id = ?`, u.DisplayName, u.Email, u.Role, u.PasswordHash,
			u.SIPRealm, u.SIPHA1MD5, u.SIPHA1SHA256, u.DialOut, u.ID)
		return affectedOne(res, err, "updating user "+u.ID)
	})
}

// DeleteUser removes user id; his tokens and group memberships go with
// him (foreign keys). conf.ErrNotFound when there is none.
func (s *SQLite) DeleteUser(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		return affectedOne(res, err, "deleting user "+id)
	})
}

// affectedOne turns the result of a write of one row into an error:
// conf.ErrNotFound when no row matched.
func affectedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, conf.ErrNotFound)
	}
	return nil
}

// ---- groups ----

// CreateGroup inserts g with its members in one transaction;
// conf.ErrExists when the ID is taken, conf.ErrNotFound when a member is
// not a user.
func (s *SQLite) CreateGroup(ctx context.Context, g conf.Group) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO user_groups (id, name, created_at) VALUES (?, ?, ?)
			ON CONFLICT(id) DO NOTHING`, g.ID, g.Name, micros(g.CreatedAt))
		if err != nil {
			return fmt.Errorf("creating group %s: %w", g.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("creating group %s: %w", g.ID, err)
		} else if n == 0 {
			return fmt.Errorf("creating group %s: %w", g.ID, conf.ErrExists)
		}
		return insertMembers(ctx, tx, g)
	})
}

func insertMembers(ctx context.Context, tx *sql.Tx, g conf.Group) error {
	for i, m := range g.Members {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE id = ?`, m).Scan(&n); err != nil {
			return fmt.Errorf("group %s: checking member %s: %w", g.ID, m, err)
		}
		if n == 0 {
			return fmt.Errorf("group %s: member %s: %w", g.ID, m, conf.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO group_members (group_id, user_id, position) VALUES (?, ?, ?)`,
			g.ID, m, i); err != nil {
			return fmt.Errorf("group %s: adding member %s: %w", g.ID, m, err)
		}
	}
	return nil
}

// GetGroup returns group id with its members; conf.ErrNotFound when there
// is none.
func (s *SQLite) GetGroup(ctx context.Context, id string) (conf.Group, error) {
	g := conf.Group{ID: id, Members: []string{}}
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT name, created_at FROM user_groups WHERE id = ?`, id).Scan(&g.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return conf.Group{}, fmt.Errorf("group %s: %w", id, conf.ErrNotFound)
	}
	if err != nil {
		return conf.Group{}, fmt.Errorf("reading group %s: %w", id, err)
	}
	g.CreatedAt = fromMicros(created)
	rows, err := s.db.QueryContext(ctx, `SELECT user_id FROM group_members WHERE group_id = ? ORDER BY position`, id)
	if err != nil {
		return conf.Group{}, fmt.Errorf("reading members of group %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return conf.Group{}, fmt.Errorf("reading members of group %s: %w", id, err)
		}
		g.Members = append(g.Members, m)
	}
	if err := rows.Err(); err != nil {
		return conf.Group{}, fmt.Errorf("reading members of group %s: %w", id, err)
	}
	return g, nil
}

// ListGroups returns every group with its members, ordered by ID.
func (s *SQLite) ListGroups(ctx context.Context) ([]conf.Group, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT g.id, g.name, g.created_at, m.user_id
		FROM user_groups g LEFT JOIN group_members m ON m.group_id = g.id
		ORDER BY g.id, m.position`)
	if err != nil {
		return nil, fmt.Errorf("listing groups: %w", err)
	}
	defer rows.Close()
	out := []conf.Group{}
	for rows.Next() {
		var id, name string
		var created int64
		var member sql.NullString
		if err := rows.Scan(&id, &name, &created, &member); err != nil {
			return nil, fmt.Errorf("listing groups: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != id {
			out = append(out, conf.Group{ID: id, Name: name, CreatedAt: fromMicros(created), Members: []string{}})
		}
		if member.Valid {
			g := &out[len(out)-1]
			g.Members = append(g.Members, member.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing groups: %w", err)
	}
	return out, nil
}

// UpdateGroup replaces the name and members of group g.ID atomically;
// conf.ErrNotFound when there is no such group or a member is not a user.
func (s *SQLite) UpdateGroup(ctx context.Context, g conf.Group) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE user_groups SET name = ? WHERE id = ?`, g.Name, g.ID)
		if err := affectedOne(res, err, "updating group "+g.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = ?`, g.ID); err != nil {
			return fmt.Errorf("updating group %s: %w", g.ID, err)
		}
		return insertMembers(ctx, tx, g)
	})
}

// DeleteGroup removes group id (not its users); conf.ErrNotFound when
// there is none.
func (s *SQLite) DeleteGroup(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM user_groups WHERE id = ?`, id)
		return affectedOne(res, err, "deleting group "+id)
	})
}

// ---- removals ----

// AddBan records that subject may not rejoin conference confID;
// conf.ErrNotFound when the conference does not exist.
func (s *SQLite) AddBan(ctx context.Context, confID, subject string, at time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO conference_bans (conference_id, subject, created_at)
			SELECT id, ?, ? FROM conferences WHERE id = ?
			ON CONFLICT(conference_id, subject) DO UPDATE SET created_at = excluded.created_at`,
			subject, micros(at), confID)
		return affectedOne(res, err, "banning from conference "+confID)
	})
}

// LiftBans forgets the bans of subjects in conference confID.
func (s *SQLite) LiftBans(ctx context.Context, confID string, subjects []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, sub := range subjects {
			if _, err := tx.ExecContext(ctx, `DELETE FROM conference_bans WHERE conference_id = ? AND subject = ?`,
				confID, sub); err != nil {
				return fmt.Errorf("lifting bans in conference %s: %w", confID, err)
			}
		}
		return nil
	})
}

// IsBanned reports whether subject is banned from conference confID.
func (s *SQLite) IsBanned(ctx context.Context, confID, subject string) (bool, error) {
	// Every join asks this: a prepared statement.
	var banned bool
	if err := s.isBanned.QueryRowContext(ctx, confID, subject).Scan(&banned); err != nil {
		return false, fmt.Errorf("reading bans of conference %s: %w", confID, err)
	}
	return banned, nil
}

// ---- templates ----

// CreateTemplate inserts t; conf.ErrExists when its ID is taken.
func (s *SQLite) CreateTemplate(ctx context.Context, t conf.Template) error {
	settings, err := json.Marshal(t.Settings)
	if err != nil {
		return fmt.Errorf("creating template %s: encoding settings: %w", t.ID, err)
	}
	layout := ""
	if t.Layout != nil {
		raw, err := json.Marshal(t.Layout)
		if err != nil {
			return fmt.Errorf("creating template %s: encoding layout: %w", t.ID, err)
		}
		layout = string(raw)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO templates (id, name, owner, settings, layout, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`, t.ID, t.Name, t.Owner, string(settings), layout, micros(t.CreatedAt))
		if err != nil {
			return fmt.Errorf("creating template %s: %w", t.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("creating template %s: %w", t.ID, err)
		} else if n == 0 {
			return fmt.Errorf("creating template %s: %w", t.ID, conf.ErrExists)
		}
		return nil
	})
}

func scanTemplate(sc scanner) (conf.Template, error) {
	var t conf.Template
	var settings, layout string
	var created int64
	if err := sc.Scan(&t.ID, &t.Name, &t.Owner, &settings, &layout, &created); err != nil {
		return conf.Template{}, err
	}
	if err := json.Unmarshal([]byte(settings), &t.Settings); err != nil {
		return conf.Template{}, fmt.Errorf("%w: template %s settings: %v", ErrCorrupt, t.ID, err)
	}
	if layout != "" {
		t.Layout = &conf.Layout{}
		if err := json.Unmarshal([]byte(layout), t.Layout); err != nil {
			return conf.Template{}, fmt.Errorf("%w: template %s layout: %v", ErrCorrupt, t.ID, err)
		}
	}
	if t.Settings.Invitations == nil {
		t.Settings.Invitations = []conf.Invitation{}
	}
	t.CreatedAt = fromMicros(created)
	return t, nil
}

// GetTemplate returns template id; conf.ErrNotFound when there is none.
func (s *SQLite) GetTemplate(ctx context.Context, id string) (conf.Template, error) {
	t, err := scanTemplate(s.db.QueryRowContext(ctx,
		`SELECT id, name, owner, settings, layout, created_at FROM templates WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return conf.Template{}, fmt.Errorf("template %s: %w", id, conf.ErrNotFound)
	}
	if err != nil {
		return conf.Template{}, fmt.Errorf("reading template %s: %w", id, err)
	}
	return t, nil
}

// ListTemplates returns every template ordered by ID.
func (s *SQLite) ListTemplates(ctx context.Context) ([]conf.Template, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, owner, settings, layout, created_at FROM templates ORDER BY id`)
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
func (s *SQLite) DeleteTemplate(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM templates WHERE id = ?`, id)
		return affectedOne(res, err, "deleting template "+id)
	})
}

// ---- layouts ----

// GetLayout returns the layout of conference confID; conf.ErrNotFound when
// it has none.
func (s *SQLite) GetLayout(ctx context.Context, confID string) (conf.Layout, error) {
	var raw string
	err := s.db.QueryRowContext(ctx, `SELECT layout FROM conference_layouts WHERE conference_id = ?`, confID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return conf.Layout{}, fmt.Errorf("layout of conference %s: %w", confID, conf.ErrNotFound)
	}
	if err != nil {
		return conf.Layout{}, fmt.Errorf("reading layout of conference %s: %w", confID, err)
	}
	var l conf.Layout
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		return conf.Layout{}, fmt.Errorf("%w: layout of conference %s: %v", ErrCorrupt, confID, err)
	}
	return l, nil
}

// SetLayout stores the layout of conference confID; conf.ErrNotFound when
// the conference does not exist.
func (s *SQLite) SetLayout(ctx context.Context, confID string, l conf.Layout) error {
	raw, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("setting layout of conference %s: encoding: %w", confID, err)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO conference_layouts (conference_id, layout)
			SELECT id, ? FROM conferences WHERE id = ?
			ON CONFLICT(conference_id) DO UPDATE SET layout = excluded.layout`, string(raw), confID)
		return affectedOne(res, err, "setting layout of conference "+confID)
	})
}

// DeleteLayout removes the layout of conference confID; conf.ErrNotFound
// when it has none.
func (s *SQLite) DeleteLayout(ctx context.Context, confID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM conference_layouts WHERE conference_id = ?`, confID)
		return affectedOne(res, err, "deleting layout of conference "+confID)
	})
}
