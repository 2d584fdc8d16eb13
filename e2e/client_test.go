package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hookflow/hookflow/client"
)

// checkedDoer sends the Go client's requests and checks each exchange against the
// OpenAPI document, as App.Do does for the tests' own calls, and counts the listings of
// deliveries so a test can tell how many pages were fetched.
type checkedDoer struct {
	t               *testing.T
	deliveryListing atomic.Int32
}

func (d *checkedDoer) Do(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	if req.Method == http.MethodGet && req.URL.Path == "/v1/deliveries" {
		d.deliveryListing.Add(1)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	checker, err := apiDoc()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := checker.Check(req.Method, req.URL.String(), req.Header, reqBody, resp.StatusCode, resp.Header, respBody); err != nil {
		d.t.Errorf("OpenAPI: %s %s: %v", req.Method, req.URL.Path, err)
	}
	return resp, nil
}

// TestGoClient runs the Go client against hookflow, each group of operations in turn: an
// account, subscriptions, events (with an idempotent replay), deliveries paged across
// pages, typed errors, and the generated layer for the rest.
func TestGoClient(t *testing.T) {
	app := startApp(t, AppOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	doer := &checkedDoer{t: t}

	webhooks := make(chan *http.Request, 64)
	bodies := make(chan []byte, 64)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		webhooks <- r
		bodies <- body
	}))
	defer receiver.Close()

	admin, err := client.New(app.URL, adminKey, client.WithHTTPClient(doer))
	if err != nil {
		t.Fatal(err)
	}
	account, err := admin.CreateAccount(ctx, "Go client")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(app.URL, account.APIKey, client.WithHTTPClient(doer))
	if err != nil {
		t.Fatal(err)
	}

	var sub *client.SubscriptionCreated
	t.Run("subscriptions", func(t *testing.T) {
		sub, err = c.CreateSubscription(ctx, client.SubscriptionCreate{
			URL: receiver.URL + "/hooks", EventTypes: &[]client.EventTypePattern{"client.*"}, MaxRetries: client.Ptr(0),
		})
		if err != nil {
			t.Fatal(err)
		}
		if sub.SecretKey == nil || sub.MaxRetries != 0 || !sub.Active {
			t.Errorf("created %+v", sub)
		}
		subs, err := c.ListSubscriptions(ctx)
		if err != nil || len(subs) != 1 || subs[0].ID != sub.ID {
			t.Fatalf("ListSubscriptions = %+v, %v", subs, err)
		}
		updated, err := c.UpdateSubscription(ctx, sub.ID.String(), client.SubscriptionUpdate{Description: client.Ptr("the Go client's")})
		if err != nil || updated.Description != "the Go client's" {
			t.Fatalf("UpdateSubscription = %+v, %v", updated, err)
		}
		paused, err := c.PauseSubscription(ctx, sub.ID.String(), "a test")
		if err != nil || !paused.Paused || paused.PausedReason != "a test" {
			t.Fatalf("PauseSubscription = %+v, %v", paused, err)
		}
		resumed, err := c.ResumeSubscription(ctx, sub.ID.String())
		if err != nil || resumed.Paused {
			t.Fatalf("ResumeSubscription = %+v, %v", resumed, err)
		}
		got, err := c.GetSubscription(ctx, sub.ID.String())
		if err != nil || got.Paused || got.Description != "the Go client's" {
			t.Fatalf("GetSubscription = %+v, %v", got, err)
		}
	})
	if sub == nil {
		t.FailNow()
	}

	var sent *client.SentEvent
	t.Run("events", func(t *testing.T) {
		event := client.EventInput{EventType: "client.tested", EntityType: client.Ptr("client"), Data: &map[string]any{"n": 1}}
		sent, err = c.SendEvent(ctx, event, "go-client-1")
		if err != nil {
			t.Fatal(err)
		}
		if sent.Replayed || len(sent.Deliveries) != 1 {
			t.Fatalf("first post = %+v", sent)
		}
		again, err := c.SendEvent(ctx, event, "go-client-1")
		if err != nil {
			t.Fatal(err)
		}
		if !again.Replayed || again.EventID != sent.EventID || again.Deliveries[0].ID != sent.Deliveries[0].ID {
			t.Errorf("replayed post = %+v, want the first answer (%+v) marked replayed", again, sent)
		}
		event.Data = &map[string]any{"n": 2}
		if _, err := c.SendEvent(ctx, event, "go-client-1"); !client.IsConflict(err) {
			t.Errorf("the key with another body: err = %v, want a conflict", err)
		}
		read, err := c.GetEvent(ctx, sent.EventID.String())
		if err != nil || read.EventType != "client.tested" {
			t.Fatalf("GetEvent = %+v, %v", read, err)
		}
	})
	if sent == nil {
		t.FailNow()
	}

	t.Run("the webhook verifies", func(t *testing.T) {
		verifier, err := client.NewVerifier(*sub.SecretKey)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-webhooks:
			body := <-bodies
			if err := verifier.Verify(r.Header, body); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if err := client.Verify(r.Header, body, []string{*sub.SecretKey}, time.Now(), client.DefaultTolerance); err != nil {
				t.Errorf("client.Verify: %v", err)
			}
			if err := verifier.Verify(r.Header, append(body, ' ')); !errors.Is(err, client.ErrNoMatchingSignature) {
				t.Errorf("Verify of an altered body: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no webhook within 30s")
		}
	})

	t.Run("a v1a webhook verifies with the public key", func(t *testing.T) {
		signed, err := c.CreateSubscription(ctx, client.SubscriptionCreate{
			URL: receiver.URL + "/v1a", EventTypes: &[]client.EventTypePattern{"asymmetric.*"},
			SignatureScheme: client.Ptr(client.SignatureSchemeEd25519),
		})
		if err != nil {
			t.Fatal(err)
		}
		if signed.PublicKey == nil || signed.SecretKey != nil {
			t.Fatalf("an ed25519 subscription answered %+v", signed)
		}
		verifier, err := client.NewVerifier(*signed.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.SendEvent(ctx, client.EventInput{EventType: "asymmetric.tested"}, ""); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-webhooks:
			body := <-bodies
			if r.URL.Path != "/v1a" {
				t.Fatalf("webhook to %s, want /v1a", r.URL.Path)
			}
			if err := verifier.Verify(r.Header, body); err != nil {
				t.Errorf("Verify with the public key: %v (webhook-signature %q)", err, r.Header.Get("webhook-signature"))
			}
			if err := client.Verify(r.Header, body, []string{*sub.SecretKey}, time.Now(), client.DefaultTolerance); !errors.Is(err, client.ErrNoMatchingSignature) {
				t.Errorf("Verify with another subscription's secret: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no webhook within 30s")
		}
		if err := c.DeleteSubscription(ctx, signed.ID.String()); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("deliveries", func(t *testing.T) {
		id := strconv.Itoa(sent.Deliveries[0].ID)
		var d *client.DeliveryDetail
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if d, err = c.GetDelivery(ctx, id); err != nil {
				t.Fatal(err)
			}
			if d.Status == client.DeliveryStatusDelivered || time.Now().After(deadline) {
				break
			}
		}
		if d.Status != client.DeliveryStatusDelivered || len(d.AttemptLog) != 1 || *d.AttemptLog[0].ResponseCode != 200 {
			t.Fatalf("delivery = %+v", d)
		}
		if _, err := c.RetryDelivery(ctx, id); !client.IsConflict(err) {
			t.Errorf("retrying a delivered delivery: err = %v, want a conflict", err)
		}

		for n := range 4 {
			if _, err := c.SendEvent(ctx, client.EventInput{EventType: "client.paged", Data: &map[string]any{"n": n}}, ""); err != nil {
				t.Fatal(err)
			}
		}
		before := doer.deliveryListing.Load()
		var ids []int
		filter := client.ListDeliveriesParams{SubscriptionID: client.Ptr(sub.ID.String()), Limit: client.Ptr(2)}
		for d, err := range c.Deliveries(ctx, filter) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, d.ID)
		}
		if len(ids) != 5 || !slices.IsSortedFunc(ids, func(a, b int) int { return b - a }) {
			t.Errorf("Deliveries = %v, want 5 ids newest first", ids)
		}
		if pages := doer.deliveryListing.Load() - before; pages != 3 {
			t.Errorf("fetched %d pages of 2 for 5 deliveries, want 3", pages)
		}
		// Breaking out of the loop fetches no further page.
		before = doer.deliveryListing.Load()
		for range c.Deliveries(ctx, filter) {
			break
		}
		if pages := doer.deliveryListing.Load() - before; pages != 1 {
			t.Errorf("a loop ended at once fetched %d pages, want 1", pages)
		}
	})

	t.Run("errors are typed", func(t *testing.T) {
		_, err := c.GetSubscription(ctx, uuid.NewString())
		var apiErr *client.Error
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound || apiErr.Code != client.CodeNotFound || !client.IsNotFound(err) {
			t.Errorf("unknown subscription: err = %#v", err)
		}
		_, err = c.CreateSubscription(ctx, client.SubscriptionCreate{URL: "not a URL"})
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnprocessableEntity || !client.IsInvalid(err) || apiErr.Message == "" {
			t.Errorf("invalid URL: err = %#v", err)
		}
		stranger, err := client.New(app.URL, "hfk_0000000000000000_wrong", client.WithHTTPClient(doer))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stranger.ListSubscriptions(ctx); !client.IsUnauthorized(err) {
			t.Errorf("a wrong key: err = %v", err)
		}
		if _, err := c.CreateAccount(ctx, "not with an account's key"); !client.IsUnauthorized(err) {
			t.Errorf("an account's key creating an account: err = %v", err)
		}
	})

	t.Run("the generated layer reaches the rest", func(t *testing.T) {
		created, err := c.API().CreateCampaignWithResponse(ctx, client.CampaignInput{Name: "spring"})
		if err != nil || created.JSON201 == nil || created.JSON201.Name != "spring" {
			t.Fatalf("CreateCampaign = %+v, %v", created, err)
		}
		listed, err := c.API().ListCampaignsWithResponse(ctx, &client.ListCampaignsParams{})
		if err != nil || listed.JSON200 == nil || len(listed.JSON200.Data) != 1 {
			t.Fatalf("ListCampaigns = %+v, %v", listed, err)
		}
		if _, err := c.API().GetCampaignWithResponse(ctx, "no-such-campaign"); !client.IsNotFound(err) {
			t.Errorf("unknown campaign: err = %v", err)
		}
		test, err := c.TestSubscription(ctx, sub.ID.String())
		if err != nil || !test.Test {
			t.Fatalf("TestSubscription = %+v, %v", test, err)
		}
		if err := c.DeleteSubscription(ctx, sub.ID.String()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetSubscription(ctx, sub.ID.String()); !client.IsNotFound(err) {
			t.Errorf("deleted subscription: err = %v", err)
		}
	})
}
