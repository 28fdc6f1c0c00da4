// Package mail builds and sends latch's email: the text and HTML templates
// for each kind of message (address verification, password recovery,
// sign-in codes, security notices), an SMTP mailer that delivers a message
// through a submission server, and a development mailer that writes it to
// the log instead.
//
// It knows nothing of accounts, tokens or the store: the caller makes the
// link or code, renders a Message with Templates and hands it to a Mailer.
// It does not queue either: Send delivers one message now, retrying
// transient failures briefly, and IsPermanent tells the caller whether a
// failure is worth trying again later.
package mail
