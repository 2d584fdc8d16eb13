package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store/storetest"
	"github.com/hookflow/hookflow/temporaltest"
)

// testPKI is a CA with a server certificate for temporal.test and a client certificate,
// written as PEM files.
type testPKI struct {
	dir                       string
	caFile, certFile, keyFile string
	serverCert                tls.Certificate
	pool                      *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hookflow test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, client bool) (certPEM, keyPEM []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "hookflow"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
		if client {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		} else {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.DNSNames = []string{"temporal.test"}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	}
	p := &testPKI{dir: dir, caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "client.pem"), keyFile: filepath.Join(dir, "client-key.pem")}
	write := func(path string, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	clientCert, clientKey := issue(2, true)
	write(p.certFile, clientCert)
	write(p.keyFile, clientKey)
	serverCert, serverKey := issue(3, false)
	if p.serverCert, err = tls.X509KeyPair(serverCert, serverKey); err != nil {
		t.Fatal(err)
	}
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	return p
}

// tlsProxy terminates TLS in front of the dev server, as a secured cluster or Temporal
// Cloud would, and records the authorization header of every call.
type tlsProxy struct {
	addr string
	mu   sync.Mutex
	auth map[string]int
}

func startTLSProxy(t *testing.T, pki *testPKI, requireClientCert bool) *tlsProxy {
	t.Helper()
	p := &tlsProxy{auth: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: temporal.FrontendHostPort()})
	rp.FlushInterval = -1
	// gRPC to the dev server: HTTP/2 without TLS.
	var backend http.Protocols
	backend.SetUnencryptedHTTP2(true)
	rp.Transport = &http.Transport{Protocols: &backend}
	cfg := &tls.Config{Certificates: []tls.Certificate{pki.serverCert}, NextProtos: []string{"h2"}}
	if requireClientCert {
		cfg.ClientCAs, cfg.ClientAuth = pki.pool, tls.RequireAndVerifyClientCert
	}
	srv := &http.Server{TLSConfig: cfg, ErrorLog: nil, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.auth[r.Header.Get("Authorization")]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	})}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP2(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

func (p *tlsProxy) calls(auth string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.auth[auth]
}

// deliversOne posts an event and waits for it to be delivered, through whatever
// connection the app has to Temporal.
func deliversOne(t *testing.T, app *App) {
	t.Helper()
	key := app.NewAccount("secured")
	recv := newReceiver(t, always(http.StatusOK))
	app.Subscribe(key, recv.URL, nil)
	out := app.Publish(key, map[string]any{"event_type": "a.b"})
	app.WaitStatus(key, out.Deliveries[0].ID, "delivered", 60*time.Second)
}

// hookflow reaches Temporal through a TLS endpoint that requires a client certificate;
// without one it refuses to start, saying which settings to check.
func TestTemporalOverMutualTLS(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	proxy := startTLSProxy(t, pki, true)
	app := startApp(t, AppOptions{TemporalAddress: proxy.addr, Env: []string{
		"TEMPORAL_TLS_CA=" + pki.caFile, "TEMPORAL_TLS_CERT=" + pki.certFile, "TEMPORAL_TLS_KEY=" + pki.keyFile,
		"TEMPORAL_TLS_SERVER_NAME=temporal.test",
	}})
	deliversOne(t, app)
	if proxy.calls("") == 0 {
		t.Error("no call went through the TLS endpoint")
	}

	out, code := runToExit(t, []string{"TEMPORAL_ADDRESS=" + proxy.addr, "TEMPORAL_NAMESPACE=" + nextNamespace(t),
		"TEMPORAL_TLS_CA=" + pki.caFile, "TEMPORAL_TLS_SERVER_NAME=temporal.test"})
	if code == 0 || !strings.Contains(out, "refused the connection") || !strings.Contains(out, "TEMPORAL_TLS_CERT") {
		t.Errorf("without a client certificate: exit %d, output:\n%s", code, tail(out, 2000))
	}
	out, code = runToExit(t, []string{"TEMPORAL_TLS_CERT=" + pki.certFile})
	if code == 0 || !strings.Contains(out, "TEMPORAL_TLS_KEY") {
		t.Errorf("a certificate without its key: exit %d, output:\n%s", code, tail(out, 2000))
	}
}

// With TEMPORAL_API_KEY every call carries the key as Temporal Cloud expects it.
func TestTemporalAPIKeyIsSent(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	proxy := startTLSProxy(t, pki, false)
	app := startApp(t, AppOptions{TemporalAddress: proxy.addr, Env: []string{
		"TEMPORAL_TLS_CA=" + pki.caFile, "TEMPORAL_TLS_SERVER_NAME=temporal.test", "TEMPORAL_API_KEY=hf-test-api-key",
	}})
	deliversOne(t, app)
	if proxy.calls("Bearer hf-test-api-key") == 0 || proxy.calls("") != 0 {
		t.Errorf("calls by authorization header: %v, want every one with the key", proxy.auth)
	}
}

// runToExit runs `hookflow serve` on a fresh database with env until it exits (at most
// 30 s) and returns its output and exit code.
func runToExit(t *testing.T, env []string) (string, int) {
	t.Helper()
	dsn, drop := storetest.CreateDatabase(t)
	t.Cleanup(drop)
	addr, err := temporaltest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve")
	cmd.Env = append(os.Environ(), append([]string{"DATABASE_URL=" + dsn, "HOOKFLOW_HTTP_ADDR=" + addr, "TEMPORAL_ADDRESS=" + temporal.FrontendHostPort()}, env...)...)
	raw, err := cmd.CombinedOutput()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(raw), code
}
