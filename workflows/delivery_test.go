package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/outbound"
	"github.com/hookflow/hookflow/workflows"
)

const unit = 20 * time.Minute

type DeliverySuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	start   time.Time
	begin   activities.StartResult // where the delivery stands when the run starts
	sends   []time.Duration        // when each attempt was made, since the workflow started
	trigger []hookflow.Trigger
	records []hookflow.AttemptRecord
	// during, when set, runs while attempt i (from 0) is being made.
	during func(i int)
	// waitsBefore[i] are the waits the send step answers before attempt i (from 0) goes
	// out; waitCalls records each of those calls.
	waitsBefore map[int][]outbound.Wait
	waitCalls   []waitCall
	// recordsSuccess makes the send step record a successful attempt itself.
	recordsSuccess bool
	recordCalls    int
}

type waitCall struct {
	at     time.Duration
	number int
}

func TestDeliveryWorkflow(t *testing.T) { suite.Run(t, new(DeliverySuite)) }

func (s *DeliverySuite) SetupTest() {
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterActivity(&activities.Activities{})
	s.sends, s.trigger, s.records, s.during = nil, nil, nil, nil
	s.waitsBefore, s.waitCalls = map[int][]outbound.Wait{}, nil
	s.recordsSuccess, s.recordCalls = false, 0
	s.start = s.env.Now()
}

var a *activities.Activities

// given sets up a delivery in the given state whose attempts answer codes in turn.
func (s *DeliverySuite) given(status hookflow.Status, attempts, maxRetries int, codes ...int) {
	s.givenStart(activities.StartResult{Status: status, Attempts: attempts, Policy: hookflow.LinearPolicy(maxRetries, unit)})
	s.givenCodes(codes...)
}

func (s *DeliverySuite) givenStart(start activities.StartResult) {
	s.begin = start
}

// givenCodes makes the n-th attempt answer codes[n-1] and records what the workflow
// writes.
func (s *DeliverySuite) givenCodes(codes ...int) {
	s.givenAnswers(codes, make([]time.Duration, len(codes)))
}

func (s *DeliverySuite) run() workflows.DeliveryState {
	return s.runWith(workflows.DeliveryInput{DeliveryID: "d1"})
}

// runWith runs the workflow to its end and returns the delivery's final state: its result,
// or, for a delivery that failed, the details of the failure it closed with.
func (s *DeliverySuite) runWith(in workflows.DeliveryInput) workflows.DeliveryState {
	s.env.ExecuteWorkflow(workflows.DeliveryWorkflow, in)
	s.Require().True(s.env.IsWorkflowCompleted())
	state, err := deliveryOutcome(s.env.GetWorkflowError(), s.env.GetWorkflowResult)
	s.Require().NoError(err)
	return state
}

// deliveryOutcome reads a delivery workflow's final state whichever way it closed: a
// failed delivery closes the workflow as failed, with the state in the failure's
// details, and only a failed delivery does.
func deliveryOutcome(closeErr error, result func(any) error) (workflows.DeliveryState, error) {
	var state workflows.DeliveryState
	if closeErr == nil {
		if err := result(&state); err != nil {
			return state, err
		}
		if state.Status == hookflow.StatusFailed {
			return state, errors.New("a failed delivery completed its workflow instead of failing it")
		}
		return state, nil
	}
	var appErr *temporal.ApplicationError
	if !errors.As(closeErr, &appErr) || appErr.Type() != workflows.ErrTypeDeliveryFailed {
		return state, closeErr
	}
	if err := appErr.Details(&state); err != nil {
		return state, err
	}
	if state.Status != hookflow.StatusFailed {
		return state, fmt.Errorf("the workflow failed for a delivery that is %s", state.Status)
	}
	return state, nil
}

func (s *DeliverySuite) statuses() []hookflow.Status {
	var out []hookflow.Status
	for _, r := range s.records {
		out = append(out, r.Status)
	}
	return out
}

func (s *DeliverySuite) TestAlwaysFailingMakesFourAttemptsWithLinearWaits() {
	s.given(hookflow.StatusPending, 0, 3, 500, 500, 500, 500)
	state := s.run()
	s.Equal(hookflow.StatusFailed, state.Status)
	s.Equal(4, state.Attempts)
	// Retry n waits n × 20 min after the previous attempt: 20, 40, 60 minutes.
	s.Equal([]time.Duration{0, 20 * time.Minute, 60 * time.Minute, 120 * time.Minute}, s.sends)
	s.Equal([]hookflow.Status{hookflow.StatusRetrying, hookflow.StatusRetrying, hookflow.StatusRetrying, hookflow.StatusFailed}, s.statuses())
	for i, r := range s.records[:3] {
		s.Require().NotNil(r.NextAttemptAt)
		s.Equal(s.start.Add(s.sends[i+1]).UTC(), r.NextAttemptAt.UTC(), "next_attempt_at of attempt %d", i+1)
	}
	s.Nil(s.records[3].NextAttemptAt)
}

func (s *DeliverySuite) TestMaxRetriesZeroMakesOneAttempt() {
	s.given(hookflow.StatusPending, 0, 0, 503)
	state := s.run()
	s.Equal(hookflow.StatusFailed, state.Status)
	s.Equal([]time.Duration{0}, s.sends)
	s.Equal([]hookflow.Status{hookflow.StatusFailed}, s.statuses())
}

func (s *DeliverySuite) TestSucceedsOnThirdAttempt() {
	s.given(hookflow.StatusPending, 0, 3, 500, 502, 200)
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Equal(3, state.Attempts)
	s.Equal([]time.Duration{0, 20 * time.Minute, 60 * time.Minute}, s.sends)
	s.Equal([]hookflow.Status{hookflow.StatusRetrying, hookflow.StatusRetrying, hookflow.StatusDelivered}, s.statuses())
	s.Equal([]int{1, 2, 3}, []int{s.records[0].Attempt.Number, s.records[1].Attempt.Number, s.records[2].Attempt.Number})
}

func (s *DeliverySuite) TestRetrySignalDuringWaitAttemptsAtOnce() {
	s.given(hookflow.StatusPending, 0, 3, 500, 200)
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(workflows.RetrySignal, nil)
	}, 5*time.Minute)
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Equal([]time.Duration{0, 5 * time.Minute}, s.sends)
	s.Equal([]hookflow.Trigger{hookflow.TriggerAutomatic, hookflow.TriggerManual}, s.trigger)
}

func (s *DeliverySuite) TestScheduleContinuesAfterAManualAttemptFails() {
	s.given(hookflow.StatusPending, 0, 2, 500, 500, 500)
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(workflows.RetrySignal, nil)
	}, 5*time.Minute)
	state := s.run()
	s.Equal(hookflow.StatusFailed, state.Status)
	// The manual attempt takes the place of retry 1; retry 2 then waits 2 units.
	s.Equal([]time.Duration{0, 5 * time.Minute, 45 * time.Minute}, s.sends)
}

func (s *DeliverySuite) TestRetrySignalledDuringTheLastAttemptGetsItsAttempt() {
	s.given(hookflow.StatusPending, 0, 1, 500, 500, 200)
	// The user presses Retry while attempt 2, the last automatic one, is on its way; the
	// API has answered 202, so the request must not be lost when that attempt fails.
	s.during = func(i int) {
		if i == 1 {
			s.env.SignalWorkflow(workflows.RetrySignal, nil)
		}
	}
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Equal(3, state.Attempts)
	s.Equal([]hookflow.Trigger{hookflow.TriggerAutomatic, hookflow.TriggerAutomatic, hookflow.TriggerManual}, s.trigger)
	s.Equal([]hookflow.Status{hookflow.StatusRetrying, hookflow.StatusFailed, hookflow.StatusDelivered}, s.statuses())
}

func (s *DeliverySuite) TestRetrySignalledDuringASuccessfulAttemptChangesNothing() {
	s.given(hookflow.StatusPending, 0, 3, 200)
	s.during = func(int) { s.env.SignalWorkflow(workflows.RetrySignal, nil) }
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Len(s.sends, 1)
}

func (s *DeliverySuite) TestFailedDeliveryGetsExactlyOneManualAttempt() {
	s.given(hookflow.StatusFailed, 4, 3, 500)
	state := s.run()
	s.Equal(hookflow.StatusFailed, state.Status)
	s.Equal(5, state.Attempts)
	s.Equal([]hookflow.Trigger{hookflow.TriggerManual}, s.trigger)
	s.Equal(5, s.records[0].Attempt.Number)
}

func (s *DeliverySuite) TestDeliveredDeliveryIsNotAttemptedAgain() {
	s.given(hookflow.StatusDelivered, 1, 3)
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Empty(s.sends)
}

func (s *DeliverySuite) TestStateQueryDuringWait() {
	s.given(hookflow.StatusPending, 0, 3, 500, 200)
	var queried workflows.DeliveryState
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(workflows.StateQuery)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(&queried))
	}, 10*time.Minute)
	s.run()
	s.Equal(hookflow.StatusRetrying, queried.Status)
	s.Equal(1, queried.Attempts)
	s.Require().NotNil(queried.NextAttemptAt)
	s.Equal(s.start.Add(unit).UTC(), queried.NextAttemptAt.UTC())
}

func (s *DeliverySuite) TestSkippedWhenSubscriptionDeleted() {
	start := activities.StartResult{Status: hookflow.StatusRetrying, Attempts: 1, Policy: hookflow.LinearPolicy(3, unit)}
	s.env.OnActivity(a.Send, mock.Anything, mock.Anything).Return(activities.SendResult{Start: &start, Skipped: "the subscription was deleted"}, nil)
	var failed activities.FailInput
	s.env.OnActivity(a.FailWithoutAttempt, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FailInput) error {
		failed = in
		return nil
	})
	state := s.run()
	s.Equal(hookflow.StatusFailed, state.Status)
	s.Equal("the subscription was deleted", failed.Reason)
}

// The common delivery: the send step records its own success, so the workflow runs no
// record step and upserts nothing; a failed attempt is still recorded by the workflow,
// which decides what follows it.
func (s *DeliverySuite) TestSuccessIsRecordedByTheSendStep() {
	s.recordsSuccess = true
	s.given(hookflow.StatusPending, 0, 3, 500, 200)
	upserts := 0
	s.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(mock.Arguments) { upserts++ }).Return(nil)
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Equal(2, state.Attempts)
	s.Equal([]hookflow.Status{hookflow.StatusRetrying, hookflow.StatusDelivered}, s.statuses())
	s.Equal(1, s.recordCalls, "only the failed attempt goes through the workflow's record step")
	s.Equal(1, upserts, "retrying is shown; delivered is the workflow's own Completed")
	s.Equal(2, s.records[1].Attempt.Number)
}
