package storetest

import (
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store"
)

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys, err := s.ListSigningKeys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("ListSigningKeys(empty store) = %d keys, %v; want 0, nil", len(keys), err)
	}

	k1 := newKey(1, store.KeyCurrent)
	k1.ActivatedAt = at(time.Hour)
	k2 := newKey(2, store.KeyNext)
	// Returned newest first: the list must still come back oldest first.
	var seen []store.SigningKey
	err = s.UpdateSigningKeys(ctx, func(keys []store.SigningKey) ([]store.SigningKey, error) {
		seen = keys
		return []store.SigningKey{k2, k1}, nil
	})
	must(t, "UpdateSigningKeys (insert)", err)
	if len(seen) != 0 {
		t.Errorf("fn saw %d keys in an empty store, want 0", len(seen))
	}
	want := []store.SigningKey{stored(k1), stored(k2)}
	got, err := s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	diff(t, "keys after insert", got, want)

	// Rotation: current becomes previous, next becomes current, a new next
	// appears.
	k1.State = store.KeyPrevious
	k1.DeactivateAt = at(10 * time.Hour)
	k1.RetireAt = at(11 * time.Hour)
	k2.State = store.KeyCurrent
	k2.ActivatedAt = at(10 * time.Hour)
	k3 := newKey(3, store.KeyNext)
	err = s.UpdateSigningKeys(ctx, func(keys []store.SigningKey) ([]store.SigningKey, error) {
		seen = keys
		return []store.SigningKey{k1, k2, k3}, nil
	})
	must(t, "UpdateSigningKeys (rotate)", err)
	diff(t, "keys seen by fn", seen, want)
	want = []store.SigningKey{stored(k1), stored(k2), stored(k3)}
	got, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	diff(t, "keys after rotation", got, want)

	// Keys that fn does not return are left as they are.
	k1.State = store.KeyRetired
	err = s.UpdateSigningKeys(ctx, func(keys []store.SigningKey) ([]store.SigningKey, error) {
		return []store.SigningKey{k1}, nil
	})
	must(t, "UpdateSigningKeys (retire)", err)
	want[0] = stored(k1)
	got, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	diff(t, "keys after retiring one", got, want)

	err = s.UpdateSigningKeys(ctx, func(keys []store.SigningKey) ([]store.SigningKey, error) { return nil, nil })
	must(t, "UpdateSigningKeys (no change)", err)
	got, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	diff(t, "keys after no change", got, want)
}

func testSigningKeysFuncError(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := newKey(1, store.KeyCurrent)
	if err := s.UpdateSigningKeys(ctx, func([]store.SigningKey) ([]store.SigningKey, error) {
		return []store.SigningKey{k1}, nil
	}); err != nil {
		t.Fatalf("UpdateSigningKeys: %v", err)
	}
	changed := k1
	changed.State = store.KeyPrevious
	err := s.UpdateSigningKeys(ctx, func([]store.SigningKey) ([]store.SigningKey, error) {
		return []store.SigningKey{changed, newKey(2, store.KeyCurrent)}, errBoom
	})
	wantErr(t, "UpdateSigningKeys", err, errBoom)
	got, err := s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	diff(t, "keys after failed update", got, []store.SigningKey{stored(k1)})
}
