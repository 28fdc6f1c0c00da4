package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
)

// randomString returns n random bytes, base64url-encoded without padding.
// crypto/rand.Read never fails (since Go 1.24 it stops the program
// rather than return an error), so there is no error to hand back.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newVerifier returns a PKCE code verifier (RFC 7636 §4.1): 32 random
// bytes, base64url, 43 characters. Only this app ever sees it until it
// redeems the code, which is what makes a stolen code useless.
func newVerifier() string { return randomString(32) }

// challengeS256 is the code challenge sent to /v1/authorize (RFC 7636
// §4.2): BASE64URL(SHA256(verifier)). latch accepts only this method.
func challengeS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sameSecret compares two secrets in constant time, so that the time an
// answer takes says nothing about how much of a guess was right.
func sameSecret(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// errState: the callback's state is not the one this browser was given.
var errState = errors.New("the state parameter does not match this sign-in (a forged or stale callback)")

// checkState ties the callback to the sign-in this browser started: an
// attacker cannot make a victim's browser land on /callback with the
// attacker's own code (CSRF on the redirect, RFC 6749 §10.12).
func checkState(got, want string) error {
	if !sameSecret(got, want) {
		return errState
	}
	return nil
}

// checkIssuer applies RFC 9207: the iss parameter must name the server
// the browser was sent to, which defeats mix-up attacks when an app
// trusts more than one server. When that server announced the parameter
// in its discovery document (latch does), it is required.
func checkIssuer(got, want string, required bool) error {
	switch {
	case got == "" && required:
		return errors.New("the callback has no iss parameter, though the server promised one (RFC 9207)")
	case got != "" && got != want:
		return fmt.Errorf("the callback comes from issuer %q, but this sign-in went to %q (RFC 9207)", got, want)
	}
	return nil
}
