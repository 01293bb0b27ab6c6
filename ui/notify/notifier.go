// Package notify tells the family what happens at home: arm and disarm with who and how,
// alarms, a cancelled arming, mains, batteries, missing devices and station path faults,
// by ntfy, Pushover and SMS through a cellular modem (DESIGN §2 items 13–14).
//
// Notifications come from the committed event log through uplink/outbox, like every other
// report that leaves the house: each channel of each recipient is a destination with a
// durable cursor ("notify/anna/ntfy"), delivered in order, at least once, retried with
// back-off, and never in the hub's way. A channel that keeps failing is a trouble in
// Status and the log, never an arming fault. An alarm goes to every channel of every
// admin; by SMS only once it has gone unacknowledged for escalate_after.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"vakt/hub"
	"vakt/uplink/outbox"
)

// Hub is what the notifier needs of *hub.Hub.
type Hub interface {
	Do(ctx context.Context, in hub.Input) hub.Result
	Store() *hub.Store
	Subscribe() *hub.Subscription
	Snapshot() *hub.Snapshot
}

var _ Hub = (*hub.Hub)(nil)

// Options are the notifier's dependencies; all are optional.
type Options struct {
	Logger *slog.Logger
	// Now is the clock escalation measures with; it should be the hub's.
	Now func() time.Time
	// Loc is the time zone of times in the texts; nil means the installation's
	// (settings.timezone, the one its schedules run in).
	Loc *time.Location
	// HTTPClient is used for ntfy and Pushover.
	HTTPClient *http.Client
}

// Retry bounds: the first retry after minRetry, doubling to maxRetry.
const (
	minRetry = 5 * time.Second
	maxRetry = 5 * time.Minute
)

// Notifier delivers notifications. New checks and builds; Run delivers until its context
// ends; Status and SendTest are safe at any time.
type Notifier struct {
	cfg      Config
	hub      Hub
	log      *slog.Logger
	now      func() time.Time
	loc      *time.Location
	client   *http.Client
	channels map[string]Channel
	pushover *Pushover
	modem    *Modem
	minRetry time.Duration
	// reload asks Run to build the destinations again from config.yaml and the store.
	reload chan struct{}
	// remindWake has the mains reminder measure its time again.
	remindWake chan struct{}

	mu    sync.Mutex // guards dests and every dest's status
	dests []*dest

	vapid  *vapidStore
	pushMu sync.Mutex // serialises changes of push subscriptions
}

// dest is one destination: a channel of a recipient, behind its own cursor.
type dest struct {
	destination
	ch   Channel
	box  *outbox.Outbox
	wake chan struct{}
	st   ChannelStatus
}

// ChannelStatus is how one channel of one recipient is doing, for the UI.
type ChannelStatus struct {
	User    string `json:"user"`
	Channel string `json:"channel"`
	To      string `json:"to"`
	// LastSuccess is when a message (or a test) last went through.
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Failures counts failed sends in a row; Fault is set once there are fault_after.
	Failures int  `json:"failures,omitempty"`
	Fault    bool `json:"fault,omitempty"`
	// Waiting is set while an alarm waits for its escalation by SMS.
	Waiting bool `json:"waiting,omitempty"`
	// Delivered and Failed count sends since start (tests included): messages that went
	// through, and attempts that did not.
	Delivered uint64 `json:"delivered"`
	Failed    uint64 `json:"failed"`
}

// New returns a notifier for cfg; it opens, sends and starts nothing.
func New(cfg Config, h Hub, opts Options) (*Notifier, error) {
	if err := cfg.Validate("notify"); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := &Notifier{cfg: cfg, hub: h, log: opts.Logger.With("part", "notify"), now: opts.Now, loc: opts.Loc, channels: map[string]Channel{}, minRetry: minRetry,
		reload: make(chan struct{}, 1), remindWake: make(chan struct{}, 1), client: opts.HTTPClient}
	if cfg.Ntfy.Server != "" {
		n.channels[ChannelNtfy] = NewNtfy(cfg.Ntfy, opts.HTTPClient)
	}
	if cfg.Pushover.Token != "" {
		n.pushover = NewPushover(cfg.Pushover, opts.HTTPClient, n.log)
		n.pushover.OnAck = n.pushoverAck
		n.channels[ChannelPushover] = n.pushover
	}
	if cfg.SMS.Device != "" {
		n.modem = NewModem(cfg.SMS, n.log)
		n.channels[ChannelSMS] = n.modem
	}
	n.vapid = &vapidStore{store: h.Store()}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: httpTimeout}
	}
	n.channels[ChannelWebPush] = &WebPush{cfg: cfg.WebPush, store: h.Store(), vapid: n.vapid, client: client, log: n.log.With("channel", ChannelWebPush)}
	n.dests = n.build(cfg.destinations(), nil)
	return n, nil
}

// build makes the destinations, keeping the status of those that were there before.
func (n *Notifier) build(dds []destination, old []*dest) []*dest {
	var out []*dest
	for _, dd := range dds {
		d := &dest{destination: dd, wake: make(chan struct{}, 1), st: ChannelStatus{User: dd.rcpt.User, Channel: dd.channel, To: dd.to}}
		for _, o := range old {
			if o.rcpt.User == dd.rcpt.User && o.channel == dd.channel && o.to == dd.to {
				d.st = o.st
			}
		}
		d.ch = n.channels[dd.channel]
		if dd.channel == ChannelNtfy {
			if nc := n.cfg.ntfyConfig(dd.rcpt); nc != n.cfg.Ntfy {
				d.ch = NewNtfy(nc, n.client) // the user's own server or token
			}
		}
		d.box = outbox.New(n.hub.Store(), dd.cursor(), n.wants(d), n.log.With("user", dd.rcpt.User, "channel", dd.channel))
		// A message to a person sent twice after a crash is noise: notifications are few,
		// so each delivered batch moves the saved cursor at once.
		d.box.SaveEvery = 0
		out = append(out, d)
	}
	return out
}

// rebuild builds the destinations from config.yaml's recipients and the store's, opens
// their cursors (a new one starts at the end of the log) and deletes the cursors of
// destinations that are gone, so that they hold back no pruning.
func (n *Notifier) rebuild() ([]*dest, error) {
	rs, err := Recipients(n.cfg, n.hub.Store(), n.hub.Snapshot().Installation)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	c := n.cfg
	c.Recipients = rs
	n.mu.Lock()
	old := n.dests
	n.mu.Unlock()
	dests := n.build(c.destinations(), old)
	keep := map[string]bool{}
	for _, d := range dests {
		if err := d.box.Open(); err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
		keep[d.box.Name()] = true
	}
	cursors, err := n.hub.Store().Cursors()
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	for name := range cursors {
		if isNotifyCursor(name) && !keep[name] {
			if err := n.hub.Store().DeleteCursor(name); err != nil {
				return nil, fmt.Errorf("notify: %w", err)
			}
			n.log.Info("notification destination removed", "cursor", name)
		}
	}
	n.mu.Lock()
	n.dests = dests
	n.mu.Unlock()
	return dests, nil
}

// wants is the destination's policy: the classes its recipient chose, and every alarm
// for an admin.
func (n *Notifier) wants(d *dest) func(hub.Event) bool {
	return func(ev hub.Event) bool {
		class, ok := Class(ev)
		if !ok {
			return false
		}
		if class == ClassAlarm && n.role(d.rcpt.User) == hub.RoleAdmin {
			return true
		}
		return slices.Contains(d.rcpt.Events, class)
	}
}

func (n *Notifier) role(user string) hub.Role {
	for _, u := range n.hub.Snapshot().Installation.Users {
		if u.ID == user {
			return u.Role
		}
	}
	return hub.RoleNone
}

// names resolves ids from the newest snapshot.
type names struct{ inst *hub.Installation }

func (s names) UserName(id string) string {
	for _, u := range s.inst.Users {
		if u.ID == id && u.Name != "" {
			return u.Name
		}
	}
	return id
}

func (s names) AreaName(number int) string {
	if len(s.inst.Areas) < 2 {
		return "" // one area: its name says nothing
	}
	for _, a := range s.inst.Areas {
		if a.Number == number {
			return a.Name
		}
	}
	return ""
}

func (n *Notifier) text(r Recipient) Text {
	inst := n.hub.Snapshot().Installation
	loc := n.loc
	if loc == nil {
		loc = inst.Location()
	}
	return Text{Lang: r.Lang, Names: names{inst}, Loc: loc}
}

// Run delivers until ctx ends, then saves the cursors and returns. Settings saved in the
// web UI (SetRecipient) take effect at once: the delivery loops stop, the destinations are
// built again, and each resumes from its own cursor. Reading the settings or opening a
// cursor is its only error.
func (n *Notifier) Run(ctx context.Context) error {
	for _, r := range n.cfg.Recipients {
		if !slices.ContainsFunc(n.hub.Snapshot().Installation.Users, func(u hub.User) bool { return u.ID == r.User }) {
			n.log.Warn("notification recipient is no user of the installation: gets no alarms as admin", "user", r.User)
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	if n.pushover != nil {
		wg.Go(func() { n.pushover.Run(ctx) })
	}
	if n.cfg.MainsReminder > 0 {
		wg.Go(func() { n.remindLoop(ctx) })
	}
	if n.modem != nil && n.cfg.SMS.Poll > 0 {
		wg.Go(func() { n.inboxLoop(ctx) })
	}
	for {
		dests, err := n.rebuild()
		if err != nil {
			return err
		}
		gen, cancel := context.WithCancel(ctx)
		var loops sync.WaitGroup
		for _, d := range dests {
			loops.Go(func() { n.deliveryLoop(gen, d) })
		}
		select {
		case <-ctx.Done():
		case <-n.reload:
		}
		cancel()
		loops.Wait()
		if ctx.Err() != nil {
			return nil
		}
	}
}

// waitError holds an alarm back from SMS until its escalation is due.
type waitError struct{ until time.Time }

func (e *waitError) Error() string { return "escalation due at " + e.until.Format(time.RFC3339) }

func (n *Notifier) deliveryLoop(ctx context.Context, d *dest) {
	sub := n.hub.Subscribe()
	defer sub.Close()
	d.box.Run(ctx, sub, outbox.Loop{
		Wake: d.wake,
		Step: func(ctx context.Context) error { return d.box.Drain(ctx, n.deliver(d)) },
		Retry: func(attempt int, err error) (time.Duration, bool) {
			var w *waitError
			if errors.As(err, &w) {
				return max(w.until.Sub(n.now()), time.Millisecond), true
			}
			n.mu.Lock()
			f := d.st.Failures
			n.mu.Unlock()
			return min(n.minRetry<<min(max(f-1, 0), 10), maxRetry), true
		},
	})
}

// deliver sends a batch to one destination. By SMS an alarm waits until escalate_after
// past its time, and is not sent if by then it was acknowledged or its area disarmed.
func (n *Notifier) deliver(d *dest) outbox.Deliver {
	return func(ctx context.Context, batch []hub.Event, done func(hub.Event)) error {
		text := n.text(d.rcpt)
		for _, ev := range batch {
			msg, ok := text.Message(ev)
			if !ok {
				done(ev)
				continue
			}
			if d.channel == ChannelSMS && msg.Alarm {
				acked, err := n.acknowledged(ev)
				if err != nil {
					return err
				}
				if acked {
					n.setWaiting(d, false)
					done(ev)
					continue
				}
				if due := ev.Time.Add(n.cfg.EscalateAfter.D()); n.now().Before(due) {
					n.setWaiting(d, true)
					return &waitError{until: due}
				}
				n.setWaiting(d, false)
				n.log.Warn("alarm unacknowledged: escalating by SMS", "user", d.rcpt.User, "seq", ev.Seq, "kind", ev.Kind.String(), "area", ev.Area)
			}
			if err := d.ch.Send(ctx, d.to, msg); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				n.failed(d, err)
				if errors.Is(err, ErrRejected) {
					// Sending it again cannot help; the fault stays shown until a send works.
					n.log.Error("notification refused, dropped", "user", d.rcpt.User, "channel", d.channel, "seq", ev.Seq, "error", err)
					done(ev)
					continue
				}
				return fmt.Errorf("notify %s by %s, event %d: %w", d.rcpt.User, d.channel, ev.Seq, err)
			}
			n.succeeded(d)
			done(ev)
		}
		return nil
	}
}

// acknowledged reports whether the log after alarm ev holds an acknowledgement of its
// area, or a disarm of it (which silences an alarm of a disarmed area: a silence).
func (n *Notifier) acknowledged(ev hub.Event) (bool, error) {
	store := n.hub.Store()
	after := ev.Seq
	for {
		evs, err := store.Events(after, outbox.ReadBatch)
		if err != nil {
			return false, fmt.Errorf("read log after %d: %w", after, err)
		}
		if len(evs) == 0 {
			return false, nil
		}
		for _, e := range evs {
			sameArea := e.Area == ev.Area || ev.Area == 0 || e.Area == 0
			if ((e.Kind == hub.KindAcknowledge || e.Kind == hub.KindAlarmSeen) && sameArea) || ((e.Kind == hub.KindDisarm || e.Kind == hub.KindSilence) && e.Area == ev.Area) {
				return true, nil
			}
		}
		after = evs[len(evs)-1].Seq
	}
}

func (n *Notifier) setWaiting(d *dest, w bool) {
	n.mu.Lock()
	d.st.Waiting = w
	n.mu.Unlock()
}

func (n *Notifier) failed(d *dest, err error) {
	n.mu.Lock()
	d.st.Failures++
	d.st.Failed++
	d.st.LastError = err.Error()
	becameFault := d.st.Failures == n.cfg.FaultAfter
	d.st.Fault = d.st.Failures >= n.cfg.FaultAfter
	n.mu.Unlock()
	if becameFault {
		n.log.Error("notification channel fault", "user", d.rcpt.User, "channel", d.channel, "failures", n.cfg.FaultAfter, "error", err)
	} else {
		n.log.Warn("notification not sent", "user", d.rcpt.User, "channel", d.channel, "error", err)
	}
}

func (n *Notifier) succeeded(d *dest) {
	n.mu.Lock()
	wasFault := d.st.Fault
	d.st.Failures, d.st.Fault, d.st.LastError = 0, false, ""
	d.st.Delivered++
	d.st.LastSuccess = n.now()
	n.mu.Unlock()
	if wasFault {
		n.log.Info("notification channel works again", "user", d.rcpt.User, "channel", d.channel)
	}
}

// Status is every destination's state, for the UI.
type Status struct {
	Channels []ChannelStatus `json:"channels"`
	// Available are the channels config.yaml sets up (ntfy only with a default server).
	Available []string `json:"available"`
}

// Troubles returns the destinations in fault, as "anna/ntfy".
func (s Status) Troubles() []string {
	var out []string
	for _, c := range s.Channels {
		if c.Fault {
			out = append(out, c.User+"/"+c.Channel)
		}
	}
	return out
}

// Status returns how every channel of every recipient is doing.
func (n *Notifier) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := Status{Channels: make([]ChannelStatus, 0, len(n.dests)), Available: n.Available()}
	for _, d := range n.dests {
		s.Channels = append(s.Channels, d.st)
	}
	return s
}

// ErrNoChannel is a SendTest for a channel the user does not have.
var ErrNoChannel = errors.New("no such channel for the user")

// SendTest sends a test message to user by channel now, outside the log, and records the
// outcome in Status. A success also wakes a waiting delivery.
func (n *Notifier) SendTest(ctx context.Context, user, channel string) error {
	n.mu.Lock()
	dests := n.dests
	n.mu.Unlock()
	for _, d := range dests {
		if d.rcpt.User != user || d.channel != channel {
			continue
		}
		if err := d.ch.Send(ctx, d.to, n.text(d.rcpt).Test(n.now())); err != nil {
			n.failed(d, err)
			return fmt.Errorf("test %s by %s: %w", user, channel, err)
		}
		n.succeeded(d)
		select {
		case d.wake <- struct{}{}:
		default:
		}
		return nil
	}
	return fmt.Errorf("test %s by %s: %w", user, channel, ErrNoChannel)
}

// Available returns the channels a user may set up, in a fixed order: ntfy always (on
// notify.ntfy.server or the user's own), the others when config.yaml sets them up.
func (n *Notifier) Available() []string {
	out := []string{ChannelNtfy}
	for _, c := range []string{ChannelPushover, ChannelSMS, ChannelWebPush} {
		if _, ok := n.channels[c]; ok {
			out = append(out, c)
		}
	}
	return out
}

// Config returns the notifier's settings from config.yaml.
func (n *Notifier) Config() Config { return n.cfg }

// Recipient returns the settings in force for user, and where they come from.
func (n *Notifier) Recipient(user string) (Recipient, Source, error) {
	r, ok, err := StoredRecipient(n.hub.Store(), user)
	if err != nil {
		return Recipient{}, SourceNone, err
	}
	if ok {
		return r, SourceStore, nil
	}
	for _, r := range n.cfg.Recipients {
		if r.User == user {
			return r, SourceConfig, nil
		}
	}
	return Recipient{User: user}, SourceNone, nil
}

// SetRecipient checks and stores user's settings as edited in the web UI, and has Run
// deliver by them from now on, without a restart. Errors are *FieldError (joined).
func (n *Notifier) SetRecipient(r Recipient) error {
	if err := n.cfg.ValidateRecipient(r); err != nil {
		return err
	}
	if err := SaveRecipient(n.hub.Store(), r); err != nil {
		return err
	}

	n.log.Info("notification settings saved", "user", r.User, "events", r.Events)
	return n.prepared(r)
}

// prepared creates the cursors of r's new destinations, so that they get what is logged
// from now on and not from whenever Run gets to them, and has Run rebuild.
func (n *Notifier) prepared(r Recipient) error {
	c := n.cfg
	c.Recipients = []Recipient{r}
	for _, name := range c.CursorNames() {
		if _, ok, err := n.hub.Store().Cursor(name); err != nil {
			return err
		} else if !ok {
			last, err := n.hub.Store().LastSeq()
			if err != nil {
				return err
			}
			if err := n.hub.Store().SetCursor(name, last); err != nil {
				return err
			}
		}
	}
	n.Reload()
	return nil
}

// Reload has Run build its destinations again, as after SetRecipient.
func (n *Notifier) Reload() {
	select {
	case n.reload <- struct{}{}:
	default:
	}
}
