// Package prompt plays the bridge's spoken prompts and tones. It decodes the
// prompts shipped in the prompts package (or the files of a configured
// directory, which replace them one by one: recordings, translations), adds
// the join and leave tones it synthesises, and gives a Player that yields
// 20 ms frames of a sequence of prompts at the rate a leg or a room mixes at
// (8, 16 or 48 kHz), which the mixer pulls like a leg's audio.
//
// It decides nothing about when a prompt is played or to whom: the IVR and
// the conference logic choose the prompts, the bridge mixes the frames.
package prompt

// Names of the prompts every library has. The spoken ones come from the
// WAV files <name>.wav; Join and Leave are synthesised unless a file of that
// name replaces them.
const (
	Welcome            = "welcome"
	EnterConferenceID  = "enter-conference-id" // "…followed by the hash key"
	EnterPIN           = "enter-pin"
	WrongPIN           = "wrong-pin"
	InvalidConference  = "invalid-conference"
	FirstParticipant   = "first-participant"
	OnlyParticipant    = "only-participant"
	Muted              = "muted"
	Unmuted            = "unmuted"
	Locked             = "locked"
	ThereAre           = "there-are"
	YouAreParticipant  = "you-are-participant"
	Participants       = "participants"
	ConferenceEnded    = "conference-ended"
	Goodbye            = "goodbye"
	Unlocked           = "unlocked"
	Moderator          = "moderator" // "you are now a moderator"
	EnterModeratorPIN  = "enter-moderator-pin"
	AllMuted           = "all-muted" // "all participants except moderators are muted"
	ParticipantRemoved = "participant-removed"
	ConfirmEnd         = "confirm-end" // "to end the conference for everyone press one; …"
	NotAllowed         = "not-allowed" // "this command is for moderators"
	TooManyAttempts    = "too-many-attempts"
	AdmitRequest       = "admit-request" // "someone asks to join your conference: press one to admit, two to decline"
	// Help reads the default in-call key map (conf's); it is the one long
	// prompt, about half a minute.
	Help  = "help"
	Join  = "join"
	Leave = "leave"
)

// Digit returns the name of the prompt speaking d (0-9), e.g. "digit-4",
// or "" (no prompt) for other numbers.
func Digit(d int) string {
	if d < 0 || d > 9 {
		return ""
	}
	return digitNames[d]
}

var digitNames = [10]string{"digit-0", "digit-1", "digit-2", "digit-3", "digit-4",
	"digit-5", "digit-6", "digit-7", "digit-8", "digit-9"}

// Required lists every prompt a library must hold.
func Required() []string {
	names := []string{Welcome, EnterConferenceID, EnterPIN, WrongPIN, InvalidConference,
		FirstParticipant, OnlyParticipant, Muted, Unmuted, Locked, ThereAre, YouAreParticipant,
		Participants, ConferenceEnded, Goodbye, Join, Leave,
		Unlocked, Moderator, EnterModeratorPIN, AllMuted, ParticipantRemoved, ConfirmEnd,
		NotAllowed, TooManyAttempts, AdmitRequest, Help}
	return append(names, digitNames[:]...)
}
