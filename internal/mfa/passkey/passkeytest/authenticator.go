package passkeytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// The errors a browser would report as DOMExceptions, so that a test can
// tell why a ceremony did not happen.
var (
	// ErrNotAllowed is NotAllowedError: no credential fits the request, or
	// user verification is required and the authenticator cannot do it.
	ErrNotAllowed = errors.New("passkeytest: not allowed")
	// ErrExcluded is InvalidStateError: the authenticator holds one of the
	// credentials in excludeCredentials.
	ErrExcluded = errors.New("passkeytest: the authenticator holds an excluded credential")
	// ErrSecurity is SecurityError: the RP id is neither the origin's host
	// nor a parent domain of it.
	ErrSecurity = errors.New("passkeytest: the RP id is not valid for the origin")
	// ErrNotSupported is NotSupportedError: pubKeyCredParams does not offer
	// ES256, the only algorithm this authenticator has.
	ErrNotSupported = errors.New("passkeytest: ES256 is not among pubKeyCredParams")
)

// Authenticator is a platform authenticator and its browser. Set the
// fields before the first call and leave them alone while calls run.
type Authenticator struct {
	// Origin is the origin the browser puts in the client data, such as
	// "http://localhost:8080".
	Origin string
	// UserVerification says the authenticator can verify the user (a PIN
	// or a fingerprint); it then sets the UV flag unless the options
	// discourage it. Without it, options that require user verification
	// fail with ErrNotAllowed. New sets it.
	UserVerification bool
	// BackupEligible sets the BE flag on the credentials created from now
	// on (a synced passkey); a credential keeps the value it was created
	// with, as the flag must never change.
	BackupEligible bool
	// BackupState sets the BS flag in every response from now on (the
	// credential is backed up). BS without BE is invalid: a test may set
	// it to check that the relying party refuses that.
	BackupState bool
	// ZeroCounter makes the authenticator never count signatures: the
	// sign count is always 0, as with most synced passkeys.
	ZeroCounter bool
	// NoResidentKeys makes an authenticator that cannot store discoverable
	// credentials, like an old security key: its credentials are never
	// discoverable, and options with residentKey "required" fail with
	// ErrNotAllowed.
	NoResidentKeys bool
	// AAGUID is the authenticator model's id put in the attested
	// credential data; zero by default.
	AAGUID [16]byte

	mu    sync.Mutex
	creds []*credential // in creation order
}

// credential is a credential the authenticator holds. Only its count
// changes, under the Authenticator's mutex.
type credential struct {
	id             []byte
	rpID           string
	userHandle     []byte
	userName       string
	discoverable   bool
	backupEligible bool
	key            *ecdsa.PrivateKey
	count          uint32
}

// Credential describes a credential the authenticator holds.
type Credential struct {
	// ID is the credential id.
	ID []byte
	// RPID is the relying party the credential belongs to.
	RPID string
	// UserHandle is the user id the relying party gave at registration.
	UserHandle []byte
	// UserName is the user's name from the registration options.
	UserName string
	// Discoverable says the credential is a resident key (the relying
	// party asked for residentKey "required" or "preferred", and the
	// authenticator can store one): Get can use the credential without
	// allowCredentials, and then returns its user handle.
	Discoverable bool
	// BackupEligible is the BE flag the credential was created with.
	BackupEligible bool
	// SignCount is the last sign count the authenticator used.
	SignCount uint32
}

// New returns an authenticator for a browser at origin that can verify
// its user.
func New(origin string) *Authenticator {
	return &Authenticator{Origin: origin, UserVerification: true}
}

// Option changes one ceremony, mostly to play an attacker or a faulty
// authenticator.
type Option func(*call)

type call struct {
	origin string
	lies   bool // WithOrigin or WithRPID: skip the browser's RP id check
	rpID   string
	noUP   bool
	noUV   bool
	credID []byte
}

// WithOrigin puts origin in the client data instead of the Authenticator's
// Origin and skips the browser's check of the RP id against the origin:
// what a client that lies about the page's origin would send. (To see a
// well-behaved browser refuse another origin, make an Authenticator with
// that Origin.)
func WithOrigin(origin string) Option {
	return func(c *call) { c.origin, c.lies = origin, true }
}

// WithRPID hashes rpID into the authenticator data instead of the options'
// RP id and skips the browser's check of the RP id against the origin:
// what a malicious client would send. Credentials are still chosen, and
// stored, under the options' RP id.
func WithRPID(rpID string) Option {
	return func(c *call) { c.rpID, c.lies = rpID, true }
}

// WithoutUserPresence clears the UP flag.
func WithoutUserPresence() Option {
	return func(c *call) { c.noUP = true }
}

// WithoutUserVerification clears the UV flag even when the options require
// user verification, instead of failing as a real client would.
func WithoutUserVerification() Option {
	return func(c *call) { c.noUV = true }
}

// WithCredential makes Get use the credential with this id, as a person
// picking it from the browser's list; it must still fit the request.
// Without it Get uses the most recently created credential that fits.
func WithCredential(id []byte) Option {
	return func(c *call) { c.credID = slices.Clone(id) }
}

// b64 is the base64url without padding of WebAuthn's JSON forms.
var b64 = base64.RawURLEncoding

// encMode encodes CBOR in CTAP2's canonical form, as authenticators do.
var encMode = func() cbor.EncMode {
	m, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err) // constant options: cannot happen
	}
	return m
}()

// COSE (RFC 9052, RFC 9053) labels and values of an ES256 key.
const (
	coseKty    = 1
	coseAlg    = 3
	coseCrv    = -1
	coseX      = -2
	coseY      = -3
	coseEC2    = 2
	coseES256  = -7
	coseP256   = 1
	transport  = "internal"
	attachment = "platform"
)

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUP = 1 << 0
	flagUV = 1 << 2
	flagBE = 1 << 3
	flagBS = 1 << 4
	flagAT = 1 << 6
)

// binaryString is a base64url string of the JSON options, decoded.
type binaryString []byte

func (b *binaryString) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := b64.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

type credParam struct {
	Type string `json:"type"`
	Alg  int    `json:"alg"`
}

type descriptor struct {
	Type string       `json:"type"`
	ID   binaryString `json:"id"`
}

// creationOptions is the part of PublicKeyCredentialCreationOptionsJSON the
// authenticator reads.
type creationOptions struct {
	RP struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID          binaryString `json:"id"`
		Name        string       `json:"name"`
		DisplayName string       `json:"displayName"`
	} `json:"user"`
	Challenge              binaryString           `json:"challenge"`
	PubKeyCredParams       []credParam            `json:"pubKeyCredParams"`
	ExcludeCredentials     []descriptor           `json:"excludeCredentials"`
	AuthenticatorSelection authenticatorSelection `json:"authenticatorSelection"`
	Extensions             struct {
		CredProps bool `json:"credProps"`
	} `json:"extensions"`
}

type authenticatorSelection struct {
	ResidentKey        string `json:"residentKey"`
	RequireResidentKey bool   `json:"requireResidentKey"`
	UserVerification   string `json:"userVerification"`
}

// requestOptions is the part of PublicKeyCredentialRequestOptionsJSON the
// authenticator reads.
type requestOptions struct {
	Challenge        binaryString `json:"challenge"`
	RPID             string       `json:"rpId"`
	AllowCredentials []descriptor `json:"allowCredentials"`
	UserVerification string       `json:"userVerification"`
}

// clientData is CollectedClientData, its members in the order browsers
// write them.
type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

type attestationObject struct {
	Fmt      string         `cbor:"fmt"`
	AttStmt  map[string]any `cbor:"attStmt"`
	AuthData []byte         `cbor:"authData"`
}

// publicKeyCredential is the part of the JSON form of a PublicKeyCredential
// that registration and authentication responses share.
type publicKeyCredential struct {
	ID                      string         `json:"id"`
	RawID                   string         `json:"rawId"`
	Type                    string         `json:"type"`
	AuthenticatorAttachment string         `json:"authenticatorAttachment"`
	ClientExtensionResults  map[string]any `json:"clientExtensionResults"`
}

// newPublicKeyCredential returns the shared members for the credential
// with this id, without client extension results.
func newPublicKeyCredential(id []byte) publicKeyCredential {
	return publicKeyCredential{
		ID:                      b64.EncodeToString(id),
		RawID:                   b64.EncodeToString(id),
		Type:                    "public-key",
		AuthenticatorAttachment: attachment,
		ClientExtensionResults:  map[string]any{},
	}
}

type registrationResponse struct {
	publicKeyCredential
	Response struct {
		ClientDataJSON     string   `json:"clientDataJSON"`
		AttestationObject  string   `json:"attestationObject"`
		AuthenticatorData  string   `json:"authenticatorData"`
		Transports         []string `json:"transports"`
		PublicKey          string   `json:"publicKey"`
		PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
	} `json:"response"`
}

type authenticationResponse struct {
	publicKeyCredential
	Response struct {
		ClientDataJSON    string  `json:"clientDataJSON"`
		AuthenticatorData string  `json:"authenticatorData"`
		Signature         string  `json:"signature"`
		UserHandle        *string `json:"userHandle"`
	} `json:"response"`
}

// Create does navigator.credentials.create() with options, the JSON form
// of PublicKeyCredentialCreationOptions (not wrapped in "publicKey"): it
// makes a new credential, keeps it, and returns its
// RegistrationResponseJSON with an attestation of format "none".
func (a *Authenticator) Create(options json.RawMessage, opts ...Option) (json.RawMessage, error) {
	c := a.call(opts)
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: creation options: %w", err)
	}
	if len(o.Challenge) == 0 || len(o.User.ID) == 0 {
		return nil, errors.New("passkeytest: creation options without challenge or user.id (wrapped in publicKey?)")
	}
	rpID, err := clientRPID(o.RP.ID, c)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(o.PubKeyCredParams, credParam{"public-key", coseES256}) {
		return nil, ErrNotSupported
	}
	uv, err := a.userVerified(o.AuthenticatorSelection.UserVerification, c)
	if err != nil {
		return nil, err
	}
	discoverable, err := a.discoverable(o.AuthenticatorSelection)
	if err != nil {
		return nil, err
	}
	cred, err := a.newCredential(rpID, o.User.ID, o.User.Name, discoverable)
	if err != nil {
		return nil, err
	}
	if err := a.keep(cred, o.ExcludeCredentials); err != nil {
		return nil, err
	}

	authData, err := a.attestedAuthData(hashRPID(rpID, c), cred, uv, c)
	if err != nil {
		return nil, err
	}
	cdj, err := a.clientDataJSON("webauthn.create", o.Challenge, c)
	if err != nil {
		return nil, err
	}
	r, err := newRegistrationResponse(cred, authData, cdj)
	if err != nil {
		return nil, err
	}
	if o.Extensions.CredProps {
		r.ClientExtensionResults["credProps"] = map[string]bool{"rk": cred.discoverable}
	}
	return json.Marshal(r)
}

// discoverable says whether the credential the options ask for is a
// resident key: residentKey "required" or "preferred" (or the older
// requireResidentKey) on an authenticator that can store one.
// ErrNotAllowed if the options require one the authenticator cannot store.
func (a *Authenticator) discoverable(sel authenticatorSelection) (bool, error) {
	residentKey := sel.ResidentKey
	if residentKey == "" && sel.RequireResidentKey {
		residentKey = "required"
	}
	if residentKey == "required" && a.NoResidentKeys {
		return false, ErrNotAllowed
	}
	return !a.NoResidentKeys && (residentKey == "required" || residentKey == "preferred"), nil
}

// newCredential makes a credential with a fresh key and a random id.
func (a *Authenticator) newCredential(rpID string, userHandle []byte, userName string, discoverable bool) (*credential, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &credential{
		id:             id,
		rpID:           rpID,
		userHandle:     slices.Clone(userHandle),
		userName:       userName,
		discoverable:   discoverable,
		backupEligible: a.BackupEligible,
		key:            key,
	}, nil
}

// keep adds cred to the credentials the authenticator holds, unless it
// already holds one of exclude for the same RP id: then ErrExcluded.
func (a *Authenticator) keep(cred *credential, exclude []descriptor) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ex := range exclude {
		for _, held := range a.creds {
			if held.rpID == cred.rpID && bytes.Equal(held.id, ex.ID) {
				return ErrExcluded
			}
		}
	}
	a.creds = append(a.creds, cred)
	return nil
}

// newRegistrationResponse returns the RegistrationResponseJSON of a new credential,
// with its attestation object of format "none".
func newRegistrationResponse(cred *credential, authData, clientDataJSON []byte) (registrationResponse, error) {
	attObj, err := encMode.Marshal(attestationObject{Fmt: "none", AttStmt: map[string]any{}, AuthData: authData})
	if err != nil {
		return registrationResponse{}, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&cred.key.PublicKey)
	if err != nil {
		return registrationResponse{}, err
	}
	r := registrationResponse{publicKeyCredential: newPublicKeyCredential(cred.id)}
	r.Response.ClientDataJSON = b64.EncodeToString(clientDataJSON)
	r.Response.AttestationObject = b64.EncodeToString(attObj)
	r.Response.AuthenticatorData = b64.EncodeToString(authData)
	r.Response.Transports = []string{transport}
	r.Response.PublicKey = b64.EncodeToString(spki)
	r.Response.PublicKeyAlgorithm = coseES256
	return r, nil
}

// Get does navigator.credentials.get() with options, the JSON form of
// PublicKeyCredentialRequestOptions: it uses a credential of the RP id
// from allowCredentials or, when that is empty, a discoverable one,
// increments its sign count and returns the AuthenticationResponseJSON.
// The user handle is there only for a discoverable credential, as
// authenticators return it only for those. ErrNotAllowed if no credential
// fits.
func (a *Authenticator) Get(options json.RawMessage, opts ...Option) (json.RawMessage, error) {
	c := a.call(opts)
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: request options: %w", err)
	}
	if len(o.Challenge) == 0 {
		return nil, errors.New("passkeytest: request options without challenge (wrapped in publicKey?)")
	}
	rpID, err := clientRPID(o.RPID, c)
	if err != nil {
		return nil, err
	}
	uv, err := a.userVerified(o.UserVerification, c)
	if err != nil {
		return nil, err
	}

	a.mu.Lock()
	cred := a.pick(rpID, o.AllowCredentials, c.credID)
	var count uint32
	if cred != nil && !a.ZeroCounter {
		cred.count++
		count = cred.count
	}
	a.mu.Unlock()
	if cred == nil {
		return nil, ErrNotAllowed
	}

	authData := a.authData(hashRPID(rpID, c), cred, uv, c, count)
	cdj, err := a.clientDataJSON("webauthn.get", o.Challenge, c)
	if err != nil {
		return nil, err
	}
	cdHash := sha256.Sum256(cdj)
	digest := sha256.Sum256(slices.Concat(authData, cdHash[:]))
	sig, err := ecdsa.SignASN1(rand.Reader, cred.key, digest[:])
	if err != nil {
		return nil, err
	}

	r := authenticationResponse{publicKeyCredential: newPublicKeyCredential(cred.id)}
	r.Response.ClientDataJSON = b64.EncodeToString(cdj)
	r.Response.AuthenticatorData = b64.EncodeToString(authData)
	r.Response.Signature = b64.EncodeToString(sig)
	if cred.discoverable {
		h := b64.EncodeToString(cred.userHandle)
		r.Response.UserHandle = &h
	}
	return json.Marshal(r)
}

// Credentials returns the credentials the authenticator holds, oldest
// first.
func (a *Authenticator) Credentials() []Credential {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Credential, len(a.creds))
	for i, c := range a.creds {
		out[i] = Credential{
			ID:             slices.Clone(c.id),
			RPID:           c.rpID,
			UserHandle:     slices.Clone(c.userHandle),
			UserName:       c.userName,
			Discoverable:   c.discoverable,
			BackupEligible: c.backupEligible,
			SignCount:      c.count,
		}
	}
	return out
}

// SetSignCount sets the sign count of the credential with this id, so
// that the next Get signs with n+1: setting it below what the relying
// party has seen plays a cloned authenticator. ErrNotAllowed if the
// authenticator has no such credential.
func (a *Authenticator) SetSignCount(id []byte, n uint32) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.creds {
		if bytes.Equal(c.id, id) {
			c.count = n
			return nil
		}
	}
	return ErrNotAllowed
}

func (a *Authenticator) call(opts []Option) call {
	c := call{origin: a.Origin}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// pick returns the credential Get uses, or nil. The caller holds a.mu.
func (a *Authenticator) pick(rpID string, allow []descriptor, want []byte) *credential {
	for _, cred := range slices.Backward(a.creds) {
		if cred.rpID != rpID || (want != nil && !bytes.Equal(cred.id, want)) {
			continue
		}
		if len(allow) == 0 {
			if cred.discoverable {
				return cred
			}
			continue
		}
		if slices.ContainsFunc(allow, func(d descriptor) bool {
			return (d.Type == "" || d.Type == "public-key") && bytes.Equal(d.ID, cred.id)
		}) {
			return cred
		}
	}
	return nil
}

// userVerified says whether the authenticator verifies the user for a
// ceremony whose options ask for requirement.
func (a *Authenticator) userVerified(requirement string, c call) (bool, error) {
	if c.noUV {
		return false, nil
	}
	if !a.UserVerification {
		if requirement == "required" {
			return false, ErrNotAllowed
		}
		return false, nil
	}
	return requirement != "discouraged", nil
}

// authData returns the authenticator data without attested credential
// data: the RP id hash, the flags and the sign count.
func (a *Authenticator) authData(rpIDHash [32]byte, cred *credential, uv bool, c call, count uint32) []byte {
	var flags byte
	if !c.noUP {
		flags |= flagUP
	}
	if uv {
		flags |= flagUV
	}
	if cred.backupEligible {
		flags |= flagBE
	}
	if a.BackupState {
		flags |= flagBS
	}
	out := make([]byte, 0, 37)
	out = append(out, rpIDHash[:]...)
	out = append(out, flags)
	return binary.BigEndian.AppendUint32(out, count)
}

// attestedAuthData returns the authenticator data of a new credential: the
// sign count 0, the AT flag and the attested credential data (the AAGUID,
// the credential id and its public key).
func (a *Authenticator) attestedAuthData(rpIDHash [32]byte, cred *credential, uv bool, c call) ([]byte, error) {
	cose, err := coseKey(&cred.key.PublicKey)
	if err != nil {
		return nil, err
	}
	out := a.authData(rpIDHash, cred, uv, c, 0)
	out[32] |= flagAT
	out = append(out, a.AAGUID[:]...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(cred.id)))
	out = append(out, cred.id...)
	return append(out, cose...), nil
}

func (a *Authenticator) clientDataJSON(typ string, challenge []byte, c call) ([]byte, error) {
	return json.Marshal(clientData{
		Type:      typ,
		Challenge: b64.EncodeToString(challenge),
		Origin:    c.origin,
	})
}

// clientRPID is the browser's choice of RP id: the options' one, which
// must be the origin's host or a parent domain of it, or the origin's host
// when the options name none. WithOrigin and WithRPID skip the check.
func clientRPID(rpID string, c call) (string, error) {
	if c.lies && rpID != "" {
		return rpID, nil
	}
	u, err := url.Parse(c.origin)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("%w: origin %q", ErrSecurity, c.origin)
	}
	host := u.Hostname()
	if rpID == "" {
		return host, nil
	}
	if !c.lies && rpID != host && !strings.HasSuffix(host, "."+rpID) {
		return "", fmt.Errorf("%w: RP id %q, origin %q", ErrSecurity, rpID, c.origin)
	}
	return rpID, nil
}

// hashRPID is the rpIdHash of the authenticator data: of rpID, or of the
// RP id WithRPID gave.
func hashRPID(rpID string, c call) [32]byte {
	if c.rpID != "" {
		rpID = c.rpID
	}
	return sha256.Sum256([]byte(rpID))
}

// coseKey encodes pub as a COSE_Key (RFC 9053 §7.1.1) in CTAP2's
// canonical CBOR.
func coseKey(pub *ecdsa.PublicKey) ([]byte, error) {
	point, err := pub.Bytes() // 0x04 || x || y
	if err != nil {
		return nil, err
	}
	return encMode.Marshal(map[int]any{
		coseKty: coseEC2,
		coseAlg: coseES256,
		coseCrv: coseP256,
		coseX:   point[1:33],
		coseY:   point[33:65],
	})
}
