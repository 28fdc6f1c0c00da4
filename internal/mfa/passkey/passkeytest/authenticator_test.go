package passkeytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// The tests check the authenticator's output independently of any relying
// party library: they decode the CBOR and JSON themselves and verify the
// signatures with crypto/ecdsa.

const origin = "http://localhost:8080"

var challenge = []byte("0123456789abcdef0123456789abcdef")

// creation returns creation options for rpID with the user handle user;
// extra is spliced into the JSON object (with a leading comma).
func creation(rpID string, user []byte, residentKey, uv, extra string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{
		"rp": {"id": %q, "name": "latch"},
		"user": {"id": %q, "name": "ann@example.com", "displayName": "ann@example.com"},
		"challenge": %q,
		"pubKeyCredParams": [{"type": "public-key", "alg": -8}, {"type": "public-key", "alg": -7}],
		"authenticatorSelection": {"residentKey": %q, "userVerification": %q},
		"attestation": "none"%s
	}`, rpID, b64.EncodeToString(user), b64.EncodeToString(challenge), residentKey, uv, extra))
}

// request returns request options for rpID allowing ids (none: a
// discoverable request).
func request(rpID, uv string, ids ...[]byte) json.RawMessage {
	allow := []map[string]string{}
	for _, id := range ids {
		allow = append(allow, map[string]string{"type": "public-key", "id": b64.EncodeToString(id)})
	}
	b, err := json.Marshal(map[string]any{
		"challenge":        b64.EncodeToString(challenge),
		"rpId":             rpID,
		"allowCredentials": allow,
		"userVerification": uv,
	})
	if err != nil {
		panic(err)
	}
	return b
}

// registration is a decoded RegistrationResponseJSON.
type registration struct {
	id, clientDataJSON, authData []byte
	clientData                   clientData
	fmt                          string
	attStmt                      map[string]any
	key                          *ecdsa.PublicKey
	spki                         *ecdsa.PublicKey
	alg                          int
	transports                   []string
	extensions                   map[string]any
}

// decodeRegistration decodes a registration response and its attestation
// object, checking the structure every registration must have.
func decodeRegistration(t *testing.T, raw json.RawMessage) registration {
	t.Helper()
	var r registrationResponse
	mustUnmarshal(t, raw, &r)
	checkCredential(t, r.publicKeyCredential)
	var reg registration
	reg.id = mustB64(t, r.RawID)
	reg.clientDataJSON = mustB64(t, r.Response.ClientDataJSON)
	mustUnmarshal(t, reg.clientDataJSON, &reg.clientData)
	var obj struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}
	if err := cbor.Unmarshal(mustB64(t, r.Response.AttestationObject), &obj); err != nil {
		t.Fatal(err)
	}
	reg.fmt, reg.attStmt, reg.authData = obj.Fmt, obj.AttStmt, obj.AuthData
	if got := mustB64(t, r.Response.AuthenticatorData); !bytes.Equal(got, obj.AuthData) {
		t.Fatal("response.authenticatorData differs from the attestation object's authData")
	}
	ad := reg.authData
	if len(ad) < 55 || ad[32]&flagAT == 0 {
		t.Fatalf("authData of %d bytes, flags %08b: want attested credential data", len(ad), ad[32])
	}
	n := int(binary.BigEndian.Uint16(ad[53:55]))
	if got := ad[55 : 55+n]; !bytes.Equal(got, reg.id) {
		t.Fatalf("attested credential id %x, want rawId %x", got, reg.id)
	}
	var cose map[int]any
	rest, err := cbor.UnmarshalFirst(ad[55+n:], &cose)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes after the COSE key", len(rest))
	}
	reg.key = parseCOSE(t, cose)
	pub, err := x509.ParsePKIXPublicKey(mustB64(t, r.Response.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	reg.spki = pub.(*ecdsa.PublicKey)
	reg.alg = r.Response.PublicKeyAlgorithm
	reg.transports = r.Response.Transports
	reg.extensions = r.ClientExtensionResults
	return reg
}

// checkCredential checks the members every PublicKeyCredential has.
func checkCredential(t *testing.T, c publicKeyCredential) {
	t.Helper()
	if c.ID != c.RawID || c.Type != "public-key" {
		t.Fatalf("id %q, rawId %q, type %q: want equal ids and public-key", c.ID, c.RawID, c.Type)
	}
}

// parseCOSE reads an ES256 COSE_Key.
func parseCOSE(t *testing.T, m map[int]any) *ecdsa.PublicKey {
	t.Helper()
	num := func(label int) int64 {
		switch v := m[label].(type) {
		case uint64:
			return int64(v)
		case int64:
			return v
		}
		t.Fatalf("COSE label %d: %T, want an integer", label, m[label])
		return 0
	}
	if num(coseKty) != coseEC2 || num(coseAlg) != coseES256 || num(coseCrv) != coseP256 {
		t.Fatalf("COSE key %v: want EC2, ES256, P-256", m)
	}
	x, _ := m[coseX].([]byte)
	y, _ := m[coseY].([]byte)
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// assertion is a decoded AuthenticationResponseJSON.
type assertion struct {
	id, clientDataJSON, authData, signature, userHandle []byte
	hasUserHandle                                       bool
	clientData                                          clientData
}

func decodeAssertion(t *testing.T, raw json.RawMessage) assertion {
	t.Helper()
	var r authenticationResponse
	mustUnmarshal(t, raw, &r)
	checkCredential(t, r.publicKeyCredential)
	a := assertion{
		id:             mustB64(t, r.RawID),
		clientDataJSON: mustB64(t, r.Response.ClientDataJSON),
		authData:       mustB64(t, r.Response.AuthenticatorData),
		signature:      mustB64(t, r.Response.Signature),
	}
	if r.Response.UserHandle != nil {
		a.hasUserHandle = true
		a.userHandle = mustB64(t, *r.Response.UserHandle)
	}
	mustUnmarshal(t, a.clientDataJSON, &a.clientData)
	if len(a.authData) != 37 {
		t.Fatalf("assertion authData of %d bytes, want 37", len(a.authData))
	}
	return a
}

// verify reports whether the assertion's signature is key's over authData
// followed by the SHA-256 of the client data (WebAuthn §6.3.3).
func (a assertion) verify(key *ecdsa.PublicKey) bool {
	h := sha256.Sum256(a.clientDataJSON)
	d := sha256.Sum256(slices.Concat(a.authData, h[:]))
	return ecdsa.VerifyASN1(key, d[:], a.signature)
}

func (a assertion) count() uint32 { return binary.BigEndian.Uint32(a.authData[33:37]) }

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatalf("%q is not base64url: %v", s, err)
	}
	return b
}

func mustUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func rpHash(rpID string) []byte {
	h := sha256.Sum256([]byte(rpID))
	return h[:]
}

func TestCreate(t *testing.T) {
	a := New(origin)
	a.AAGUID = [16]byte{1, 2, 3}
	user := []byte("0123456789abcdef")
	raw, err := a.Create(creation("localhost", user, "required", "preferred", `, "extensions": {"credProps": true}`))
	if err != nil {
		t.Fatal(err)
	}
	reg := decodeRegistration(t, raw)

	want := clientData{Type: "webauthn.create", Challenge: b64.EncodeToString(challenge), Origin: origin}
	if reg.clientData != want {
		t.Errorf("client data %+v, want %+v", reg.clientData, want)
	}
	if reg.fmt != "none" || len(reg.attStmt) != 0 {
		t.Errorf("fmt %q, attStmt %v: want none and an empty map", reg.fmt, reg.attStmt)
	}
	if got := reg.authData[:32]; !bytes.Equal(got, rpHash("localhost")) {
		t.Errorf("rpIdHash %x, want SHA-256 of localhost", got)
	}
	if got, want := reg.authData[32], byte(flagUP|flagUV|flagAT); got != want {
		t.Errorf("flags %08b, want %08b", got, want)
	}
	if got := binary.BigEndian.Uint32(reg.authData[33:37]); got != 0 {
		t.Errorf("sign count %d, want 0", got)
	}
	if got := reg.authData[37:53]; !bytes.Equal(got, a.AAGUID[:]) {
		t.Errorf("AAGUID %x, want %x", got, a.AAGUID)
	}
	if !reg.key.Equal(reg.spki) {
		t.Error("the COSE key and the SPKI publicKey differ")
	}
	if reg.alg != coseES256 || !slices.Equal(reg.transports, []string{"internal"}) {
		t.Errorf("alg %d, transports %v: want -7 and [internal]", reg.alg, reg.transports)
	}
	if got, _ := json.Marshal(reg.extensions); string(got) != `{"credProps":{"rk":true}}` {
		t.Errorf("clientExtensionResults %s, want credProps rk true", got)
	}

	creds := a.Credentials()
	if len(creds) != 1 {
		t.Fatalf("%d credentials, want 1", len(creds))
	}
	c := creds[0]
	if !bytes.Equal(c.ID, reg.id) || c.RPID != "localhost" || !bytes.Equal(c.UserHandle, user) ||
		c.UserName != "ann@example.com" || !c.Discoverable || c.BackupEligible || c.SignCount != 0 {
		t.Errorf("credential %+v", c)
	}
}

func TestGet(t *testing.T) {
	a := New(origin)
	user := []byte("0123456789abcdef")
	reg := create(t, a, creation("localhost", user, "required", "preferred", ""))

	for i, opts := range []json.RawMessage{
		request("localhost", "preferred"),                 // discoverable
		request("localhost", "required", reg.id),          // allow list
		request("", "preferred", []byte("other"), reg.id), // rpId from the origin
	} {
		as := get(t, a, opts)
		want := clientData{Type: "webauthn.get", Challenge: b64.EncodeToString(challenge), Origin: origin}
		if as.clientData != want {
			t.Errorf("%d: client data %+v, want %+v", i, as.clientData, want)
		}
		if !bytes.Equal(as.id, reg.id) {
			t.Errorf("%d: credential %x, want %x", i, as.id, reg.id)
		}
		if !bytes.Equal(as.authData[:32], rpHash("localhost")) {
			t.Errorf("%d: rpIdHash %x, want SHA-256 of localhost", i, as.authData[:32])
		}
		if got, want := as.authData[32], byte(flagUP|flagUV); got != want {
			t.Errorf("%d: flags %08b, want %08b", i, got, want)
		}
		if got, want := as.count(), uint32(i+1); got != want {
			t.Errorf("%d: sign count %d, want %d", i, got, want)
		}
		if !as.hasUserHandle || !bytes.Equal(as.userHandle, user) {
			t.Errorf("%d: user handle %x, want %x", i, as.userHandle, user)
		}
		if !as.verify(reg.key) {
			t.Errorf("%d: signature does not verify", i)
		}
	}
}

func TestGetChoosesCredential(t *testing.T) {
	a := New(origin)
	first := create(t, a, creation("localhost", []byte("u1"), "required", "preferred", ""))
	second := create(t, a, creation("localhost", []byte("u2"), "required", "preferred", ""))
	nonDisc := create(t, a, creation("localhost", []byte("u3"), "discouraged", "preferred", ""))
	a.NoResidentKeys = true
	noRK := create(t, a, creation("localhost", []byte("u5"), "preferred", "preferred", ""))
	a.NoResidentKeys = false
	newest := create(t, a, creation("localhost", []byte("u4"), "preferred", "preferred", ""))

	tests := []struct {
		name    string
		options json.RawMessage
		opts    []Option
		want    []byte // nil: ErrNotAllowed
		handle  bool
	}{
		{"newest discoverable", request("localhost", "preferred"), nil, newest.id, true},
		{"picked", request("localhost", "preferred"), []Option{WithCredential(second.id)}, second.id, true},
		{"picked older", request("localhost", "preferred"), []Option{WithCredential(first.id)}, first.id, true},
		{"non-discoverable not offered without allow list", request("localhost", "preferred"), []Option{WithCredential(nonDisc.id)}, nil, false},
		{"non-discoverable by allow list, no user handle", request("localhost", "preferred", nonDisc.id), nil, nonDisc.id, false},
		{"no resident keys", request("localhost", "preferred"), []Option{WithCredential(noRK.id)}, nil, false},
		{"no resident keys by allow list", request("localhost", "preferred", noRK.id), nil, noRK.id, false},
		{"allow list", request("localhost", "preferred", first.id), nil, first.id, true},
		{"picked outside the allow list", request("localhost", "preferred", first.id), []Option{WithCredential(second.id)}, nil, false},
		{"unknown id", request("localhost", "preferred", []byte("nope")), nil, nil, false},
		{"other RP id", request("example.com", "preferred"), []Option{WithOrigin("https://example.com")}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := a.Get(tt.options, tt.opts...)
			if tt.want == nil {
				if !errors.Is(err, ErrNotAllowed) {
					t.Fatalf("got %v, want ErrNotAllowed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			as := decodeAssertion(t, raw)
			if !bytes.Equal(as.id, tt.want) {
				t.Errorf("credential %x, want %x", as.id, tt.want)
			}
			if as.hasUserHandle != tt.handle {
				t.Errorf("user handle present %v, want %v", as.hasUserHandle, tt.handle)
			}
		})
	}
}

func TestClientRefuses(t *testing.T) {
	user := []byte("0123456789abcdef")
	tests := []struct {
		name string
		do   func(a *Authenticator) error
		want error
	}{
		{"RP id not the origin's", func(a *Authenticator) error {
			_, err := New("https://evil.example").Create(creation("localhost", user, "required", "preferred", ""))
			return err
		}, ErrSecurity},
		{"RP id a sibling domain", func(a *Authenticator) error {
			_, err := New("https://login.example.com").Create(creation("www.example.com", user, "required", "preferred", ""))
			return err
		}, ErrSecurity},
		{"RP id a suffix but not a parent", func(a *Authenticator) error {
			_, err := New("https://badexample.com").Create(creation("example.com", user, "required", "preferred", ""))
			return err
		}, ErrSecurity},
		{"Get for another RP id", func(a *Authenticator) error {
			_, err := New("https://evil.example").Get(request("localhost", "preferred"))
			return err
		}, ErrSecurity},
		{"no ES256", func(a *Authenticator) error {
			opts := creation("localhost", user, "required", "preferred", "")
			var m map[string]any
			if err := json.Unmarshal(opts, &m); err != nil {
				return err
			}
			m["pubKeyCredParams"] = []map[string]any{{"type": "public-key", "alg": -257}}
			b, err := json.Marshal(m)
			if err != nil {
				return err
			}
			_, err = a.Create(b)
			return err
		}, ErrNotSupported},
		{"UV required, no UV", func(a *Authenticator) error {
			a.UserVerification = false
			_, err := a.Create(creation("localhost", user, "required", "required", ""))
			return err
		}, ErrNotAllowed},
		{"resident key required, none possible", func(a *Authenticator) error {
			a.NoResidentKeys = true
			_, err := a.Create(creation("localhost", user, "required", "preferred", ""))
			return err
		}, ErrNotAllowed},
		{"excluded", func(a *Authenticator) error {
			raw, err := a.Create(creation("localhost", user, "required", "preferred", ""))
			if err != nil {
				return err
			}
			var r registrationResponse
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			ex := fmt.Sprintf(`, "excludeCredentials": [{"type": "public-key", "id": %q}]`, r.RawID)
			_, err = a.Create(creation("localhost", user, "required", "preferred", ex))
			return err
		}, ErrExcluded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(New(origin)); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}

	for _, bad := range []string{``, `null`, `[]`, `{"publicKey": {"challenge": "AAAA"}}`, `{"challenge": 1}`, `{"challenge": "!!"}`} {
		a := New(origin)
		if _, err := a.Create(json.RawMessage(bad)); err == nil {
			t.Errorf("Create(%s): no error", bad)
		}
		if _, err := a.Get(json.RawMessage(bad)); err == nil {
			t.Errorf("Get(%s): no error", bad)
		}
	}
}

// TestKnobs checks the options and fields that play attackers and other
// authenticators: the responses say what the knob asks and are still
// validly signed.
func TestKnobs(t *testing.T) {
	user := []byte("0123456789abcdef")
	tests := []struct {
		name      string
		setup     func(a *Authenticator)
		opts      []Option
		uv        string
		origin    string
		rpID      string
		flags     byte
		firstSign uint32
	}{
		{"defaults", nil, nil, "preferred", origin, "localhost", flagUP | flagUV, 1},
		{"UV discouraged", nil, nil, "discouraged", origin, "localhost", flagUP, 1},
		{"no UV capability", func(a *Authenticator) { a.UserVerification = false }, nil, "preferred", origin, "localhost", flagUP, 1},
		{"without UV though required", nil, []Option{WithoutUserVerification()}, "required", origin, "localhost", flagUP, 1},
		{"without UP", nil, []Option{WithoutUserPresence()}, "preferred", origin, "localhost", flagUV, 1},
		{"other origin", nil, []Option{WithOrigin("https://evil.example")}, "preferred", "https://evil.example", "localhost", flagUP | flagUV, 1},
		{"other RP id", nil, []Option{WithRPID("evil.example")}, "preferred", origin, "evil.example", flagUP | flagUV, 1},
		{"synced passkey", func(a *Authenticator) { a.BackupEligible, a.BackupState, a.ZeroCounter = true, true, true }, nil, "preferred", origin, "localhost", flagUP | flagUV | flagBE | flagBS, 0},
		{"BS without BE", func(a *Authenticator) { a.BackupState = true }, nil, "preferred", origin, "localhost", flagUP | flagUV | flagBS, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(origin)
			if tt.setup != nil {
				tt.setup(a)
			}
			reg := create(t, a, creation("localhost", user, "required", tt.uv, ""), tt.opts...)
			if reg.clientData.Origin != tt.origin {
				t.Errorf("create: origin %q, want %q", reg.clientData.Origin, tt.origin)
			}
			if !bytes.Equal(reg.authData[:32], rpHash(tt.rpID)) {
				t.Errorf("create: rpIdHash is not of %q", tt.rpID)
			}
			if got := reg.authData[32]; got != tt.flags|flagAT {
				t.Errorf("create: flags %08b, want %08b", got, tt.flags|flagAT)
			}
			if got := a.Credentials()[0].RPID; got != "localhost" {
				t.Errorf("credential stored under %q, want the options' localhost", got)
			}

			as := get(t, a, request("localhost", tt.uv), tt.opts...)
			if as.clientData.Origin != tt.origin {
				t.Errorf("get: origin %q, want %q", as.clientData.Origin, tt.origin)
			}
			if !bytes.Equal(as.authData[:32], rpHash(tt.rpID)) {
				t.Errorf("get: rpIdHash is not of %q", tt.rpID)
			}
			if got := as.authData[32]; got != tt.flags {
				t.Errorf("get: flags %08b, want %08b", got, tt.flags)
			}
			if got := as.count(); got != tt.firstSign {
				t.Errorf("get: sign count %d, want %d", got, tt.firstSign)
			}
			if !as.verify(reg.key) {
				t.Error("get: signature does not verify")
			}
		})
	}
}

func TestSetSignCount(t *testing.T) {
	a := New(origin)
	reg := create(t, a, creation("localhost", []byte("u"), "required", "preferred", ""))
	for want := uint32(1); want <= 3; want++ {
		if got := get(t, a, request("localhost", "preferred")).count(); got != want {
			t.Fatalf("sign count %d, want %d", got, want)
		}
	}
	if err := a.SetSignCount(reg.id, 0); err != nil {
		t.Fatal(err)
	}
	if got := get(t, a, request("localhost", "preferred")).count(); got != 1 {
		t.Errorf("after SetSignCount(0): sign count %d, want 1", got)
	}
	if got := a.Credentials()[0].SignCount; got != 1 {
		t.Errorf("Credentials: sign count %d, want 1", got)
	}
	if err := a.SetSignCount([]byte("nope"), 0); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("SetSignCount of an unknown id: got %v, want ErrNotAllowed", err)
	}
}

// TestConcurrent runs ceremonies from many goroutines (go test -race):
// every assertion has its own sign count.
func TestConcurrent(t *testing.T) {
	a := New(origin)
	reg := create(t, a, creation("localhost", []byte("u"), "required", "preferred", ""))
	const n = 20
	responses := make(chan json.RawMessage, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			raw, err := a.Get(request("localhost", "preferred", reg.id))
			if err != nil {
				t.Error(err)
				return
			}
			responses <- raw
		})
		wg.Go(func() {
			if _, err := a.Create(creation("localhost", []byte("v"), "discouraged", "preferred", "")); err != nil {
				t.Error(err)
			}
			_ = a.Credentials()
		})
	}
	wg.Wait()
	close(responses)
	seen := map[uint32]bool{}
	for raw := range responses {
		as := decodeAssertion(t, raw)
		if !as.verify(reg.key) {
			t.Error("signature does not verify")
		}
		c := as.count()
		if seen[c] || c < 1 || c > n {
			t.Errorf("sign count %d repeated or out of 1..%d", c, n)
		}
		seen[c] = true
	}
	if len(a.Credentials()) != n+1 {
		t.Errorf("%d credentials, want %d", len(a.Credentials()), n+1)
	}
}

// create does a.Create and decodes the registration.
func create(t *testing.T, a *Authenticator, options json.RawMessage, opts ...Option) registration {
	t.Helper()
	raw, err := a.Create(options, opts...)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return decodeRegistration(t, raw)
}

// get does a.Get and decodes the assertion.
func get(t *testing.T, a *Authenticator, options json.RawMessage, opts ...Option) assertion {
	t.Helper()
	raw, err := a.Get(options, opts...)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return decodeAssertion(t, raw)
}
