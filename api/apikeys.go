package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

// APIKeyHandler lets an account manage its own keys, and the admin mint a key for any
// account.
type APIKeyHandler struct {
	keys hookflow.APIKeyService
	// forget drops a revoked key from this replica's cache of authenticated keys, so the
	// replica that revoked a key refuses it at once; others do once their cache entry
	// expires.
	forget func(keyID string)
}

// List answers the account's keys that are not revoked (never their secrets).
func (h *APIKeyHandler) List(c *gin.Context) {
	keys, err := h.keys.ListAPIKeys(c.Request.Context(), account(c).ID)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": keys})
}

// Create answers 201 with the new key, shown this once.
func (h *APIKeyHandler) Create(c *gin.Context) {
	h.create(c, account(c).ID)
}

// CreateForAccount is the admin's: a key for the account in the path.
func (h *APIKeyHandler) CreateForAccount(c *gin.Context) {
	h.create(c, PathParam(c, "id"))
}

func (h *APIKeyHandler) create(c *gin.Context, accountID string) {
	var in hookflow.APIKeyInput
	if err := decodeJSON(c, MaxBodyBytes, &in); err != nil {
		writeError(c, err)
		return
	}
	key, err := h.keys.CreateAPIKey(c.Request.Context(), accountID, in)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, key)
}

// Revoke answers 204 once the key is revoked.
func (h *APIKeyHandler) Revoke(c *gin.Context) {
	id := PathParam(c, "id")
	if err := h.keys.RevokeAPIKey(c.Request.Context(), account(c).ID, id); err != nil {
		writeError(c, err)
		return
	}
	if h.forget != nil {
		h.forget(id)
	}
	c.Status(http.StatusNoContent)
}

// ListAccounts answers every account (admin only).
func (h *APIKeyHandler) ListAccounts(c *gin.Context) {
	accounts, err := h.keys.ListAccounts(c.Request.Context())
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": accounts})
}
