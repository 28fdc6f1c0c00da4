// Package outbox delivers the mail that requests leave in the outbox
// table: it claims due messages with a lease, asks a Composer what each
// should say, sends it, and deletes it once sent, dropped or expired, or
// schedules a retry after a transient failure. Every instance may run a
// Sender: leases keep a message from going twice.
//
// It owns delivery, not content: which messages exist, whom they concern
// and what they say (and the one-time tokens they carry) are the domain's
// (internal/auth implements Composer). It never decides whether an
// account exists; a Composer answers ErrDrop for a message that no longer
// applies.
package outbox
