package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/client"
	"github.com/hookflow/hookflow/signing"
)

// The examples with an Output run against fakeHookflow, an httptest server answering a
// few routes as hookflow does, so they run with every `go test`; e2e/client_test.go runs
// the same calls against a real hookflow. Example_receiver needs a real endpoint and is
// only compiled.

const fakeKey = "hfk_0123456789abcdef_example"

// fakeHookflow answers like hookflow for one account: a subscription, an event post
// (remembering Idempotency-Keys), and five deliveries listed two to a page.
func fakeHookflow() *httptest.Server {
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
	seen := map[string]bool{}
	mux.HandleFunc("POST /v1/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusCreated, `{"id":"5f0c6a4e-2d7b-4b8e-9a51-0c1d2e3f4a5b","url":"https://example.com/hooks",
			"event_types":["promoter.*"],"campaign_ids":[],"description":"","active":true,"timeout":30,
			"max_retries":3,"rate_limit":0,"headers":{},"secret_key":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			"paused":false,"paused_at":null,"paused_reason":"","created_at":"2026-11-23T17:07:30Z","updated_at":"2026-11-23T17:07:30Z"}`)
	})
	mux.HandleFunc("GET /v1/subscriptions/{id}", func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusNotFound, `{"error":{"code":"not_found","message":"subscription not found"}}`)
	})
	mux.HandleFunc("POST /v1/events", func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if seen[key] {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		seen[key] = true
		answer(w, http.StatusAccepted, `{"event_id":"0b5d3b52-1f4e-4a8e-9c1e-2f6d0c0b9a11",
			"deliveries":[{"id":5,"subscription_id":"5f0c6a4e-2d7b-4b8e-9a51-0c1d2e3f4a5b","status":"pending"}]}`)
	})
	mux.HandleFunc("GET /v1/deliveries", func(w http.ResponseWriter, r *http.Request) {
		// Newest first; the cursor is the id to continue below.
		below := 6
		if cursor := r.URL.Query().Get("cursor"); cursor != "" {
			below, _ = strconv.Atoi(cursor)
		}
		var data string
		id := below - 1
		for ; id >= 1 && id > below-3; id-- {
			if data != "" {
				data += ","
			}
			data += fmt.Sprintf(`{"id":%d,"workflow_id":"delivery-%d","event_id":"0b5d3b52-1f4e-4a8e-9c1e-2f6d0c0b9a11",
				"event_type":"promoter.created","action":"created","entity_type":"promoter","entity_id":"42",
				"status":"delivered","attempts":1,"response_code":200,"response_body":"","last_error":"",
				"object_changes":null,"payload":{},"test":false,"delivered_at":"2026-11-23T17:07:31Z",
				"next_attempt_at":null,"waiting_reason":null,"waiting_since":null,"created_at":"2026-11-23T17:07:30Z"}`, id, id)
		}
		next := "null"
		if id >= 1 {
			next = strconv.Quote(strconv.Itoa(id + 1))
		}
		answer(w, http.StatusOK, `{"data":[`+data+`],"next_cursor":`+next+`}`)
	})
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+fakeKey {
			answer(w, http.StatusUnauthorized, `{"error":{"code":"unauthorized","message":"invalid API key"}}`)
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

// An API client subscribes an endpoint and posts an event; posting it again with the same
// Idempotency-Key creates nothing.
func Example() {
	hookflow := fakeHookflow()
	defer hookflow.Close()
	ctx := context.Background()

	c, err := client.New(hookflow.URL, fakeKey)
	if err != nil {
		log.Fatal(err)
	}
	sub, err := c.CreateSubscription(ctx, client.SubscriptionCreate{
		URL:        "https://example.com/hooks",
		EventTypes: &[]client.EventTypePattern{"promoter.*"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subscribed", sub.URL, "to", sub.EventTypes)

	event := client.EventInput{
		EventType:  "promoter.created",
		Action:     client.Ptr(client.EventInputActionCreated),
		EntityType: client.Ptr("promoter"),
		Data:       &map[string]any{"email": "pat@example.com"},
	}
	for range 2 {
		sent, err := c.SendEvent(ctx, event, "promoter-42-created")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("event", sent.EventID, "deliveries", len(sent.Deliveries), "replayed", sent.Replayed)
	}
	// Output:
	// subscribed https://example.com/hooks to [promoter.*]
	// event 0b5d3b52-1f4e-4a8e-9c1e-2f6d0c0b9a11 deliveries 1 replayed false
	// event 0b5d3b52-1f4e-4a8e-9c1e-2f6d0c0b9a11 deliveries 1 replayed true
}

// Deliveries walks every page of the listing, fetching the next page only when the loop
// reaches it.
func ExampleClient_Deliveries() {
	hookflow := fakeHookflow()
	defer hookflow.Close()

	c, err := client.New(hookflow.URL, fakeKey)
	if err != nil {
		log.Fatal(err)
	}
	filter := client.ListDeliveriesParams{Status: client.Ptr(client.DeliveryStatusDelivered), Limit: client.Ptr(2)}
	for d, err := range c.Deliveries(context.Background(), filter) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(d.ID, d.EventType, d.Status)
	}
	// Output:
	// 5 promoter.created delivered
	// 4 promoter.created delivered
	// 3 promoter.created delivered
	// 2 promoter.created delivered
	// 1 promoter.created delivered
}

// An answer other than a 2xx is a *client.Error with the API's status, code and message.
func ExampleIsNotFound() {
	hookflow := fakeHookflow()
	defer hookflow.Close()
	ctx := context.Background()

	c, err := client.New(hookflow.URL, fakeKey)
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.GetSubscription(ctx, "5f0c6a4e-2d7b-4b8e-9a51-0c1d2e3f4a5b")
	fmt.Println(client.IsNotFound(err))
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Status, apiErr.Code, apiErr.Message)
	}

	wrongKey, err := client.New(hookflow.URL, "hfk_wrong")
	if err != nil {
		log.Fatal(err)
	}
	_, err = wrongKey.ListSubscriptions(ctx)
	fmt.Println(client.IsUnauthorized(err), err)
	// Output:
	// true
	// 404 not_found subscription not found
	// true hookflow API: invalid API key (HTTP 401, unauthorized)
}

// A receiver verifies each request with the subscription's key: its whsec_ secret (v1),
// or the whpk_ public key of a whsk_ signing key (v1a). The request here is signed as
// hookflow signs it.
func ExampleNewVerifier() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	verifier, err := client.NewVerifier(secret)
	if err != nil {
		log.Fatal(err)
	}

	body := []byte(`{"event_type":"promoter.created"}`)
	header := http.Header{}
	if err := signing.Headers(header, "msg_1", time.Now(), body, []string{secret}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(verifier.Verify(header, body))
	err = verifier.Verify(header, []byte(`{"event_type":"promoter.deleted"}`))
	fmt.Println(errors.Is(err, client.ErrNoMatchingSignature))

	stale := http.Header{}
	if err := signing.Headers(stale, "msg_1", time.Now().Add(-time.Hour), body, []string{secret}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(errors.Is(verifier.Verify(stale, body), client.ErrTimestamp))
	// Output:
	// <nil>
	// true
	// true
}

// A webhook endpoint in Go. It needs a running hookflow to call it, so this example is
// only compiled.
func Example_receiver() {
	verifier, err := client.NewVerifier(os.Getenv("WEBHOOK_SECRET")) // whsec_… or whpk_…
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("POST /hooks", func(w http.ResponseWriter, r *http.Request) {
		// The raw body: JSON decoded and encoded again no longer matches the signature.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err == nil {
			err = verifier.Verify(r.Header, body)
		}
		if err != nil {
			http.Error(w, "invalid webhook", http.StatusUnauthorized)
			return
		}
		log.Printf("webhook %s: %s", r.Header.Get("webhook-id"), body)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:9000", nil))
}
