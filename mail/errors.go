package mail

import "errors"

// Sentinels of this package; every error SendInvitation and New return
// wraps one of them, with the recipient or the setting named in the text.
var (
	// ErrConfig means a Config value cannot work (no host, a From that is
	// not an address, an unknown TLS mode, no public URL to link to).
	ErrConfig = errors.New("mail: invalid configuration")
	// ErrRecipient means a recipient is not a single valid e-mail address;
	// nothing was sent to it.
	ErrRecipient = errors.New("mail: invalid recipient")
	// ErrConnect means the SMTP session could not be set up (connection,
	// greeting, STARTTLS or authentication); no recipient got the mail.
	ErrConnect = errors.New("mail: cannot reach the SMTP server")
	// ErrSend means the SMTP server refused or did not take the message
	// for one recipient.
	ErrSend = errors.New("mail: message not accepted")
)
