package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

// EndpointHealthHandler serves a subscription's endpoint health: its attempts of the
// last 24 hours or 7 days by hour and outcome, their latency, the last success and
// failure.
type EndpointHealthHandler struct {
	health hookflow.HealthService
}

// Get answers the health over ?window=24h (the default) or 7d.
func (h *EndpointHealthHandler) Get(c *gin.Context) {
	window, err := hookflow.ParseHealthWindow(c.Query("window"))
	if err != nil {
		writeError(c, err)
		return
	}
	health, err := h.health.EndpointHealth(c.Request.Context(), account(c).ID, c.Param("id"), window)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, health)
}
