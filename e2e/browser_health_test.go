package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// answeringEndpoint answers each delivery as its event's data says: {"answer": code},
// after {"sleep_ms": n} if given (so a subscription's timeout can cut it short).
func answeringEndpoint(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var payload struct {
			Data struct {
				Answer  int `json:"answer"`
				SleepMS int `json:"sleep_ms"`
			} `json:"data"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &payload)
		select {
		case <-time.After(time.Duration(payload.Data.SleepMS) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(payload.Data.Answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// browserEndpointHealth sends attempts with known outcomes through the real path (an
// endpoint answering 200, 500, 404, or too late for the timeout) and reads their
// figures on the subscription page, the list and the API.
func browserEndpointHealth(t *testing.T, app *App) {
	key := app.NewAccount("Acme Referrals")
	endpoint := answeringEndpoint(t)
	sub := app.Subscribe(key, endpoint.URL+"/crm", map[string]any{"event_types": []string{"lead.*"}, "timeout": 1,
		"max_retries": 0, "description": "CRM sync"})
	publish := func(i, answer, sleepMS int) string {
		out := app.Publish(key, map[string]any{"event_type": "lead.created", "action": "created", "entity_type": "lead",
			"entity_id": "L-" + strconv.Itoa(2000+i), "data": map[string]any{"answer": answer, "sleep_ms": sleepMS}})
		if len(out.Deliveries) != 1 {
			t.Fatalf("ingest answer: %+v", out)
		}
		return out.Deliveries[0].ID.String()
	}
	ended := func(d Delivery) bool { return d.Status == "delivered" || d.Status == "failed" }
	var ids []string
	for i, answer := range []int{200, 200, 500, 200, 200, 500, 200, 200} {
		ids = append(ids, publish(i, answer, 0))
	}
	// Past the subscription's 1 s timeout: no answer.
	ids = append(ids, publish(8, http.StatusOK, 1500))
	for _, id := range ids {
		app.WaitDelivery(key, id, browserWait, ended)
	}
	// The last failure, once every other attempt is recorded.
	last := app.WaitDelivery(key, publish(9, http.StatusNotFound, 0), browserWait, ended)
	if last.Status != "failed" || last.ResponseCode == nil || *last.ResponseCode != http.StatusNotFound {
		t.Fatalf("the 404 delivery: %+v", last)
	}

	var health struct {
		Attempts     int64   `json:"attempts"`
		Succeeded    int64   `json:"succeeded"`
		ClientErrors int64   `json:"client_errors"`
		ServerErrors int64   `json:"server_errors"`
		NoAnswer     int64   `json:"no_answer"`
		SuccessRate  float64 `json:"success_rate"`
		LastFailure  struct {
			ResponseCode *int   `json:"response_code"`
			Error        string `json:"error"`
		} `json:"last_failure"`
		Hours []json.RawMessage `json:"hours"`
	}
	app.MustDo(http.StatusOK, "GET", "/v1/subscriptions/"+sub.ID+"/health?window=7d", key, nil).JSON(t, &health)
	if health.Attempts != 10 || health.Succeeded != 6 || health.ClientErrors != 1 || health.ServerErrors != 2 || health.NoAnswer != 1 ||
		health.SuccessRate != 0.6 || len(health.Hours) != 168 || !strings.Contains(health.LastFailure.Error, "404") {
		t.Errorf("GET …/health?window=7d: %+v", health)
	}
	app.MustDo(http.StatusUnprocessableEntity, "GET", "/v1/subscriptions/"+sub.ID+"/health?window=1h", key, nil)

	tab := openBrowser(t)
	tab.signIn(app, key)
	tab.navigate(app.URL + "/subscriptions/" + sub.ID)
	tab.waitText("#health h2", "Endpoint health")
	check := func() {
		t.Helper()
		for selector, want := range map[string]string{
			"#health-success-rate": "60.0%", "#health-attempts": "10",
			"#health-ok": "6", "#health-4xx": "1", "#health-5xx": "2", "#health-none": "1",
		} {
			if got := strings.TrimSpace(tab.text(selector)); got != want {
				t.Errorf("%s shows %q, want %q", selector, got, want)
			}
		}
		if got := tab.text("#health-last-failure"); !strings.Contains(got, "404") {
			t.Errorf("last failure %q, want the 404", got)
		}
		if got := tab.text("#health-last-failure-error"); got != "endpoint answered 404 Not Found" {
			t.Errorf("last error %q", got)
		}
		// p95 of ten attempts is the slowest, the one the timeout ended after 1 s.
		ms, err := strconv.ParseFloat(tab.attribute("#health-p95", "data-ms"), 64)
		if err != nil || ms < 900 || ms > 1650 {
			t.Errorf("p95 %v ms (%v), want the timeout's second within 10%%", ms, err)
		}
		tab.waitFor(`document.querySelectorAll("svg.health-chart .chart-hour rect").length >= 4`)
		if got := tab.text(".legend"); !strings.Contains(got, "4xx and other answers below 500 (1xx, 3xx)") {
			t.Errorf("legend %q", got)
		}
	}
	check()
	tab.screenshot("subscription-health.png")

	tab.do(chromedp.Click(chromedp.CSS(`.window-switch a:last-child`)))
	tab.waitFor(`location.search.includes("window=7d") && document.querySelector(".window-switch a[aria-current]").textContent === "7 days"`)
	check()

	tab.do(chromedp.Click(chromedp.CSS(`.mainnav a[href="/"]`)))
	tab.waitText("table.list", "CRM sync")
	if got := tab.text("table.list .health-rate"); got != "60.0%" {
		t.Errorf("the list shows %q for the subscription's last 24 hours, want 60.0%%", got)
	}
	tab.waitFor(`!!document.querySelector("table.list svg.spark polyline.spark-failures")`)
}

// attribute is an attribute of the first element matching selector.
func (b *tab) attribute(selector, name string) string {
	b.t.Helper()
	sel, _ := json.Marshal(selector)
	attr, _ := json.Marshal(name)
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	value, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%s).getAttribute(%s) || ""`, sel, attr)))
	if err != nil {
		b.t.Fatalf("attribute %s of %s: %v", name, selector, err)
	}
	return value
}
