// Package providertest starts, on loopback, the social providers that
// latch's HTTP and browser tests sign in with: a real OpenID Provider
// that latch did not write (zitadel/oidc's op package, with its example
// storage and login page), so that the whole flow — discovery, the
// provider's own sign-in page, the code exchange, the ID token and its
// keys — runs as it does in production.
package providertest

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// User is a person with an account at the test OpenID Provider.
type User struct {
	ID, Username, Password string
	Email                  string
	EmailVerified          bool
	FirstName, LastName    string
}

// OIDC is a running OpenID Provider.
type OIDC struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Server       *httptest.Server
}

// StartOIDC starts an OpenID Provider on loopback with these users and
// one confidential client (ClientID, ClientSecret) whose redirect URIs
// are redirects; it stops when the test ends.
func StartOIDC(t testing.TB, redirects []string, users ...User) *OIDC {
	t.Helper()
	// The issuer must be known before the provider is built: the
	// listener is, before the server starts.
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	byID := map[string]*storage.User{}
	for _, u := range users {
		byID[u.ID] = &storage.User{ID: u.ID, Username: u.Username, Password: u.Password, Email: u.Email,
			EmailVerified: u.EmailVerified, FirstName: u.FirstName, LastName: u.LastName}
	}
	file := filepath.Join(t.TempDir(), "users.json")
	b, err := json.Marshal(byID)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	us, err := storage.StoreFromFile(file)
	if err != nil {
		t.Fatal(err)
	}
	o := &OIDC{Issuer: issuer, ClientID: "latch-test", ClientSecret: "latch-test-secret-0123456789", Server: srv}
	st := storage.NewStorageWithClients(us, map[string]*storage.Client{
		o.ClientID: storage.WebClient(o.ClientID, o.ClientSecret, redirects...),
	})
	// The example server logs every request through the default slog
	// logger, which it replaces with the one it is given: a quiet one.
	srv.Config.Handler = exampleop.SetupServer(issuer, st, slog.New(slog.DiscardHandler), false)
	srv.Start()
	t.Cleanup(srv.Close)
	return o
}

var formID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// SignIn plays the person at the provider's own sign-in page, as a
// browser with client's cookie jar would: it opens authURL, fills in the
// login form, and returns where the provider sends the browser back (the
// relying party's callback, not followed). client must not follow
// redirects to hosts other than the provider's.
func (o *OIDC) SignIn(t testing.TB, client *http.Client, authURL, username, password string) *url.URL {
	t.Helper()
	c := *client
	c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(r.URL.String(), o.Issuer) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("open the provider's authorization URL: %v", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formID.FindSubmatch(page)
	if m == nil {
		t.Fatalf("the provider showed no login form (status %d): %.300s", resp.StatusCode, page)
	}
	resp, err = c.PostForm(o.Issuer+"/login/username", url.Values{"id": {string(m[1])}, "username": {username}, "password": {password}})
	if err != nil {
		t.Fatalf("sign in at the provider: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the provider answered the login with %d, want a redirect back", resp.StatusCode)
	}
	back, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	return back
}
