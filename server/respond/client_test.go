package respond

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	proxies, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.7, ::1, 2001:db8:ffff::/48")
	if err != nil {
		t.Fatal(err)
	}
	trusting := &Links{Trusted: proxies}
	tests := []struct {
		name   string
		links  *Links // nil: none in the context (DefaultLinks)
		remote string
		header []string // name, value pairs, added (a name twice: two lines)
		want   string
	}{
		{"no proxy", trusting, "203.0.113.5:4000", nil, "203.0.113.5"},
		{"untrusted peer's X-Forwarded-For ignored", trusting, "203.0.113.5:4000",
			[]string{"X-Forwarded-For", "198.51.100.1"}, "203.0.113.5"},
		{"untrusted peer's Forwarded ignored", trusting, "203.0.113.5:4000",
			[]string{"Forwarded", "for=198.51.100.1"}, "203.0.113.5"},
		{"untrusted peer claiming to be a trusted proxy", trusting, "203.0.113.5:4000",
			[]string{"X-Forwarded-For", "198.51.100.1, 10.0.0.9"}, "203.0.113.5"},
		{"trusted proxy", trusting, "10.1.2.3:4000",
			[]string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		{"trusted proxy, spoofed entries left of the client", trusting, "10.1.2.3:4000",
			[]string{"X-Forwarded-For", "1.1.1.1, 2.2.2.2, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies", trusting, "10.1.2.3:4000",
			[]string{"X-Forwarded-For", "6.6.6.6, 198.51.100.1, 192.0.2.7"}, "198.51.100.1"},
		{"two header lines are one list", trusting, "10.1.2.3:4000",
			[]string{"X-Forwarded-For", "6.6.6.6", "X-Forwarded-For", "198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"everything trusted: the left-most", trusting, "10.1.2.3:4000",
			[]string{"X-Forwarded-For", "10.5.5.5, 10.6.6.6"}, "10.5.5.5"},
		{"trusted proxy without a header", trusting, "10.1.2.3:4000", nil, "10.1.2.3"},
		{"garbage ends the walk at the proxy", trusting, "10.1.2.3:4000",
			[]string{"X-Forwarded-For", "198.51.100.1, unknown"}, "10.1.2.3"},
		{"garbage left of the client", trusting, "10.1.2.3:4000",
			[]string{"X-Forwarded-For", "<script>, 198.51.100.1"}, "198.51.100.1"},
		{"empty header", trusting, "10.1.2.3:4000", []string{"X-Forwarded-For", ""}, "10.1.2.3"},
		{"address with a port", trusting, "10.1.2.3:4000",
			[]string{"X-Forwarded-For", "198.51.100.1:5555"}, "198.51.100.1"},
		{"IPv6 in brackets with a port", trusting, "10.1.2.3:4000",
			[]string{"X-Forwarded-For", "[2001:db8::17]:4711"}, "2001:db8::17"},
		{"IPv4-mapped IPv6", trusting, "10.1.2.3:4000",
			[]string{"X-Forwarded-For", "::ffff:198.51.100.1"}, "198.51.100.1"},
		{"trusted IPv6 proxy network", trusting, "[2001:db8:ffff::1]:443",
			[]string{"X-Forwarded-For", "2001:db8:1::5"}, "2001:db8:1::5"},
		{"Forwarded (RFC 7239)", trusting, "10.1.2.3:4000",
			[]string{"Forwarded", `for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https;by=10.1.2.3`}, "2001:db8:cafe::17"},
		{"Forwarded, case and spaces", trusting, "10.1.2.3:4000",
			[]string{"Forwarded", `proto=http; For = 198.51.100.1`}, "198.51.100.1"},
		{"Forwarded, obfuscated node", trusting, "10.1.2.3:4000",
			[]string{"Forwarded", `for=198.51.100.1, for=_hidden`}, "10.1.2.3"},
		{"Forwarded, element without for", trusting, "10.1.2.3:4000",
			[]string{"Forwarded", `for=198.51.100.1, proto=https`}, "10.1.2.3"},
		{"X-Forwarded-For before Forwarded", trusting, "10.1.2.3:4000",
			[]string{"Forwarded", "for=6.6.6.6", "X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		{"default trusts loopback", nil, "127.0.0.1:5000", []string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		{"default ignores others", nil, "198.51.100.9:5000", []string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.9"},
		{"trust none", &Links{}, "127.0.0.1:5000", []string{"X-Forwarded-For", "198.51.100.1"}, "127.0.0.1"},
		{"a public URL changes nothing", &Links{Public: "https://gis.example.org", Trusted: proxies}, "10.1.2.3:1",
			[]string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		{"not an address (a Unix socket)", trusting, "@", []string{"X-Forwarded-For", "198.51.100.1"}, "@"},
		{"a host:port that is not an address", trusting, "pipe:1", nil, "pipe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x", nil)
			r.RemoteAddr = tc.remote
			for i := 0; i+1 < len(tc.header); i += 2 {
				r.Header.Add(tc.header[i], tc.header[i+1])
			}
			if tc.links != nil {
				r = r.WithContext(WithLinks(r.Context(), tc.links))
			}
			if got := ClientAddr(r); got != tc.want {
				t.Errorf("ClientAddr = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzClientAddr: whatever the forwarding headers say, an untrusted peer is
// its own address; behind a trusted proxy the answer is the peer or one of
// the headers' addresses, and never a trusted proxy while an untrusted
// address stands right of it.
func FuzzClientAddr(f *testing.F) {
	for _, s := range [][2]string{
		{"198.51.100.1, 10.0.0.9", ""}, {"", `for="[2001:db8::1]:80";proto=https, for=unknown`},
		{"[::1]:1,,  ,::ffff:10.0.0.1", "for=;for=\"\""}, {"1.2.3.4:99999", "for=[fe80::1%eth0]"},
	} {
		f.Add(s[0], s[1], true)
		f.Add(s[0], s[1], false)
	}
	links := &Links{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	f.Fuzz(func(t *testing.T, xff, forwarded string, trustedPeer bool) {
		r := httptest.NewRequest("GET", "/x", nil)
		r.RemoteAddr = "203.0.113.5:4000"
		if trustedPeer {
			r.RemoteAddr = "10.1.2.3:4000"
		}
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		if forwarded != "" {
			r.Header.Set("Forwarded", forwarded)
		}
		got := links.Client(r)
		a, err := netip.ParseAddr(got)
		if err != nil {
			t.Fatalf("client %q is not an address", got)
		}
		if !trustedPeer {
			if got != "203.0.113.5" {
				t.Fatalf("untrusted peer became %q", got)
			}
			return
		}
		// Else the peer, or a hop every hop right of which is a trusted
		// proxy's address.
		hops := forwardedFor(r.Header)
		if got == "10.1.2.3" {
			if len(hops) > 0 {
				if h, ok := addrOf(hops[len(hops)-1]); ok && !links.trustedAddr(h) {
					t.Fatalf("the proxy's address, though its hop %q is an untrusted client (%q)", h, hops)
				}
			}
			return
		}
		for i := len(hops) - 1; ; i-- {
			if i < 0 {
				t.Fatalf("client %q is neither the peer nor a hop of %q", got, hops)
			}
			h, ok := addrOf(hops[i])
			if !ok {
				t.Fatalf("client %q: hop %q is not an address, the walk should have stopped (%q)", got, hops[i], hops)
			}
			if h == a {
				return
			}
			if !links.trustedAddr(h) {
				t.Fatalf("client %q lies left of the untrusted hop %q (%q)", got, hops[i], hops)
			}
		}
	})
}
