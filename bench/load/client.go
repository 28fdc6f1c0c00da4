package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// api calls latch's HTTP API the way a client application would: JSON for
// signup and the password grant, a form for the refresh grant (as the
// README's walk-through does), the access token in the Authorization
// header.
type api struct {
	base string
	hc   *http.Client
}

// tokens is the part of a token response a client keeps.
type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

// reply is what a virtual user needs from an answer: the status, the
// Retry-After of a 429 or 503, and the tokens of a successful token
// response.
type reply struct {
	status     int
	retryAfter time.Duration
	tokens     tokens
}

func newHTTPClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			// No proxy from the environment: the traffic must stay on the
			// loopback interface it was pointed at.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns + 8,
			MaxIdleConnsPerHost: conns + 8,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (a *api) signup(ctx context.Context, email, password string) (reply, error) {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return a.do(ctx, http.MethodPost, "/v1/signup", "application/json", body, "", http.StatusCreated)
}

func (a *api) login(ctx context.Context, email, password string) (reply, error) {
	body, _ := json.Marshal(map[string]string{"grant_type": "password", "email": email, "password": password})
	return a.do(ctx, http.MethodPost, "/v1/token", "application/json", body, "", http.StatusOK)
}

func (a *api) refresh(ctx context.Context, refreshToken string) (reply, error) {
	body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}.Encode()
	return a.do(ctx, http.MethodPost, "/v1/token", "application/x-www-form-urlencoded", []byte(body), "", http.StatusOK)
}

func (a *api) user(ctx context.Context, accessToken string) (reply, error) {
	return a.do(ctx, http.MethodGet, "/v1/user", "", nil, accessToken, 0)
}

// do sends one request. tokensOn names the status whose body is a token
// response to decode (0: none); every other body is read and dropped so
// that the connection can be reused.
func (a *api) do(ctx context.Context, method, path, contentType string, body []byte, bearer string, tokensOn int) (reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		r.retryAfter = time.Duration(secs) * time.Second
	}
	if tokensOn != 0 && resp.StatusCode == tokensOn {
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r.tokens); err != nil {
			return r, fmt.Errorf("%s %s: decode token response: %w", method, path, err)
		}
		if r.tokens.Access == "" || r.tokens.Refresh == "" {
			return r, fmt.Errorf("%s %s: token response without tokens", method, path)
		}
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return r, err
}

// getJSON fetches a small JSON document, for discovery.
func (a *api) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out)
}

// tokenInfo reads the alg header and the aud claim of an access token
// without checking it: the harness needs them to set up the verify
// scenario and the signature baseline, and the verify package checks the
// token for real.
func tokenInfo(raw string) (alg string, aud []string, err error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", nil, errors.New("access token is not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", nil, fmt.Errorf("access token header: %w", err)
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", nil, fmt.Errorf("access token payload: %w", err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	var p struct {
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return "", nil, fmt.Errorf("access token header: %w", err)
	}
	if err := json.Unmarshal(pb, &p); err != nil {
		return "", nil, fmt.Errorf("access token payload: %w", err)
	}
	var one string
	if json.Unmarshal(p.Aud, &one) == nil {
		aud = []string{one}
	} else if err := json.Unmarshal(p.Aud, &aud); err != nil {
		return "", nil, fmt.Errorf("access token aud: %w", err)
	}
	return h.Alg, aud, nil
}
