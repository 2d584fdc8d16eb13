package hookflow

import "time"

// PolicyKind names a retry policy. Policies are data: the delivery workflow has one loop
// and asks its policy how long to wait before each retry.
type PolicyKind string

const (
	// PolicyLinear waits n × Unit before retry n, for at most MaxRetries retries.
	PolicyLinear PolicyKind = "linear"
	// PolicyNone makes a single attempt.
	PolicyNone PolicyKind = "none"
	// PolicySchedule waits Schedule[n-1] before retry n (the fulfilment protocol).
	PolicySchedule PolicyKind = "schedule"
)

// Policy decides the waits between attempts of one delivery.
type Policy struct {
	Kind       PolicyKind      `json:"kind"`
	MaxRetries int             `json:"max_retries"`
	Unit       time.Duration   `json:"unit"`
	Schedule   []time.Duration `json:"schedule,omitempty"`
}

// LinearPolicy is the subscription policy: retry n waits n × unit.
func LinearPolicy(maxRetries int, unit time.Duration) Policy {
	return Policy{Kind: PolicyLinear, MaxRetries: maxRetries, Unit: unit}
}

// SchedulePolicy retries once after each wait of schedule.
func SchedulePolicy(schedule []time.Duration) Policy {
	return Policy{Kind: PolicySchedule, MaxRetries: len(schedule), Schedule: schedule}
}

// RetryWait returns how long to wait before retry n (1-based) after n failed attempts,
// and false when the policy allows no further retry.
func (p Policy) RetryWait(n int) (time.Duration, bool) {
	if n < 1 {
		return 0, false
	}
	switch p.Kind {
	case PolicyLinear:
		if n > p.MaxRetries {
			return 0, false
		}
		return time.Duration(n) * p.Unit, true
	case PolicySchedule:
		if n > len(p.Schedule) {
			return 0, false
		}
		return p.Schedule[n-1], true
	}
	return 0, false
}
