// Package mailtest runs an SMTP server inside a test process, so that
// tests can send real mail through package mail, or through a whole latch
// given its URL, and read what arrived: the decoded subject, text and HTML,
// and the links in them.
//
// It listens on 127.0.0.1 only, keeps every message in memory, and can
// require a login, offer STARTTLS or speak TLS from the first byte with a
// certificate it makes, and refuse messages on demand to exercise retries.
// It is for tests only: nothing in latch's binary imports it.
package mailtest
