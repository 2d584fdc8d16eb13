package workflows_test

import (
	"time"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/activities"
)

// The default fulfilment retry schedule: 7 waits spread through a day.
var fulfilmentSchedule = []time.Duration{15 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour, 6 * time.Hour, 6 * time.Hour}

func (s *DeliverySuite) givenFulfilment(codes ...int) {
	s.givenStart(activities.StartResult{Status: hookflow.StatusPending, Policy: hookflow.SchedulePolicy(fulfilmentSchedule), Fulfilment: true})
	s.givenCodes(codes...)
}

func (s *DeliverySuite) TestFulfilment200CompletesIt() {
	s.givenFulfilment(200)
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Len(s.records, 1)
	s.True(s.records[0].CompleteFulfilment)
	s.False(s.records[0].FulfilmentIssues)
}

func (s *DeliverySuite) TestFulfilment202LeavesItPendingWithNothingScheduled() {
	s.givenFulfilment(202)
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Equal([]time.Duration{0}, s.sends)
	s.False(s.records[0].CompleteFulfilment)
	s.False(s.records[0].FulfilmentIssues)
	s.Nil(s.records[0].NextAttemptAt)
}

func (s *DeliverySuite) TestFulfilmentFailingEightTimesFollowsTheScheduleThenHasIssues() {
	s.givenFulfilment(500, 500, 500, 500, 500, 500, 500, 500)
	state := s.run()
	s.Equal(hookflow.StatusFailed, state.Status)
	s.Equal(8, state.Attempts)
	want := []time.Duration{0}
	at := time.Duration(0)
	for _, wait := range fulfilmentSchedule {
		at += wait
		want = append(want, at)
	}
	s.Equal(want, s.sends, "1 attempt + 7 retries after 15m, 1h, 2h, 4h, 4h, 6h, 6h")
	for i, r := range s.records {
		last := i == len(s.records)-1
		s.Equal(last, r.FulfilmentIssues, "has_issues only after the last attempt (attempt %d)", i+1)
		s.False(r.CompleteFulfilment)
	}
}

func (s *DeliverySuite) TestFulfilmentFailingTwiceThen200() {
	s.givenFulfilment(500, 503, 200)
	state := s.run()
	s.Equal(hookflow.StatusDelivered, state.Status)
	s.Equal([]time.Duration{0, 15 * time.Minute, 75 * time.Minute}, s.sends)
	s.True(s.records[2].CompleteFulfilment)
	s.False(s.records[2].FulfilmentIssues)
}

func (s *DeliverySuite) TestLegacyStandardEventIsNotRetried() {
	s.givenStart(activities.StartResult{Status: hookflow.StatusPending, Policy: hookflow.Policy{Kind: hookflow.PolicyNone}})
	s.givenCodes(500)
	state := s.run()
	s.Equal(hookflow.StatusFailed, state.Status)
	s.Equal([]time.Duration{0}, s.sends)
}
