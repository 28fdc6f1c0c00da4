package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/latchauth/latch/internal/config"
)

// clientAddress is the address of the client a request comes from: the
// connection's peer, or, when that peer is a trusted proxy, the nearest
// address in the one header LATCH_CLIENT_IP_HEADER names (X-Forwarded-For,
// or Forwarded of RFC 7239) that is not a trusted proxy. Walking from the
// right means a client cannot forge its address by sending the header
// itself: only what trusted proxies appended is believed. The other
// header is never read: a proxy that writes only Forwarded passes a
// client's own X-Forwarded-For through untouched, and reading it would let
// the client choose its address. Zone ids are dropped: they name an
// interface of the machine that saw the address, not the client.
func (s *Server) clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap().WithZone("")
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := forwardedFor(r.Header, s.cfg.HTTP.ClientIPHeader)
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := parseHop(hops[i])
		if err != nil {
			// Garbage where an address should be: believe nothing past it.
			return peer.String()
		}
		if !s.trusted(a) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.HTTP.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor lists, in order, the hops of the header name: the entries
// of X-Forwarded-For, or the for= parameters of Forwarded.
func forwardedFor(h http.Header, name string) []string {
	var hops []string
	if name != config.HeaderForwarded {
		for _, v := range h.Values("X-Forwarded-For") {
			for _, hop := range strings.Split(v, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
		return hops
	}
	for _, v := range h.Values("Forwarded") {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					hops = append(hops, strings.Trim(val, `"`))
				}
			}
		}
	}
	return hops
}

// parseHop reads "1.2.3.4", "1.2.3.4:5678", "2001:db8::1" or
// "[2001:db8::1]:5678", IPv4-mapped IPv6 as IPv4 and without a zone.
func parseHop(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), nil
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	return a.Unmap().WithZone(""), err
}
