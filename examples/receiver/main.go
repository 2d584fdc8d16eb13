// Command receiver is a webhook endpoint for trying hookflow locally: it prints every
// request, verifies its Standard Webhooks signature when given the secret, and answers
// with a status you choose, failing the first requests on demand.
//
//	go run ./examples/receiver -addr 127.0.0.1:9000 -fail 2 -accepted 1 -secret whsec_...
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync/atomic"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	status := flag.Int("status", http.StatusOK, "status to answer with")
	fail := flag.Int("fail", 0, "answer 500 to this many requests first")
	accepted := flag.Int("accepted", 0, "then answer 202 Accepted to this many requests")
	secret := flag.String("secret", os.Getenv("WEBHOOK_SECRET"), "the subscription's secret_key, to verify signatures")
	flag.Parse()

	var verifier *standardwebhooks.Webhook
	if *secret != "" {
		var err error
		if verifier, err = standardwebhooks.NewWebhook(*secret); err != nil {
			log.Fatalf("secret: %v", err)
		}
	}
	var count atomic.Int64
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		n := count.Add(1)
		code := *status
		switch {
		case n <= int64(*fail):
			code = http.StatusInternalServerError
		case n <= int64(*fail+*accepted):
			code = http.StatusAccepted
		}
		signature := "not checked (no -secret)"
		if verifier != nil {
			signature = "valid"
			if err := verifier.Verify(body, r.Header); err != nil {
				signature = "INVALID: " + err.Error()
			}
		}
		fmt.Printf("#%d %s %s webhook-id=%s signature %s → %d\n%s\n\n", n, r.Method, r.URL.Path,
			r.Header.Get("webhook-id"), signature, code, body)
		w.WriteHeader(code)
	})
	log.Printf("receiver listening on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
