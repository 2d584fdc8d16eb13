package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/hookflow/hookflow/client"
)

var deliveryCommands = []subcommand{
	{name: "list", summary: "list deliveries, newest first", setup: listDeliveriesCommand},
	{name: "get", args: "ID", nargs: 1, summary: "show a delivery with its attempts", setup: getDeliveryCommand},
	{name: "retry", args: "ID", nargs: 1, summary: "ask for an attempt now", setup: retryDeliveryCommand},
	{name: "tail", summary: "follow new deliveries and their outcomes until Ctrl-C", setup: tailDeliveriesCommand},
}

// deliveriesCommand runs `hookflow deliveries …` and returns the exit status.
func deliveriesCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runGroup(ctx, "deliveries", deliveryCommands, args, stdout, stderr)
}

// deliveryFilter declares the listing's filters as flags.
func deliveryFilter(flags *flag.FlagSet) func() (client.ListDeliveriesParams, error) {
	subscription := flags.String("subscription", "", "only the deliveries of this subscription (its `id`)")
	status := flags.String("status", "", "only deliveries in this `status`: pending, retrying, delivered or failed")
	eventType := flags.String("event-type", "", "only deliveries of this event `type`")
	event := flags.String("event", "", "only the deliveries of this event (its `id`)")
	return func() (client.ListDeliveriesParams, error) {
		var filter client.ListDeliveriesParams
		if *subscription != "" {
			filter.SubscriptionID = subscription
		}
		if *status != "" {
			if !client.DeliveryStatus(*status).Valid() {
				return filter, usagef("--status %q is none of pending, retrying, delivered, failed", *status)
			}
			filter.Status = client.Ptr(client.DeliveryStatus(*status))
		}
		if *eventType != "" {
			filter.EventType = eventType
		}
		if *event != "" {
			filter.EventID = event
		}
		return filter, nil
	}
}

func listDeliveriesCommand(flags *flag.FlagSet) func(context.Context, *session, []string) error {
	filter := deliveryFilter(flags)
	limit := flags.Int("limit", 20, "deliveries per page (1 to 100)")
	cursor := flags.String("cursor", "", "start at this page (a next_cursor of an earlier listing)")
	all := flags.Bool("all", false, "every page, not only the first")
	return func(ctx context.Context, s *session, _ []string) error {
		params, err := filter()
		if err != nil {
			return err
		}
		if *limit < 1 || *limit > 100 {
			return usagef("--limit %d is not between 1 and 100", *limit)
		}
		params.Limit = limit
		if *cursor != "" {
			params.Cursor = cursor
		}
		page := client.DeliveryPage{Data: []client.Delivery{}}
		if *all {
			for d, err := range s.api.Deliveries(ctx, params) {
				if err != nil {
					return err
				}
				page.Data = append(page.Data, d)
			}
		} else {
			first, err := s.api.ListDeliveries(ctx, params)
			if err != nil {
				return err
			}
			page = *first
		}
		if s.json {
			return s.printJSON(page)
		}
		rows := make([][]string, 0, len(page.Data))
		for _, d := range page.Data {
			rows = append(rows, []string{strconv.Itoa(d.ID), string(d.Status), strconv.Itoa(d.Attempts), responseCode(d.ResponseCode),
				d.EventType, endpointOf(d.SubscriptionID, d.CampaignWebhookID), timestamp(&d.CreatedAt)})
		}
		if err := s.table([]string{"ID", "STATUS", "ATTEMPTS", "CODE", "EVENT TYPE", "TO", "CREATED"}, rows); err != nil {
			return err
		}
		if page.NextCursor != nil {
			fmt.Fprintf(s.stderr, "more: --cursor %s (or --all)\n", *page.NextCursor)
		}
		return nil
	}
}

func getDeliveryCommand(*flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		d, err := s.api.GetDelivery(ctx, args[0])
		if err != nil {
			return err
		}
		if s.json {
			return s.printJSON(d)
		}
		waiting := "-"
		if d.WaitingReason != nil {
			waiting = fmt.Sprintf("%s since %s", *d.WaitingReason, timestamp(d.WaitingSince))
		}
		if err := s.fields(
			"delivery", strconv.Itoa(d.ID),
			"status", string(d.Status),
			"event", fmt.Sprintf("%s %s", d.EventID, d.EventType),
			"to", endpointOf(d.SubscriptionID, d.CampaignWebhookID),
			"attempts", strconv.Itoa(d.Attempts),
			"response", responseCode(d.ResponseCode),
			"last error", orDash(d.LastError),
			"next attempt", timestamp(d.NextAttemptAt),
			"waiting", waiting,
			"delivered", timestamp(d.DeliveredAt),
			"created", timestamp(&d.CreatedAt),
			"workflow", d.WorkflowID,
		); err != nil {
			return err
		}
		if len(d.AttemptLog) == 0 {
			return nil
		}
		fmt.Fprintln(s.stdout)
		rows := make([][]string, 0, len(d.AttemptLog))
		for _, a := range d.AttemptLog {
			rows = append(rows, []string{strconv.Itoa(a.Number), timestamp(&a.StartedAt), fmt.Sprintf("%d ms", a.DurationMs),
				responseCode(a.ResponseCode), string(a.Trigger), orDash(a.Error)})
		}
		return s.table([]string{"ATTEMPT", "STARTED", "TOOK", "CODE", "TRIGGER", "ERROR"}, rows)
	}
}

func retryDeliveryCommand(*flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		r, err := s.api.RetryDelivery(ctx, args[0])
		if err != nil {
			return err
		}
		if s.json {
			return s.printJSON(r)
		}
		fmt.Fprintf(s.stdout, "delivery %d: retry %s (%s)\n", r.ID, r.Retry, r.Status)
		return nil
	}
}

// tailPageSize is the page a tail asks for: the most the API gives.
const tailPageSize = 100

// tailMaxPages bounds how far back one poll reads: a delivery still open further back
// than this is no longer followed, rather than costing every poll a long walk.
const tailMaxPages = 10

func tailDeliveriesCommand(flags *flag.FlagSet) func(context.Context, *session, []string) error {
	filter := deliveryFilter(flags)
	interval := flags.Duration("interval", 2*time.Second, "how often to ask the API for changes")
	return func(ctx context.Context, s *session, _ []string) error {
		params, err := filter()
		if err != nil {
			return err
		}
		if *interval < 100*time.Millisecond {
			return usagef("--interval %s is shorter than 100ms", *interval)
		}
		t := &tailer{api: s.api, filter: params, print: s.tailPrinter()}
		if err := t.start(ctx); err != nil {
			return err
		}
		fmt.Fprintf(s.stderr, "following deliveries every %s; Ctrl-C stops\n", *interval)
		ticker := time.NewTicker(*interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-ticker.C:
			}
			if err := t.poll(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

// tailer follows the deliveries listing. The listing is newest first by id, so each poll
// reads from the top down to the oldest delivery it still follows: what lies above the
// highest id seen is new, and an open (pending or retrying) delivery read again shows
// whether its status changed.
type tailer struct {
	api    *client.Client
	filter client.ListDeliveriesParams
	print  func(d client.Delivery, previous client.DeliveryStatus)

	highest int
	// open holds the status last printed of each delivery not yet delivered or failed.
	open map[int]client.DeliveryStatus
}

// start reads the listing as it is, printing nothing: a tail shows what happens from now
// on, including the outcomes of the deliveries under way.
func (t *tailer) start(ctx context.Context) error {
	t.open = map[int]client.DeliveryStatus{}
	return t.read(ctx, true)
}

func (t *tailer) poll(ctx context.Context) error {
	return t.read(ctx, false)
}

func (t *tailer) read(ctx context.Context, quiet bool) error {
	params := t.filter
	params.Limit = client.Ptr(tailPageSize)
	// The oldest id this poll must reach: the highest seen before (for new deliveries) or
	// the oldest open one, if lower.
	floor := t.highest
	for id := range t.open {
		floor = min(floor, id)
	}
	var read []client.Delivery
	for range tailMaxPages {
		page, err := t.api.ListDeliveries(ctx, params)
		if err != nil {
			return err
		}
		read = append(read, page.Data...)
		if quiet || page.NextCursor == nil || len(page.Data) == 0 || page.Data[len(page.Data)-1].ID <= floor {
			break
		}
		params.Cursor = page.NextCursor
	}
	// Oldest first, as a log reads.
	slices.Reverse(read)
	for _, d := range read {
		previous, wasOpen := t.open[d.ID]
		isNew := d.ID > t.highest
		if !isNew && !wasOpen {
			continue
		}
		if isNew {
			t.highest = d.ID
		}
		if !quiet && (isNew || previous != d.Status) {
			t.print(d, previous)
		}
		if d.Status == client.DeliveryStatusPending || d.Status == client.DeliveryStatusRetrying {
			t.open[d.ID] = d.Status
		} else {
			delete(t.open, d.ID)
		}
	}
	// An open delivery this poll did not read is further back than a poll reaches, or no
	// longer matches the filter (a --status it left): it is no longer followed.
	for id := range t.open {
		if !slices.ContainsFunc(read, func(d client.Delivery) bool { return d.ID == id }) {
			delete(t.open, id)
		}
	}
	return nil
}

// tailPrinter prints a new delivery, or a change of status (previous is then set), as a
// line: a JSON object with --json, aligned text otherwise.
func (s *session) tailPrinter() func(client.Delivery, client.DeliveryStatus) {
	return func(d client.Delivery, previous client.DeliveryStatus) {
		if s.json {
			line, err := json.Marshal(d)
			if err == nil {
				fmt.Fprintf(s.stdout, "%s\n", line)
			}
			return
		}
		change := string(d.Status)
		if previous != "" {
			change = string(previous) + " → " + string(d.Status)
		}
		detail := ""
		if d.Attempts > 0 {
			detail = fmt.Sprintf("  attempts %d, response %s", d.Attempts, responseCode(d.ResponseCode))
		}
		if d.LastError != "" && d.Status != client.DeliveryStatusDelivered {
			detail += ": " + d.LastError
		}
		fmt.Fprintf(s.stdout, "%s  %-8d %-22s %-28s %s%s\n", time.Now().UTC().Format(time.TimeOnly), d.ID, change, d.EventType,
			endpointOf(d.SubscriptionID, d.CampaignWebhookID), detail)
	}
}

func responseCode(code *int) string {
	if code == nil {
		return "-"
	}
	return strconv.Itoa(*code)
}

// endpointOf names where a delivery goes: a subscription or a campaign webhook URL.
func endpointOf(subscription, campaignWebhook *openapi_types.UUID) string {
	switch {
	case subscription != nil:
		return "subscription " + subscription.String()
	case campaignWebhook != nil:
		return "campaign webhook " + campaignWebhook.String()
	}
	return "-"
}
