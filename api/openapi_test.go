package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/api"
)

func loadOpenAPI(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	return doc
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := loadOpenAPI(t, api.OpenAPIDocument())
	assert.Equal(t, "3.0.3", doc.OpenAPI)
	require.NotNil(t, doc.Components)
	assert.Contains(t, doc.Components.SecuritySchemes, "bearerAuth")
	assert.Equal(t, openapi3.SecurityRequirements{{"bearerAuth": []string{}}}, doc.Security)

	unauthenticated := []string{"/healthz", "/readyz", "/metrics", "/openapi.json", "/openapi.yaml"}
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			assert.NotEmpty(t, op.OperationID, name)
			assert.NotEmpty(t, op.Summary, name)
			if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s: operationId %q is also used by %s", name, op.OperationID, other)
			}
			ids[op.OperationID] = name
			if slices.Contains(unauthenticated, path) {
				require.NotNil(t, op.Security, name)
				assert.Empty(t, *op.Security, "%s needs no key", name)
				continue
			}
			// Every /v1 call can be refused for its key, or fail on a dependency or a bug.
			for _, status := range []int{http.StatusUnauthorized, http.StatusInternalServerError, http.StatusServiceUnavailable} {
				assert.NotNil(t, op.Responses.Status(status), "%s documents %d", name, status)
			}
			// A call an account key makes can be outside the key's scope.
			if op.Security == nil || slices.ContainsFunc(*op.Security, func(r openapi3.SecurityRequirement) bool { _, ok := r["bearerAuth"]; return ok }) {
				assert.NotNil(t, op.Responses.Status(http.StatusForbidden), "%s is made with an account key: documents 403", name)
			}
			if op.RequestBody != nil {
				for _, status := range []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity} {
					assert.NotNil(t, op.Responses.Status(status), "%s reads a body: documents %d", name, status)
				}
			}
			// The server answers 404 to an id that is not a UUID, so the document must not
			// make such a request invalid.
			params := append(openapi3.Parameters{}, item.Parameters...)
			params = append(params, op.Parameters...)
			for _, p := range params {
				if p.Value.In == openapi3.ParameterInPath {
					assert.Empty(t, p.Value.Schema.Value.Format, "%s: path parameter %s", name, p.Value.Name)
					assert.Contains(t, op.Responses.Map(), "404", "%s has a path id", name)
				}
			}
		}
	}

	retryAfter := doc.Components.Responses["Unavailable"].Value.Headers["Retry-After"]
	require.NotNil(t, retryAfter, "503 answers carry Retry-After")
	assert.True(t, retryAfter.Value.Required)
}

// ginParam turns gin's ":id" into OpenAPI's "{id}".
var ginParam = regexp.MustCompile(`:([A-Za-z_]+)`)

func TestOpenAPIDocumentsEveryRouteAndNothingElse(t *testing.T) {
	doc := loadOpenAPI(t, api.OpenAPIDocument())
	r := api.NewRouter(api.Deps{Metrics: http.NotFoundHandler()})

	routed := map[string]bool{}
	for _, route := range r.Routes() {
		routed[route.Method+" "+ginParam.ReplaceAllString(route.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	require.NotEmpty(t, routed)
	for route := range routed {
		assert.True(t, documented[route], "%s is routed but not in api/openapi.yaml", route)
	}
	for op := range documented {
		assert.True(t, routed[op], "%s is in api/openapi.yaml but not routed", op)
	}
}

func TestOpenAPIServedAsYAMLAndJSON(t *testing.T) {
	r := api.NewRouter(api.Deps{})
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}

	yamlRec := get("/openapi.yaml")
	require.Equal(t, http.StatusOK, yamlRec.Code, "served without a key")
	assert.True(t, strings.HasPrefix(yamlRec.Header().Get("Content-Type"), "application/yaml"))
	assert.Equal(t, api.OpenAPIDocument(), yamlRec.Body.Bytes())

	jsonRec := get("/openapi.json")
	require.Equal(t, http.StatusOK, jsonRec.Code, "served without a key")
	assert.True(t, strings.HasPrefix(jsonRec.Header().Get("Content-Type"), "application/json"))
	require.True(t, json.Valid(jsonRec.Body.Bytes()))

	// The JSON is the same document: loading either gives the same thing.
	fromYAML, err := json.Marshal(loadOpenAPI(t, yamlRec.Body.Bytes()))
	require.NoError(t, err)
	fromJSON, err := json.Marshal(loadOpenAPI(t, jsonRec.Body.Bytes()))
	require.NoError(t, err)
	assert.JSONEq(t, string(fromYAML), string(fromJSON))

	// A worker serving only probes has no API, so no document of one.
	probes := api.NewRouter(api.Deps{Probes: true})
	rec := httptest.NewRecorder()
	probes.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
}
