package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

// statusOf is the one place where error codes become HTTP statuses.
var statusOf = map[string]int{
	hookflow.EMALFORMED:    http.StatusBadRequest,
	hookflow.EUNAUTHORIZED: http.StatusUnauthorized,
	hookflow.EFORBIDDEN:    http.StatusForbidden,
	hookflow.ENOTFOUND:     http.StatusNotFound,
	hookflow.ECONFLICT:     http.StatusConflict,
	hookflow.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	hookflow.EINVALID:      http.StatusUnprocessableEntity,
	hookflow.ERATELIMIT:    http.StatusTooManyRequests,
	hookflow.EUNAVAILABLE:  http.StatusServiceUnavailable,
	hookflow.EINTERNAL:     http.StatusInternalServerError,
	hookflow.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
}

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a code for machines and a message for people.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// HTTPStatus returns the HTTP status of an error.
func HTTPStatus(err error) int {
	if status, ok := statusOf[hookflow.ErrorCode(err)]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// writeError answers with err. Internal errors are logged with their detail and answered
// with a generic message: internal text never reaches a client.
func writeError(c *gin.Context, err error) {
	code := hookflow.ErrorCode(err)
	var described *hookflow.Error
	// An internal error already described (an *hookflow.Error) was logged where it
	// happened, with its cause; anything else is logged here.
	if code == hookflow.EINTERNAL && !errors.As(err, &described) {
		slog.ErrorContext(c.Request.Context(), "request failed", "method", c.Request.Method,
			"route", c.FullPath(), "error", err)
	}
	if code == hookflow.EUNAVAILABLE {
		c.Header("Retry-After", "5")
	}
	c.AbortWithStatusJSON(HTTPStatus(err), ErrorBody{Error: ErrorDetail{Code: code, Message: hookflow.ErrorMessage(err)}})
}

// decodeJSON reads a JSON object body of at most limit bytes into v, strictly: unknown
// fields, wrong types and trailing data are errors that name what is wrong.
func decodeJSON(c *gin.Context, limit int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		return decodeError(err, limit)
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := requireJSONContent(c); err != nil {
			return err
		}
	}
	return decodeBody(body, limit, v)
}

// requireJSONContent refuses a body sent as anything but application/json: a form or
// text body that happens to parse as JSON was not meant as this request.
func requireJSONContent(c *gin.Context) error {
	media, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err == nil && media == "application/json" {
		if charset, ok := params["charset"]; !ok || strings.EqualFold(charset, "utf-8") {
			return nil
		}
	}
	return hookflow.Errorf(hookflow.EUNSUPPORTED, "send the body as Content-Type: application/json")
}

// decodeOptionalJSON is decodeJSON for calls whose body may be left out: an empty body
// leaves v as it is.
func decodeOptionalJSON(c *gin.Context, limit int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		return decodeError(err, limit)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := requireJSONContent(c); err != nil {
		return err
	}
	return decodeBody(body, limit, v)
}

func decodeBody(body []byte, limit int64, v any) error {
	if trimmed := bytes.TrimSpace(body); bytes.Equal(trimmed, []byte("null")) {
		return hookflow.Errorf(hookflow.EMALFORMED, "request body must be a JSON object")
	}
	if err := checkJSON(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return decodeError(err, limit)
		}
		return hookflow.Errorf(hookflow.EMALFORMED, "request body must be a single JSON object")
	}
	return nil
}

func decodeError(err error, limit int64) error {
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return hookflow.Errorf(hookflow.ETOOLARGE, "request body is larger than %d KiB", limit>>10)
	case errors.Is(err, io.EOF):
		return hookflow.Errorf(hookflow.EMALFORMED, "request body is empty; send a JSON object")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return hookflow.Errorf(hookflow.EMALFORMED, "request body is not valid JSON")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return hookflow.Errorf(hookflow.EMALFORMED, "request body must be a JSON object")
		}
		field, _, _ := strings.Cut(typeErr.Field, ".")
		kind := jsonKind(typeErr.Type.Kind().String())
		// Types that take more than one JSON kind (an id that is a string or a number) say
		// which they take.
		if described, ok := reflect.New(typeErr.Type).Elem().Interface().(interface{ JSONKind() string }); ok {
			kind = described.JSONKind()
		}
		return &hookflow.Error{Code: hookflow.EINVALID, Field: field,
			Message: typeErr.Field + ": must be " + kind + ", not " + typeErr.Value}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return hookflow.Invalid(name, "is not a known field")
	}
	return hookflow.Errorf(hookflow.EMALFORMED, "request body is not valid JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "of another type"
}
