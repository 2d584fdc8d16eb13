package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hookflow/hookflow/client"
)

var subscriptionCommands = []subcommand{
	{name: "list", summary: "list the account's subscriptions", setup: listSubscriptionsCommand},
	{name: "create", args: "URL", nargs: 1, summary: "subscribe an endpoint; prints the key that verifies its requests", setup: createSubscriptionCommand},
	{name: "pause", args: "ID", nargs: 1, summary: "hold a subscription's deliveries until it is resumed", setup: pauseSubscriptionCommand},
	{name: "resume", args: "ID", nargs: 1, summary: "send the deliveries a pause held, and the new ones", setup: resumeSubscriptionCommand},
	{name: "test", args: "ID", nargs: 1, summary: "send the endpoint a signed test delivery", setup: testSubscriptionCommand},
}

// subscriptionsCommand runs `hookflow subscriptions …` and returns the exit status.
func subscriptionsCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runGroup(ctx, "subscriptions", subscriptionCommands, args, stdout, stderr)
}

func listSubscriptionsCommand(*flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, _ []string) error {
		subs, err := s.api.ListSubscriptions(ctx)
		if err != nil {
			return err
		}
		if s.json {
			return s.printJSON(client.SubscriptionList{Data: subs})
		}
		rows := make([][]string, 0, len(subs))
		for _, sub := range subs {
			rows = append(rows, []string{sub.ID.String(), subscriptionState(sub.Active, sub.Paused), sub.URL,
				strings.Join(sub.EventTypes, ","), orDash(sub.Description)})
		}
		return s.table([]string{"ID", "STATE", "URL", "EVENT TYPES", "DESCRIPTION"}, rows)
	}
}

func subscriptionState(active, paused bool) string {
	switch {
	case paused:
		return "paused"
	case !active:
		return "inactive"
	}
	return "active"
}

func createSubscriptionCommand(flags *flag.FlagSet) func(context.Context, *session, []string) error {
	var eventTypes stringList
	flags.Var(&eventTypes, "event-type", "an event `type` or pattern to deliver (promoter.created, promoter.*, *); repeat or separate with commas; every type by default")
	description := flags.String("description", "", "what the endpoint is, for people")
	timeout := flags.Int("timeout", 0, "`seconds` an attempt may take (the API's default when 0)")
	maxRetries := flags.Int("max-retries", -1, "retries after the first attempt (the API's default when left out)")
	rateLimit := flags.Int("rate-limit", 0, "requests per second to the endpoint at most (0: no limit)")
	headers := headerFlags{}
	flags.Var(headers, "header", "a `NAME=VALUE` header sent with every attempt; repeat for more")
	inactive := flags.Bool("inactive", false, "create it inactive: no delivery until it is activated")
	scheme := flags.String("signature-scheme", "", "hmac-sha256 (a whsec_ secret) or ed25519 (a whpk_ public key); the API's default when left out")
	return func(ctx context.Context, s *session, args []string) error {
		sub := client.SubscriptionCreate{URL: args[0]}
		if *scheme != "" {
			if !client.SignatureScheme(*scheme).Valid() {
				return usagef("--signature-scheme %q is neither hmac-sha256 nor ed25519", *scheme)
			}
			sub.SignatureScheme = client.Ptr(client.SignatureScheme(*scheme))
		}
		if len(eventTypes) > 0 {
			sub.EventTypes = client.Ptr([]client.EventTypePattern(eventTypes))
		}
		if *description != "" {
			sub.Description = description
		}
		if *timeout != 0 {
			sub.Timeout = timeout
		}
		if *maxRetries >= 0 {
			sub.MaxRetries = maxRetries
		}
		if *rateLimit != 0 {
			sub.RateLimit = rateLimit
		}
		if len(headers) > 0 {
			sub.Headers = client.Ptr(map[string]string(headers))
		}
		if *inactive {
			sub.Active = client.Ptr(false)
		}
		created, err := s.api.CreateSubscription(ctx, sub)
		if err != nil {
			return err
		}
		if s.json {
			return s.printJSON(created)
		}
		pairs := []string{
			"subscription", created.ID.String(),
			"url", created.URL,
			"event types", strings.Join(created.EventTypes, ","),
			"state", subscriptionState(created.Active, created.Paused),
			"timeout", fmt.Sprintf("%d s", created.Timeout),
			"max retries", strconv.Itoa(created.MaxRetries),
			"signature", string(created.SignatureScheme),
		}
		// The receiver needs the key that verifies: the secret, or the public key.
		if created.SecretKey != nil {
			pairs = append(pairs, "secret", *created.SecretKey)
		}
		if created.PublicKey != nil {
			pairs = append(pairs, "public key", *created.PublicKey)
		}
		if err := s.fields(pairs...); err != nil {
			return err
		}
		if created.SecretKey != nil {
			fmt.Fprintln(s.stderr, "The secret verifies the endpoint's requests and is shown this once: keep it now.")
		}
		return nil
	}
}

func pauseSubscriptionCommand(flags *flag.FlagSet) func(context.Context, *session, []string) error {
	reason := flags.String("reason", "", "why, shown on the subscription")
	return func(ctx context.Context, s *session, args []string) error {
		sub, err := s.api.PauseSubscription(ctx, args[0], *reason)
		if err != nil {
			return err
		}
		if s.json {
			return s.printJSON(sub)
		}
		fmt.Fprintf(s.stdout, "subscription %s paused: %s\n", sub.ID, sub.PausedReason)
		return nil
	}
}

func resumeSubscriptionCommand(*flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		sub, err := s.api.ResumeSubscription(ctx, args[0])
		if err != nil {
			return err
		}
		if s.json {
			return s.printJSON(sub)
		}
		fmt.Fprintf(s.stdout, "subscription %s resumed\n", sub.ID)
		return nil
	}
}

func testSubscriptionCommand(*flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		d, err := s.api.TestSubscription(ctx, args[0])
		if err != nil {
			return err
		}
		if s.json {
			return s.printJSON(d)
		}
		fmt.Fprintf(s.stdout, "test delivery %d to subscription %s: %s (follow it with `hookflow deliveries get %d`)\n",
			d.ID, args[0], d.Status, d.ID)
		return nil
	}
}
