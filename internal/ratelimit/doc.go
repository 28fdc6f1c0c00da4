// Package ratelimit throttles password attempts with progressive delays
// per account and per client address, counted in the store so that every
// instance on one database enforces one limit.
//
// It decides when an attempt must wait; it does not know about HTTP (the
// server turns a wait into 429 and Retry-After) nor about passwords.
package ratelimit
