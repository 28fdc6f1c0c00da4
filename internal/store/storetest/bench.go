package storetest

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// BenchRotate measures one refresh-token rotation per op: an UpdateSession
// that reads the locked row, replaces RefreshHash and records the new hash,
// as every POST /v1/token with a refresh token does. open must return a
// store on a new, empty, unmigrated database.
func BenchRotate(b *testing.B, open func(b *testing.B) store.Store) {
	ctx := context.Background()
	s, sess := benchSession(b, open)

	// A counter stands in for SHA-256 so that only the store is measured.
	var seq uint64
	next := make([]byte, 32)
	fn := func(ss *store.Session) error {
		ss.ParentHash = ss.RefreshHash
		ss.RefreshHash = next
		ss.RotatedAt = t0.Add(time.Duration(seq) * time.Second)
		ss.LastActiveAt = ss.RotatedAt
		ss.Generation++
		return nil
	}
	b.ReportAllocs()
	for b.Loop() {
		seq++
		next = make([]byte, 32)
		binary.BigEndian.PutUint64(next, seq)
		if _, err := s.UpdateSession(ctx, sess.ID, fn); err != nil {
			b.Fatalf("UpdateSession: %v", err)
		}
	}
}

// BenchGetSessionAndUser measures what authenticating a request cost
// before GetSessionWithUser: a GetSession, then a GetUser.
func BenchGetSessionAndUser(b *testing.B, open func(b *testing.B) store.Store) {
	ctx := context.Background()
	s, sess := benchSession(b, open)
	b.ReportAllocs()
	for b.Loop() {
		got, err := s.GetSession(ctx, sess.ID)
		if err != nil {
			b.Fatalf("GetSession: %v", err)
		}
		if _, err := s.GetUser(ctx, got.UserID); err != nil {
			b.Fatalf("GetUser: %v", err)
		}
	}
}

// BenchGetSessionWithUser measures what authenticating a request costs:
// one GetSessionWithUser.
func BenchGetSessionWithUser(b *testing.B, open func(b *testing.B) store.Store) {
	ctx := context.Background()
	s, sess := benchSession(b, open)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.GetSessionWithUser(ctx, sess.ID); err != nil {
			b.Fatalf("GetSessionWithUser: %v", err)
		}
	}
}

// benchSession returns a migrated store holding one user with one session.
func benchSession(b *testing.B, open func(b *testing.B) store.Store) (store.Store, store.Session) {
	ctx := context.Background()
	s := open(b)
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	u := newUser(1)
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatalf("CreateUser: %v", err)
	}
	sess := newSession(u.ID, 1)
	if err := s.CreateSession(ctx, sess); err != nil {
		b.Fatalf("CreateSession: %v", err)
	}
	return s, sess
}
