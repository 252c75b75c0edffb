// Package mail sends e-mail invitations to conferences over SMTP; it
// implements conf.Mailer, and cmd wires it in when smtp.host is set.
//
// Each invitation is a multipart/alternative text and HTML message that
// says who invites, the conference name, ID, description and schedule
// (in the conference's own time zone), and how to join: the conference
// page (PublicURL + "/c/" + id), the SIP URI sip:<id>@<host> and the
// H.323 dial string <host>##<id>. A scheduled conference also gets an
// RFC 5545 invitation.ics (text/calendar; method=REQUEST) whose UID is
// stable per conference, so that a later mail updates the calendar entry;
// a virtual room gets only the link.
//
// Decisions:
//   - One message per recipient: invitees never see each other, and a
//     refused address does not stop the others.
//   - The PIN is never mailed; the mail says that one is required. Mail
//     is stored and forwarded in the clear; the owner hands PINs out.
//   - Every header value that comes from a conference (name, owner) is
//     flattened to one line of printable text and MIME-encoded; addresses
//     must parse as exactly one address (net/mail). No user input can add
//     a header, a recipient or a MIME part.
//   - The password goes only over TLS or to a loopback server; it is never
//     logged (Config.LogValue redacts it).
//
// This package must not decide who gets invited or when: conf does.
// It writes calendars; it never reads them from the network.
package mail
