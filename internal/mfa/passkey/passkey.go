package passkey

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
)

const (
	// DefaultTimeout is the ceremony timeout put in the options when
	// Config.Timeout is zero.
	DefaultTimeout = 5 * time.Minute
	// MinChallengeSize is the shortest challenge accepted, in bytes
	// (WebAuthn §13.4.3 asks for at least 16 random bytes).
	MinChallengeSize = protocol.MinimumChallengeLength
	// MaxResponseSize bounds the response Register and Login read, in
	// bytes: a registration with a full certificate chain is a few
	// kilobytes, so anything larger is refused before parsing.
	MaxResponseSize = 64 << 10
	// MaxUserIDSize is the longest user handle WebAuthn allows, in bytes.
	MaxUserIDSize = protocol.MaximumUserHandleLength
)

// Config is the relying party's identity.
type Config struct {
	// RPID is the relying party id: a lower-case domain name such as
	// "example.com", or "localhost"; never an IP address, a port or a URL.
	// Credentials are bound to it for ever.
	RPID string
	// RPName is the name an authenticator may show, such as "latch".
	RPName string
	// Origins are the origins a response may come from, such as
	// "https://example.com" or "http://localhost:8080": absolute http or
	// https URLs without path, query or fragment, whose host is the RP id
	// or a subdomain of it. Plain http is allowed only on localhost (and
	// its subdomains), the one place a browser runs WebAuthn without TLS.
	Origins []string
	// Timeout is the ceremony timeout put in the options, a hint to the
	// browser; zero means DefaultTimeout. The caller enforces its own
	// expiry on the challenge.
	Timeout time.Duration
}

// RP is a WebAuthn relying party. It holds only its configuration, so it
// is safe for concurrent use.
type RP struct {
	wa       *webauthn.WebAuthn
	rpID     string
	rpIDHash [32]byte
	origins  []string // canonical
}

// New returns the relying party of c, or an error saying what in c is
// wrong.
func New(c Config) (*RP, error) {
	if err := checkRPID(c.RPID); err != nil {
		return nil, fmt.Errorf("passkey: RP id %q: %w", c.RPID, err)
	}
	if strings.TrimSpace(c.RPName) == "" {
		return nil, errors.New("passkey: the RP name is empty")
	}
	if len(c.Origins) == 0 {
		return nil, errors.New("passkey: no origins")
	}
	origins := make([]string, 0, len(c.Origins))
	for _, o := range c.Origins {
		canonical, err := checkOrigin(o, c.RPID)
		if err != nil {
			return nil, fmt.Errorf("passkey: origin %q: %w", o, err)
		}
		if !slices.Contains(origins, canonical) {
			origins = append(origins, canonical)
		}
	}
	timeout := c.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < time.Second:
		return nil, fmt.Errorf("passkey: timeout %v is under a second", timeout)
	}
	t := webauthn.TimeoutConfig{Timeout: timeout, TimeoutUVD: timeout}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          c.RPID,
		RPDisplayName: c.RPName,
		RPOrigins:     origins,
		Timeouts:      webauthn.TimeoutsConfig{Login: t, Registration: t},
		// Clients and password managers may add extension outputs latch
		// did not ask for (WebAuthn §9: a relying party must be ready to
		// ignore them); latch asks for none and relies on none.
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &RP{wa: wa, rpID: c.RPID, rpIDHash: sha256.Sum256([]byte(c.RPID)), origins: origins}, nil
}

// RPID returns the relying party id.
func (rp *RP) RPID() string { return rp.rpID }

// Origins returns the allowed origins in canonical form (lower case,
// without default port).
func (rp *RP) Origins() []string { return slices.Clone(rp.origins) }

// checkRPID refuses what cannot be a relying party id: WebAuthn requires a
// valid domain string, and browsers refuse IP addresses.
func checkRPID(id string) error {
	if id != strings.ToLower(id) {
		return errors.New("not lower case")
	}
	if ip := net.ParseIP(strings.Trim(id, "[]")); ip != nil {
		return errors.New("an IP address cannot be an RP id; use a host name such as localhost")
	}
	return protocol.ValidateRPID(id)
}

// checkOrigin returns the canonical form of origin o, checking that it is
// an http(s) origin within the RP id.
func checkOrigin(o, rpID string) (string, error) {
	canonical, u, err := canonicalOrigin(o)
	if err != nil {
		return "", err
	}
	host := strings.ToLower(u.Hostname())
	if rpID != host && !strings.HasSuffix(host, "."+rpID) {
		return "", fmt.Errorf("host %q is not the RP id %q or a subdomain of it", host, rpID)
	}
	if u.Scheme == "http" && host != "localhost" && !strings.HasSuffix(host, ".localhost") {
		return "", errors.New("http is allowed only on localhost; browsers need https elsewhere")
	}
	return canonical, nil
}

// canonicalOrigin returns o as the browser serializes an http(s) origin:
// the scheme, the host in lower case, and the port unless it is the
// scheme's default. Anything else in o (a path, even "/", a query, user
// information) is an error: an origin has none of it.
func canonicalOrigin(o string) (string, *url.URL, error) {
	u, err := url.Parse(o)
	if err != nil {
		return "", nil, err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", nil, errors.New("not an http or https URL")
	case u.Opaque != "" || u.Host == "":
		return "", nil, errors.New("no host")
	case u.User != nil:
		return "", nil, errors.New("has user information")
	case u.Path != "" || u.RawPath != "":
		return "", nil, errors.New("has a path (an origin has none, not even /)")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(o, "#"):
		return "", nil, errors.New("has a query or fragment")
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		return u.Scheme + "://" + net.JoinHostPort(host, port), u, nil
	}
	return u.Scheme + "://" + host, u, nil
}

// User is an account as WebAuthn sees it.
type User struct {
	// ID is the user handle, 1 to MaxUserIDSize bytes that identify the
	// account and nothing else (latch passes the 16 bytes of the user's
	// UUID, never the email): an authenticator stores it with a
	// discoverable credential and returns it at login.
	ID []byte
	// Name is the account's name as the authenticator lists it (latch
	// passes the email).
	Name string
	// DisplayName is a friendlier name; empty means Name.
	DisplayName string
}

func (u User) check() error {
	if len(u.ID) == 0 || len(u.ID) > MaxUserIDSize {
		return fmt.Errorf("passkey: user id of %d bytes, want 1 to %d", len(u.ID), MaxUserIDSize)
	}
	if u.Name == "" {
		return errors.New("passkey: the user name is empty")
	}
	return nil
}

// Credential is what latch stores of a registered credential (WebAuthn
// §4's credential record); it round-trips through encoding/json, byte
// slices as standard base64.
type Credential struct {
	// ID is the credential id (WebAuthn's rawId).
	ID []byte `json:"id"`
	// PublicKey is the credential public key, a COSE_Key in CBOR.
	PublicKey []byte `json:"public_key"`
	// AttestationType is the attestation type go-webauthn derived ("none",
	// "self", "basic_full", …).
	AttestationType string `json:"attestation_type,omitempty"`
	// AttestationFormat is the attestation statement format ("none",
	// "packed", …).
	AttestationFormat string `json:"attestation_format,omitempty"`
	// AAGUID is the authenticator model's 16-byte id; all zero when the
	// authenticator does not say.
	AAGUID []byte `json:"aaguid,omitempty"`
	// SignCount is the last sign count the authenticator reported; 0 for
	// authenticators that do not count (most synced passkeys).
	SignCount uint32 `json:"sign_count"`
	// Transports are how the browser can reach the authenticator ("usb",
	// "nfc", "ble", "hybrid", "internal"), hints for the allow list.
	Transports []string `json:"transports,omitempty"`
	// Attachment is "platform" or "cross-platform" as the browser reported
	// it at registration, or empty.
	Attachment string `json:"attachment,omitempty"`
	// UserPresent is the UP flag of the last ceremony.
	UserPresent bool `json:"user_present"`
	// UserVerified says the authenticator verified the user at
	// registration (WebAuthn's uvInitialized); it does not change at login.
	// Whether a login verified the user is Assertion.UserVerified.
	UserVerified bool `json:"user_verified"`
	// BackupEligible is the BE flag: the credential can be synced to other
	// devices (a passkey). It never changes.
	BackupEligible bool `json:"backup_eligible"`
	// BackupState is the BS flag of the last ceremony: the credential is
	// currently backed up.
	BackupState bool `json:"backup_state"`
}

// Passkey reports whether the credential is a synced passkey (backup
// eligible) rather than one bound to a single device, for display.
func (c Credential) Passkey() bool { return c.BackupEligible }

// record returns the credential as go-webauthn's credential record.
func (c Credential) record() webauthn.Credential {
	var flags protocol.AuthenticatorFlags
	for _, f := range []struct {
		set  bool
		flag protocol.AuthenticatorFlags
	}{
		{c.UserPresent, protocol.FlagUserPresent},
		{c.UserVerified, protocol.FlagUserVerified},
		{c.BackupEligible, protocol.FlagBackupEligible},
		{c.BackupState, protocol.FlagBackupState},
	} {
		if f.set {
			flags |= f.flag
		}
	}
	transports := make([]protocol.AuthenticatorTransport, len(c.Transports))
	for i, t := range c.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:                slices.Clone(c.ID),
		PublicKey:         slices.Clone(c.PublicKey),
		AttestationType:   c.AttestationType,
		AttestationFormat: c.AttestationFormat,
		Transport:         transports,
		Flags:             webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{
			AAGUID:     slices.Clone(c.AAGUID),
			SignCount:  c.SignCount,
			Attachment: protocol.AuthenticatorAttachment(c.Attachment),
		},
	}
}

// fromRecord returns go-webauthn's credential record as a Credential.
func fromRecord(w webauthn.Credential) Credential {
	var transports []string
	for _, t := range w.Transport {
		transports = append(transports, string(t))
	}
	return Credential{
		ID:                slices.Clone(w.ID),
		PublicKey:         slices.Clone(w.PublicKey),
		AttestationType:   w.AttestationType,
		AttestationFormat: w.AttestationFormat,
		AAGUID:            slices.Clone(w.Authenticator.AAGUID),
		SignCount:         w.Authenticator.SignCount,
		Transports:        transports,
		Attachment:        string(w.Authenticator.Attachment),
		UserPresent:       w.Flags.UserPresent,
		UserVerified:      w.Flags.UserVerified,
		BackupEligible:    w.Flags.BackupEligible,
		BackupState:       w.Flags.BackupState,
	}
}

// descriptors returns the credentials as allowCredentials or
// excludeCredentials entries; nil for none, so that the member is left
// out.
func descriptors(creds []Credential) []protocol.CredentialDescriptor {
	if len(creds) == 0 {
		return nil
	}
	out := make([]protocol.CredentialDescriptor, len(creds))
	for i, c := range creds {
		w := c.record()
		out[i] = w.Descriptor()
	}
	return out
}

// credentialParameters are the algorithms latch accepts, in order of
// preference: ES256 (what nearly every authenticator makes), EdDSA and
// RS256 (Windows Hello), as WebAuthn Level 3 §5.4 recommends.
func credentialParameters() []protocol.CredentialParameter {
	return []protocol.CredentialParameter{
		{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
		{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA},
		{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
	}
}

// webauthnUser is a User with its credentials as go-webauthn wants it.
type webauthnUser struct {
	u     User
	creds []webauthn.Credential
}

var _ webauthn.User = webauthnUser{}

func (w webauthnUser) WebAuthnID() []byte                         { return w.u.ID }
func (w webauthnUser) WebAuthnName() string                       { return w.u.Name }
func (w webauthnUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }
func (w webauthnUser) WebAuthnDisplayName() string {
	if w.u.DisplayName == "" {
		return w.u.Name
	}
	return w.u.DisplayName
}
