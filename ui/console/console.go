// Package console is the demo's terminal: a person types the same verbs the scenario scripts
// use ("arm away 1234", "open front_door", "smoke kitchen_smoke") and sees every event,
// siren and countdown as it happens.
package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skip2/go-qrcode"

	"vakt/devices"
	"vakt/devices/sim"
	"vakt/hub"
	"vakt/uplink"
	"vakt/uplink/station"
)

// Console reads commands and prints what the hub does.
type Console struct {
	hub     *hub.Hub
	mgr     *devices.Manager
	sim     *sim.Sim
	wired   *sim.Wired       // the simulated box, nil without one
	uplink  *uplink.Uplink   // nil without a station
	station *station.Station // the demo's station, nil without one
	broker  Broker
	homekit HomeKit // nil without a bridge
	in      io.Reader
	out     io.Writer
	mu      sync.Mutex // serialises writes to out
	now     func() time.Time
	// printed is the sequence of the last event printed.
	printed atomic.Uint64
}

// Broker is the sensor bus as the installer needs it: the embedded broker's URL and vakt's
// account on it (also in File), or an external broker's URL.
type Broker struct {
	URL, Username, Password string
	// File is where the credentials are written for the installer.
	File string
	// External says the broker is not vakt's: its accounts are in the config.
	External bool
}

// Parts are what the console drives; Wired, Uplink and Station may be nil.
type Parts struct {
	Hub     *hub.Hub
	Manager *devices.Manager
	Sim     *sim.Sim
	Wired   *sim.Wired
	Uplink  *uplink.Uplink
	Station *station.Station
	// Broker is shown by the broker command, for the admin at the console only: the
	// password never goes to the log.
	Broker Broker
	// HomeKit is the HomeKit bridge the homekit command shows; nil without one.
	HomeKit HomeKit
}

// HomeKit is the HomeKit bridge as the console shows it (ui/homekit's Bridge).
type HomeKit interface {
	SetupCode() (code, payload string)
	Paired() (int, error)
}

// New returns a console over the parts, reading commands from in and printing to out.
func New(p Parts, in io.Reader, out io.Writer) *Console {
	return &Console{hub: p.Hub, mgr: p.Manager, sim: p.Sim, wired: p.Wired, uplink: p.Uplink, station: p.Station, broker: p.Broker, homekit: p.HomeKit, in: in, out: out, now: time.Now}
}

func (c *Console) printf(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, format, a...)
}

// Run prints events and countdowns, and reads commands until the input ends or ctx does.
// The end of the input does not stop the demo: the hub keeps running until ctx ends.
func (c *Console) Run(ctx context.Context) error {
	// Subscribe before reading any command, so that no event goes unprinted.
	sub := c.hub.Subscribe()
	defer sub.Close()
	c.printed.Store(sub.Next().Snapshot.State.NextSeq - 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.watch(ctx, sub)
	}()
	c.printf("%s\n\n", intro(c.hub.Snapshot()))
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(c.in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case line, ok := <-lines:
			if !ok {
				lines = nil // keep running without input, as a service would
				continue
			}
			if quit := c.command(ctx, strings.TrimSpace(line)); quit {
				c.flush()
				return errQuit
			}
		}
	}
}

// errQuit ends the demo when the person types quit.
var errQuit = fmt.Errorf("quit")

// IsQuit reports whether Run ended because the person typed quit.
func IsQuit(err error) bool { return err == errQuit }

func (c *Console) command(ctx context.Context, line string) (quit bool) {
	if line == "" || strings.HasPrefix(line, "#") {
		return false
	}
	switch f := strings.Fields(line); f[0] {
	case "quit", "exit":
		return true
	case "help", "?":
		c.printf("%s\n%s\n  status    history [N]    broker    homekit    wait DURATION    help    quit\n", hub.ScriptHelp, pairingHelp)
		return false
	case "battery":
		n := -1
		if len(f) == 2 {
			n, _ = strconv.Atoi(f[1])
		}
		if c.wired == nil {
			c.printf("  ✗ no simulated box\n")
		} else if err := c.wired.Battery(n); err != nil {
			c.printf("  ✗ %v (battery PERCENT)\n", err)
		} else {
			c.printf("  🔋 backup battery at %d %% (the gauge is read every second)\n", n)
		}
		return false
	case "unplug", "plug":
		if c.station == nil || len(f) != 2 {
			c.printf("  ✗ %s primary|backup (the demo's station paths)\n", f[0])
			return false
		}
		var err error
		if f[0] == "unplug" {
			err = c.station.Unplug(f[1])
		} else {
			err = c.station.Plug(f[1])
		}
		if err != nil {
			c.printf("  ✗ %v\n", err)
		} else {
			c.printf("  🔌 station %s path %sged\n", f[1], f[0])
		}
		return false
	case "station":
		c.printf("%s", uplinkStatus(c.uplink, c.now()))
		return false
	case "broker":
		c.printf("%s", c.broker)
		return false
	case "homekit":
		c.printf("%s", homekitText(c.homekit))
		return false
	case "wait":
		// Lets a pasted walk-through wait for a delay; countdowns print meanwhile.
		d, err := time.ParseDuration(strings.Join(f[1:], ""))
		if len(f) != 2 || err != nil || d <= 0 || d > time.Hour {
			c.printf("  ✗ wait DURATION (e.g. wait 61s, at most 1h)\n")
			return false
		}
		c.printf("  ⏳ waiting %s\n", d)
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		return false
	case "pair", "new", "discovered", "adopt", "remove", "devices", "silent", "switch", "lock", "unlock":
		if err := c.devicesCommand(ctx, f); err != nil {
			c.printf("  ✗ %v\n", err)
		}
		return false
	case "status":
		c.printf("%s\n", status(c.hub.Snapshot(), c.now()))
		return false
	case "history":
		n := 20
		if len(f) > 1 {
			if v, err := strconv.Atoi(f[1]); err == nil && v > 0 {
				n = v
			}
		}
		evs, err := c.hub.Store().History(0, n)
		if err != nil {
			c.printf("  ✗ %v\n", err)
			return false
		}
		for i := len(evs) - 1; i >= 0; i-- {
			c.printf("  %s\n", evs[i])
		}
		return false
	}
	in, err := hub.ParseLine(c.hub.Snapshot().Installation, line)
	if err != nil {
		c.printf("  ✗ %v\n", err)
		return false
	}
	if in.Kind == hub.InReport && in.Device != hub.HubDevice {
		if err := c.trigger(in); err != nil {
			c.printf("  ✗ %v\n", err)
		}
		return false
	}
	if c.wired != nil {
		// The simulated box: its pins and gauge go through the real gpio driver.
		switch {
		case in.Kind == hub.InReport && in.Signal == hub.SignalTamper:
			c.wired.Lid(in.Active)
			return false
		case in.Kind == hub.InMains:
			c.wired.Mains(!in.Active)
			return false
		}
	}
	if in.Kind == hub.InReport || in.Kind == hub.InMains || in.Kind == hub.InHubBattery {
		// The gateway's own inputs.
		if err := c.hub.Submit(ctx, in); err != nil {
			c.printf("  ✗ %v\n", err)
		}
		return false
	}
	res := c.hub.Do(ctx, in)
	if res.Err != nil {
		c.printf("  ✗ %v\n", res.Err)
		return false
	}
	if in.Kind == hub.InManualTest && c.uplink != nil {
		for _, ev := range res.Events {
			if ev.Kind == hub.KindManualTest {
				go c.awaitTest(ctx, ev.Seq)
			}
		}
	}
	return false
}

// awaitTest says whether and when the station acknowledged a transmission test.
func (c *Console) awaitTest(ctx context.Context, seq uint64) {
	c.printf("  ⏳ transmission test #%d sent; waiting for the station …\n", seq)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	res, err := c.uplink.AwaitTest(ctx, seq)
	if err != nil {
		c.printf("  ✗ transmission test #%d: %v\n", seq, err)
		return
	}
	for _, r := range res.Receivers {
		switch {
		case r.Acked && r.At.IsZero():
			c.printf("  ✓ transmission test #%d acknowledged by %s\n", seq, r.Receiver)
		case r.Acked:
			c.printf("  ✓ transmission test #%d acknowledged by %s over %s at %s (round trip %s)\n", seq, r.Receiver, r.Path, r.At.Format("15:04:05"), r.RTT.Round(time.Microsecond))
		default:
			c.printf("  ✗ transmission test #%d not acknowledged by %s: %s\n", seq, r.Receiver, r.Error)
		}
	}
	if !res.OK() {
		c.printf("  ✗ transmission test #%d failed: not every receiver acknowledged\n", seq)
	}
}

func uplinkStatus(u *uplink.Uplink, now time.Time) string {
	if u == nil {
		return "  no monitoring station configured\n"
	}
	var b strings.Builder
	ago := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return now.Sub(t).Round(time.Second).String() + " ago"
	}
	for _, r := range u.Status() {
		fmt.Fprintf(&b, "  station %s (%s, account %s): %d delivered, %d waiting, cursor #%d\n", r.Name, r.Format, r.Account, r.Delivered, r.QueueDepth, r.Cursor)
		for _, p := range r.Paths {
			state := "ok"
			switch {
			case p.Fault:
				state = "FAULT"
			case !p.OK:
				state = "not answering"
			}
			fmt.Fprintf(&b, "    %-7s %s %s: %s; last ack %s, last poll %s", p.Name, p.Network, p.Addr, state, ago(p.LastAck), ago(p.LastPoll))
			if p.LastError != "" {
				fmt.Fprintf(&b, "; last error %s", p.LastError)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// trigger makes a simulated device report.
func (c *Console) trigger(in hub.Input) error {
	for _, d := range c.hub.Snapshot().Installation.Devices {
		if d.ID != in.Device {
			continue
		}
		if d.Driver == "gpio" && c.wired != nil && d.ID == "back_door" && in.Signal == hub.SignalContact {
			c.wired.Door(in.Active)
			return nil
		}
		if d.Driver != sim.Name {
			return fmt.Errorf("%s is a %s device, not simulated", d.ID, d.Driver)
		}
		c.sim.Trigger(d.AddressOrID(), in.Signal, in.Active)
		return nil
	}
	return fmt.Errorf("%q: %w", in.Device, hub.ErrUnknownDevice)
}

// flush waits a moment for the events committed so far to be printed.
func (c *Console) flush() {
	want := c.hub.Snapshot().State.NextSeq - 1
	for i := 0; i < 100 && c.printed.Load() < want; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// watch prints each event as it is committed, and counts exit and entry delays down.
func (c *Console) watch(ctx context.Context, sub *hub.Subscription) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	shown := map[int]int{}
	pairShown := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.C():
			u := sub.Next()
			if u.Closed {
				return
			}
			evs, _ := u.CommittedEvents(c.hub.Store())
			for _, ev := range evs {
				c.printf("%s %s\n", marker(ev), ev)
				c.printed.Store(ev.Seq)
			}
		case <-tick.C:
			snap := c.hub.Snapshot()
			now := c.now()
			if p := c.mgr.Pairing(now); p.Active {
				left := int(p.Left.Round(time.Second) / time.Second)
				if left != pairShown && (left%10 == 0 || left <= 5) {
					pairShown = left
					c.printf("  📡 pairing open for area %d, %d s left\n", p.Area, left)
				}
			} else if pairShown != 0 {
				pairShown = 0
				c.printf("  📡 pairing closed\n")
			}
			for _, a := range snap.State.Areas {
				until, what := a.ExitUntil, "exit delay: leave now"
				if a.Mode == hub.ModePending {
					until, what = a.EntryUntil, "entry delay: disarm now"
				}
				if until.IsZero() {
					delete(shown, a.Number)
					continue
				}
				left := int(until.Sub(now).Round(time.Second) / time.Second)
				if left <= 0 || left == shown[a.Number] || (left > 5 && left%10 != 0) {
					continue
				}
				shown[a.Number] = left
				c.printf("  ⏱  area %d %s, %d s left\n", a.Number, what, left)
			}
		}
	}
}

func marker(ev hub.Event) string {
	switch ev.Kind {
	case hub.KindBurglary, hub.KindFire, hub.KindPanic, hub.KindTamper, hub.KindWater, hub.KindTechnical:
		if !ev.Restore {
			return "🚨"
		}
	case hub.KindArm, hub.KindStayArm:
		return "🔒"
	case hub.KindDisarm:
		return "🔓"
	}
	return "• "
}

func intro(s *hub.Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "vakt demo: %s. Type help for commands. Try:\n", s.Installation.Name)
	b.WriteString("  arm away 1234      (Anna's code; the exit delay counts down)\n")
	b.WriteString("  open front_door    (entry delay: 30 s to disarm)\n")
	b.WriteString("  disarm 1234\n")
	b.WriteString("  smoke kitchen_smoke   (smoke alarms even when disarmed)\n")
	b.WriteString("Type broker for the MQTT credentials, to point Zigbee2MQTT or rtl_433 at vakt.\n")
	b.WriteString("Users: anna 1234 (admin, duress 9999, tag 04A1B2C3), erik 5678, lisa 2468 (limited), ivan 7777 (installer, after 'grant installer 1234').\n")
	b.WriteString("Devices: ")
	for i, d := range s.Installation.Devices {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.ID)
	}
	b.WriteString("\n\n")
	b.WriteString(status(s, s.Time))
	return b.String()
}

func status(s *hub.Snapshot, now time.Time) string {
	var b strings.Builder
	zoneName := map[int]string{}
	for _, z := range s.Installation.Zones {
		zoneName[z.Number] = z.Name
	}
	for i, a := range s.State.Areas {
		name := s.Installation.Areas[i].Name
		siren, until := s.State.SirenFor(a.Number)
		fmt.Fprintf(&b, "  area %d %-8s %s, siren %s", a.Number, name, a.Mode, siren)
		if siren != hub.SirenOff && !until.IsZero() {
			fmt.Fprintf(&b, " (%s left)", until.Sub(now).Round(time.Second))
		}
		switch {
		case !a.ExitUntil.IsZero():
			fmt.Fprintf(&b, ", exit delay %s left", a.ExitUntil.Sub(now).Round(time.Second))
		case !a.EntryUntil.IsZero():
			fmt.Fprintf(&b, ", entry delay %s left", a.EntryUntil.Sub(now).Round(time.Second))
		}
		switch {
		case a.NotArmed != "" && a.NotArmedHow == hub.HowSchedule:
			fmt.Fprintf(&b, ", NOT ARMED: the scheduled arming was refused: %s", a.NotArmed)
		case a.NotArmed != "":
			fmt.Fprintf(&b, ", NOT ARMED: %s tripped during the exit delay", a.NotArmed)
		}
		if !a.ServiceUntil.IsZero() {
			fmt.Fprintf(&b, ", service mode %s left", a.ServiceUntil.Sub(now).Round(time.Second))
		}
		if n := len(a.Memory) + len(a.FireMemory); n > 0 {
			fmt.Fprintf(&b, ", %d alarms in memory (ack CODE)", n)
		}
		if len(a.Bypassed) > 0 {
			names := make([]string, len(a.Bypassed))
			for j, z := range a.Bypassed {
				names[j] = zoneName[z]
			}
			fmt.Fprintf(&b, ", bypassed: %s", strings.Join(names, ", "))
		}
		var block, warn []hub.Reason
		for _, r := range s.Ready[a.Number] {
			if r.Warn {
				warn = append(warn, r)
			} else {
				block = append(block, r)
			}
		}
		if a.Set == hub.ModeDisarmed && len(block) > 0 {
			fmt.Fprintf(&b, ", not ready: %s", hub.JoinReasons(block))
		}
		if len(warn) > 0 {
			fmt.Fprintf(&b, ", arms with: %s", hub.JoinReasons(warn))
		}
		b.WriteString("\n")
	}
	if at := s.State.ScheduleAt; !at.IsZero() {
		fmt.Fprintf(&b, "  next schedule: %s\n", at.In(s.Installation.Location()).Format("Mon 15:04 MST"))
	}
	var open []string
	for i, z := range s.State.Zones {
		if z.Active {
			open = append(open, s.Installation.Zones[i].Name)
		}
	}
	if len(open) > 0 {
		fmt.Fprintf(&b, "  active: %s\n", strings.Join(open, ", "))
	}
	var lowBattery, missing, tamper []string
	for i, d := range s.State.Devices {
		n := s.Installation.Devices[i].Name
		if n == "" {
			n = d.ID
		}
		if d.BatteryLow {
			lowBattery = append(lowBattery, n)
		}
		if d.Missing {
			missing = append(missing, n)
		}
		if d.Tamper {
			tamper = append(tamper, n)
		}
	}
	for _, l := range []struct {
		what  string
		names []string
	}{{"low battery", lowBattery}, {"missing", missing}, {"tamper", tamper}} {
		if len(l.names) > 0 {
			fmt.Fprintf(&b, "  %s: %s\n", l.what, strings.Join(l.names, ", "))
		}
	}
	if s.State.Mains.Lost {
		fmt.Fprintf(&b, "  mains lost since %s, on backup battery\n", s.State.Mains.Since.Format("15:04:05"))
	}
	return strings.TrimRight(b.String(), "\n")
}

// String shows the broker as the broker command prints it.
// homekitText is how to add vakt to the Home app: the setup code, the QR code's payload
// and the QR code itself in text, which a phone's camera reads off the terminal.
func homekitText(hk HomeKit) string {
	if hk == nil {
		return "  ✗ HomeKit is off (add a homekit section to config.yaml)\n"
	}
	code, payload := hk.SetupCode()
	if code == "" {
		return "  ⏳ the HomeKit bridge is starting; try again in a moment\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  🏠 HomeKit setup code %s (Home app: Add Accessory, scan or type it)\n     payload %s\n", code, payload)
	if n, err := hk.Paired(); err != nil {
		fmt.Fprintf(&b, "     ✗ paired controllers: %v\n", err)
	} else {
		fmt.Fprintf(&b, "     paired controllers: %d\n", n)
	}
	if q, err := qrcode.New(payload, qrcode.Medium); err == nil {
		b.WriteString(q.ToSmallString(false))
	}
	return b.String()
}

func (b Broker) String() string {
	switch {
	case b.URL == "":
		return "  ✗ no sensor bus\n"
	case b.External:
		return fmt.Sprintf("  📡 external MQTT broker %s (its accounts are in the config's mqtt section)\n", b.URL)
	}
	return fmt.Sprintf("  📡 MQTT broker %s\n     username %s\n     password %s\n     (also in %s, readable by vakt's user only)\n", b.URL, b.Username, b.Password, b.File)
}
