package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"vakt/hub"
	"vakt/uplink/dc09"
	"vakt/uplink/outbox"
)

// ReceiverStatus is the state of one receiver's delivery.
type ReceiverStatus struct {
	Name    string `json:"name"`
	Format  string `json:"format"`
	Account string `json:"account"`
	// Cursor is the last event delivered to (or passed over for) this receiver.
	Cursor uint64 `json:"cursor"`
	// QueueDepth is how many logged events lie behind the cursor, reportable or not.
	QueueDepth uint64 `json:"queue_depth"`
	// Delivered and Rejected count events since start: acknowledged, and refused by the
	// station (DUH) on every path (held, and raised as an uplink fault) or not encodable
	// (skipped).
	Delivered   uint64       `json:"delivered"`
	Rejected    uint64       `json:"rejected,omitempty"`
	LastError   string       `json:"last_error,omitempty"`
	LastErrorAt time.Time    `json:"last_error_at,omitzero"`
	Paths       []PathStatus `json:"paths"`
	// LastTest is the last transmission test (manual or periodic) this receiver
	// acknowledged since start; nil if none.
	LastTest *AckInfo `json:"last_test,omitempty"`
}

// receiver delivers the event log to one monitoring station receiver over its paths: in
// order, one event at a time, the cursor moving only past what was acknowledged (or is
// not for this receiver).
type receiver struct {
	u          *Uplink
	name       string
	format     string
	msgID      string
	account    string
	kinds      map[hub.EventKind]bool // nil: every reportable kind
	testEvery  time.Duration
	maxBackoff time.Duration // longest wait between delivery rounds
	box        *outbox.Outbox
	paths      []*path // primary first
	log        *slog.Logger
	wake       chan struct{}

	mu          sync.Mutex
	delivered   uint64
	rejected    uint64
	lastErr     string
	lastErrAt   time.Time
	ackedTest   *AckInfo // the last acknowledged transmission test
	refusedSeq  uint64   // the event the station answered DUH to on every path
	refusedTry  int
	retryBudget int    // DUH rounds before a refused event is raised as a fault
	refusal     string // the uplink fault raised for a refused event, "" for none
}

func newReceiver(u *Uplink, rc ReceiverConfig, logger *slog.Logger) (*receiver, error) {
	r := &receiver{
		u:          u,
		name:       rc.Name,
		format:     rc.Format,
		account:    rc.Account,
		testEvery:  rc.TestInterval.D(),
		maxBackoff: MaxRetryBackoff,
		log:        logger.With("receiver", rc.Name),
		wake:       make(chan struct{}, 1),
	}
	r.box = outbox.New(u.hub.Store(), CursorName(rc.Name), r.wants, r.log)
	if r.format == "" {
		r.format = FormatCID
	}
	r.msgID = dc09.IDContactID
	if r.format == FormatSIA {
		r.msgID = dc09.IDSIADCS
	}
	if r.testEvery == 0 {
		r.testEvery = DefaultTestInterval
	}
	if len(rc.Kinds) > 0 {
		r.kinds = map[hub.EventKind]bool{}
		for _, name := range rc.Kinds {
			k, err := hub.ParseEventKind(name)
			if err != nil {
				return nil, err
			}
			r.kinds[k] = true
		}
	}
	add := func(name string, pc *PathConfig) error {
		set := pc.settings(rc.Account, name == "backup")
		set.client.Logger = r.log.With("path", name)
		dc, err := dc09.New(set.client)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.paths = append(r.paths, &path{
			name:      name,
			full:      rc.Name + "/" + name,
			set:       set,
			dc:        dc,
			hub:       u.hub,
			log:       r.log.With("path", name),
			st:        PathStatus{Name: name, Network: set.client.Network, Addr: set.client.Addr},
			kick:      make(chan struct{}, 1),
			lastAcked: r.box.Cursor,
			recovered: r.poke,
		})
		return nil
	}
	if err := add("primary", &rc.Primary); err != nil {
		return nil, err
	}
	r.retryBudget = r.paths[0].set.retries
	if rc.Backup != nil {
		if err := add("backup", rc.Backup); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *receiver) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// CursorName is the store's name for the event cursor of the receiver called name.
func CursorName(name string) string { return "dc09/" + name }

// CursorNames returns the store's names for the event cursors of c's receivers, so that
// those of receivers no longer configured can be deleted (outbox.DeleteStale).
func (c *Config) CursorNames() []string {
	var out []string
	for _, rc := range c.Receivers {
		out = append(out, CursorName(rc.Name))
	}
	return out
}

// wants reports whether ev goes to this receiver.
func (r *receiver) wants(ev hub.Event) bool {
	if !ev.Report || ev.ContactID == 0 || (r.format == FormatSIA && ev.SIA == "") {
		return false
	}
	if r.kinds != nil && !r.kinds[ev.Kind] {
		return false
	}
	// A periodic test names the receiver whose schedule made it, when the hub records
	// that; each receiver keeps its own schedule.
	if ev.Kind == hub.KindPeriodicTest && ev.Device != "" && ev.Device != r.name {
		return false
	}
	return true
}

// dc09Seq maps an event sequence onto DC-09's 0001–9999, so a resent event (after a
// restart, or over the other path) carries the same number and the station can drop the
// repeat. Sequence 0 maps to 9999, the number before 1.
func dc09Seq(seq uint64) int {
	return int((seq+9998)%9999) + 1
}

// message encodes ev in the receiver's format.
func (r *receiver) message(ev hub.Event) (dc09.Message, error) {
	zone := ev.Zone
	if zone == 0 {
		zone = ev.UserNumber // arm, disarm and user events: Contact ID's zone carries the user
	}
	if ev.Kind == hub.KindUplinkFault && zone == 0 {
		// Tell the station which path failed: zone 1 primary, 2 backup.
		switch {
		case strings.HasSuffix(ev.Device, "/primary"):
			zone = 1
		case strings.HasSuffix(ev.Device, "/backup"):
			zone = 2
		}
	}
	var data string
	var err error
	if r.format == FormatSIA {
		data, err = dc09.SIADCS(r.account, ev.SIA, zone, ev.Area)
	} else {
		data, err = dc09.ContactID(r.account, ev.Qualifier(), ev.ContactID, ev.Area, zone)
	}
	if err != nil {
		return dc09.Message{}, err
	}
	m := dc09.Message{ID: r.msgID, Seq: dc09Seq(ev.Seq), Data: data}
	if r.u != nil && r.u.verify != nil {
		if v := r.u.verify(ev); v != "" {
			m.Extended = []string{"V" + v}
		}
	}
	return m, nil
}

// run is the delivery loop (see outbox.Outbox.Run): it wakes on new events, on a path
// coming back, after a retry delay or on a safety tick, and sends what lies behind the
// cursor. A new event for this receiver cuts a retry delay short.
func (r *receiver) run(ctx context.Context) {
	sub := r.u.hub.Subscribe()
	defer sub.Close()
	r.poke() // a backlog from before a restart goes out at once
	r.box.Run(ctx, sub, outbox.Loop{
		Wake: r.wake,
		Step: func(ctx context.Context) error {
			err := r.box.Drain(ctx, r.deliverBatch)
			r.endRefusal(ctx, err == nil)
			return err
		},
		Retry: func(attempt int, err error) (time.Duration, bool) {
			r.setError(err)
			d := retryDelay(r.minBackoff(), attempt, r.maxBackoff)
			r.log.Warn("delivery failed on every path, retrying", "in", d, "error", err)
			return d, true
		},
	})
}

func (r *receiver) minBackoff() time.Duration {
	d := r.paths[0].set.backoff
	for _, p := range r.paths[1:] {
		d = min(d, p.set.backoff)
	}
	return d
}

// deliverBatch sends a batch of events, one at a time and in order, until one cannot be
// delivered.
func (r *receiver) deliverBatch(ctx context.Context, batch []hub.Event, done func(hub.Event)) error {
	for _, ev := range batch {
		if err := r.deliver(ctx, ev); err != nil {
			return err
		}
		done(ev)
	}
	return nil
}

// deliver sends one event: over the first path that works, primary first unless it is
// failing. It returns nil once the event is acknowledged, or skipped for good.
func (r *receiver) deliver(ctx context.Context, ev hub.Event) error {
	msg, err := r.message(ev)
	if err != nil {
		r.reject(ev, fmt.Errorf("event %d cannot be sent: %w", ev.Seq, err))
		return nil
	}
	var errs []error
	allRefused := true
	for _, p := range r.order() {
		resp, err := p.send(ctx, msg)
		if err == nil {
			r.acked(ev, p, resp)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs = append(errs, fmt.Errorf("%s: %w", p.name, err))
		allRefused = allRefused && errors.Is(err, dc09.ErrDUH)
	}
	err = fmt.Errorf("event %d: %w", ev.Seq, errors.Join(errs...))
	if allRefused {
		// A refusal counts against this message only from a path that passes a NULL
		// poll now; a receiver that refuses its polls too does not know us (a wrong key
		// or account): that is a path fault, and the event waits.
		for _, p := range r.paths {
			p.poll(ctx)
			allRefused = allRefused && p.usable()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if allRefused {
		// Every path works, and none understood this message (a format the station
		// does not take, say). Skipping it would let the station miss an alarm without
		// anyone knowing; so it is held, and after a few tries (it may be a station
		// restarting) raised as an uplink fault naming the receiver and the kind, until
		// the station takes it or an installer changes the format or leaves the kind out.
		r.mu.Lock()
		if r.refusedSeq != ev.Seq {
			r.refusedSeq, r.refusedTry = ev.Seq, 0
		}
		r.refusedTry++
		raise := r.refusedTry == r.retryBudget
		r.mu.Unlock()
		if raise {
			r.refused(ctx, ev, err)
		}
	}
	return err
}

// refusalFault is the uplink fault path for events of kind k refused by the receiver.
func (r *receiver) refusalFault(k hub.EventKind) string {
	return r.name + "/refused/" + k.String()
}

// refused raises the uplink fault for an event the station keeps refusing, and tells the
// transmission test's waiters.
func (r *receiver) refused(ctx context.Context, ev hub.Event, err error) {
	r.mu.Lock()
	r.rejected++
	r.mu.Unlock()
	r.setError(err)
	fault := r.refusalFault(ev.Kind)
	r.log.Error("station refuses an event (DUH) on every path: held, and raised as an uplink fault; change the format or leave the kind out",
		"seq", ev.Seq, "kind", ev.Kind, "fault", fault, "error", err)
	r.u.settle(ev.Seq, AckInfo{Seq: ev.Seq, Receiver: r.name}, fmt.Errorf("%w: %w", ErrRejected, err))
	r.setRefusal(ctx, fault)
}

// endRefusal restores the refusal fault once the refused event is behind the cursor:
// acknowledged at last, or no longer for this receiver. drained says the log is done.
func (r *receiver) endRefusal(ctx context.Context, drained bool) {
	r.mu.Lock()
	fault, seq := r.refusal, r.refusedSeq
	r.mu.Unlock()
	if fault == "" || !drained && (seq == 0 || r.box.Cursor() < seq) {
		return
	}
	r.setRefusal(ctx, "")
}

// setRefusal reports the refusal fault (fault, or none) to the hub.
func (r *receiver) setRefusal(ctx context.Context, fault string) {
	r.mu.Lock()
	old := r.refusal
	r.mu.Unlock()
	if old == fault {
		return
	}
	if old != "" {
		if err := r.u.hub.Submit(ctx, hub.Input{Kind: hub.InUplinkFault, Path: old, Active: false}); err != nil {
			r.log.Error("restore uplink fault", "fault", old, "error", err)
			return
		}
		r.log.Info("refused event delivered or left out: uplink fault restored", "fault", old)
	}
	if fault != "" {
		if err := r.u.hub.Submit(ctx, hub.Input{Kind: hub.InUplinkFault, Path: fault, Active: true}); err != nil {
			r.log.Error("report uplink fault", "fault", fault, "error", err)
			fault = ""
		}
	}
	r.mu.Lock()
	r.refusal = fault
	r.mu.Unlock()
}

// startRefusal takes a refusal fault from before a restart from the hub's faults, so it is
// restored once nothing is held any more.
func (r *receiver) startRefusal(faults []string) {
	for _, f := range faults {
		if strings.HasPrefix(f, r.name+"/refused/") {
			r.mu.Lock()
			r.refusal = f
			r.mu.Unlock()
		}
	}
}

// order returns the paths to try: those without failures first, primary before backup.
func (r *receiver) order() []*path {
	if len(r.paths) == 1 || r.paths[0].usable() || !r.paths[1].usable() {
		return r.paths
	}
	return []*path{r.paths[1], r.paths[0]}
}

func (r *receiver) acked(ev hub.Event, p *path, resp dc09.Response) {
	info := AckInfo{Seq: ev.Seq, Receiver: r.name, Path: p.name, At: time.Now(), RTT: resp.RTT}
	r.mu.Lock()
	r.delivered++
	if ev.Kind == hub.KindManualTest || ev.Kind == hub.KindPeriodicTest {
		r.ackedTest = &info
	}
	r.mu.Unlock()
	r.log.Debug("event acknowledged", "seq", ev.Seq, "path", p.name, "rtt", resp.RTT)
	r.u.settle(ev.Seq, info, nil)
}

func (r *receiver) reject(ev hub.Event, err error) {
	r.mu.Lock()
	r.rejected++
	r.mu.Unlock()
	r.setError(err)
	r.log.Error("event not delivered: skipped", "seq", ev.Seq, "kind", ev.Kind, "error", err)
	r.u.settle(ev.Seq, AckInfo{Seq: ev.Seq, Receiver: r.name}, fmt.Errorf("%w: %w", ErrRejected, err))
}

func (r *receiver) setError(err error) {
	r.mu.Lock()
	r.lastErr, r.lastErrAt = errText(err), time.Now()
	r.mu.Unlock()
}

// passed reports whether the cursor has passed seq: in memory, or in the store (before Run
// has read it, or for an event delivered before a restart).
func (r *receiver) passed(seq uint64) (bool, error) {
	return r.box.Passed(seq)
}

func (r *receiver) status(last uint64) ReceiverStatus {
	r.mu.Lock()
	s := ReceiverStatus{
		Name:        r.name,
		Format:      r.format,
		Account:     r.account,
		Cursor:      r.box.Cursor(),
		Delivered:   r.delivered,
		Rejected:    r.rejected,
		LastError:   r.lastErr,
		LastErrorAt: r.lastErrAt,
	}
	if r.ackedTest != nil {
		t := *r.ackedTest
		s.LastTest = &t
	}
	r.mu.Unlock()
	if last > s.Cursor {
		s.QueueDepth = last - s.Cursor
	}
	for _, p := range r.paths {
		s.Paths = append(s.Paths, p.status())
	}
	return s
}

// runTests submits the periodic test report on the receiver's schedule. The first is due a
// test interval after the last one in the log, so restarts do not postpone it for ever;
// with none in the last interval, it is due at once.
func (r *receiver) runTests(ctx context.Context) {
	last, err := r.lastTest(time.Now())
	if err != nil {
		r.log.Warn("find the last periodic test", "error", err)
	}
	timer := time.NewTimer(max(time.Until(nextTest(last, time.Now(), r.testEvery)), 0))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if err := r.u.hub.Submit(ctx, hub.Input{Kind: hub.InPeriodicTest, Path: r.name}); err != nil {
			if ctx.Err() == nil {
				r.log.Error("submit periodic test", "error", err)
			}
		}
		timer.Reset(r.testEvery)
	}
}

// nextTest returns when the next periodic test is due, given the last one (zero: none
// within an interval of now).
func nextTest(last, now time.Time, every time.Duration) time.Time {
	if last.IsZero() || last.After(now) {
		return now
	}
	return last.Add(every)
}

// lastTest finds the newest periodic test in the log within a test interval of now, reading
// back no further than that.
func (r *receiver) lastTest(now time.Time) (time.Time, error) {
	store := r.u.hub.Store()
	since := now.Add(-r.testEvery)
	var before uint64
	for {
		page, err := store.History(before, 256)
		if err != nil || len(page) == 0 {
			return time.Time{}, err
		}
		for _, ev := range page {
			if ev.Time.Before(since) {
				return time.Time{}, nil
			}
			if ev.Kind == hub.KindPeriodicTest && (ev.Device == "" || ev.Device == r.name) {
				return ev.Time, nil
			}
		}
		if before = page[len(page)-1].Seq; before <= 1 {
			return time.Time{}, nil
		}
		before--
	}
}
