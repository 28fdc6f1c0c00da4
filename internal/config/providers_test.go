package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A provider's secret comes from the file, the environment
// (LATCH_PROVIDER_<ID>_CLIENT_SECRET, which wins) or a *_file; the
// defaults of its type apply; its callback is under the public URL.
func TestProviderSecretsAndDefaults(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "gh.secret")
	if err := os.WriteFile(secretFile, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	list := `[{id: google, type: google, client_id: g, client_secret: in-yaml},
	{id: gh, type: github, client_id: h, client_secret_file: "` + secretFile + `", allow_signup: false},
	{id: corp, type: oidc, issuer: "https://id.example.com", client_id: c, client_secret: x, trust_email: true}]`
	c, err := Load(Sources{Getenv: envFrom(map[string]string{
		"LATCH_PROVIDERS":                     list,
		"LATCH_PUBLIC_URL":                    "https://auth.example.com",
		"LATCH_PROVIDER_GOOGLE_CLIENT_SECRET": "from-env",
	})})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Social.Connectors
	if len(got) != 3 {
		t.Fatalf("got %d connectors, want 3", len(got))
	}
	g, gh, corp := got[0], got[1], got[2]
	if g.ClientSecret != "from-env" || gh.ClientSecret != "from-a-file" || corp.ClientSecret != "x" {
		t.Errorf("secrets: %q %q %q", g.ClientSecret, gh.ClientSecret, corp.ClientSecret)
	}
	if !g.TrustEmail || gh.TrustEmail || !corp.TrustEmail {
		t.Errorf("trust_email: google %v (default true), github %v (default false), oidc %v (set true)", g.TrustEmail, gh.TrustEmail, corp.TrustEmail)
	}
	if !g.AllowSignup || gh.AllowSignup {
		t.Errorf("allow_signup: google %v (default true), github %v (set false)", g.AllowSignup, gh.AllowSignup)
	}
	if g.RedirectURL != "https://auth.example.com/v1/callback/google" {
		t.Errorf("redirect URL %q", g.RedirectURL)
	}
}

// Every problem of a provider is reported at start, naming the provider,
// never echoing a secret.
func TestProviderProblems(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	for name, tc := range map[string]struct{ list, want string }{
		"bad id":         {`[{id: "Google!", type: google, client_id: a, client_secret: hunter2-hunter2}]`, "providers: item 1: id must be"},
		"id twice":       {`[{id: a, type: github, client_id: a, client_secret: hunter2-hunter2}, {id: a, type: github, client_id: a, client_secret: b}]`, "providers: a: the id is used twice"},
		"unknown type":   {`[{id: a, type: myspace, client_id: a, client_secret: hunter2-hunter2}]`, "providers: a: "},
		"secret twice":   {`[{id: a, type: github, client_id: a, client_secret: hunter2-hunter2, client_secret_file: "` + missing + `"}]`, "providers: a: client_secret_file and a client secret are both set"},
		"unreadable key": {`[{id: a, type: apple, client_id: a, team_id: t, key_id: k, private_key_file: "` + missing + `"}]`, "providers: a: private_key_file cannot be read"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(Sources{Getenv: envFrom(map[string]string{"LATCH_PROVIDERS": tc.list})})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the problem echoes a secret: %v", err)
			}
		})
	}
}
