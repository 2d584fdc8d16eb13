package hookflow

import (
	"unicode/utf8"
)

// Ordering is how a subscription's deliveries are ordered.
type Ordering string

const (
	// OrderingNone sends every delivery as soon as it can go: retries may reorder them.
	OrderingNone Ordering = "none"
	// OrderingFIFO sends the deliveries that share an ordering key one at a time, in the
	// order their events were accepted: none is attempted before every earlier one with
	// the same key has ended (delivered or failed). Different keys go in parallel.
	OrderingFIFO Ordering = "fifo"
)

// ValidOrdering reports whether o is one of the orderings.
func ValidOrdering(o Ordering) bool { return o == OrderingNone || o == OrderingFIFO }

// WaitOrdering: a fifo subscription's earlier delivery with the same ordering key has not
// ended yet.
const WaitOrdering WaitReason = "ordering"

// MaxOrderingKeyChars bounds an event's ordering_key.
const MaxOrderingKeyChars = 256

// OrderingKeyOf is the key a fifo subscription orders an event's delivery by: the event's
// ordering_key when it gave one, else its entity (type and id), so the events of one
// referral go in order by default. Events with neither share one key.
func OrderingKeyOf(orderingKey, entityType string, entityID EntityID) string {
	if orderingKey != "" {
		return "key:" + orderingKey
	}
	return "entity:" + entityType + ":" + entityID.String()
}

func validateOrderingKey(key string) error {
	if utf8.RuneCountInString(key) > MaxOrderingKeyChars || hasControl(key) {
		return Invalid("ordering_key", "must be at most %d characters without control characters", MaxOrderingKeyChars)
	}
	return nil
}
