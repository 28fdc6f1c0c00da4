package browsertest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// relyingParty is a small web application that signs people in with
// latch's authorization-code flow, as a real one should: PKCE S256, a
// state bound to the request, the iss of the answer checked (RFC 9207),
// the code redeemed by its back end, and the user read from /v1/user. It
// runs on its own loopback port, so the browser sees a second origin.
type relyingParty struct {
	t     *testing.T
	name  string
	latch string // latch's URL: where to authorize and redeem, and the expected iss
	srv   *httptest.Server

	mu      sync.Mutex
	pending map[string]string // state → code verifier
}

// newRelyingParty starts an application; its redirect URI is
// rp.redirectURI().
func newRelyingParty(t *testing.T, name, latchURL string) *relyingParty {
	t.Helper()
	rp := &relyingParty{t: t, name: name, latch: latchURL, pending: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", rp.home)
	mux.HandleFunc("GET /signin", rp.signin)
	mux.HandleFunc("GET /cb", rp.callback)
	rp.srv = httptest.NewServer(mux)
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *relyingParty) redirectURI() string { return rp.srv.URL + "/cb" }

// page writes a small HTML page (no script) with a heading and a line.
func (rp *relyingParty) page(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><html lang=en><title>%[1]s</title><h1>%[1]s</h1>%[2]s", html.EscapeString(rp.name), body)
}

func (rp *relyingParty) home(w http.ResponseWriter, _ *http.Request) {
	rp.page(w, http.StatusOK, `<p><a id="signin" href="/signin">Sign in with latch</a></p>`)
}

// signin starts the flow: a fresh state and verifier, kept server-side,
// and the browser sent to latch (RFC 6749 §4.1.1, RFC 7636 §4.1–4.3).
func (rp *relyingParty) signin(w http.ResponseWriter, r *http.Request) {
	state, verifier := random(), random()+random() // 43 + 43 characters
	sum := sha256.Sum256([]byte(verifier))
	rp.mu.Lock()
	rp.pending[state] = verifier
	rp.mu.Unlock()
	q := url.Values{
		"response_type":         {"code"},
		"redirect_uri":          {rp.redirectURI()},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	http.Redirect(w, r, rp.latch+"/v1/authorize?"+q.Encode(), http.StatusFound)
}

// callback finishes it: the state must be one it issued (once), iss must
// be latch's (RFC 9207 §2.4), and the code is redeemed with the verifier.
func (rp *relyingParty) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rp.mu.Lock()
	verifier, ok := rp.pending[q.Get("state")]
	delete(rp.pending, q.Get("state"))
	rp.mu.Unlock()
	switch {
	case !ok:
		rp.page(w, http.StatusBadRequest, `<p id="error">unknown state</p>`)
		return
	case q.Get("iss") != rp.latch:
		rp.page(w, http.StatusBadRequest, `<p id="error">wrong iss `+html.EscapeString(q.Get("iss"))+`</p>`)
		return
	case q.Get("error") != "":
		rp.page(w, http.StatusBadRequest, `<p id="error">`+html.EscapeString(q.Get("error"))+`</p>`)
		return
	}
	email, err := rp.redeem(q.Get("code"), verifier)
	if err != nil {
		rp.page(w, http.StatusBadGateway, `<p id="error">`+html.EscapeString(err.Error())+`</p>`)
		return
	}
	rp.page(w, http.StatusOK, `<p>Signed in as <span id="email">`+html.EscapeString(email)+`</span></p>`)
}

// redeem exchanges the code at /v1/token (RFC 6749 §4.1.3, RFC 7636 §4.5)
// and reads the user's email from /v1/user.
func (rp *relyingParty) redeem(code, verifier string) (string, error) {
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.PostForm(rp.latch+"/v1/token", url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {rp.redirectURI()},
		"code_verifier": {verifier},
	})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token: %d %s %v", resp.StatusCode, tok.Error, err)
	}
	req, err := http.NewRequest(http.MethodGet, rp.latch+"/v1/user", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	uresp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer uresp.Body.Close()
	var user struct {
		Email string `json:"email"`
	}
	if err := json.NewDecoder(uresp.Body).Decode(&user); err != nil || uresp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("user: %d %v", uresp.StatusCode, err)
	}
	return user.Email, nil
}

// random is 32 random bytes, base64url: 43 characters.
func random() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// TestAuthorizationCodeIntoApps signs a person into an application
// through latch's hosted sign-in page, and then into a second application
// without a password (single sign-on through the latch session).
//
// Checks: RFC 6749 §4.1 (the code flow, state returned unchanged), RFC
// 7636 (S256), RFC 9207 (iss in the answer, checked by the client), RFC
// 9700 §2.1 and §2.1.1 (exact redirect URIs, PKCE), ASVS 5.0 V10.2.1
// (PKCE and state against request forgery at the client), V10.4.1 (exact
// redirect URI match) — and that the login page's CSP form-action lets the
// redirect chain reach the application.
func TestAuthorizationCodeIntoApps(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, db database) {
		// The applications need latch's address before latch needs theirs.
		latchAddr := "http://" + freeAddr(t)
		shop := newRelyingParty(t, "Shop", latchAddr)
		blog := newRelyingParty(t, "Blog", latchAddr)
		l := startLatchAt(t, db, latchAddr, "LATCH_SIGNUP_REQUIRE_VERIFICATION=off",
			"LATCH_REDIRECT_URLS="+shop.redirectURI()+","+blog.redirectURI())
		const email = "grace@example.com"
		l.createUser(t, email, password1)

		grace := newPerson(t, "grace", time.Minute)
		grace.open(shop.srv.URL)
		// The application sends the browser to latch, which has no session
		// yet and shows its sign-in page.
		grace.press("#signin")
		if at := grace.at(); at.Host != strings.TrimPrefix(l.URL, "http://") || at.Path != "/login" {
			grace.fatalf("the application sent the browser to %s, want latch's /login", at)
		}
		grace.step("1-latch-signin")
		if st := grace.signIn(email, password1); st != http.StatusOK {
			grace.fatalf("sign in: got %d, want 200", st)
		}
		if at := grace.at(); at.Host != strings.TrimPrefix(shop.srv.URL, "http://") {
			grace.fatalf("after signing in the browser is at %s, want back at the application", at)
		}
		if got := grace.text("#email"); got != email {
			grace.fatalf("the application says it signed in %q, want %s", got, email)
		}
		grace.step("2-back-at-shop")

		// The second application: latch answers at once, no form shown.
		before := len(grace.requested())
		grace.open(blog.srv.URL)
		grace.press("#signin")
		if got := grace.text("#email"); got != email {
			grace.fatalf("the second application says it signed in %q, want %s", got, email)
		}
		for _, u := range grace.requested()[before:] {
			if u.Path == "/login" {
				grace.fatalf("single sign-on went through the sign-in page: %s", u)
			}
		}
		grace.step("3-blog-without-password")
	})
}
