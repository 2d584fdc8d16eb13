package store

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConnectionDefaultsFillOnlyWhatTheURLLeavesOut(t *testing.T) {
	got, err := url.Parse(ConnectionURL("postgres://u@db:5432/hookflow?sslmode=disable"))
	require.NoError(t, err)
	assert.Equal(t, "5", got.Query().Get("connect_timeout"))
	assert.Equal(t, "yes", got.Query().Get("binary_parameters"))
	assert.Equal(t, "disable", got.Query().Get("sslmode"))
	assert.Equal(t, "db:5432", got.Host)

	got, err = url.Parse(ConnectionURL("postgresql://db/hookflow?connect_timeout=30&binary_parameters=no"))
	require.NoError(t, err)
	assert.Equal(t, "30", got.Query().Get("connect_timeout"), "the URL's own setting wins")
	assert.Equal(t, "no", got.Query().Get("binary_parameters"), "the URL's own setting wins")

	keyValue := "host=db dbname=hookflow"
	assert.Equal(t, keyValue, ConnectionURL(keyValue), "a key=value string is left as it is")
}
