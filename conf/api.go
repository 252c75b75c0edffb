// Package conf is Roomgate's domain: conferences and their rules, who may
// join, live participants, accounts and API tokens. It knows nothing of SIP,
// H.323 or RTP wire formats; signalling packages ask it to admit legs and it
// reaches them back only through the LegHandle interface.
//
// API CONTRACT (used by sip/, web/, store/ and cmd/): keep these names and
// signatures; add freely.
package conf

import (
	"context"
	"errors"
	"time"

	"github.com/roomgate/roomgate/bridge"
)

// Conference is a conference as owners configure it. JSON names follow DESIGN.md.
type Conference struct {
	ID                    string       `json:"id"`
	Name                  string       `json:"name"`
	Owner                 string       `json:"owner,omitempty"`
	Description           string       `json:"description,omitempty"`
	Access                string       `json:"access"` // internal | public
	Mode                  string       `json:"mode"`   // symmetric | asymmetric | role-based
	PodiumSeats           int          `json:"podium_seats,omitempty"`
	PIN                   string       `json:"pin,omitempty"`
	ModeratorPIN          string       `json:"moderator_pin,omitempty"`
	MaxParticipants       int          `json:"max_participants"`
	WaitingRoom           bool         `json:"waiting_room"`
	JoinWithoutInvitation bool         `json:"join_without_invitation"`
	RecordingAllowed      bool         `json:"recording_allowed"`
	Locked                bool         `json:"locked"`
	Schedule              Schedule     `json:"schedule"`
	Invitations           []Invitation `json:"invitations"`
	State                 string       `json:"state"` // idle | running | ended
	// GuestRights limit guests of a public conference; nil allows everything.
	GuestRights *GuestRights `json:"guest_rights,omitempty"`
	// MuteMicrophonesOnJoin and MuteCamerasOnJoin apply to participants
	// other than the owner and moderators as they join.
	MuteMicrophonesOnJoin bool `json:"mute_microphones_on_join"`
	MuteCamerasOnJoin     bool `json:"mute_cameras_on_join"`
	// MuteCameraAudio closes the microphone of IP cameras (participants
	// of protocol rtsp) as they join, owner's conference or not: a camera
	// in a meeting room is usually there to be seen, and its microphone
	// would pick up the room a second time. A moderator may unmute it.
	MuteCameraAudio bool `json:"mute_camera_audio"`
	// KeyMap replaces in-call DTMF commands of the configured key map (same
	// syntax as dtmf.key_map, README); empty: the configured map as is.
	KeyMap string `json:"key_map,omitempty"`
	// Tones is "on" (join and leave tones, the default) or "off".
	Tones string `json:"tones,omitempty"`
	// DTMFPassthrough lets the others hear the keys a participant presses.
	DTMFPassthrough bool `json:"dtmf_passthrough"`
	// AdmitWithoutConfirmation lets a caller who dials the owner's user ID
	// while the conference runs join at once, without the owner admitting
	// him first ("don't request confirmation").
	AdmitWithoutConfirmation bool      `json:"admit_without_confirmation"`
	CreatedAt                time.Time `json:"created_at"`
	UpdatedAt                time.Time `json:"updated_at"`
}

// GuestRights are what guests of a public conference may do; each right
// can be denied (false).
type GuestRights struct {
	Speak        bool `json:"speak"`
	Video        bool `json:"video"`
	Chat         bool `json:"chat"`
	ShareContent bool `json:"share_content"`
	Record       bool `json:"record"`
}

// Schedule says when a conference runs; type "none" is a virtual room.
type Schedule struct {
	Type            string    `json:"type"` // none | once | weekly
	Start           time.Time `json:"start,omitzero"`
	DurationMinutes int       `json:"duration_minutes,omitempty"`
	Days            []string  `json:"days,omitempty"`
	TimeZone        string    `json:"time_zone,omitempty"`
}

// Invitation is one entry of a conference's participant list.
type Invitation struct {
	Target    string `json:"target"`
	Moderator bool   `json:"moderator"`
}

// User is an account of the address book.
type User struct {
	ID           string    `json:"id"`
	DisplayName  string    `json:"display_name"`
	Email        string    `json:"email,omitempty"`
	Role         string    `json:"role"` // user | operator | admin
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	// SIPRealm, SIPHA1MD5 and SIPHA1SHA256 are the user's SIP digest
	// credentials (RFC 7616 §3.4.2 H(username:realm:password) in MD5 and,
	// RFC 8760, SHA-256) for the realm they were made for. They are set
	// whenever the password is; a user whose password was last set before
	// they existed, or for another realm, has none and cannot register a
	// phone until his password is set again.
	SIPRealm     string `json:"-"`
	SIPHA1MD5    string `json:"-"`
	SIPHA1SHA256 string `json:"-"`
	// DialOut limits what the server calls on this user's behalf:
	// "none", "internal" (addresses, users, no telephone trunks) or
	// "trunks". Empty is the default: trunks for operators and
	// administrators, internal for users (DialOutRule).
	DialOut string `json:"dial_out,omitempty"`
}

// Token is a stored API bearer token (only its hash is kept).
type Token struct {
	Hash    string
	UserID  string
	Expires time.Time
}

// Store keeps everything that must survive a restart. store/ implements it.
type Store interface {
	CreateConference(ctx context.Context, c Conference) error         // ErrExists
	GetConference(ctx context.Context, id string) (Conference, error) // ErrNotFound
	ListConferences(ctx context.Context) ([]Conference, error)
	UpdateConference(ctx context.Context, c Conference) error
	DeleteConference(ctx context.Context, id string) error // ErrNotFound
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	SaveToken(ctx context.Context, t Token) error
	GetToken(ctx context.Context, hash string) (Token, error)
	DeleteExpiredTokens(ctx context.Context, now time.Time) error
	Close() error
}

// LegHandle is how conf reaches a live leg of any protocol.
type LegHandle interface {
	// Hangup ends the call with cause (BYE for SIP); it must not block long.
	Hangup(cause error)
	// Stats returns the leg's media counters.
	Stats() bridge.LegStats
}

// JoinRequest asks to admit a caller into a conference.
type JoinRequest struct {
	ConferenceID string
	DisplayName  string
	Protocol     string // sip | h323 | rtsp | native
	Remote       string // signalling peer address
	Leg          LegHandle

	// asModerator: the caller proved the moderator PIN, so he joins as a
	// moderator (locked conferences admit him, mute on join spares him).
	asModerator bool
}

// ParticipantInfo is a live participant as the API shows it.
type ParticipantInfo struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"display_name"`
	Protocol    string    `json:"protocol"`
	Role        string    `json:"role"`
	Muted       bool      `json:"muted"`
	Talking     bool      `json:"talking"`
	Codec       string    `json:"codec"`
	Remote      string    `json:"remote"`
	JoinedAt    time.Time `json:"joined_at"`
	Stats       LegStats  `json:"stats"`
	// Video is his video (video.go), absent while he has none.
	Video *VideoInfo `json:"video,omitempty"`
}

// VideoInfo is the video object of a live participant: his camera's
// stream as the bridge sees it and what the switching does with it.
type VideoInfo struct {
	// Codec is "H264".
	Codec string `json:"codec"`
	// Width and Height of his picture, from his stream's SPS; 0 until one
	// was seen.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	// ProfileLevelID is the negotiated H.264 profile-level-id.
	ProfileLevelID string `json:"profile_level_id,omitempty"`
	// FramesIn: his complete frames received; FramesOut: frames of the
	// switched picture sent to him; KeyframesIn: his IDR pictures.
	FramesIn    uint64 `json:"frames_in"`
	FramesOut   uint64 `json:"frames_out"`
	KeyframesIn uint64 `json:"keyframes_in"`
	// KeyframeRequests: keyframes asked of him (RTCP PLI/FIR, SIP INFO);
	// KeyframeRequestsReceived: those he asked of the room.
	KeyframeRequests         uint64 `json:"keyframe_requests"`
	KeyframeRequestsReceived uint64 `json:"keyframe_requests_received"`
	PacketsIn                uint64 `json:"packets_in"`
	PacketsOut               uint64 `json:"packets_out"`
	Lost                     uint64 `json:"lost"`
	// Active: his camera is on and sending.
	Active bool `json:"active"`
	// OnScreen: others see his video now; Pinned: a moderator (or the
	// asymmetric mode) pinned him.
	OnScreen bool `json:"on_screen"`
	Pinned   bool `json:"pinned"`
	// Watching is the participant whose video he sees.
	Watching string `json:"watching,omitempty"`
}

// LegStats is the stats object of a live participant.
type LegStats struct {
	PacketsIn  uint64  `json:"packets_in"`
	PacketsOut uint64  `json:"packets_out"`
	Lost       uint64  `json:"lost"`
	JitterMs   float64 `json:"jitter_ms"`
}

// Errors; signalling maps them to protocol answers (SIP 404, 486, 403 ...).
var (
	ErrNotFound     = errors.New("conf: not found")
	ErrExists       = errors.New("conf: already exists")
	ErrFull         = errors.New("conf: conference is full")
	ErrLocked       = errors.New("conf: conference is locked")
	ErrUnauthorized = errors.New("conf: unauthorized")
	// ErrConferenceDeleted is the cause given to legs hung up because their conference was deleted.
	ErrConferenceDeleted = errors.New("conf: conference deleted")
)

// The Service methods below are the contract; their implementation lives in
// the other files of this package.
//
//	func NewService(st Store, log *slog.Logger) *Service
//	func (s *Service) CreateConference(ctx, c Conference) (Conference, error) // validates, fills defaults, generates ID when empty
//	func (s *Service) GetConference(ctx, id string) (Conference, error)      // State reflects live legs
//	func (s *Service) ListConferences(ctx) ([]Conference, error)
//	func (s *Service) DeleteConference(ctx, id string) error                 // hangs up live legs with ErrConferenceDeleted
//	func (s *Service) Join(ctx, req JoinRequest) (*Participant, error)        // ErrNotFound, ErrFull, ErrLocked
//	func (s *Service) Leave(p *Participant, cause error)
//	func (s *Service) Participants(ctx, conferenceID string) ([]ParticipantInfo, error)
//	func (s *Service) EnsureAdmin(ctx, password string) (generated string, err error)
//	func (s *Service) IssueToken(ctx, username, password string) (token string, expires time.Time, err error)
//	func (s *Service) CheckToken(ctx, token string) (User, error)
//	(*Participant).ID() string
