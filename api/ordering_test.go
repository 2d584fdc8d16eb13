package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOrderingFieldsAreChecked(t *testing.T) {
	e := newAPI(t)
	_, key := e.account("Acme")
	for _, tc := range []struct{ method, path, body, field string }{
		{http.MethodPost, "/v1/subscriptions", `{"url":"` + hookURL + `","ordering":"lifo"}`, "ordering"},
		{http.MethodPost, "/v1/subscriptions", `{"url":"` + hookURL + `","ordering":""}`, "ordering"},
		{http.MethodPost, "/v1/subscriptions", `{"url":"` + hookURL + `","ordering":1}`, "ordering"},
		{http.MethodPost, "/v1/events", `{"event_type":"a","ordering_key":"` + strings.Repeat("k", 257) + `"}`, "ordering_key"},
		{http.MethodPost, "/v1/events", `{"event_type":"a","ordering_key":7}`, "ordering_key"},
		{http.MethodPost, "/v1/events", `{"event_type":"a","ordering_key":"bad\u0007key"}`, "ordering_key"},
	} {
		rec := e.do(tc.method, tc.path, key, tc.body)
		assert.Equal(t, http.StatusUnprocessableEntity, rec.Code, tc.body+": "+rec.Body.String())
		assert.Contains(t, rec.Body.String(), tc.field, tc.body)
	}

	rec := e.do(http.MethodPost, "/v1/subscriptions", key, `{"url":"`+hookURL+`","ordering":"fifo"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var sub struct {
		ID       string `json:"id"`
		Ordering string `json:"ordering"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &sub))
	assert.Equal(t, "fifo", sub.Ordering)
	rec = e.do(http.MethodPatch, "/v1/subscriptions/"+sub.ID, key, `{"ordering":"none"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"ordering":"none"`)
	rec = e.do(http.MethodPost, "/v1/events", key, `{"event_type":"a","ordering_key":"`+strings.Repeat("k", 256)+`"}`)
	assert.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
}
