package signing_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/hookflow/hookflow/signing"
)

// A receiver checks every request with the subscription's public key (or its whsec_
// secret), reading the body as received: re-encoded JSON would no longer match.
func Example() {
	// hookflow keeps the signing key; the receiver is given only the public key.
	signingKey, publicKey, err := signing.NewKeyPair()
	if err != nil {
		log.Fatal(err)
	}

	verifier, err := signing.NewVerifier(publicKey)
	if err != nil {
		log.Fatal(err)
	}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		if err := verifier.Verify(r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "verified %s", r.Header.Get(signing.HeaderID))
	}))
	defer receiver.Close()

	send := func(signedBody, sentBody string) {
		req, err := http.NewRequest(http.MethodPost, receiver.URL, bytes.NewBufferString(sentBody))
		if err != nil {
			log.Fatal(err)
		}
		if err := signing.Headers(req.Header, "msg_1", time.Now(), []byte(signedBody), []string{signingKey}); err != nil {
			log.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(answer)))
	}
	send(`{"amount":100}`, `{"amount":100}`)
	send(`{"amount":100}`, `{"amount":999}`)
	// Output:
	// 200 verified msg_1
	// 401 no matching signature: none of the webhook-signature entries (0 v1, 1 v1a) matches the 0 whsec_ secrets or the 1 whpk_ public keys
}
