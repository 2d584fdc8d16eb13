// Command receiver is a webhook endpoint for trying hookflow locally: it prints every
// request, verifies its Standard Webhooks signature when given the subscription's key, and
// answers with a status you choose, failing the first requests on demand.
//
//	go run ./examples/receiver -addr 127.0.0.1:9000 -fail 2 -accepted 1 -secret whsec_...
//	go run ./examples/receiver -public-key whpk_...
//
// -secret takes a whsec_ secret (v1 signatures), -public-key a whpk_ public key (v1a
// signatures); give at most one. Without either, signatures are not checked.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"github.com/hookflow/hookflow/signing"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	status := flag.Int("status", http.StatusOK, "status to answer with")
	fail := flag.Int("fail", 0, "answer 500 to this many requests first")
	accepted := flag.Int("accepted", 0, "then answer 202 Accepted to this many requests")
	secret := flag.String("secret", os.Getenv("WEBHOOK_SECRET"), "the subscription's whsec_ secret_key, to verify v1 signatures")
	publicKey := flag.String("public-key", os.Getenv("WEBHOOK_PUBLIC_KEY"), "the subscription's whpk_ public key, to verify v1a signatures")
	flag.Parse()

	verifier, err := newVerifier(*secret, *publicKey)
	if err != nil {
		log.Fatal(err)
	}
	// Bound before it says so: a port another receiver holds is an error, not a silence.
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("receiver listening on http://%s", listener.Addr())
	log.Fatal(http.Serve(listener, newHandler(os.Stdout, verifier, *status, *fail, *accepted)))
}

// newVerifier returns the verifier for the one key given, or nil when none is.
func newVerifier(secret, publicKey string) (*signing.Verifier, error) {
	switch {
	case secret != "" && publicKey != "":
		return nil, errors.New("give either -secret (whsec_…) or -public-key (whpk_…), not both (WEBHOOK_SECRET and WEBHOOK_PUBLIC_KEY set them too)")
	case secret != "":
		// Bare base64 stays accepted as a secret, as Standard Webhooks libraries accept it.
		if strings.HasPrefix(secret, signing.SigningKeyPrefix) || strings.HasPrefix(secret, signing.PublicKeyPrefix) {
			return nil, fmt.Errorf("-secret takes the subscription's %s secret%s", signing.SecretPrefix, keyHint(secret))
		}
		verifier, err := signing.NewVerifier(secret)
		if err != nil {
			return nil, fmt.Errorf("-secret: %w", err)
		}
		return verifier, nil
	case publicKey != "":
		if !strings.HasPrefix(publicKey, signing.PublicKeyPrefix) {
			return nil, fmt.Errorf("-public-key takes the subscription's %s public key%s", signing.PublicKeyPrefix, keyHint(publicKey))
		}
		verifier, err := signing.NewVerifier(publicKey)
		if err != nil {
			return nil, fmt.Errorf("-public-key: %w", err)
		}
		return verifier, nil
	}
	return nil, nil
}

// keyHint explains the usual mix-ups between the three kinds of key.
func keyHint(key string) string {
	switch {
	case strings.HasPrefix(key, signing.SigningKeyPrefix):
		return "; this is a " + signing.SigningKeyPrefix + " signing key, which stays with hookflow: give its " + signing.PublicKeyPrefix + " public key to -public-key"
	case strings.HasPrefix(key, signing.PublicKeyPrefix):
		return "; this is a " + signing.PublicKeyPrefix + " public key: give it to -public-key"
	case strings.HasPrefix(key, signing.SecretPrefix):
		return "; this is a " + signing.SecretPrefix + " secret: give it to -secret"
	}
	return ""
}

// newHandler prints each request to out with the verdict on its signature (none when
// verifier is nil) and answers 500 to the first fail requests, 202 to the next accepted,
// then status.
func newHandler(out io.Writer, verifier *signing.Verifier, status, fail, accepted int) http.Handler {
	var count atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		n := count.Add(1)
		code := status
		switch {
		case n <= int64(fail):
			code = http.StatusInternalServerError
		case n <= int64(fail+accepted):
			code = http.StatusAccepted
		}
		signature := "not checked (no -secret or -public-key)"
		if verifier != nil {
			signature = "valid"
			if err := verifier.Verify(r.Header, body); err != nil {
				signature = "INVALID: " + err.Error()
			}
		}
		fmt.Fprintf(out, "#%d %s %s webhook-id=%s signature %s → %d\n%s\n\n", n, r.Method, r.URL.Path,
			r.Header.Get(signing.HeaderID), signature, code, body)
		w.WriteHeader(code)
	})
}
