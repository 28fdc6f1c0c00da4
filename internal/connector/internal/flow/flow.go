// Package flow holds what every connector shares about talking to a
// provider over OAuth 2.0: the HTTP client that turns a provider's
// server error into connector.ErrUnavailable, the reading of the
// callback's answer, the mapping of x/oauth2's errors, and a JSON GET
// for user APIs. It decides nothing about identities.
//
// Errors built here never carry a provider's response body, a token or
// a secret: only a short cause such as "status 503" or "timeout".
package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"golang.org/x/oauth2"

	"github.com/latchauth/latch/internal/connector"
)

// maxBody bounds what is read of any provider answer.
const maxBody = 1 << 20

// statusError is what the client's transport answers instead of a
// provider's 5xx or 429 response, so that every library above it (x/oauth2,
// go-oidc) sees a transport failure and never reads the body.
type statusError struct{ code int }

func (e *statusError) Error() string { return "provider answered status " + strconv.Itoa(e.code) }

type transport struct{ base http.RoundTripper }

func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		return nil, &statusError{code: resp.StatusCode}
	}
	return resp, nil
}

// Client returns a copy of c (http.DefaultClient if nil) whose transport
// reports a provider's 5xx and 429 answers as errors that Unavailable
// recognises. Headers, if any, are set on every request that does not
// already have them.
func Client(c *http.Client, headers map[string]string) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	cp := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	var rt http.RoundTripper = transport{base: base}
	if len(headers) > 0 {
		rt = withHeaders{base: rt, headers: headers}
	}
	cp.Transport = rt
	return &cp
}

type withHeaders struct {
	base    http.RoundTripper
	headers map[string]string
}

func (t withHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.headers {
		if r.Header.Get(k) == "" {
			r.Header.Set(k, v)
		}
	}
	return t.base.RoundTrip(r)
}

// Context returns ctx carrying client for x/oauth2 and go-oidc.
func Context(ctx context.Context, client *http.Client) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, client)
}

// IsUnavailable reports whether err is a failure to reach the provider
// in time: a transport error, a 5xx or 429 answer, or the context ending.
func IsUnavailable(err error) bool {
	var se *statusError
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &se) || errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// Cause is a short description of an unavailability, safe for an error
// text: it never includes a body or a URL's query.
func Cause(err error) string {
	var se *statusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	default:
		return "unreachable"
	}
}

// Unavailable wraps connector.ErrUnavailable with what was being done
// and Cause(err).
func Unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %s", connector.ErrUnavailable, what, Cause(err))
}

// Invalid wraps connector.ErrInvalid with a reason written by latch.
func Invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{connector.ErrInvalid}, args...)...)
}

// Code reads the callback's answer: the provider's error (a
// *connector.ProviderError), or the authorization code.
func Code(answer map[string][]string) (string, error) {
	v := url.Values(answer)
	if e := v.Get("error"); e != "" {
		return "", &connector.ProviderError{Code: clip(e, 64), Description: clip(v.Get("error_description"), 256)}
	}
	code := v.Get("code")
	if code == "" {
		return "", Invalid("the answer has no code")
	}
	return code, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Exchange redeems code at the token endpoint with the PKCE verifier.
func Exchange(ctx context.Context, client *http.Client, cfg *oauth2.Config, code, verifier string) (*oauth2.Token, error) {
	tok, err := cfg.Exchange(Context(ctx, client), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, ExchangeError(err)
	}
	return tok, nil
}

// ExchangeError maps an error of oauth2.Config.Exchange.
func ExchangeError(err error) error {
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		if re.Response != nil && re.Response.StatusCode >= 500 {
			return Unavailable("token endpoint", &statusError{code: re.Response.StatusCode})
		}
		if re.ErrorCode != "" {
			return Invalid("token endpoint refused the code: %s", clip(re.ErrorCode, 64))
		}
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return Invalid("token endpoint answered status %d", status)
	case IsUnavailable(err):
		return Unavailable("token endpoint", err)
	default:
		return Invalid("token endpoint's answer could not be read")
	}
}

// GetJSON fetches u with the bearer token and decodes a 200 answer into v.
func GetJSON(ctx context.Context, client *http.Client, u, bearer string, headers map[string]string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("get %s: %w", u, err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	for k, val := range headers {
		req.Header.Set(k, val)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Unavailable("get "+u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return Invalid("get %s: status %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(v); err != nil {
		if IsUnavailable(err) {
			return Unavailable("get "+u, err)
		}
		return Invalid("get %s: the answer is not the JSON expected", u)
	}
	return nil
}
