// Package audit records latch's security events (sign-ups, sign-ins and
// their failures, throttling, refresh-token re-use, logouts, password
// changes, key rotations, administrator actions): one row in the store's
// audit trail, one structured log line, and one count per event type for
// the metrics — except that types which differ only in whether an account
// exists (signup.existing, mail.sent / mail.dropped) share one count, so
// the metrics cannot be used to test an address; the trail and the log
// keep them apart.
//
// It decides nothing: the domain packages say what happened. A failure to
// store an event is logged and never fails the operation that caused it.
package audit
