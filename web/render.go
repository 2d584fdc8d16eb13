package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// contentSecurityPolicy allows only the dashboard's own stylesheet and script: a value
// that slipped past escaping still could not load or run anything, and no page can be
// framed by another site.
var contentSecurityPolicy = pagePolicy("'self' data:", "'none'")

// pagePolicy is the Content-Security-Policy of a page whose images may come from images
// and which the pages of ancestors may frame (a portal's pages widen both).
func pagePolicy(images, ancestors string) string {
	return "default-src 'none'; style-src 'self'; script-src 'self'; img-src " + images + "; " +
		"form-action 'self'; frame-ancestors " + ancestors + "; base-uri 'none'"
}

// handler serves every dashboard page.
type handler struct {
	Deps
	pages map[string]*template.Template
	// assets are the static files by name, with a content hash that versions their URLs so
	// browsers can cache them for long and still see a new release at once.
	assets map[string]asset
	// now is the clock of relative times ("3 min ago"), replaceable in tests.
	now func() time.Time
}

type asset struct {
	body    []byte
	version string
}

// view is what the layout needs around every page.
type view struct {
	Title   string
	Nav     string
	Account *hookflow.Account
	CSRF    string
	// Refresh reloads the page every two seconds while something on it is in flight.
	Refresh bool
	Notice  string
	Alert   string
	Data    any
	// ReadOnly hides every action: the session may look, not change.
	ReadOnly bool
	// Portal is the API client's branding, on the pages of a portal.
	Portal *portalBrand
}

func newHandler(d Deps) *handler {
	h := &handler{Deps: d, pages: map[string]*template.Template{}, assets: map[string]asset{},
		now: time.Now}
	err := fs.WalkDir(staticFS, "static", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h.assets[strings.TrimPrefix(p, "static/")] = asset{body: body, version: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("web: read embedded static files: %v", err))
	}
	pages, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(fmt.Sprintf("web: list embedded templates: %v", err))
	}
	for _, p := range pages {
		name := path.Base(p)
		if name == "layout.html" {
			continue
		}
		// Each page gets its own copy of the layout, so every page can define "content".
		t, err := template.New(name).Funcs(h.funcs()).ParseFS(templateFS, "templates/layout.html", p)
		if err != nil {
			// The templates are embedded: a parse error is a bug, found by any test.
			panic(fmt.Sprintf("web: parse %s: %v", name, err))
		}
		h.pages[strings.TrimSuffix(name, ".html")] = t
	}
	return h
}

func (h *handler) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": func(name string) string {
			return "/static/" + name + "?v=" + h.assets[name].version
		},
		"ago":      h.ago,
		"absolute": absolute,
		"iso":      iso,
		"code":     responseCode,
		"codeClass": func(code *int) string {
			if code == nil {
				return "code-none"
			}
			return fmt.Sprintf("code-%dxx", *code/100)
		},
		"join":     strings.Join,
		"pretty":   prettyJSON,
		"promoter": promoterSummary,
		"inFlight": inFlight,
		"held":     held,
		// operationalEventTypes are named in the subscription form's help, from the
		// domain's list so the two cannot drift apart.
		"operationalEventTypes": func() []string { return hookflow.OperationalEventTypes },
		// campaignPath escapes a campaign's id (the client's own: any character) into its
		// page's path.
		"campaignPath": campaignPath,
		"waitingText": func(r *hookflow.WaitReason) string {
			switch *r {
			case hookflow.WaitThrottled:
				return "throttled: the endpoint asked to slow down"
			case hookflow.WaitRateLimited:
				return "at the subscription's rate limit"
			case hookflow.WaitInFlightCap:
				return "behind the endpoint's in-flight cap"
			case hookflow.WaitPaused:
				return "held: the subscription is paused"
			case hookflow.WaitOrdering:
				return "waiting for its turn: an earlier delivery with its ordering key has not ended"
			}
			return string(*r)
		},
		"amount": func(v float64) string {
			return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
		},
	}
}

// render writes a whole page or, if the template fails, an error page: the page is
// buffered so a failure never leaves half a page behind.
func (h *handler) render(c *gin.Context, status int, page string, v view) {
	// A signed-out portal's last page has a portal but no account.
	if a, ok := c.Value(accountKey).(hookflow.Account); ok {
		v.Account = &a
		v.CSRF = c.GetString(csrfKey)
	}
	if session, ok := c.Value(sessionInfoKey).(hookflow.Session); ok {
		v.ReadOnly = session.ReadOnly
	}
	if brand, ok := c.Value(portalKey).(portalBrand); ok {
		v.Portal = &brand
	}
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		slog.ErrorContext(c.Request.Context(), "render dashboard page", "page", page, "error", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("internal error"))
		return
	}
	h.setPageHeaders(c, v.Portal)
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// setPageHeaders keeps pages out of caches (they can hold signing secrets) and out of
// other sites' frames, except a portal's pages out of the frames of the sites configured
// to embed it.
func (h *handler) setPageHeaders(c *gin.Context, portal *portalBrand) {
	policy, framed := contentSecurityPolicy, false
	if portal != nil {
		policy, framed = h.portalPolicy(portal.LogoURL), len(h.PortalFrameAncestors) > 0
	}
	c.Header("Content-Security-Policy", policy)
	c.Header("X-Content-Type-Options", "nosniff")
	// X-Frame-Options cannot name the sites allowed: a framed page sends none and
	// frame-ancestors decides.
	if !framed {
		c.Header("X-Frame-Options", "DENY")
	}
	// A portal's entry sends no referrer at all; every other page keeps its own.
	if c.Writer.Header().Get("Referrer-Policy") == "" {
		c.Header("Referrer-Policy", "same-origin")
	}
	c.Header("Cache-Control", "no-store")
}

// errorPage is the body of an error page.
type errorPage struct {
	Status  int
	Heading string
	Message string
}

// fail answers err as a page. Not found says nothing about whether the id exists in
// another account; internal errors are logged and never shown.
func (h *handler) fail(c *gin.Context, err error) {
	status := api.HTTPStatus(err)
	p := errorPage{Status: status, Message: hookflow.ErrorMessage(err)}
	switch hookflow.ErrorCode(err) {
	case hookflow.ENOTFOUND:
		p.Heading = "Not found"
		p.Message = "This page does not exist, or it belongs to another account."
	case hookflow.EUNAVAILABLE:
		p.Heading = "Temporarily unavailable"
		c.Header("Retry-After", "5")
	case hookflow.EINTERNAL:
		slog.ErrorContext(c.Request.Context(), "dashboard request failed", "method", c.Request.Method,
			"route", c.FullPath(), "error", err)
		p.Heading = "Something went wrong"
		p.Message = "The request failed on our side and has been logged. Try again in a moment."
	default:
		p.Heading = http.StatusText(status)
	}
	h.render(c, status, "error", view{Title: p.Heading, Data: p})
	c.Abort()
}

func (h *handler) notFound(c *gin.Context) {
	h.fail(c, hookflow.Errorf(hookflow.ENOTFOUND, "not found"))
}

// refuse answers a form that may not come from the dashboard itself.
func (h *handler) refuse(c *gin.Context) {
	p := errorPage{Status: http.StatusForbidden, Heading: "Request refused",
		Message: "This form was refused: it did not come from this dashboard, or its security token is missing or out of date. Go back, reload the page and try again."}
	h.render(c, http.StatusForbidden, "error", view{Title: p.Heading, Data: p})
	c.Abort()
}

// static serves the embedded stylesheet and script.
func (h *handler) static(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("file"), "/")
	a, ok := h.assets[name]
	if !ok {
		h.notFound(c)
		return
	}
	contentType := mime.TypeByExtension(path.Ext(name))
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	c.Header("Cache-Control", "public, max-age=86400")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, contentType, a.body)
}

func inFlight(s hookflow.Status) bool {
	return s == hookflow.StatusPending || s == hookflow.StatusRetrying
}

// held reports whether a pause holds the delivery.
func held(d hookflow.Delivery) bool {
	return d.WaitingReason != nil && *d.WaitingReason == hookflow.WaitPaused
}

// refreshes reports whether a page showing the delivery should reload itself to follow
// it. A held delivery changes only when someone resumes its subscription, which may be
// days away: reloading every two seconds meanwhile would show nothing new and would wipe
// whatever was being typed into the page's forms.
func refreshes(d hookflow.Delivery) bool {
	return inFlight(d.Status) && !held(d)
}

func responseCode(code *int) string {
	if code == nil {
		return "—"
	}
	return fmt.Sprint(*code)
}

func timeOf(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case *time.Time:
		if t == nil {
			return time.Time{}, false
		}
		return *t, !t.IsZero()
	}
	return time.Time{}, false
}

func absolute(v any) string {
	t, ok := timeOf(v)
	if !ok {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func iso(v any) string {
	t, ok := timeOf(v)
	if !ok {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// ago says how far t is from now in the largest unit that fits, which is what a person
// scanning a list wants; the exact time is in the element's title.
func (h *handler) ago(v any) string {
	t, ok := timeOf(v)
	if !ok {
		return "—"
	}
	d := h.now().Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 5*time.Second:
		if future {
			return "now"
		}
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d.Hours()))
	default:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// prettyJSON indents a payload for reading; anything that is not JSON is shown as sent.
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// promoterSummary names a fulfilment's promoter by what a person recognises: email and
// id, whichever are there.
func promoterSummary(raw json.RawMessage) string {
	var p map[string]any
	if json.Unmarshal(raw, &p) != nil {
		return ""
	}
	var parts []string
	for _, key := range []string{"email", "name", "id"} {
		if v, ok := p[key]; ok && v != nil {
			s := fmt.Sprint(v)
			if key == "id" {
				s = "#" + s
			}
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " · ")
}
