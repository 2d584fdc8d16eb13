package web

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

// Endpoint health is drawn on the server as inline SVG: no script, and nothing the page's
// Content-Security-Policy forbids (colours come from the stylesheet by class; geometry is
// in SVG attributes, which are not inline styles). Every number a chart shows is also
// text beside it, for people who do not read charts and for tests.

// outcomeClasses are the outcomes in the order bars stack them, bottom up, with the names
// the stylesheet and the legend know them by.
var outcomeClasses = []struct {
	key, label string
	count      func(hookflow.OutcomeCounts) int64
}{
	{"ok", "2xx", func(c hookflow.OutcomeCounts) int64 { return c.Succeeded }},
	{"4xx", "4xx and other answers below 500 (1xx, 3xx)", func(c hookflow.OutcomeCounts) int64 { return c.ClientErrors }},
	{"5xx", "5xx", func(c hookflow.OutcomeCounts) int64 { return c.ServerErrors }},
	{"none", "timeout or network error (no answer)", func(c hookflow.OutcomeCounts) int64 { return c.NoAnswer }},
}

// healthPanel is the subscription page's endpoint health.
type healthPanel struct {
	hookflow.EndpointHealth
	Windows []windowLink
	Chart   template.HTML
	Legend  []legendEntry
	// The figures as the page prints them.
	AttemptsText, SuccessRateText, P50Text, P95Text, MeanText string
	// P50MS and P95MS are the estimates in milliseconds, for data attributes.
	P50MS, P95MS string
}

type windowLink struct {
	Label, URL string
	Current    bool
}

type legendEntry struct {
	Key, Label, Count string
}

// readHealth reads the subscription's health over the window the query names (a
// window the dashboard does not offer is said so in alert and shown as 24 hours).
func (h *handler) readHealth(c *gin.Context, sub hookflow.Subscription) (panel *healthPanel, alert string, err error) {
	window, werr := hookflow.ParseHealthWindow(c.Query("window"))
	if werr != nil {
		alert, window = hookflow.ErrorMessage(werr), hookflow.HealthDay
	}
	health, err := h.Health.EndpointHealth(c.Request.Context(), account(c).ID, sub.ID, window)
	if err != nil {
		return nil, "", err
	}
	p := &healthPanel{EndpointHealth: health, AttemptsText: thousands(health.Attempts),
		SuccessRateText: successRate(health.SuccessRate), P50Text: milliseconds(health.LatencyP50MS),
		P95Text: milliseconds(health.LatencyP95MS), MeanText: milliseconds(health.LatencyMeanMS),
		P50MS: rawMilliseconds(health.LatencyP50MS), P95MS: rawMilliseconds(health.LatencyP95MS)}
	for _, w := range hookflow.HealthWindows {
		q := url.Values{}
		for k, vs := range c.Request.URL.Query() {
			q[k] = vs
		}
		q.Set("window", string(w))
		p.Windows = append(p.Windows, windowLink{Label: windowLabel(w), URL: "/subscriptions/" + sub.ID + "?" + q.Encode() + "#health",
			Current: w == window})
	}
	for _, o := range outcomeClasses {
		p.Legend = append(p.Legend, legendEntry{Key: o.key, Label: o.label, Count: thousands(o.count(health.OutcomeCounts))})
	}
	if p.Chart, err = healthChart(health); err != nil {
		return nil, "", err
	}
	return p, alert, nil
}

// subscriptionRow is a subscription in the list, with its last 24 hours when known.
type subscriptionRow struct {
	hookflow.Subscription
	Health *healthCell
}

// healthCell is a list row's success rate and spark line.
type healthCell struct {
	Attempts    int64
	SuccessRate string
	Spark       template.HTML
}

// subscriptionRows joins each subscription with its summary of the last 24 hours.
func (h *handler) subscriptionRows(c *gin.Context, subs []hookflow.Subscription) ([]subscriptionRow, error) {
	rows := make([]subscriptionRow, len(subs))
	for i, s := range subs {
		rows[i].Subscription = s
	}
	if h.Health == nil || len(subs) == 0 {
		return rows, nil
	}
	ids := make([]string, len(subs))
	for i, s := range subs {
		ids[i] = s.ID
	}
	summaries, err := h.Health.HealthSummaries(c.Request.Context(), account(c).ID, ids)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		s, ok := summaries[rows[i].ID]
		if !ok {
			continue
		}
		cell := &healthCell{Attempts: s.Attempts(), SuccessRate: successRate(s.SuccessRate)}
		if cell.Spark, err = sparkLine(s); err != nil {
			return nil, err
		}
		rows[i].Health = cell
	}
	return rows, nil
}

// Chart geometry, in the SVG's own units (it scales to its box).
const (
	chartWidth, chartHeight = 720, 210
	plotLeft, plotRight     = 48.0, 712.0
	plotTop, plotBottom     = 10.0, 180.0
	sparkWidth, sparkHeight = 96.0, 24.0
)

type chartView struct {
	Label                    string
	Width, Height            int
	Left, Right, Top, Bottom string
	YTicks, XTicks           []chartTick
	Bars                     []chartBar
}

type chartTick struct{ X, Y, Label string }

type chartBar struct {
	Title    string
	Segments []chartSegment
}

type chartSegment struct{ Class, X, Y, Width, Height string }

var chartTemplate = template.Must(template.New("chart").Parse(`<svg class="health-chart" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-labelledby="health-chart-title">
<title id="health-chart-title">{{.Label}}</title>
{{- range .YTicks}}
<line class="chart-grid" x1="{{$.Left}}" x2="{{$.Right}}" y1="{{.Y}}" y2="{{.Y}}"/><text class="chart-label" x="{{.X}}" y="{{.Y}}" dy="4" text-anchor="end">{{.Label}}</text>
{{- end}}
{{- range .Bars}}
<g class="chart-hour"><title>{{.Title}}</title>{{range .Segments}}<rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="{{.Width}}" height="{{.Height}}"/>{{end}}</g>
{{- end}}
<line class="chart-axis" x1="{{.Left}}" x2="{{.Right}}" y1="{{.Bottom}}" y2="{{.Bottom}}"/>
{{- range .XTicks}}
<line class="chart-axis" x1="{{.X}}" x2="{{.X}}" y1="{{$.Bottom}}" y2="{{.Y}}"/><text class="chart-label" x="{{.X}}" y="{{.Y}}" dy="12" text-anchor="middle">{{.Label}}</text>
{{- end}}
</svg>`))

// healthChart draws the window's attempts per hour as bars stacked by outcome, on a
// count axis rounded up to a round number.
func healthChart(health hookflow.EndpointHealth) (template.HTML, error) {
	n := len(health.Hours)
	var most int64
	for _, hour := range health.Hours {
		most = max(most, hour.Attempts())
	}
	top := roundUp(most)
	v := chartView{Label: fmt.Sprintf("Attempts per hour by outcome, last %s (UTC)", windowLabel(health.Window)), Width: chartWidth, Height: chartHeight,
		Left: coord(plotLeft), Right: coord(plotRight), Top: coord(plotTop), Bottom: coord(plotBottom)}
	y := func(count float64) float64 { return plotBottom - count/float64(top)*(plotBottom-plotTop) }
	for _, tick := range []int64{0, top / 2, top} {
		if tick == top/2 && (top%2 != 0 || top < 2) {
			continue
		}
		v.YTicks = append(v.YTicks, chartTick{X: coord(plotLeft - 6), Y: coord(y(float64(tick))), Label: thousands(tick)})
	}
	slot := (plotRight - plotLeft) / float64(n)
	width := max(slot*0.72, 1)
	for i, hour := range health.Hours {
		x := plotLeft + float64(i)*slot
		if labelled(hour.Hour, health.Window) {
			label := hour.Hour.Format("15:04")
			if health.Window == hookflow.HealthWeek {
				label = hour.Hour.Format("Mon 2")
			}
			v.XTicks = append(v.XTicks, chartTick{X: coord(x), Y: coord(plotBottom + 4), Label: label})
		}
		if hour.Attempts() == 0 {
			continue
		}
		bar := chartBar{Title: hourTitle(hour)}
		base := plotBottom
		for _, o := range outcomeClasses {
			count := o.count(hour.OutcomeCounts)
			if count == 0 {
				continue
			}
			// A single failure among thousands still shows, a pixel high.
			height := max(float64(count)/float64(top)*(plotBottom-plotTop), 1)
			height = min(height, base-plotTop)
			base -= height
			bar.Segments = append(bar.Segments, chartSegment{Class: "bar-" + o.key, X: coord(x + (slot-width)/2), Y: coord(base),
				Width: coord(width), Height: coord(height)})
		}
		v.Bars = append(v.Bars, bar)
	}
	var buf bytes.Buffer
	if err := chartTemplate.Execute(&buf, v); err != nil {
		return "", err
	}
	// The template escaped every value it was given.
	return template.HTML(buf.String()), nil
}

func windowLabel(w hookflow.HealthWindow) string {
	if w == hookflow.HealthWeek {
		return "7 days"
	}
	return "24 hours"
}

// labelled says which hours the time axis names: every sixth of a day, or each midnight
// of a week.
func labelled(hour time.Time, w hookflow.HealthWindow) bool {
	if w == hookflow.HealthWeek {
		return hour.Hour() == 0
	}
	return hour.Hour()%6 == 0
}

func hourTitle(hour hookflow.HourHealth) string {
	var parts []string
	for _, o := range outcomeClasses {
		if n := o.count(hour.OutcomeCounts); n > 0 {
			label, _, _ := strings.Cut(o.label, " (")
			parts = append(parts, thousands(n)+" "+label)
		}
	}
	return fmt.Sprintf("%s–%s UTC: %s attempts (%s)", hour.Hour.Format("Mon 2 Jan 15:04"), hour.Hour.Add(time.Hour).Format("15:04"),
		thousands(hour.Attempts()), strings.Join(parts, ", "))
}

var sparkTemplate = template.Must(template.New("spark").Parse(`<svg class="spark" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="{{.Label}}">
<title>{{.Label}}</title><polyline class="spark-attempts" points="{{.Attempts}}"/><polyline class="spark-failures" points="{{.Failures}}"/></svg>`))

// sparkLine draws a day's attempts per hour and, below them, its failures.
func sparkLine(s hookflow.HealthSummary) (template.HTML, error) {
	var most int64
	for _, hour := range s.Hours {
		most = max(most, hour.Attempts())
	}
	points := func(count func(hookflow.HourHealth) int64) string {
		var sb strings.Builder
		for i, hour := range s.Hours {
			x := float64(i) * sparkWidth / float64(max(len(s.Hours)-1, 1))
			y := sparkHeight - 1
			if most > 0 {
				y = sparkHeight - 1 - float64(count(hour))/float64(most)*(sparkHeight-2)
			}
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(coord(x) + "," + coord(y))
		}
		return sb.String()
	}
	data := struct {
		Width, Height             float64
		Label, Attempts, Failures string
	}{Width: sparkWidth, Height: sparkHeight,
		Label:    fmt.Sprintf("Attempts per hour, last 24 hours: %s, %s failed", thousands(s.Attempts()), thousands(s.Failed())),
		Attempts: points(func(h hookflow.HourHealth) int64 { return h.Attempts() }),
		Failures: points(func(h hookflow.HourHealth) int64 { return h.Failed() })}
	var buf bytes.Buffer
	if err := sparkTemplate.Execute(&buf, data); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil
}

// roundUp is the axis top for a count: the next 1, 2 or 5 times a power of ten.
func roundUp(n int64) int64 {
	if n <= 1 {
		return 1
	}
	for power := int64(1); ; power *= 10 {
		for _, step := range []int64{1, 2, 5} {
			if step*power >= n {
				return step * power
			}
		}
	}
}

func coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// thousands prints a count with thousands separators.
func thousands(n int64) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// successRate prints a share with one decimal, rounded down: 100% means no failure at all.
func successRate(rate *float64) string {
	if rate == nil {
		return "—"
	}
	return strconv.FormatFloat(math.Floor(*rate*1000)/10, 'f', 1, 64) + "%"
}

func milliseconds(ms *float64) string {
	switch {
	case ms == nil:
		return "—"
	case *ms < 1:
		return "< 1 ms"
	case *ms < 10:
		return strconv.FormatFloat(*ms, 'f', 1, 64) + " ms"
	case *ms < 1000:
		return strconv.FormatFloat(*ms, 'f', 0, 64) + " ms"
	case *ms < 10000:
		return strconv.FormatFloat(*ms/1000, 'f', 2, 64) + " s"
	}
	return strconv.FormatFloat(*ms/1000, 'f', 1, 64) + " s"
}

func rawMilliseconds(ms *float64) string {
	if ms == nil {
		return ""
	}
	return strconv.FormatFloat(*ms, 'f', 1, 64)
}
