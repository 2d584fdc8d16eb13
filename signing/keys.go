package signing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
)

// Prefixes of the asymmetric (v1a) keys, as the specification names them and Svix
// serialises them.
const (
	// SigningKeyPrefix marks an Ed25519 signing key, which only the sender holds: the
	// standard base64 of the 32-byte seed followed by the 32-byte public key, the layout of
	// ed25519.PrivateKey and of Svix's whsk_ keys.
	SigningKeyPrefix = "whsk_"
	// PublicKeyPrefix marks an Ed25519 public key, which receivers verify with: the
	// standard base64 of its 32 bytes.
	PublicKeyPrefix = "whpk_"
)

// NewKeyPair returns a fresh Ed25519 signing key ("whsk_…") and its public key ("whpk_…").
func NewKeyPair() (signingKey, publicKey string, err error) {
	public, private, err := ed25519.GenerateKey(nil)
	if err != nil {
		return "", "", fmt.Errorf("generate webhook signing key: %w", err)
	}
	return encodeSigningKey(private), encodePublicKey(public), nil
}

// PublicKey returns the "whpk_…" public key of a "whsk_…" signing key, for the receiver.
func PublicKey(signingKey string) (string, error) {
	private, err := ParseSigningKey(signingKey)
	if err != nil {
		return "", err
	}
	return encodePublicKey(private.Public().(ed25519.PublicKey)), nil
}

// ParseSigningKey returns the Ed25519 key inside a "whsk_…" signing key. It refuses a key
// whose public half is not the one its seed derives: its signatures would never verify
// under the public key it carries.
func ParseSigningKey(signingKey string) (ed25519.PrivateKey, error) {
	raw, err := decodeKey(signingKey, SigningKeyPrefix, "signing key", ed25519.PrivateKeySize)
	if err != nil {
		return nil, err
	}
	private := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
	if !bytes.Equal(private[ed25519.SeedSize:], raw[ed25519.SeedSize:]) {
		return nil, fmt.Errorf("%w: the %s signing key's public half does not match its seed",
			ErrInvalidKey, SigningKeyPrefix)
	}
	return private, nil
}

// ParsePublicKey returns the Ed25519 key inside a "whpk_…" public key.
func ParsePublicKey(publicKey string) (ed25519.PublicKey, error) {
	raw, err := decodeKey(publicKey, PublicKeyPrefix, "public key", ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(raw), nil
}

// decodeKey returns the size bytes that follow prefix in key, in standard base64. Unlike a
// secret's, the prefix is required: it is what tells the schemes apart.
func decodeKey(key, prefix, kind string, size int) ([]byte, error) {
	encoded, found := strings.CutPrefix(key, prefix)
	if !found {
		return nil, fmt.Errorf("%w: a %s starts with %s%s", ErrInvalidKey, kind, prefix, misplacedKeyHint(key))
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		// The key itself never goes into the error: a signing key is a secret.
		return nil, fmt.Errorf("%w: not %s followed by standard base64", ErrInvalidKey, prefix)
	}
	if len(raw) != size {
		return nil, fmt.Errorf("%w: a %s holds %d bytes after %s, this one %d",
			ErrInvalidKey, kind, size, prefix, len(raw))
	}
	return raw, nil
}

// misplacedKeyHint names the kind of key that was given instead, which is the usual
// mistake: a signing key where the public key belongs, or the reverse.
func misplacedKeyHint(key string) string {
	switch {
	case strings.HasPrefix(key, SigningKeyPrefix):
		return " (this is a " + SigningKeyPrefix + " signing key)"
	case strings.HasPrefix(key, PublicKeyPrefix):
		return " (this is a " + PublicKeyPrefix + " public key)"
	case strings.HasPrefix(key, SecretPrefix):
		return " (this is a " + SecretPrefix + " secret)"
	}
	return ""
}

func encodeSigningKey(private ed25519.PrivateKey) string {
	return SigningKeyPrefix + base64.StdEncoding.EncodeToString(private)
}

func encodePublicKey(public ed25519.PublicKey) string {
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(public)
}
