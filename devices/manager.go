package devices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"vakt/hub"
)

// DefaultCheckIn is how long a device may stay silent before it is missing (DESIGN §2 item 15).
const DefaultCheckIn = 2 * time.Hour

// Pairing errors.
var (
	ErrNotDiscovered = errors.New("no such discovered device")
	ErrPairing       = errors.New("pairing")
)

// Hub is what the Manager needs of the hub.
type Hub interface {
	Submit(ctx context.Context, in hub.Input) error
	Do(ctx context.Context, in hub.Input) hub.Result
	Subscribe() *hub.Subscription
	Snapshot() *hub.Snapshot
	Configure(ctx context.Context, user, note string, change func(*hub.Installation) error) hub.Result
}

// CheckInner is implemented by drivers that know a model's own check-in interval (rtl_433
// sensors with heartbeats).
type CheckInner interface {
	CheckIn(model string) time.Duration
}

type key struct{ driver, address string }

// Manager connects drivers and the hub. See the package comment.
type Manager struct {
	hub     Hub
	log     *slog.Logger
	now     func() time.Time
	checkIn time.Duration

	drivers map[string]Driver

	mu         sync.Mutex
	started    time.Time
	health     map[key]*Health
	discovered map[key]*Discovered
	unknown    unknownDevices // unadopted addresses already logged, bounded
	limits     map[limitKey]*logLimit
	pairUntil  time.Time
	pairArea   int
	index      *hub.Installation
	byAddr     map[key]*hub.Device
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
	}
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
	return m
}

// heldMissing marks missing the devices the hub still holds missing (from before a
// restart), so that a device's first message restores it (DESIGN §2 item 15).
func (m *Manager) heldMissing() {
	snap := m.hub.Snapshot()
	if snap == nil || snap.Installation == nil {
		return
	}
	missing := map[string]bool{}
	for _, ds := range snap.State.Devices {
		if ds.Missing {
			missing[ds.ID] = true
		}
	}
	for _, d := range snap.Installation.Devices {
		if missing[d.ID] {
			m.health[key{d.Driver, d.AddressOrID()}] = &Health{Missing: true}
		}
	}
}

// AddDriver registers a driver under its name.
func (m *Manager) AddDriver(d Driver) { m.drivers[d.Name()] = d }

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
	if r.Temperature != nil {
		h.Temperature = r.Temperature
	}
	if r.Switch != nil {
		h.Switch = r.Switch
	}
	if r.Power != nil {
		h.Power = r.Power
	}
	if r.Lock != "" {
		h.Lock = r.Lock
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
	if r.Keypad != nil {
		go m.keypad(ctx, r.Driver, r.Address, id, area, *r.Keypad)
	}
	if r.LockEvent != nil {
		go m.lock(ctx, *d, *r.LockEvent)
	}
}

// lock disarms or arms the lock's area when a vakt user operated it with their own lock
// code or tag, and the lock is set up for it (opt-in per lock).
func (m *Manager) lock(ctx context.Context, d hub.Device, ev LockEvent) {
	if ev.User == 0 || (ev.Source != "keypad" && ev.Source != "rfid") {
		return // a key, the thumb turn or the app: nobody vakt knows
	}
	var user string
	for _, u := range m.hub.Snapshot().Installation.Users {
		if u.LockSlot == ev.User {
			user = u.ID
		}
	}
	if user == "" {
		return
	}
	area := max(d.Area, 1)
	var in hub.Input
	switch {
	case ev.Action == "unlock" && d.DisarmOnUnlock:
		in = hub.Input{Kind: hub.InDisarm, Area: area, User: user, How: hub.HowLock, Iface: d.ID}
	case ev.Action == "lock" && d.ArmOnLock:
		in = hub.Input{Kind: hub.InArm, Area: area, Mode: hub.ModeArmedAway, User: user, How: hub.HowLock, Iface: d.ID}
	default:
		return
	}
	if res := m.hub.Do(ctx, in); res.Err != nil && !errors.Is(res.Err, hub.ErrAlreadyDisarmed) && !errors.Is(res.Err, hub.ErrAlreadyArmed) {
		m.log.Warn("lock could not "+ev.Action+" the alarm", "device", d.ID, "user", user, "error", res.Err)
	}
}

func (m *Manager) submit(ctx context.Context, in hub.Input) {
	if err := m.hub.Submit(ctx, in); err != nil {
		m.log.Error("submit to hub", "device", in.Device, "error", err)
	}
}

// discover records an unadopted device: always when its driver says it has joined
// (Zigbee), otherwise only while pairing, so a neighbour's 433 MHz sensor is not offered.
// The caller holds mu.
func (m *Manager) discover(k key, r Report) {
	pairing := r.Time.Before(m.pairUntil)
	dd := m.discovered[k]
	if dd == nil && !pairing && r.Model == "" {
		log, quiet := m.unknown.note(k, r.Time)
		if quiet > 0 {
			m.log.Info("messages from more devices not in the installation", "count", quiet)
		}
		if log {
			m.log.Info("message from a device not in the installation; pair it to adopt it", "driver", k.driver, "device", k.address)
		}
		return
	}
	if dd == nil {
		makeRoom(m.discovered)
		dd = &Discovered{Driver: k.driver, Address: k.address, FirstSeen: r.Time}
		m.discovered[k] = dd
		m.log.Info("device discovered", "driver", k.driver, "device", k.address, "model", r.Model)
	}
	dd.LastSeen = r.Time
	if pairing && dd.Area == 0 {
		dd.Area = m.pairArea
	}
	if r.Model != "" {
		dd.Model, dd.Vendor = r.Model, r.Vendor
	}
	for _, c := range r.Caps {
		if !slices.Contains(dd.Caps, c) {
			dd.Caps = append(dd.Caps, c)
		}
	}
	for _, s := range r.Signals {
		if c := capOf(s.Signal); c != "" && !slices.Contains(dd.Caps, c) {
			dd.Caps = append(dd.Caps, c)
		}
	}
	dd.Suggested, _ = SuggestZone(dd.Caps)
}

func capOf(s hub.Signal) Capability {
	switch s {
	case hub.SignalContact:
		return CapContact
	case hub.SignalMotion:
		return CapMotion
	case hub.SignalSmoke:
		return CapSmoke
	case hub.SignalWater:
		return CapWater
	case hub.SignalPanic:
		return CapPanic
	case hub.SignalTamper:
		return CapTamper
	case hub.SignalBatteryLow:
		return CapBattery
	}
	return ""
}

// MalformedLogEvery is how often at most a device's malformed or dropped messages are
// logged; those in between are counted, and the next line says how many were left out.
const MalformedLogEvery = time.Minute

// logLimit is the log rate limit of one device's malformed or dropped messages.
type logLimit struct {
	last       time.Time
	suppressed int
}

// allow says whether to log now, and how many were left out since the last line.
func (l *logLimit) allow(now time.Time) (bool, int) {
	if !l.last.IsZero() && now.Sub(l.last) < MalformedLogEvery {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return true, n
}

// healthOf returns the health of a driver address, made on first use; the caller holds mu.
func (m *Manager) healthOf(k key) *Health {
	h := m.health[k]
	if h == nil {
		h = &Health{}
		m.health[k] = h
	}
	return h
}

// limit returns the log rate limit of what for a driver address; the caller holds mu.
func (m *Manager) limit(what string, k key) *logLimit {
	lk := limitKey{what, k}
	l := m.limits[lk]
	if l == nil {
		l = &logLimit{}
		m.limits[lk] = l
	}
	return l
}

type limitKey struct {
	what string
	key
}

// Malformed counts a payload a driver could not read and logs why, at most once a minute
// per device. It never changes alarm state.
func (m *Manager) Malformed(driver, address string, err error) {
	k := key{driver, address}
	m.mu.Lock()
	m.healthOf(k).Malformed++
	log, suppressed := m.limit("malformed", k).allow(m.now())
	m.mu.Unlock()
	if log {
		m.log.Warn("malformed payload", "driver", driver, "device", address, "error", err, "suppressed", suppressed)
	}
}

// Stale counts a message a driver dropped as older than one already read (or a duplicate),
// and logs it, at most once a minute per device. It never changes alarm state.
func (m *Manager) Stale(driver, address, why string) {
	k := key{driver, address}
	m.mu.Lock()
	m.healthOf(k).Dropped++
	log, suppressed := m.limit("stale", k).allow(m.now())
	m.mu.Unlock()
	if log {
		m.log.Warn("message dropped", "driver", driver, "device", address, "why", why, "suppressed", suppressed)
	}
}

// keypad turns a keypad request into a hub command and answers the keypad.
func (m *Manager) keypad(ctx context.Context, driver, address, id string, area int, a KeypadAction) {
	if area == 0 {
		area = 1
	}
	in := hub.Input{Area: area, Code: a.Code, Tag: a.Tag, How: hub.HowKeypad, Iface: id, Device: id}
	if a.Tag != "" {
		in.How = hub.HowTag
	}
	switch a.Action {
	case "arm_away":
		in.Kind, in.Mode = hub.InArm, hub.ModeArmedAway
	case "arm_home":
		in.Kind, in.Mode = hub.InArm, hub.ModeArmedHome
	case "arm_night":
		in.Kind, in.Mode = hub.InArm, hub.ModeArmedNight
	case "disarm":
		in.Kind = hub.InDisarm
	case "panic":
		in.Kind, in.Code = hub.InPanic, ""
	default:
		m.Malformed(driver, address, fmt.Errorf("keypad action %q", a.Action))
		return
	}
	res := m.hub.Do(ctx, in)
	state := ""
	var refused *hub.ArmRefusedError
	switch {
	case res.Err == nil:
		state = keypadState(m.hub.Snapshot(), area)
	case errors.As(res.Err, &refused):
		state = "not_ready"
	case errors.Is(res.Err, hub.ErrAlreadyDisarmed):
		state = "already_disarmed"
	default:
		state = "invalid_code"
	}
	if d := m.drivers[driver]; d != nil {
		if err := d.Send(ctx, Command{Kind: CmdKeypadState, Address: address, KeypadState: state, Transaction: a.Transaction}); err != nil {
			m.log.Warn("keypad feedback", "device", id, "error", err)
		}
	}
}

// keypadState is what an area's keypads should show.
func keypadState(s *hub.Snapshot, area int) string {
	for _, a := range s.State.Areas {
		if a.Number != area {
			continue
		}
		switch a.Mode {
		case hub.ModeArming:
			return "exit_delay"
		case hub.ModePending:
			return "entry_delay"
		case hub.ModeTriggered:
			return "in_alarm"
		case hub.ModeArmedAway:
			return "arm_away"
		case hub.ModeArmedHome:
			return "arm_home"
		case hub.ModeArmedNight:
			return "arm_night"
		}
	}
	return "disarm"
}

// Run drives outputs from the hub's state and supervises check-ins until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	sub := m.hub.Subscribe()
	defer sub.Close()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	sirens := map[int]sirenOutput{}
	panels := map[int]string{}
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

// sirenOutput is what an area's sirens were last told to play.
type sirenOutput struct {
	pattern hub.SirenPattern
	until   time.Time
}

// outputs sends siren, keypad and chime commands for what changed. Which siren plays what
// is the hub's decision (hub.State.SirenFor: a fire anywhere sounds every siren); this only
// carries it out.
func (m *Manager) outputs(ctx context.Context, u hub.Update, sirens map[int]sirenOutput, panels map[int]string) {
	s := u.Snapshot
	sirenCmd := func(p hub.SirenPattern, until time.Time) Command {
		c := Command{Kind: CmdSiren, Pattern: p}
		if p != hub.SirenOff && !until.IsZero() {
			c.Duration = until.Sub(s.Time)
		}
		return c
	}
	sirenChanged := map[int]bool{}
	for _, a := range s.State.Areas {
		p, until := s.State.SirenFor(a.Number)
		want := sirenOutput{p, until}
		if p == hub.SirenOff {
			want.until = time.Time{}
		}
		if was, ok := sirens[a.Number]; !ok || was.pattern != want.pattern || !was.until.Equal(want.until) {
			sirens[a.Number] = want
			sirenChanged[a.Number] = true
			if ok || p != hub.SirenOff {
				m.send(ctx, s.Installation, a.Number, "siren", sirenCmd(p, until))
			}
		}
		if st, seen := keypadState(s, a.Number), panels[a.Number]; seen != st {
			panels[a.Number] = st
			if seen == "" {
				continue // the keypads' state at start is theirs to show
			}
			cmd := Command{Kind: CmdKeypadState, KeypadState: st}
			switch st { // keypads count the delay down
			case "exit_delay":
				cmd.Duration = a.ExitUntil.Sub(s.Time)
			case "entry_delay":
				cmd.Duration = a.EntryUntil.Sub(s.Time)
			}
			m.send(ctx, s.Installation, a.Number, "keypad", cmd)
		}
	}
	for _, e := range u.Effects {
		if e.Kind == hub.EffectChime {
			m.send(ctx, s.Installation, e.Area, "keypad", Command{Kind: CmdChime})
		}
	}
	// A new detection while the siren sounds re-asserts it: a Zigbee siren plays for the
	// duration it was given, and a siren that missed the first command hears this one. A
	// new fire re-asserts every siren that sounds fire.
	reasserted := map[int]bool{}
	for _, ev := range u.Events {
		if ev.Restore || !alarmKind(ev.Kind) {
			continue
		}
		for n, out := range sirens {
			if reasserted[n] || sirenChanged[n] || out.pattern == hub.SirenOff {
				continue
			}
			if n == ev.Area || (ev.Kind == hub.KindFire && out.pattern == hub.SirenFire) {
				reasserted[n] = true
				m.send(ctx, s.Installation, n, "siren", sirenCmd(out.pattern, out.until))
			}
		}
	}
}

func alarmKind(k hub.EventKind) bool {
	return k == hub.KindBurglary || k == hub.KindFire || k == hub.KindPanic || k == hub.KindTamper
}

// send gives cmd to every device of kind in area whose driver the manager has.
func (m *Manager) send(ctx context.Context, inst *hub.Installation, area int, kind string, cmd Command) {
	for _, d := range inst.Devices {
		drv := m.drivers[d.Driver]
		if drv == nil || d.Kind != kind || d.Area != area {
			continue
		}
		c := cmd
		c.Address = d.AddressOrID()
		if err := drv.Send(ctx, c); err != nil {
			m.log.Error("device command", "device", d.ID, "error", err)
		}
	}
}

// Switch turns a plug on or off; Lock locks or unlocks a lock. Both go to the device's driver
// as commands; the device's next report shows the result in its health.
func (m *Manager) Switch(ctx context.Context, id string, on bool) error {
	return m.command(ctx, id, "plug", Command{Kind: CmdSwitch, On: on})
}

// Lock locks (true) or unlocks a door lock.
func (m *Manager) Lock(ctx context.Context, id string, locked bool) error {
	return m.command(ctx, id, "lock", Command{Kind: CmdLock, Locked: locked})
}

func (m *Manager) command(ctx context.Context, id, kind string, c Command) error {
	for _, d := range m.hub.Snapshot().Installation.Devices {
		if d.ID != id {
			continue
		}
		if d.Kind != kind {
			return fmt.Errorf("%s is a %s, not a %s", id, or(d.Kind, "sensor"), kind)
		}
		drv := m.drivers[d.Driver]
		if drv == nil {
			return fmt.Errorf("%s: driver %s is not running", id, d.Driver)
		}
		c.Address = d.AddressOrID()
		return drv.Send(ctx, c)
	}
	return fmt.Errorf("%q: %w", id, hub.ErrUnknownDevice)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Supervise marks devices silent past their check-in window as missing. Housekeeping takes
// now as an argument so tests pass any time they like.
func (m *Manager) Supervise(ctx context.Context, now time.Time) {
	inst := m.hub.Snapshot().Installation
	var missing []string
	m.mu.Lock()
	for _, d := range inst.Devices {
		drv := m.drivers[d.Driver]
		if drv == nil {
			continue
		}
		window := d.CheckIn.D()
		if window == 0 {
			if ci, ok := drv.(CheckInner); ok {
				window = ci.CheckIn(d.Model)
			}
		}
		if window == 0 {
			window = m.checkIn
		}
		k := key{d.Driver, d.AddressOrID()}
		h := m.health[k]
		if h == nil {
			h = &Health{}
			m.health[k] = h
		}
		last := h.LastSeen
		if last.IsZero() {
			last = m.started // a device gets a full window after vakt starts
		}
		if !h.Missing && now.Sub(last) > window {
			h.Missing = true
			missing = append(missing, d.ID)
		}
	}
	m.mu.Unlock()
	for _, id := range missing {
		m.log.Warn("device missing: silent past its check-in window", "device", id)
		m.submit(ctx, hub.Input{Kind: hub.InReport, Device: id, Signal: hub.SignalMissing, Active: true})
	}
}

// Health returns a copy of each known device's health, by installation device id.
func (m *Manager) Health() map[string]Health {
	inst := m.hub.Snapshot().Installation
	out := map[string]Health{}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range inst.Devices {
		if h := m.health[key{d.Driver, d.AddressOrID()}]; h != nil {
			out[d.ID] = *h
		}
	}
	return out
}

// Discovered lists devices seen but not adopted, newest first.
func (m *Manager) Discovered() []Discovered {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Discovered
	for k, d := range m.discovered {
		if m.device(k) != nil {
			delete(m.discovered, k) // adopted meanwhile
			continue
		}
		c := *d
		c.Caps = slices.Clone(d.Caps)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	return out
}

// PairingStatus says whether pairing is open, for which area, and until when.
type PairingStatus struct {
	Active bool      `json:"active"`
	Area   int       `json:"area,omitempty"`
	Until  time.Time `json:"until,omitzero"`
	Left   time.Duration
}

// Pairing returns the pairing status at now.
func (m *Manager) Pairing(now time.Time) PairingStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !now.Before(m.pairUntil) {
		return PairingStatus{}
	}
	return PairingStatus{Active: true, Area: m.pairArea, Until: m.pairUntil, Left: m.pairUntil.Sub(now)}
}

// StartPairing opens pairing on every driver (or the named one) for d, for devices to be
// adopted into area.
func (m *Manager) StartPairing(ctx context.Context, driver string, area int, d time.Duration) error {
	if d <= 0 || d > 10*time.Minute {
		return fmt.Errorf("%w: duration %s outside 1s–10m", ErrPairing, d)
	}
	var errs []error
	n := 0
	for name, drv := range m.drivers {
		if driver != "" && name != driver {
			continue
		}
		n++
		if err := drv.Pair(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: no driver %q", ErrPairing, driver)
	}
	m.mu.Lock()
	m.pairUntil, m.pairArea = m.now().Add(d), area
	m.mu.Unlock()
	return errors.Join(errs...)
}

// Adoption is what the installer decides for a discovered device.
type Adoption struct {
	Driver, Address string
	// ID and Name default to the address.
	ID, Name string
	// Area defaults to the area pairing was open for when the device was seen, else the
	// one pairing is open for now, else 1.
	Area int
	// ZoneType defaults to the suggestion; Zone (number) to the next free one. Devices
	// that are not zones (sirens, keypads, plugs, locks) get no zone.
	ZoneType hub.ZoneType
	Zone     int
}

// Adopt adds a discovered device to the installation, with its zone, as user.
func (m *Manager) Adopt(ctx context.Context, user string, a Adoption) error {
	m.mu.Lock()
	dd := m.discovered[key{a.Driver, a.Address}]
	var disc Discovered
	if dd != nil {
		disc = *dd
	}
	m.mu.Unlock()
	if dd == nil {
		return fmt.Errorf("adopt %s %s: %w", a.Driver, a.Address, ErrNotDiscovered)
	}
	if a.ID == "" {
		a.ID = a.Address
	}
	if a.Name == "" {
		a.Name = a.ID
	}
	if a.Area == 0 {
		a.Area = disc.Area // the area pairing was open for when the device was seen
	}
	if a.Area == 0 {
		m.mu.Lock()
		if m.now().Before(m.pairUntil) {
			a.Area = m.pairArea // or is open for now
		}
		m.mu.Unlock()
	}
	a.Area = max(a.Area, 1)
	kind := "sensor"
	switch {
	case slices.Contains(disc.Caps, CapSiren):
		kind = "siren"
	case slices.Contains(disc.Caps, CapKeypad):
		kind = "keypad"
	case slices.Contains(disc.Caps, CapLock):
		kind = "lock"
	case slices.Contains(disc.Caps, CapSwitch):
		kind = "plug"
	}
	zt, isZone := a.ZoneType, a.ZoneType != 0
	if !isZone && kind == "sensor" {
		zt, isZone = SuggestZone(disc.Caps)
	}
	res := m.hub.Configure(ctx, user, fmt.Sprintf("adopt %s (%s %s) as %s", a.ID, a.Driver, disc.Model, kind), func(inst *hub.Installation) error {
		dev := hub.Device{ID: a.ID, Name: a.Name, Driver: a.Driver, Model: disc.Model, Address: a.Address, Kind: kind}
		if kind != "sensor" || !isZone {
			dev.Area = a.Area // a zone's sensor takes the zone's area; one without (a thermometer) is the area's own
		}
		inst.Devices = append(inst.Devices, dev)
		if isZone {
			n := a.Zone
			if n == 0 {
				for _, z := range inst.Zones {
					n = max(n, z.Number)
				}
				n++
			}
			inst.Zones = append(inst.Zones, hub.Zone{Number: n, Name: a.Name, Area: a.Area, Type: zt, Device: a.ID})
		}
		return nil
	})
	if res.Err != nil {
		return res.Err
	}
	m.mu.Lock()
	delete(m.discovered, key{a.Driver, a.Address})
	m.mu.Unlock()
	return nil
}

// Remove takes a device and its zone out of the installation, as user.
func (m *Manager) Remove(ctx context.Context, user, id string) error {
	return m.hub.Configure(ctx, user, "remove "+id, func(inst *hub.Installation) error {
		i := slices.IndexFunc(inst.Devices, func(d hub.Device) bool { return d.ID == id })
		if i < 0 {
			return fmt.Errorf("remove %q: %w", id, hub.ErrUnknownDevice)
		}
		inst.Devices = slices.Delete(inst.Devices, i, i+1)
		inst.Zones = slices.DeleteFunc(inst.Zones, func(z hub.Zone) bool { return z.Device == id })
		return nil
	}).Err
}
