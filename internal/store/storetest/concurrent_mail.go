package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// errUsed is what a func given to UseOneTimeToken or UpdateOneTimeToken
// returns when another caller used the token first.
var errUsed = errors.New("storetest: one-time token already used")

// useOnce returns a func for UseOneTimeToken that marks the token used at
// when, and the user verified, unless the token is used already.
func useOnce(when time.Time) func(*store.OneTimeToken, *store.User) error {
	return func(x *store.OneTimeToken, y *store.User) error {
		if !x.UsedAt.IsZero() {
			return errUsed
		}
		x.UsedAt = when
		y.EmailVerified = true
		y.UpdatedAt = when
		return nil
	}
}

// testClaimMailRace: senders on every store claim from 100 due messages at
// once, and deliver (delete) or retry what they claimed while the others
// are still claiming. Every message must be claimed exactly once.
func testClaimMailRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	const messages = 100
	ids := make(map[int64]bool)
	for i := range messages {
		ids[mustEnqueue(t, stores[0], newMail(i, "")).ID] = true
	}
	now, lease, later := at(1000*time.Hour), at(1001*time.Hour), at(2000*time.Hour)

	const n = 10
	claimed := make([][]int64, n)
	errs := make([]error, n)
	race(n, func(i int) {
		s := stores[i%len(stores)]
		for {
			got, err := s.ClaimMail(ctx, now, lease, 7)
			if err != nil {
				errs[i] = err
				return
			}
			if len(got) == 0 {
				return
			}
			if !slices.IsSortedFunc(got, func(a, b store.OutboxMessage) int { return cmp.Compare(a.ID, b.ID) }) {
				errs[i] = fmt.Errorf("ClaimMail returned ids out of order: %v", got)
				return
			}
			for _, m := range got {
				claimed[i] = append(claimed[i], m.ID)
				if m.ID%2 == 0 {
					err = s.DeleteMail(ctx, m.ID)
				} else {
					err = s.RetryMail(ctx, m.ID, later, "busy")
				}
				if err != nil {
					errs[i] = err
					return
				}
			}
		}
	})
	noErrors(t, "sender", errs)
	seen := make(map[int64]int)
	for _, c := range claimed {
		for _, id := range c {
			seen[id]++
		}
	}
	var retried int64
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("message %d claimed %d times, want once", id, seen[id])
		}
		if id%2 == 1 {
			retried++
		}
	}
	for id := range seen {
		if !ids[id] {
			t.Errorf("claimed message %d, which the race did not enqueue", id)
		}
	}
	wantCount(t, stores[0], "after the race", retried)

	// The retried messages come back once due, each with one attempt.
	got, err := stores[0].ClaimMail(ctx, later, later.Add(time.Hour), messages)
	must(t, "ClaimMail(retried)", err)
	if int64(len(got)) != retried {
		t.Errorf("ClaimMail(retried) = %d messages, want %d", len(got), retried)
	}
	for _, m := range got {
		if m.ID%2 != 1 || m.Attempts != 1 || m.LastError != "busy" {
			t.Errorf("retried message %d: Attempts %d, LastError %q; want an odd id, 1, busy", m.ID, m.Attempts, m.LastError)
		}
		must(t, "DeleteMail", stores[0].DeleteMail(ctx, m.ID))
	}
}

// testUseTokenRace: a dozen requests present one link or code at once,
// through UseOneTimeToken and UpdateOneTimeToken, each refusing a used
// token. Exactly one must use it, and only its changes be saved.
func testUseTokenRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	u, tok := userWithToken(t, stores[0], 400, store.PurposeRecover)

	const n = 12
	won := raceToWin(t, stores, n, "use", errUsed, func(i int, s store.Store) error {
		when := at(time.Duration(i+1) * time.Second)
		if i%3 == 2 {
			_, err := s.UpdateOneTimeToken(ctx, tok.ID, func(x *store.OneTimeToken) error {
				if !x.UsedAt.IsZero() {
					return errUsed
				}
				x.UsedAt = when
				return nil
			})
			return err
		}
		_, _, err := s.UseOneTimeToken(ctx, tok.Hash, useOnce(when))
		return err
	})
	if won < 0 {
		return
	}
	when := at(time.Duration(won+1) * time.Second).Truncate(micro)
	got, gotUser := mustPeek(t, stores[0], tok.Hash)
	want := tok
	want.UsedAt = when
	diff(t, "token after the race", got, want)
	wantUser := stored(u)
	if won%3 != 2 {
		wantUser.EmailVerified, wantUser.UpdatedAt = true, when
	}
	diff(t, "user after the race", gotUser, wantUser)
}

// testTokenAttemptsRace: twenty wrong codes at once against one token,
// counted through both UpdateOneTimeToken and UseOneTimeToken: none may
// be lost.
func testTokenAttemptsRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	_, tok := userWithToken(t, stores[0], 401, store.PurposeOTP)

	const n = 20
	results := make([]int, n)
	errs := make([]error, n)
	race(n, func(i int) {
		s := stores[i%len(stores)]
		var got store.OneTimeToken
		if i%2 == 0 {
			got, errs[i] = s.UpdateOneTimeToken(ctx, tok.ID, func(x *store.OneTimeToken) error { x.Attempts++; return nil })
		} else {
			got, _, errs[i] = s.UseOneTimeToken(ctx, tok.Hash, func(x *store.OneTimeToken, _ *store.User) error { x.Attempts++; return nil })
		}
		results[i] = got.Attempts
	})
	noErrors(t, "attempt", errs)
	eachOnce(t, "attempt counts", results, n)
	got, _ := mustPeek(t, stores[0], tok.Hash)
	if got.Attempts != n {
		t.Errorf("Attempts = %d, want %d", got.Attempts, n)
	}
}

// testEmailChangeRace: six accounts confirm a move to the same new
// address at once. Exactly one may have it; the others get
// ErrAlreadyExists with nothing saved, their tokens still unused.
func testEmailChangeRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	const n = 6
	const email = "race-email-change@example.com"
	users := make([]store.User, n)
	tokens := make([]store.OneTimeToken, n)
	for i := range n {
		users[i] = mustCreateUser(t, stores[0], newUser(410+i))
		tok := newToken(users[i], store.PurposeEmailChange, i)
		tok.NewEmail = email
		tokens[i] = mustCreateToken(t, stores[0], tok)
	}
	won := raceToWin(t, stores, n, "email change", store.ErrAlreadyExists, func(i int, st store.Store) error {
		_, _, err := st.UseOneTimeToken(ctx, tokens[i].Hash, func(x *store.OneTimeToken, y *store.User) error {
			x.UsedAt = at(time.Hour)
			y.Email = x.NewEmail
			return nil
		})
		return err
	})
	if won < 0 {
		return
	}
	got, err := stores[0].GetUserByEmail(ctx, email)
	if err != nil || got.ID != users[won].ID {
		t.Errorf("GetUserByEmail(new address) = %s, %v; want the winner %s", got.ID, err, users[won].ID)
	}
	for i := range n {
		if i == won {
			continue
		}
		tok, u := mustPeek(t, stores[0], tokens[i].Hash)
		diff(t, fmt.Sprintf("loser %d's token", i), tok, tokens[i])
		diff(t, fmt.Sprintf("loser %d", i), u, stored(users[i]))
	}
}

// testUseTokenDeleteUserRace: an account is deleted while its tokens are
// being used. Each use must either finish before the deletion or find
// nothing; neither side may fail otherwise (on PostgreSQL, a deadlock
// between the token's, its siblings' and the user's row locks would).
// The tokens come two of each purpose: spending one uses up the other,
// whose own use then finds it used.
func testUseTokenDeleteUserRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, stores[0], newUser(420))
	purposes := []store.TokenPurpose{store.PurposeVerify, store.PurposeRecover, store.PurposeEmailChange,
		store.PurposeOTP, store.PurposeEmailRevert, store.PurposeMFA}
	n := 2 * len(purposes)
	tokens := make([]store.OneTimeToken, n)
	for i := range n {
		tokens[i] = mustCreateToken(t, stores[0], newToken(u, purposes[i%len(purposes)], i))
	}
	errs := make([]error, n+1)
	race(n+1, func(i int) {
		s := stores[i%len(stores)]
		if i == n {
			errs[i] = s.DeleteUser(ctx, u.ID)
			return
		}
		_, _, errs[i] = s.UseOneTimeToken(ctx, tokens[i].Hash, func(x *store.OneTimeToken, y *store.User) error {
			// Hold both locks a moment, so that the deletion comes while
			// some use holds them.
			time.Sleep(time.Millisecond)
			return useOnce(at(time.Hour))(x, y)
		})
	})
	spent := make(map[store.TokenPurpose]int)
	for i, err := range errs[:n] {
		if err == nil {
			spent[tokens[i].Purpose]++
		}
	}
	for i, err := range errs {
		switch {
		case i == n:
			if err != nil {
				t.Errorf("DeleteUser: %v", err)
			}
		case err == nil, isNotFound(err):
		case errors.Is(err, errUsed) && spent[tokens[i].Purpose] == 1:
			// Its sibling was spent first.
		default:
			t.Errorf("UseOneTimeToken %d (%s): got %v, want nil, ErrNotFound, or errUsed after its sibling was spent",
				i, tokens[i].Purpose, err)
		}
	}
	for p, k := range spent {
		if k > 1 {
			t.Errorf("%d tokens of purpose %s spent, want at most 1", k, p)
		}
	}
	if _, err := stores[0].GetUser(ctx, u.ID); !isNotFound(err) {
		t.Errorf("GetUser(deleted): got %v, want ErrNotFound", err)
	}
	for i, tok := range tokens {
		if _, _, err := peek(t, stores[0], tok.Hash); !isNotFound(err) {
			t.Errorf("token %d of the deleted user: got %v, want ErrNotFound", i, err)
		}
	}
}
