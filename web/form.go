package web

import (
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/hookflow/hookflow"
)

// subscriptionForm is the subscription form as the person filled it in, kept as text so
// a rejected form comes back exactly as it was sent.
type subscriptionForm struct {
	URL         string
	EventTypes  string
	CampaignIDs string
	Description string
	Active      bool
	Timeout     string
	MaxRetries  string
	RateLimit   string
	Headers     string
	// SignatureScheme is empty when the form did not send one: the default on create, the
	// current scheme on edit.
	SignatureScheme string
	// Ordering is none or fifo.
	Ordering string
	// Errors holds a message per field name, shown beside that field.
	Errors map[string]string
	// Problem is an error that names no field of the form.
	Problem string
}

// formFields are the fields the form shows; an error about any other goes on top.
var formFields = map[string]bool{"url": true, "event_types": true, "campaign_ids": true,
	"description": true, "active": true, "timeout": true, "max_retries": true, "rate_limit": true, "headers": true,
	"signature_scheme": true, "ordering": true}

// newSubscriptionForm is the empty form, filled with the defaults a subscription gets.
func newSubscriptionForm() subscriptionForm {
	return formFromSubscription(hookflow.NewSubscription(hookflow.SubscriptionUpdate{}))
}

func formFromSubscription(s hookflow.Subscription) subscriptionForm {
	return subscriptionForm{
		URL:             s.URL,
		EventTypes:      strings.Join(s.EventTypes, ", "),
		CampaignIDs:     strings.Join(s.CampaignIDs, ", "),
		Description:     s.Description,
		Active:          s.Active,
		Timeout:         strconv.Itoa(s.Timeout),
		MaxRetries:      strconv.Itoa(s.MaxRetries),
		RateLimit:       strconv.Itoa(s.RateLimit),
		Headers:         formatHeaders(s.Headers),
		SignatureScheme: string(s.SignatureScheme),
		Ordering:        string(s.Ordering),
	}
}

func formFromValues(v url.Values) subscriptionForm {
	return subscriptionForm{
		URL:         v.Get("url"),
		EventTypes:  v.Get("event_types"),
		CampaignIDs: v.Get("campaign_ids"),
		Description: v.Get("description"),
		// An unticked checkbox sends nothing, so absence means false.
		Active:          v.Get("active") != "",
		Timeout:         v.Get("timeout"),
		MaxRetries:      v.Get("max_retries"),
		RateLimit:       v.Get("rate_limit"),
		Headers:         v.Get("headers"),
		SignatureScheme: v.Get("signature_scheme"),
		Ordering:        v.Get("ordering"),
	}
}

// update turns the form into a change of every field. Text that cannot become a value
// (a timeout of "ten") is an EINVALID error naming the field, like the domain's own.
func (f subscriptionForm) update() (hookflow.SubscriptionUpdate, error) {
	timeout, err := parseWholeNumber("timeout", f.Timeout)
	if err != nil {
		return hookflow.SubscriptionUpdate{}, err
	}
	maxRetries, err := parseWholeNumber("max_retries", f.MaxRetries)
	if err != nil {
		return hookflow.SubscriptionUpdate{}, err
	}
	// An empty rate limit is no limit, as in the API.
	rateLimit := 0
	if strings.TrimSpace(f.RateLimit) != "" {
		if rateLimit, err = parseWholeNumber("rate_limit", f.RateLimit); err != nil {
			return hookflow.SubscriptionUpdate{}, err
		}
	}
	headers, err := parseHeaders(f.Headers)
	if err != nil {
		return hookflow.SubscriptionUpdate{}, err
	}
	u := strings.TrimSpace(f.URL)
	eventTypes := splitList(f.EventTypes)
	var campaignIDs []hookflow.CampaignRef
	for _, id := range splitList(f.CampaignIDs) {
		campaignIDs = append(campaignIDs, hookflow.CampaignRef(id))
	}
	if campaignIDs == nil {
		campaignIDs = []hookflow.CampaignRef{}
	}
	description := strings.TrimSpace(f.Description)
	active := f.Active
	var scheme *hookflow.SignatureScheme
	if f.SignatureScheme != "" {
		scheme = (*hookflow.SignatureScheme)(&f.SignatureScheme)
	}
	// A form without the field (an older page) leaves the ordering as it is.
	var ordering *hookflow.Ordering
	if f.Ordering != "" {
		ordering = (*hookflow.Ordering)(&f.Ordering)
	}
	return hookflow.SubscriptionUpdate{URL: &u, EventTypes: &eventTypes, CampaignIDs: &campaignIDs,
		Description: &description, Active: &active, Timeout: &timeout, MaxRetries: &maxRetries,
		RateLimit: &rateLimit, Headers: &headers, SignatureScheme: scheme, Ordering: ordering}, nil
}

// setError places an error beside its field, or on top of the form when it names none.
// Messages of the domain start with the field's name, which the label already says.
func (f *subscriptionForm) setError(err error) {
	field := hookflow.ErrorField(err)
	message := hookflow.ErrorMessage(err)
	if !formFields[field] {
		f.Problem = message
		return
	}
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	f.Errors[field] = strings.TrimPrefix(message, field+": ")
}

func parseWholeNumber(field, s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, hookflow.Invalid(field, "is required")
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, hookflow.Invalid(field, "must be a whole number")
	}
	return n, nil
}

// splitList reads a list typed as words separated by commas, spaces or line breaks.
func splitList(s string) []string {
	items := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if items == nil {
		return []string{}
	}
	return items
}

// parseHeaders reads one "Name: value" header per line; blank lines are skipped.
func parseHeaders(s string) (map[string]string, error) {
	headers := map[string]string{}
	seen := map[string]bool{}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, hookflow.Invalid("headers", `line %d: write each header as "Name: value"`, i+1)
		}
		// Header names are case-insensitive, so "X-A" and "x-a" would collide on the wire.
		key := strings.ToLower(name)
		if seen[key] {
			return nil, hookflow.Invalid("headers", "%q is given twice", hookflow.Truncate(name, 64))
		}
		seen[key] = true
		headers[name] = strings.TrimSpace(value)
	}
	return headers, nil
}

// formatHeaders writes headers one per line, sorted, as parseHeaders reads them.
func formatHeaders(headers map[string]string) string {
	var lines []string
	for _, h := range sortedHeaders(headers) {
		lines = append(lines, h.Name+": "+h.Value)
	}
	return strings.Join(lines, "\n")
}

type header struct{ Name, Value string }

func sortedHeaders(headers map[string]string) []header {
	list := make([]header, 0, len(headers))
	for name, value := range headers {
		list = append(list, header{name, value})
	}
	sort.Slice(list, func(i, j int) bool { return strings.ToLower(list[i].Name) < strings.ToLower(list[j].Name) })
	return list
}
