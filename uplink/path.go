package uplink

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"vakt/hub"
	"vakt/uplink/dc09"
)

// PathStatus is the state of one path to a receiver.
type PathStatus struct {
	// Name is "primary" or "backup".
	Name    string `json:"name"`
	Network string `json:"network"`
	Addr    string `json:"addr"`
	// OK reports that the last exchange on the path was answered.
	OK bool `json:"ok"`
	// Fault reports that the path failed its retries and is an uplink fault.
	Fault bool `json:"fault"`
	// Failures counts the exchanges that failed in a row.
	Failures int `json:"failures,omitempty"`
	// LastAck is when the receiver last acknowledged an event over this path.
	LastAck time.Time `json:"last_ack,omitzero"`
	// LastPoll is when the receiver last acknowledged a NULL poll over this path.
	LastPoll time.Time `json:"last_poll,omitzero"`
	// LastRTT is the round trip of the last acknowledged exchange.
	LastRTT     time.Duration `json:"last_rtt,omitempty"`
	LastError   string        `json:"last_error,omitempty"`
	LastErrorAt time.Time     `json:"last_error_at,omitzero"`
}

// path is one transmission path to a receiver: its client, its supervision by NULL polls,
// and its fault state, which it reports to the hub as an uplink fault.
type path struct {
	name string // "primary" or "backup"
	full string // "<receiver>/<name>": the hub's uplink fault path
	set  pathSettings
	dc   *dc09.Client
	hub  *hub.Hub
	log  *slog.Logger

	// lastAcked returns the receiver's cursor: the last event acknowledged or passed over.
	// A NULL poll reuses its DC-09 sequence number, which no event still to come carries,
	// so a station that drops repeated numbers never takes a later event for a repeat of
	// the poll.
	lastAcked func() uint64
	// recovered wakes the receiver's delivery when the path answers again.
	recovered func()
	// kick wakes the poller to retry after a failure seen by delivery.
	kick chan struct{}

	mu       sync.Mutex
	st       PathStatus
	lastGood time.Time // last answered exchange: polls are due a poll interval after it
	lastTry  time.Time // last failed exchange: retries are timed from it
	faulted  bool      // what the hub should know
	reportMu sync.Mutex
	reported bool // what the hub knows (guarded by reportMu)
}

// result is the outcome of one exchange on a path.
type result int

const (
	answered result = iota // ACK
	refused                // DUH to an event: the receiver answered, and refused the message
	failed                 // no usable answer
)

func classify(err error) result {
	switch {
	case err == nil:
		return answered
	case errors.Is(err, dc09.ErrDUH):
		return refused
	default:
		return failed
	}
}

// send sends one event message and records the outcome.
func (p *path) send(ctx context.Context, msg dc09.Message) (dc09.Response, error) {
	resp, err := p.dc.SendRetryNAK(ctx, msg)
	if ctx.Err() != nil {
		return resp, err // shutting down says nothing about the path
	}
	p.record(ctx, classify(err), false, resp, err)
	return resp, err
}

// poll sends a NULL message and records the outcome. A DUH to a NULL poll means the
// receiver does not know us (account, key): the path does not work.
func (p *path) poll(ctx context.Context) {
	resp, err := p.dc.SendRetryNAK(ctx, dc09.Message{ID: dc09.IDNull, Seq: dc09Seq(p.lastAcked())})
	if ctx.Err() != nil {
		return
	}
	r := classify(err)
	if r == refused {
		r = failed
	}
	p.record(ctx, r, true, resp, err)
}

// record updates the path's state after an exchange and reports a change of fault state.
func (p *path) record(ctx context.Context, r result, poll bool, resp dc09.Response, err error) {
	now := time.Now()
	p.mu.Lock()
	wasFailing := p.st.Failures > 0
	switch r {
	case answered:
		p.st.OK, p.st.Failures, p.faulted = true, 0, false
		p.lastGood = now
		p.st.LastRTT = resp.RTT
		if poll {
			p.st.LastPoll = now
		} else {
			p.st.LastAck = now
		}
	case refused:
		// The receiver answered, so the link carries; whether it works is for the polls
		// to say: a receiver that refuses everything (a wrong key, say) also refuses them.
		p.st.LastError, p.st.LastErrorAt = errText(err), now
	case failed:
		p.st.OK = false
		p.st.Failures++
		p.st.LastError, p.st.LastErrorAt = errText(err), now
		p.lastTry = now
		if p.st.Failures >= p.set.retries {
			p.faulted = true
		}
	}
	failures := p.st.Failures
	p.mu.Unlock()
	switch {
	case r == refused:
		p.log.Warn("receiver refused a message", "error", err)
	case r == failed && failures == 1:
		p.log.Warn("path failed, retrying", "poll", poll, "error", err)
	case r == failed:
		p.log.Debug("path still failing", "failures", failures, "poll", poll, "error", err)
	}
	switch {
	case r == failed:
		select {
		case p.kick <- struct{}{}:
		default:
		}
	case r == answered && wasFailing:
		p.recovered()
	}
	p.report(ctx)
}

// report tells the hub about a change of the path's fault state. Delivery and the poller
// both call it; reportMu keeps their reports in order, and each sends the newest state.
func (p *path) report(ctx context.Context) {
	p.reportMu.Lock()
	defer p.reportMu.Unlock()
	p.mu.Lock()
	want := p.faulted
	p.mu.Unlock()
	if want == p.reported {
		return
	}
	if err := p.hub.Submit(ctx, hub.Input{Kind: hub.InUplinkFault, Path: p.full, Active: want}); err != nil {
		p.log.Error("report uplink fault", "fault", want, "error", err)
		return
	}
	if want {
		p.log.Error("path failed: reported as an uplink fault")
	} else {
		p.log.Info("path works again: uplink fault restored")
	}
	p.reported = want
	p.mu.Lock()
	p.st.Fault = want
	p.mu.Unlock()
}

// start sets the path's fault state from the hub's, so a fault reported before a restart is
// restored once the path works, and is not reported twice.
func (p *path) start(faults []string) {
	for _, f := range faults {
		if f == p.full {
			p.mu.Lock()
			p.faulted, p.st.Fault, p.st.Failures = true, true, p.set.retries
			p.lastTry = time.Now()
			p.mu.Unlock()
			p.reportMu.Lock()
			p.reported = true
			p.reportMu.Unlock()
		}
	}
}

// usable reports whether delivery should try this path first.
func (p *path) usable() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st.Failures == 0
}

// run supervises the path: a NULL poll at start, then whenever nothing was answered for a
// poll interval; after a failure, retries back off from RetryBackoff up to the poll
// interval, so a dead path is noticed (and its return seen) without flooding it.
func (p *path) run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
			timer.Stop()
		case <-timer.C:
			p.poll(ctx)
		}
		timer.Reset(max(time.Until(p.nextPoll()), 0))
	}
}

// nextPoll returns when the poller should next poll.
func (p *path) nextPoll() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st.Failures == 0 {
		return p.lastGood.Add(p.set.poll)
	}
	return p.lastTry.Add(retryDelay(p.set.backoff, p.st.Failures-1, min(p.set.poll, p.set.maxBackoff)))
}

func (p *path) status() PathStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// errText shortens a dc09 error for the status page: the package prefix adds nothing there.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), "dc09: ", "")
}
