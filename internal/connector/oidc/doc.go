// Package oidc is the connector for any OpenID Provider found by
// discovery (type oidc), and the shared code of the named providers
// that are OpenID Providers (google, microsoft, gitlab, apple): they
// build a Connector with New and Settings that say how they differ.
//
// It runs the authorization-code flow with state, nonce and PKCE S256
// (golang.org/x/oauth2) and checks ID tokens with go-oidc: signature by
// the provider's keys (cached, refetched on an unknown key id), only
// asymmetric algorithms, iss, exp, then here aud, azp, iat and nonce.
// It never keeps the provider's tokens and decides nothing about
// accounts.
package oidc
