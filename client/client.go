// Package client is the Go client of the hookflow API.
//
// Everything in openapi.gen.go is generated from api/openapi.yaml by oapi-codegen (`go
// generate ./client`): a type per schema (Subscription, EventInput, DeliveryPage …) and
// [ClientWithResponses], which has one method per operation of the document, named after
// its operationId. The rest of the package is a small layer over it:
//
//   - [New] makes a [Client] that sends the API key on every call;
//   - every answer other than a 2xx is an *[Error] carrying the API's status, code and
//     message, to test with [errors.As], [HasCode] or helpers such as [IsNotFound];
//   - [Client.Deliveries] and [Paginate] walk {data, next_cursor} listings page by page;
//   - [Client.SendEvent] posts an event with an Idempotency-Key and tells whether the
//     answer repeats an earlier one;
//   - [NewVerifier] and [Verify] check the Standard Webhooks signatures of the requests a
//     receiver gets (v1 with a whsec_ secret, v1a with a whpk_ public key).
//
// Operations without a method of their own on Client (campaigns, fulfilments, API keys …)
// are called through [Client.API], with the same key and the same typed errors.
package client

//go:generate go tool -modfile=../tools/oapi-codegen/go.mod oapi-codegen -config oapi-codegen.yaml -o openapi.gen.go ../api/openapi.yaml

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// Client calls the hookflow API with one key: an account's API key, or the admin key for
// the account operations. It is safe for concurrent use.
type Client struct {
	api *ClientWithResponses
}

// DefaultTimeout bounds each call of a Client made without WithHTTPClient: the API answers
// within its own request deadline, so a call that takes longer has lost its server.
const DefaultTimeout = 30 * time.Second

// userAgent names the client in the server's request log.
const userAgent = "hookflow-go-client"

// New returns a client of the API at baseURL (such as http://127.0.0.1:8080) that
// authenticates with apiKey. The options are the generated ones: WithHTTPClient replaces
// the default *http.Client (and its DefaultTimeout), WithRequestEditorFn changes every
// request before it is sent.
func New(baseURL, apiKey string, opts ...ClientOption) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("hookflow: the API URL %q is not an absolute http or https URL", baseURL)
	}
	if apiKey == "" {
		return nil, errors.New("hookflow: no API key")
	}
	opts = append([]ClientOption{WithHTTPClient(&http.Client{Timeout: DefaultTimeout})}, opts...)
	ops, err := NewClient(baseURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("hookflow: %w", err)
	}
	// The key goes first so that an editor of the caller's may still replace it.
	authorize := func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+apiKey)
		if req.Header.Get("User-Agent") == "" {
			req.Header.Set("User-Agent", userAgent)
		}
		return nil
	}
	ops.RequestEditors = append([]RequestEditorFn{authorize}, ops.RequestEditors...)
	ops.Client = errorDoer{next: ops.Client}
	return &Client{api: &ClientWithResponses{ClientInterface: ops}}, nil
}

// API returns the generated client, which has a method per operation of the document
// (CreateCampaignWithResponse, ListFulfilmentsWithResponse …). Its calls carry the
// Client's key, and an answer other than a 2xx comes back as a *Error, so a response it
// returns holds the success body.
func (c *Client) API() *ClientWithResponses {
	return c.api
}

// Ptr returns a pointer to v, for the optional fields of the request types.
func Ptr[T any](v T) *T {
	return &v
}

// expected returns body, or an error when the API answered a success other than the one
// the document describes (which leaves body unset).
func expected[T any](body *T, resp *http.Response) (*T, error) {
	if body == nil {
		call := "the call"
		if resp.Request != nil {
			call = resp.Request.Method + " " + resp.Request.URL.Path
		}
		return nil, fmt.Errorf("hookflow: %s answered %s (%s), which the API document does not describe",
			call, resp.Status, resp.Header.Get("Content-Type"))
	}
	return body, nil
}

// CreateAccount creates an account and its API key, which the answer holds this once. It
// needs a Client made with the admin key.
func (c *Client) CreateAccount(ctx context.Context, name string) (*NewAccount, error) {
	resp, err := c.api.CreateAccountWithResponse(ctx, AccountInput{Name: name})
	if err != nil {
		return nil, err
	}
	return expected(resp.JSON201, resp.HTTPResponse)
}

// CreateSubscription creates a subscription. The answer holds its signing secret, shown on
// creation and rotation only.
func (c *Client) CreateSubscription(ctx context.Context, sub SubscriptionCreate) (*SubscriptionCreated, error) {
	resp, err := c.api.CreateSubscriptionWithResponse(ctx, sub)
	if err != nil {
		return nil, err
	}
	return expected(resp.JSON201, resp.HTTPResponse)
}

// ListSubscriptions returns every subscription of the account, without secrets.
func (c *Client) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	resp, err := c.api.ListSubscriptionsWithResponse(ctx)
	if err != nil {
		return nil, err
	}
	list, err := expected(resp.JSON200, resp.HTTPResponse)
	if err != nil {
		return nil, err
	}
	return list.Data, nil
}

// GetSubscription reads a subscription.
func (c *Client) GetSubscription(ctx context.Context, id string) (*Subscription, error) {
	resp, err := c.api.GetSubscriptionWithResponse(ctx, id)
	if err != nil {
		return nil, err
	}
	return expected(resp.JSON200, resp.HTTPResponse)
}

// UpdateSubscription changes the fields set in update and keeps the others.
func (c *Client) UpdateSubscription(ctx context.Context, id string, update SubscriptionUpdate) (*Subscription, error) {
	resp, err := c.api.UpdateSubscriptionWithResponse(ctx, id, update)
	if err != nil {
		return nil, err
	}
	return expected(resp.JSON200, resp.HTTPResponse)
}

// DeleteSubscription deletes a subscription.
func (c *Client) DeleteSubscription(ctx context.Context, id string) error {
	_, err := c.api.DeleteSubscriptionWithResponse(ctx, id)
	return err
}

// PauseSubscription holds the subscription's deliveries until it is resumed; reason is
// shown on it (empty leaves the API's default).
func (c *Client) PauseSubscription(ctx context.Context, id, reason string) (*Subscription, error) {
	var body PauseRequest
	if reason != "" {
		body.Reason = &reason
	}
	resp, err := c.api.PauseSubscriptionWithResponse(ctx, id, body)
	if err != nil {
		return nil, err
	}
	return expected(resp.JSON200, resp.HTTPResponse)
}

// ResumeSubscription sends the deliveries a pause held, and the new ones.
func (c *Client) ResumeSubscription(ctx context.Context, id string) (*Subscription, error) {
	resp, err := c.api.ResumeSubscriptionWithResponse(ctx, id)
	if err != nil {
		return nil, err
	}
	return expected(resp.JSON200, resp.HTTPResponse)
}

// TestSubscription sends the endpoint a signed test delivery and returns it.
func (c *Client) TestSubscription(ctx context.Context, id string) (*Delivery, error) {
	resp, err := c.api.TestSubscriptionWithResponse(ctx, id)
	if err != nil {
		return nil, err
	}
	return expected(resp.JSON202, resp.HTTPResponse)
}

// RotateSubscriptionSecret gives the subscription a new signing secret; the old one keeps
// signing until the answer's PreviousSecretExpiresAt.
func (c *Client) RotateSubscriptionSecret(ctx context.Context, id string) (*RotatedSecret, error) {
	resp, err := c.api.RotateSubscriptionSecretWithResponse(ctx, id)
	if err != nil {
		return nil, err
	}
	return expected(resp.JSON200, resp.HTTPResponse)
}

// SentEvent is the API's answer to an event post.
type SentEvent struct {
	Ingested
	// Replayed is true when the answer is the one given to an earlier post with the same
	// Idempotency-Key and body: nothing new was created.
	Replayed bool `json:"-"`
}

// SendEvent posts an event, which becomes one delivery per matching subscription. With an
// idempotencyKey (empty for none), posting the same event again creates nothing and
// answers the first answer; the same key with another event is a conflict.
func (c *Client) SendEvent(ctx context.Context, event EventInput, idempotencyKey string) (*SentEvent, error) {
	var params CreateEventParams
	if idempotencyKey != "" {
		params.IdempotencyKey = &idempotencyKey
	}
	resp, err := c.api.CreateEventWithResponse(ctx, &params, event)
	if err != nil {
		return nil, err
	}
	ingested, err := expected(resp.JSON202, resp.HTTPResponse)
	if err != nil {
		return nil, err
	}
	replayed := resp.Headers202 != nil && resp.Headers202.IdempotentReplayed != nil && *resp.Headers202.IdempotentReplayed == "true"
	return &SentEvent{Ingested: *ingested, Replayed: replayed}, nil
}

// GetEvent reads an event.
func (c *Client) GetEvent(ctx context.Context, id string) (*Event, error) {
	resp, err := c.api.GetEventWithResponse(ctx, id)
	if err != nil {
		return nil, err
	}
	return expected(resp.JSON200, resp.HTTPResponse)
}

// ReplayEvent delivers an event again, with its first body and webhook-id, to the
// subscriptions it matches now (or to the one the request names).
func (c *Client) ReplayEvent(ctx context.Context, id string, replay ReplayRequest) (*Replayed, error) {
	resp, err := c.api.ReplayEventWithResponse(ctx, id, replay)
	if err != nil {
		return nil, err
	}
	return expected(resp.JSON202, resp.HTTPResponse)
}

// ListDeliveries returns one page of deliveries, newest first; pass its NextCursor as
// filter.Cursor for the next one, or let Deliveries do it.
func (c *Client) ListDeliveries(ctx context.Context, filter ListDeliveriesParams) (*DeliveryPage, error) {
	resp, err := c.api.ListDeliveriesWithResponse(ctx, &filter)
	if err != nil {
		return nil, err
	}
	return expected(resp.JSON200, resp.HTTPResponse)
}

// Deliveries iterates over every delivery the filter matches, newest first, fetching each
// page (of filter.Limit) as the loop reaches it. An error ends the iteration.
func (c *Client) Deliveries(ctx context.Context, filter ListDeliveriesParams) iter.Seq2[Delivery, error] {
	return Paginate(filter.Cursor, func(cursor *string) ([]Delivery, *string, error) {
		params := filter
		params.Cursor = cursor
		page, err := c.ListDeliveries(ctx, params)
		if err != nil {
			return nil, nil, err
		}
		return page.Data, page.NextCursor, nil
	})
}

// GetDelivery reads a delivery with its attempt log. id is its number (or the UUID it had
// before deliveries were numbered).
func (c *Client) GetDelivery(ctx context.Context, id string) (*DeliveryDetail, error) {
	resp, err := c.api.GetDeliveryWithResponse(ctx, id)
	if err != nil {
		return nil, err
	}
	return expected(resp.JSON200, resp.HTTPResponse)
}

// RetryDelivery asks for an attempt now; a delivery already delivered is a conflict.
func (c *Client) RetryDelivery(ctx context.Context, id string) (*RetryRequested, error) {
	resp, err := c.api.RetryDeliveryWithResponse(ctx, id)
	if err != nil {
		return nil, err
	}
	return expected(resp.JSON202, resp.HTTPResponse)
}

// Paginate iterates over the items of a {data, next_cursor} listing. fetch returns the
// page at cursor (nil for the first) with the cursor of the next, nil after the last;
// cursor is where to start. Pages are fetched as the loop reaches them, so breaking out
// early fetches no more; an error is yielded once and ends the iteration.
func Paginate[T any](cursor *string, fetch func(cursor *string) (items []T, next *string, err error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			items, next, err := fetch(cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range items {
				if !yield(item, nil) {
					return
				}
			}
			if next == nil || *next == "" {
				return
			}
			cursor = next
		}
	}
}
