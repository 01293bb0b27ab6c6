package devices

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"vakt/hub"
)

// Hub is what the Manager needs of the hub.
type Hub interface {
	Submit(ctx context.Context, in hub.Input) error
	Do(ctx context.Context, in hub.Input) hub.Result
	Subscribe() *hub.Subscription
	SubscribeOutputs() *hub.Subscription
	Outputs() hub.Outputs
	Snapshot() *hub.Snapshot
	Configure(ctx context.Context, by hub.Input, note string, change func(*hub.Installation) error) hub.Result
}

type key struct{ driver, address string }

// Manager connects drivers and the hub. See the package comment.
type Manager struct {
	hub     Hub
	log     *slog.Logger
	now     func() time.Time
	checkIn time.Duration

	drivers map[string]Driver
	// outputsSub follows the hub's decided outputs; Run carries them out.
	outputsSub *hub.Subscription
	// startOutputs is what the outputs showed when the manager subscribed: the keypads'
	// state at start is theirs to show.
	startOutputs *hub.Outputs

	mu         sync.Mutex
	started    time.Time
	health     map[key]*Health
	discovered map[key]*Discovered
	unknown    unknownDevices // unadopted addresses already logged, bounded
	limits     map[limitKey]*logLimit
	// watchers hear of health changes a snapshot does not carry; see WatchHealth.
	watchers  map[chan struct{}]struct{}
	malformed map[string]uint64 // payloads no driver could read, by driver, since start
	pairUntil time.Time
	pairArea  int
	index     *hub.Installation
	byAddr    map[key]*hub.Device
	// actions are the devices with keypad or lock actions being carried out, in order;
	// see act. actx ends them when Run returns, which waits for actors.
	actions       map[key]*actionQueue
	actionsClosed bool
	actx          context.Context
	cancelActions context.CancelFunc
	actors        sync.WaitGroup
}

// Options tune a Manager; zero values take defaults.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// CheckIn is the default supervision window.
	CheckIn time.Duration
}

// NewManager returns a manager for the hub; add drivers with AddDriver before Run.
func NewManager(h Hub, opts Options) *Manager {
	m := &Manager{
		hub:        h,
		log:        opts.Logger,
		now:        opts.Now,
		checkIn:    opts.CheckIn,
		drivers:    map[string]Driver{},
		health:     map[key]*Health{},
		discovered: map[key]*Discovered{},
		limits:     map[limitKey]*logLimit{},
		malformed:  map[string]uint64{},
		actions:    map[key]*actionQueue{},
	}
	m.actx, m.cancelActions = context.WithCancel(context.Background())
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.checkIn == 0 {
		m.checkIn = DefaultCheckIn
	}
	m.started = m.now()
	m.heldMissing()
	// Subscribed here, not in Run, so that no output decided between the two is taken for
	// the keypads' state at start.
	m.outputsSub = h.SubscribeOutputs()
	m.startOutputs = m.outputsSub.Next().Outputs
	return m
}

// AddDriver registers a driver under its name.
func (m *Manager) AddDriver(d Driver) {
	m.drivers[d.Name()] = d
	m.mu.Lock()
	m.malformed[d.Name()] += 0 // counted from zero, so its metric exists
	m.mu.Unlock()
}

// device finds the installation's device for a driver address; the caller holds mu.
func (m *Manager) device(k key) *hub.Device {
	inst := m.hub.Snapshot().Installation
	if inst != m.index {
		m.index = inst
		m.byAddr = make(map[key]*hub.Device, len(inst.Devices))
		for i := range inst.Devices {
			d := &inst.Devices[i]
			m.byAddr[key{d.Driver, d.AddressOrID()}] = d
		}
	}
	return m.byAddr[k]
}

// Report takes what a driver saw; see Sink.
func (m *Manager) Report(r Report) {
	at := r.Time // the device's own time, when the driver has one: the hub orders by it
	if r.Time.IsZero() {
		r.Time = m.now()
	}
	k := key{r.Driver, r.Address}
	m.mu.Lock()
	d := m.device(k)
	if d == nil {
		m.discover(k, r)
		m.mu.Unlock()
		return
	}
	h := m.health[k]
	if h == nil {
		h = &Health{}
		m.health[k] = h
	}
	// A driver's own "missing" (Zigbee2MQTT availability offline) is no sign of life.
	alive := !r.Synthetic
	for _, sv := range r.Signals {
		if sv.Signal == hub.SignalMissing && sv.Active {
			alive = false
		}
	}
	wasMissing := false
	if alive {
		h.LastSeen = r.Time
		wasMissing, h.Missing = h.Missing, false
	}
	if r.Battery != nil {
		h.Battery = r.Battery
	}
	if r.LinkQuality != nil {
		h.LinkQuality = r.LinkQuality
	}
	changed := wasMissing
	if r.Temperature != nil {
		changed = changed || h.Temperature == nil || *h.Temperature != *r.Temperature
		h.Temperature = r.Temperature
	}
	if r.Switch != nil {
		changed = changed || h.Switch == nil || *h.Switch != *r.Switch
		h.Switch = r.Switch
	}
	if r.Power != nil {
		h.Power = r.Power
	}
	if r.Lock != "" {
		changed = changed || h.Lock != r.Lock
		h.Lock = r.Lock
	}
	if changed {
		m.healthChanged()
	}
	id, area := d.ID, d.Area
	m.mu.Unlock()

	ctx := context.Background()
	if wasMissing {
		m.submit(ctx, hub.Input{Kind: hub.InReport, Device: id, Signal: hub.SignalMissing, Active: false})
	}
	for _, s := range r.Signals {
		m.submit(ctx, hub.Input{Kind: hub.InReport, Device: id, Signal: s.Signal, Active: s.Active, At: at})
	}
	// Keypad and lock actions wait for the hub's commit; they are carried out by the
	// device's own worker, in the order the device sent them, so this never blocks.
	if r.Keypad != nil {
		a := *r.Keypad
		m.act(k, "keypad "+a.Action, func(ctx context.Context) { m.keypad(ctx, r.Driver, r.Address, id, area, a) })
	}
	if r.LockEvent != nil {
		dev, ev := *d, *r.LockEvent
		m.act(k, "lock "+ev.Action, func(ctx context.Context) { m.lock(ctx, dev, ev) })
	}
}

func (m *Manager) submit(ctx context.Context, in hub.Input) {
	if err := m.hub.Submit(ctx, in); err != nil {
		m.log.Error("submit to hub", "device", in.Device, "error", err)
	}
}

// Run drives outputs from the hub's state and supervises check-ins until ctx ends. When it
// returns, the devices' keypad and lock actions have ended too; later ones are dropped.
func (m *Manager) Run(ctx context.Context) error {
	sub := m.outputsSub
	defer sub.Close()
	defer m.stopActions()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	sirens := map[int]sirenOutput{}
	panels := map[int]hub.KeypadDisplay{}
	for _, a := range m.startOutputs.Areas {
		panels[a.Area] = a.Keypad
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			m.Supervise(ctx, m.now())
		case <-sub.C():
			u := sub.Next()
			if u.Closed {
				return nil
			}
			m.outputs(ctx, u, sirens, panels)
		}
	}
}
