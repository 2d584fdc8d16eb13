package dispatch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Connection is how hookflow reaches Temporal beyond its address: TLS, a client
// certificate (mTLS) and an API key (Temporal Cloud), named as Temporal's own tools name
// them.
type Connection struct {
	// TLS turns TLS on with the system's roots (implied by the other TLS settings and by
	// an API key).
	TLS bool
	// CertFile and KeyFile are the client certificate and its key (TEMPORAL_TLS_CERT,
	// TEMPORAL_TLS_KEY); CAFile the server's CA (TEMPORAL_TLS_CA); ServerName the name
	// the server's certificate must carry (TEMPORAL_TLS_SERVER_NAME).
	CertFile, KeyFile, CAFile, ServerName string
	// APIKey is sent as "authorization: Bearer <key>" on every call (TEMPORAL_API_KEY).
	APIKey string
	Logger *slog.Logger
}

// Options are the connection options and credentials of every Temporal client hookflow
// makes. The files are read now, so a bad one stops the process with a message naming
// its variable, and read again when they change, so certificates rotate without a
// restart.
func (c Connection) Options() (client.ConnectionOptions, client.Credentials, error) {
	var creds client.Credentials
	if c.APIKey != "" {
		creds = client.NewAPIKeyStaticCredentials(c.APIKey)
	}
	if !c.TLS && c.CertFile == "" && c.CAFile == "" && c.ServerName == "" {
		// With an API key alone the SDK turns TLS on with the system's roots.
		return client.ConnectionOptions{}, creds, nil
	}
	files := &tlsFiles{certFile: c.CertFile, keyFile: c.KeyFile, caFile: c.CAFile, logger: loggerOr(c.Logger)}
	if err := files.load(); err != nil {
		return client.ConnectionOptions{}, nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CertFile != "" {
		cfg.GetClientCertificate = files.clientCertificate
	}
	if c.CAFile != "" {
		// The server is checked against the CA file as it is at each handshake (Go's own
		// check reads a fixed pool): verification is done here instead, as strictly.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return files.verify(cs, c.ServerName) }
	}
	return client.ConnectionOptions{TLS: cfg}, creds, nil
}

// tlsFiles holds the certificate files and what was last read from them.
type tlsFiles struct {
	certFile, keyFile, caFile string
	logger                    *slog.Logger

	mu      sync.Mutex
	stamp   string
	cert    *tls.Certificate
	roots   *x509.CertPool
	checked time.Time
}

// reloadCheck bounds how often the files are looked at again: a handshake is rare, but a
// storm of reconnections should not each stat three files.
const reloadCheck = time.Second

func fileStamp(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%s:%d:%d;", p, st.Size(), st.ModTime().UnixNano())
		}
	}
	return b.String()
}

// load reads the files, naming the variable of one that cannot be used.
func (f *tlsFiles) load() error {
	stamp := fileStamp(f.certFile, f.keyFile, f.caFile)
	var cert *tls.Certificate
	if f.certFile != "" {
		c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err != nil {
			return fmt.Errorf("TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY: cannot load the client certificate: %w", err)
		}
		cert = &c
	}
	var roots *x509.CertPool
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return fmt.Errorf("TEMPORAL_TLS_CA: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return errors.New("TEMPORAL_TLS_CA: no PEM certificate in " + f.caFile)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stamp, f.cert, f.roots, f.checked = stamp, cert, roots, time.Now()
	return nil
}

// refresh reads the files again when they changed. A file caught half-written keeps the
// last good one in use.
func (f *tlsFiles) refresh() {
	f.mu.Lock()
	due := time.Since(f.checked) >= reloadCheck
	if due {
		f.checked = time.Now()
	}
	old := f.stamp
	f.mu.Unlock()
	if !due || fileStamp(f.certFile, f.keyFile, f.caFile) == old {
		return
	}
	if err := f.load(); err != nil {
		f.logger.Warn("the Temporal TLS files changed but cannot be used; keeping the last good ones", "error", err)
		return
	}
	f.logger.Info("the Temporal TLS files changed; new connections use them")
}

func (f *tlsFiles) clientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	f.refresh()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cert, nil
}

// verify checks the server's chain against the CA file and its name against serverName
// (or the host dialled), as crypto/tls would.
func (f *tlsFiles) verify(cs tls.ConnectionState, serverName string) error {
	f.refresh()
	f.mu.Lock()
	roots := f.roots
	f.mu.Unlock()
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the Temporal server sent no certificate")
	}
	name := serverName
	if name == "" {
		name = cs.ServerName
	}
	opts := x509.VerifyOptions{Roots: roots, DNSName: name, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	return err
}

// Refused reports whether a Temporal error means the server will not take this client as
// it is configured (a certificate it rejects or lacks, a key it refuses), which waiting
// does not fix.
func Refused(err error) bool {
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied:
		return true
	}
	msg := err.Error()
	for _, sign := range []string{"tls: ", "x509: ", "certificate"} {
		if strings.Contains(msg, sign) {
			return true
		}
	}
	return false
}
