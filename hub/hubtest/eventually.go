package hubtest

import (
	"testing"
	"time"
)

// Patience is how long Eventually waits before it fails the test. It bounds a hang on a
// loaded machine (2 cores, -race, other tests running); it is not what a test asserts, so
// it is generous.
const Patience = 60 * time.Second

// pollEvery is how often Eventually asks again.
const pollEvery = 5 * time.Millisecond

// Eventually waits until cond holds, asking every few milliseconds, and fails the test
// with what if it does not within Patience. It is for waiting on an asynchronous effect
// (a message through a broker, a run loop's commit), never a timing assertion. Call it
// from the test's goroutine. Inside a testing/synctest bubble use synctest.Wait instead:
// there Eventually's sleeps would move the bubble's clock.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(Patience)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("never within %v: %s", Patience, what)
		}
		time.Sleep(pollEvery)
	}
}
