package workflows_test

import (
	"context"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/outbound"
	"github.com/hookflow/hookflow/workflows"
)

// Waiting for the endpoint is not an attempt: the attempt that follows keeps its number,
// and the retry schedule counts from the attempts that were made.
func (s *DeliverySuite) TestWaitForTheEndpointSpendsNoAttempt() {
	s.given(hookflow.StatusPending, 0, 3, 500, 200)
	s.waitsBefore[0] = []outbound.Wait{{Reason: hookflow.WaitInFlightCap, For: 30 * time.Second}, {Reason: hookflow.WaitInFlightCap, For: 30 * time.Second}}
	// Retry 1 comes due at 21 min (20 min after the attempt at 1 min), then waits 5 min
	// for its throttled endpoint.
	s.waitsBefore[1] = []outbound.Wait{{Reason: hookflow.WaitThrottled, For: 5 * time.Minute}}
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Equal(2, state.Attempts)
	s.Equal([]time.Duration{time.Minute, 26 * time.Minute}, s.sends)
	s.Equal([]waitCall{{0, 1}, {30 * time.Second, 1}, {21 * time.Minute, 2}}, s.waitCalls)
	s.Equal([]int{1, 2}, []int{s.records[0].Attempt.Number, s.records[1].Attempt.Number})
	s.Equal([]hookflow.Status{hookflow.StatusRetrying, hookflow.StatusDelivered}, s.statuses())
	s.Nil(state.Waiting)
}

// A delivery whose subscription was throttled by another delivery's 429 waits the
// throttle out, then goes with its own first attempt; max_retries 0 is not used up.
func (s *DeliverySuite) TestThrottledByASiblingWaitsWithoutAnAttempt() {
	s.given(hookflow.StatusPending, 0, 0, 200)
	s.waitsBefore[0] = []outbound.Wait{{Reason: hookflow.WaitThrottled, For: 2 * time.Second}, {Reason: hookflow.WaitThrottled, For: 4 * time.Second}}
	var queried workflows.DeliveryState
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(workflows.StateQuery)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(&queried))
	}, 3*time.Second)
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Equal([]time.Duration{6 * time.Second}, s.sends)
	s.Equal(1, s.records[0].Attempt.Number)
	// The state query shows the wait, since its start, in the Temporal UI.
	s.Require().NotNil(queried.Waiting)
	s.Equal(hookflow.WaitThrottled, queried.Waiting.Reason)
	s.Equal(s.start.UTC(), queried.Waiting.Since.UTC())
	s.Equal(s.start.Add(6*time.Second).UTC(), queried.Waiting.Until.UTC())
	s.Equal(hookflow.StatusPending, queried.Status)
	s.Equal(0, queried.Attempts)
}

// Rate-limited deliveries wait exactly the turn the gateway gives them.
func (s *DeliverySuite) TestRateLimitedWaitsForItsTurn() {
	s.given(hookflow.StatusPending, 0, 3, 200)
	s.waitsBefore[0] = []outbound.Wait{{Reason: hookflow.WaitRateLimited, For: 1400 * time.Millisecond}}
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Equal([]time.Duration{1400 * time.Millisecond}, s.sends)
}

// A slot freeing (the wake signal) ends a wait behind the in-flight cap early.
func (s *DeliverySuite) TestWakeEndsTheWaitEarly() {
	s.given(hookflow.StatusPending, 0, 3, 200)
	s.waitsBefore[0] = []outbound.Wait{{Reason: hookflow.WaitInFlightCap, For: 10 * time.Minute}}
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(workflows.WakeSignal, nil) }, time.Minute)
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Equal([]time.Duration{time.Minute}, s.sends)
	s.Equal([]hookflow.Trigger{hookflow.TriggerAutomatic}, s.trigger)
}

// An attempt handed off (its endpoint is slow) is collected by an activity on the worker
// that made it, and recorded like any other.
func (s *DeliverySuite) TestHandedOffAttemptIsCollected() {
	s.givenStart(activities.StartResult{Status: hookflow.StatusPending, Policy: hookflow.LinearPolicy(3, unit)})
	s.env.OnActivity(a.Send, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SendInput) (activities.SendResult, error) {
		start := s.begin
		return activities.SendResult{Start: &start, HandedOff: &activities.HandOff{TaskQueue: "q", Ticket: "t1", Timeout: 30 * time.Second}}, nil
	})
	var awaited activities.AwaitInput
	s.env.OnActivity(a.AwaitAttempt, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.AwaitInput) (activities.SendResult, error) {
		awaited = in
		code := 200
		return activities.SendResult{Attempt: hookflow.Attempt{Number: 1, ResponseCode: &code, Trigger: hookflow.TriggerAutomatic}}, nil
	})
	s.env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(func(_ context.Context, rec hookflow.AttemptRecord) error {
		s.records = append(s.records, rec)
		return nil
	})
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Equal("t1", awaited.Ticket)
	s.Require().Len(s.records, 1)
	s.Equal(1, s.records[0].Attempt.Number)
}

// When the worker that made a handed-off attempt is gone, the attempt was made but its
// answer is unknown: it counts as a failed attempt and the schedule goes on.
func (s *DeliverySuite) TestHandedOffAttemptLostWithItsWorkerIsAFailedAttempt() {
	s.givenStart(activities.StartResult{Status: hookflow.StatusPending, Policy: hookflow.LinearPolicy(3, unit)})
	calls := 0
	s.env.OnActivity(a.Send, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SendInput) (activities.SendResult, error) {
		calls++
		start := s.begin
		if calls == 1 {
			return activities.SendResult{Start: &start, HandedOff: &activities.HandOff{TaskQueue: "q", Ticket: "t1", Timeout: time.Second}}, nil
		}
		code := 200
		return activities.SendResult{Attempt: hookflow.Attempt{Number: in.Number, ResponseCode: &code, Trigger: in.Trigger}}, nil
	})
	s.env.OnActivity(a.AwaitAttempt, mock.Anything, mock.Anything).Return(activities.SendResult{}, outbound.ErrLostAttempt)
	s.env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(func(_ context.Context, rec hookflow.AttemptRecord) error {
		s.records = append(s.records, rec)
		return nil
	})
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Require().Len(s.records, 2)
	s.Equal(1, s.records[0].Attempt.Number)
	s.Equal(hookflow.StatusRetrying, s.records[0].Status)
	s.Contains(s.records[0].Attempt.Error, "stopped before the endpoint's answer was collected")
	s.Equal(2, s.records[1].Attempt.Number)
}
