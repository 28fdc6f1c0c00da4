package passkey

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchauth/latch/internal/mfa/passkey/passkeytest"
)

const origin = "http://localhost:8080"

var (
	ann = User{ID: []byte("ann-uuid-16bytes"), Name: "ann@example.com"}
	bob = User{ID: []byte("bob-uuid-16bytes"), Name: "bob@example.com"}

	// Challenges are the caller's; the tests use fixed ones.
	regChallenge   = bytes.Repeat([]byte{1}, 32)
	loginChallenge = bytes.Repeat([]byte{2}, 32)
	otherChallenge = bytes.Repeat([]byte{3}, 32)
)

var b64 = base64.RawURLEncoding

func newRP(t testing.TB) *RP {
	t.Helper()
	rp, err := New(Config{RPID: "localhost", RPName: "latch", Origins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// register runs a registration ceremony of u with authenticator a and
// returns the credential to store.
func register(t *testing.T, rp *RP, a *passkeytest.Authenticator, u User, discoverable bool) Credential {
	t.Helper()
	cred, err := rp.Register(u, regChallenge, create(t, rp, a, u, discoverable))
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	return cred
}

// create runs a.Create with the registration options of u, regChallenge
// and discoverable and returns the response.
func create(t *testing.T, rp *RP, a *passkeytest.Authenticator, u User, discoverable bool, opts ...passkeytest.Option) []byte {
	t.Helper()
	options, err := rp.RegistrationOptions(u, regChallenge, nil, discoverable)
	if err != nil {
		t.Fatal(err)
	}
	response, err := a.Create(options, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return response
}

// assert runs a.Get with the login options of challenge, allow and
// requireUV and returns the response.
func assert(t *testing.T, rp *RP, a *passkeytest.Authenticator, challenge []byte, allow []Credential, requireUV bool, opts ...passkeytest.Option) []byte {
	t.Helper()
	options, err := rp.LoginOptions(challenge, allow, requireUV)
	if err != nil {
		t.Fatal(err)
	}
	response, err := a.Get(options, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return response
}

// accounts is a fake of the store's lookup by credential id; find records
// what Login asked.
type accounts struct {
	users map[string]User       // by credential id
	creds map[string]Credential // by credential id

	gotID, gotHandle []byte
	calls            int
}

var errNotFound = errors.New("not found")

func newAccounts() *accounts {
	return &accounts{users: map[string]User{}, creds: map[string]Credential{}}
}

func (s *accounts) add(u User, c Credential) {
	s.users[string(c.ID)] = u
	s.creds[string(c.ID)] = c
}

func (s *accounts) find(rawID, userHandle []byte) (User, Credential, error) {
	s.calls++
	s.gotID, s.gotHandle = rawID, userHandle
	c, ok := s.creds[string(rawID)]
	if !ok {
		return User{}, Credential{}, errNotFound
	}
	return s.users[string(rawID)], c, nil
}

// edit decodes a JSON response, lets change alter it, and encodes it again.
func edit(t *testing.T, response []byte, change func(r, inner map[string]any)) []byte {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal(response, &r); err != nil {
		t.Fatal(err)
	}
	change(r, r["response"].(map[string]any))
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// editBytes changes the base64url member name of m with change.
func editBytes(t *testing.T, m map[string]any, name string, change func([]byte) []byte) {
	t.Helper()
	b, err := b64.DecodeString(m[name].(string))
	if err != nil {
		t.Fatal(err)
	}
	m[name] = b64.EncodeToString(change(b))
}

func TestNew(t *testing.T) {
	ok := func(c *Config) {}
	tests := []struct {
		name    string
		change  func(c *Config)
		origins []string // canonical, when valid
	}{
		{"localhost", ok, []string{"http://localhost:8080"}},
		{"domain", func(c *Config) {
			c.RPID = "example.com"
			c.Origins = []string{"https://example.com", "https://LOGIN.example.com:443", "https://example.com:8443", "https://example.com"}
		}, []string{"https://example.com", "https://login.example.com", "https://example.com:8443"}},
		{"localhost subdomain over http", func(c *Config) { c.Origins = []string{"http://app.localhost:80"} }, []string{"http://app.localhost"}},
		{"IPv4 RP id", func(c *Config) { c.RPID = "127.0.0.1"; c.Origins = []string{"http://127.0.0.1:8080"} }, nil},
		{"IPv6 RP id", func(c *Config) { c.RPID = "::1" }, nil},
		{"bracketed IPv6 RP id", func(c *Config) { c.RPID = "[::1]" }, nil},
		{"empty RP id", func(c *Config) { c.RPID = "" }, nil},
		{"RP id with port", func(c *Config) { c.RPID = "localhost:8080" }, nil},
		{"RP id a URL", func(c *Config) { c.RPID = "https://example.com" }, nil},
		{"RP id upper case", func(c *Config) { c.RPID = "Example.com"; c.Origins = []string{"https://example.com"} }, nil},
		{"RP id trailing dot", func(c *Config) { c.RPID = "example.com."; c.Origins = []string{"https://example.com"} }, nil},
		{"RP id single label", func(c *Config) { c.RPID = "intranet"; c.Origins = []string{"https://intranet"} }, nil},
		{"no name", func(c *Config) { c.RPName = " " }, nil},
		{"no origins", func(c *Config) { c.Origins = nil }, nil},
		{"origin with slash", func(c *Config) { c.Origins = []string{"http://localhost:8080/"} }, nil},
		{"origin with path", func(c *Config) { c.Origins = []string{"http://localhost:8080/login"} }, nil},
		{"origin with query", func(c *Config) { c.Origins = []string{"http://localhost:8080?a"} }, nil},
		{"origin with empty query", func(c *Config) { c.Origins = []string{"http://localhost:8080?"} }, nil},
		{"origin with fragment", func(c *Config) { c.Origins = []string{"http://localhost:8080#"} }, nil},
		{"origin with user", func(c *Config) { c.Origins = []string{"http://ann@localhost:8080"} }, nil},
		{"origin not http", func(c *Config) { c.Origins = []string{"ftp://localhost"} }, nil},
		{"origin without scheme", func(c *Config) { c.Origins = []string{"localhost:8080"} }, nil},
		{"origin of another site", func(c *Config) { c.Origins = []string{"http://evil.localhost.example"} }, nil},
		{"origin a suffix but not a subdomain", func(c *Config) {
			c.RPID = "example.com"
			c.Origins = []string{"https://badexample.com"}
		}, nil},
		{"http off localhost", func(c *Config) { c.RPID = "example.com"; c.Origins = []string{"http://example.com"} }, nil},
		{"short timeout", func(c *Config) { c.Timeout = time.Millisecond }, nil},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{RPID: "localhost", RPName: "latch", Origins: []string{origin}}
			tt.change(&c)
			rp, err := New(c)
			if tt.origins == nil {
				if err == nil {
					t.Fatalf("New(%+v) succeeded, want an error", c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.origins, rp.Origins()); diff != "" {
				t.Errorf("origins (-want +got):\n%s", diff)
			}
			if rp.RPID() != c.RPID {
				t.Errorf("RPID %q, want %q", rp.RPID(), c.RPID)
			}
		})
	}
}

func TestRegistrationOptions(t *testing.T) {
	rp := newRP(t)
	exclude := []Credential{{ID: []byte("cred-1"), Transports: []string{"usb", "nfc"}}, {ID: []byte("cred-2")}}
	for _, discoverable := range []bool{true, false} {
		got, err := rp.RegistrationOptions(ann, regChallenge, exclude, discoverable)
		if err != nil {
			t.Fatal(err)
		}
		residentKey := "preferred"
		if discoverable {
			residentKey = "required"
		}
		want := `{
			"rp": {"name": "latch", "id": "localhost"},
			"user": {"name": "ann@example.com", "displayName": "ann@example.com", "id": "` + b64.EncodeToString(ann.ID) + `"},
			"challenge": "` + b64.EncodeToString(regChallenge) + `",
			"pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -8}, {"type": "public-key", "alg": -257}],
			"timeout": 300000,
			"excludeCredentials": [
				{"type": "public-key", "id": "` + b64.EncodeToString([]byte("cred-1")) + `", "transports": ["usb", "nfc"]},
				{"type": "public-key", "id": "` + b64.EncodeToString([]byte("cred-2")) + `"}
			],
			"authenticatorSelection": {"requireResidentKey": ` + strconv.FormatBool(discoverable) + `, "residentKey": "` + residentKey + `", "userVerification": "preferred"},
			"attestation": "none"
		}`
		if diff := cmp.Diff(decodeJSON(t, []byte(want)), decodeJSON(t, got)); diff != "" {
			t.Errorf("discoverable %v (-want +got):\n%s", discoverable, diff)
		}
		again, err := rp.RegistrationOptions(ann, regChallenge, exclude, discoverable)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, again) {
			t.Errorf("options differ between two calls with the same arguments:\n%s\n%s", got, again)
		}
	}

	got, err := rp.RegistrationOptions(User{ID: ann.ID, Name: "ann@example.com", DisplayName: "Ann"}, regChallenge, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeJSON(t, got)
	if name := m["user"].(map[string]any)["displayName"]; name != "Ann" {
		t.Errorf("displayName %v, want Ann", name)
	}
	if _, ok := m["excludeCredentials"]; ok {
		t.Error("excludeCredentials present with nothing to exclude")
	}

	for _, bad := range []struct {
		name      string
		u         User
		challenge []byte
	}{
		{"short challenge", ann, make([]byte, MinChallengeSize-1)},
		{"no user id", User{Name: "ann@example.com"}, regChallenge},
		{"long user id", User{ID: make([]byte, MaxUserIDSize+1), Name: "ann@example.com"}, regChallenge},
		{"no name", User{ID: ann.ID}, regChallenge},
	} {
		if _, err := rp.RegistrationOptions(bad.u, bad.challenge, nil, true); err == nil || errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want an error of the caller's", bad.name, err)
		}
	}
}

func TestLoginOptions(t *testing.T) {
	rp := newRP(t)
	allow := []Credential{{ID: []byte("cred-1"), Transports: []string{"internal", "hybrid"}}}
	tests := []struct {
		name      string
		allow     []Credential
		requireUV bool
		want      string
	}{
		{"discoverable", nil, false, `{"challenge": "` + b64.EncodeToString(loginChallenge) + `", "timeout": 300000, "rpId": "localhost", "userVerification": "preferred"}`},
		{"allow list, UV required", allow, true, `{"challenge": "` + b64.EncodeToString(loginChallenge) + `", "timeout": 300000, "rpId": "localhost", "userVerification": "required",
			"allowCredentials": [{"type": "public-key", "id": "` + b64.EncodeToString([]byte("cred-1")) + `", "transports": ["internal", "hybrid"]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rp.LoginOptions(loginChallenge, tt.allow, tt.requireUV)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(decodeJSON(t, []byte(tt.want)), decodeJSON(t, got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := rp.LoginOptions(loginChallenge[:MinChallengeSize-1], nil, false); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("short challenge: got %v, want an error of the caller's", err)
	}

	rp, err := New(Config{RPID: "localhost", RPName: "latch", Origins: []string{origin}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	got, err := rp.LoginOptions(loginChallenge, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if timeout := decodeJSON(t, got)["timeout"]; timeout != 60000.0 {
		t.Errorf("timeout %v, want 60000", timeout)
	}
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

// TestRoundTrip registers credentials with the software authenticator and
// signs in with them, discoverable and with an allow list, through a JSON
// round trip of the stored credential.
func TestRoundTrip(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	a.AAGUID = [16]byte{0xaa, 0xbb}
	store := newAccounts()

	cred := register(t, rp, a, ann, true)
	want := Credential{
		ID:                a.Credentials()[0].ID,
		AttestationType:   "none",
		AttestationFormat: "none",
		AAGUID:            a.AAGUID[:],
		Transports:        []string{"internal"},
		Attachment:        "platform",
		UserPresent:       true,
		UserVerified:      true,
	}
	if diff := cmp.Diff(want, cred, cmpIgnorePublicKey); diff != "" {
		t.Errorf("registered credential (-want +got):\n%s", diff)
	}
	if len(cred.PublicKey) == 0 || cred.Passkey() {
		t.Errorf("public key of %d bytes, passkey %v: want a key, not a passkey", len(cred.PublicKey), cred.Passkey())
	}

	// Latch stores the credential as JSON.
	stored, err := json.Marshal(cred)
	if err != nil {
		t.Fatal(err)
	}
	var decoded Credential
	if err := json.Unmarshal(stored, &decoded); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cred, decoded); diff != "" {
		t.Fatalf("JSON round trip (-want +got):\n%s", diff)
	}
	store.add(ann, decoded)

	for i, allow := range [][]Credential{nil, {decoded}} {
		response := assert(t, rp, a, loginChallenge, allow, false)
		got, err := rp.Login(loginChallenge, allow, false, response, store.find)
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		if !bytes.Equal(store.gotID, cred.ID) || !bytes.Equal(store.gotHandle, ann.ID) {
			t.Errorf("login %d: find(%x, %x), want (%x, %x)", i, store.gotID, store.gotHandle, cred.ID, ann.ID)
		}
		wantCred := decoded
		wantCred.SignCount = uint32(i + 1)
		wantAssertion := Assertion{User: ann, Credential: wantCred, UserVerified: true}
		if diff := cmp.Diff(wantAssertion, got); diff != "" {
			t.Errorf("login %d (-want +got):\n%s", i, diff)
		}
		store.add(ann, got.Credential)
	}
}

var cmpIgnorePublicKey = cmp.FilterPath(func(p cmp.Path) bool {
	return p.Last().String() == ".PublicKey"
}, cmp.Ignore())

// TestNonDiscoverable checks a credential the authenticator does not keep
// as discoverable: it answers only an allow list, without user handle, and
// find is asked with an empty one.
func TestNonDiscoverable(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	a.UserVerification, a.NoResidentKeys = false, true
	store := newAccounts()
	cred := register(t, rp, a, ann, false)
	store.add(ann, cred)
	if cred.UserVerified {
		t.Error("UserVerified at registration by an authenticator without UV")
	}

	response := assert(t, rp, a, loginChallenge, []Credential{cred}, false)
	got, err := rp.Login(loginChallenge, []Credential{cred}, false, response, store.find)
	if err != nil {
		t.Fatal(err)
	}
	if len(store.gotHandle) != 0 {
		t.Errorf("find got user handle %x, want none", store.gotHandle)
	}
	if got.UserVerified || got.Credential.SignCount != 1 || got.User.Name != ann.Name {
		t.Errorf("assertion %+v: want ann, sign count 1, user not verified", got)
	}

	// The same response without allow list is a discoverable login
	// without the user handle that names the user.
	response = assert(t, rp, a, loginChallenge, []Credential{cred}, false)
	if _, err := rp.Login(loginChallenge, nil, false, response, store.find); !errors.Is(err, ErrUserHandle) {
		t.Errorf("got %v, want ErrUserHandle", err)
	}
}

// TestOrigins signs in from each of several origins of one RP id,
// spelled as a browser might not.
func TestOrigins(t *testing.T) {
	rp, err := New(Config{RPID: "example.com", RPName: "latch", Origins: []string{"https://example.com", "https://login.example.com:8443"}})
	if err != nil {
		t.Fatal(err)
	}
	a := passkeytest.New("https://login.example.com:8443")
	store := newAccounts()
	cred := register(t, rp, a, ann, true)
	store.add(ann, cred)
	for _, o := range []string{"https://login.example.com:8443", "https://example.com", "HTTPS://Example.COM:443"} {
		response := assert(t, rp, a, loginChallenge, nil, false, passkeytest.WithOrigin(o))
		if _, err := rp.Login(loginChallenge, nil, false, response, store.find); err != nil {
			t.Errorf("origin %s: %v", o, err)
		}
	}
	for _, o := range []string{"https://login.example.com", "http://example.com", "https://evil.example.com"} {
		response := assert(t, rp, a, loginChallenge, nil, false, passkeytest.WithOrigin(o))
		if _, err := rp.Login(loginChallenge, nil, false, response, store.find); !errors.Is(err, ErrOrigin) {
			t.Errorf("origin %s: got %v, want ErrOrigin", o, err)
		}
	}
}

// TestRegisterRefuses checks that every registration response that must
// not be stored is refused with its reason.
func TestRegisterRefuses(t *testing.T) {
	rp := newRP(t)
	tests := []struct {
		name      string
		opts      []passkeytest.Option
		setup     func(a *passkeytest.Authenticator)
		challenge []byte // default regChallenge
		change    func(t *testing.T, r, inner map[string]any)
		want      error
	}{
		{name: "wrong origin", opts: []passkeytest.Option{passkeytest.WithOrigin("https://evil.example")}, want: ErrOrigin},
		{name: "origin of another port", opts: []passkeytest.Option{passkeytest.WithOrigin("http://localhost:9999")}, want: ErrOrigin},
		{name: "origin over https", opts: []passkeytest.Option{passkeytest.WithOrigin("https://localhost:8080")}, want: ErrOrigin},
		{name: "origin with a path", opts: []passkeytest.Option{passkeytest.WithOrigin(origin + "/")}, want: ErrOrigin},
		{name: "origin not a URL", opts: []passkeytest.Option{passkeytest.WithOrigin("localhost:8080")}, want: ErrOrigin},
		{name: "opaque origin", opts: []passkeytest.Option{passkeytest.WithOrigin("android:apk-key-hash:abc")}, want: ErrOrigin},
		{name: "wrong RP id", opts: []passkeytest.Option{passkeytest.WithRPID("evil.example")}, want: ErrRPID},
		{name: "another challenge", challenge: otherChallenge, want: ErrChallenge},
		{name: "no user presence", opts: []passkeytest.Option{passkeytest.WithoutUserPresence()}, want: ErrUserPresence},
		{name: "backed up but not eligible", setup: func(a *passkeytest.Authenticator) { a.BackupState = true }, want: ErrFlags},
		{name: "cross-origin", change: func(t *testing.T, r, inner map[string]any) {
			editBytes(t, inner, "clientDataJSON", func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"crossOrigin":false`), []byte(`"crossOrigin":true,"topOrigin":"https://evil.example"`), 1)
			})
		}, want: ErrOrigin},
		{name: "ceremony type", change: func(t *testing.T, r, inner map[string]any) {
			editBytes(t, inner, "clientDataJSON", func(b []byte) []byte {
				return bytes.Replace(b, []byte(`webauthn.create`), []byte(`webauthn.get`), 1)
			})
		}, want: ErrMalformed},
		{name: "attestation none with a statement", change: func(t *testing.T, r, inner map[string]any) {
			editBytes(t, inner, "attestationObject", func(b []byte) []byte {
				// {"fmt": "none", "attStmt": {}, …} → attStmt {"a": 1}
				return bytes.Replace(b, []byte("gattStmt\xa0"), []byte("gattStmt\xa1\x61a\x01"), 1)
			})
		}, want: ErrAttestation},
		{name: "packed attestation without signature", change: func(t *testing.T, r, inner map[string]any) {
			editBytes(t, inner, "attestationObject", func(b []byte) []byte {
				return bytes.Replace(b, []byte("\x64none"), []byte("\x66packed"), 1)
			})
		}, want: ErrAttestation},
		{name: "credential id not the attested one", change: func(t *testing.T, r, inner map[string]any) {
			id := b64.EncodeToString([]byte("another credential id"))
			r["id"], r["rawId"] = id, id
		}, want: ErrAttestation},
		{name: "id and rawId differ", change: func(t *testing.T, r, inner map[string]any) {
			r["id"] = b64.EncodeToString([]byte("another credential id"))
		}, want: ErrMalformed},
		{name: "no attestation object", change: func(t *testing.T, r, inner map[string]any) {
			delete(inner, "attestationObject")
		}, want: ErrMalformed},
		{name: "truncated authenticator data", change: func(t *testing.T, r, inner map[string]any) {
			editBytes(t, inner, "attestationObject", func(b []byte) []byte { return b[:len(b)-10] })
		}, want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := passkeytest.New(origin)
			if tt.setup != nil {
				tt.setup(a)
			}
			response := create(t, rp, a, ann, true, tt.opts...)
			if tt.change != nil {
				response = edit(t, response, func(r, inner map[string]any) { tt.change(t, r, inner) })
			}
			challenge := regChallenge
			if tt.challenge != nil {
				challenge = tt.challenge
			}
			_, err := rp.Register(ann, challenge, response)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalid) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestLoginRefuses checks that every assertion that must not sign anyone
// in is refused with its reason, and that find is not asked about
// responses refused on their face.
func TestLoginRefuses(t *testing.T) {
	rp := newRP(t)
	other := register(t, rp, passkeytest.New(origin), bob, true)

	tests := []struct {
		name        string
		opts        []passkeytest.Option
		setup       func(a *passkeytest.Authenticator) // after registration
		allow       []Credential
		ignoreAllow bool // the options carry no allow list: a client that ignores it
		requireUV   bool
		challenge   []byte // default loginChallenge
		change      func(t *testing.T, r, inner map[string]any)
		store       func(s *accounts, cred Credential)
		want        error
		found       bool // find was asked
	}{
		{name: "wrong origin", opts: []passkeytest.Option{passkeytest.WithOrigin("https://evil.example")}, want: ErrOrigin},
		{name: "wrong RP id", opts: []passkeytest.Option{passkeytest.WithRPID("evil.example")}, want: ErrRPID},
		{name: "replay with another challenge", challenge: otherChallenge, want: ErrChallenge},
		{name: "no user presence", opts: []passkeytest.Option{passkeytest.WithoutUserPresence()}, want: ErrUserPresence},
		{name: "UV required, not done", requireUV: true, opts: []passkeytest.Option{passkeytest.WithoutUserVerification()}, want: ErrUserVerification},
		{name: "not in the allow list", allow: []Credential{other}, ignoreAllow: true, want: ErrNotAllowed},
		{name: "backed up but not eligible", setup: func(a *passkeytest.Authenticator) { a.BackupState = true }, want: ErrFlags},
		{name: "backup eligibility changed", store: func(s *accounts, cred Credential) {
			cred.BackupEligible = true
			s.add(ann, cred)
		}, want: ErrFlags, found: true},
		{name: "tampered signature", change: func(t *testing.T, r, inner map[string]any) {
			editBytes(t, inner, "signature", func(b []byte) []byte { b[10] ^= 1; return b })
		}, want: ErrSignature, found: true},
		{name: "signature cut short", change: func(t *testing.T, r, inner map[string]any) {
			editBytes(t, inner, "signature", func(b []byte) []byte { return b[:len(b)-1] })
		}, want: ErrSignature, found: true},
		{name: "tampered authenticator data", change: func(t *testing.T, r, inner map[string]any) {
			editBytes(t, inner, "authenticatorData", func(b []byte) []byte { b[36]++; return b }) // the sign count
		}, want: ErrSignature, found: true},
		{name: "tampered client data", change: func(t *testing.T, r, inner map[string]any) {
			editBytes(t, inner, "clientDataJSON", func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"crossOrigin":false`), []byte(`"crossOrigin":false,"x":1`), 1)
			})
		}, want: ErrSignature, found: true},
		{name: "another credential's key", store: func(s *accounts, cred Credential) {
			cred.PublicKey = other.PublicKey
			s.add(ann, cred)
		}, want: ErrSignature, found: true},
		{name: "user handle of another user", store: func(s *accounts, cred Credential) { s.add(bob, cred) }, want: ErrUserHandle, found: true},
		{name: "user handle removed", change: func(t *testing.T, r, inner map[string]any) {
			delete(inner, "userHandle")
		}, want: ErrUserHandle},
		{name: "cross-origin", change: func(t *testing.T, r, inner map[string]any) {
			editBytes(t, inner, "clientDataJSON", func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"crossOrigin":false`), []byte(`"crossOrigin":true`), 1)
			})
		}, want: ErrOrigin},
		{name: "a registration response", change: func(t *testing.T, r, inner map[string]any) {
			delete(inner, "authenticatorData")
		}, want: ErrMalformed},
		{name: "ceremony type", change: func(t *testing.T, r, inner map[string]any) {
			editBytes(t, inner, "clientDataJSON", func(b []byte) []byte {
				return bytes.Replace(b, []byte(`webauthn.get`), []byte(`webauthn.create`), 1)
			})
		}, want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := passkeytest.New(origin)
			cred := register(t, rp, a, ann, true)
			if tt.setup != nil {
				tt.setup(a)
			}
			store := newAccounts()
			store.add(ann, cred)
			store.add(bob, other)
			if tt.store != nil {
				tt.store(store, cred)
			}
			offered := tt.allow
			if tt.ignoreAllow {
				offered = nil
			}
			response := assert(t, rp, a, loginChallenge, offered, tt.requireUV, tt.opts...)
			if tt.change != nil {
				response = edit(t, response, func(r, inner map[string]any) { tt.change(t, r, inner) })
			}
			challenge := loginChallenge
			if tt.challenge != nil {
				challenge = tt.challenge
			}
			_, err := rp.Login(challenge, tt.allow, tt.requireUV, response, store.find)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalid) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if found := store.calls > 0; found != tt.found {
				t.Errorf("find asked: %v, want %v", found, tt.found)
			}
		})
	}
}

func TestLoginFindErrors(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	cred := register(t, rp, a, ann, true)

	response := assert(t, rp, a, loginChallenge, nil, false)
	_, err := rp.Login(loginChallenge, nil, false, response, func(rawID, userHandle []byte) (User, Credential, error) {
		return User{}, Credential{}, errNotFound
	})
	if !errors.Is(err, errNotFound) || errors.Is(err, ErrInvalid) {
		t.Errorf("find's error: got %v, want it as is", err)
	}

	for name, find := range map[string]func(rawID, userHandle []byte) (User, Credential, error){
		"another credential": func(rawID, userHandle []byte) (User, Credential, error) {
			return ann, Credential{ID: []byte("another"), PublicKey: cred.PublicKey}, nil
		},
		"user without id": func(rawID, userHandle []byte) (User, Credential, error) {
			return User{Name: "ann@example.com"}, cred, nil
		},
	} {
		_, err := rp.Login(loginChallenge, nil, false, response, find)
		if err == nil || errors.Is(err, ErrInvalid) {
			t.Errorf("find returns %s: got %v, want an error of the caller's", name, err)
		}
	}
}

// TestCloneWarning plays a cloned authenticator whose sign count goes
// backwards: the login verifies but says CloneWarning, and the stored
// count stays.
func TestCloneWarning(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	store := newAccounts()
	cred := register(t, rp, a, ann, true)
	store.add(ann, cred)
	login := func() Assertion {
		t.Helper()
		got, err := rp.Login(loginChallenge, nil, false, assert(t, rp, a, loginChallenge, nil, false), store.find)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for range 2 {
		got := login()
		if got.CloneWarning {
			t.Fatalf("clone warning at sign count %d", got.Credential.SignCount)
		}
		store.add(ann, got.Credential)
	}
	for _, count := range []uint32{0, 1} { // signs with 1, then 2 (equal)
		if err := a.SetSignCount(cred.ID, count); err != nil {
			t.Fatal(err)
		}
		got := login()
		if !got.CloneWarning || got.Credential.SignCount != 2 {
			t.Errorf("sign count %d after 2: clone warning %v, stored count %d; want a warning and 2", count+1, got.CloneWarning, got.Credential.SignCount)
		}
	}
}

// TestSyncedPasskey checks a backup-eligible authenticator that does not
// count: no clone warning at 0, and the backup state follows the logins.
func TestSyncedPasskey(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	a.BackupEligible, a.ZeroCounter = true, true
	store := newAccounts()
	cred := register(t, rp, a, ann, true)
	if !cred.Passkey() || cred.BackupState {
		t.Errorf("passkey %v, backed up %v: want a passkey not yet backed up", cred.Passkey(), cred.BackupState)
	}
	store.add(ann, cred)
	a.BackupState = true
	for range 2 {
		got, err := rp.Login(loginChallenge, nil, true, assert(t, rp, a, loginChallenge, nil, true), store.find)
		if err != nil {
			t.Fatal(err)
		}
		if got.CloneWarning || got.Credential.SignCount != 0 || !got.Credential.BackupState || !got.UserVerified {
			t.Errorf("assertion %+v: want no clone warning, count 0, backed up, user verified", got)
		}
		store.add(ann, got.Credential)
	}
}

// TestGarbage feeds Register and Login what an attacker might: neither
// panics, and both refuse with ErrMalformed.
func TestGarbage(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	valid := create(t, rp, a, ann, true)
	inputs := map[string][]byte{
		"empty":           nil,
		"null":            []byte("null"),
		"object":          []byte("{}"),
		"array":           []byte("[]"),
		"string":          []byte(`"x"`),
		"binary":          {0xff, 0x00, 0xa0},
		"trailing data":   append(bytes.Clone(valid), []byte(" {}")...),
		"deep nesting":    []byte(strings.Repeat("[", 10000) + strings.Repeat("]", 10000)),
		"too large":       append(append([]byte(`{"id":"`), bytes.Repeat([]byte("A"), MaxResponseSize)...), []byte(`"}`)...),
		"wrong types":     []byte(`{"id": 1, "rawId": true, "type": [], "response": "x"}`),
		"bad base64":      []byte(`{"id": "!!", "rawId": "!!", "type": "public-key", "response": {"clientDataJSON": "!!"}}`),
		"empty response":  []byte(`{"id": "AA", "rawId": "AA", "type": "public-key", "response": {}}`),
		"client data nul": []byte(`{"id": "AA", "rawId": "AA", "type": "public-key", "response": {"clientDataJSON": "AA", "authenticatorData": "AA", "signature": "AA", "attestationObject": "AA"}}`),
	}
	store := newAccounts()
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			if _, err := rp.Register(ann, regChallenge, in); !errors.Is(err, ErrMalformed) {
				t.Errorf("Register: got %v, want ErrMalformed", err)
			}
			if _, err := rp.Login(loginChallenge, nil, false, in, store.find); !errors.Is(err, ErrMalformed) {
				t.Errorf("Login: got %v, want ErrMalformed", err)
			}
		})
	}
	if store.calls != 0 {
		t.Errorf("find called %d times for garbage", store.calls)
	}
}

// TestConcurrent signs in from many goroutines with one RP (go test
// -race).
func TestConcurrent(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	store := newAccounts()
	cred := register(t, rp, a, ann, true)
	store.add(ann, cred)
	find := func(rawID, userHandle []byte) (User, Credential, error) { return ann, cred, nil }

	const n = 8
	responses := make([][]byte, n)
	for i := range responses {
		responses[i] = assert(t, rp, a, loginChallenge, nil, false)
	}
	errs := make(chan error, n)
	for _, r := range responses {
		go func() {
			_, err := rp.Login(loginChallenge, nil, false, r, find)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestErrors(t *testing.T) {
	reasons := []error{ErrMalformed, ErrChallenge, ErrOrigin, ErrRPID, ErrUserPresence, ErrUserVerification,
		ErrFlags, ErrAttestation, ErrNotAllowed, ErrUserHandle, ErrSignature}
	for i, r := range reasons {
		if !errors.Is(r, ErrInvalid) {
			t.Errorf("%v does not match ErrInvalid", r)
		}
		for j, s := range reasons {
			if i != j && errors.Is(r, s) {
				t.Errorf("%v matches %v", r, s)
			}
		}
	}
	if errors.Is(ErrInvalid, ErrMalformed) {
		t.Error("ErrInvalid matches ErrMalformed")
	}
}
