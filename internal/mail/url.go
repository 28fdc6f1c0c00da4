package mail

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// security is how a connection is protected.
type security int

const (
	startTLS      security = iota // STARTTLS, required
	opportunistic                 // STARTTLS when the server offers it
	plain                         // no TLS at all: a local relay or a test
	implicitTLS                   // TLS from the first byte (smtps)
)

// String is the tls= value of the URL (smtps for implicit TLS).
func (s security) String() string {
	switch s {
	case startTLS:
		return "starttls"
	case opportunistic:
		return "opportunistic"
	case plain:
		return "none"
	default:
		return "implicit"
	}
}

// endpoint is a parsed SMTP URL.
type endpoint struct {
	host     string // no brackets around an IPv6 address
	port     int
	security security
	user     string
	pass     secret
}

// urlForms is repeated in every URL error so the operator sees what to write.
const urlForms = "want smtp://[user:pass@]host[:port][?tls=starttls|opportunistic|none] or smtps://[user:pass@]host[:port]"

// parseURL reads an SMTP URL. Its errors never contain the user information:
// it is cut out of the string before the standard library sees it, since
// url.Parse quotes the whole input in its errors.
func parseURL(raw string) (endpoint, error) {
	var e endpoint
	fail := func(format string, args ...any) (endpoint, error) {
		return endpoint{}, fmt.Errorf("mail: SMTP URL: "+format+" ("+urlForms+")", args...)
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return fail("no scheme")
	}
	scheme = strings.ToLower(scheme)
	if scheme != "smtp" && scheme != "smtps" {
		return fail("unknown scheme %q", scheme)
	}

	// Userinfo ends at the last "@" of the authority, as url.Parse has it.
	authEnd := strings.IndexAny(rest, "/?#")
	if authEnd < 0 {
		authEnd = len(rest)
	}
	if at := strings.LastIndex(rest[:authEnd], "@"); at >= 0 {
		user, pass, err := parseUserinfo(rest[:at])
		if err != nil {
			return fail("%v", err)
		}
		e.user, e.pass = user, newSecret(pass)
		rest = rest[at+1:]
	}

	u, err := url.Parse(scheme + "://" + rest)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("%v", err)
	}
	if u.Path != "" && u.Path != "/" {
		return fail("unexpected path %q", u.Path)
	}
	if u.Fragment != "" {
		return fail("unexpected fragment")
	}
	e.host = u.Hostname()
	if e.host == "" {
		return fail("no host")
	}
	// url.Parse takes only what follows the last colon as the port.
	if hasControl(e.host) || strings.ContainsAny(e.host, " ") ||
		(strings.Contains(e.host, ":") && !strings.HasPrefix(u.Host, "[")) {
		return fail("invalid host %q", e.host)
	}

	e.security = startTLS
	e.port = 587
	if scheme == "smtps" {
		e.security = implicitTLS
		e.port = 465
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fail("invalid port %q", p)
		}
		e.port = n
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("invalid query: %v", err)
	}
	for k, vs := range q {
		if k != "tls" {
			return fail("unknown parameter %q", k)
		}
		if len(vs) != 1 {
			return fail("tls given %d times", len(vs))
		}
		if scheme == "smtps" {
			return fail("tls= is not allowed with smtps://, which is always TLS from the first byte")
		}
		switch vs[0] {
		case "starttls":
			e.security = startTLS
		case "opportunistic":
			e.security = opportunistic
		case "none":
			e.security = plain
		default:
			return fail("unknown tls value %q", vs[0])
		}
	}
	return e, nil
}

// parseUserinfo decodes "user:pass". Its errors say what is wrong, never
// what was written.
func parseUserinfo(s string) (user, pass string, err error) {
	rawUser, rawPass, hasPass := strings.Cut(s, ":")
	user, err1 := url.PathUnescape(rawUser)
	pass, err2 := url.PathUnescape(rawPass)
	switch {
	case err1 != nil || err2 != nil:
		return "", "", errors.New("invalid %-escape in the user name or password")
	case user == "":
		return "", "", errors.New("a password without a user name")
	case !hasPass || pass == "":
		return "", "", errors.New("a user name without a password")
	case hasControl(user) || hasControl(pass):
		return "", "", errors.New("a control character in the user name or password")
	}
	return user, pass, nil
}

// addr is host:port for dialing and errors.
func (e endpoint) addr() string {
	return net.JoinHostPort(e.host, strconv.Itoa(e.port))
}

// String is the URL with the password replaced by "xxxxx".
func (e endpoint) String() string {
	u := url.URL{Scheme: "smtp", Host: e.addr()}
	if e.security == implicitTLS {
		u.Scheme = "smtps"
	} else {
		u.RawQuery = "tls=" + e.security.String()
	}
	if e.user != "" {
		u.User = url.UserPassword(e.user, "xxxxx")
	}
	return u.String()
}

// secret is a password. The value sits behind a function, so that not even
// fmt's reflection over a struct holding one (%+v, %#v) can print it, and
// its own methods print, log and marshal it as "xxxxx".
type secret struct {
	value func() string
}

func newSecret(s string) secret { return secret{value: func() string { return s }} }

// reveal is the password, for the one place that sends it.
func (s secret) reveal() string {
	if s.value == nil {
		return ""
	}
	return s.value()
}

func (secret) String() string               { return "xxxxx" }
func (secret) GoString() string             { return `"xxxxx"` }
func (secret) LogValue() slog.Value         { return slog.StringValue("xxxxx") }
func (secret) MarshalText() ([]byte, error) { return []byte("xxxxx"), nil }
