package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserEvents finds a delivery from its event: the Events page shows each event with
// where its deliveries stand, the entity filter narrows it to one lead, and the event's
// page leads to each delivery.
func browserEvents(t *testing.T, app *App) {
	key := app.NewAccount("Acme Referrals")
	crm := newReceiver(t, always(http.StatusOK))
	warehouse := newReceiver(t, always(http.StatusInternalServerError))
	app.Subscribe(key, crm.URL+"/crm", map[string]any{"event_types": []string{"lead.*", "promoter.*"}, "description": "CRM sync"})
	app.Subscribe(key, warehouse.URL+"/warehouse", map[string]any{"event_types": []string{"lead.*"}, "max_retries": 0,
		"description": "Data warehouse"})
	// The on-call channel hears of each delivery that fails for good: hookflow's own events,
	// listed with the account's.
	app.Subscribe(key, crm.URL+"/on-call", map[string]any{"event_types": []string{"hookflow.*"}, "description": "On-call"})

	events := []map[string]any{
		{"event_type": "lead.created", "action": "created", "entity_type": "lead", "entity_id": "L-1042",
			"data": map[string]any{"email": "sam@example.com", "source": "spring-campaign"}},
		{"event_type": "promoter.created", "action": "created", "entity_type": "promoter", "entity_id": 77,
			"data": map[string]any{"email": "pat@example.com"}},
		{"event_type": "lead.updated", "action": "updated", "entity_type": "lead", "entity_id": "L-1042",
			"data": map[string]any{"email": "sam@example.com", "stage": "qualified"}, "changes": map[string]any{"stage": []string{"new", "qualified"}}},
		{"event_type": "lead.created", "action": "created", "entity_type": "lead", "entity_id": "L-2001",
			"data": map[string]any{"email": "alex@example.com"}},
	}
	var first Ingested
	for i, ev := range events {
		out := app.Publish(key, ev)
		if i == 0 {
			first = out
		}
		// The CRM takes each delivery; the warehouse fails its own for good (no retries),
		// which the on-call channel is told of before the next event is posted.
		for _, d := range out.Deliveries {
			app.WaitDelivery(key, d.ID, browserWait, func(d Delivery) bool { return d.Status == "delivered" || d.Status == "failed" })
		}
	}
	// The listing says when the on-call deliveries are done too: nothing pending or retrying.
	deadline := time.Now().Add(browserWait)
	for {
		var page struct {
			Data []struct {
				Deliveries struct{ Total, Pending, Retrying int } `json:"deliveries"`
			} `json:"data"`
		}
		app.MustDo(http.StatusOK, "GET", "/v1/events", key, nil).JSON(t, &page)
		settled := len(page.Data) == 7
		for _, e := range page.Data {
			settled = settled && e.Deliveries.Total > 0 && e.Deliveries.Pending+e.Deliveries.Retrying == 0
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the events' deliveries did not settle within %s: %+v", browserWait, page.Data)
		}
		time.Sleep(100 * time.Millisecond)
	}

	tab := openBrowser(t)
	tab.signIn(app, key)
	tab.do(chromedp.Click(chromedp.CSS(`.mainnav a[href="/events"]`)))
	tab.waitText("h1", "Events")
	// Newest first, each lead event followed by the failure it caused: the last lead's
	// failure, the last lead, the update's failure, the update, the promoter, the first
	// lead's failure, the first lead.
	tab.waitFor(`document.querySelectorAll("table.events-table tbody tr").length === 7`)
	row := func(n int) string { return fmt.Sprintf("table.events-table tbody tr:nth-child(%d)", n) }
	for _, n := range []int{1, 3, 6} {
		tab.waitText(row(n), "hookflow.delivery.failed")
		tab.waitText(row(n)+" .badge-test", "hookflow")
	}
	for _, n := range []int{2, 4, 7} {
		tab.waitText(row(n)+" .outcomes", "1 failed")
		tab.waitText(row(n)+" .outcomes", "1 delivered")
	}
	tab.waitText(row(5), "promoter.created")
	tab.waitText(row(5), "promoter 77")
	for _, n := range []int{1, 3, 5, 6} {
		if got := strings.TrimSpace(tab.text(row(n) + " .outcomes")); got != "1 delivered" {
			t.Errorf("row %d's outcomes: %q, want 1 delivered", n, got)
		}
	}
	tab.screenshot("events.png")

	tab.do(chromedp.SendKeys(chromedp.ID("entity-id-filter"), "L-1042"),
		chromedp.Click(chromedp.CSS(`#event-filters button[type=submit]`)))
	tab.waitFor(`location.search.includes("entity_id=L-1042")`)
	tab.waitFor(`document.querySelectorAll("table.events-table tbody tr").length === 2`)
	tab.waitText(row(1), "lead.updated")
	tab.waitText(row(2), "lead.created")
	if text := tab.text("table.events-table"); strings.Contains(text, "L-2001") || strings.Contains(text, "promoter") || strings.Contains(text, "hookflow.") {
		t.Errorf("the entity filter let other entities through: %s", text)
	}

	// The first event's page lists its two deliveries; each leads to its delivery's page.
	tab.do(chromedp.Click(chromedp.CSS(row(2) + ` a[href^="/events/"]`)))
	tab.waitFor(`location.pathname === "/events/` + first.EventID + `"`)
	tab.waitText("#event-outcomes", "1 failed")
	tab.waitFor(`document.querySelectorAll(".deliveries-table tbody tr").length === 2`)
	tab.waitText(".deliveries-table", warehouse.URL+"/warehouse")
	tab.do(chromedp.Click(chromedp.CSS(`.deliveries-table a.badge-failed`)))
	tab.waitText("#delivery-status", "failed")
	tab.waitText("main", "endpoint answered 500")
}
