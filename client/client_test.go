package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/client"
)

func TestNewRefusesWhatCannotWork(t *testing.T) {
	for _, url := range []string{"", "127.0.0.1:8080", "ftp://example.com", "http://"} {
		if _, err := client.New(url, fakeKey); err == nil {
			t.Errorf("New(%q) succeeded", url)
		}
	}
	if _, err := client.New("http://127.0.0.1:8080", ""); err == nil {
		t.Error("New without a key succeeded")
	}
}

func TestRequestsCarryTheKeyAndIdempotencyKey(t *testing.T) {
	var got http.Header
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"event_id":"0b5d3b52-1f4e-4a8e-9c1e-2f6d0c0b9a11","deliveries":[]}`))
	}))
	defer server.Close()
	c, err := client.New(server.URL, fakeKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendEvent(context.Background(), client.EventInput{EventType: "a.b"}, "key-1"); err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "Bearer "+fakeKey || got.Get("Idempotency-Key") != "key-1" || got.Get("User-Agent") == "" {
		t.Errorf("headers = %v", got)
	}
	if _, err := c.SendEvent(context.Background(), client.EventInput{EventType: "a.b"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, sent := got["Idempotency-Key"]; sent {
		t.Errorf("an empty idempotency key was sent: %v", got)
	}
}

func TestErrorsOfOtherServersAreTyped(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer server.Close()
	c, err := client.New(server.URL, fakeKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListSubscriptions(context.Background())
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want a *client.Error", err)
	}
	if apiErr.Status != http.StatusBadGateway || apiErr.Code != "" || apiErr.RetryAfter != 7*time.Second ||
		!strings.Contains(apiErr.Message, "bad gateway") {
		t.Errorf("error = %+v", apiErr)
	}
}

func TestUnexpectedSuccessIsAnError(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello"))
	}))
	defer server.Close()
	c, err := client.New(server.URL, fakeKey)
	if err != nil {
		t.Fatal(err)
	}
	if sub, err := c.GetSubscription(context.Background(), "x"); err == nil || sub != nil {
		t.Fatalf("GetSubscription = %v, %v; want an error", sub, err)
	}
}

func TestPaginateStopsWhenTheLoopDoes(t *testing.T) {
	fetches := 0
	pages := client.Paginate(nil, func(cursor *string) ([]int, *string, error) {
		fetches++
		return []int{1, 2}, client.Ptr("more"), nil
	})
	for n := range pages {
		if n == 2 {
			break
		}
	}
	if fetches != 1 {
		t.Errorf("fetched %d pages for a loop that ended in the first", fetches)
	}

	failure := errors.New("down")
	var seen []error
	for _, err := range client.Paginate(nil, func(*string) ([]int, *string, error) { return nil, nil, failure }) {
		seen = append(seen, err)
	}
	if len(seen) != 1 || seen[0] != failure {
		t.Errorf("errors yielded = %v, want the one failure", seen)
	}
}
