package server_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// Security events reach the stored audit trail with the client address
// (ASVS 5.0 V16.3.1, V16.3.2).
func TestAuditTrail(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		t0 := h.signup("aud@example.com")
		want(t, h.login("aud@example.com", "wrong password here"), http.StatusBadRequest, "invalid_grant")
		want(t, h.login("ghost@example.com", "wrong password here"), http.StatusBadRequest, "invalid_grant")
		t1 := h.refresh(t0.refresh).tokens(t)
		h.refresh(t1.refresh)
		want(t, h.refresh(t0.refresh), http.StatusBadRequest, "invalid_grant") // re-use
		t2 := h.login("aud@example.com", goodPassword).tokens(t)
		want(t, h.do("POST", "/v1/logout", t2.access, map[string]any{"scope": "global"}), http.StatusNoContent, "")

		events, err := h.db.ListAudit(context.Background(), store.ListAuditOptions{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range events {
			types = append(types, e.Type)
			if e.IP != "127.0.0.1" {
				t.Errorf("%s: ip %q, want 127.0.0.1", e.Type, e.IP)
			}
		}
		slices.Reverse(types)
		wantTypes := []string{"signup", "login.failure", "login.failure", "refresh.reuse", "login.success", "logout"}
		if !slices.Equal(types, wantTypes) {
			t.Fatalf("audit trail: got %v, want %v", types, wantTypes)
		}
		for _, e := range events {
			if e.Type == "refresh.reuse" && (e.UserID != t0.userID || e.SessionID == "") {
				t.Errorf("refresh.reuse: user %q session %q", e.UserID, e.SessionID)
			}
		}

		// Clean-up keeps ended sessions a week, then removes them; audit
		// events go after the retention.
		h.clock.Advance(8 * 24 * time.Hour)
		c, err := h.auth.Cleanup(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pruned, err := h.audit.Prune(context.Background(), 7*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if c.Sessions < 2 || pruned != int64(len(events)) {
			t.Errorf("clean-up: %+v and %d audit events, want ≥2 sessions and %d audit events", c, pruned, len(events))
		}
		if n, err := h.auth.ActiveSessions(context.Background()); err != nil || n != 0 {
			t.Errorf("active sessions: %d %v", n, err)
		}
	})
}
