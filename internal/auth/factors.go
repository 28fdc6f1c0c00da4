package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/mfa/passkey"
	"github.com/latchauth/latch/internal/mfa/qr"
	"github.com/latchauth/latch/internal/mfa/recovery"
	"github.com/latchauth/latch/internal/mfa/totp"
	"github.com/latchauth/latch/internal/store"
)

// Second factors: enrolling, listing and removing them. A factor is
// pending from EnrolFactor until VerifyFactor shows that the person holds
// it (a TOTP code, a WebAuthn attestation); only then does it count, and
// from the first one on, every sign-in of the user needs it (mfa.go).

// pendingTTL is how long an enrolment may wait for its verification.
const pendingTTL = 15 * time.Minute

// The amr values (RFC 8176) of the factors.
const (
	amrTOTP     = "otp"
	amrHardware = "hwk" // a device-bound key: a security key, a platform authenticator
	amrSoftware = "swk" // a synced passkey
	amrRecovery = "kba"
	amrMFA      = "mfa"
)

// FactorInfo is a factor as its owner sees it.
type FactorInfo struct {
	ID         string
	Type       store.FactorType
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time
	// Remaining is how many recovery codes are left (recovery only).
	Remaining int
	// Synced: a passkey that the platform copies between the owner's
	// devices (backup eligible).
	Synced bool
}

// Enrolment is a factor just enrolled, still pending, and what the person
// needs to finish it.
type Enrolment struct {
	Factor FactorInfo
	// TOTP: the secret in base32 (grouped for typing), the otpauth URI and
	// a QR code of it as SVG.
	Secret     string
	OTPAuthURI string
	QRSVG      string
	// WebAuthn: the creation options (WebAuthn Level 3 JSON).
	Options json.RawMessage
}

// Verified is what VerifyFactor gives back: the factor, now active, and,
// when it was the user's first, the recovery codes made with it (shown
// once).
type Verified struct {
	Factor        FactorInfo
	RecoveryCodes []string
}

// info is f as its owner sees it.
func (s *Service) info(f store.Factor) FactorInfo {
	fi := FactorInfo{ID: f.ID, Type: f.Type, Name: f.Name, CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt}
	switch f.Type {
	case store.FactorRecovery:
		fi.Remaining = len(f.Secret) / recoveryHashLen
	case store.FactorWebAuthn:
		if c, err := decodeCredential(f.Secret); err == nil {
			fi.Synced = c.Passkey()
		}
	}
	return fi
}

// ListFactors returns the caller's active factors, oldest first.
func (s *Service) ListFactors(ctx context.Context, p Principal) ([]FactorInfo, error) {
	fs, err := s.activeFactors(ctx, p.User.ID)
	if err != nil {
		return nil, err
	}
	return s.infos(fs), nil
}

// infos is fs as their owner sees them.
func (s *Service) infos(fs []store.Factor) []FactorInfo {
	out := make([]FactorInfo, 0, len(fs))
	for _, f := range fs {
		out = append(out, s.info(f))
	}
	return out
}

// activeFactors returns the user's verified factors, recovery codes
// included.
func (s *Service) activeFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	fs, err := s.factors.ListFactors(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list factors: %w", err)
	}
	return slices.DeleteFunc(fs, func(f store.Factor) bool { return f.VerifiedAt.IsZero() }), nil
}

// secondFactors are the factors among fs that raise a sign-in to aal2:
// authenticator apps and security keys, not recovery codes (which only
// stand in for them).
func secondFactors(fs []store.Factor) []store.Factor {
	return slices.DeleteFunc(slices.Clone(fs), func(f store.Factor) bool { return f.Type == store.FactorRecovery })
}

// mayChangeFactors checks what changing the caller's factors needs: a
// fresh proof (a sign-in within 5 minutes, or the current password), and
// a session at aal2 when the user already has a factor.
func (s *Service) mayChangeFactors(ctx context.Context, p Principal, current string) error {
	if err := s.needLevel(ctx, p); err != nil {
		return err
	}
	if current == "" && s.recent(p.Session) {
		return nil
	}
	if p.User.PasswordHash == "" {
		return ErrInsufficientAuth
	}
	return s.freshProof(ctx, p, current, false)
}

// needLevel refuses a sensitive change from a session below the user's
// level: once the user has a second factor, a session that did not use
// one may not change credentials.
func (s *Service) needLevel(ctx context.Context, p Principal) error {
	if p.Session.AAL == "aal2" || s.factors == nil {
		return nil
	}
	fs, err := s.activeFactors(ctx, p.User.ID)
	if err != nil {
		return err
	}
	if len(secondFactors(fs)) > 0 {
		return ErrNeedAAL2
	}
	return nil
}

// EnrolFactor starts enrolling a factor of type typ ("totp" or
// "webauthn") for the caller; name is what the person calls it ("" for
// a default). The factor is pending until VerifyFactor.
func (s *Service) EnrolFactor(ctx context.Context, p Principal, typ, name, current string) (Enrolment, error) {
	if err := s.factorsOn(); err != nil {
		return Enrolment{}, err
	}
	name, err := factorName(name)
	if err != nil {
		return Enrolment{}, err
	}
	switch typ {
	case string(store.FactorTOTP), string(store.FactorWebAuthn):
	case "":
		return Enrolment{}, invalid("type", "is required: totp or webauthn")
	default:
		return Enrolment{}, invalid("type", "must be totp or webauthn")
	}
	if typ == string(store.FactorWebAuthn) && s.passkeys == nil {
		return Enrolment{}, ErrPasskeysOff
	}
	if err := s.mayChangeFactors(ctx, p, current); err != nil {
		return Enrolment{}, err
	}
	now := s.now().UTC()
	f := store.Factor{ID: uuid.Must(uuid.NewV7()).String(), UserID: p.User.ID, Type: store.FactorType(typ), Name: name, CreatedAt: now}
	var secret []byte
	if f.Type == store.FactorTOTP {
		if f.Name == "" {
			f.Name = "Authenticator app"
		}
		if secret, err = totp.NewSecret(); err != nil {
			return Enrolment{}, err
		}
	} else {
		if f.Name == "" {
			f.Name = "Passkey"
		}
		secret = randomBytes(32) // the registration's challenge
	}
	if f.Secret, err = s.mac.Seal(secret, []byte(enrolmentAAD(f))); err != nil {
		return Enrolment{}, fmt.Errorf("enrol factor: %w", err)
	}
	e, err := s.enrolment(ctx, p.User, f, secret)
	if err != nil {
		return Enrolment{}, err
	}
	if err := s.factors.CreateFactor(ctx, f); err != nil {
		return Enrolment{}, fmt.Errorf("enrol factor: %w", err)
	}
	s.record(ctx, "factor.enrol", p.User.ID, p.Session.ID, map[string]any{"factor_id": f.ID, "type": string(f.Type)})
	e.Factor = s.info(f)
	return e, nil
}

// enrolmentAAD binds a pending factor's sealed secret (a TOTP secret, a
// registration challenge) to the factor.
func enrolmentAAD(f store.Factor) string {
	if f.Type == store.FactorTOTP {
		return "totp:" + f.ID
	}
	return "webauthn registration:" + f.ID
}

// enrolment is what the person needs to finish enrolling f, whose secret
// (sealed in f) is secret: the key, its otpauth URI and QR code, or the
// WebAuthn creation options.
func (s *Service) enrolment(ctx context.Context, u store.User, f store.Factor, secret []byte) (Enrolment, error) {
	e := Enrolment{Factor: s.info(f)}
	var err error
	if f.Type == store.FactorTOTP {
		e.Secret = totp.EncodeGrouped(secret)
		e.OTPAuthURI = totp.URI(s.opts.Issuer, u.Email, secret)
		if e.QRSVG, err = qr.SVG(e.OTPAuthURI, qr.Options{Title: "QR code to add " + s.opts.Issuer + " to an authenticator app"}); err != nil {
			return Enrolment{}, fmt.Errorf("enrol factor: %w", err)
		}
		return e, nil
	}
	existing, err := s.credentials(ctx, u.ID)
	if err != nil {
		return Enrolment{}, err
	}
	if e.Options, err = s.passkeys.RegistrationOptions(passkeyUser(u), secret, existing, true); err != nil {
		return Enrolment{}, fmt.Errorf("enrol factor: %w", err)
	}
	return e, nil
}

// PendingEnrolment shows again what the caller needs to finish enrolling
// their pending factor id (a page asks again after a wrong code).
func (s *Service) PendingEnrolment(ctx context.Context, p Principal, id string) (Enrolment, error) {
	if err := s.factorsOn(); err != nil {
		return Enrolment{}, err
	}
	f, err := s.ownFactor(ctx, p.User.ID, id)
	if err != nil {
		return Enrolment{}, err
	}
	if !f.VerifiedAt.IsZero() || f.Type == store.FactorRecovery || (f.Type == store.FactorWebAuthn && s.passkeys == nil) {
		return Enrolment{}, ErrFactorNotFound
	}
	secret, err := s.mac.Open(f.Secret, []byte(enrolmentAAD(f)))
	if err != nil {
		return Enrolment{}, fmt.Errorf("pending enrolment: %w", err)
	}
	return s.enrolment(ctx, p.User, f, secret)
}

// factorName checks a name a person gave a factor.
func factorName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if len(name) > 64 || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) || !utf8.ValidString(name) {
		return "", invalid("name", "must be at most 64 characters of text")
	}
	return name, nil
}

// VerifyFactor finishes enrolling the caller's pending factor: code is a
// TOTP code from it, credential a WebAuthn registration response. The
// first factor of a user ends every other session (they were below the
// new level), raises the caller's to aal2, and comes with recovery codes.
func (s *Service) VerifyFactor(ctx context.Context, p Principal, id, code string, credential json.RawMessage) (Verified, error) {
	if err := s.factorsOn(); err != nil {
		return Verified{}, err
	}
	if err := s.needLevel(ctx, p); err != nil {
		return Verified{}, err
	}
	f, err := s.ownFactor(ctx, p.User.ID, id)
	if err != nil {
		return Verified{}, err
	}
	if !f.VerifiedAt.IsZero() || f.Type == store.FactorRecovery {
		return Verified{}, invalid("id", "names a factor that is already active")
	}
	now := s.now().UTC()
	if now.Sub(f.CreatedAt) > pendingTTL {
		return Verified{}, apperr.New(http.StatusBadRequest, apperr.CodeInvalidMFA, "this enrolment has expired; start again")
	}
	proof, err := s.proveFactor(ctx, p, f, code, credential, now)
	if err != nil {
		return Verified{}, err
	}
	u, f, first, err := s.activateFactor(ctx, f.ID, proof, now)
	if err != nil {
		return Verified{}, err
	}
	// Every other session was below the new level (or used no factor);
	// the caller's is raised and re-stamped.
	n, err := s.sessions.RevokeSessions(ctx, u.ID, p.Session.ID, now)
	if err != nil {
		return Verified{}, fmt.Errorf("verify factor: revoke other sessions: %w", err)
	}
	amr := factorAMR(f)
	if _, err := s.sessions.UpdateSession(ctx, p.Session.ID, func(x *store.Session) error {
		x.CredentialEpoch, x.AAL, x.AuthTime = u.CredentialEpoch, "aal2", now
		x.AMR = addAMR(x.AMR, amr, amrMFA)
		return nil
	}); err != nil && !errors.Is(err, store.ErrNotFound) {
		return Verified{}, fmt.Errorf("verify factor: %w", err)
	}
	var codes []string
	if first {
		if codes, err = s.replaceRecoveryCodes(ctx, u.ID); err != nil {
			return Verified{}, err
		}
	}
	s.record(ctx, "factor.add", u.ID, p.Session.ID, map[string]any{"factor_id": f.ID, "type": string(f.Type), "sessions_revoked": n})
	s.audit.Count("factor.add." + string(f.Type))
	s.notifyFactor(ctx, kindFactorAdded, u, f.Name)
	return Verified{Factor: s.info(f), RecoveryCodes: codes}, nil
}

// factorProof is what a pending factor keeps once it is verified: its
// secret (the sealed TOTP key, the WebAuthn credential), the credential
// id, and the counter (the TOTP step, the sign count) to go on from.
type factorProof struct {
	secret, credID []byte
	counter        int64
}

// proveFactor checks that the caller holds the pending factor f: a TOTP
// code from it (code) or a WebAuthn registration response (credential).
// A wrong answer is audited and ErrInvalidMFA.
func (s *Service) proveFactor(ctx context.Context, p Principal, f store.Factor, code string, credential json.RawMessage, now time.Time) (factorProof, error) {
	var proof factorProof
	switch f.Type {
	case store.FactorTOTP:
		if code == "" {
			return factorProof{}, invalid("code", "is required")
		}
		key, err := s.mac.Open(f.Secret, []byte(enrolmentAAD(f)))
		if err != nil {
			return factorProof{}, fmt.Errorf("verify factor: %w", err)
		}
		step, ok := totp.Verify(key, code, now, 0)
		if !ok {
			s.record(ctx, "factor.verify.failure", p.User.ID, p.Session.ID, map[string]any{"factor_id": f.ID})
			return factorProof{}, ErrInvalidMFA
		}
		proof.secret, proof.counter = f.Secret, step
	case store.FactorWebAuthn:
		if len(credential) == 0 {
			return factorProof{}, invalid("credential", "is required")
		}
		challenge, err := s.mac.Open(f.Secret, []byte(enrolmentAAD(f)))
		if err != nil {
			return factorProof{}, fmt.Errorf("verify factor: %w", err)
		}
		c, err := s.passkeys.Register(passkeyUser(p.User), challenge, credential)
		if err != nil {
			s.record(ctx, "factor.verify.failure", p.User.ID, p.Session.ID, map[string]any{"factor_id": f.ID, "reason": err.Error()})
			return factorProof{}, ErrInvalidMFA
		}
		if proof.secret, err = json.Marshal(c); err != nil {
			return factorProof{}, fmt.Errorf("verify factor: %w", err)
		}
		proof.credID, proof.counter = c.ID, int64(c.SignCount)
	}
	return proof, nil
}

// activateFactor makes the pending factor id active with proof, in the
// transaction that raises its user's credential epoch. It returns the
// user and the factor as saved, and whether this is the user's first
// second factor.
func (s *Service) activateFactor(ctx context.Context, id string, proof factorProof, now time.Time) (store.User, store.Factor, bool, error) {
	var first bool
	u, f, err := s.factors.VerifyFactor(ctx, id, func(u *store.User, x *store.Factor, others []store.Factor) error {
		if !x.VerifiedAt.IsZero() {
			return invalid("id", "names a factor that is already active")
		}
		x.Secret, x.CredentialID, x.Counter, x.VerifiedAt = proof.secret, proof.credID, proof.counter, now
		first = len(secondFactors(verifiedOnly(others))) == 0
		// The account's level rises: sign-ins in flight from below it
		// must not finish.
		u.CredentialEpoch++
		u.UpdatedAt = now
		return nil
	})
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return store.User{}, store.Factor{}, false, invalid("credential", "is already registered")
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, store.Factor{}, false, ErrFactorNotFound
	case err != nil:
		return store.User{}, store.Factor{}, false, fmt.Errorf("verify factor: %w", err)
	}
	return u, f, first, nil
}

// verifiedOnly is fs without its pending factors.
func verifiedOnly(fs []store.Factor) []store.Factor {
	return slices.DeleteFunc(slices.Clone(fs), func(f store.Factor) bool { return f.VerifiedAt.IsZero() })
}

// ownFactor returns the user's factor with this id; ErrFactorNotFound if
// it is not theirs, so that another user's factor ids say nothing.
func (s *Service) ownFactor(ctx context.Context, userID, id string) (store.Factor, error) {
	if _, err := uuid.Parse(id); err != nil {
		return store.Factor{}, ErrFactorNotFound
	}
	f, err := s.factors.GetFactor(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.UserID != userID) {
		return store.Factor{}, ErrFactorNotFound
	} else if err != nil {
		return store.Factor{}, fmt.Errorf("get factor: %w", err)
	}
	return f, nil
}

// NewRecoveryCodes replaces the caller's recovery codes with ten new
// ones, returned once; the old ones stop working. It needs an active
// second factor (codes stand in for one).
func (s *Service) NewRecoveryCodes(ctx context.Context, p Principal, current string) ([]string, error) {
	if err := s.factorsOn(); err != nil {
		return nil, err
	}
	if err := s.mayChangeFactors(ctx, p, current); err != nil {
		return nil, err
	}
	fs, err := s.activeFactors(ctx, p.User.ID)
	if err != nil {
		return nil, err
	}
	if len(secondFactors(fs)) == 0 {
		return nil, apperr.New(http.StatusConflict, apperr.CodeInvalidRequest, "add an authenticator app or a passkey first: recovery codes stand in for one")
	}
	codes, err := s.replaceRecoveryCodes(ctx, p.User.ID)
	if err != nil {
		return nil, err
	}
	s.notifyFactor(ctx, kindRecoveryCodes, p.User, "")
	return codes, nil
}

// recoveryHashLen is the length of one stored recovery code's hash.
const recoveryHashLen = 32

// replaceRecoveryCodes makes ten recovery codes for the user, stored as
// one factor holding their hashes, and deletes any older set in the same
// transaction.
func (s *Service) replaceRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes, err := recovery.New()
	if err != nil {
		return nil, err
	}
	key := s.recoveryKey(userID)
	var hashes []byte
	for _, c := range codes {
		hashes = append(hashes, recovery.Hash(c, key)...)
	}
	now := s.now().UTC()
	f := store.Factor{ID: uuid.Must(uuid.NewV7()).String(), UserID: userID, Type: store.FactorRecovery, Name: "Recovery codes", Secret: hashes, CreatedAt: now, VerifiedAt: now}
	if err := s.factors.CreateFactor(ctx, f); err != nil {
		return nil, fmt.Errorf("recovery codes: %w", err)
	}
	// The new set is in; the old ones go (a concurrent replacement may
	// leave the newest of two: only one set is kept either way).
	if _, err := s.factors.DeleteFactors(ctx, userID, func(_ store.User, fs []store.Factor) ([]string, error) {
		var old []string
		for _, x := range fs {
			if x.Type == store.FactorRecovery && x.ID != f.ID {
				old = append(old, x.ID)
			}
		}
		return old, nil
	}); err != nil {
		return nil, fmt.Errorf("recovery codes: %w", err)
	}
	s.record(ctx, "factor.recovery_codes", userID, "", nil)
	return codes, nil
}

// recoveryKey is the key of the user's recovery-code hashes: derived per
// user, so that one search cannot cover every account (recovery.Hash).
func (s *Service) recoveryKey(userID string) []byte {
	return s.mac.MAC("recovery codes", []byte(userID))
}

// RemoveFactor removes one of the caller's factors. Removing the last
// second factor removes the recovery codes with it.
func (s *Service) RemoveFactor(ctx context.Context, p Principal, id, current string) error {
	if err := s.factorsOn(); err != nil {
		return err
	}
	if err := s.mayChangeFactors(ctx, p, current); err != nil {
		return err
	}
	var gone store.Factor
	_, err := s.factors.DeleteFactors(ctx, p.User.ID, func(_ store.User, fs []store.Factor) ([]string, error) {
		i := slices.IndexFunc(fs, func(f store.Factor) bool { return f.ID == id })
		if i < 0 {
			return nil, ErrFactorNotFound
		}
		gone = fs[i]
		ids := []string{id}
		if rest := secondFactors(verifiedOnly(slices.Delete(slices.Clone(fs), i, i+1))); len(rest) == 0 {
			for _, f := range fs {
				if f.Type == store.FactorRecovery && f.ID != id {
					ids = append(ids, f.ID)
				}
			}
		}
		return ids, nil
	})
	if err != nil {
		if errors.Is(err, ErrFactorNotFound) {
			return err
		}
		return fmt.Errorf("remove factor: %w", err)
	}
	s.record(ctx, "factor.remove", p.User.ID, p.Session.ID, map[string]any{"factor_id": gone.ID, "type": string(gone.Type)})
	s.audit.Count("factor.remove." + string(gone.Type))
	if !gone.VerifiedAt.IsZero() {
		s.notifyFactor(ctx, kindFactorRemoved, p.User, gone.Name)
	}
	return nil
}

// ResetFactors removes every factor of a user (`latch user mfa reset`):
// for a person who lost theirs. The owner is told by mail.
func (s *Service) ResetFactors(ctx context.Context, emailOrID string) (int64, error) {
	if err := s.factorsOn(); err != nil {
		return 0, err
	}
	u, err := s.FindUser(ctx, emailOrID)
	if err != nil {
		return 0, err
	}
	n, err := s.factors.DeleteFactors(ctx, u.ID, func(_ store.User, fs []store.Factor) ([]string, error) {
		ids := make([]string, 0, len(fs))
		for _, f := range fs {
			ids = append(ids, f.ID)
		}
		return ids, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return 0, ErrUserNotFound
	} else if err != nil {
		return 0, fmt.Errorf("reset factors: %w", err)
	}
	s.record(ctx, "admin.mfa.reset", u.ID, "", map[string]any{"factors_removed": n})
	if n > 0 {
		s.notifyFactor(ctx, kindMFAReset, u, "")
	}
	return n, nil
}

// FactorsEnabled reports whether second factors are on: the service has
// a factor store (every server latch builds has one).
func (s *Service) FactorsEnabled() bool { return s.factors != nil }

// PasskeysEnabled reports whether WebAuthn is configured.
func (s *Service) PasskeysEnabled() bool { return s.factors != nil && s.passkeys != nil }

// factorsOn reports whether the service was given a factor store.
func (s *Service) factorsOn() error {
	if s.factors == nil {
		return errors.New("second factors are not configured")
	}
	return nil
}

// notifyFactor tells the owner about a change to their factors.
func (s *Service) notifyFactor(ctx context.Context, kind string, u store.User, factor string) {
	d := mailData{IP: RequesterFrom(ctx).IP, Factor: factor}
	if err := s.enqueue(ctx, kind, u.Email, u.ID, d, noticeTTL); err != nil {
		s.log.WarnContext(ctx, "cannot queue a factor notice", "kind", kind, "user_id", u.ID, "err", err)
	}
}

// factorAMR is the amr value of a sign-in with f.
func factorAMR(f store.Factor) string {
	switch f.Type {
	case store.FactorTOTP:
		return amrTOTP
	case store.FactorWebAuthn:
		if c, err := decodeCredential(f.Secret); err == nil && c.Passkey() {
			return amrSoftware
		}
		return amrHardware
	}
	return amrRecovery
}

// addAMR appends the values to amr that it lacks, in order.
func addAMR(amr []string, values ...string) []string {
	out := slices.Clone(amr)
	for _, v := range values {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// decodeCredential reads a stored WebAuthn credential.
func decodeCredential(b []byte) (passkey.Credential, error) {
	var c passkey.Credential
	err := json.Unmarshal(b, &c)
	return c, err
}

// credentials are the user's active WebAuthn credentials.
func (s *Service) credentials(ctx context.Context, userID string) ([]passkey.Credential, error) {
	fs, err := s.activeFactors(ctx, userID)
	if err != nil {
		return nil, err
	}
	var out []passkey.Credential
	for _, f := range fs {
		if f.Type != store.FactorWebAuthn {
			continue
		}
		if c, err := decodeCredential(f.Secret); err == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// passkeyUser is u as WebAuthn sees it: the handle is the 16 bytes of
// the user's id, never the email (which can change).
func passkeyUser(u store.User) passkey.User {
	id := uuid.MustParse(u.ID)
	return passkey.User{ID: id[:], Name: u.Email, DisplayName: u.Email}
}

// equalBytes compares in constant time.
func equalBytes(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
