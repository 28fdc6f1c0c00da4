package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// Checks both backends run before a write, so that a caller's mistake gets
// the same clear error from either, instead of a constraint failure worded
// by the database.

// Check reports what makes m unfit for EnqueueMail, or nil: Kind and To
// must not be empty, CreatedAt and ExpiresAt not zero, Data a JSON object
// or nil. The backend checks UserID as it stores it.
func (m OutboxMessage) Check() error {
	switch {
	case m.Kind == "":
		return errors.New("the kind is empty")
	case m.To == "":
		return errors.New("the recipient is empty")
	case m.CreatedAt.IsZero() || m.ExpiresAt.IsZero():
		return errors.New("the creation or expiry time is zero")
	case len(m.Data) > 0 && (!json.Valid(m.Data) || bytes.TrimLeft(m.Data, " \t\r\n")[0] != '{'):
		return errors.New("data is not a JSON object")
	}
	return nil
}

// Check reports what makes t unfit for CreateOneTimeToken, or nil: Hash
// must not be empty, Purpose one of the purposes, CreatedAt and ExpiresAt
// not zero. The backend checks the ids as it stores them.
func (t OneTimeToken) Check() error {
	switch {
	case len(t.Hash) == 0:
		return errors.New("the hash is empty")
	case !t.Purpose.Valid():
		return errors.New("unknown purpose")
	case t.CreatedAt.IsZero() || t.ExpiresAt.IsZero():
		return errors.New("the creation or expiry time is zero")
	}
	return nil
}

// StorableText replaces NUL bytes and invalid UTF-8, which PostgreSQL's
// text refuses and a mail server's reply may well contain, with U+FFFD, so
// that both backends store a delivery error alike and RetryMail never
// fails on one (the message would otherwise be claimed again, with no
// attempt counted, each time its lease lapsed).
func StorableText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// IsZero reports whether th counts nothing: no failures, no times. Such a
// row is deleted rather than stored.
func (th Throttle) IsZero() bool {
	return th.Failures == 0 && th.LastFailureAt.IsZero() && th.BlockedUntil.IsZero()
}

// EditThrottle is what both backends' UpdateThrottle do once the row for
// key, th, is locked (a zero Throttle with the Key set if it is missing):
// it applies fn (an error of fn comes back as a CallerError), checks that
// the key did not change, and saves the row with save.
func EditThrottle(key string, th Throttle, fn func(*Throttle) error, save func(Throttle) (Throttle, error)) (Throttle, error) {
	if err := fn(&th); err != nil {
		return Throttle{}, CallerError{Err: err}
	}
	if th.Key != key {
		return Throttle{}, errors.New("the key cannot change")
	}
	return save(th)
}

// EditThrottles is what both backends' UpdateThrottles do once the rows
// for keys are locked, inside their transaction: rows are those rows in
// the order of keys, zero Throttles with the Key set for missing ones. It
// applies fn (an error of fn comes back as a CallerError), checks that no
// key changed, and saves each row with save, or removes it with remove if
// fn left it zero; it returns the rows as saved.
func EditThrottles(keys []string, rows []Throttle, fn func([]Throttle) error,
	save func(Throttle) (Throttle, error), remove func(key string) error) ([]Throttle, error) {
	if err := fn(rows); err != nil {
		return nil, CallerError{Err: err}
	}
	saved := make([]Throttle, len(keys))
	for i, th := range rows {
		if th.Key != keys[i] {
			return nil, errors.New("the key cannot change")
		}
		if th.IsZero() {
			if err := remove(th.Key); err != nil {
				return nil, err
			}
			saved[i] = th
			continue
		}
		var err error
		if saved[i], err = save(th); err != nil {
			return nil, err
		}
	}
	return saved, nil
}

// DistinctKeys refuses a list of throttle keys that names one twice: a
// transaction over several rows must not see one row as two.
func DistinctKeys(keys []string) error {
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			return errors.New("a throttle key is repeated")
		}
		seen[k] = true
	}
	return nil
}
