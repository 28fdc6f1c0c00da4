package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrInvalidToken is wrapped by every error Verify returns for a token
// that must be refused: malformed, badly signed, expired, for another
// issuer or audience, and so on. Test with errors.Is.
var ErrInvalidToken = errors.New("verify: invalid access token")

// ErrUnavailable is wrapped by the errors of New when the issuer's
// discovery document or keys cannot be fetched, and of Verify when a
// token names a key the Verifier does not know while the issuer's keys
// cannot be fetched (so the token may be good), or when ctx ends while
// Verify waits for a fetch. The caller should answer 503 and let the
// client retry, not treat the token as bad.
var ErrUnavailable = errors.New("verify: issuer keys unavailable")

const (
	// DefaultLeeway is the clock skew allowed when Options.Leeway is zero.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway is the largest Options.Leeway New accepts: more would
	// stretch latch's 15-minute tokens by a large fraction.
	MaxLeeway = 5 * time.Minute
	// DefaultMinRefreshInterval is used when Options.MinRefreshInterval
	// is zero.
	DefaultMinRefreshInterval = 10 * time.Second
	// DefaultHTTPTimeout is the timeout of the HTTP client New makes when
	// Options.HTTPClient is nil.
	DefaultHTTPTimeout = 10 * time.Second
)

// Options configure a Verifier. Only Audience (or AnyAudience) must be set.
type Options struct {
	// Audience lists the aud values this resource server answers to;
	// a token must name at least one (RFC 9068 §4). Use latch's
	// LATCH_TOKEN_AUDIENCE, which defaults to latch's public URL.
	Audience []string
	// AnyAudience accepts a token whatever its aud names, and must be
	// set explicitly when Audience is empty. It is for a resource server
	// that trusts every token its issuer signs; it lets a token minted
	// for one API be replayed against another (RFC 8725 §3.9).
	AnyAudience bool
	// Leeway is the clock skew tolerated when checking exp, nbf and iat.
	// Zero means DefaultLeeway; a negative value means none. New refuses
	// more than MaxLeeway.
	Leeway time.Duration
	// Algorithms are the accepted JWS algorithms, from ES256, EdDSA and
	// RS256; nil means all three. A token whose alg is not listed is
	// refused, and so is a JWKS key whose alg is not.
	Algorithms []string
	// HTTPClient fetches discovery and the JWKS. The default has a
	// DefaultHTTPTimeout timeout and follows no redirects.
	HTTPClient *http.Client
	// MinRefreshInterval is the least time between two JWKS fetches
	// caused by tokens with an unknown kid, and between retries after a
	// failed refresh. Zero means DefaultMinRefreshInterval.
	MinRefreshInterval time.Duration
	// Realm is the realm of the WWW-Authenticate challenges Middleware
	// sends (RFC 6750 §3); empty means the issuer URL.
	Realm string
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// Logger receives key-refresh failures (Warn) and refused tokens
	// (Debug); nil means no logging.
	Logger *slog.Logger
}

// A Verifier checks latch access tokens offline, against the signing keys
// that the issuer publishes in its JWKS. It caches the keys, refreshes
// them when their max-age runs out or a token names a key it has not
// seen, and keeps using the keys it has while the issuer cannot be
// reached. Make one with New; it is safe for concurrent use.
type Verifier struct {
	issuer      string
	jwksURI     string
	audience    []string
	anyAudience bool
	leeway      time.Duration
	algs        []string
	client      *http.Client
	minRefresh  time.Duration
	realm       string
	now         func() time.Time
	log         *slog.Logger

	keys atomic.Pointer[keySet]

	mu           sync.Mutex
	flight       chan struct{} // closed when the running fetch ends; nil when none runs
	fetchErr     error         // error of the last fetch, nil if it succeeded
	lastKidFetch time.Time     // start of the last fetch caused by an unknown kid
	retryAt      time.Time     // no max-age refresh before this, after a failure
}

// New returns a Verifier for tokens issued by issuer, the exact issuer
// URL latch publishes (its LATCH_PUBLIC_URL, e.g.
// "https://auth.example.com"). It reads issuer's discovery document at
// /.well-known/openid-configuration, requires the issuer named there to
// equal issuer exactly (RFC 8414 §3.3), and fetches the keys from its
// jwks_uri, all within ctx. issuer and jwks_uri must be https URLs, or
// http ones on a loopback host for local development. The errors for an
// unreachable issuer or one with no usable key wrap ErrUnavailable, and a
// caller may retry; other errors are configuration mistakes.
func New(ctx context.Context, issuer string, opts Options) (*Verifier, error) {
	v, err := newVerifier(issuer, opts)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if err := v.discover(ctx); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	set, err := v.fetchKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify: %w: %w", ErrUnavailable, err)
	}
	v.keys.Store(set)
	return v, nil
}

func newVerifier(issuer string, opts Options) (*Verifier, error) {
	if err := checkURL(issuer); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	switch {
	case len(opts.Audience) == 0 && !opts.AnyAudience:
		return nil, errors.New("Options.Audience is empty: list the aud values this API accepts, or set AnyAudience")
	case len(opts.Audience) > 0 && opts.AnyAudience:
		return nil, errors.New("Options.Audience and AnyAudience are both set")
	case slices.Contains(opts.Audience, ""):
		return nil, errors.New("Options.Audience holds an empty string")
	case opts.Leeway > MaxLeeway:
		return nil, fmt.Errorf("Options.Leeway %s is more than %s", opts.Leeway, MaxLeeway)
	case opts.MinRefreshInterval < 0:
		return nil, errors.New("Options.MinRefreshInterval is negative")
	}
	v := &Verifier{
		issuer:      issuer,
		audience:    slices.Clone(opts.Audience),
		anyAudience: opts.AnyAudience,
		leeway:      opts.Leeway,
		algs:        []string{ES256, EdDSA, RS256},
		client:      opts.HTTPClient,
		minRefresh:  opts.MinRefreshInterval,
		realm:       opts.Realm,
		now:         opts.Now,
		log:         opts.Logger,
	}
	if opts.Algorithms != nil {
		if len(opts.Algorithms) == 0 {
			return nil, errors.New("Options.Algorithms is empty")
		}
		for _, a := range opts.Algorithms {
			if a != ES256 && a != EdDSA && a != RS256 {
				return nil, fmt.Errorf("Options.Algorithms: %q is not one of ES256, EdDSA, RS256", a)
			}
		}
		v.algs = slices.Clone(opts.Algorithms)
	}
	switch {
	case v.leeway == 0:
		v.leeway = DefaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	}
	if v.client == nil {
		v.client = &http.Client{
			Timeout: DefaultHTTPTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	if v.minRefresh == 0 {
		v.minRefresh = DefaultMinRefreshInterval
	}
	if v.realm == "" {
		v.realm = issuer
	}
	if !quotable(v.realm) {
		return nil, fmt.Errorf("Options.Realm %q holds a quote, backslash or non-ASCII character", v.realm)
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	return v, nil
}

// checkURL accepts an absolute https URL, or an http one whose host is
// loopback: keys fetched over plain http from anywhere else could be
// swapped by anyone on the path.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	switch {
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q is not an absolute URL without user, query or fragment", raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q must be https (http only on a loopback host)", raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// discover reads the issuer's metadata and sets v.jwksURI.
func (v *Verifier) discover(ctx context.Context) error {
	url := strings.TrimSuffix(v.issuer, "/") + "/.well-known/openid-configuration"
	body, _, err := v.get(ctx, url, "application/json")
	if err != nil {
		return fmt.Errorf("%w: discovery: %w", ErrUnavailable, err)
	}
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &meta); err != nil {
		return fmt.Errorf("discovery %s: %w", url, err)
	}
	// A document naming another issuer may have been served by a
	// different server; trusting its keys would accept its tokens.
	if meta.Issuer != v.issuer {
		return fmt.Errorf("discovery %s names issuer %.256q, want %q exactly", url, meta.Issuer, v.issuer)
	}
	if err := checkURL(meta.JWKSURI); err != nil {
		return fmt.Errorf("discovery %s: jwks_uri: %w", url, err)
	}
	v.jwksURI = meta.JWKSURI
	return nil
}

// Verify checks rawToken, an access token as found after "Bearer ", and
// returns its claims. It follows RFC 8725 and RFC 9068 §4. It accepts a
// JWS in compact serialization of at most MaxTokenSize bytes, in
// canonical base64url, whose header has typ at+jwt (or
// application/at+jwt), an alg from Options.Algorithms, a kid naming a key
// of the issuer's JWKS whose alg equals the header's, and no crit; whose
// signature is that key's; whose claims have iss equal to the issuer, an
// aud from Options.Audience, an exp not past, an iat and nbf not in the
// future (give or take Options.Leeway), and the other claims RFC 9068
// §2.2 requires: sub, jti and client_id. Keys named or carried by jku,
// jwk, x5u or x5c headers are never used.
//
// Every refusal wraps ErrInvalidToken, except that a kid Verify has not
// seen while the issuer's keys cannot be fetched wraps ErrUnavailable.
// The error's text is for logs: it may quote parts of the token.
//
// ctx matters only when the token's kid is unknown and Verify waits for
// a JWKS fetch.
func (v *Verifier) Verify(ctx context.Context, rawToken string) (*Claims, error) {
	if len(rawToken) > MaxTokenSize {
		return nil, invalid(reasonMalformed, "%d bytes, more than %d", len(rawToken), MaxTokenSize)
	}
	hdrSeg, payloadSeg, _, ok := compact(rawToken)
	if !ok {
		return nil, invalid(reasonMalformed, "not a JWS in compact serialization")
	}
	// One copy of the token serves as the signing input and as the
	// source of every decode, which need bytes. All three segments are
	// decoded before the kid is looked up, so that only well-formed
	// tokens can cause a JWKS fetch.
	tok := []byte(rawToken)
	nh, np := len(hdrSeg), len(hdrSeg)+1+len(payloadSeg)
	var hbuf [256]byte
	var pbuf [1024]byte
	var sbuf [512]byte
	hb, ok1 := decodeSegment(hbuf[:], tok[:nh])
	pb, ok2 := decodeSegment(pbuf[:], tok[nh+1:np])
	sig, ok3 := decodeSegment(sbuf[:], tok[np+1:])
	if !ok1 || !ok2 || !ok3 {
		return nil, invalid(reasonMalformed, "a segment is not canonical base64url")
	}
	h, ok := parseHeader(string(hb))
	switch {
	case !ok:
		return nil, invalid(reasonMalformed, "header is not a UTF-8 JSON object with string alg, kid and typ, or has crit or b64")
	case !slices.Contains(v.algs, h.alg):
		return nil, invalid(reasonAlgorithm, "alg %.32q", h.alg)
	case !accessTokenType(h.typ):
		return nil, invalid(reasonType, "typ %.32q, want at+jwt", h.typ)
	}

	now := v.now()
	if now.After(v.keys.Load().expires) {
		v.refreshIfStale(now)
	}
	k, err := v.keyFor(ctx, h.kid)
	if err != nil {
		return nil, err
	}
	if k.alg != h.alg {
		return nil, invalid(reasonAlgorithm, "alg %s, but key %.64q is for %s", h.alg, h.kid, k.alg)
	}
	if !k.verify(tok[:np], sig) {
		return nil, invalid(reasonSignature, "signature does not verify with key %.64q", h.kid)
	}
	c, ok := parseClaims(string(pb))
	if !ok {
		return nil, invalid(reasonMalformed, "payload is not a UTF-8 JSON object with claims of the right types, each once")
	}
	if err := v.checkClaims(c, now); err != nil {
		return nil, err
	}
	return c, nil
}

// checkClaims applies RFC 9068 §4 to verified claims.
func (v *Verifier) checkClaims(c *Claims, now time.Time) error {
	switch {
	case c.Issuer != v.issuer:
		return invalid(reasonIssuer, "iss %.256q, want %q", c.Issuer, v.issuer)
	case len(c.Audience) == 0:
		return invalid(reasonMissing("aud"), "no aud")
	case !v.anyAudience && !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(v.audience, a) }):
		return invalid(reasonAudience, "aud %.256q names none of %q", c.Audience, v.audience)
	case c.ExpiresAt.IsZero():
		return invalid(reasonMissing("exp"), "no exp")
	case !now.Before(c.ExpiresAt.Add(v.leeway)):
		return invalid(reasonExpired, "expired at %s", c.ExpiresAt.Format(time.RFC3339))
	case c.IssuedAt.IsZero():
		return invalid(reasonMissing("iat"), "no iat")
	case c.IssuedAt.After(now.Add(v.leeway)):
		return invalid(reasonNotYetValid, "iat %s is in the future", c.IssuedAt.Format(time.RFC3339))
	case c.NotBefore.After(now.Add(v.leeway)):
		return invalid(reasonNotYetValid, "nbf %s is in the future", c.NotBefore.Format(time.RFC3339))
	case c.Subject == "":
		return invalid(reasonMissing("sub"), "no sub")
	case c.ID == "":
		return invalid(reasonMissing("jti"), "no jti")
	case c.ClientID == "":
		return invalid(reasonMissing("client_id"), "no client_id")
	}
	return nil
}
