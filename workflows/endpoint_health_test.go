package workflows_test

import (
	"context"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/activities"
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
			return res, nil
		})
	s.env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(
		func(_ context.Context, rec hookflow.AttemptRecord) error {
			s.records = append(s.records, rec)
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

func (s *DeliverySuite) TestGoneDisablesTheSubscriptionWithoutRetrying() {
	s.givenStart(activities.StartResult{Status: hookflow.StatusPending, Policy: hookflow.LinearPolicy(5, unit)})
	s.givenAnswers([]int{410}, []time.Duration{0})
	state := s.run()
	s.Equal(hookflow.StatusFailed, state.Status)
	s.Equal([]time.Duration{0}, s.sends)
	s.True(s.records[0].DisableSubscription)
	s.Nil(s.records[0].NextAttemptAt)
}
