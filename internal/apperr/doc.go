// Package apperr is the one error type behind every error answer latch
// gives: a stable code (codes.go, a contract never renamed), the HTTP
// status it means, a message safe to show the client, and, for the log
// only, the cause.
//
// The domain returns these for everything a client did wrong or must
// wait for; the HTTP side writes any error through one writer, which
// reads the Error out of the chain with errors.As and answers 500 for
// anything else. It imports nothing of latch.
package apperr
