package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

// eventsPerPage keeps the events page as long as a subscription's deliveries.
const eventsPerPage = deliveriesPerPage

// findFilters are the filters that find an event or a delivery, as typed: a refused one
// comes back as it was sent. Their names are the API's.
type findFilters struct {
	EntityID     string
	ResponseCode string
	// CreatedAfter and CreatedBefore are datetime-local values, read as UTC like every
	// time on the dashboard.
	CreatedAfter  string
	CreatedBefore string
	// Invalid names the filter that was refused.
	Invalid string
}

func findFiltersOf(c *gin.Context) findFilters {
	return findFilters{EntityID: c.Query("entity_id"), ResponseCode: strings.TrimSpace(c.Query("response_code")),
		CreatedAfter: c.Query("created_after"), CreatedBefore: c.Query("created_before")}
}

// Any reports whether a filter is set.
func (f findFilters) Any() bool {
	return f.EntityID != "" || f.ResponseCode != "" || strings.TrimSpace(f.CreatedAfter) != "" || strings.TrimSpace(f.CreatedBefore) != ""
}

func (f findFilters) window() (hookflow.CreatedWindow, error) {
	var w hookflow.CreatedWindow
	for _, p := range []struct {
		name, raw string
		at        **time.Time
	}{{"created_after", f.CreatedAfter, &w.After}, {"created_before", f.CreatedBefore, &w.Before}} {
		if strings.TrimSpace(p.raw) == "" {
			continue
		}
		t, err := parseFormTime(p.name, p.raw)
		if err != nil {
			return hookflow.CreatedWindow{}, err
		}
		*p.at = &t
	}
	return w, w.Check()
}

// applyTo sets the filters on a delivery listing.
func (f findFilters) applyTo(df *hookflow.DeliveryFilter) error {
	df.EntityID = f.EntityID
	var err error
	if df.ResponseCode, err = hookflow.ParseResponseCode(f.ResponseCode); err != nil {
		return err
	}
	df.Created, err = f.window()
	return err
}

// addTo keeps the filters in a listing's page links.
func (f findFilters) addTo(q url.Values) {
	for name, v := range map[string]string{"entity_id": f.EntityID, "response_code": f.ResponseCode,
		"created_after": f.CreatedAfter, "created_before": f.CreatedBefore} {
		if v != "" {
			q.Set(name, v)
		}
	}
}

// listDeliveries lists deliveries with the find filters too; a refused filter is said
// above an empty list rather than failing the whole page, with its field marked.
func (h *handler) listDeliveries(ctx context.Context, accountID string, df hookflow.DeliveryFilter, f *findFilters) (hookflow.DeliveryPage, error) {
	err := f.applyTo(&df)
	if err == nil {
		var page hookflow.DeliveryPage
		if page, err = h.Deliveries.ListDeliveries(ctx, accountID, df); err == nil {
			return page, nil
		}
	}
	f.Invalid = hookflow.ErrorField(err)
	return hookflow.DeliveryPage{}, err
}

// pageLinks are a keyset-paged listing's links: the next page, and back to the first.
func pageLinks(path string, base url.Values, next *string, cursor string) (older, newest string) {
	if next != nil {
		q := url.Values{"cursor": {*next}}
		for k, vs := range base {
			q[k] = vs
		}
		older = path + "?" + q.Encode()
	}
	if cursor != "" {
		newest = path
		if len(base) > 0 {
			newest += "?" + base.Encode()
		}
	}
	return older, newest
}

// outcome is how many of an event's deliveries are in one status.
type outcome struct {
	Status hookflow.Status
	Count  int
}

// outcomes lists the statuses an event's deliveries are in, those that may need a look
// first.
func outcomes(s hookflow.DeliverySummary) []outcome {
	var out []outcome
	for _, o := range []outcome{{hookflow.StatusFailed, s.Failed}, {hookflow.StatusRetrying, s.Retrying},
		{hookflow.StatusPending, s.Pending}, {hookflow.StatusDelivered, s.Delivered}} {
		if o.Count > 0 {
			out = append(out, o)
		}
	}
	return out
}

// eventRow is an event as the pages show it.
type eventRow struct {
	hookflow.EventRecord
	Outcomes []outcome
}

func eventRowOf(e hookflow.EventRecord) eventRow {
	return eventRow{EventRecord: e, Outcomes: outcomes(e.Deliveries)}
}

// Test reports whether the event is one a subscription's Send test made.
func (e eventRow) Test() bool { return e.EventType == hookflow.TestEventType }

// Operational reports whether hookflow made the event itself, to tell of a subscription
// or a delivery.
func (e eventRow) Operational() bool { return hookflow.IsOperational(e.EventType) }

// eventsPage is one page of the account's events.
type eventsPage struct {
	Events    []eventRow
	EventType string
	Find      findFilters
	OlderURL  string
	NewestURL string
}

// Filtered reports whether the listing is narrowed by a filter.
func (p eventsPage) Filtered() bool { return p.EventType != "" || p.Find.Any() }

// eventList is the account's events with their deliveries' outcomes. Unlike the pages of
// one subscription or delivery it does not reload itself while deliveries are in flight:
// it is a search, and a reload would wipe a filter being typed.
func (h *handler) eventList(c *gin.Context) {
	p := eventsPage{EventType: strings.TrimSpace(c.Query("event_type")), Find: findFiltersOf(c)}
	v := view{Title: "Events", Nav: "events"}
	status := http.StatusOK
	filter := hookflow.EventFilter{EventType: p.EventType, EntityID: p.Find.EntityID, Cursor: c.Query("cursor"), Limit: eventsPerPage}
	var page hookflow.EventPage
	var err error
	if filter.Created, err = p.Find.window(); err == nil {
		page, err = h.Events.ListEvents(c.Request.Context(), account(c).ID, filter)
	}
	switch {
	case hookflow.ErrorCode(err) == hookflow.EINVALID:
		status = http.StatusUnprocessableEntity
		v.Alert = hookflow.ErrorMessage(err)
		p.Find.Invalid = hookflow.ErrorField(err)
	case err != nil:
		h.fail(c, err)
		return
	}
	for _, e := range page.Data {
		p.Events = append(p.Events, eventRowOf(e))
	}
	base := url.Values{}
	if p.EventType != "" {
		base.Set("event_type", p.EventType)
	}
	p.Find.addTo(base)
	p.OlderURL, p.NewestURL = pageLinks("/events", base, page.NextCursor, filter.Cursor)
	v.Data = p
	h.render(c, status, "events", v)
}

// eventPage is one event and a page of its deliveries.
type eventPage struct {
	E          eventRow
	Deliveries []hookflow.Delivery
	// Endpoints are the URLs the deliveries go to, by subscription or campaign webhook
	// id; a deleted subscription is missing.
	Endpoints map[string]string
	OlderURL  string
	NewestURL string
}

func (h *handler) event(c *gin.Context) {
	ctx := c.Request.Context()
	accountID := account(c).ID
	e, err := h.Events.FindEvent(ctx, accountID, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	filter := hookflow.DeliveryFilter{EventID: e.ID, Cursor: c.Query("cursor"), Limit: deliveriesPerPage}
	page, err := h.Deliveries.ListDeliveries(ctx, accountID, filter)
	v := view{Title: e.EventType + " event", Nav: "events"}
	status := http.StatusOK
	switch {
	case hookflow.ErrorCode(err) == hookflow.EINVALID:
		status = http.StatusBadRequest
		v.Alert = hookflow.ErrorMessage(err)
	case err != nil:
		h.fail(c, err)
		return
	}
	p := eventPage{E: eventRowOf(e), Deliveries: page.Data, Endpoints: map[string]string{}}
	if err := h.endpointsOf(ctx, accountID, p.Deliveries, p.Endpoints); err != nil {
		h.fail(c, err)
		return
	}
	for _, d := range p.Deliveries {
		v.Refresh = v.Refresh || refreshes(d)
	}
	v.Refresh = v.Refresh && status == http.StatusOK
	p.OlderURL, p.NewestURL = pageLinks("/events/"+e.ID, url.Values{}, page.NextCursor, filter.Cursor)
	v.Data = p
	h.render(c, status, "event", v)
}

// endpointsOf finds the URL of each delivery's subscription or campaign webhook.
func (h *handler) endpointsOf(ctx context.Context, accountID string, ds []hookflow.Delivery, urls map[string]string) error {
	subs := false
	for _, d := range ds {
		subs = subs || d.SubscriptionID != ""
		if d.CampaignWebhookID != "" {
			if _, seen := urls[d.CampaignWebhookID]; seen {
				continue
			}
			w, err := h.Campaigns.FindCampaignWebhook(ctx, accountID, d.CampaignWebhookID)
			switch {
			case err == nil:
				urls[d.CampaignWebhookID] = w.URL
			case hookflow.ErrorCode(err) != hookflow.ENOTFOUND:
				return err
			}
		}
	}
	if !subs {
		return nil
	}
	list, err := h.Subscriptions.ListSubscriptions(ctx, accountID)
	if err != nil {
		return err
	}
	for _, s := range list {
		urls[s.ID] = s.URL
	}
	return nil
}
