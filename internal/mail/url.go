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
	scheme, rest, err := splitScheme(raw)
	if err != nil {
		return endpoint{}, err
	}
	var e endpoint
	e.user, e.pass, rest, err = cutUserinfo(rest)
	if err != nil {
		return endpoint{}, err
	}
	u, err := parseServer(scheme, rest)
	if err != nil {
		return endpoint{}, err
	}
	e.host = u.Hostname()
	if e.port, err = serverPort(scheme, u); err != nil {
		return endpoint{}, err
	}
	if e.security, err = tlsMode(scheme, u.RawQuery); err != nil {
		return endpoint{}, err
	}
	return e, nil
}

// urlError is an SMTP URL error that ends with the forms the URL may take.
func urlError(format string, args ...any) error {
	return fmt.Errorf("mail: SMTP URL: "+format+" ("+urlForms+")", args...)
}

// splitScheme returns the lowercased scheme, smtp or smtps, and what
// follows its "://".
func splitScheme(raw string) (scheme, rest string, err error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "", "", urlError("no scheme")
	}
	scheme = strings.ToLower(scheme)
	if scheme != "smtp" && scheme != "smtps" {
		return "", "", urlError("unknown scheme %q", scheme)
	}
	return scheme, rest, nil
}

// cutUserinfo takes the user name and password off the front of rest, the
// URL after its scheme, when it has them, and returns what is left.
func cutUserinfo(rest string) (user string, pass secret, left string, err error) {
	// Userinfo ends at the last "@" of the authority, as url.Parse has it.
	authEnd := strings.IndexAny(rest, "/?#")
	if authEnd < 0 {
		authEnd = len(rest)
	}
	at := strings.LastIndex(rest[:authEnd], "@")
	if at < 0 {
		return "", secret{}, rest, nil
	}
	user, p, err := parseUserinfo(rest[:at])
	if err != nil {
		return "", secret{}, "", urlError("%v", err)
	}
	return user, newSecret(p), rest[at+1:], nil
}

// parseServer parses the URL without its user information and holds it
// to a host, an optional port and an optional query.
func parseServer(scheme, rest string) (*url.URL, error) {
	u, err := url.Parse(scheme + "://" + rest)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, urlError("%v", err)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, urlError("unexpected path %q", u.Path)
	}
	if u.Fragment != "" {
		return nil, urlError("unexpected fragment")
	}
	host := u.Hostname()
	if host == "" {
		return nil, urlError("no host")
	}
	// url.Parse takes only what follows the last colon as the port.
	if hasControl(host) || strings.ContainsAny(host, " ") ||
		(strings.Contains(host, ":") && !strings.HasPrefix(u.Host, "[")) {
		return nil, urlError("invalid host %q", host)
	}
	return u, nil
}

// serverPort is u's port, or the scheme's submission port: 587 for smtp, 465
// for smtps.
func serverPort(scheme string, u *url.URL) (int, error) {
	p := u.Port()
	if p == "" {
		if scheme == "smtps" {
			return 465, nil
		}
		return 587, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, urlError("invalid port %q", p)
	}
	return n, nil
}

// tlsMode reads the one parameter an SMTP URL may have, tls=, which only
// smtp:// takes. Without it smtp:// requires STARTTLS.
func tlsMode(scheme, rawQuery string) (security, error) {
	mode := startTLS
	if scheme == "smtps" {
		mode = implicitTLS
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return 0, urlError("invalid query: %v", err)
	}
	for k, vs := range q {
		if k != "tls" {
			return 0, urlError("unknown parameter %q", k)
		}
		if len(vs) != 1 {
			return 0, urlError("tls given %d times", len(vs))
		}
		if scheme == "smtps" {
			return 0, urlError("tls= is not allowed with smtps://, which is always TLS from the first byte")
		}
		switch vs[0] {
		case "starttls":
			mode = startTLS
		case "opportunistic":
			mode = opportunistic
		case "none":
			mode = plain
		default:
			return 0, urlError("unknown tls value %q", vs[0])
		}
	}
	return mode, nil
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
