package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/hookflow/hookflow/client"
)

var eventCommands = []subcommand{
	{name: "send", summary: "post an event; it becomes one delivery per matching subscription", setup: sendEventCommand},
}

// eventsCommand runs `hookflow events …` and returns the exit status.
func eventsCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runGroup(ctx, "events", eventCommands, args, stdout, stderr)
}

func sendEventCommand(flags *flag.FlagSet) func(context.Context, *session, []string) error {
	eventType := flags.String("type", "", "the event `type`, such as promoter.created (required)")
	action := flags.String("action", "", "created, updated or deleted")
	entityType := flags.String("entity-type", "", "the `type` of the entity the event is about")
	entityID := flags.String("entity-id", "", "the entity's `id` in your system, sent as a string")
	campaign := flags.String("campaign", "", "the campaign's `id`: delivers to subscriptions filtering on it and to its webhook URLs")
	data := flags.String("data", "", "the entity, a JSON `object`")
	idempotencyKey := flags.String("idempotency-key", "", "posting again with the same `key` and event creates nothing and answers the first answer")
	return func(ctx context.Context, s *session, _ []string) error {
		if *eventType == "" {
			return usagef("events send needs --type")
		}
		event := client.EventInput{EventType: *eventType}
		if *action != "" {
			event.Action = client.Ptr(client.EventInputAction(*action))
		}
		if *entityType != "" {
			event.EntityType = entityType
		}
		if *entityID != "" {
			var id client.EntityID
			if err := id.FromEntityID0(*entityID); err != nil {
				return err
			}
			event.EntityID = &id
		}
		if *campaign != "" {
			var ref client.CampaignRef
			if err := ref.FromCampaignRef0(*campaign); err != nil {
				return err
			}
			event.CampaignID = &ref
		}
		if *data != "" {
			var object map[string]any
			if err := json.Unmarshal([]byte(*data), &object); err != nil || object == nil {
				return usagef("--data is not a JSON object: %s", *data)
			}
			event.Data = &object
		}
		sent, err := s.api.SendEvent(ctx, event, *idempotencyKey)
		if err != nil {
			return err
		}
		if s.json {
			return s.printJSON(sent.Ingested)
		}
		note := ""
		if sent.Replayed {
			note = " (the answer to an earlier post with this idempotency key: nothing new was created)"
		}
		deliveries := "deliveries"
		if len(sent.Deliveries) == 1 {
			deliveries = "delivery"
		}
		fmt.Fprintf(s.stdout, "event %s: %d %s%s\n", sent.EventID, len(sent.Deliveries), deliveries, note)
		if len(sent.Deliveries) == 0 {
			return nil
		}
		rows := make([][]string, 0, len(sent.Deliveries))
		for _, d := range sent.Deliveries {
			rows = append(rows, []string{strconv.Itoa(d.ID), string(d.Status), endpointOf(d.SubscriptionID, d.CampaignWebhookID)})
		}
		return s.table([]string{"DELIVERY", "STATUS", "TO"}, rows)
	}
}
