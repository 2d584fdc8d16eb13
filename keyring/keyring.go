// Package keyring encrypts signing secrets at rest. A secret is sealed with AES-256-GCM
// (authenticated: a changed byte fails to open rather than yielding another secret) under
// the keyring's first key; every key of the ring opens what it sealed, so a new key can be
// put first while the values sealed under the old ones are re-encrypted.
//
// A sealed value reads "sealed:v1:<key id>:<base64url(nonce || ciphertext)>", where the key
// id is a digest prefix that names the key without revealing it. Values without that
// prefix are plaintext left by a build that stored secrets as they were; they open as
// themselves until they are sealed.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of a key: AES-256.
const KeySize = 32

const prefix = "sealed:v1:"

// Keyring holds the keys; the first seals.
type Keyring struct {
	keys []key
}

type key struct {
	id   string
	aead cipher.AEAD
}

// Generate returns a new random key, encoded as Parse reads it.
func Generate() string {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Parse reads a comma-separated list of base64-encoded 32-byte keys, the one to seal with
// first. Spaces around each key are ignored.
func Parse(spec string) (*Keyring, error) {
	k := &Keyring{}
	seen := map[string]bool{}
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("key %d is empty", i+1)
		}
		raw, err := base64.StdEncoding.DecodeString(part)
		if err != nil {
			raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(part, "="))
		}
		if err != nil || len(raw) != KeySize {
			return nil, fmt.Errorf("key %d is not %d bytes of base64 (generate one with `hookflow secrets generate-key`)", i+1, KeySize)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := keyID(raw)
		if seen[id] {
			return nil, fmt.Errorf("key %d is given twice", i+1)
		}
		seen[id] = true
		k.keys = append(k.keys, key{id: id, aead: aead})
	}
	return k, nil
}

func keyID(raw []byte) string {
	sum := sha256.Sum256(append([]byte("hookflow keyring id\x00"), raw...))
	return hex.EncodeToString(sum[:4])
}

// CurrentID names the key that seals.
func (k *Keyring) CurrentID() string { return k.keys[0].id }

// Has reports whether the ring holds the key of that id.
func (k *Keyring) Has(id string) bool {
	for _, key := range k.keys {
		if key.id == id {
			return true
		}
	}
	return false
}

// Seal encrypts a secret under the first key. Sealing an already sealed value would hide
// it twice, so a sealed value is returned as it is.
func (k *Keyring) Seal(secret string) string {
	if IsSealed(secret) {
		return secret
	}
	current := k.keys[0]
	nonce := make([]byte, current.aead.NonceSize(), current.aead.NonceSize()+len(secret)+current.aead.Overhead())
	_, _ = rand.Read(nonce)
	sealed := current.aead.Seal(nonce, nonce, []byte(secret), []byte(current.id))
	return prefix + current.id + ":" + base64.RawURLEncoding.EncodeToString(sealed)
}

// ErrUnknownKey is returned for a value sealed under a key the ring does not hold.
var ErrUnknownKey = errors.New("sealed with a key that is not in the keyring")

// Open decrypts a sealed value; plaintext opens as itself.
func (k *Keyring) Open(stored string) (string, error) {
	id, data, sealed, err := split(stored)
	if err != nil || !sealed {
		return stored, err
	}
	for _, key := range k.keys {
		if key.id != id {
			continue
		}
		n := key.aead.NonceSize()
		if len(data) < n {
			return "", errors.New("sealed value is truncated")
		}
		plain, err := key.aead.Open(nil, data[:n], data[n:], []byte(id))
		if err != nil {
			return "", errors.New("sealed value does not authenticate under its key")
		}
		return string(plain), nil
	}
	return "", fmt.Errorf("%w (key id %s)", ErrUnknownKey, id)
}

// IsSealed reports whether a stored value is sealed rather than plaintext.
func IsSealed(stored string) bool { return strings.HasPrefix(stored, prefix) }

func split(stored string) (id string, data []byte, sealed bool, err error) {
	rest, ok := strings.CutPrefix(stored, prefix)
	if !ok {
		return "", nil, false, nil
	}
	id, enc, ok := strings.Cut(rest, ":")
	if !ok || id == "" {
		return "", nil, true, errors.New("sealed value is malformed")
	}
	data, err = base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return id, nil, true, errors.New("sealed value is malformed")
	}
	return id, data, true, nil
}
