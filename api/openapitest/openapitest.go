// Package openapitest checks HTTP exchanges with hookflow's API against its OpenAPI
// document (api/openapi.yaml): that a request is one the document describes, and that the
// answer has a documented status, the documented headers and a body of the documented
// schema. Tests use it to keep the document and the server in step.
package openapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/hookflow/hookflow/api"
)

// ErrNotDocumented is wrapped by the errors about a method and path the document does not
// describe (an unknown route, or a known path with another method).
var ErrNotDocumented = errors.New("not in the OpenAPI document")

// Checker validates exchanges against the document. It is safe for concurrent use.
type Checker struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
}

// New loads and validates the embedded document and builds its router. Routes match on
// the path alone, whatever the scheme, host and port of the URL.
func New() (*Checker, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is invalid: %w", err)
	}
	// The servers name the default address; the servers under test listen elsewhere.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	opts := &openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true,
		SkipSettingDefaults:   true,
		AuthenticationFunc:    bearerPresent,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC4122)),
			openapi3.WithStringFormatValidator("uri", absoluteURI{}),
			// The error names the field and the rule; the whole schema and value add noise.
			openapi3.DisableSchemaErrorDetails(),
		},
	}
	return &Checker{doc: doc, router: router, opts: opts}, nil
}

// Document returns the loaded document (without servers). Callers must not modify it.
func (c *Checker) Document() *openapi3.T {
	return c.doc
}

// Check validates one exchange: the answer always, and the request too when the answer is
// not a 4xx or 5xx, since tests send invalid requests on purpose to see them refused.
// rawURL may be absolute or a path with a query; reqBody and respBody may be nil.
func (c *Checker) Check(method, rawURL string, reqHeader http.Header, reqBody []byte, status int, respHeader http.Header, respBody []byte) error {
	if status < 400 {
		if err := c.CheckRequest(method, rawURL, reqHeader, reqBody); err != nil {
			return err
		}
	}
	return c.CheckResponse(method, rawURL, status, respHeader, respBody)
}

// CheckRequest validates a request: a documented method and path, the path, query and
// header parameters, a bearer key where one is needed, and the body against its schema.
func (c *Checker) CheckRequest(method, rawURL string, header http.Header, body []byte) error {
	req, route, params, err := c.route(method, rawURL, header, body)
	if err != nil {
		return err
	}
	input := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: c.opts}
	if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
		return fmt.Errorf("%s %s: request does not match the OpenAPI document: %w", method, req.URL.Path, err)
	}
	return nil
}

// CheckResponse validates an answer to method and rawURL: a documented status, the
// documented headers (Retry-After on a 503), and the body against the schema of its
// content type; an answer documented without content must have no body.
func (c *Checker) CheckResponse(method, rawURL string, status int, header http.Header, body []byte) error {
	req, route, params, err := c.route(method, rawURL, nil, nil)
	if err != nil {
		return err
	}
	where := fmt.Sprintf("%s %s → %d", method, req.URL.Path, status)
	if ref := route.Operation.Responses.Status(status); ref != nil && ref.Value != nil && len(ref.Value.Content) == 0 && len(body) > 0 {
		return fmt.Errorf("%s: the document gives this answer no body, but it has %d bytes", where, len(body))
	}
	if header == nil {
		header = http.Header{}
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: c.opts},
		Status:                 status,
		Header:                 header,
		Options:                c.opts,
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		return fmt.Errorf("%s: answer does not match the OpenAPI document: %w (body: %s)", where, err, abbreviate(body))
	}
	return nil
}

func (c *Checker) route(method, rawURL string, header http.Header, body []byte) (*http.Request, *routers.Route, map[string]string, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s %s: %w", method, rawURL, err)
	}
	if header != nil {
		req.Header = header.Clone()
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s %s: %w (%v)", method, req.URL.Path, ErrNotDocumented, err)
	}
	return req, route, params, nil
}

// bearerPresent accepts any bearer key: the checker judges the shape of requests, the
// server judges keys.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return fmt.Errorf("no bearer key for security scheme %q", in.SecuritySchemeName)
	}
	return nil
}

// absoluteURI is the "uri" format: an absolute URI.
type absoluteURI struct{}

func (absoluteURI) Validate(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if !u.IsAbs() {
		return errors.New("not an absolute URI")
	}
	return nil
}

func abbreviate(body []byte) string {
	const limit = 2000
	if len(body) > limit {
		return string(body[:limit]) + "…"
	}
	return string(body)
}
