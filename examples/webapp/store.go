package main

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// table keeps values in memory under random ids that travel in cookies.
// The browser only ever holds the id; the map is keyed by the id's
// SHA-256, so even a dump of this process's memory does not hand out
// cookies. Entries unused for longer than idle are forgotten.
type table[V any] struct {
	idle time.Duration
	now  func() time.Time

	mu sync.Mutex
	m  map[string]*entry[V]
}

type entry[V any] struct {
	v    V
	seen time.Time
}

func newTable[V any](idle time.Duration, now func() time.Time) *table[V] {
	return &table[V]{idle: idle, now: now, m: make(map[string]*entry[V])}
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// put stores v under a new id (256 random bits) and returns the id.
func (t *table[V]) put(v V) string {
	id := randomString(32)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for k, e := range t.m { // a demo's way to expire: sweep on insert
		if now.Sub(e.seen) > t.idle {
			delete(t.m, k)
		}
	}
	t.m[hashID(id)] = &entry[V]{v: v, seen: now}
	return id
}

// get returns the value under id, if any and not expired, and counts
// this as a use.
func (t *table[V]) get(id string) (V, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lookup(id, false)
}

// take removes the value under id and returns it, at most once however
// many requests race for it: for what may be used once only, such as a
// pending sign-in.
func (t *table[V]) take(id string) (V, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lookup(id, true)
}

// lookup is get and take; t.mu is held.
func (t *table[V]) lookup(id string, remove bool) (V, bool) {
	var zero V
	k := hashID(id)
	e, ok := t.m[k]
	if !ok {
		return zero, false
	}
	now := t.now()
	if remove || now.Sub(e.seen) > t.idle {
		delete(t.m, k)
	}
	if now.Sub(e.seen) > t.idle {
		return zero, false
	}
	e.seen = now
	return e.v, true
}

// remove forgets id.
func (t *table[V]) remove(id string) {
	t.mu.Lock()
	delete(t.m, hashID(id))
	t.mu.Unlock()
}
