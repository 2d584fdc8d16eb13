package hookflow

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Operational events are hookflow's own: they tell an account's subscribers what
// happened to a subscription or a delivery. Their types are reserved (API clients cannot
// post them) and only patterns that name them match them ("hookflow.*" or the exact
// type; "*" does not).
const (
	OperationalPrefix        = "hookflow."
	EventSubscriptionPaused  = "hookflow.subscription.paused"
	EventSubscriptionResumed = "hookflow.subscription.resumed"
	EventDeliveryFailed      = "hookflow.delivery.failed"
)

// OperationalEventTypes are the operational event types, as a subscription may name them.
var OperationalEventTypes = []string{EventSubscriptionPaused, EventSubscriptionResumed, EventDeliveryFailed}

// IsOperational reports whether t is one of hookflow's own event types (or would be).
func IsOperational(t string) bool { return strings.HasPrefix(t, OperationalPrefix) }

// WaitPaused: the subscription is paused; the delivery is held until it is resumed.
const WaitPaused WaitReason = "paused"

// MinFailuresToPause is how many failed attempts in a row, at least, pause a subscription
// whose attempts have all failed for HOOKFLOW_PAUSE_AFTER: a subscription that made one
// attempt days ago and one now has not shown that its endpoint is down.
const MinFailuresToPause = 3

// FailureStreak is a subscription's run of failed attempts since its last success.
type FailureStreak struct {
	Since    time.Time
	Attempts int
}

// Pauses reports whether the streak, seen at now, pauses the subscription: every attempt
// has failed for at least pauseAfter, and there were enough of them.
func (f FailureStreak) Pauses(now time.Time, pauseAfter time.Duration) bool {
	return pauseAfter > 0 && f.Attempts >= MinFailuresToPause && !f.Since.IsZero() && now.Sub(f.Since) >= pauseAfter
}

// Pause reasons hookflow gives when it pauses a subscription itself.
const (
	PausedByGone = "the endpoint answered 410 Gone"
	// MaxPauseReasonChars bounds a reason given with a pause.
	MaxPauseReasonChars = 500
)

// ValidatePauseReason checks a reason a person gives with a pause (trimmed; the API and
// the dashboard each fill in their own when none is given).
func ValidatePauseReason(reason string) error {
	if utf8.RuneCountInString(reason) > MaxPauseReasonChars || !ValidText(reason) {
		return Invalid("reason", "must be text of at most %d characters", MaxPauseReasonChars)
	}
	return nil
}

// PausedByFailures is the reason of a pause after a streak of failures.
func PausedByFailures(f FailureStreak) string {
	return "every attempt failed since " + f.Since.UTC().Format(time.RFC3339) + " (" + strconv.Itoa(f.Attempts) + " attempts)"
}

// RecoveryStatus is where a recovery stands.
type RecoveryStatus string

const (
	RecoveryRunning   RecoveryStatus = "running"
	RecoveryCompleted RecoveryStatus = "completed"
)

// Recovery retries, once each, a subscription's deliveries that failed and were created
// in [Since, Until) (Until nil: up to when the recovery was asked for).
type Recovery struct {
	ID             string         `json:"id"`
	AccountID      string         `json:"-"`
	SubscriptionID string         `json:"subscription_id"`
	Since          time.Time      `json:"since"`
	Until          *time.Time     `json:"until"`
	Status         RecoveryStatus `json:"status"`
	// Total is how many failed deliveries were in the window when the recovery began;
	// Retried how many of them have had their new attempt.
	Total       int        `json:"total"`
	Retried     int        `json:"retried"`
	WorkflowID  string     `json:"workflow_id"`
	CreatedAt   time.Time  `json:"created_at"`
	CompletedAt *time.Time `json:"completed_at"`
}

// RecoveryWorkflowID is the workflow id of a recovery.
func RecoveryWorkflowID(id string) string { return "recovery-" + id }

// RecoveryRequest asks for a recovery.
type RecoveryRequest struct {
	Since time.Time
	Until *time.Time
}

// Validate checks the window against now and the retention: what is older is gone.
func (r RecoveryRequest) Validate(now time.Time, retention time.Duration) error {
	if r.Since.IsZero() {
		return Invalid("since", "is required (an RFC 3339 time)")
	}
	if r.Since.After(now) {
		return Invalid("since", "is in the future")
	}
	if retention > 0 && r.Since.Before(now.Add(-retention)) {
		return Invalid("since", "is older than the retention (%s): those deliveries are no longer kept", retention)
	}
	if r.Until != nil && !r.Until.After(r.Since) {
		return Invalid("until", "must be after since")
	}
	return nil
}

// RecoveryStep is one look of a recovery at its work: the deliveries whose workflows it
// must start now, and whether it is done.
type RecoveryStep struct {
	Start []DispatchItem
	Done  bool
}

// OutageService is what a person does about an endpoint that is down: pause and resume its
// subscription, recover its failed deliveries, replay an event. Every method is scoped to
// the account: another account's id is ENOTFOUND.
type OutageService interface {
	// PauseSubscription pauses the subscription (a paused one stays as it is).
	PauseSubscription(ctx context.Context, accountID, id, reason string) (Subscription, error)
	// ResumeSubscription ends the pause (a subscription not paused stays as it is); its
	// held deliveries are released oldest first.
	ResumeSubscription(ctx context.Context, accountID, id string) (Subscription, error)
	// CountHeld counts the subscription's deliveries held by its pause.
	CountHeld(ctx context.Context, accountID, id string) (int, error)
	CreateRecovery(ctx context.Context, accountID, subscriptionID string, req RecoveryRequest) (Recovery, error)
	// CancelRecovery removes a recovery whose workflow could not be started.
	CancelRecovery(ctx context.Context, id string) error
	FindRecovery(ctx context.Context, accountID, id string) (Recovery, error)
	ListRecoveries(ctx context.Context, accountID, subscriptionID string) ([]Recovery, error)
	// ReplayEvent creates new deliveries of the event: to every subscription it matches
	// now, or to the one named.
	ReplayEvent(ctx context.Context, accountID, eventID, subscriptionID string) ([]IngestedDelivery, error)
}
