package verify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchauth/latch/internal/clocktest"
)

// echo answers 200 with the subject and scope it finds in the context.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := ClaimsFrom(r.Context())
	if !ok {
		http.Error(w, "no claims", http.StatusTeapot)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"sub": c.Subject, "aal": c.AAL})
})

type response struct {
	Status      int
	Challenge   string
	RetryAfter  string
	ContentType string
	Body        map[string]string
}

func serve(t *testing.T, h http.Handler, auth ...string) response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/api/things?access_token=ignored", nil)
	for _, a := range auth {
		r.Header.Add("Authorization", a)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	got := response{
		Status:      w.Code,
		Challenge:   w.Header().Get("WWW-Authenticate"),
		RetryAfter:  w.Header().Get("Retry-After"),
		ContentType: w.Header().Get("Content-Type"),
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got.Body); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	return got
}

func TestMiddleware(t *testing.T) {
	k := newKey(t, ES256, "a")
	f := newFakeIssuer(t, k)
	clk := clocktest.New(t0)
	v := startVerifier(t, f, clk, nil)
	h := v.Middleware(echo)
	good := k.sign(t, f.claims(nil), nil)
	expired := k.sign(t, f.claims(map[string]any{"exp": t0.Add(-time.Hour).Unix()}), nil)
	realm := `Bearer realm="` + f.url() + `"`
	sub := wantClaims(f).Subject

	tests := []struct {
		name string
		rule string
		auth []string
		want response
	}{
		{
			name: "valid token", rule: "RFC 6750 §2.1",
			auth: []string{"Bearer " + good},
			want: response{Status: 200, Body: map[string]string{"sub": sub, "aal": "aal1"}},
		},
		{
			name: "scheme in lower case", rule: "RFC 9110 §11.1: auth-scheme is case-insensitive",
			auth: []string{"bearer " + good},
			want: response{Status: 200, Body: map[string]string{"sub": sub, "aal": "aal1"}},
		},
		{
			name: "no Authorization, token in the query", rule: "RFC 6750 §3.1: no error code; §2.3 never read",
			want: response{Status: 401, Challenge: realm, ContentType: "application/json",
				Body: map[string]string{"error": "invalid_token", "error_description": "the request has no Bearer access token"}},
		},
		{
			name: "Basic credentials", rule: "RFC 6750 §3.1: unsupported method, no error code",
			auth: []string{"Basic YWxpY2U6c2VjcmV0"},
			want: response{Status: 401, Challenge: realm, ContentType: "application/json",
				Body: map[string]string{"error": "invalid_token", "error_description": "the request has no Bearer access token"}},
		},
		{
			name: "expired token", rule: "RFC 6750 §3.1 invalid_token",
			auth: []string{"Bearer " + expired},
			want: response{Status: 401, ContentType: "application/json",
				Challenge: realm + `, error="invalid_token", error_description="the access token expired"`,
				Body:      map[string]string{"error": "invalid_token", "error_description": "the access token expired"}},
		},
		{
			name: "garbage token", rule: "RFC 6750 §3.1 invalid_token",
			auth: []string{`Bearer a"b\c`},
			want: response{Status: 401, ContentType: "application/json",
				Challenge: realm + `, error="invalid_token", error_description="the access token is malformed"`,
				Body:      map[string]string{"error": "invalid_token", "error_description": "the access token is malformed"}},
		},
		{
			name: "Bearer without a token", rule: "RFC 6750 §3.1 invalid_request",
			auth: []string{"Bearer "},
			want: response{Status: 400, ContentType: "application/json",
				Body: map[string]string{"error": "invalid_request", "error_description": "the Authorization header has no token after Bearer"}},
		},
		{
			name: "two Authorization headers", rule: "RFC 6750 §3.1 invalid_request",
			auth: []string{"Bearer " + good, "Bearer " + good},
			want: response{Status: 400, ContentType: "application/json",
				Body: map[string]string{"error": "invalid_request", "error_description": "the request has more than one Authorization header"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := serve(t, h, tt.auth...)
			if tt.want.Status == 200 {
				got.ContentType = ""
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s: response (-want +got):\n%s", tt.rule, diff)
			}
		})
	}
}

func TestMiddlewareRealmOption(t *testing.T) {
	k := newKey(t, ES256, "a")
	f := newFakeIssuer(t, k)
	v := startVerifier(t, f, clocktest.New(t0), func(o *Options) { o.Realm = "things-api" })
	if got := serve(t, v.Middleware(echo)).Challenge; got != `Bearer realm="things-api"` {
		t.Errorf("RFC 6750 §3: challenge %q, want Bearer realm=\"things-api\"", got)
	}
}

// RFC 6750 §3 does not cover a verifier that cannot get keys; 503 with
// Retry-After tells the client to retry the same token.
func TestMiddlewareUnavailable(t *testing.T) {
	a, b := newKey(t, ES256, "a"), newKey(t, ES256, "b")
	f := newFakeIssuer(t, a)
	v := startVerifier(t, f, clocktest.New(t0), nil)
	f.set(func(f *fakeIssuer) { f.jwksStatus = http.StatusBadGateway })
	got := serve(t, v.Middleware(echo), "Bearer "+b.sign(t, f.claims(nil), nil))
	want := response{Status: 503, RetryAfter: "10", ContentType: "application/json", Body: map[string]string{
		"error": "unavailable", "error_description": "the access token cannot be checked now; try again later",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}

func TestRequireScope(t *testing.T) {
	k := newKey(t, ES256, "a")
	f := newFakeIssuer(t, k)
	v := startVerifier(t, f, clocktest.New(t0), nil)
	h := v.Middleware(RequireScope("read:things", "write:things")(echo))
	tests := []struct {
		name  string
		scope any
		want  response
	}{
		{name: "all scopes", scope: "openid write:things read:things", want: response{Status: 200}},
		{name: "one missing", scope: "read:things", want: forbidden("read:things write:things")},
		{name: "no scope claim", scope: nil, want: forbidden("read:things write:things")},
		{name: "prefix only", scope: "read:thing write:things", want: forbidden("read:things write:things")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := serve(t, h, "Bearer "+k.sign(t, f.claims(map[string]any{"scope": tt.scope}), nil))
			if tt.want.Status == 200 {
				got.Body, got.ContentType = nil, ""
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RFC 6750 §3.1 insufficient_scope: response (-want +got):\n%s", diff)
			}
		})
	}
}

func forbidden(scope string) response {
	desc := "the access token lacks scope " + scope
	return response{
		Status:      403,
		ContentType: "application/json",
		Challenge:   `Bearer error="insufficient_scope", error_description="` + desc + `", scope="` + scope + `"`,
		Body:        map[string]string{"error": "insufficient_scope", "error_description": desc},
	}
}

func TestRequireAAL(t *testing.T) {
	h := RequireAAL("aal2")(echo)
	desc := "the access token's authentication assurance level is below aal2"
	stepUp := response{
		Status:      401,
		ContentType: "application/json",
		Challenge:   `Bearer error="insufficient_user_authentication", error_description="` + desc + `"`,
		Body:        map[string]string{"error": "insufficient_user_authentication", "error_description": desc},
	}
	tests := []struct {
		aal  string
		want response
	}{
		{"aal1", stepUp},
		{"", stepUp},
		{"aal9", stepUp},
		{"AAL2", stepUp},
		{"aal2", response{Status: 200, Body: map[string]string{"sub": "u", "aal": "aal2"}}},
		{"aal3", response{Status: 200, Body: map[string]string{"sub": "u", "aal": "aal3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.aal, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r = r.WithContext(ContextWithClaims(r.Context(), &Claims{Subject: "u", AAL: tt.aal}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := response{Status: w.Code, Challenge: w.Header().Get("WWW-Authenticate")}
			if tt.want.Status != 200 {
				got.ContentType = w.Header().Get("Content-Type")
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got.Body); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RFC 9470 §3: response (-want +got):\n%s", diff)
			}
		})
	}
}

// A route wrapped in RequireScope or RequireAAL but not in Middleware is
// a wiring mistake: it fails closed.
func TestRequireWithoutMiddleware(t *testing.T) {
	for name, h := range map[string]http.Handler{
		"RequireScope": RequireScope("a")(echo),
		"RequireAAL":   RequireAAL("aal1")(echo),
	} {
		got := serve(t, h, "Bearer x")
		if got.Status != http.StatusInternalServerError || got.Body["error"] != "internal_error" {
			t.Errorf("%s without Middleware: got %d %v, want 500 internal_error", name, got.Status, got.Body)
		}
	}
}

func TestRequirePanics(t *testing.T) {
	for name, fn := range map[string]func(){
		"RequireScope()":          func() { RequireScope() },
		`RequireScope("")`:        func() { RequireScope("") },
		`RequireScope("a b")`:     func() { RequireScope("a b") },
		`RequireScope("a\"b")`:    func() { RequireScope(`a"b`) },
		`RequireAAL("aal4")`:      func() { RequireAAL("aal4") },
		`RequireAAL("")`:          func() { RequireAAL("") },
		`RequireAAL("2")`:         func() { RequireAAL("2") },
		`RequireScope("ok", "é")`: func() { RequireScope("ok", "é") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			fn()
		}()
	}
}

func TestClaimsFrom(t *testing.T) {
	if c, ok := ClaimsFrom(context.Background()); ok || c != nil {
		t.Errorf("ClaimsFrom(empty) = %v, %v; want nil, false", c, ok)
	}
	if _, ok := ClaimsFrom(ContextWithClaims(context.Background(), nil)); ok {
		t.Errorf("ClaimsFrom(nil claims) ok = true, want false")
	}
	want := &Claims{Subject: "u"}
	if c, ok := ClaimsFrom(ContextWithClaims(context.Background(), want)); !ok || c != want {
		t.Errorf("ClaimsFrom = %v, %v; want %v, true", c, ok, want)
	}
}
