package password

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// BreachChecker is the breached-password check that Policy.CheckContext
// consults once every local check has passed. RangeChecker is latch's; tests
// and other corpora (a local database, say) implement it too.
type BreachChecker interface {
	// Check returns a Reason when password must be refused — it is in a
	// breach corpus, or the corpus could not be consulted and the checker
	// fails closed — and nil when it may be used. It normalises password
	// (NFKC) itself. Its error is non-nil only when ctx ended first; the
	// caller then abandons the request, as for any cancelled request, and
	// has no verdict to show.
	Check(ctx context.Context, password string) (*Reason, error)
}

var _ BreachChecker = (*RangeChecker)(nil)

// RangeOptions configure a RangeChecker. Only URL is required.
type RangeOptions struct {
	// URL is the base of the range API; the 5-character prefix is appended,
	// after a "/" if URL does not end with one. For Have I Been Pwned it is
	// https://api.pwnedpasswords.com/range/. http and https only, no query,
	// no fragment.
	URL string
	// Timeout bounds one lookup, connection and body included; 0 means 2s.
	// The lookup runs on the signup path, so a slow service must cost the
	// user little before FailClosed decides.
	Timeout time.Duration
	// FailClosed decides what happens when the service cannot answer
	// (unreachable, timeout, non-200 status, oversized or unreadable
	// answer): true refuses the password with breach_check_unavailable;
	// false, the default, accepts it unchecked. Either way a warning is
	// logged. Fail-open keeps signups working through an outage of a third
	// party; fail-closed suits deployments where no unchecked password may
	// ever be set.
	FailClosed bool
	// MinCount is how many times a password must have been seen in breaches
	// to be refused; 0 means 1, any appearance. Raising it trades coverage
	// for fewer refusals of passwords seen once.
	MinCount int
	// HTTPClient sends the lookups; nil means a client of latch's own (see
	// NewRangeChecker). A client given here is used as is, redirect policy
	// and TLS settings included; Timeout still bounds each lookup.
	HTTPClient *http.Client
	// Logger receives a warning per failed lookup and a debug line per
	// answered one; nil discards. Neither ever holds the password, its hash
	// or the hash prefix.
	Logger *slog.Logger
}

const (
	defaultBreachTimeout = 2 * time.Second
	// A range answer holds some 800 to 1,000 lines of 37 to 45 bytes, padded
	// or not: 30 to 45 KiB. A mebibyte is twenty times that and still bounds
	// what a broken or hostile service can make latch hold per signup.
	maxRangeAnswer = 1 << 20
	// rangeHexLen is a SHA-1 in hex; the first rangePrefixLen characters go
	// to the service, the rest stay here.
	rangeHexLen    = 2 * sha1.Size
	rangePrefixLen = 5
	rangeSuffixLen = rangeHexLen - rangePrefixLen
	// maxCount caps a parsed count so that it fits an int on every
	// platform; the largest count Have I Been Pwned reports is under 10^8,
	// and any count this high is far past every sensible MinCount.
	maxCount = 1 << 30
)

// RangeChecker checks passwords against a Have I Been Pwned-style range
// API by k-anonymity: it sends only the first 5 hex characters of the
// password's SHA-1 (one of 16^5 buckets, each shared by hundreds of breached
// passwords), receives every suffix in that bucket with its count, and
// compares locally. The password, its full hash and even its suffix never
// leave the process. Each request asks for padding (Add-Padding: true), so
// that the answer's size, visible on the wire despite TLS, does not betray
// the bucket either.
//
// SHA-1 is the range protocol's, not a choice of latch's: it is never used
// to store or verify a password.
//
// It is safe for concurrent use; build one per process with
// NewRangeChecker. A nil *RangeChecker accepts every password, so a Policy
// whose Breached holds a nil one behaves as with no check at all.
type RangeChecker struct {
	base       string // ends with "/"
	service    string // base with any userinfo password redacted, for logs
	timeout    time.Duration
	failClosed bool
	minCount   int
	client     *http.Client
	log        *slog.Logger
}

// NewRangeChecker validates o and returns a RangeChecker. It refuses a
// missing or malformed URL, a scheme other than http or https, a query or
// fragment (the prefix could not be appended to them), and a negative
// Timeout or MinCount, reporting every problem at once.
//
// Without o.HTTPClient it builds a client that verifies TLS certificates
// against the system roots, honours HTTPS_PROXY and NO_PROXY, keeps a few
// connections alive to the service (so that most signups skip the
// handshake), and follows no redirect: a range service answers directly,
// and following one could hand the prefix to another host or downgrade it
// to clear text. A 3xx answer is therefore a failed lookup, whose warning
// names the status so that the operator can fix the URL.
func NewRangeChecker(o RangeOptions) (*RangeChecker, error) {
	var errs []error
	base, service, err := rangeBase(o.URL)
	if err != nil {
		errs = append(errs, err)
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("breached-password lookup timeout must not be negative, got %s", o.Timeout))
	}
	if o.MinCount < 0 {
		errs = append(errs, fmt.Errorf("breached-password minimum count must not be negative, got %d", o.MinCount))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c := &RangeChecker{
		base:       base,
		service:    service,
		timeout:    o.Timeout,
		failClosed: o.FailClosed,
		minCount:   o.MinCount,
		client:     o.HTTPClient,
		log:        o.Logger,
	}
	if c.timeout == 0 {
		c.timeout = defaultBreachTimeout
	}
	if c.minCount == 0 {
		c.minCount = 1
	}
	if c.client == nil {
		c.client = newRangeClient(c.timeout)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// rangeBase validates raw and returns it ending with "/", and a form safe to
// log. Errors never repeat raw, which may hold a credential.
func rangeBase(raw string) (base, service string, err error) {
	if strings.TrimSpace(raw) == "" {
		return "", "", errors.New("breached-password service URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", "", fmt.Errorf("breached-password service URL is malformed: %w", err)
	}
	var problems []string
	if u.Scheme != "http" && u.Scheme != "https" {
		problems = append(problems, fmt.Sprintf("scheme must be http or https, got %q", u.Scheme))
	}
	if u.Host == "" || u.Opaque != "" {
		problems = append(problems, "must be an absolute URL with a host")
	}
	if u.RawQuery != "" || u.ForceQuery {
		problems = append(problems, "must not have a query")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		problems = append(problems, "must not have a fragment")
	}
	if len(problems) > 0 {
		return "", "", fmt.Errorf("breached-password service URL %s: %s", u.Redacted(), strings.Join(problems, "; "))
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u.String(), u.Redacted(), nil
}

func newRangeClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:             http.ProxyFromEnvironment,
			DialContext:       (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2: true,
			// Signups come in bursts; a handful of warm connections
			// spares each a TLS handshake without holding many sockets.
			MaxIdleConns:        8,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: timeout,
			TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		},
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Check implements BreachChecker: a Reason with CodeBreached when the
// normalised password appears in its range answer at least MinCount times;
// when the lookup fails, a warning and then nil (fail-open) or a Reason with
// CodeBreachCheckUnavailable (FailClosed). A failure caused by ctx ending —
// the caller's cancellation or deadline, as opposed to the lookup's own
// Timeout — is returned as ctx's error instead, without a warning, since it
// says nothing about the service.
func (c *RangeChecker) Check(ctx context.Context, password string) (*Reason, error) {
	if c == nil {
		return nil, nil
	}
	breached, err := c.lookup(ctx, password)
	switch {
	case err == nil && breached:
		return &Reason{CodeBreached, breachedMessage}, nil
	case err == nil:
		return nil, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("breached-password check: %w", ctx.Err())
	case c.failClosed:
		c.log.WarnContext(ctx, "breached-password check unavailable, password refused (fail closed)",
			"service", c.service, "err", err)
		return &Reason{CodeBreachCheckUnavailable, breachCheckUnavailableMessage}, nil
	default:
		c.log.WarnContext(ctx, "breached-password check unavailable, password accepted unchecked (fail open)",
			"service", c.service, "err", err)
		return nil, nil
	}
}

// lookup asks the service for password's bucket and reports whether its
// suffix is there at least minCount times. Its errors never mention the
// request URL, which holds the prefix.
func (c *RangeChecker) lookup(ctx context.Context, password string) (bool, error) {
	sum := sha1.Sum([]byte(Normalize(password)))
	var digest [rangeHexLen]byte
	hex.Encode(digest[:], sum[:])
	upperHex(digest[:])
	prefix, suffix := digest[:rangePrefixLen], digest[rangePrefixLen:]

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+string(prefix), nil)
	if err != nil {
		// Unreachable: base was validated and the prefix is hex.
		return false, errors.New("build range request")
	}
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("Accept", "text/plain")
	req.Header.Set("User-Agent", "latch")
	start := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return false, fmt.Errorf("range request: %w", c.explain(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The code alone: the reason phrase is the service's text, and a
		// hostile one could echo the prefix into latch's warnings.
		return false, fmt.Errorf("range request: unexpected status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRangeAnswer+1))
	if err != nil {
		return false, fmt.Errorf("read range answer: %w", c.explain(err))
	}
	if len(body) > maxRangeAnswer {
		return false, fmt.Errorf("range answer exceeds %d bytes", maxRangeAnswer)
	}
	count, entries := rangeCount(body, suffix)
	if entries == 0 {
		// Every one of the 16^5 buckets holds hundreds of suffixes, so an
		// answer without one is an error page or a broken mirror, not a
		// verdict.
		return false, fmt.Errorf("range answer of %d bytes holds no SUFFIX:COUNT line", len(body))
	}
	breached := count >= c.minCount
	c.log.DebugContext(ctx, "breached-password lookup",
		"service", c.service, "entries", entries, "breached", breached, "duration", time.Since(start))
	return breached, nil
}

// explain adds the lookup's Timeout to a deadline error, which the
// operator reads as "raise Timeout or mend the network".
func (c *RangeChecker) explain(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s: %w", c.timeout, err)
	}
	return err
}

// rangeCount scans a range answer for suffix (35 upper-case hex digits) and
// returns its count (the largest, should it repeat; 0 when absent) and how
// many well-formed lines the answer holds. Lines are SUFFIX:COUNT separated
// by LF or CRLF; surrounding blanks and lower-case hex are tolerated,
// anything else malformed is skipped. Padding lines carry count 0 and so
// never reach a MinCount of 1 or more.
//
// The suffix is compared in constant time and every line is scanned even
// after a match. Neither is needed against the service, which knows every
// suffix in the bucket; they keep the time spent from depending on where,
// or whether, a function of the password matched, at a cost that
// BenchmarkRangeCount puts near 0.1 ms per 40 KB answer, small beside the
// round trip that fetched it.
func rangeCount(body, suffix []byte) (count, entries int) {
	var got [rangeSuffixLen]byte
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) <= rangeSuffixLen+1 || line[rangeSuffixLen] != ':' {
			continue
		}
		if !upperHexInto(got[:], line[:rangeSuffixLen]) {
			continue
		}
		n, ok := parseCount(line[rangeSuffixLen+1:])
		if !ok {
			continue
		}
		entries++
		if subtle.ConstantTimeCompare(got[:], suffix) == 1 {
			count = max(count, n)
		}
	}
	return count, entries
}

// upperHexInto copies src into dst upper-cased and reports whether src is
// all hex digits. It is branch-free: a switch on random hex digits
// mispredicts on most bytes and took two thirds of the parsing time.
func upperHexInto(dst, src []byte) bool {
	valid := uint32(1)
	for i, b := range src {
		// x-n wraps to a value with bit 31 set exactly when x < n.
		digit := (uint32(b-'0') - 10) >> 31
		letter := (uint32((b|0x20)-'a') - 6) >> 31
		valid &= digit | letter
		dst[i] = b &^ byte(letter<<5)
	}
	return valid == 1
}

// upperHex upper-cases lower-case hex in place, the range API's case.
func upperHex(b []byte) {
	for i, c := range b {
		if 'a' <= c && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
}

// parseCount parses a count: one or more ASCII digits, no sign, no blanks,
// saturating at maxCount rather than overflowing.
func parseCount(s []byte) (int, bool) {
	if len(s) == 0 {
		return 0, false
	}
	n := 0
	for _, b := range s {
		if b < '0' || b > '9' {
			return 0, false
		}
		n = min(n*10+int(b-'0'), maxCount)
	}
	return n, true
}
