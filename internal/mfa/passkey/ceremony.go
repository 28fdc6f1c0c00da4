package passkey

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// RegistrationOptions returns the options of a registration ceremony for
// u with challenge: the JSON form of PublicKeyCredentialCreationOptions
// (what parseCreationOptionsFromJSON takes). The authenticator is asked
// for a discoverable credential (residentKey "required" when discoverable,
// for a passkey that signs in without an email; "preferred" otherwise),
// user verification "preferred", attestation "none", one of ES256, EdDSA
// and RS256, and none of the credentials in exclude (the user's own, so
// that one authenticator is not registered twice).
func (rp *RP) RegistrationOptions(u User, challenge []byte, exclude []Credential, discoverable bool) (json.RawMessage, error) {
	if err := checkChallenge(challenge); err != nil {
		return nil, err
	}
	if err := u.check(); err != nil {
		return nil, err
	}
	residentKey := protocol.ResidentKeyRequirementPreferred
	if discoverable {
		residentKey = protocol.ResidentKeyRequirementRequired
	}
	creation, _, err := rp.wa.BeginRegistration(webauthnUser{u: u},
		func(o *protocol.PublicKeyCredentialCreationOptions) error {
			o.Challenge = slices.Clone(challenge)
			return nil
		},
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: residentKey,
			// Level 1 clients read only requireResidentKey; Level 3 §5.4.4
			// asks for it to be true exactly when residentKey is required.
			RequireResidentKey: &discoverable,
			UserVerification:   protocol.VerificationPreferred,
		}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithCredentialParameters(credentialParameters()),
		webauthn.WithExclusions(descriptors(exclude)),
	)
	if err != nil {
		return nil, fmt.Errorf("passkey: registration options: %w", err)
	}
	return json.Marshal(creation.Response)
}

// Register checks response, a RegistrationResponseJSON (what
// credential.toJSON() gives after navigator.credentials.create()), against
// challenge, the RP id and the allowed origins, and returns the credential
// to store. u is the user the options were made for. An unacceptable
// response gives an error matching ErrInvalid and one of ErrMalformed,
// ErrChallenge, ErrOrigin, ErrRPID, ErrUserPresence, ErrFlags and
// ErrAttestation.
//
// The caller must still check that no other account holds the credential
// id (WebAuthn §7.1): the store refuses a duplicate.
func (rp *RP) Register(u User, challenge []byte, response []byte) (Credential, error) {
	if err := checkChallenge(challenge); err != nil {
		return Credential{}, err
	}
	if err := u.check(); err != nil {
		return Credential{}, err
	}
	parsed, err := parseResponse(response, protocol.ParseCredentialCreationResponseBytes)
	if err != nil {
		return Credential{}, err
	}
	if err := rp.checkClientData(parsed.Response.CollectedClientData, protocol.CreateCeremony, challenge); err != nil {
		return Credential{}, err
	}
	authData := parsed.Response.AttestationObject.AuthData
	if err := rp.checkAuthData(authData, false); err != nil {
		return Credential{}, err
	}
	session := webauthn.SessionData{
		Challenge:        encodeChallenge(challenge),
		RelyingPartyID:   rp.rpID,
		UserID:           u.ID,
		UserVerification: protocol.VerificationPreferred,
		CredParams:       credentialParameters(),
	}
	cred, err := rp.wa.CreateCredential(webauthnUser{u: u}, session, parsed)
	if err != nil {
		// What is left after the checks above is the attestation
		// statement, the algorithm, and the attested credential id.
		return Credential{}, fmt.Errorf("%w: %w", ErrAttestation, err)
	}
	return fromRecord(*cred), nil
}

// LoginOptions returns the options of an authentication ceremony with
// challenge: the JSON form of PublicKeyCredentialRequestOptions (what
// parseRequestOptionsFromJSON takes). With allow empty the request is
// discoverable ("usernameless": no allowCredentials, the browser offers
// the passkeys it has for the RP id); otherwise only those credentials
// can answer. User verification is "required" with requireUV, else
// "preferred".
func (rp *RP) LoginOptions(challenge []byte, allow []Credential, requireUV bool) (json.RawMessage, error) {
	if err := checkChallenge(challenge); err != nil {
		return nil, err
	}
	assertion, _, err := rp.wa.BeginDiscoverableLogin(
		webauthn.WithChallenge(slices.Clone(challenge)),
		webauthn.WithAllowedCredentials(descriptors(allow)),
		webauthn.WithUserVerification(userVerification(requireUV)),
	)
	if err != nil {
		return nil, fmt.Errorf("passkey: login options: %w", err)
	}
	return json.Marshal(assertion.Response)
}

// Assertion is the outcome of a login that verified.
type Assertion struct {
	// User is the user find returned.
	User User
	// Credential is the stored credential updated by this login: the new
	// sign count (unless CloneWarning) and backup state. The caller stores
	// it.
	Credential Credential
	// UserVerified is the UV flag of this login: the authenticator
	// verified the user (PIN, biometrics), so the login counts as two
	// factors.
	UserVerified bool
	// CloneWarning says the sign count did not grow (WebAuthn §7.2: it
	// is at or below the stored one, and not both zero): two copies
	// of the private key may exist. Credential then keeps the stored
	// count. It is not an error; the caller decides (latch refuses and
	// audits).
	CloneWarning bool
}

// Login checks response, an AuthenticationResponseJSON (what
// credential.toJSON() gives after navigator.credentials.get()), against
// challenge, the RP id and the allowed origins, as the options of
// LoginOptions(challenge, allow, requireUV) asked.
//
// find is called, once the response has passed the checks that need no
// stored data, with the credential's id and the user handle the
// authenticator returned (empty for a non-discoverable credential); it
// returns the credential's user and the stored credential, or an error
// that Login returns as is (such as the store's not-found). With allow
// non-empty the credential must be one of them; with allow empty the user
// handle must be there.
//
// An unacceptable response gives an error matching ErrInvalid and one of
// ErrMalformed, ErrChallenge, ErrOrigin, ErrRPID, ErrUserPresence,
// ErrUserVerification, ErrFlags, ErrNotAllowed, ErrUserHandle and
// ErrSignature.
func (rp *RP) Login(challenge []byte, allow []Credential, requireUV bool, response []byte, find func(rawID, userHandle []byte) (User, Credential, error)) (Assertion, error) {
	if err := checkChallenge(challenge); err != nil {
		return Assertion{}, err
	}
	parsed, err := parseResponse(response, protocol.ParseCredentialRequestResponseBytes)
	if err != nil {
		return Assertion{}, err
	}
	if err := rp.checkClientData(parsed.Response.CollectedClientData, protocol.AssertCeremony, challenge); err != nil {
		return Assertion{}, err
	}
	authData := parsed.Response.AuthenticatorData
	if err := rp.checkAuthData(authData, requireUV); err != nil {
		return Assertion{}, err
	}
	rawID, userHandle := parsed.RawID, parsed.Response.UserHandle
	if len(allow) > 0 && !slices.ContainsFunc(allow, func(c Credential) bool { return bytes.Equal(c.ID, rawID) }) {
		return Assertion{}, ErrNotAllowed
	}
	if len(allow) == 0 && len(userHandle) == 0 {
		// WebAuthn §7.2: a user not identified before the ceremony
		// must be named by the user handle.
		return Assertion{}, refuse(ErrUserHandle, "missing in a discoverable login")
	}

	user, stored, err := find(slices.Clone(rawID), slices.Clone(userHandle))
	if err != nil {
		return Assertion{}, err
	}
	if !bytes.Equal(stored.ID, rawID) {
		return Assertion{}, errors.New("passkey: find returned a credential with another id")
	}
	if err := user.checkID(); err != nil {
		return Assertion{}, err
	}
	if len(userHandle) > 0 && !bytes.Equal(userHandle, user.ID) {
		return Assertion{}, refuse(ErrUserHandle, "not the id of the credential's user")
	}
	if stored.BackupEligible != authData.Flags.HasBackupEligible() {
		return Assertion{}, refuse(ErrFlags, "backup eligibility changed since registration")
	}

	session := webauthn.SessionData{
		Challenge:        encodeChallenge(challenge),
		RelyingPartyID:   rp.rpID,
		UserID:           user.ID,
		UserVerification: userVerification(requireUV),
	}
	w := webauthnUser{u: user, creds: []webauthn.Credential{stored.record()}}
	cred, err := rp.wa.ValidateLogin(w, session, parsed)
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Type == protocol.ErrAssertionSignature.Type {
			return Assertion{}, fmt.Errorf("%w: %w", ErrSignature, err)
		}
		return Assertion{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return Assertion{
		User:         user,
		Credential:   fromRecord(*cred),
		UserVerified: authData.Flags.HasUserVerified(),
		CloneWarning: cred.Authenticator.CloneWarning,
	}, nil
}

// parseResponse parses a response of at most MaxResponseSize bytes with
// parse, which go-webauthn has for each ceremony; a response too large or
// one that parse refuses is ErrMalformed.
func parseResponse[T any](response []byte, parse func([]byte) (*T, error)) (*T, error) {
	if len(response) > MaxResponseSize {
		return nil, refuse(ErrMalformed, fmt.Sprintf("%d bytes", len(response)))
	}
	parsed, err := parse(response)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return parsed, nil
}

// checkClientData checks the client data as WebAuthn §7.1 and §7.2 ask
// (go-webauthn does it again), so that the error says what failed.
func (rp *RP) checkClientData(c protocol.CollectedClientData, ceremony protocol.CeremonyType, challenge []byte) error {
	if c.Type != ceremony {
		return refuse(ErrMalformed, "client data of type "+string(c.Type))
	}
	if subtle.ConstantTimeCompare([]byte(c.Challenge), []byte(encodeChallenge(challenge))) != 1 {
		return ErrChallenge
	}
	// Stricter than go-webauthn, which ignores a path: the client data
	// must hold an origin as a browser serializes it.
	if o, _, err := canonicalOrigin(c.Origin); err != nil || !slices.Contains(rp.origins, o) {
		return refuse(ErrOrigin, c.Origin)
	}
	if c.CrossOrigin || c.TopOrigin != "" {
		// latch's pages are not meant to be framed by other sites.
		return refuse(ErrOrigin, "cross-origin, top origin "+c.TopOrigin)
	}
	return nil
}

// checkAuthData does the checks of the authenticator data that need no
// stored credential (WebAuthn §7.1 and §7.2), so that the error says what
// failed.
func (rp *RP) checkAuthData(a protocol.AuthenticatorData, requireUV bool) error {
	if !bytes.Equal(a.RPIDHash, rp.rpIDHash[:]) {
		return ErrRPID
	}
	if !a.Flags.HasUserPresent() {
		return ErrUserPresence
	}
	if requireUV && !a.Flags.HasUserVerified() {
		return ErrUserVerification
	}
	if a.Flags.HasBackupState() && !a.Flags.HasBackupEligible() {
		return refuse(ErrFlags, "backed up but not backup eligible")
	}
	return nil
}

// checkID checks the user find returned: it must have an id to compare
// with the user handle.
func (u User) checkID() error {
	if len(u.ID) == 0 || len(u.ID) > MaxUserIDSize {
		return fmt.Errorf("passkey: find returned a user id of %d bytes", len(u.ID))
	}
	return nil
}

func checkChallenge(challenge []byte) error {
	if len(challenge) < MinChallengeSize {
		return fmt.Errorf("passkey: challenge of %d bytes, want at least %d", len(challenge), MinChallengeSize)
	}
	return nil
}

// encodeChallenge is the challenge as the client data carries it.
func encodeChallenge(challenge []byte) string {
	return base64.RawURLEncoding.EncodeToString(challenge)
}

func userVerification(required bool) protocol.UserVerificationRequirement {
	if required {
		return protocol.VerificationRequired
	}
	return protocol.VerificationPreferred
}
