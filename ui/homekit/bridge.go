// Package homekit exposes vakt to Apple's Home app as a HomeKit bridge (brutella/hap): a
// Security System per area and an accessory per adopted sensor, plug and lock. The bridge
// follows the hub's committed snapshots and forwards HomeKit's writes to the hub as
// commands; it decides nothing itself.
package homekit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/brutella/hap"
	"github.com/brutella/hap/accessory"
	"github.com/brutella/hap/characteristic"
	haplog "github.com/brutella/hap/log"

	"vakt/devices"
	"vakt/hub"
)

// Errors a HomeKit write can meet before it reaches the hub.
var (
	ErrDisarmNotAllowed = errors.New("homekit: disarming from HomeKit is off (homekit.allow_disarm)")
	// ErrSwitchNotAllowed: a switch between armed modes disarms before it arms again, so it
	// follows homekit.allow_disarm too.
	ErrSwitchNotAllowed = errors.New("homekit: switching armed modes from HomeKit disarms first, and disarming from HomeKit is off (homekit.allow_disarm)")
	// ErrSwitchNow: no switch during an entry delay or an alarm; someone must disarm.
	ErrSwitchNow = errors.New("homekit: no switch of armed modes during an entry delay or an alarm")
	ErrNoUser    = errors.New("homekit: no user to act as (homekit.user, or an admin)")
	// ErrNotServing: the bridge is not running (not started yet, or stopped by an error
	// in the log), so there is nothing to reset now.
	ErrNotServing = errors.New("homekit: the bridge is not running")
)

// Config is the homekit section of config.yaml.
type Config struct {
	// Listen is the address the bridge listens on; empty: any port on every interface.
	Listen string `yaml:"listen"`
	// Name is the bridge's name in the Home app; empty: the installation's name.
	Name string `yaml:"name"`
	// User is the id of the vakt user HomeKit acts as (the history says who); empty: the
	// first admin.
	User string `yaml:"user"`
	// AllowDisarm lets HomeKit disarm, and unlock a lock of an armed area. Off by default:
	// anyone with the phone unlocked could otherwise disarm.
	AllowDisarm bool `yaml:"allow_disarm"`
	// Interfaces are the network interfaces (eth0, wlan0) where the bridge announces
	// itself over mDNS, so that phones on the home network find it and no other network
	// (an uplink's cellular modem) hears of it; empty: every interface. A listen address
	// with a host must then belong to one of them.
	Interfaces []string `yaml:"interfaces"`
}

// Devices is what the bridge needs of the device manager: health (temperatures, plug and
// lock states), told of each change so that the Home app hears of it at once, and the plug
// and lock commands.
type Devices interface {
	Health() map[string]devices.Health
	WatchHealth() (changes <-chan struct{}, stop func())
	Switch(ctx context.Context, by hub.Input, id string, on bool) error
	Lock(ctx context.Context, by hub.Input, id string, locked bool) error
}

// commandTimeout bounds how long a HomeKit write waits for the hub's answer.
const commandTimeout = 10 * time.Second

// Bridge is the HomeKit bridge. New has no side effects; Run serves it.
type Bridge struct {
	cfg Config
	h   *hub.Hub
	dev Devices
	log *slog.Logger

	// resync asks the follower to show the newest snapshot again (after a HomeKit write,
	// which hap stores only once its callback has returned).
	resync chan struct{}
	// resets asks the running bridge to forget every pairing; it answers on the channel.
	resets chan chan error

	// writes orders the follower's updates with HomeKit's writes: hap reads a value
	// unlocked when it notifies, so the two must never touch one characteristic at once.
	// inflight counts the writes accepted but not yet stored, per characteristic; the
	// follower leaves those alone until hap has stored them.
	writes   sync.Mutex
	inflight map[*characteristic.C]int

	mu    sync.Mutex
	addr  string
	setup Setup
	// served is the running bridge's accessories, for tests.
	served *bridged
}

// New returns a bridge over the hub and the device manager (nil: no plugs, locks or
// temperatures).
func New(cfg Config, h *hub.Hub, dev Devices, logger *slog.Logger) *Bridge {
	return &Bridge{cfg: cfg, h: h, dev: dev, log: logger.With("part", "homekit"), resync: make(chan struct{}, 1), resets: make(chan chan error), inflight: map[*characteristic.C]int{}}
}

// Addr returns the address the bridge listens on, empty until it does.
func (b *Bridge) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// Setup returns the setup code and id, empty until Run has loaded them.
func (b *Bridge) Setup() Setup {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.setup
}

// Run serves the bridge until ctx ends. When the installation changes which accessories
// there are, the bridge is rebuilt (controllers see a new configuration number).
func (b *Bridge) Run(ctx context.Context) error {
	haplog.Info.Logger = slog.NewLogLogger(b.log.Handler(), slog.LevelDebug)
	addr, err := b.listenAddr()
	if err != nil {
		return err
	}
	if err := checkInterfaces(b.cfg.Interfaces, addr); err != nil {
		return err
	}
	setup, err := b.loadSetup(addr)
	if err != nil {
		return err
	}
	if user, err := b.user(); err != nil {
		b.log.Warn("HomeKit can arm nobody's way: the installation has no admin; set homekit.user", "error", err)
	} else if !slices.ContainsFunc(b.h.Snapshot().Installation.Users, func(u hub.User) bool { return u.ID == user }) {
		b.log.Warn("HomeKit acts as a user the installation does not have: its commands will be refused", "user", user)
	}
	store := NewStore(b.h.Store())
	sub := b.h.Subscribe()
	defer sub.Close()
	for {
		next, err := b.serve(ctx, sub, store, setup, addr)
		if err != nil || next == nil || ctx.Err() != nil {
			return err
		}
		if next.reset != nil {
			err := store.Reset()
			if err == nil {
				setup, err = b.loadSetup(addr)
			}
			next.reset <- err
			if err != nil {
				return err
			}
			continue
		}
		b.log.Info("HomeKit: accessories changed, restarting the bridge")
	}
}

// loadSetup loads (or makes) the setup code and shows it in the log.
func (b *Bridge) loadSetup(addr string) (Setup, error) {
	setup, err := LoadSetup(b.h.Store())
	if err != nil {
		return Setup{}, err
	}
	b.mu.Lock()
	b.setup = setup
	b.mu.Unlock()
	b.log.Info("HomeKit: add vakt in the Home app with this setup code, or a QR code of the payload", "code", setup.Pretty(), "payload", setup.Payload(), "addr", addr)
	return setup, nil
}

// SetupCode returns the setup code written XXX-XX-XXX and the X-HM:// payload its QR code
// holds; empty until the bridge has started.
func (b *Bridge) SetupCode() (code, payload string) {
	st := b.Setup()
	if st.Code == "" {
		return "", ""
	}
	return st.Pretty(), st.Payload()
}

// Paired returns how many controllers (the family's phones, a home hub) are paired.
func (b *Bridge) Paired() (int, error) {
	keys, err := NewStore(b.h.Store()).KeysWithSuffix(pairingSuffix)
	return len(keys), err
}

// ResetPairings forgets every paired controller and makes a new setup code and bridge
// identity, so that the Home app must add vakt anew; by (an admin, or a granted installer)
// is logged in the history. The bridge restarts with the new code before this returns.
func (b *Bridge) ResetPairings(ctx context.Context, by hub.Input) error {
	if b.Addr() == "" {
		return ErrNotServing
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	if res := b.h.Configure(ctx, by, "HomeKit: every pairing removed, new setup code", func(*hub.Installation) error { return nil }); res.Err != nil {
		return res.Err
	}
	done := make(chan error, 1)
	select {
	case b.resets <- done:
	case <-ctx.Done():
		return fmt.Errorf("homekit reset: %w", ctx.Err())
	}
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("homekit reset: %w", err)
		}
		b.log.Info("HomeKit: every pairing removed", "user", by.User)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("homekit reset: %w", ctx.Err())
	}
}

// rebuild says why serve returned for the bridge to start again.
type rebuild struct {
	// reset, when set, asks Run to forget the pairings first and answer there.
	reset chan error
}

// listenAddr fixes the port up front, so that the bridge keeps it across rebuilds and a
// test knows it.
func (b *Bridge) listenAddr() (string, error) {
	addr := b.cfg.Listen
	if addr == "" {
		addr = ":0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("homekit.listen: %w", err)
	}
	if port == "0" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", fmt.Errorf("homekit.listen: %w", err)
		}
		_, port, _ = net.SplitHostPort(ln.Addr().String())
		ln.Close()
	}
	return net.JoinHostPort(host, port), nil
}

// checkInterfaces checks that every interface mDNS is to announce on exists, and that a
// listen address with a host is on one of them (else the phones that find the bridge could
// not reach it).
func checkInterfaces(names []string, addr string) error {
	if len(names) == 0 {
		return nil
	}
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	onOne := host == "" || ip == nil || ip.IsUnspecified()
	for _, name := range names {
		iface, err := net.InterfaceByName(name)
		if err != nil {
			return fmt.Errorf("homekit.interfaces: %s: %w", name, err)
		}
		addrs, err := iface.Addrs()
		if err != nil {
			return fmt.Errorf("homekit.interfaces: %s: %w", name, err)
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				onOne = true
			}
		}
	}
	if !onOne {
		return fmt.Errorf("homekit.listen: %s is on none of homekit.interfaces %v", host, names)
	}
	return nil
}

// bridged is a running bridge's accessories.
type bridged struct {
	plan    plan
	areas   []*areaAccessory
	devices []*deviceAccessory
}

// serve builds the accessories, shows the current state, serves them until ctx ends, the
// accessories change or the pairings are to be reset (a rebuild), and follows the hub
// meanwhile.
func (b *Bridge) serve(ctx context.Context, sub *hub.Subscription, store hap.Store, setup Setup, addr string) (*rebuild, error) {
	snap := b.h.Snapshot()
	health := b.health()
	p := planFor(snap.Installation, health)
	if len(p.left) > 0 {
		b.log.Warn(fmt.Sprintf("HomeKit: a bridge holds at most %d accessories; these devices are not bridged", MaxAccessories), "devices", p.left)
	}
	br := &bridged{plan: p}
	var as []*accessory.A
	for _, ap := range p.areas {
		aa := newAreaAccessory(ap)
		b.controlArea(ctx, aa)
		br.areas = append(br.areas, aa)
		as = append(as, aa.a.A)
	}
	for _, dp := range p.devices {
		da := newDeviceAccessory(dp)
		b.controlDevice(ctx, da)
		br.devices = append(br.devices, da)
		as = append(as, da.a)
	}
	// The real state goes in before the bridge starts: a new Security System's target
	// would otherwise say Stay.
	b.update(br, snap, health)
	name := or(b.cfg.Name, or(snap.Installation.Name, "vakt"))
	bridge := accessory.NewBridge(accessory.Info{Name: name, Manufacturer: "vakt", Model: "vakt bridge"})
	srv, err := hap.NewServer(store, bridge.A, as...)
	if err != nil {
		return nil, fmt.Errorf("homekit: %w", err)
	}
	srv.Pin, srv.SetupId, srv.Addr, srv.Ifaces = setup.Code, setup.ID, addr, b.cfg.Interfaces
	gate, err := newVerifyGate(srv, b.log)
	if err != nil {
		return nil, err
	}
	// After hap's own notification of a write, which NewServer registered first.
	for _, aa := range br.areas {
		b.stored(aa.a.SecuritySystem.SecuritySystemTargetState.C)
	}
	for _, da := range br.devices {
		if da.outlet != nil {
			b.stored(da.outlet.On.C)
		}
		if da.lock != nil {
			b.stored(da.lock.LockTargetState.C)
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- b.listenAndServe(sctx, srv, gate) }()
	b.mu.Lock()
	b.addr, b.served = addr, br
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.addr, b.served = "", nil
		b.mu.Unlock()
	}()

	var healthChanged <-chan struct{} // nil without a device manager: never ready
	if b.dev != nil {
		changes, stop := b.dev.WatchHealth()
		defer stop()
		healthChanged = changes
	}
	for {
		select {
		case <-ctx.Done():
			cancel()
			<-errc
			return nil, nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, fmt.Errorf("homekit: %w", err)
		case <-sub.C():
			if u := sub.Next(); u.Closed {
				cancel()
				<-errc
				return nil, nil
			}
		case <-healthChanged:
		case <-b.resync:
		case done := <-b.resets:
			cancel()
			<-errc
			return &rebuild{reset: done}, nil
		}
		snap, health = b.h.Snapshot(), b.health()
		if np := planFor(snap.Installation, health); np.key() != p.key() {
			cancel()
			<-errc
			return &rebuild{}, nil
		}
		b.update(br, snap, health)
	}
}

// listenAndServe serves srv, and the verified connections its gate takes over, until ctx
// ends or srv fails.
func (b *Bridge) listenAndServe(ctx context.Context, srv *hap.Server, gate *verifyGate) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gerr := make(chan error, 1)
	go func() { gerr <- gate.Run(ctx) }()
	err := srv.ListenAndServe(ctx)
	cancel()
	return errors.Join(err, <-gerr)
}

// update shows snap and health, leaving alone the characteristics a HomeKit write is
// about to store.
func (b *Bridge) update(br *bridged, snap *hub.Snapshot, health map[string]devices.Health) {
	b.writes.Lock()
	defer b.writes.Unlock()
	busy := func(c *characteristic.C) bool { return b.inflight[c] > 0 }
	for _, aa := range br.areas {
		aa.update(snap, busy)
	}
	for _, da := range br.devices {
		da.update(snap, health, busy)
	}
}

// accepting marks a write to c as on its way; done (on a veto) undoes it.
func (b *Bridge) accepting(c *characteristic.C) (done func()) {
	b.writes.Lock()
	b.inflight[c]++
	b.writes.Unlock()
	return func() {
		b.writes.Lock()
		b.inflight[c]--
		b.writes.Unlock()
		b.poke()
	}
}

// stored ends an accepted write once hap has stored and notified it.
func (b *Bridge) stored(c *characteristic.C) {
	c.OnCValueUpdate(func(_ *characteristic.C, _, _ any, req *http.Request) {
		if req == nil {
			return // our own update
		}
		b.writes.Lock()
		if b.inflight[c] > 0 {
			b.inflight[c]--
		}
		b.writes.Unlock()
		b.poke()
	})
}

func (b *Bridge) health() map[string]devices.Health {
	if b.dev == nil {
		return nil
	}
	return b.dev.Health()
}

// user returns the id of the user HomeKit acts as: the configured one, or the first admin.
func (b *Bridge) user() (string, error) {
	inst := b.h.Snapshot().Installation
	if b.cfg.User != "" {
		return b.cfg.User, nil
	}
	if i := slices.IndexFunc(inst.Users, func(u hub.User) bool { return u.Role == hub.RoleAdmin }); i >= 0 {
		return inst.Users[i].ID, nil
	}
	return "", ErrNoUser
}

// poke asks the follower to show the newest snapshot again, once a write is stored or
// vetoed: what happened meanwhile (a cancelled exit delay) was left for then.
func (b *Bridge) poke() {
	select {
	case b.resync <- struct{}{}:
	default:
	}
}

// controlArea forwards HomeKit's target state writes to the hub. A refused command vetoes
// the write (the controller gets an error and the target is not stored), so the target
// stays at the current state; a failure later (a cancelled exit delay) shows in a snapshot.
func (b *Bridge) controlArea(ctx context.Context, aa *areaAccessory) {
	area := aa.plan.number
	target := aa.a.SecuritySystem.SecuritySystemTargetState
	target.OnSetRemoteValue(func(v int) (err error) {
		done := b.accepting(target.C)
		defer func() {
			if err != nil {
				done()
			}
		}()
		mode, err := modeOf(v)
		if err != nil {
			return err
		}
		user, err := b.user()
		if err != nil {
			return err
		}
		in := hub.Input{Kind: hub.InArm, Area: area, Mode: mode, User: user, How: hub.HowHomeKit}
		if mode == hub.ModeDisarmed {
			if !b.cfg.AllowDisarm {
				b.log.Warn("HomeKit disarm refused: homekit.allow_disarm is off", "area", area)
				return ErrDisarmNotAllowed
			}
			in.Kind = hub.InDisarm
		}
		cctx, cancel := context.WithTimeout(ctx, commandTimeout)
		defer cancel()
		if was := b.areaState(area); in.Kind == hub.InArm && was.Set.Armed() && was.Set != mode {
			return b.switchMode(cctx, in, was)
		}
		if res := b.h.Do(cctx, in); res.Err != nil {
			b.log.Warn("HomeKit command refused", "area", area, "mode", mode.String(), "user", user, "error", res.Err)
			return res.Err
		}
		return nil
	})
}

// switchMode switches an armed area to another armed mode, which the hub does as a
// disarming and a new arming (with its exit delay). A switch to away is refused before
// anything is disarmed when the area is not ready for it; should the new arming still be
// refused, the old mode is armed again, so that a refusal never leaves the house disarmed.
func (b *Bridge) switchMode(ctx context.Context, arm hub.Input, was hub.AreaState) error {
	log := b.log.With("area", arm.Area, "from", was.Set.String(), "to", arm.Mode.String(), "user", arm.User)
	if !b.cfg.AllowDisarm {
		log.Warn("HomeKit mode switch refused: homekit.allow_disarm is off")
		return ErrSwitchNotAllowed
	}
	if was.Mode == hub.ModePending || alarmed(&was) {
		log.Warn("HomeKit mode switch refused during an entry delay or an alarm")
		return ErrSwitchNow
	}
	if arm.Mode == hub.ModeArmedAway {
		var blocking []hub.Reason
		for _, r := range b.h.Snapshot().Ready[arm.Area] {
			if !r.Warn {
				blocking = append(blocking, r)
			}
		}
		if len(blocking) > 0 {
			err := &hub.ArmRefusedError{Area: arm.Area, Reasons: blocking}
			log.Warn("HomeKit mode switch refused", "error", err)
			return err
		}
	}
	disarm := arm
	disarm.Kind = hub.InDisarm
	if res := b.h.Do(ctx, disarm); res.Err != nil {
		log.Warn("HomeKit mode switch refused", "error", res.Err)
		return res.Err
	}
	res := b.h.Do(ctx, arm)
	if res.Err == nil {
		return nil
	}
	back := arm
	back.Mode = was.Set
	if bres := b.h.Do(ctx, back); bres.Err != nil {
		log.Error("HomeKit mode switch refused, and the old mode could not be armed again: the area is DISARMED", "error", res.Err, "rearm_error", bres.Err)
		return res.Err
	}
	log.Warn("HomeKit mode switch refused; the old mode is armed again", "error", res.Err)
	return res.Err
}

// areaState returns the area's state now (zero if there is no such area).
func (b *Bridge) areaState(area int) hub.AreaState {
	for _, a := range b.h.Snapshot().State.Areas {
		if a.Number == area {
			return a
		}
	}
	return hub.AreaState{}
}

// controlDevice forwards plug and lock writes to the device manager, which has the hub
// authorise them.
func (b *Bridge) controlDevice(ctx context.Context, da *deviceAccessory) {
	id := da.plan.id
	by := func() (hub.Input, error) {
		user, err := b.user()
		return hub.Input{User: user, How: hub.HowHomeKit}, err
	}
	if da.outlet != nil {
		da.outlet.On.OnSetRemoteValue(func(on bool) (err error) {
			done := b.accepting(da.outlet.On.C)
			defer func() {
				if err != nil {
					done()
				}
			}()
			in, err := by()
			if err != nil || b.dev == nil {
				return errors.Join(err, errors.New("homekit: no device manager"))
			}
			cctx, cancel := context.WithTimeout(ctx, commandTimeout)
			defer cancel()
			return b.dev.Switch(cctx, in, id, on)
		})
	}
	if da.lock != nil {
		da.lock.LockTargetState.OnSetRemoteValue(func(v int) (err error) {
			done := b.accepting(da.lock.LockTargetState.C)
			defer func() {
				if err != nil {
					done()
				}
			}()
			in, err := by()
			if err != nil || b.dev == nil {
				return errors.Join(err, errors.New("homekit: no device manager"))
			}
			locked := v == 1
			if !locked && !b.cfg.AllowDisarm && b.areaArmed(da.plan.area) {
				b.log.Warn("HomeKit unlock refused while armed: homekit.allow_disarm is off", "device", id)
				return ErrDisarmNotAllowed
			}
			cctx, cancel := context.WithTimeout(ctx, commandTimeout)
			defer cancel()
			return b.dev.Lock(cctx, in, id, locked)
		})
	}
}

// areaArmed reports whether the area (0: any) is set to an armed mode.
func (b *Bridge) areaArmed(area int) bool {
	for _, a := range b.h.Snapshot().State.Areas {
		if (area == 0 || a.Number == area) && a.Set != hub.ModeDisarmed {
			return true
		}
	}
	return false
}
