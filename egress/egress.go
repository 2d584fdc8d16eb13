// Package egress guards outbound webhook requests against server-side request forgery:
// subscribers choose the URLs hookflow posts to, so without a guard anyone with an API key
// could make hookflow reach its own loopback services, the private network around it or a
// cloud metadata endpoint, and read the answer back from the delivery record.
//
// The guard works twice: CheckURL when a URL is saved, to give the user a clear error, and
// the Client's dialer on every connection, because DNS can answer differently at send time
// (DNS rebinding) and only the address actually dialled counts.
package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/hookflow/hookflow"
)

// ErrForbiddenAddress is wrapped by the errors of dials the guard refuses, so callers can
// tell a refused address from a network failure.
var ErrForbiddenAddress = errors.New("dial refused")

// RefusedDial is the error of a dial the guard refused. Its text names the kind of
// address, never the address: it is shown to the subscription's owner, who may not learn
// what the internal network's names resolve to (the net.OpError around it does name the
// address, so callers showing the reason take this error's text alone).
type RefusedDial struct {
	Reason string
}

func (e *RefusedDial) Error() string {
	if e.Reason == "" {
		return ErrForbiddenAddress.Error() + ": the address could not be checked"
	}
	return ErrForbiddenAddress.Error() + ": the endpoint's host resolves to " + describe(e.Reason)
}

// Is makes errors.Is(err, ErrForbiddenAddress) true.
func (e *RefusedDial) Is(target error) bool { return target == ErrForbiddenAddress }

// Reasons Forbidden gives. They read as "a <reason> address".
const (
	reasonInvalid       = "invalid"
	reasonUnspecified   = "unspecified"
	reasonLoopback      = "loopback"
	reasonPrivate       = "private"
	reasonLinkLocal     = "link-local"
	reasonSiteLocal     = "site-local"
	reasonCloudMetadata = "cloud metadata"
	reasonShared        = "shared address space"
	reasonMulticast     = "multicast"
	reasonBroadcast     = "broadcast"
	reasonReserved      = "reserved"
	reasonBenchmarking  = "benchmarking"
	reasonDocumentation = "documentation"
	reasonTeredo        = "Teredo tunnel"
)

type rule struct {
	prefix netip.Prefix
	reason string
}

func rules(reason string, prefixes ...string) []rule {
	out := make([]rule, len(prefixes))
	for i, p := range prefixes {
		out[i] = rule{netip.MustParsePrefix(p), reason}
	}
	return out
}

// ipv4Rules are checked in order, so the specific cloud metadata addresses come before the
// ranges that contain them and the message names the real danger.
var ipv4Rules = concat(
	// AWS, GCP, Azure, OpenStack…; Alibaba; Oracle.
	rules(reasonCloudMetadata, "169.254.169.254/32", "100.100.100.200/32", "192.0.0.192/32"),
	// Linux connects 0.0.0.0 (and the rest of "this network") to the local host.
	rules(reasonUnspecified, "0.0.0.0/8"),
	rules(reasonLoopback, "127.0.0.0/8"),
	rules(reasonPrivate, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"),
	rules(reasonLinkLocal, "169.254.0.0/16"),
	// Carrier-grade NAT: private to an ISP or a cloud, never a public endpoint.
	rules(reasonShared, "100.64.0.0/10"),
	rules(reasonBroadcast, "255.255.255.255/32"),
	rules(reasonMulticast, "224.0.0.0/4"),
	rules(reasonDocumentation, "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"),
	rules(reasonBenchmarking, "198.18.0.0/15"),
	// IETF protocol assignments, the deprecated 6to4 relay anycast, and class E.
	rules(reasonReserved, "192.0.0.0/24", "192.88.99.0/24", "240.0.0.0/4"),
)

// ipv6Rules are checked after the forms that embed an IPv4 address have been reduced to it.
var ipv6Rules = concat(
	// AWS and GCP instance metadata over IPv6; both lie inside fc00::/7.
	rules(reasonCloudMetadata, "fd00:ec2::254/128", "fd20:ce::254/128"),
	rules(reasonUnspecified, "::/128"),
	rules(reasonLoopback, "::1/128"),
	// Unique local addresses, the IPv6 counterpart of 10/8 and friends.
	rules(reasonPrivate, "fc00::/7"),
	rules(reasonLinkLocal, "fe80::/10"),
	// Deprecated, but hosts may still configure and route it.
	rules(reasonSiteLocal, "fec0::/10"),
	rules(reasonMulticast, "ff00::/8"),
	rules(reasonDocumentation, "2001:db8::/32", "3fff::/20"),
	rules(reasonBenchmarking, "2001:2::/48"),
	// Teredo tunnels to an IPv4 address that cannot be checked reliably: the client's is
	// obfuscated in the address and the server's may relay anywhere.
	rules(reasonTeredo, "2001::/32"),
	// The rest of the IETF protocol assignments.
	rules(reasonReserved, "2001::/23"),
)

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	// IPv4-compatible addresses (deprecated) carry the IPv4 address in the last 32 bits;
	// :: and ::1 share the prefix and are matched first.
	ipv4Compatible = netip.MustParsePrefix("::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	// NAT64 gateways translate these to the IPv4 address they embed, so they reach
	// whatever that IPv4 address reaches.
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")
	nat64LocalUse  = netip.MustParsePrefix("64:ff9b:1::/48")
)

func concat(groups ...[]rule) []rule {
	var out []rule
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// Forbidden reports why ip may not be dialled, as a word or two that reads "a <reason>
// address" ("loopback", "private", "link-local", "cloud metadata", "unspecified",
// "multicast", "broadcast", "shared address space", "reserved", …), or "" when it may.
// IPv6 forms that embed an IPv4 address get the verdict of that IPv4 address.
func Forbidden(ip netip.Addr) string {
	if !ip.IsValid() {
		return reasonInvalid
	}
	// Prefix.Contains never matches a zoned address; the zone only picks an interface.
	ip = ip.WithZone("")
	if ip.Is4In6() {
		return Forbidden(ip.Unmap())
	}
	if ip.Is4() {
		return match(ip, ipv4Rules)
	}
	if reason := match(ip, ipv6Rules); reason != "" {
		return reason
	}
	b := ip.As16()
	switch {
	case ipv4Compatible.Contains(ip):
		return Forbidden(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(ip):
		return Forbidden(netip.AddrFrom4([4]byte(b[2:6])))
	case nat64WellKnown.Contains(ip):
		return Forbidden(netip.AddrFrom4([4]byte(b[12:16])))
	case nat64LocalUse.Contains(ip):
		// A local-use NAT64 prefix may be /48, /56, /64 or /96 long (RFC 6052 §2.2), and
		// which one the network uses is not knowable from here, so every placement of the
		// IPv4 address must pass (byte 8 is never part of it). The shorter placements land
		// on the zero padding of the common /96 form, giving 0.x.x.x, which no translator
		// forwards to; those are skipped, or no /96 address could ever pass.
		shorterPlacements := [][4]byte{
			{b[6], b[7], b[9], b[10]},   // /48
			{b[7], b[9], b[10], b[11]},  // /56
			{b[9], b[10], b[11], b[12]}, // /64
		}
		for _, embedded := range shorterPlacements {
			if embedded[0] == 0 {
				continue
			}
			if reason := Forbidden(netip.AddrFrom4(embedded)); reason != "" {
				return reason
			}
		}
		return Forbidden(netip.AddrFrom4([4]byte(b[12:16])))
	case !globalUnicast6.Contains(ip):
		// Everything outside 2000::/3 is unassigned or special; nothing a subscriber could
		// legitimately serve webhooks from.
		return reasonReserved
	}
	return ""
}

func match(ip netip.Addr, table []rule) string {
	for _, r := range table {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	return ""
}

// describe renders a refusal as "a private address", choosing the article.
func describe(reason string) string {
	article := "a"
	switch reason[0] {
	case 'a', 'e', 'i', 'o', 'u':
		article = "an"
	}
	return article + " " + reason + " address"
}

// Guard decides whether hosts may be contacted.
type Guard struct {
	// AllowPrivate lets every address through, for development and for deployments whose
	// subscribers are on the same private network.
	AllowPrivate bool
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver *net.Resolver
}

func (g Guard) resolver() *net.Resolver {
	if g.Resolver != nil {
		return g.Resolver
	}
	return net.DefaultResolver
}

// MaxResponseHeaderBytes is the most of an endpoint's response headers a send reads.
const MaxResponseHeaderBytes = 64 << 10

// urlLookupTimeout bounds the DNS lookup of CheckURL.
const urlLookupTimeout = 5 * time.Second

// CheckURL checks that rawURL is an http or https URL whose host resolves, and, unless
// AllowPrivate, that none of the addresses it resolves to is forbidden: one bad address is
// enough, since a dial may pick any of them. The error is a hookflow EINVALID error for the
// field "url" whose message is safe to show to the user.
func (g Guard) CheckURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return hookflow.Invalid("url", "is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return hookflow.Invalid("url", "must be an http or https URL")
	}
	host := u.Hostname()
	if host == "" {
		return hookflow.Invalid("url", "has no host")
	}

	var addrs []netip.Addr
	literal, err := netip.ParseAddr(host)
	if err == nil {
		addrs = []netip.Addr{literal}
	} else {
		// A request waits on this lookup: a silent DNS server gets a few seconds, not the
		// resolver's full patience.
		lookupCtx, cancel := context.WithTimeout(ctx, urlLookupTimeout)
		addrs, err = g.resolver().LookupNetIP(lookupCtx, "ip", host)
		cancel()
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr) && !dnsErr.IsNotFound && (dnsErr.IsTimeout || dnsErr.IsTemporary):
			return hookflow.Invalid("url", "host %s could not be resolved right now; try again later", host)
		case err != nil || len(addrs) == 0:
			return hookflow.Invalid("url", "host does not resolve")
		}
	}
	if g.AllowPrivate {
		return nil
	}
	for _, addr := range addrs {
		if reason := Forbidden(addr); reason != "" {
			if literal.IsValid() {
				return hookflow.Invalid("url", "resolves to %s (%s), which is not allowed", describe(reason), addr)
			}
			// The address a name resolves to is left out: the caller would otherwise learn
			// the internal network's names and addresses one question at a time.
			return hookflow.Invalid("url", "resolves to %s, which is not allowed", describe(reason))
		}
	}
	return nil
}

// Client returns an *http.Client for webhook sends. Unless AllowPrivate, its dialer
// refuses forbidden addresses at connect time, after resolution, which also defeats DNS
// rebinding. It never uses a proxy (a proxy would dial on its behalf, out of the guard's
// sight, and the environment should not silently reroute webhooks) and never follows
// redirects (a redirect would let an endpoint send hookflow to an unchecked URL, and the
// 3xx is the attempt's outcome anyway). It sets no overall timeout: each send's timeout
// comes from its context.
func (g Guard) Client() *http.Client {
	dialer := &net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
		Resolver:  g.Resolver,
	}
	if !g.AllowPrivate {
		dialer.Control = refuseForbidden
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Deliveries fan out to many endpoints and repeat to the same ones, so keep a few
		// connections per endpoint warm without hoarding sockets.
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		// An endpoint chooses how much it answers: Go's default would let each attempt in
		// flight hold 10 MB of headers (hundreds run at once).
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
	}
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// refuseForbidden is a net.Dialer Control function: it runs with the address about to be
// connected, after DNS, once per address tried.
func refuseForbidden(_, address string, _ syscall.RawConn) error {
	addrPort, err := netip.ParseAddrPort(address)
	if err != nil {
		// Only IP:port addresses reach Control for TCP and UDP; anything else is unexpected,
		// and refusing is the safe answer.
		return &RefusedDial{}
	}
	if reason := Forbidden(addrPort.Addr()); reason != "" {
		return &RefusedDial{Reason: reason}
	}
	return nil
}
