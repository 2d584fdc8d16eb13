package egress_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/egress"
)

func TestForbidden(t *testing.T) {
	tests := []struct {
		addr string
		want string
	}{
		// Public addresses.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.215.14", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"192.0.1.255", ""},
		{"198.17.255.255", ""},
		{"198.20.0.0", ""},
		{"223.255.255.255", ""},
		{"2606:4700:4700::1111", ""},
		{"2001:4860:4860::8888", ""},
		{"2a00:1450:4001:82a::200e", ""},

		// IPv4 ranges.
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"169.254.169.254", "cloud metadata"},
		{"100.100.100.200", "cloud metadata"},
		{"192.0.0.192", "cloud metadata"},
		{"169.254.0.1", "link-local"},
		{"169.254.255.255", "link-local"},
		{"100.64.0.1", "shared address space"},
		{"100.127.255.255", "shared address space"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.254", "reserved"},
		{"192.0.0.8", "reserved"},
		{"192.88.99.1", "reserved"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"192.0.2.1", "documentation"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.200", "documentation"},

		// IPv6 ranges.
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"fc00::1", "private"},
		{"fd12:3456:789a::1", "private"},
		{"fd00:ec2::254", "cloud metadata"},
		{"fd20:ce::254", "cloud metadata"},
		{"fd00:ec2::253", "private"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"febf:ffff::1", "link-local"},
		{"fec0::1", "site-local"},
		{"feff::1", "site-local"},
		{"ff02::1", "multicast"},
		{"ff05::1:3", "multicast"},
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"2001:2::1", "benchmarking"},
		{"2001::1", "Teredo tunnel"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo tunnel"},
		{"2001:10::1", "reserved"},
		{"100::1", "reserved"},
		{"4000::1", "reserved"},
		{"::1:0:0:0:1", "reserved"},

		// IPv4-mapped.
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:7f00:1", "loopback"},
		{"::ffff:10.0.0.1", "private"},
		{"::ffff:169.254.169.254", "cloud metadata"},
		{"::ffff:0.0.0.0", "unspecified"},
		{"::ffff:8.8.8.8", ""},
		{"::ffff:127.0.0.1%eth0", "loopback"},

		// IPv4-compatible.
		{"::127.0.0.1", "loopback"},
		{"::10.1.1.1", "private"},
		{"::169.254.169.254", "cloud metadata"},
		{"::0.0.0.2", "unspecified"},
		{"::8.8.8.8", ""},

		// 6to4: 2002:AABB:CCDD::/48 tunnels to AA.BB.CC.DD.
		{"2002:7f00:1::1", "loopback"},
		{"2002:a00:1::", "private"},
		{"2002:c0a8:101::1", "private"},
		{"2002:a9fe:a9fe::", "cloud metadata"},
		{"2002:0:0::1", "unspecified"},
		{"2002:808:808::1", ""},

		// NAT64, well-known prefix.
		{"64:ff9b::127.0.0.1", "loopback"},
		{"64:ff9b::a00:1", "private"},
		{"64:ff9b::169.254.169.254", "cloud metadata"},
		{"64:ff9b::8.8.8.8", ""},

		// NAT64, local-use prefix: the IPv4 address may sit at any RFC 6052 position.
		{"64:ff9b:1::10.0.0.1", "private"},     // /96
		{"64:ff9b:1:0:a:0:1:0", "private"},     // /64: 10.0.0.1 in bytes 9-12
		{"64:ff9b:1:7f00:0:100::", "loopback"}, // /48: 127.0.0.1 in bytes 6, 7, 9, 10
		{"64:ff9b:1:808:8:808:808:808", ""},    // 8.8.8.8 at every position
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			ip, err := netip.ParseAddr(tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if got := egress.Forbidden(ip); got != tc.want {
				t.Fatalf("Forbidden(%s) = %q, want %q", tc.addr, got, tc.want)
			}
		})
	}
}

func TestForbiddenRefusesTheZeroAddr(t *testing.T) {
	if got := egress.Forbidden(netip.Addr{}); got == "" {
		t.Fatal("the zero netip.Addr is allowed")
	}
}

func TestCheckURL(t *testing.T) {
	resolver := staticResolver(t, map[string][]string{
		"public.test":   {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"internal.test": {"10.1.2.3"},
		"mixed.test":    {"93.184.215.14", "fd00:ec2::254"},
		"metadata.test": {"169.254.169.254"},
		"empty.test":    {},
	})
	tests := []struct {
		url          string
		allowPrivate bool
		want         string // the error message, or "" for success
	}{
		{url: "http://8.8.8.8/hook", want: ""},
		{url: "https://1.1.1.1:8443/hook?x=1", want: ""},
		{url: "https://[2606:4700:4700::1111]/hook", want: ""},
		{url: "https://public.test/webhooks", want: ""},
		{url: "https://PUBLIC.test./webhooks", want: ""},
		{url: "http://127.0.0.1:8080/x", want: "url: resolves to a loopback address (127.0.0.1), which is not allowed"},
		{url: "http://[::1]/x", want: "url: resolves to a loopback address (::1), which is not allowed"},
		{url: "http://[::ffff:127.0.0.1]/x", want: "url: resolves to a loopback address (::ffff:127.0.0.1), which is not allowed"},
		{url: "http://10.0.0.1/", want: "url: resolves to a private address (10.0.0.1), which is not allowed"},
		{url: "http://0.0.0.0:9000/", want: "url: resolves to an unspecified address (0.0.0.0), which is not allowed"},
		{url: "http://169.254.169.254/latest/meta-data/", want: "url: resolves to a cloud metadata address (169.254.169.254), which is not allowed"},
		{url: "http://[fe80::1%25eth0]/", want: "url: resolves to a link-local address (fe80::1%eth0), which is not allowed"},
		{url: "http://internal.test/", want: "url: resolves to a private address, which is not allowed"},
		{url: "http://metadata.test/", want: "url: resolves to a cloud metadata address, which is not allowed"},
		// One forbidden answer among public ones is enough: the dial may pick it.
		{url: "http://mixed.test/", want: "url: resolves to a cloud metadata address, which is not allowed"},
		{url: "http://nowhere.test/", want: "url: host does not resolve"},
		{url: "http://empty.test/", want: "url: host does not resolve"},
		// Browsers read this as 127.0.0.1; Go does not, so it is just a name.
		{url: "http://2130706433/", want: "url: host does not resolve"},
		{url: "http://127.0.0.1/", allowPrivate: true, want: ""},
		{url: "http://internal.test/", allowPrivate: true, want: ""},
		{url: "http://nowhere.test/", allowPrivate: true, want: "url: host does not resolve"},
		{url: "ftp://8.8.8.8/", want: "url: must be an http or https URL"},
		{url: "8.8.8.8/hook", want: "url: must be an http or https URL"},
		{url: "http:///hook", want: "url: has no host"},
		{url: "http://[::1/", want: "url: is not a valid URL"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			guard := egress.Guard{AllowPrivate: tc.allowPrivate, Resolver: resolver}
			err := guard.CheckURL(context.Background(), tc.url)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckURL: %v, want success", err)
				}
				return
			}
			assertInvalidURL(t, err, tc.want)
		})
	}
}

func TestCheckURLLocalhost(t *testing.T) {
	// The system resolver, as in production: localhost comes from the hosts file.
	err := egress.Guard{}.CheckURL(context.Background(), "http://localhost:8080/hook")
	if err == nil || !strings.Contains(hookflow.ErrorMessage(err), "loopback address") {
		t.Fatalf("CheckURL(localhost) = %v, want a loopback refusal", err)
	}
	if hookflow.ErrorCode(err) != hookflow.EINVALID || hookflow.ErrorField(err) != "url" {
		t.Fatalf("CheckURL(localhost) = %#v, want an EINVALID error on url", err)
	}
	if err := (egress.Guard{AllowPrivate: true}).CheckURL(context.Background(), "http://localhost:8080/hook"); err != nil {
		t.Fatalf("CheckURL(localhost) with AllowPrivate: %v", err)
	}
}

func assertInvalidURL(t *testing.T, err error, message string) {
	t.Helper()
	var appErr *hookflow.Error
	if !errors.As(err, &appErr) {
		t.Fatalf("err = %v (%T), want a *hookflow.Error", err, err)
	}
	if appErr.Code != hookflow.EINVALID || appErr.Field != "url" || appErr.Message != message {
		t.Fatalf("err = %+v, want code %q, field url, message %q", *appErr, hookflow.EINVALID, message)
	}
}

// target is an HTTP server on 127.0.0.1 that counts the requests reaching it.
func target(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		handler(w, r)
	}))
	t.Cleanup(server.Close)
	return server, &hits
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "received") }

func TestClientRefusesLoopback(t *testing.T) {
	server, hits := target(t, ok)
	_, err := egress.Guard{}.Client().Get(server.URL)
	if !errors.Is(err, egress.ErrForbiddenAddress) {
		t.Fatalf("Get(%s): err = %v, want ErrForbiddenAddress", server.URL, err)
	}
	if !strings.Contains(err.Error(), "dial refused: the endpoint's host resolves to a loopback address") {
		t.Errorf("error %q should say why the address was refused", err)
	}
	// The reason a delivery record shows must not name the address.
	var refused *egress.RefusedDial
	if !errors.As(err, &refused) || strings.Contains(refused.Error(), "127.0.0.1") {
		t.Errorf("the refusal %v should be a RefusedDial that does not name the address", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the refused request reached the server")
	}
}

func TestClientRefusesLocalhostByName(t *testing.T) {
	server, hits := target(t, ok)
	u, err := url.Parse(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = egress.Guard{}.Client().Get("http://localhost:" + u.Port() + "/")
	if !errors.Is(err, egress.ErrForbiddenAddress) {
		t.Fatalf("err = %v, want ErrForbiddenAddress", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the refused request reached the server")
	}
}

func TestClientAllowPrivateReachesLoopback(t *testing.T) {
	server, hits := target(t, ok)
	resp, err := egress.Guard{AllowPrivate: true}.Client().Get(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "received" || hits.Load() != 1 {
		t.Fatalf("got %d %q after %d hits, want 200 \"received\" after 1", resp.StatusCode, body, hits.Load())
	}
}

// The address checked when the URL was saved is not the one dialled later: the dial-time
// check is what stops a name that answers with a public address first and a private one
// at send time.
func TestClientCatchesDNSRebinding(t *testing.T) {
	server, hits := target(t, ok)
	var rebound atomic.Bool
	resolver := newResolver(t, func(name string) ([]netip.Addr, bool) {
		if name != "rebind.test" {
			return nil, false
		}
		if rebound.Load() {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, true
		}
		return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, true
	})
	_, port, err := net.SplitHostPort(strings.TrimPrefix(server.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://rebind.test:" + port + "/hook"
	guard := egress.Guard{Resolver: resolver}

	if err := guard.CheckURL(context.Background(), endpoint); err != nil {
		t.Fatalf("CheckURL before rebinding: %v", err)
	}
	rebound.Store(true)
	_, err = guard.Client().Get(endpoint)
	if !errors.Is(err, egress.ErrForbiddenAddress) {
		t.Fatalf("Get after rebinding: err = %v, want ErrForbiddenAddress", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the rebound request reached the server")
	}

	// The same name through the same resolver does reach the server when private
	// addresses are allowed, so the refusal above was the guard's doing.
	resp, err := egress.Guard{AllowPrivate: true, Resolver: resolver}.Client().Get(endpoint)
	if err != nil {
		t.Fatalf("Get with AllowPrivate: %v", err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("server hits = %d, want 1", hits.Load())
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	var redirectTargetHits atomic.Int32
	server, hits := target(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			redirectTargetHits.Add(1)
			return
		}
		http.Redirect(w, r, "/moved", http.StatusFound)
	})
	resp, err := egress.Guard{AllowPrivate: true}.Client().Post(server.URL+"/hook", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status = %d, want the 302 itself", resp.StatusCode)
	}
	if got := resp.Header.Get("Location"); got != "/moved" {
		t.Fatalf("Location = %q, want /moved", got)
	}
	if hits.Load() != 1 || redirectTargetHits.Load() != 0 {
		t.Fatalf("server hits = %d, redirect target hits = %d, want 1 and 0", hits.Load(), redirectTargetHits.Load())
	}
}

func TestClientIgnoresProxyEnvironment(t *testing.T) {
	proxy, proxyHits := target(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "proxied")
	})
	server, serverHits := target(t, ok)
	for _, name := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		t.Setenv(name, proxy.URL)
	}
	for _, name := range []string{"NO_PROXY", "no_proxy"} {
		t.Setenv(name, "")
	}
	// A name, not a loopback literal: the environment's proxy rules never proxy those.
	resolver := staticResolver(t, map[string][]string{"endpoint.test": {"127.0.0.1"}})
	_, port, err := net.SplitHostPort(strings.TrimPrefix(server.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, "http://endpoint.test:"+port+"/", nil)
	if err != nil {
		t.Fatal(err)
	}

	// The environment does name the proxy for this request, so a client honouring it
	// would have gone there.
	if proxyURL, err := http.ProxyFromEnvironment(req); err != nil || proxyURL == nil || proxyURL.Host != strings.TrimPrefix(proxy.URL, "http://") {
		t.Fatalf("ProxyFromEnvironment = %v, %v; the test environment does not set the proxy", proxyURL, err)
	}

	resp, err := egress.Guard{AllowPrivate: true, Resolver: resolver}.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if proxyHits.Load() != 0 || serverHits.Load() != 1 {
		t.Fatalf("proxy hits = %d, server hits = %d, want 0 and 1", proxyHits.Load(), serverHits.Load())
	}
}

func TestClientSettings(t *testing.T) {
	client := egress.Guard{}.Client()
	if client.Timeout != 0 {
		t.Errorf("client Timeout = %s, want none: timeouts come from each request's context", client.Timeout)
	}
	transport, isTransport := client.Transport.(*http.Transport)
	if !isTransport {
		t.Fatalf("Transport is %T, want *http.Transport", client.Transport)
	}
	if transport.Proxy != nil {
		t.Error("Transport.Proxy is set")
	}
	if transport.TLSClientConfig == nil || transport.TLSClientConfig.MinVersion != tls.VersionTLS12 {
		t.Error("TLS minimum version is not 1.2")
	}
	if transport.MaxIdleConnsPerHost != 16 || transport.IdleConnTimeout != 90*time.Second {
		t.Errorf("idle pool: %d per host, %s timeout; want 16 and 90s", transport.MaxIdleConnsPerHost, transport.IdleConnTimeout)
	}
	if transport.ResponseHeaderTimeout != 0 {
		t.Errorf("ResponseHeaderTimeout = %s, want none", transport.ResponseHeaderTimeout)
	}
}

func TestClientHonoursRequestDeadline(t *testing.T) {
	server, _ := target(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = egress.Guard{AllowPrivate: true}.Client().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context deadline", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("request took %s despite a 100ms deadline", elapsed)
	}
}
