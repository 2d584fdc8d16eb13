package keyring_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/keyring"
)

func TestSealOpenRoundTrip(t *testing.T) {
	k, err := keyring.Parse(keyring.Generate())
	require.NoError(t, err)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	sealed := k.Seal(secret)
	assert.True(t, keyring.IsSealed(sealed))
	assert.NotContains(t, sealed, "whsec_")
	assert.NotEqual(t, sealed, k.Seal(secret), "a fresh nonce each time")
	assert.Equal(t, sealed, k.Seal(sealed), "sealing twice does not hide a value twice")
	opened, err := k.Open(sealed)
	require.NoError(t, err)
	assert.Equal(t, secret, opened)
	plain, err := k.Open(secret)
	require.NoError(t, err)
	assert.Equal(t, secret, plain, "plaintext from an earlier build opens as itself")
}

func TestRotationOpensOldValuesAndSealsWithTheNewKey(t *testing.T) {
	oldKey, newKey := keyring.Generate(), keyring.Generate()
	before, err := keyring.Parse(oldKey)
	require.NoError(t, err)
	sealedBefore := before.Seal("whsec_old")

	after, err := keyring.Parse(newKey + ", " + oldKey)
	require.NoError(t, err)
	opened, err := after.Open(sealedBefore)
	require.NoError(t, err)
	assert.Equal(t, "whsec_old", opened)
	assert.Contains(t, after.Seal("whsec_new"), "sealed:v1:"+after.CurrentID()+":")
	assert.NotContains(t, sealedBefore, after.CurrentID())

	newOnly, err := keyring.Parse(newKey)
	require.NoError(t, err)
	_, err = newOnly.Open(sealedBefore)
	assert.ErrorIs(t, err, keyring.ErrUnknownKey)
}

func TestTamperedValuesDoNotOpen(t *testing.T) {
	k, err := keyring.Parse(keyring.Generate())
	require.NoError(t, err)
	sealed := k.Seal("whsec_x")
	i, other := len(sealed)-3, "A"
	if sealed[i] == 'A' {
		other = "B"
	}
	flipped := sealed[:i] + other + sealed[i+1:]
	for _, bad := range []string{flipped, "sealed:v1:", "sealed:v1:" + k.CurrentID() + ":", "sealed:v1:" + k.CurrentID() + ":%%%", "sealed:v1:" + k.CurrentID() + ":AAAA"} {
		_, err := k.Open(bad)
		assert.Error(t, err, bad)
	}
}

func TestParseRefusesBadKeys(t *testing.T) {
	good := keyring.Generate()
	for _, spec := range []string{"", "short", good + ",", good + "," + good, strings.Repeat("A", 44)[:40]} {
		_, err := keyring.Parse(spec)
		assert.Error(t, err, spec)
	}
	_, err := keyring.Parse(" " + good + " ")
	assert.NoError(t, err)
}
