package conf

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Address book limits.
const (
	// MinPasswordLen is the shortest password a new or changed account may
	// have; the admin password given at first start is not held to it.
	MinPasswordLen = 8
	// MaxEmailLen is RFC 5321's limit on a forward path.
	MaxEmailLen = 254
	// MaxGroupMembers bounds one group, so that expanding it stays cheap.
	MaxGroupMembers = 10000
)

// Group is a named set of address-book users; inviting a group invites
// its members.
type Group struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Members   []string  `json:"members"`
	CreatedAt time.Time `json:"created_at"`
}

// UserInput is a user as a client writes it: the password is given in
// clear and never read back. On update an empty Password keeps the old one
// and an empty Role keeps the old role.
type UserInput struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Email       string `json:"email"`
	Role        string `json:"role"`
	Password    string `json:"password"`
	// DialOut is the user's dial-out rule (DialOutNone, DialOutInternal,
	// DialOutTrunks); only administrators may set it. On update an empty
	// DialOut keeps the old rule.
	DialOut string `json:"dial_out,omitempty"`
}

// AddressBook is implemented by stores that keep the whole address book:
// listing, changing and deleting users, and groups. It is separate from
// Store so that a store with accounts only (for API login) still works;
// the Service answers ErrNotSupported for address-book calls without it.
type AddressBook interface {
	// ListUsers returns every user ordered by ID.
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser replaces user u.ID (ErrNotFound when there is none).
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser removes user id, his tokens and his group memberships
	// (ErrNotFound when there is none).
	DeleteUser(ctx context.Context, id string) error
	// CreateGroup inserts g (ErrExists when the ID is taken, ErrNotFound
	// when a member is not a user), atomically.
	CreateGroup(ctx context.Context, g Group) error
	// GetGroup returns group id with its members in order (ErrNotFound).
	GetGroup(ctx context.Context, id string) (Group, error)
	// ListGroups returns every group with its members, ordered by ID.
	ListGroups(ctx context.Context) ([]Group, error)
	// UpdateGroup replaces group g.ID and its members atomically.
	UpdateGroup(ctx context.Context, g Group) error
	// DeleteGroup removes group id, not its users (ErrNotFound).
	DeleteGroup(ctx context.Context, id string) error
}

// System is the actor of the command-line tools, which act with the
// rights of whoever can open the database file: an administrator.
func System() User { return User{ID: "", DisplayName: "system", Role: UserRoleAdmin} }

func (s *Service) addressBook() (AddressBook, error) {
	if s.book == nil {
		return nil, fmt.Errorf("the store keeps no address book: %w", ErrNotSupported)
	}
	return s.book, nil
}

// validateAccountID checks a user or group ID: 1 to MaxOwnerLen
// characters of letters, digits and . _ - @, starting with a letter or a
// digit, so that it is safe in a SIP user part and a URL path segment.
func validateAccountID(field, id string) error {
	if len(id) == 0 || len(id) > MaxOwnerLen {
		return invalid(field, "must be 1 to %d characters", MaxOwnerLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			i > 0 && (c == '.' || c == '_' || c == '-' || c == '@')
		if !ok {
			return invalid(field, "must be letters, digits and . _ - @, starting with a letter or digit")
		}
	}
	return nil
}

// ValidAccountID reports whether id has the shape of a user or group ID.
func ValidAccountID(id string) bool { return validateAccountID("id", id) == nil }

func validateEmail(e string) error {
	if e == "" {
		return nil
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(e) > MaxEmailLen ||
		strings.ContainsFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) ||
		!strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return invalid("email", "must be an address such as someone@example.com")
	}
	return nil
}

func validateRole(r string) error {
	switch r {
	case UserRoleUser, UserRoleOperator, UserRoleAdmin:
		return nil
	}
	return invalid("role", "must be %q, %q or %q", UserRoleUser, UserRoleOperator, UserRoleAdmin)
}

func validatePassword(p string) error {
	switch {
	case len(p) > MaxPasswordLen:
		return invalid("password", "must be at most %d bytes", MaxPasswordLen)
	case len([]rune(p)) < MinPasswordLen:
		return invalid("password", "must be at least %d characters", MinPasswordLen)
	}
	return nil
}

// cleanUser validates the descriptive fields of in and returns them
// cleaned: display name defaults to the ID.
func cleanUser(in UserInput) (UserInput, error) {
	var err error
	if in.DisplayName, err = cleanText("display_name", in.DisplayName, MaxNameLen, false); err != nil {
		return in, err
	}
	if in.DisplayName == "" {
		in.DisplayName = in.ID
	}
	in.Email = strings.TrimSpace(in.Email)
	if err := validateEmail(in.Email); err != nil {
		return in, err
	}
	return in, nil
}

// isAdmin reports whether u may manage the address book.
func isAdmin(u User) bool { return u.Role == UserRoleAdmin }

// CreateUser adds an address-book user; only administrators may. The
// password is required (MinPasswordLen or more) and stored hashed, and
// yields the user's SIP digest credentials for the configured realm
// (WithSIPRealm); Role defaults to "user".
func (s *Service) CreateUser(ctx context.Context, actor User, in UserInput) (User, error) {
	if !isAdmin(actor) {
		return User{}, fmt.Errorf("creating user: only an administrator may: %w", ErrForbidden)
	}
	if err := validateAccountID("id", in.ID); err != nil {
		return User{}, err
	}
	in, err := cleanUser(in)
	if err != nil {
		return User{}, err
	}
	if in.Role == "" {
		in.Role = UserRoleUser
	}
	if err := validateRole(in.Role); err != nil {
		return User{}, err
	}
	if err := validateDialOut(in.DialOut); err != nil {
		return User{}, err
	}
	if err := validatePassword(in.Password); err != nil {
		return User{}, err
	}
	hash, err := s.HashPassword(in.Password)
	if err != nil {
		return User{}, fmt.Errorf("creating user %s: hashing password: %w", in.ID, err)
	}
	u := User{ID: in.ID, DisplayName: in.DisplayName, Email: in.Email, Role: in.Role, PasswordHash: hash,
		DialOut: in.DialOut, CreatedAt: s.clock()}
	s.setSIPCredentials(&u, in.Password)
	if err := s.store.CreateUser(ctx, u); err != nil {
		return User{}, fmt.Errorf("creating user %s: %w", u.ID, err)
	}
	s.log.InfoContext(ctx, "user created", "user", u.ID, "role", u.Role, "by", actor.ID)
	return u, nil
}

// GetUser returns address-book user id; every authenticated user may read
// the address book (the password hash is never encoded).
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	if !ValidAccountID(id) {
		return User{}, fmt.Errorf("getting user %q: %w", truncate(id, MaxOwnerLen), ErrNotFound)
	}
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("getting user %s: %w", id, err)
	}
	return u, nil
}

// ListUsers returns the address book ordered by ID.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	book, err := s.addressBook()
	if err != nil {
		return nil, err
	}
	us, err := book.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	if us == nil {
		us = []User{}
	}
	return us, nil
}

// UpdateUser changes user in.ID. Administrators may change everything; a
// user may change his own display name, e-mail and password but not his
// role or dial-out rule. The last administrator cannot be demoted. A new
// password also renews the SIP digest credentials: users created before
// they existed get them the first time their password is set again.
func (s *Service) UpdateUser(ctx context.Context, actor User, in UserInput) (User, error) {
	book, err := s.addressBook()
	if err != nil {
		return User{}, err
	}
	self := actor.ID != "" && actor.ID == in.ID
	if !isAdmin(actor) && !self {
		return User{}, fmt.Errorf("updating user %s: only an administrator or the user himself may: %w", in.ID, ErrForbidden)
	}
	old, err := s.GetUser(ctx, in.ID)
	if err != nil {
		return User{}, fmt.Errorf("updating user: %w", err)
	}
	in, err = cleanUser(in)
	if err != nil {
		return User{}, err
	}
	if in.Role == "" {
		in.Role = old.Role
	}
	if err := validateRole(in.Role); err != nil {
		return User{}, err
	}
	if in.Role != old.Role {
		if !isAdmin(actor) {
			return User{}, fmt.Errorf("updating user %s: only an administrator may change a role: %w", in.ID, ErrForbidden)
		}
		if old.Role == UserRoleAdmin {
			if err := s.checkNotLastAdmin(ctx, book, old.ID); err != nil {
				return User{}, err
			}
		}
	}
	if err := validateDialOut(in.DialOut); err != nil {
		return User{}, err
	}
	if in.DialOut != "" && in.DialOut != old.DialOut && !isAdmin(actor) {
		return User{}, fmt.Errorf("updating user %s: only an administrator may change a dial-out rule: %w", in.ID, ErrForbidden)
	}
	u := old
	u.DisplayName, u.Email, u.Role = in.DisplayName, in.Email, in.Role
	if in.DialOut != "" {
		u.DialOut = in.DialOut
	}
	if in.Password != "" {
		if err := validatePassword(in.Password); err != nil {
			return User{}, err
		}
		if u.PasswordHash, err = s.HashPassword(in.Password); err != nil {
			return User{}, fmt.Errorf("updating user %s: hashing password: %w", in.ID, err)
		}
		s.setSIPCredentials(&u, in.Password)
	}
	if err := book.UpdateUser(ctx, u); err != nil {
		return User{}, fmt.Errorf("updating user %s: %w", u.ID, err)
	}
	s.log.InfoContext(ctx, "user updated", "user", u.ID, "role", u.Role, "password_changed", in.Password != "", "by", actor.ID)
	return u, nil
}

// checkNotLastAdmin refuses to take away the last administrator account,
// which would leave nobody able to manage the server over the API.
func (s *Service) checkNotLastAdmin(ctx context.Context, book AddressBook, id string) error {
	us, err := book.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("counting administrators: %w", err)
	}
	for _, u := range us {
		if u.Role == UserRoleAdmin && u.ID != id {
			return nil
		}
	}
	return fmt.Errorf("user %s is the last administrator: %w", id, ErrConflict)
}

// DeleteUser removes user id with his tokens and group memberships; only
// administrators may, and not the last administrator.
func (s *Service) DeleteUser(ctx context.Context, actor User, id string) error {
	book, err := s.addressBook()
	if err != nil {
		return err
	}
	if !isAdmin(actor) {
		return fmt.Errorf("deleting user %s: only an administrator may: %w", id, ErrForbidden)
	}
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return fmt.Errorf("deleting user: %w", err)
	}
	if u.Role == UserRoleAdmin {
		if err := s.checkNotLastAdmin(ctx, book, id); err != nil {
			return err
		}
	}
	if err := book.DeleteUser(ctx, id); err != nil {
		return fmt.Errorf("deleting user %s: %w", id, err)
	}
	s.RemoveContacts(ctx, id)
	s.log.InfoContext(ctx, "user deleted", "user", id, "by", actor.ID)
	return nil
}

// cleanGroup validates g in place: ID, name, members (users that exist,
// each once, in the order given).
func (s *Service) cleanGroup(ctx context.Context, g *Group) error {
	if err := validateAccountID("id", g.ID); err != nil {
		return err
	}
	var err error
	if g.Name, err = cleanText("name", g.Name, MaxNameLen, false); err != nil {
		return err
	}
	if g.Name == "" {
		g.Name = g.ID
	}
	if len(g.Members) > MaxGroupMembers {
		return invalid("members", "must have at most %d entries", MaxGroupMembers)
	}
	members := make([]string, 0, len(g.Members))
	for i, m := range g.Members {
		field := fmt.Sprintf("members[%d]", i)
		m = strings.TrimSpace(m)
		if err := validateAccountID(field, m); err != nil {
			return err
		}
		if slices.Contains(members, m) {
			return invalid(field, "%q is named twice", m)
		}
		if _, err := s.store.GetUser(ctx, m); errors.Is(err, ErrNotFound) {
			return invalid(field, "%q is not a user of the address book", m)
		} else if err != nil {
			return fmt.Errorf("checking member %s: %w", m, err)
		}
		members = append(members, m)
	}
	g.Members = members
	return nil
}

// CreateGroup adds a group of users; only administrators may.
func (s *Service) CreateGroup(ctx context.Context, actor User, g Group) (Group, error) {
	book, err := s.addressBook()
	if err != nil {
		return Group{}, err
	}
	if !isAdmin(actor) {
		return Group{}, fmt.Errorf("creating group: only an administrator may: %w", ErrForbidden)
	}
	if err := s.cleanGroup(ctx, &g); err != nil {
		return Group{}, err
	}
	g.CreatedAt = s.clock()
	if err := book.CreateGroup(ctx, g); err != nil {
		return Group{}, fmt.Errorf("creating group %s: %w", g.ID, err)
	}
	s.log.InfoContext(ctx, "group created", "group", g.ID, "members", len(g.Members), "by", actor.ID)
	return g, nil
}

// GetGroup returns group id.
func (s *Service) GetGroup(ctx context.Context, id string) (Group, error) {
	book, err := s.addressBook()
	if err != nil {
		return Group{}, err
	}
	if !ValidAccountID(id) {
		return Group{}, fmt.Errorf("getting group %q: %w", truncate(id, MaxOwnerLen), ErrNotFound)
	}
	g, err := book.GetGroup(ctx, id)
	if err != nil {
		return Group{}, fmt.Errorf("getting group %s: %w", id, err)
	}
	return g, nil
}

// ListGroups returns every group ordered by ID.
func (s *Service) ListGroups(ctx context.Context) ([]Group, error) {
	book, err := s.addressBook()
	if err != nil {
		return nil, err
	}
	gs, err := book.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing groups: %w", err)
	}
	if gs == nil {
		gs = []Group{}
	}
	return gs, nil
}

// UpdateGroup replaces the name and members of group g.ID; only
// administrators may.
func (s *Service) UpdateGroup(ctx context.Context, actor User, g Group) (Group, error) {
	book, err := s.addressBook()
	if err != nil {
		return Group{}, err
	}
	if !isAdmin(actor) {
		return Group{}, fmt.Errorf("updating group %s: only an administrator may: %w", g.ID, ErrForbidden)
	}
	old, err := s.GetGroup(ctx, g.ID)
	if err != nil {
		return Group{}, fmt.Errorf("updating group: %w", err)
	}
	if err := s.cleanGroup(ctx, &g); err != nil {
		return Group{}, err
	}
	g.CreatedAt = old.CreatedAt
	if err := book.UpdateGroup(ctx, g); err != nil {
		return Group{}, fmt.Errorf("updating group %s: %w", g.ID, err)
	}
	s.log.InfoContext(ctx, "group updated", "group", g.ID, "members", len(g.Members), "by", actor.ID)
	return g, nil
}

// DeleteGroup removes group id (its users stay); only administrators may.
func (s *Service) DeleteGroup(ctx context.Context, actor User, id string) error {
	book, err := s.addressBook()
	if err != nil {
		return err
	}
	if !isAdmin(actor) {
		return fmt.Errorf("deleting group %s: only an administrator may: %w", id, ErrForbidden)
	}
	if !ValidAccountID(id) {
		return fmt.Errorf("deleting group %q: %w", truncate(id, MaxOwnerLen), ErrNotFound)
	}
	if err := book.DeleteGroup(ctx, id); err != nil {
		return fmt.Errorf("deleting group %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "group deleted", "group", id, "by", actor.ID)
	return nil
}
