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

// givenAnswers makes the n-th attempt answer codes[n-1] with a Retry-After of
// retryAfter[n-1].
func (s *DeliverySuite) givenAnswers(codes []int, retryAfter []time.Duration) {
	s.env.OnActivity(a.Send, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SendInput) (activities.SendResult, error) {
			var res activities.SendResult
			if in.First {
				start := s.begin
				res.Start = &start
			}
			number, trigger, ok := in.Resolve(s.begin)
			if !ok {
				return res, nil
			}
			i := len(s.sends)
			if waits := s.waitsBefore[i]; len(waits) > 0 {
				// The endpoint cannot take attempt i yet: no attempt is made.
				s.waitsBefore[i] = waits[1:]
				s.waitCalls = append(s.waitCalls, waitCall{at: s.env.Now().Sub(s.start), number: number})
				w := waits[0]
				res.Wait = &w
				return res, nil
			}
			code := codes[i]
			s.sends = append(s.sends, s.env.Now().Sub(s.start))
			s.trigger = append(s.trigger, trigger)
			if s.during != nil {
				s.during(i)
			}
			res.Attempt = hookflow.Attempt{Number: number, Trigger: trigger, StartedAt: s.env.Now(), ResponseCode: &code}
			if code >= 300 {
				res.Attempt.Error = "endpoint answered"
			}
			res.RetryAfter = retryAfter[i]
			// A send step that records its own success, as the real one does when asked.
			if s.recordsSuccess && in.RecordSuccess && res.Attempt.Succeeded() {
				s.records = append(s.records, s.begin.AttemptRecord(in.DeliveryID, res.Attempt, in.Recovery, s.env.Now()))
				res.Recorded = true
			}
			return res, nil
		})
	s.env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(
		func(_ context.Context, rec hookflow.AttemptRecord) error {
			s.records = append(s.records, rec)
			s.recordCalls++
			return nil
		})
}

func (s *DeliverySuite) TestRetryAfterLongerThanTheWaitIsHonoured() {
	s.givenStart(activities.StartResult{Status: hookflow.StatusPending, Policy: hookflow.LinearPolicy(3, unit)})
	s.givenAnswers([]int{429, 503, 200}, []time.Duration{90 * time.Minute, 5 * time.Minute, 0})
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	// Retry 1: Retry-After 90 m beats the 20 m wait. Retry 2: 5 m is shorter than the
	// 40 m wait, which stands.
	s.Equal([]time.Duration{0, 90 * time.Minute, 130 * time.Minute}, s.sends)
	s.Equal(s.start.Add(90*time.Minute).UTC(), s.records[0].NextAttemptAt.UTC())
}

// A 410 pauses the subscription instead of ending the delivery: its retries stand, and
// the pause holds them (the gateway answers waits) until the subscription is resumed.
func (s *DeliverySuite) TestGonePausesTheSubscriptionAndKeepsTheRetries() {
	s.givenStart(activities.StartResult{Status: hookflow.StatusPending, Policy: hookflow.LinearPolicy(5, unit)})
	s.givenAnswers([]int{410, 200}, []time.Duration{0, 0})
	held := outbound.Wait{Reason: hookflow.WaitPaused, For: outbound.HeldRecheck}
	s.waitsBefore[1] = []outbound.Wait{held, held, held}
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Equal(hookflow.PausedByGone, s.records[0].PauseReason)
	s.Equal(hookflow.StatusRetrying, s.records[0].Status)
	s.Equal(s.start.Add(unit).UTC(), s.records[0].NextAttemptAt.UTC())
	// Retry 1 came due at 20 min and was held three hours: still attempt 2.
	s.Equal([]time.Duration{0, unit + 3*outbound.HeldRecheck}, s.sends)
	s.Equal(2, s.records[1].Attempt.Number)
	s.Empty(s.records[1].PauseReason)
}

// A held delivery that is woken (its subscription was resumed) goes at once, with the
// attempt it would have made.
func (s *DeliverySuite) TestHeldDeliveryGoesOutWhenWoken() {
	s.given(hookflow.StatusPending, 0, 3, 200)
	held := outbound.Wait{Reason: hookflow.WaitPaused, For: outbound.HeldRecheck}
	s.waitsBefore[0] = []outbound.Wait{held}
	var queried workflows.DeliveryState
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(workflows.StateQuery)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(&queried))
	}, 90*time.Minute)
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(workflows.WakeSignal, nil) }, 150*time.Minute)
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Equal([]time.Duration{150 * time.Minute}, s.sends)
	s.Equal(1, s.records[0].Attempt.Number)
	s.Require().NotNil(queried.Waiting)
	s.Equal(hookflow.WaitPaused, queried.Waiting.Reason)
	s.Equal(s.start.UTC(), queried.Waiting.Since.UTC())
	s.Equal(0, queried.Attempts)
}

// A recovery's run of a failed delivery makes one attempt, recorded as the recovery's; a
// run started again for the same recovery after that attempt makes none.
func (s *DeliverySuite) TestRecoveryMakesOneAttemptOnce() {
	s.givenStart(activities.StartResult{Status: hookflow.StatusFailed, Attempts: 4, Policy: hookflow.LinearPolicy(3, unit), Recovery: "r1"})
	s.givenCodes(500)
	s.Equal(hookflow.StatusFailed, s.runWith(workflows.DeliveryInput{DeliveryID: "d1", Recovery: "r1"}).Status)
	s.Equal([]hookflow.Trigger{hookflow.TriggerRecovery}, s.trigger)
	s.Require().Len(s.records, 1)
	s.Equal("r1", s.records[0].RecoveryID)
	s.Equal(5, s.records[0].Attempt.Number)
	s.Equal(hookflow.StatusFailed, s.records[0].Status)

	s.SetupTest()
	s.givenStart(activities.StartResult{Status: hookflow.StatusFailed, Attempts: 5, Policy: hookflow.LinearPolicy(3, unit), Recovery: "r1", RecoveryDone: true})
	s.givenCodes(500)
	s.env.ExecuteWorkflow(workflows.DeliveryWorkflow, workflows.DeliveryInput{DeliveryID: "d1", Recovery: "r1"})
	s.Require().NoError(s.env.GetWorkflowError())
	s.Empty(s.sends)
	s.Empty(s.records)
}
