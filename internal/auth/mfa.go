package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/mfa/passkey"
	"github.com/latchauth/latch/internal/mfa/recovery"
	"github.com/latchauth/latch/internal/mfa/totp"
	"github.com/latchauth/latch/internal/ratelimit"
	"github.com/latchauth/latch/internal/store"
)

// The second step of a sign-in. openSession never starts a session below
// the account's level: when the user has a second factor and the sign-in
// did not use one, it answers mfa_required with an mfa_token instead,
// and FinishMFA starts the session once the person answers with a
// factor. The mfa_token is sealed under the secret key (what the first
// step proved travels in it) and backed by a one-time token row, which
// makes it single use and counts its wrong answers.

// MFA ticket rules (DESIGN.md).
const (
	mfaTTL      = 5 * time.Minute
	mfaAttempts = 5
	// mfaPrefix marks an mfa_token so that secret scanners and people can
	// tell it from other tokens.
	mfaPrefix = "lmf_"
)

// MFATTL is how long an mfa_token lives; the pages keep it as long.
const MFATTL = mfaTTL

// ErrInvalidMFAToken: the mfa_token is unknown, expired, used, or dead
// after too many wrong answers. One answer for all.
var ErrInvalidMFAToken = apperr.New(http.StatusBadRequest, apperr.CodeInvalidGrant, "mfa_token is invalid, expired or already used; sign in again")

// MFARequired is the error of a sign-in that waits for its second step:
// errors.As finds it, and it carries the ticket and the factors that can
// finish it. Its answer is 403 mfa_required.
type MFARequired struct {
	Token   string
	Factors []FactorInfo
}

func (e *MFARequired) Error() string { return "a second factor is required" }

// API is how the error is answered; the server writes Token and Factors
// beside the code.
func (e *MFARequired) API() *apperr.Error {
	return apperr.New(http.StatusForbidden, apperr.CodeMFARequired, "this account needs a second factor: finish with grant_type=mfa and the mfa_token")
}

// ticket is what an mfa_token seals: the first step of a sign-in.
type ticket struct {
	ID       string   `json:"i"` // the one-time token row
	UserID   string   `json:"u"`
	AMR      []string `json:"a"`
	AuthTime int64    `json:"t"` // unix seconds
	Epoch    int64    `json:"e"` // the user's credential epoch at the first step
	Device   string   `json:"d,omitempty"`
	IDP      string   `json:"p,omitempty"`
	Browser  bool     `json:"b,omitempty"`
	Expires  int64    `json:"x"`
	// Used is the factor the first step used (a passkey without user
	// verification), which cannot be the second too.
	Used string `json:"f,omitempty"`
}

// secondStep is openSession's check: nil when the sign-in may start a
// session, *MFARequired when the user has a second factor it did not
// use.
func (s *Service) secondStep(ctx context.Context, in signIn) error {
	if s.factors == nil || in.parent != nil || in.aal == "aal2" {
		return nil
	}
	usable, err := s.usableFactors(ctx, in.user.ID, in.factor)
	if err != nil {
		return err
	}
	if len(secondFactors(usable)) == 0 {
		return nil
	}
	now := s.now().UTC()
	t := ticket{ID: uuid.Must(uuid.NewV7()).String(), UserID: in.user.ID, AMR: in.amr, Epoch: in.user.CredentialEpoch,
		Device: in.device, IDP: in.idp, Browser: in.via.Browser, Expires: now.Add(mfaTTL).Unix(), Used: in.factor}
	if !in.authTime.IsZero() {
		t.AuthTime = in.authTime.Unix()
	}
	sealed, err := s.seal("mfa_token", t)
	if err != nil {
		return fmt.Errorf("mfa ticket: %w", err)
	}
	tok := mfaPrefix + sealed
	if err := s.onetime.CreateOneTimeToken(ctx, store.OneTimeToken{ID: t.ID, UserID: t.UserID, Purpose: store.PurposeMFA,
		Email: in.user.Email, Hash: hashToken(tok), CreatedAt: now, ExpiresAt: now.Add(mfaTTL)}); err != nil {
		return fmt.Errorf("mfa ticket: %w", err)
	}
	e := &MFARequired{Token: tok, Factors: s.infos(usable)}
	s.record(ctx, "mfa.required", in.user.ID, "", map[string]any{"method": in.amr[0]})
	return e
}

// openTicket reads an mfa_token; ErrInvalidMFAToken if it is not one of
// latch's or has expired.
func (s *Service) openTicket(tok string) (ticket, error) {
	var t ticket
	rest, ok := strings.CutPrefix(tok, mfaPrefix)
	if !ok || !s.unseal("mfa_token", rest, &t) || !s.now().Before(time.Unix(t.Expires, 0)) {
		return ticket{}, ErrInvalidMFAToken
	}
	return t, nil
}

// PendingFactors returns the factors that can finish the sign-in of the
// mfa_token tok, for a page that asks for one; ErrInvalidMFAToken if the
// ticket is not latch's or has expired.
func (s *Service) PendingFactors(ctx context.Context, tok string) ([]FactorInfo, error) {
	t, err := s.openTicket(tok)
	if err != nil || s.factors == nil {
		return nil, ErrInvalidMFAToken
	}
	fs, err := s.usableFactors(ctx, t.UserID, t.Used)
	if err != nil {
		return nil, err
	}
	return s.infos(fs), nil
}

// usableFactors are the user's active factors that can be a sign-in's
// second step: all but used, the one that was its first (a passkey
// without user verification).
func (s *Service) usableFactors(ctx context.Context, userID, used string) ([]store.Factor, error) {
	fs, err := s.activeFactors(ctx, userID)
	return slices.DeleteFunc(fs, func(f store.Factor) bool { return f.ID == used }), err
}

// MFAAnswer is the second step of a sign-in: the mfa_token and one of a
// factor's TOTP code, a factor's WebAuthn assertion, or a recovery code.
type MFAAnswer struct {
	Token        string
	FactorID     string
	Code         string
	Credential   json.RawMessage
	RecoveryCode string
}

// FactorChallenge returns the WebAuthn request options with which the
// person answers an mfa_token with the security key factorID. The
// challenge is derived from the ticket and the factor, so nothing is
// stored for it, and it dies with the single-use ticket.
func (s *Service) FactorChallenge(ctx context.Context, tok, factorID string) (json.RawMessage, error) {
	if s.passkeys == nil {
		return nil, ErrPasskeysOff
	}
	t, err := s.openTicket(tok)
	if err != nil {
		return nil, err
	}
	f, err := s.ownFactor(ctx, t.UserID, factorID)
	if err != nil {
		return nil, err
	}
	if f.Type != store.FactorWebAuthn || f.VerifiedAt.IsZero() {
		return nil, invalid("factor_id", "is not a security key or passkey")
	}
	c, err := decodeCredential(f.Secret)
	if err != nil {
		return nil, fmt.Errorf("factor challenge: %w", err)
	}
	return s.passkeys.LoginOptions(s.mfaChallenge(t, f.ID), []passkey.Credential{c}, false)
}

// mfaChallenge is the WebAuthn challenge of ticket t for factor id.
func (s *Service) mfaChallenge(t ticket, factorID string) []byte {
	return s.mac.MAC("mfa webauthn challenge", []byte(t.ID+"/"+factorID))
}

// FinishMFA finishes a sign-in that waits for its second step. Each
// answer is reserved on the ticket (at most five, even all at once) and
// with the login throttle before it is checked; a right one spends the
// ticket and starts the session at aal2.
func (s *Service) FinishMFA(ctx context.Context, a MFAAnswer, c Requester) (TokenResponse, error) {
	ctx = WithRequester(ctx, c)
	if err := required("mfa_token", a.Token); err != nil {
		return TokenResponse{}, err
	}
	if a.RecoveryCode == "" && a.FactorID == "" {
		return TokenResponse{}, invalid("factor_id", "is required (or recovery_code)")
	}
	if a.RecoveryCode == "" && a.Code == "" && len(a.Credential) == 0 {
		return TokenResponse{}, invalid("code", "is required (or credential)")
	}
	if s.factors == nil {
		return TokenResponse{}, ErrInvalidMFAToken
	}
	t, err := s.openTicket(a.Token)
	if err != nil {
		return TokenResponse{}, err
	}
	if t.Browser != c.Browser {
		// A ticket finishes where it started: a page's in a browser
		// session, an app's in tokens.
		return TokenResponse{}, ErrInvalidMFAToken
	}
	u, err := s.users.GetUser(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return TokenResponse{}, ErrInvalidMFAToken
	} else if err != nil {
		return TokenResponse{}, fmt.Errorf("mfa: %w", err)
	}
	at := ratelimit.Attempt{Email: u.Email, IP: c.IP}
	var used store.Factor
	err = s.attempt(ctx, at, "mfa", func() error {
		if err := s.reserveTicket(ctx, t, a.Token); err != nil {
			return err
		}
		var err error
		used, err = s.checkAnswer(ctx, t, u, a)
		if errors.Is(err, ErrInvalidMFA) {
			s.record(ctx, "mfa.failure", u.ID, "", map[string]any{"factor_id": a.FactorID})
		}
		return err
	})
	if err != nil {
		return TokenResponse{}, fmt.Errorf("mfa: %w", err)
	}
	if err := s.spendTicket(ctx, t); err != nil {
		return TokenResponse{}, err
	}
	if u.Disabled {
		return TokenResponse{}, ErrInvalidMFAToken
	}
	// The session is made under the epoch of the first step: a password
	// change since then makes the store refuse it.
	u.CredentialEpoch = t.Epoch
	in := signIn{user: u, via: c, amr: addAMR(t.AMR, factorAMR(used), amrMFA), aal: "aal2", authTime: s.now().UTC(),
		device: t.Device, idp: t.IDP, stale: ErrInvalidMFAToken}
	s.audit.Count("mfa.success." + string(used.Type))
	return s.openSession(ctx, in)
}

// reserveTicket counts one answer against the ticket, refusing it when
// the ticket is used, dead after too many wrong answers, or not this
// token's.
func (s *Service) reserveTicket(ctx context.Context, t ticket, tok string) error {
	_, err := s.onetime.UpdateOneTimeToken(ctx, t.ID, func(x *store.OneTimeToken) error {
		if !x.UsedAt.IsZero() || x.Attempts >= mfaAttempts || x.Purpose != store.PurposeMFA ||
			!equalBytes(x.Hash, hashToken(tok)) || !s.now().Before(x.ExpiresAt) {
			return ErrInvalidMFAToken
		}
		x.Attempts++
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrInvalidMFAToken
	}
	return err
}

// spendTicket marks the ticket used; ErrInvalidMFAToken if another
// answer spent it first.
func (s *Service) spendTicket(ctx context.Context, t ticket) error {
	now := s.now().UTC()
	_, err := s.onetime.UpdateOneTimeToken(ctx, t.ID, func(x *store.OneTimeToken) error {
		if !x.UsedAt.IsZero() {
			return ErrInvalidMFAToken
		}
		x.UsedAt = now
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrInvalidMFAToken
	}
	return err
}

// checkAnswer checks the answer against the user's factor; ErrInvalidMFA
// if it is wrong. A right answer is recorded on the factor (the TOTP
// step, the sign count, the spent recovery code) under the factor's
// lock, so that it is accepted once even on two instances at once.
func (s *Service) checkAnswer(ctx context.Context, t ticket, u store.User, a MFAAnswer) (store.Factor, error) {
	if a.RecoveryCode != "" {
		return s.useRecoveryCode(ctx, u, a.RecoveryCode)
	}
	f, err := s.ownFactor(ctx, u.ID, a.FactorID)
	if errors.Is(err, ErrFactorNotFound) {
		return store.Factor{}, ErrInvalidMFA
	} else if err != nil {
		return store.Factor{}, err
	}
	if f.VerifiedAt.IsZero() || f.ID == t.Used {
		return store.Factor{}, ErrInvalidMFA
	}
	now := s.now().UTC()
	switch f.Type {
	case store.FactorTOTP:
		key, err := s.mac.Open(f.Secret, []byte("totp:"+f.ID))
		if err != nil {
			return store.Factor{}, fmt.Errorf("totp secret: %w", err)
		}
		return s.factors.UpdateFactor(ctx, f.ID, func(x *store.Factor) error {
			step, ok := totp.Verify(key, a.Code, now, x.Counter)
			if !ok {
				return ErrInvalidMFA
			}
			x.Counter, x.LastUsedAt = step, now
			return nil
		})
	case store.FactorWebAuthn:
		if len(a.Credential) == 0 {
			return store.Factor{}, ErrInvalidMFA
		}
		return s.assert(ctx, u, f, s.mfaChallenge(t, f.ID), a.Credential)
	case store.FactorRecovery:
		return s.useRecoveryCode(ctx, u, a.Code)
	}
	return store.Factor{}, ErrInvalidMFA
}

// assert checks a WebAuthn assertion by the credential of f and records
// its new sign count. A count that went backwards is refused and audited:
// the credential may have been cloned.
func (s *Service) assert(ctx context.Context, u store.User, f store.Factor, challenge []byte, response json.RawMessage) (store.Factor, error) {
	if s.passkeys == nil {
		return store.Factor{}, ErrPasskeysOff
	}
	stored, err := decodeCredential(f.Secret)
	if err != nil {
		return store.Factor{}, fmt.Errorf("webauthn credential: %w", err)
	}
	res, err := s.passkeys.Login(challenge, []passkey.Credential{stored}, false, response, func(rawID, _ []byte) (passkey.User, passkey.Credential, error) {
		if !equalBytes(rawID, stored.ID) {
			return passkey.User{}, passkey.Credential{}, ErrInvalidMFA
		}
		return passkeyUser(u), stored, nil
	})
	if err != nil {
		s.log.DebugContext(ctx, "webauthn assertion refused", "factor_id", f.ID, "err", err)
		return store.Factor{}, ErrInvalidMFA
	}
	return s.recordAssertion(ctx, f, res)
}

// recordAssertion saves a verified assertion's sign count and flags on
// its factor, refusing a count that did not go forward.
func (s *Service) recordAssertion(ctx context.Context, f store.Factor, res passkey.Assertion) (store.Factor, error) {
	now := s.now().UTC()
	count := int64(res.Credential.SignCount)
	saved, err := s.factors.UpdateFactor(ctx, f.ID, func(x *store.Factor) error {
		if res.CloneWarning || (count != 0 && count <= x.Counter) {
			return errCloned
		}
		b, err := json.Marshal(res.Credential)
		if err != nil {
			return err
		}
		x.Secret, x.Counter, x.LastUsedAt = b, count, now
		return nil
	})
	if errors.Is(err, errCloned) {
		s.record(ctx, "webauthn.sign_count", f.UserID, "", map[string]any{"factor_id": f.ID, "stored": f.Counter, "presented": count})
		return store.Factor{}, ErrInvalidMFA
	}
	return saved, err
}

// errCloned: a WebAuthn sign count that went backwards.
var errCloned = errors.New("webauthn sign count did not increase")

// useRecoveryCode spends one of the user's recovery codes: the code's
// hash leaves the set under the set's lock, so a code works once even
// when sent twice at once.
func (s *Service) useRecoveryCode(ctx context.Context, u store.User, code string) (store.Factor, error) {
	if _, ok := recovery.Normalize(code); !ok {
		return store.Factor{}, ErrInvalidMFA
	}
	fs, err := s.activeFactors(ctx, u.ID)
	if err != nil {
		return store.Factor{}, err
	}
	h := recovery.Hash(code, s.recoveryKey(u.ID))
	now := s.now().UTC()
	for _, f := range fs {
		if f.Type != store.FactorRecovery {
			continue
		}
		saved, err := s.factors.UpdateFactor(ctx, f.ID, func(x *store.Factor) error {
			for i := 0; i+recoveryHashLen <= len(x.Secret); i += recoveryHashLen {
				if equalBytes(x.Secret[i:i+recoveryHashLen], h) {
					x.Secret = append(x.Secret[:i:i], x.Secret[i+recoveryHashLen:]...)
					x.LastUsedAt = now
					return nil
				}
			}
			return ErrInvalidMFA
		})
		if errors.Is(err, ErrInvalidMFA) || errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.Factor{}, err
		}
		left := len(saved.Secret) / recoveryHashLen
		s.record(ctx, "mfa.recovery_code", u.ID, "", map[string]any{"remaining": left})
		d := mailData{IP: RequesterFrom(ctx).IP, Remaining: left}
		if err := s.enqueue(ctx, kindRecoveryCodeUsed, u.Email, u.ID, d, noticeTTL); err != nil {
			s.log.WarnContext(ctx, "cannot queue the recovery-code notice", "user_id", u.ID, "err", err)
		}
		return saved, nil
	}
	return store.Factor{}, ErrInvalidMFA
}
