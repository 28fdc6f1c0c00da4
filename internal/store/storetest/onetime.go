package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

// newToken returns a token of u with every field set except UsedAt and
// Attempts, created at t0 plus n minutes and valid for an hour. NewEmail
// is set only for store.PurposeEmailChange, as callers do.
func newToken(u store.User, purpose store.TokenPurpose, n int) store.OneTimeToken {
	id := uuid.NewString()
	created := at(time.Duration(n) * time.Minute)
	t := store.OneTimeToken{
		ID:        id,
		UserID:    u.ID,
		Purpose:   purpose,
		Email:     u.Email,
		Hash:      hash("link/" + id),
		CodeHash:  hash("code/" + id),
		CreatedAt: created,
		ExpiresAt: created.Add(time.Hour),
	}
	if purpose == store.PurposeEmailChange {
		t.NewEmail = fmt.Sprintf("new%d@example.com", n)
	}
	return t
}

// userWithToken creates newUser(n) and a token of it for purpose,
// newToken 1, or stops the test.
func userWithToken(t *testing.T, s store.Store, n int, purpose store.TokenPurpose) (store.User, store.OneTimeToken) {
	t.Helper()
	u := mustCreateUser(t, s, newUser(n))
	return u, mustCreateToken(t, s, newToken(u, purpose, 1))
}

// mustCreateToken creates tok and returns it as the store gives it back.
func mustCreateToken(t *testing.T, s store.Store, tok store.OneTimeToken) store.OneTimeToken {
	t.Helper()
	must(t, "CreateOneTimeToken", s.CreateOneTimeToken(t.Context(), tok))
	return stored(tok)
}

// errPeek is what peek's func returns so that UseOneTimeToken writes
// nothing.
var errPeek = errors.New("storetest: peek")

// peek returns the token with this hash and its user as UseOneTimeToken's
// func sees them, without changing either: there is no other way to read
// a used token. The error is UseOneTimeToken's, nil if fn ran.
func peek(t *testing.T, s store.Store, h []byte) (store.OneTimeToken, store.User, error) {
	t.Helper()
	var (
		tok store.OneTimeToken
		u   store.User
	)
	_, _, err := s.UseOneTimeToken(t.Context(), h, func(x *store.OneTimeToken, y *store.User) error {
		tok, u = *x, *y
		return errPeek
	})
	if errors.Is(err, errPeek) {
		return tok, u, nil
	}
	if err == nil {
		t.Fatalf("UseOneTimeToken with a failing func: got nil error")
	}
	return store.OneTimeToken{}, store.User{}, err
}

// mustPeek is peek that stops the test unless the token is found.
func mustPeek(t *testing.T, s store.Store, h []byte) (store.OneTimeToken, store.User) {
	t.Helper()
	tok, u, err := peek(t, s, h)
	must(t, "UseOneTimeToken(peek)", err)
	return tok, u
}

// wantPlainErr fails unless err is an error, and none of the store's
// sentinels: a refused argument is the caller's bug, not a state of the
// database.
func wantPlainErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got nil error, want one", what)
		return
	}
	for _, sentinel := range []error{store.ErrNotFound, store.ErrAlreadyExists, store.ErrUnavailable} {
		if errors.Is(err, sentinel) {
			t.Errorf("%s: got %v, want an error that is not %v", what, err, sentinel)
		}
	}
}

func testOneTimeTokenRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, newUser(1))

	// Used, with a code, a new address and the session that asked for
	// it: every field set.
	full := newToken(u, store.PurposeEmailChange, 1)
	full.UsedAt = at(30 * time.Minute)
	full.Attempts = 3
	full.SessionID = uuid.NewString()
	// The undo of an email change: from the new address back to Email.
	revert := newToken(u, store.PurposeEmailRevert, 5)
	revert.NewEmail = "new5@example.com"
	revert.SessionID = uuid.NewString()
	// No code, no new address, not used: the NULL columns come back nil,
	// "" and zero.
	bare := newToken(u, store.PurposeVerify, 2)
	bare.CodeHash = nil
	emptyCode := newToken(u, store.PurposeOTP, 3)
	emptyCode.CodeHash = []byte{}
	wantEmptyCode := stored(emptyCode)
	wantEmptyCode.CodeHash = nil
	// Ids in another accepted spelling are stored in canonical form.
	upper := newToken(u, store.PurposeRecover, 4)
	upper.ID = "{" + strings.ToUpper(upper.ID) + "}"
	upper.UserID = strings.ToUpper(u.ID)
	wantUpper := stored(upper)
	wantUpper.ID = strings.ToLower(strings.Trim(upper.ID, "{}"))
	wantUpper.UserID = u.ID

	tests := []struct {
		name string
		in   store.OneTimeToken
		want store.OneTimeToken
	}{
		{"every field set", full, stored(full)},
		{"no code, no new email, unused", bare, stored(bare)},
		{"empty code hash", emptyCode, wantEmptyCode},
		{"non-canonical ids", upper, wantUpper},
		{"email revert with a session", revert, stored(revert)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			must(t, "CreateOneTimeToken", s.CreateOneTimeToken(ctx, tt.in))
			got, gotUser := mustPeek(t, s, tt.want.Hash)
			diff(t, "token seen by UseOneTimeToken", got, tt.want)
			diff(t, "user seen by UseOneTimeToken", gotUser, stored(u))
			list, err := s.ListOneTimeTokens(ctx, u.ID, tt.want.Purpose)
			must(t, "ListOneTimeTokens", err)
			var want []store.OneTimeToken
			if tt.want.UsedAt.IsZero() {
				want = []store.OneTimeToken{tt.want}
			}
			diff(t, "ListOneTimeTokens", list, want)
		})
	}
}

func testCreateOneTimeTokenErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, other := twoUsers(t, s)
	orig := mustCreateToken(t, s, newToken(u, store.PurposeVerify, 1))

	tests := []struct {
		name   string
		change func(*store.OneTimeToken)
		want   error // nil: any error that is not a sentinel
	}{
		{"same id", func(x *store.OneTimeToken) { x.ID = orig.ID }, store.ErrAlreadyExists},
		{"same hash", func(x *store.OneTimeToken) { x.Hash = orig.Hash }, store.ErrAlreadyExists},
		{"same hash, other user", func(x *store.OneTimeToken) { x.Hash, x.UserID = orig.Hash, other.ID }, store.ErrAlreadyExists},
		{"unknown user", func(x *store.OneTimeToken) { x.UserID = uuid.NewString() }, store.ErrNotFound},
		{"malformed user id", func(x *store.OneTimeToken) { x.UserID = "nope" }, store.ErrNotFound},
		{"malformed id", func(x *store.OneTimeToken) { x.ID = "nope" }, nil},
		{"nil hash", func(x *store.OneTimeToken) { x.Hash = nil }, nil},
		{"empty hash", func(x *store.OneTimeToken) { x.Hash = []byte{} }, nil},
		{"no purpose", func(x *store.OneTimeToken) { x.Purpose = "" }, nil},
		{"unknown purpose", func(x *store.OneTimeToken) { x.Purpose = "reset" }, nil},
		{"zero creation time", func(x *store.OneTimeToken) { x.CreatedAt = time.Time{} }, nil},
		{"zero expiry", func(x *store.OneTimeToken) { x.ExpiresAt = time.Time{} }, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := newToken(u, store.PurposeRecover, 10+i)
			tt.change(&tok)
			err := s.CreateOneTimeToken(ctx, tok)
			if tt.want != nil {
				wantErr(t, "CreateOneTimeToken", err, tt.want)
			} else {
				wantPlainErr(t, "CreateOneTimeToken", err)
			}
			// Nothing was written: the original is intact, and nothing
			// else is listed or found.
			got, _ := mustPeek(t, s, orig.Hash)
			diff(t, "original token", got, orig)
			for _, user := range []store.User{u, other} {
				for _, p := range []store.TokenPurpose{store.PurposeVerify, store.PurposeRecover} {
					list, err := s.ListOneTimeTokens(ctx, user.ID, p)
					must(t, "ListOneTimeTokens", err)
					var want []store.OneTimeToken
					if user.ID == u.ID && p == orig.Purpose {
						want = []store.OneTimeToken{orig}
					}
					diff(t, fmt.Sprintf("ListOneTimeTokens(%s, %s)", user.Email, p), list, want)
				}
			}
			if len(tok.Hash) > 0 && string(tok.Hash) != string(orig.Hash) {
				if _, _, err := peek(t, s, tok.Hash); !isNotFound(err) {
					t.Errorf("UseOneTimeToken(refused token's hash): got %v, want ErrNotFound", err)
				}
			}
		})
	}
}

func testUseOneTimeToken(t *testing.T, s store.Store) {
	u, tok := userWithToken(t, s, 1, store.PurposeEmailChange)
	c := &useTokenCase{s: s, u: u, tok: tok}
	t.Run("SavesTokenAndUser", c.testSaves)
	t.Run("UsedToken", c.testUsed)
	t.Run("ExpiredToken", c.testExpired)
	t.Run("ClearUsedAt", c.testClearUsedAt)
	t.Run("UnknownHash", func(t *testing.T) {
		for _, h := range [][]byte{hash("unknown"), nil, {}} {
			ran := false
			_, _, err := s.UseOneTimeToken(t.Context(), h, func(*store.OneTimeToken, *store.User) error { ran = true; return nil })
			wantErr(t, fmt.Sprintf("UseOneTimeToken(%x)", h), err, store.ErrNotFound)
			if ran {
				t.Errorf("UseOneTimeToken(%x) ran fn", h)
			}
		}
	})
}

// useTokenCase is what the steps of testUseOneTimeToken share: an email
// change token of a user, and both as the store must hold them by now.
type useTokenCase struct {
	s               store.Store
	u               store.User
	tok             store.OneTimeToken
	wantToken       store.OneTimeToken
	wantUser, moved store.User // moved: the user as GetUserByEmail read it after the change
}

// testSaves: fn's changes of the token's UsedAt and Attempts and of the
// whole user are saved, nothing else of the token.
func (c *useTokenCase) testSaves(t *testing.T) {
	ctx := t.Context()
	s, u, tok := c.s, c.u, c.tok
	usedAt := at(10 * time.Minute)
	var (
		seenToken store.OneTimeToken
		seenUser  store.User
	)
	gotToken, gotUser, err := s.UseOneTimeToken(ctx, tok.Hash, func(x *store.OneTimeToken, y *store.User) error {
		seenToken, seenUser = *x, *y
		x.UsedAt = usedAt
		x.Attempts = 2
		// Only UsedAt and Attempts are saved: these changes are dropped.
		x.Email = "changed@example.com"
		x.NewEmail = "changed@example.com"
		x.Purpose = store.PurposeOTP
		x.CodeHash = nil
		x.ExpiresAt = at(100 * time.Hour)
		x.SessionID = uuid.NewString()
		// The user is saved whole, as UpdateUser saves it.
		y.Email = tok.NewEmail
		y.EmailVerified = true
		y.PasswordHash = ""
		y.Metadata = []byte(`{"moved": true}`)
		y.UpdatedAt = usedAt
		y.LastSignInAt = time.Time{}
		return nil
	})
	must(t, "UseOneTimeToken", err)
	diff(t, "token seen by fn", seenToken, tok)
	diff(t, "user seen by fn", seenUser, stored(u))

	c.wantToken = tok
	c.wantToken.UsedAt = usedAt.Truncate(micro)
	c.wantToken.Attempts = 2
	c.wantUser = stored(u)
	c.wantUser.Email = tok.NewEmail
	c.wantUser.EmailVerified = true
	c.wantUser.PasswordHash = ""
	c.wantUser.Metadata = []byte(`{"moved": true}`)
	c.wantUser.UpdatedAt = usedAt.Truncate(micro)
	c.wantUser.LastSignInAt = time.Time{}
	diff(t, "UseOneTimeToken token", gotToken, c.wantToken)
	diff(t, "UseOneTimeToken user", gotUser, c.wantUser)

	c.moved, err = s.GetUserByEmail(ctx, tok.NewEmail)
	must(t, "GetUserByEmail(new email)", err)
	diff(t, "user after UseOneTimeToken", c.moved, c.wantUser)
	if _, err := s.GetUserByEmail(ctx, u.Email); !isNotFound(err) {
		t.Errorf("GetUserByEmail(old email): got %v, want ErrNotFound", err)
	}
	got, _ := mustPeek(t, s, tok.Hash)
	diff(t, "token after UseOneTimeToken", got, c.wantToken)
	if list, err := s.ListOneTimeTokens(ctx, u.ID, tok.Purpose); err != nil || list != nil {
		t.Errorf("ListOneTimeTokens after use = %d tokens, %v; want nil, nil", len(list), err)
	}
}

// testUsed: fn sees a used token, and decides; a func that changes
// nothing saves the rows as they are.
func (c *useTokenCase) testUsed(t *testing.T) {
	var sawUsed time.Time
	gotToken, gotUser, err := c.s.UseOneTimeToken(t.Context(), c.tok.Hash, func(x *store.OneTimeToken, y *store.User) error {
		sawUsed = x.UsedAt
		return nil
	})
	must(t, "UseOneTimeToken(used token)", err)
	if !sawUsed.Equal(c.wantToken.UsedAt) {
		t.Errorf("fn saw UsedAt %v, want %v", sawUsed, c.wantToken.UsedAt)
	}
	diff(t, "used token after a no-op func", gotToken, c.wantToken)
	diff(t, "user after a no-op func", gotUser, c.wantUser)
}

// testExpired: fn sees an expired token too: the store knows no clock.
func (c *useTokenCase) testExpired(t *testing.T) {
	expired := newToken(c.moved, store.PurposeVerify, 2)
	expired.ExpiresAt = expired.CreatedAt.Add(-time.Hour)
	expired = mustCreateToken(t, c.s, expired)
	seen, _ := mustPeek(t, c.s, expired.Hash)
	diff(t, "expired token seen by fn", seen, expired)
}

// testClearUsedAt: saving UsedAt back to zero stores NULL.
func (c *useTokenCase) testClearUsedAt(t *testing.T) {
	gotToken, _, err := c.s.UseOneTimeToken(t.Context(), c.tok.Hash, func(x *store.OneTimeToken, _ *store.User) error {
		x.UsedAt = time.Time{}
		return nil
	})
	c.wantToken.UsedAt = time.Time{}
	must(t, "UseOneTimeToken(clear UsedAt)", err)
	diff(t, "token with UsedAt cleared", gotToken, c.wantToken)
}

func testUseOneTimeTokenErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, other := twoUsers(t, s)
	tok := newToken(u, store.PurposeEmailChange, 1)
	tok.NewEmail = other.Email
	tok = mustCreateToken(t, s, tok)

	// Every fn also marks the token used: whatever fails, that must not
	// be saved.
	tests := []struct {
		name string
		fn   func(*store.OneTimeToken, *store.User) error
		want error // nil: any error will do
	}{
		{"fn error", func(x *store.OneTimeToken, y *store.User) error {
			y.EmailVerified = false
			y.Disabled = true
			return errBoom
		}, errBoom},
		{"email taken", func(x *store.OneTimeToken, y *store.User) error {
			y.Email = x.NewEmail
			return nil
		}, store.ErrAlreadyExists},
		{"user id changed", func(x *store.OneTimeToken, y *store.User) error {
			y.ID = uuid.NewString()
			return nil
		}, nil},
		{"invalid metadata", func(x *store.OneTimeToken, y *store.User) error {
			y.Metadata = []byte(`{"a":`)
			return nil
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			_, _, err := s.UseOneTimeToken(ctx, tok.Hash, func(x *store.OneTimeToken, y *store.User) error {
				ran = true
				x.UsedAt = at(time.Hour)
				x.Attempts++
				return tt.fn(x, y)
			})
			wantFailure(t, "UseOneTimeToken", err, tt.want)
			if !ran {
				t.Errorf("fn did not run")
			}
			got, gotUser := mustPeek(t, s, tok.Hash)
			diff(t, "token after a failed use", got, tok)
			diff(t, "user after a failed use", gotUser, stored(u))
			reread := mustGet(t, "GetUser", s.GetUser, other.ID)
			diff(t, "other user after a failed use", reread, stored(other))
		})
	}
}

// testUseOneTimeTokenSiblings: a token spent through UseOneTimeToken
// uses up, at the same time, every other unused token of its user and
// purpose, expired ones too, so that an older link mailed for the same
// thing stops working; nothing else changes. A use that does not spend
// the token (fn fails, or leaves UsedAt as it was) changes no sibling.
func testUseOneTimeTokenSiblings(t *testing.T, s store.Store) {
	a, b := twoUsers(t, s)
	spent := mustCreateToken(t, s, newToken(a, store.PurposeRecover, 1))
	sibling := newToken(a, store.PurposeRecover, 2)
	sibling.Attempts = 2
	expired := newToken(a, store.PurposeRecover, 3)
	expired.ExpiresAt = at(-time.Hour)
	used := newToken(a, store.PurposeRecover, 4)
	used.UsedAt = at(5 * time.Minute)
	c := &siblingsCase{s: s, a: a, b: b, want: []store.OneTimeToken{
		spent,
		mustCreateToken(t, s, sibling),
		mustCreateToken(t, s, expired),
		mustCreateToken(t, s, used),
		mustCreateToken(t, s, newToken(a, store.PurposeVerify, 5)),  // another purpose
		mustCreateToken(t, s, newToken(b, store.PurposeRecover, 6)), // another user
		mustCreateToken(t, s, newToken(a, store.PurposeEmailChange, 7)),
	}}
	t.Run("NotSpent", c.testNotSpent)
	t.Run("Spent", c.testSpent)
	t.Run("LaterToken", c.testLaterToken)
}

// siblingsCase is what the steps of testUseOneTimeTokenSiblings share:
// two users, and their tokens as the store must hold them by now, the
// first the one spent, then its siblings (an unused one, an expired one,
// a used one) and tokens of another purpose or user.
type siblingsCase struct {
	s    store.Store
	a, b store.User
	want []store.OneTimeToken
}

// check reads every token after step.
func (c *siblingsCase) check(t *testing.T, step string) {
	t.Helper()
	for i, w := range c.want {
		got, _ := mustPeek(t, c.s, w.Hash)
		diff(t, fmt.Sprintf("%s: token %d", step, i), got, w)
	}
}

// testNotSpent: a use whose fn fails, or leaves UsedAt as it was, changes
// no sibling.
func (c *siblingsCase) testNotSpent(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*store.OneTimeToken, *store.User) error
		want error
	}{
		{"fn error", func(x *store.OneTimeToken, _ *store.User) error {
			x.UsedAt = at(time.Hour)
			return errBoom
		}, errBoom},
		{"UsedAt not set", func(x *store.OneTimeToken, _ *store.User) error {
			x.Attempts++
			return nil
		}, nil},
	} {
		_, _, err := c.s.UseOneTimeToken(t.Context(), c.want[0].Hash, tc.fn)
		if !errors.Is(err, tc.want) {
			t.Errorf("UseOneTimeToken(%s): got %v, want %v", tc.name, err, tc.want)
		}
		if tc.want == nil {
			c.want[0].Attempts++
		}
		c.check(t, tc.name)
	}
}

// testSpent: spending the token uses up its unused siblings, expired or
// not, and nothing else.
func (c *siblingsCase) testSpent(t *testing.T) {
	ctx := t.Context()
	a, b, want := c.a, c.b, c.want
	usedAt := at(10 * time.Minute)
	got, _, err := c.s.UseOneTimeToken(ctx, want[0].Hash, func(x *store.OneTimeToken, _ *store.User) error {
		x.UsedAt = usedAt
		return nil
	})
	must(t, "UseOneTimeToken", err)
	for _, i := range []int{0, 1, 2} { // the spent token and its unused siblings
		want[i].UsedAt = usedAt.Truncate(micro)
	}
	diff(t, "UseOneTimeToken result", got, want[0])
	c.check(t, "spent")
	for _, tc := range []struct {
		user    store.User
		purpose store.TokenPurpose
		want    []store.OneTimeToken
	}{
		{a, store.PurposeRecover, nil},
		{a, store.PurposeVerify, []store.OneTimeToken{want[4]}},
		{b, store.PurposeRecover, []store.OneTimeToken{want[5]}},
		{a, store.PurposeEmailChange, []store.OneTimeToken{want[6]}},
	} {
		list, err := c.s.ListOneTimeTokens(ctx, tc.user.ID, tc.purpose)
		must(t, "ListOneTimeTokens", err)
		diff(t, fmt.Sprintf("ListOneTimeTokens(%s, %s) after the spend", tc.user.Email, tc.purpose), list, tc.want)
	}
}

// testLaterToken: a token issued later is not touched by a second use of
// the spent one whose func saves it as it is: UsedAt was set already.
func (c *siblingsCase) testLaterToken(t *testing.T) {
	c.want = append(c.want, mustCreateToken(t, c.s, newToken(c.a, store.PurposeRecover, 8)))
	if _, _, err := c.s.UseOneTimeToken(t.Context(), c.want[0].Hash, func(*store.OneTimeToken, *store.User) error { return nil }); err != nil {
		t.Fatalf("UseOneTimeToken(spent token, no-op): %v", err)
	}
	c.check(t, "no-op on the spent token")
}

func testListOneTimeTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := twoUsers(t, s)

	// Created out of order, so that the order cannot come from insertion.
	var verifyA []store.OneTimeToken // a's unused verify tokens
	for _, n := range []int{1, 3, 2} {
		verifyA = append(verifyA, mustCreateToken(t, s, newToken(a, store.PurposeVerify, n)))
	}
	expired := newToken(a, store.PurposeVerify, 5)
	expired.ExpiresAt = at(-time.Hour)
	verifyA = append(verifyA, mustCreateToken(t, s, expired))
	usedAtCreation := newToken(a, store.PurposeVerify, 4)
	usedAtCreation.UsedAt = at(5 * time.Minute)
	mustCreateToken(t, s, usedAtCreation)
	usedLater := mustCreateToken(t, s, newToken(a, store.PurposeVerify, 6))
	if _, err := s.UpdateOneTimeToken(ctx, usedLater.ID, func(x *store.OneTimeToken) error {
		x.UsedAt = at(7 * time.Minute)
		return nil
	}); err != nil {
		t.Fatalf("UpdateOneTimeToken: %v", err)
	}
	attempted := mustCreateToken(t, s, newToken(a, store.PurposeVerify, 7))
	attempted, err := s.UpdateOneTimeToken(ctx, attempted.ID, func(x *store.OneTimeToken) error {
		x.Attempts = 4
		return nil
	})
	must(t, "UpdateOneTimeToken", err)
	verifyA = append(verifyA, attempted)
	recoverA := mustCreateToken(t, s, newToken(a, store.PurposeRecover, 8))
	changeA := mustCreateToken(t, s, newToken(a, store.PurposeEmailChange, 9))
	verifyB := mustCreateToken(t, s, newToken(b, store.PurposeVerify, 10))

	// Newest first: 7, 5 (expired), 3, 2, 1.
	wantVerifyA := []store.OneTimeToken{verifyA[4], verifyA[3], verifyA[1], verifyA[2], verifyA[0]}
	tests := []struct {
		name    string
		userID  string
		purpose store.TokenPurpose
		want    []store.OneTimeToken
	}{
		{"unused, newest first, expired included", a.ID, store.PurposeVerify, wantVerifyA},
		{"user id in capitals", strings.ToUpper(a.ID), store.PurposeVerify, wantVerifyA},
		{"another purpose", a.ID, store.PurposeRecover, []store.OneTimeToken{recoverA}},
		{"email change", a.ID, store.PurposeEmailChange, []store.OneTimeToken{changeA}},
		{"no tokens of the purpose", a.ID, store.PurposeOTP, nil},
		{"another user", b.ID, store.PurposeVerify, []store.OneTimeToken{verifyB}},
		{"other user, other purpose", b.ID, store.PurposeRecover, nil},
		{"unknown user", uuid.NewString(), store.PurposeVerify, nil},
		{"malformed user id", "nope", store.PurposeVerify, nil},
		{"unknown purpose", a.ID, "nope", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListOneTimeTokens(ctx, tt.userID, tt.purpose)
			must(t, "ListOneTimeTokens", err)
			diff(t, "ListOneTimeTokens", got, tt.want)
		})
	}
}

func testUpdateOneTimeToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, tok := userWithToken(t, s, 1, store.PurposeOTP)

	// Two wrong codes, then the right one.
	want := tok
	for i := 1; i <= 3; i++ {
		var seen store.OneTimeToken
		got, err := s.UpdateOneTimeToken(ctx, tok.ID, func(x *store.OneTimeToken) error {
			seen = *x
			x.Attempts++
			if i == 3 {
				x.UsedAt = at(time.Duration(i) * time.Minute)
			}
			// Only UsedAt and Attempts are saved: these changes are
			// dropped.
			x.Email = "changed@example.com"
			x.Hash = hash("changed")
			x.CodeHash = nil
			x.ExpiresAt = at(100 * time.Hour)
			x.SessionID = uuid.NewString()
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateOneTimeToken %d: %v", i, err)
		}
		diff(t, fmt.Sprintf("token seen by fn %d", i), seen, want)
		want.Attempts = i
		if i == 3 {
			want.UsedAt = at(3 * time.Minute).Truncate(micro)
		}
		diff(t, fmt.Sprintf("UpdateOneTimeToken %d result", i), got, want)
	}
	got, gotUser := mustPeek(t, s, tok.Hash)
	diff(t, "token after UpdateOneTimeToken", got, want)
	diff(t, "user after UpdateOneTimeToken", gotUser, stored(u))
	if _, _, err := peek(t, s, hash("changed")); !isNotFound(err) {
		t.Errorf("UseOneTimeToken(the hash fn set): got %v, want ErrNotFound", err)
	}

	ran := false
	_, err := s.UpdateOneTimeToken(ctx, tok.ID, func(x *store.OneTimeToken) error {
		ran = true
		x.Attempts = 100
		x.UsedAt = time.Time{}
		return errBoom
	})
	wantErr(t, "UpdateOneTimeToken(fn error)", err, errBoom)
	if !ran {
		t.Errorf("UpdateOneTimeToken(fn error): fn did not run")
	}
	got, _ = mustPeek(t, s, tok.Hash)
	diff(t, "token after a failed update", got, want)

	for _, id := range []string{uuid.NewString(), "nope", ""} {
		ran := false
		_, err := s.UpdateOneTimeToken(ctx, id, func(*store.OneTimeToken) error { ran = true; return nil })
		wantErr(t, fmt.Sprintf("UpdateOneTimeToken(%q)", id), err, store.ErrNotFound)
		if ran {
			t.Errorf("UpdateOneTimeToken(%q) ran fn", id)
		}
	}

	// The id in another accepted spelling finds the token.
	got, err = s.UpdateOneTimeToken(ctx, strings.ToUpper(tok.ID), func(x *store.OneTimeToken) error { return nil })
	must(t, "UpdateOneTimeToken(id in capitals)", err)
	diff(t, "UpdateOneTimeToken(id in capitals)", got, want)
}

func testDeleteOneTimeTokensBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, newUser(1))
	cut := at(24 * time.Hour)
	cases := []struct {
		name    string
		expires time.Time
		used    bool
		gone    bool
	}{
		{"expired a microsecond before", cut.Add(-micro), false, true},
		{"expiring at the cut-off", cut, false, false},
		{"expiring a microsecond after", cut.Add(micro), false, false},
		{"used, expired long ago", at(-time.Hour), true, true},
		{"used, expiring after", cut.Add(time.Hour), true, false},
		// More than a batch of the backends' tests.
		{"expired long ago 1", at(-time.Hour), false, true},
		{"expired long ago 2", at(time.Hour), false, true},
		{"expired long ago 3", at(2 * time.Hour), false, true},
		{"expired long ago 4", at(3 * time.Hour), false, true},
	}
	var (
		tokens []store.OneTimeToken
		want   int64
	)
	for i, c := range cases {
		tok := newToken(u, store.PurposeVerify, i)
		tok.CreatedAt = at(-2 * time.Hour)
		tok.ExpiresAt = c.expires
		if c.used {
			tok.UsedAt = at(-time.Hour)
		}
		tokens = append(tokens, mustCreateToken(t, s, tok))
		if c.gone {
			want++
		}
	}

	wantDeleted(t, "DeleteOneTimeTokensBefore(zero time)", s.DeleteOneTimeTokensBefore, time.Time{}, 0)
	for i, c := range cases {
		if _, _, err := peek(t, s, tokens[i].Hash); err != nil {
			t.Errorf("%s: after DeleteOneTimeTokensBefore(zero time): %v", c.name, err)
		}
	}
	wantDeleted(t, "DeleteOneTimeTokensBefore", s.DeleteOneTimeTokensBefore, cut, want)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _, err := peek(t, s, tokens[i].Hash)
			switch {
			case c.gone:
				wantErr(t, "UseOneTimeToken(deleted)", err, store.ErrNotFound)
			case err != nil:
				t.Errorf("UseOneTimeToken(kept): %v", err)
			default:
				diff(t, "kept token", got, tokens[i])
			}
		})
	}
	if _, err := s.GetUser(ctx, u.ID); err != nil {
		t.Errorf("GetUser after DeleteOneTimeTokensBefore: %v", err)
	}
	wantDeleted(t, "DeleteOneTimeTokensBefore again", s.DeleteOneTimeTokensBefore, cut, 0)
}
