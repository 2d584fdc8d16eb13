package api

import (
	"bytes"
	_ "embed" // the OpenAPI document
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
)

//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPIDocument returns the OpenAPI 3 document of the HTTP API, in YAML, as served at
// /openapi.yaml.
func OpenAPIDocument() []byte {
	return bytes.Clone(openAPIYAML)
}

// openAPIJSON is the document converted to JSON, once.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("convert openapi.yaml to JSON: %w", err)
	}
	return out, nil
})

// registerOpenAPI serves the document at /openapi.yaml and /openapi.json, without a key.
func registerOpenAPI(r *gin.Engine) {
	doc, err := openAPIJSON()
	r.GET("/openapi.yaml", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/yaml; charset=utf-8", openAPIYAML)
	})
	r.GET("/openapi.json", func(c *gin.Context) {
		if err != nil {
			writeError(c, err)
			return
		}
		c.Data(http.StatusOK, "application/json; charset=utf-8", doc)
	})
}
