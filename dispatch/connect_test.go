package dispatch

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeSelfSigned(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func serialOf(t *testing.T, f *tlsFiles) int64 {
	t.Helper()
	c, err := f.clientCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

// A rotated client certificate is used from the next handshake on, without a restart; a
// file caught half-written keeps the last good one.
func TestClientCertificateRotatesWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, certFile, keyFile, 1)
	opts, _, err := Connection{CertFile: certFile, KeyFile: keyFile}.Options()
	if err != nil {
		t.Fatal(err)
	}
	if opts.TLS == nil || opts.TLS.GetClientCertificate == nil {
		t.Fatal("a client certificate does not turn TLS on")
	}
	f := &tlsFiles{certFile: certFile, keyFile: keyFile, logger: loggerOr(nil)}
	if err := f.load(); err != nil {
		t.Fatal(err)
	}
	if got := serialOf(t, f); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}
	writeSelfSigned(t, certFile, keyFile, 2)
	f.checked = time.Time{} // as if reloadCheck had passed
	if got := serialOf(t, f); got != 2 {
		t.Fatalf("after rotation serial %d, want 2", got)
	}
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERT"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.checked = time.Time{}
	if got := serialOf(t, f); got != 2 {
		t.Fatalf("a broken file replaced the good certificate: serial %d", got)
	}
}

// Files that cannot be used stop the start with the variable's name.
func TestBadTLSFilesNameTheirVariable(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		conn Connection
		want string
	}{
		{Connection{CertFile: junk, KeyFile: junk}, "TEMPORAL_TLS_CERT"},
		{Connection{CAFile: junk}, "TEMPORAL_TLS_CA"},
		{Connection{CAFile: filepath.Join(dir, "missing.pem")}, "TEMPORAL_TLS_CA"},
	} {
		if _, _, err := c.conn.Options(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %s", c.conn, err, c.want)
		}
	}
	opts, creds, err := Connection{APIKey: "k"}.Options()
	if err != nil || creds == nil || opts.TLS != nil {
		t.Errorf("an API key alone: %v %v %v (the SDK turns TLS on itself)", opts.TLS, creds, err)
	}
}
