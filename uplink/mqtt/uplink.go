// Package mqtt is the MQTT uplink: it publishes the hub's event log and a retained status
// to a broker (a monitoring station's, or the owner's own server) and takes signed remote
// commands from it.
//
// Topics, under <prefix>/<hub_id>/:
//
//	events           each event as hub.Event JSON, QoS 1, in log order, at least once
//	status           retained JSON status ({"state":"online",…}); the last will, also
//	                 retained, is {"state":"offline"}
//	commands         signed commands in (see Command and SignedBytes)
//	commands/result  a CommandResult for every command, accepted or refused
//	actionplan       the action plan, retained, age-encrypted to the station (ActionPlan)
//	station/<kind>   signed station requests in (StationRequest): plan_check, and what
//	                 others register with HandleStation
//	station/<kind>/result  a StationReply for every request
//	photos/<alarm>   alarm photos, age-encrypted to the station, in chunks (Send)
package mqtt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"vakt/devices/mqttclient"
	"vakt/hub"
	"vakt/uplink/outbox"
)

// errOffline means there is no broker connection; delivery waits for the next connect.
var errOffline = errors.New("not connected to the broker")

const (
	// publishTimeout bounds the wait for a PUBACK on a connection that looks alive.
	publishTimeout = 30 * time.Second
	// minRetry and maxRetry bound the wait after a failed publish.
	minRetry = time.Second
	maxRetry = 30 * time.Second
	// commandQueue is how many commands may wait; more are refused as busy.
	commandQueue = 16
)

// Status is the state of the MQTT uplink.
type Status struct {
	Connected bool `json:"connected"`
	// Cursor is the last event published (acknowledged by the broker) or passed over.
	Cursor uint64 `json:"cursor"`
	// LastPublished is the last event the broker acknowledged.
	LastPublished uint64 `json:"last_published"`
	// QueueDepth is how many logged events lie behind the cursor, published or not.
	QueueDepth       uint64 `json:"queue_depth"`
	Published        uint64 `json:"published"`
	CommandsAccepted uint64 `json:"commands_accepted"`
	CommandsRefused  uint64 `json:"commands_refused"`
	// ActionPlanSent is when the broker last acknowledged the encrypted action plan.
	ActionPlanSent time.Time `json:"action_plan_sent,omitzero"`
	LastError      string    `json:"last_error,omitempty"`
	LastErrorAt    time.Time `json:"last_error_at,omitzero"`
}

// Uplink publishes the hub's event log to an MQTT broker behind the durable cursor
// "mqtt/<hub_id>", keeps a retained status there, and executes signed remote commands.
type Uplink struct {
	cfg    Config
	hub    *hub.Hub
	log    *slog.Logger
	box    *outbox.Outbox // the events behind the cursor "mqtt/<hub_id>"
	topic  struct{ base, events, status, commands, result, plan, station string }
	client paho.Client
	wake   chan struct{}
	cmds   chan []byte
	down   chan struct{} // signalled when the connection is lost
	busy   chan struct{} // answers to commands refused for a full queue, in flight
	// station takes signed station requests to stationLoop; handlers answer them by kind.
	station  chan stationMessage
	handlers map[string]StationHandler
	// plan is the action plan as last published on the current connection.
	plan planState
	// refusals limits answers and log lines of refused commands.
	refusals refusals
	answers  sync.WaitGroup
	started  atomic.Bool

	mu         sync.Mutex
	connected  bool
	lost       chan struct{} // closed when the current connection is lost
	lastPub    uint64
	published  uint64
	accepted   uint64
	refused    uint64
	lastErr    string
	lastErrAt  time.Time
	lastStatus []byte // the status payload the broker has, nil after a (re)connect
}

// New returns an uplink for cfg over h. It connects nothing and writes nothing; Run does.
// cfg should have passed Validate; if it has not, New validates it with os.Getenv.
func New(cfg Config, h *hub.Hub, logger *slog.Logger) (*Uplink, error) {
	if h == nil {
		return nil, errors.New("new mqtt uplink: no hub")
	}
	if !cfg.valid {
		if err := cfg.Validate(os.Getenv); err != nil {
			return nil, fmt.Errorf("new mqtt uplink: %w", err)
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	u := &Uplink{
		cfg:  cfg,
		hub:  h,
		log:  logger.With("uplink", "mqtt", "hub_id", cfg.HubID),
		wake: make(chan struct{}, 1),
		cmds: make(chan []byte, commandQueue),
		busy: make(chan struct{}, 4),
		down: make(chan struct{}, 1),
		lost: make(chan struct{}),

		station:  make(chan stationMessage, commandQueue),
		handlers: map[string]StationHandler{},
	}
	u.box = outbox.New(h.Store(), CursorName(cfg.HubID), u.cfg.wants, u.log)
	base := cfg.Prefix + "/" + cfg.HubID + "/"
	u.topic.base, u.topic.events, u.topic.status = base, base+"events", base+"status"
	u.topic.commands, u.topic.result = base+"commands", base+"commands/result"
	u.topic.plan, u.topic.station = base+"actionplan", base+"station/"
	u.handlers[KindPlanCheck] = u.checkPassword
	close(u.lost) // not connected yet
	u.refusals.log = u.log

	opts, err := u.clientOptions()
	if err != nil {
		return nil, fmt.Errorf("new mqtt uplink: %w", err)
	}
	u.client = paho.NewClient(opts)
	return u, nil
}

var offlinePayload = []byte(`{"state":"offline"}`)

func (u *Uplink) clientOptions() (*paho.ClientOptions, error) {
	b, _ := url.Parse(u.cfg.URL) // Validate parsed it
	switch b.Scheme {
	case "mqtt":
		b.Scheme = "tcp"
	case "mqtts", "tls":
		b.Scheme = "ssl"
	}
	o := paho.NewClientOptions().AddBroker(b.String()).SetClientID("vakt-uplink-"+u.cfg.HubID).
		SetUsername(u.cfg.Username).SetPassword(u.cfg.Password).
		// Run reconnects itself, and delivery resends from the cursor what the broker did
		// not acknowledge: paho's own reconnect would also resend its in-flight messages
		// from its store, which races in paho v1.5.0 (resume sets Dup while the writer
		// reads the packet) and adds nothing here.
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(10*time.Second).
		SetCleanSession(true).SetOrderMatters(false).
		SetKeepAlive(30*time.Second).SetPingTimeout(10*time.Second).
		SetBinaryWill(u.topic.status, offlinePayload, 1, true).
		SetOnConnectHandler(func(paho.Client) { u.onConnect() }).
		SetConnectionLostHandler(func(_ paho.Client, err error) { u.onLost(err) })
	if b.Scheme == "ssl" {
		c := u.cfg
		tc, err := mqttclient.TLSConfig(mqttclient.Config{CA: c.CA, Cert: c.Cert, Key: c.Key}, "uplink_mqtt")
		if err != nil {
			return nil, err
		}
		o.SetTLSConfig(tc)
	}
	return o, nil
}

// onConnect runs in paho's goroutine: it must not block on tokens.
func (u *Uplink) onConnect() {
	u.mu.Lock()
	u.connected = true
	u.lost = make(chan struct{})
	u.lastStatus = nil // the will may have replaced it
	u.plan.sent = ""   // published again on every connection: the retained copy may be gone
	u.mu.Unlock()
	u.log.Info("connected to the broker")
	if u.cfg.key != nil {
		tok := u.client.Subscribe(u.topic.commands, 1, u.onCommand)
		go func() {
			if err := waitToken(tok, nil, publishTimeout); err != nil {
				u.setError(fmt.Errorf("subscribe %s: %w", u.topic.commands, err))
			}
		}()
	}
	if u.cfg.stationKey != nil {
		tok := u.client.Subscribe(u.topic.station+"+", 1, u.onStation)
		go func() {
			if err := waitToken(tok, nil, publishTimeout); err != nil {
				u.setError(fmt.Errorf("subscribe %s+: %w", u.topic.station, err))
			}
		}()
	}
	u.poke()
}

func (u *Uplink) onLost(err error) {
	u.mu.Lock()
	if u.connected {
		u.connected = false
		close(u.lost)
	}
	u.mu.Unlock()
	u.setError(fmt.Errorf("connection lost: %w", err))
	u.log.Warn("connection to the broker lost; reconnecting", "error", err)
	select {
	case u.down <- struct{}{}:
	default:
	}
}

// connectLoop connects, and reconnects after every loss, backing off while the broker
// cannot be reached, until ctx ends.
func (u *Uplink) connectLoop(ctx context.Context) {
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	retry.Stop()
	attempt := 0
	for {
		err := waitToken(u.client.Connect(), ctx.Done(), time.Minute)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			attempt = 0
			select {
			case <-ctx.Done():
				return
			case <-u.down:
			}
			continue
		}
		u.setError(fmt.Errorf("connect: %w", err))
		d := min(minRetry<<min(attempt, 8), maxRetry)
		attempt++
		u.log.Warn("cannot connect to the broker, retrying", "in", d, "error", err)
		retry.Reset(d)
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
		}
	}
}

// onCommand is paho's handler: it copies the payload and hands it on, never blocking.
func (u *Uplink) onCommand(_ paho.Client, m paho.Message) {
	if len(m.Payload()) > MaxCommandSize {
		// Refused unread: with no nonce read, there is no one to answer.
		u.mu.Lock()
		u.refused++
		u.mu.Unlock()
		if u.refusals.allow(time.Now(), ErrTooLarge.Error()) {
			u.log.Warn("remote command refused", "error", ErrTooLarge, "size", len(m.Payload()))
		}
		return
	}
	payload := bytes.Clone(m.Payload())
	select {
	case u.cmds <- payload:
	default:
		u.mu.Lock()
		u.refused++
		u.mu.Unlock()
		if !u.refusals.allow(time.Now(), ErrBusy.Error()) {
			return
		}
		u.log.Warn("remote command refused: queue full")
		// Answer from a goroutine, a few at a time: under a flood, the rest go unanswered.
		select {
		case u.busy <- struct{}{}:
			u.answers.Go(func() {
				defer func() { <-u.busy }()
				c, _ := parseCommand(payload)
				u.answer(CommandResult{Nonce: c.Nonce, Error: ErrBusy.Error()})
			})
		default:
		}
	}
}

// answer publishes a command's result.
func (u *Uplink) answer(res CommandResult) {
	out, _ := json.Marshal(res)
	lost, err := u.conn()
	if err == nil {
		err = waitToken(u.client.Publish(u.topic.result, 1, false, out), lost, publishTimeout)
	}
	if err != nil {
		u.log.Warn("publish command result", "nonce", res.Nonce, "error", err)
	}
}

func (u *Uplink) poke() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Run connects, publishes events and status and executes commands until ctx ends, then
// publishes the offline status, disconnects, saves the cursor and returns. Creating the
// cursor on first start is its only other write to the store; an error there ends Run.
func (u *Uplink) Run(ctx context.Context) error {
	if !u.started.CompareAndSwap(false, true) {
		return errors.New("mqtt uplink: Run called twice")
	}
	if err := u.box.Open(); err != nil {
		return fmt.Errorf("mqtt uplink: %w", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { u.connectLoop(ctx) })
	wg.Go(func() { u.commandLoop(ctx) })
	wg.Go(func() { u.stationLoop(ctx) })
	u.deliveryLoop(ctx)
	wg.Wait()
	u.answers.Wait()
	if u.client.IsConnectionOpen() {
		if err := waitToken(u.client.Publish(u.topic.status, 1, true, offlinePayload), nil, 2*time.Second); err != nil {
			u.log.Warn("publish offline status", "error", err)
		}
	}
	u.client.Disconnect(250)
	return nil // the delivery loop saved the cursor; the store is closed after Run
}

// CursorName is the store's name for the event cursor of the MQTT uplink of hub hubID.
func CursorName(hubID string) string { return "mqtt/" + hubID }

// CursorNames returns the store's name for c's event cursor, none when c is nil (no MQTT
// uplink configured), so that stale cursors can be deleted (outbox.DeleteStale).
func (c *Config) CursorNames() []string {
	if c == nil {
		return nil
	}
	return []string{CursorName(c.HubID)}
}

// deliveryLoop publishes the events behind the cursor, then the status, whenever the hub
// has news, the broker connects, a retry is due or the safety tick fires (see
// outbox.Outbox.Run). A new event to publish cuts a retry delay short.
func (u *Uplink) deliveryLoop(ctx context.Context) {
	sub := u.hub.Subscribe()
	defer sub.Close()
	u.box.Run(ctx, sub, outbox.Loop{
		Wake: u.wake,
		Step: func(ctx context.Context) error {
			// Events first: a status that cannot be published must not hold back an alarm.
			err := u.box.Drain(ctx, u.publishBatch)
			if perr := u.publishPlan(ctx); err == nil {
				err = perr
			}
			if serr := u.publishStatus(ctx); err == nil {
				err = serr
			}
			return err
		},
		Retry: func(attempt int, err error) (time.Duration, bool) {
			if errors.Is(err, errOffline) {
				return 0, false // the next connect wakes delivery
			}
			u.setError(err)
			d := min(minRetry<<min(attempt, 8), maxRetry)
			u.log.Warn("publish failed, retrying", "in", d, "error", err)
			return d, true
		},
	})
}

// conn returns the current connection's lost channel, or errOffline.
func (u *Uplink) conn() (<-chan struct{}, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.connected {
		return nil, errOffline
	}
	return u.lost, nil
}

// publishBatch publishes a batch of events, all in flight at once, and calls done with
// each, in order, once the broker has acknowledged it (and every one before it). An event
// whose PUBACK is missing is sent again from the cursor, so events arrive at least once,
// and in order of first arrival.
func (u *Uplink) publishBatch(ctx context.Context, batch []hub.Event, done func(hub.Event)) error {
	lost, err := u.conn()
	if err != nil {
		return err
	}
	toks := make([]paho.Token, len(batch))
	for i, ev := range batch {
		payload, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event %d: %w", ev.Seq, err)
		}
		toks[i] = u.client.Publish(u.topic.events, 1, false, payload)
	}
	for i, ev := range batch {
		if err := waitToken(toks[i], lost, publishTimeout); err != nil {
			if errors.Is(err, errOffline) {
				return err
			}
			return fmt.Errorf("publish event %d: %w", ev.Seq, err)
		}
		u.mu.Lock()
		u.lastPub = ev.Seq
		u.published++
		u.mu.Unlock()
		done(ev)
	}
	return nil
}

// waitToken waits for tok, at most d, or until lost is closed (errOffline).
func waitToken(tok paho.Token, lost <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-lost:
		return errOffline
	case <-t.C:
		return fmt.Errorf("no answer from the broker in %s", d)
	}
}

func (u *Uplink) setError(err error) {
	u.mu.Lock()
	u.lastErr, u.lastErrAt = err.Error(), time.Now()
	u.mu.Unlock()
}

// Status returns the uplink's state. It is safe for concurrent use.
func (u *Uplink) Status() Status {
	last := u.hub.Snapshot().State.NextSeq
	if last > 0 {
		last--
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	s := Status{
		Connected:        u.connected,
		Cursor:           u.box.Cursor(),
		LastPublished:    u.lastPub,
		Published:        u.published,
		CommandsAccepted: u.accepted,
		CommandsRefused:  u.refused,
		ActionPlanSent:   u.plan.at,
		LastError:        u.lastErr,
		LastErrorAt:      u.lastErrAt,
	}
	if last > s.Cursor {
		s.QueueDepth = last - s.Cursor
	}
	return s
}

// commandLoop executes remote commands one at a time and answers each.
func (u *Uplink) commandLoop(ctx context.Context) {
	seen := nonceGuard{store: u.hub.Store(), scope: CursorName(u.cfg.HubID)}
	flush := time.NewTicker(refusalWindow)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-flush.C:
			u.refusals.flush(now)
		case payload := <-u.cmds:
			if res, ok := u.execute(ctx, payload, time.Now(), &seen); ok {
				u.answer(res)
			}
		}
	}
}

// execute checks a command and, if it is signed, fresh and new, gives it to the hub. It
// reports whether to answer: refusals beyond refusedPerMinute are only counted.
func (u *Uplink) execute(ctx context.Context, payload []byte, now time.Time, seen *nonceGuard) (CommandResult, bool) {
	c, err := parseCommand(payload)
	res := CommandResult{Nonce: c.Nonce}
	var in hub.Input
	if err == nil {
		err = verify(c, u.cfg.HubID, u.cfg.key, now, seen)
	}
	if err == nil {
		in, err = c.input(u.cfg.User)
	}
	if err != nil {
		u.mu.Lock()
		u.refused++
		u.mu.Unlock()
		res.Error = err.Error()
		if !u.refusals.allow(now, reason(err)) {
			return res, false
		}
		u.log.Warn("remote command refused", "cmd", c.Cmd, "area", c.Area, "nonce", c.Nonce, "error", err)
		return res, true
	}
	u.mu.Lock()
	u.accepted++
	u.mu.Unlock()
	r := u.hub.Do(ctx, in)
	if r.Err != nil {
		u.log.Info("remote command failed", "cmd", c.Cmd, "area", c.Area, "user", u.cfg.User, "error", r.Err)
		res.Error = r.Err.Error()
		return res, true
	}
	u.log.Info("remote command done", "cmd", c.Cmd, "area", c.Area, "user", u.cfg.User)
	res.OK = true
	return res, true
}
