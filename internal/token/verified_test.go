package token

import (
	"context"
	"testing"
)

// A token verified before is refused once its key leaves the key set,
// and a changed text is checked afresh.
func TestVerifiedMemoFollowsKeySet(t *testing.T) {
	fx := newFixture(t, ES256)
	ctx := context.Background()
	raw, _ := mustIssue(t, fx.m, Claims{Subject: "u", SessionID: "s"})
	for i := range 2 {
		if _, err := fx.m.Verify(ctx, raw); err != nil {
			t.Fatalf("Verify #%d: got %v, want valid", i+1, err)
		}
	}
	// The last signature character changed: another text, not in the memo.
	last := byte('A')
	if raw[len(raw)-1] == 'A' {
		last = 'B'
	}
	tampered := raw[:len(raw)-1] + string(last)
	if tampered == raw {
		t.Fatal("tampering left the token as it was")
	}
	if _, err := fx.m.Verify(ctx, tampered); err == nil {
		t.Error("tampered token: got valid, want refused")
	}

	set := fx.m.set.Load()
	without := *set
	without.byID = map[string]*signingKey{}
	fx.m.set.Store(&without)
	if _, err := fx.m.Verify(ctx, raw); err == nil {
		t.Error("token of a key no longer published: got valid, want refused")
	}
	fx.m.set.Store(set)
	if _, err := fx.m.Verify(ctx, raw); err != nil {
		t.Errorf("token after its key is back: got %v, want valid", err)
	}
}
