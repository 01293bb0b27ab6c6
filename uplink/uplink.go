package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"vakt/hub"
)

var (
	// ErrNotReported means the event is not sent to any receiver: history only, or
	// filtered out by every receiver's kinds.
	ErrNotReported = errors.New("uplink: event is not reported to any receiver")
	// ErrUnknownEvent means the sequence is not in the event log.
	ErrUnknownEvent = errors.New("uplink: no such event in the log")
	// ErrRejected means the station refused the event (DUH) on every path, so it is held
	// and raised as an uplink fault ("<receiver>/refused/<kind>"); or it could not be
	// encoded, and delivery skipped it.
	ErrRejected = errors.New("uplink: event refused by the station")
	// ErrStopped means the uplink's Run has ended.
	ErrStopped = errors.New("uplink: stopped")
)

// ackMemory is how many recent outcomes AwaitAck can look back on.
const ackMemory = 1024

// AckInfo says which receiver acknowledged an event, over which path, when, and how long
// the exchange took.
type AckInfo struct {
	Seq      uint64 `json:"seq"`
	Receiver string `json:"receiver"`
	// Path is "primary" or "backup"; empty when the ACK came before this process started.
	Path string `json:"path,omitempty"`
	// At is when the ACK arrived; zero when it came before this process started.
	At  time.Time     `json:"at,omitzero"`
	RTT time.Duration `json:"rtt,omitempty"`
}

type outcome struct {
	info AckInfo
	err  error
}

// Uplink delivers the hub's event log to the monitoring station receivers of its Config,
// over SIA DC-09, each receiver behind its own durable cursor: at least once, in order,
// with the event sequence as the station's idempotency key. It supervises every path and
// reports a failed path to the hub as an uplink fault, which then goes out over another.
type Uplink struct {
	hub       *hub.Hub
	log       *slog.Logger
	receivers []*receiver
	started   atomic.Bool
	done      chan struct{}

	mu       sync.Mutex
	outcomes map[uint64]outcome
	order    []uint64 // outcomes' keys, oldest first, at most ackMemory
	waiters  map[uint64][]chan outcome
	each     map[uint64]map[string]outcome // outcomes by receiver, same keys as outcomes
	settled  chan struct{}                 // closed and replaced at every settle

	// verify names the alarm photos of an event for the station (SetVerification).
	verify func(hub.Event) string
}

// SetVerification sets what names the verification (alarm photos) of an event: a
// non-empty reference goes with the event's report as the DC-09 extended data block
// [V…] ("verification: information about audio or video associated with the event").
// Call it before Run.
func (u *Uplink) SetVerification(f func(hub.Event) string) {
	if u.started.Load() {
		panic("uplink: SetVerification after Run")
	}
	u.verify = f
}

// New returns an uplink for cfg over h's event log. It connects nothing and writes nothing;
// Run does. cfg should have passed Validate (which resolves key_env); if it has not, New
// validates it with os.Getenv.
func New(cfg Config, h *hub.Hub, logger *slog.Logger) (*Uplink, error) {
	if h == nil {
		return nil, errors.New("new uplink: no hub")
	}
	if !cfg.valid {
		if err := cfg.Validate(os.Getenv); err != nil {
			return nil, fmt.Errorf("new uplink: %w", err)
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	u := &Uplink{
		hub:      h,
		log:      logger,
		done:     make(chan struct{}),
		outcomes: map[uint64]outcome{},
		waiters:  map[uint64][]chan outcome{},
		each:     map[uint64]map[string]outcome{},
		settled:  make(chan struct{}),
	}
	for _, rc := range cfg.Receivers {
		r, err := newReceiver(u, rc, logger)
		if err != nil {
			return nil, fmt.Errorf("new uplink: receiver %s: %w", rc.Name, err)
		}
		u.receivers = append(u.receivers, r)
	}
	return u, nil
}

// Run delivers events, polls the paths and sends periodic tests until ctx ends, then
// closes the connections and returns. Creating a new receiver's cursor is its only write
// to the store besides moving cursors; an error there ends Run at once.
func (u *Uplink) Run(ctx context.Context) error {
	if !u.started.CompareAndSwap(false, true) {
		return errors.New("uplink: Run called twice")
	}
	defer close(u.done)
	defer u.closeClients()
	for _, r := range u.receivers {
		if err := r.box.Open(); err != nil {
			return fmt.Errorf("uplink: receiver %s: %w", r.name, err)
		}
	}
	faults := u.hub.Snapshot().State.UplinkFaults
	var wg sync.WaitGroup
	for _, r := range u.receivers {
		r.startRefusal(faults)
		for _, p := range r.paths {
			p.start(faults)
			wg.Go(func() { p.run(ctx) })
		}
		wg.Go(func() { r.run(ctx) })
		wg.Go(func() { r.runTests(ctx) })
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

func (u *Uplink) closeClients() {
	for _, r := range u.receivers {
		for _, p := range r.paths {
			if err := p.dc.Close(); err != nil {
				r.log.Debug("close path", "path", p.name, "error", err)
			}
		}
	}
}

// Status returns the state of every receiver and path. It is safe for concurrent use.
func (u *Uplink) Status() []ReceiverStatus {
	last := u.hub.Snapshot().State.NextSeq
	if last > 0 {
		last--
	}
	out := make([]ReceiverStatus, 0, len(u.receivers))
	for _, r := range u.receivers {
		out = append(out, r.status(last))
	}
	return out
}

// AwaitAck waits until a receiver has acknowledged the event with sequence seq, and says
// which, over which path, when and how fast: the transmission test's answer ("the
// station acknowledged at 14:02:07, 38 ms"). It returns ErrNotReported for an event no
// receiver gets, ErrRejected when the station refused it, ErrStopped once Run has ended,
// or ctx's error. An event acknowledged before this process started (or more than 1024
// outcomes ago) gets an AckInfo with only Seq and Receiver.
func (u *Uplink) AwaitAck(ctx context.Context, seq uint64) (AckInfo, error) {
	ch := make(chan outcome, 1)
	u.mu.Lock()
	if o, ok := u.outcomes[seq]; ok {
		u.mu.Unlock()
		return o.info, o.err
	}
	u.waiters[seq] = append(u.waiters[seq], ch)
	u.mu.Unlock()
	defer u.unwait(seq, ch)

	events, err := u.hub.Store().Events(seq-1, 1)
	if err != nil {
		return AckInfo{Seq: seq}, fmt.Errorf("await ack: %w", err)
	}
	if seq == 0 || len(events) == 0 || events[0].Seq != seq {
		return AckInfo{Seq: seq}, fmt.Errorf("await ack %d: %w", seq, ErrUnknownEvent)
	}
	wanted := false
	for _, r := range u.receivers {
		if !r.wants(events[0]) {
			continue
		}
		wanted = true
		passed, err := r.passed(seq)
		if err != nil {
			return AckInfo{Seq: seq}, fmt.Errorf("await ack: %w", err)
		}
		if passed {
			// Passed without an outcome in memory: acknowledged before this process
			// started. (An outcome settles before the cursor moves.)
			u.mu.Lock()
			o, ok := u.outcomes[seq]
			u.mu.Unlock()
			if ok {
				return o.info, o.err
			}
			return AckInfo{Seq: seq, Receiver: r.name}, nil
		}
	}
	if !wanted {
		return AckInfo{Seq: seq}, fmt.Errorf("await ack %d: %w", seq, ErrNotReported)
	}
	select {
	case o := <-ch:
		return o.info, o.err
	case <-u.done:
		return AckInfo{Seq: seq}, ErrStopped
	case <-ctx.Done():
		return AckInfo{Seq: seq}, fmt.Errorf("await ack %d: %w", seq, ctx.Err())
	}
}

func (u *Uplink) unwait(seq uint64, ch chan outcome) {
	u.mu.Lock()
	defer u.mu.Unlock()
	ws := u.waiters[seq]
	for i, w := range ws {
		if w == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(u.waiters, seq)
	} else {
		u.waiters[seq] = ws
	}
}

// settle records the first outcome of an event (any receiver's; an ACK replaces a
// refusal) and wakes its waiters.
func (u *Uplink) settle(seq uint64, info AckInfo, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	o := outcome{info, err}
	if u.each[seq] == nil {
		u.each[seq] = map[string]outcome{}
	}
	if old, ok := u.each[seq][info.Receiver]; !ok || old.err != nil && err == nil {
		u.each[seq][info.Receiver] = o
	}
	close(u.settled)
	u.settled = make(chan struct{})
	if old, ok := u.outcomes[seq]; ok {
		if old.err != nil && err == nil {
			u.outcomes[seq] = o
		}
		return
	}
	u.outcomes[seq] = o
	u.order = append(u.order, seq)
	if len(u.order) > ackMemory {
		delete(u.outcomes, u.order[0])
		delete(u.each, u.order[0])
		u.order = u.order[1:]
	}
	for _, w := range u.waiters[seq] {
		w <- o
	}
	delete(u.waiters, seq)
}

// TestResult is the answer to a transmission test: for every configured receiver, whether
// it acknowledged the test report, when and over which path.
type TestResult struct {
	Seq       uint64           `json:"seq"`
	Receivers []ReceiverResult `json:"receivers"`
}

// ReceiverResult is one receiver's part of a TestResult.
type ReceiverResult struct {
	AckInfo
	// Acked reports that the receiver acknowledged the test (AckInfo says how).
	Acked bool `json:"acked"`
	// Error says why not: refused, not sent to this receiver, or no answer in time.
	Error string `json:"error,omitempty"`
	// Paths is the state of each of the receiver's paths when the result was made.
	Paths []PathStatus `json:"paths"`
}

// OK reports that every configured receiver acknowledged the test.
func (t TestResult) OK() bool {
	for _, r := range t.Receivers {
		if !r.Acked {
			return false
		}
	}
	return len(t.Receivers) > 0
}

// AwaitTest waits until every configured receiver has acknowledged (or refused) the
// transmission test with sequence seq, or ctx ends (the test's time-out), and reports per
// receiver: acknowledged, when and over which path, or not and why. The test succeeded
// only when TestResult.OK. The error is for an event not in the log, or a failed read.
func (u *Uplink) AwaitTest(ctx context.Context, seq uint64) (TestResult, error) {
	res := TestResult{Seq: seq}
	events, err := u.hub.Store().Events(seq-1, 1)
	if err != nil {
		return res, fmt.Errorf("await test: %w", err)
	}
	if seq == 0 || len(events) == 0 || events[0].Seq != seq {
		return res, fmt.Errorf("await test %d: %w", seq, ErrUnknownEvent)
	}
	ev := events[0]
	for {
		u.mu.Lock()
		each, settled := maps.Clone(u.each[seq]), u.settled
		u.mu.Unlock()
		res.Receivers = res.Receivers[:0]
		pending := false
		for _, r := range u.receivers {
			rr := ReceiverResult{AckInfo: AckInfo{Seq: seq, Receiver: r.name}}
			o, ok := each[r.name]
			switch {
			case ok:
				rr.AckInfo, rr.Acked = o.info, o.err == nil
				if o.err != nil {
					rr.Error = errText(o.err)
				}
			case !r.wants(ev):
				rr.Error = "not sent to this receiver (format or kinds)"
			default:
				if passed, err := r.passed(seq); err != nil {
					return res, fmt.Errorf("await test: %w", err)
				} else if passed {
					rr.Acked = true // before this process started
				} else {
					pending = true
					rr.Error = "no acknowledgement within the time-out"
				}
			}
			for _, p := range r.paths {
				rr.Paths = append(rr.Paths, p.status())
			}
			res.Receivers = append(res.Receivers, rr)
		}
		if !pending {
			return res, nil
		}
		select {
		case <-settled:
		case <-u.done:
			return res, nil
		case <-ctx.Done():
			return res, nil
		}
	}
}
