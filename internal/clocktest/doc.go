// Package clocktest is the clock that latch's tests inject where the code
// reads the time: it moves only when a test steps it, so expiry, delays
// and rotation are tested without sleeping. Tests only.
package clocktest
