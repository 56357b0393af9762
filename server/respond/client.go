package respond

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddr is the address of the client r comes from, as the Links in r's
// context (DefaultLinks when none) decide it: the one place that does
// (per-client limits, the access log). See Links.Client.
func ClientAddr(r *http.Request) string {
	return linksOf(r).Client(r)
}

// Client is the address of the client r comes from: the connection's peer,
// unless the peer is a trusted proxy; then the right-most address of
// X-Forwarded-For (or, without that header, of Forwarded's for=) that is not
// a trusted proxy itself — every proxy appends the address it was reached
// from, so the entries left of the first untrusted one are whatever the
// client chose to send and are never believed. An entry that is not an
// address ("unknown", an obfuscated node, garbage) ends the walk at the
// trusted proxy that wrote it. The peer of a Unix socket or a made-up test
// address is returned as it is.
func (l *Links) Client(r *http.Request) string {
	peer, ok := addrOf(r.RemoteAddr)
	if !ok {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			return host
		}
		return r.RemoteAddr
	}
	client := peer
	if !l.trustedAddr(client) {
		return client.String()
	}
	hops := forwardedFor(r.Header)
	for i := len(hops) - 1; i >= 0 && l.trustedAddr(client); i-- {
		a, ok := addrOf(hops[i])
		if !ok {
			break
		}
		client = a
	}
	return client.String()
}

// forwardedFor lists the client addresses the proxies recorded, nearest the
// client first: X-Forwarded-For when present (what nginx, HAProxy, Caddy,
// Traefik and Envoy write), else the for= parameters of Forwarded (RFC
// 7239). Several header lines are one list, in order.
func forwardedFor(h http.Header) []string {
	var out []string
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, line := range xff {
			for part := range strings.SplitSeq(line, ",") {
				out = append(out, strings.TrimSpace(part))
			}
		}
		return out
	}
	for _, line := range h.Values("Forwarded") {
		for element := range strings.SplitSeq(line, ",") {
			node := "" // an element without for= is a hop we cannot place
			for pair := range strings.SplitSeq(element, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(strings.TrimSpace(k), "for") {
					node = strings.Trim(strings.TrimSpace(v), `"`)
				}
			}
			out = append(out, node)
		}
	}
	return out
}

// addrOf parses a node: an address, address:port or [IPv6]:port.
func addrOf(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}

func (l *Links) trustedAddr(a netip.Addr) bool {
	for _, p := range l.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
