package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// latchClient is everything this app asks of latch: its discovery
// document, the token endpoint, /v1/user and /v1/logout.
type latchClient struct {
	base string // latch's URL as configured, without a trailing slash
	http *http.Client

	mu   sync.Mutex
	meta *metadata // nil until discovery has worked once
}

// metadata is the part of /.well-known/openid-configuration (RFC 8414)
// this app uses.
type metadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	IssParameterSupported bool   `json:"authorization_response_iss_parameter_supported"`
}

// tokenResponse is latch's answer from POST /v1/token (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	User         user   `json:"user"`
}

// user is the part of GET /v1/user this app shows.
type user struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// apiError is latch's error body, {error, error_description}, with the
// HTTP status it came with.
type apiError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("latch answered %d %s: %s", e.Status, e.Code, e.Description)
}

// discover returns latch's endpoints. A working answer is kept; when
// latch cannot be reached, the paths latch always uses stand in, with
// the configured URL as the expected issuer, and the next call tries
// again.
func (c *latchClient) discover(ctx context.Context) metadata {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.meta != nil {
		return *c.meta
	}
	var m metadata
	err := c.do(ctx, http.MethodGet, c.base+"/.well-known/openid-configuration", "", nil, &m)
	if err != nil || m.Issuer == "" || m.AuthorizationEndpoint == "" || m.TokenEndpoint == "" {
		return metadata{Issuer: c.base, AuthorizationEndpoint: c.base + "/v1/authorize", TokenEndpoint: c.base + "/v1/token"}
	}
	c.meta = &m
	return m
}

// token posts a form to the token endpoint: the authorization_code
// grant after the callback, the refresh_token grant later.
func (c *latchClient) token(ctx context.Context, endpoint string, form url.Values) (tokenResponse, error) {
	var t tokenResponse
	err := c.do(ctx, http.MethodPost, endpoint, "", form, &t)
	if err == nil && (t.AccessToken == "" || t.RefreshToken == "") {
		err = fmt.Errorf("latch's token response has no access or refresh token")
	}
	return t, err
}

// user asks latch who the access token belongs to. latch refuses the
// token of an ended session at once, so this also notices a sign-out
// made elsewhere (on latch's /account page, say).
func (c *latchClient) user(ctx context.Context, access string) (user, error) {
	var u user
	err := c.do(ctx, http.MethodGet, c.base+"/v1/user", access, nil, &u)
	return u, err
}

// logout ends this app's session at latch ("local": this one only; the
// person's other apps and latch's own browser session stay).
func (c *latchClient) logout(ctx context.Context, access string) error {
	return c.do(ctx, http.MethodPost, c.base+"/v1/logout", access, map[string]string{"scope": "local"}, nil)
}

// do sends one request. body is a form (url.Values), JSON (anything
// else) or nothing; a 2xx answer is decoded into out unless out is nil,
// anything else becomes an *apiError.
func (c *latchClient) do(ctx context.Context, method, endpoint, bearer string, body, out any) error {
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd, contentType = strings.NewReader(string(j)), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return c.send(req, out)
}

func (c *latchClient) send(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &apiError{Status: resp.StatusCode}
		if dec.Decode(e) != nil || e.Code == "" {
			e.Code = http.StatusText(resp.StatusCode)
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// newHTTPClient is the client used when the configuration brings none:
// a time limit, so a stuck latch cannot hang a page forever.
func newHTTPClient() *http.Client { return &http.Client{Timeout: 10 * time.Second} }
