// Package audit records latch's security events (sign-ups, sign-ins and
// their failures, throttling, refresh-token re-use, logouts, password
// changes, key rotations, administrator actions): one row in the store's
// audit trail, one structured log line, and one count per event type for
// the metrics.
//
// It decides nothing: the domain packages say what happened. A failure to
// store an event is logged and never fails the operation that caused it.
package audit
