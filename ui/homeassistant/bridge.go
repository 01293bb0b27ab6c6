// Package homeassistant announces vakt to Home Assistant by MQTT discovery: an alarm
// control panel per area, and binary sensors, sensors, switches and locks for the
// devices, each with availability. It follows the hub's committed snapshots and the
// devices' health, publishes retained discovery configs and states on the configured
// broker, and forwards Home Assistant's commands to the hub (areas, with the code checked
// as a keypad's) or the device manager (plugs, locks); it decides nothing itself.
//
// Topics, with the defaults (prefix homeassistant, base topic vakt, node id vakt):
//
//	homeassistant/<component>/vakt/<object>/config  discovery configs, retained
//	vakt/status                                     online, or offline (the last will)
//	vakt/area/<n>                                   the area's state, retained
//	vakt/area/<n>/attributes                        who set it, readiness, alarm memory
//	vakt/area/<n>/set                               commands in: {"action":…,"code":…}
//	vakt/device/<id>                                the device's state as JSON, retained
//	vakt/device/<id>/availability                   offline while it is missing
//	vakt/device/<id>/set                            ON/OFF for plugs, LOCK/UNLOCK for locks
package homeassistant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"vakt/devices"
	"vakt/devices/mqttclient"
	"vakt/hub"
)

// ClientID is the bridge's MQTT client id, in the prefix the embedded broker keeps for
// vakt's own clients.
const ClientID = "vakt-homeassistant"

// Timing defaults.
const (
	// DefaultHealthEvery is how often the devices' health, which no snapshot carries, is
	// read for temperatures, batteries, plugs and locks.
	DefaultHealthEvery = 5 * time.Second
	// syncGap is the least time between two syncs for the hub's steps: what Home
	// Assistant shows may lag a burst of steps by that much, and a flood of them costs one
	// sync per gap.
	syncGap = 50 * time.Millisecond
	// resendGap is the least time between two announcements of everything (on Home
	// Assistant's birth message, or a reconnect).
	resendGap = 5 * time.Second
	// commandTimeout bounds how long a command waits for the hub's answer.
	commandTimeout = 10 * time.Second
	// commandQueue is how many commands may wait; more are dropped and counted.
	commandQueue = 16
	// foundQueue is how many retained configs found on the broker may wait to be looked
	// at; more are looked at on the next start.
	foundQueue = 1024
	// logEvery is how often at most one kind of refused command is logged; those in
	// between are counted, and the next line says how many were left out.
	logEvery = 10 * time.Second
)

// Devices is what the bridge needs of the device manager: health (temperatures,
// batteries, plug and lock states) and the plug and lock commands.
type Devices interface {
	Health() map[string]devices.Health
	Switch(ctx context.Context, by hub.Input, id string, on bool) error
	Lock(ctx context.Context, by hub.Input, id string, locked bool) error
}

var _ Devices = (*devices.Manager)(nil)

// Options are the bridge's dependencies besides the hub.
type Options struct {
	Logger *slog.Logger
	// Version is vakt's version, shown as the hub device's software version.
	Version string
	// HealthEvery is how often the devices' health is read; 0 means DefaultHealthEvery.
	HealthEvery time.Duration
}

// Stats count what the bridge did, for the UI and tests.
type Stats struct {
	Published uint64 `json:"published"`
	Cleared   uint64 `json:"cleared"`
	Accepted  uint64 `json:"commands_accepted"`
	Refused   uint64 `json:"commands_refused"`
	Dropped   uint64 `json:"commands_dropped"`
}

// Bridge is the Home Assistant discovery bridge. New has no side effects; Run runs it.
type Bridge struct {
	cfg    Config
	bus    mqttclient.Config
	h      *hub.Hub
	dev    Devices
	opts   Options
	log    *slog.Logger
	topics topics

	cmds   chan command
	resend chan struct{}
	wake   chan struct{}
	// found gets the retained discovery configs under this node id that the broker holds:
	// those vakt no longer wants are cleared even when the store does not remember them
	// (a store restored from an older backup).
	found chan string

	published, cleared, accepted, refused, dropped atomic.Uint64

	mu sync.Mutex
	// commandable maps the slugs of plugs and locks to their device ids.
	commandable map[string]string
	logged      map[string]*logLimit
}

// New returns a bridge to the broker bus over the hub and the device manager (nil: no
// plugs, locks, temperatures or batteries). cfg must have passed Validate.
func New(cfg Config, bus mqttclient.Config, h *hub.Hub, dev Devices, opts Options) *Bridge {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HealthEvery <= 0 {
		opts.HealthEvery = DefaultHealthEvery
	}
	return &Bridge{cfg: cfg, bus: bus, h: h, dev: dev, opts: opts, log: opts.Logger.With("part", "homeassistant"),
		topics: topics{prefix: cfg.DiscoveryPrefix, base: cfg.BaseTopic, node: cfg.NodeID},
		cmds:   make(chan command, commandQueue), resend: make(chan struct{}, 1), wake: make(chan struct{}, 1),
		found:       make(chan string, foundQueue),
		commandable: map[string]string{}, logged: map[string]*logLimit{}}
}

// Stats returns the bridge's counters.
func (b *Bridge) Stats() Stats {
	return Stats{Published: b.published.Load(), Cleared: b.cleared.Load(), Accepted: b.accepted.Load(), Refused: b.refused.Load(), Dropped: b.dropped.Load()}
}

// Run connects to the broker and keeps Home Assistant's view of vakt up to date until ctx
// ends; on a clean end vakt says offline. A broker not reachable yet is retried in the
// background.
func (b *Bridge) Run(ctx context.Context) error {
	rec, err := loadPublished(b.h.Store())
	if err != nil {
		return err
	}
	c, err := mqttclient.New(b.bus, ClientID, b.log, mqttclient.WithWill(mqttclient.Will{Topic: b.topics.status(), Payload: []byte(offline), QoS: 1, Retained: true}))
	if err != nil {
		return err
	}
	for _, f := range []string{b.topics.base + "/area/+/set", b.topics.base + "/device/+/set"} {
		if err := c.Subscribe(mqttclient.Subscription{Topic: f, QoS: 1, Handler: b.received}); err != nil {
			return err
		}
	}
	// Home Assistant says online on <prefix>/status when it starts: it gets everything again.
	if err := c.Subscribe(mqttclient.Subscription{Topic: b.topics.prefix + "/status", QoS: 1, Handler: func(_ paho.Client, m paho.Message) {
		if string(m.Payload()) == online {
			b.poke()
		}
	}}); err != nil {
		return err
	}
	if err := c.Subscribe(mqttclient.Subscription{Topic: b.topics.prefix + "/+/" + b.topics.node + "/+/config", QoS: 1, Handler: func(_ paho.Client, m paho.Message) {
		if m.Retained() && len(m.Payload()) > 0 {
			select {
			case b.found <- m.Topic():
			default:
			}
		}
	}}); err != nil {
		return err
	}
	c.OnConnect(func() {
		if c.Connects() > 1 {
			b.poke() // a broker that restarted may have lost the retained messages
			return
		}
		select { // the first connection: publish what is not yet
		case b.wake <- struct{}{}:
		default:
		}
	})
	if err := c.ConnectWait(5 * time.Second); err != nil {
		b.log.Warn("Home Assistant: MQTT broker not reachable yet", "error", err)
	}
	defer func() {
		if c.IsConnectionOpen() {
			// A clean disconnect sends no will: say offline ourselves, briefly (the broker
			// may be stopping with us).
			if tok := c.Client.Publish(b.topics.status(), 1, true, []byte(offline)); !tok.WaitTimeout(time.Second) || tok.Error() != nil {
				b.log.Info("Home Assistant: could not say offline; the broker may be stopping too", "error", tok.Error())
			}
		}
		c.Disconnect(250)
	}()
	sub := b.h.Subscribe()
	defer sub.Close()
	tick := time.NewTicker(b.opts.HealthEvery)
	defer tick.Stop()
	b.log.Info("Home Assistant discovery", "prefix", b.topics.prefix, "base_topic", b.topics.base, "node_id", b.topics.node)
	if user, err := b.user(); err != nil {
		b.log.Warn("Home Assistant can act as nobody without a code: the installation has no admin; set homeassistant.user", "error", err)
	} else if !slices.ContainsFunc(b.h.Snapshot().Installation.Users, func(u hub.User) bool { return u.ID == user }) {
		b.log.Warn("Home Assistant acts as a user the installation does not have: its commands without a code will be refused", "user", user)
	}
	st := &syncState{sent: map[string][]byte{}}
	var lastSync, lastResend time.Time
	var due <-chan time.Time       // a sync put off by syncGap
	var resendDue <-chan time.Time // a resend put off by resendGap
	resendAll := func() {
		st.sent, st.configs = map[string][]byte{}, nil
		lastResend = time.Now()
	}
	for now := true; ; {
		if now {
			lastSync = time.Now()
			if err := b.sync(c, rec, st); err != nil && ctx.Err() == nil {
				b.limited("sync", "Home Assistant: publishing failed; retrying", "error", err)
			}
		}
		now = true
		select {
		case <-ctx.Done():
			return nil
		case <-sub.C():
			if sub.Next().Closed {
				return nil
			}
			// A burst of steps (a flood of sensor reports) makes one sync per syncGap.
			if wait := syncGap - time.Since(lastSync); wait > 0 {
				if due == nil {
					due = time.After(wait)
				}
				now = false
			}
		case <-due:
			due = nil
		case <-tick.C:
		case <-b.wake:
		case <-b.resend:
			// Everything again, but not more often than resendGap: a Home Assistant
			// restarting in a loop (or an account saying online over and over) must not
			// make vakt republish without end.
			if wait := resendGap - time.Since(lastResend); wait > 0 {
				if resendDue == nil {
					resendDue = time.After(wait)
				}
				now = false
				break
			}
			resendAll()
		case <-resendDue:
			resendDue = nil
			resendAll()
		case cmd := <-b.cmds:
			b.done(cmd, b.execute(ctx, cmd))
		case topic := <-b.found:
			// Recorded, it is cleared by the next sync unless it is wanted.
			if err := rec.add(map[string][]byte{topic: nil}); err != nil {
				b.limited("record", "Home Assistant: could not record a config found on the broker", "topic", topic, "error", err)
			}
		}
	}
}

// received is paho's callback for a command: it copies and forwards, never blocks.
func (b *Bridge) received(_ paho.Client, m paho.Message) {
	p := m.Payload()
	if len(p) > maxCommand+1 {
		p = p[:maxCommand+1] // enough to say it is too long
	}
	c := command{topic: m.Topic(), payload: bytes.Clone(p), retained: m.Retained()}
	select {
	case b.cmds <- c:
	default:
		b.dropped.Add(1)
		b.limited("dropped", "Home Assistant command dropped: too many waiting", "topic", truncate(c.topic))
	}
}

// done logs a command's outcome; refusals are logged at most once per logEvery for each
// kind of refusal.
func (b *Bridge) done(c command, err error) {
	if err == nil {
		b.accepted.Add(1)
		b.log.Info("Home Assistant command done", "topic", c.topic, "command", commandWords(c.payload))
		return
	}
	b.refused.Add(1)
	kind := "refused"
	for _, e := range []error{ErrMalformed, ErrRetained, ErrUnknownTarget, hub.ErrWrongCode} {
		if errors.Is(err, e) {
			kind = e.Error()
		}
	}
	b.limited(kind, "Home Assistant command refused", "topic", truncate(c.topic), "error", err)
}

// commandWords is what the log shows of a command: its action, never its code.
func commandWords(payload []byte) string {
	if ac, err := parseAreaCommand(payload); err == nil {
		return ac.Action
	}
	return truncate(string(payload))
}

func (b *Bridge) poke() {
	select {
	case b.resend <- struct{}{}:
	default:
	}
}

func (b *Bridge) health() map[string]devices.Health {
	if b.dev == nil {
		return nil
	}
	return b.dev.Health()
}

// syncState is what the bridge has published since it last connected.
type syncState struct {
	// sent holds the last payload published on each retained topic.
	sent map[string][]byte
	// plan and configs are the entities of key and their discovery configs, marshalled
	// once.
	plan    plan
	configs map[string][]byte
	key     planKey
}

// sync publishes what changed since the last sync: discovery configs, states and vakt's
// own availability, in that order (an entity exists before its state arrives), and then
// clears the retained topics recorded but no longer wanted, removing their entities.
func (b *Bridge) sync(c *mqttclient.Client, rec *published, st *syncState) error {
	if !c.IsConnectionOpen() {
		return nil
	}
	snap, health := b.h.Snapshot(), b.health()
	if k := keyOf(snap.Installation, health); st.configs == nil || k != st.key {
		// The entities change only with the installation or a first reading: plan and
		// marshal them then, not for every step.
		st.plan = b.planFor(snap.Installation, health)
		st.configs = map[string][]byte{}
		for _, e := range st.plan.entities {
			payload, err := json.Marshal(e.config)
			if err != nil {
				return err
			}
			st.configs[b.topics.config(e)] = payload
		}
		st.key = k
		b.mu.Lock()
		b.commandable = st.plan.devices
		b.mu.Unlock()
	}
	states := b.states(&st.plan, snap, health)
	want := map[string][]byte{b.topics.status(): []byte(online)}
	for t, v := range st.configs {
		want[t] = v
	}
	for t, v := range states {
		want[t] = v
	}
	if err := rec.add(want); err != nil {
		return err
	}
	for _, group := range []map[string][]byte{st.configs, states, {b.topics.status(): []byte(online)}} {
		for _, t := range changed(group, st.sent) {
			if err := c.Publish(t, 1, true, group[t]); err != nil {
				return err
			}
			st.sent[t] = group[t]
			b.published.Add(1)
		}
	}
	var cleared []string
	var err error
	for _, t := range rec.stale(want) {
		// An empty retained message removes the retained one, and the entity with it.
		if err = c.Publish(t, 1, true, nil); err != nil {
			break
		}
		delete(st.sent, t)
		cleared = append(cleared, t)
		b.cleared.Add(1)
	}
	return errors.Join(err, rec.remove(cleared))
}

// changed returns the topics of m whose payload differs from what was sent, sorted.
func changed(m, sent map[string][]byte) []string {
	var out []string
	for t, v := range m {
		if was, ok := sent[t]; !ok || !bytes.Equal(was, v) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// logLimit is the log rate limit of one kind of line.
type logLimit struct {
	last       time.Time
	suppressed int
}

// limited logs a warning at most once per logEvery for kind, saying how many were left
// out since the last.
func (b *Bridge) limited(kind, msg string, args ...any) {
	now := time.Now()
	b.mu.Lock()
	l := b.logged[kind]
	if l == nil {
		l = &logLimit{}
		b.logged[kind] = l
	}
	if !l.last.IsZero() && now.Sub(l.last) < logEvery {
		l.suppressed++
		b.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	b.mu.Unlock()
	b.log.Warn(msg, append(args, "suppressed", n)...)
}
