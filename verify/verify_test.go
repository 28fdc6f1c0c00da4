package verify

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/latchauth/latch/internal/clocktest"
)

// wantClaims is what Verify returns for f.claims(nil).
func wantClaims(f *fakeIssuer) *Claims {
	return &Claims{
		Issuer:        f.url(),
		Subject:       "0b5e1f0e-8a43-4b69-9c3a-2f6f2f9c6d11",
		Audience:      []string{testAudience},
		ExpiresAt:     t0.Add(15 * time.Minute),
		IssuedAt:      t0,
		ID:            "3TW5NWYQVZ7O4ASLHGJQ2XK2FA",
		ClientID:      "latch",
		SessionID:     "7c9f4e0c-1d5b-4a39-8f1e-0d6a2b3c4d5e",
		AMR:           []string{"pwd"},
		AAL:           "aal1",
		AuthTime:      t0.Add(-time.Minute),
		Email:         "alice@example.com",
		EmailVerified: true,
	}
}

var ignorePayload = cmpopts.IgnoreUnexported(Claims{})

// jsonNull is a claim or header value written as JSON null (a nil value
// in the edit maps removes the name instead).
var jsonNull = json.RawMessage("null")

// RFC 9068 §2.1-2.2, §4: a token as latch signs it verifies, for every
// algorithm latch can sign with, and its claims read back whole.
func TestVerifyAccepts(t *testing.T) {
	es, ed, rs := newKey(t, ES256, "a"), newKey(t, EdDSA, "a"), newKey(t, RS256, "a")
	f := newFakeIssuer(t, es, ed, rs)
	v := startVerifier(t, f, clocktest.New(t0), nil)

	tests := []struct {
		name    string
		key     *testKey
		claims  map[string]any
		headers map[string]any
		edit    func(*Claims)
	}{
		{name: "ES256", key: es},
		{name: "EdDSA", key: ed},
		{name: "RS256", key: rs},
		// RFC 9068 §2.1 and RFC 7515 §4.1.9: the media type may carry
		// its application/ prefix, in any case.
		{name: "typ application/at+jwt", key: es, headers: map[string]any{"typ": "application/at+jwt"}},
		{name: "typ AT+JWT", key: es, headers: map[string]any{"typ": "AT+JWT"}},
		{name: "typ Application/At+Jwt", key: es, headers: map[string]any{"typ": "Application/At+Jwt"}},
		// RFC 7519 §4.1.3: aud may be an array; one match is enough.
		{
			name:   "aud array",
			key:    es,
			claims: map[string]any{"aud": []string{"https://other.example.com", testAudience}},
			edit:   func(c *Claims) { c.Audience = []string{"https://other.example.com", testAudience} },
		},
		// RFC 9068 §2.2.3: scope is optional and space-separated.
		{
			name:   "scope",
			key:    es,
			claims: map[string]any{"scope": "read:things write:things"},
			edit:   func(c *Claims) { c.Scope = "read:things write:things" },
		},
		// RFC 7519 §2: a NumericDate may have a fraction.
		{
			name:   "fractional dates and nbf",
			key:    es,
			claims: map[string]any{"iat": float64(t0.Unix()) + 0.25, "nbf": float64(t0.Unix()) - 0.5},
			edit: func(c *Claims) {
				c.IssuedAt = t0.Add(250 * time.Millisecond)
				c.NotBefore = t0.Add(-500 * time.Millisecond)
			},
		},
		// RFC 7515 §4.1: header parameters that Verify does not use are
		// read past, never followed.
		{name: "unused headers", key: es, headers: map[string]any{"cty": "at+jwt", "x5t": "abc"}},
		// RFC 7519 §4: a claim set may carry claims Verify has no field for.
		{name: "extra claims", key: es, claims: map[string]any{"roles": []any{"admin", map[string]any{"x": 1}}}},
		// JSON null reads as an absent optional claim.
		{
			name:   "null optional claims",
			key:    es,
			claims: map[string]any{"email": jsonNull, "amr": jsonNull, "nbf": jsonNull},
			edit: func(c *Claims) {
				c.Email, c.AMR = "", nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.key.sign(t, f.claims(tt.claims), tt.headers)
			got, err := v.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := wantClaims(f)
			if tt.edit != nil {
				tt.edit(want)
			}
			if diff := cmp.Diff(want, got, ignorePayload); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

// RFC 7519 §4.1.4-4.1.6: exp, nbf and iat are checked give or take the
// leeway, which defaults to DefaultLeeway and may be turned off.
func TestVerifyLeeway(t *testing.T) {
	k := newKey(t, ES256, "a")
	f := newFakeIssuer(t, k)
	exp := t0.Add(15 * time.Minute)
	tests := []struct {
		name   string
		leeway time.Duration
		now    time.Time
		claims map[string]any
		want   string // reason, or "" to accept
	}{
		{name: "before exp", now: exp.Add(-time.Second)},
		{name: "exp within default leeway", now: exp.Add(DefaultLeeway - time.Second)},
		{name: "exp at default leeway", now: exp.Add(DefaultLeeway), want: reasonExpired},
		{name: "exp past default leeway", now: exp.Add(time.Hour), want: reasonExpired},
		{name: "exp with no leeway", leeway: -1, now: exp, want: reasonExpired},
		{name: "exp within custom leeway", leeway: 2 * time.Minute, now: exp.Add(time.Minute)},
		{name: "nbf within leeway", now: t0, claims: map[string]any{"nbf": t0.Add(20 * time.Second).Unix()}},
		{name: "nbf in the future", now: t0, claims: map[string]any{"nbf": t0.Add(31 * time.Second).Unix()}, want: reasonNotYetValid},
		{name: "iat within leeway", now: t0.Add(-29 * time.Second)},
		{name: "iat in the future", now: t0.Add(-31 * time.Second), want: reasonNotYetValid},
		{name: "iat in the future, no leeway", leeway: -1, now: t0.Add(-time.Second), want: reasonNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := startVerifier(t, f, clocktest.New(tt.now), func(o *Options) { o.Leeway = tt.leeway })
			_, err := v.Verify(context.Background(), k.sign(t, f.claims(tt.claims), nil))
			checkReason(t, err, tt.want)
		})
	}
}

// checkReason fails unless err refuses a token for reason, or is nil
// when reason is "".
func checkReason(t *testing.T, err error, reason string) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Fatalf("Verify: %v, want success", err)
		}
		return
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify: got %v, want an error wrapping ErrInvalidToken", err)
	}
	var te *tokenError
	if !errors.As(err, &te) || te.reason != reason {
		t.Fatalf("Verify: got %v, want reason %q", err, reason)
	}
}

// RFC 9068 §4: with AnyAudience the aud check is off, but aud must still
// be there (RFC 9068 §2.2).
func TestVerifyAnyAudience(t *testing.T) {
	k := newKey(t, ES256, "a")
	f := newFakeIssuer(t, k)
	v := startVerifier(t, f, clocktest.New(t0), func(o *Options) { o.Audience, o.AnyAudience = nil, true })
	_, err := v.Verify(context.Background(), k.sign(t, f.claims(map[string]any{"aud": "https://anything.example"}), nil))
	checkReason(t, err, "")
	_, err = v.Verify(context.Background(), k.sign(t, f.claims(map[string]any{"aud": nil}), nil))
	checkReason(t, err, reasonMissing("aud"))
}

// Options.Algorithms narrows what is accepted (RFC 8725 §3.1).
func TestVerifyAlgorithmsOption(t *testing.T) {
	es, rs := newKey(t, ES256, "a"), newKey(t, RS256, "a")
	f := newFakeIssuer(t, es, rs)
	v := startVerifier(t, f, clocktest.New(t0), func(o *Options) { o.Algorithms = []string{ES256} })
	checkReason(t, verifyErr(v, es.sign(t, f.claims(nil), nil)), "")
	checkReason(t, verifyErr(v, rs.sign(t, f.claims(nil), nil)), reasonAlgorithm)
	if _, ok := v.keys.Load().keys[rs.kid]; ok {
		t.Errorf("the RS256 key was loaded although Algorithms has only ES256")
	}
}

func verifyErr(v *Verifier, raw string) error {
	_, err := v.Verify(context.Background(), raw)
	return err
}

func TestHasScope(t *testing.T) {
	c := &Claims{Scope: "read:things  write:things admin"}
	tests := []struct {
		scope string
		want  bool
	}{
		{"read:things", true},
		{"write:things", true},
		{"admin", true},
		{"read", false},
		{"things", false},
		{"read:things write:things", false},
		{"", false},
		{"ADMIN", false},
	}
	for _, tt := range tests {
		if got := c.HasScope(tt.scope); got != tt.want {
			t.Errorf("HasScope(%q) = %v, want %v", tt.scope, got, tt.want)
		}
	}
	if (&Claims{}).HasScope("read") {
		t.Errorf("HasScope on no scope = true, want false")
	}
}

// Decode reads claims that Claims has no field for, from the signed set.
func TestClaimsDecode(t *testing.T) {
	k := newKey(t, ES256, "a")
	f := newFakeIssuer(t, k)
	v := startVerifier(t, f, clocktest.New(t0), nil)
	c, err := v.Verify(context.Background(), k.sign(t, f.claims(map[string]any{"tenant": "acme", "roles": []string{"a", "b"}}), nil))
	if err != nil {
		t.Fatal(err)
	}
	var extra struct {
		Tenant string   `json:"tenant"`
		Roles  []string `json:"roles"`
	}
	if err := c.Decode(&extra); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if extra.Tenant != "acme" || !cmp.Equal(extra.Roles, []string{"a", "b"}) {
		t.Errorf("Decode: got %+v, want tenant acme and roles [a b]", extra)
	}
}
