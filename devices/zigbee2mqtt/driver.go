// Package zigbee2mqtt is vakt's driver for Zigbee devices behind Zigbee2MQTT: door and window
// contacts, motion, smoke and water sensors, sirens, keypads, plugs and locks.
//
// It reads the retained device list <base>/bridge/devices (IEEE address ↔ friendly name, and
// what each model exposes), each device's state topic <base>/<friendly_name> and its
// availability topic, and turns them into Reports addressed by IEEE address, which survives
// renames. Commands go to <base>/<friendly_name>/set in the payloads Zigbee2MQTT's converters
// (zigbee-herdsman-converters) accept. Like every driver it translates and never decides.
//
// Addresses: a device in bridge/devices is reported under its IEEE address, lower case as
// Zigbee2MQTT writes it ("0x00158d000449aa01"). A message from a name not in the list is
// reported under that name (an IEEE address when nobody renamed the device, else its
// friendly name, logged as a warning); until the first list arrives such messages are held,
// for up to 10 s. The list, with renames (bridge/response/device/rename) applied, is kept
// in the driver's Memory: Zigbee2MQTT publishes it only when it starts itself, and the
// embedded broker retains nothing over a restart of vakt. A remembered list resolves names
// at once after a restart, with no hold; the next list from Zigbee2MQTT replaces it.
//
// Payloads: Zigbee2MQTT publishes a device's whole cached state each time, so signals repeat;
// the hub ignores repeated states. A payload that is not a JSON object is counted as
// malformed (sink.Malformed) and changes nothing; a field of the wrong type or out of range
// is counted and left out while the rest of the message is read, so a firmware's odd battery
// value cannot hide a smoke alarm. Unknown fields are ignored.
//
// Order: messages are reported in the order the MQTT client hands them over. With
// Zigbee2MQTT's advanced.last_seen set, a message older than one already read from the same
// device is dropped, which undoes any reordering on the way, and a retained one no newer is
// dropped too (it was read before). The newest last_seen per device is remembered across
// restarts (written at most every saveEvery and at shutdown), so a stale retained state read
// again at start never triggers; the report carries last_seen as its Time, so the hub never
// alarms on an intrusion the device reported before its area was armed. A last_seen more
// than a minute ahead of vakt's clock is logged as a warning (once until the device's time is
// sane again) and the message is ordered by arrival: trusted, it would make every later
// message look older and block the device.
//
// What the hub is told after the broker connection comes back:
//   - nothing about the outage itself; a device silent for longer than its check-in window is
//     made missing by the devices.Manager's supervision, as always;
//   - the retained bridge/devices list is read again: new or changed devices are reported for
//     discovery, unchanged ones are not (a device list is not a check-in; each device's
//     first report after a start is, like the manager's own grace at start);
//   - retained availability is read again: offline reports SignalMissing active (once per
//     change), online after an offline vakt saw clears it;
//   - plugs and locks whose state feature is gettable are asked for it ({"state":""} on
//     <base>/<name>/get); their answers arrive as ordinary state messages;
//   - battery sensors cannot be asked (they sleep): their next message tells the hub;
//   - siren, plug, lock and keypad commands that could not be published while the broker was
//     away are published again (a siren with what is left of its duration).
package zigbee2mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"vakt/devices"
	"vakt/devices/mqttclient"
	"vakt/hub"
)

// Name is the driver name of Zigbee devices in the installation (hub.Device.Driver).
const Name = "zigbee2mqtt"

// Errors.
var (
	// ErrNotSupported means the device cannot do what a command asks.
	ErrNotSupported = errors.New("zigbee2mqtt: not supported by the device")
	// ErrRunning means Run was called a second time.
	ErrRunning = errors.New("zigbee2mqtt: already running")

	errNoClient     = errors.New("no MQTT client")
	errNotConnected = errors.New("not connected to the broker")
)

const (
	// queueSize bounds messages between paho's callbacks and the Run loop; a full queue
	// holds paho back rather than dropping a sensor's message.
	queueSize = 1024
	// holdFor is how long messages of names not yet known are held for the first
	// bridge/devices list (from the first one held), so a contact opening just after a
	// start is not reported under its friendly name; holdMax bounds how many.
	holdFor = 10 * time.Second
	holdMax = 4096
	// keypadRepeat: the same request (action, code, transaction) again within it is a
	// duplicate delivery, not a second request.
	keypadRepeat = 10 * time.Second
	// answerWithin is how long a keypad's request waits for vakt's answer (IAS ACE keypads
	// give up after a few seconds).
	answerWithin = 30 * time.Second
	// sendTimeout bounds waiting for the broker to take a command.
	sendTimeout = 5 * time.Second
	// maxPermitJoin is the longest permit_join Zigbee allows; longer pairing is renewed.
	maxPermitJoin = 254
)

// message is one MQTT message handed from paho's callback to the Run loop, or (connected)
// the news of a new connection.
type message struct {
	topic     string
	payload   []byte
	retained  bool
	connected bool
}

// keypadRequest is a keypad's last arm/disarm request.
type keypadRequest struct {
	mode        string // arm_all_zones, arm_day_zones, arm_night_zones, disarm, …
	code        string
	transaction int
	at          time.Time
}

// sent is a command that did not reach the broker, kept to publish again after reconnect.
type sent struct {
	cmd devices.Command
	at  time.Time
}

// Driver is the Zigbee2MQTT driver.
type Driver struct {
	base   string // "<base_topic>/"
	client *mqttclient.Client
	sink   devices.Sink
	mem    Memory
	log    *slog.Logger
	now    func() time.Time

	in      chan message
	done    chan struct{}
	started atomic.Bool
	wg      sync.WaitGroup

	mu        sync.Mutex
	cat       *catalog
	pending   map[string]keypadRequest // by address: requests awaiting vakt's answer
	failed    map[string]sent          // by address and command kind
	pairUntil time.Time
	pairTimer *time.Timer
	quiet     map[string]bool // devices told once that they cannot chime

	// Owned by the Run loop.
	listed    bool
	holding   bool
	held      []message
	hold      *time.Timer // runs while messages are held
	groups    map[string]bool
	described map[string]string    // by IEEE address: what was last reported for discovery
	offline   map[string]bool      // by address
	seen      map[string]time.Time // by address: newest last_seen
	requests  map[string]keypadRequest
	asked     map[string]bool // devices asked for their state since the last connect
	warned    map[string]bool // attribute-output topics already logged
	unknown   map[string]bool // names not in the device list, already logged
	ahead     map[string]bool // devices whose last_seen is ahead of the clock, logged
	saved     []byte          // the device list as last remembered
	flush     *time.Timer     // runs while a newer last_seen is not yet remembered
}

// New returns a driver reading Zigbee2MQTT's topics through client and reporting to sink,
// remembering the device list and message times in mem (nil: nothing is remembered). It
// subscribes in Run; the client may be connected before or after.
func New(cfg Config, client *mqttclient.Client, sink devices.Sink, mem Memory, logger *slog.Logger) *Driver {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Driver{
		base:      cfg.baseTopic() + "/",
		client:    client,
		sink:      sink,
		mem:       mem,
		log:       logger.With("driver", Name),
		now:       time.Now,
		in:        make(chan message, queueSize),
		done:      make(chan struct{}),
		cat:       &catalog{byIEEE: map[string]*device{}, byName: map[string]*device{}},
		pending:   map[string]keypadRequest{},
		failed:    map[string]sent{},
		quiet:     map[string]bool{},
		holding:   true,
		groups:    map[string]bool{},
		described: map[string]string{},
		offline:   map[string]bool{},
		seen:      map[string]time.Time{},
		requests:  map[string]keypadRequest{},
		asked:     map[string]bool{},
		warned:    map[string]bool{},
		unknown:   map[string]bool{},
		ahead:     map[string]bool{},
	}
}

// Name returns "zigbee2mqtt".
func (d *Driver) Name() string { return Name }

// Run subscribes to <base>/# and reports what devices say until ctx ends. The subscription
// is renewed on every reconnect by the client, which reads retained messages again. What
// the driver remembers is read first and written last.
func (d *Driver) Run(ctx context.Context) (err error) {
	if !d.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	d.load()
	defer func() {
		close(d.done)
		d.mu.Lock()
		if d.pairTimer != nil {
			d.pairTimer.Stop()
		}
		d.mu.Unlock()
		d.wg.Wait()
	}()
	d.client.OnConnect(func() {
		select {
		case d.in <- message{connected: true}:
		case <-d.done:
		}
	})
	topic := d.base + "#"
	if err := d.client.Subscribe(mqttclient.Subscription{Topic: topic, QoS: 1, Handler: d.handle}); err != nil {
		return fmt.Errorf("zigbee2mqtt: subscribe %s: %w", topic, err)
	}
	defer func() {
		if d.hold != nil {
			d.hold.Stop()
		}
		if d.flush != nil {
			err = d.saveSeen()
		}
	}()
	for {
		var hold, flush <-chan time.Time
		if d.hold != nil {
			hold = d.hold.C
		}
		if d.flush != nil {
			flush = d.flush.C
		}
		select {
		case <-ctx.Done():
			return nil
		case m := <-d.in:
			d.process(ctx, m)
		case <-hold:
			d.log.Warn("no bridge/devices from Zigbee2MQTT: devices are reported by friendly name until it comes")
			d.release(ctx)
		case <-flush:
			d.flush = nil
			if err := d.saveSeen(); err != nil {
				d.log.Warn("last_seen times not remembered; trying again", "error", err)
				d.flush = time.NewTimer(saveEvery)
			}
		}
	}
}

// handle is paho's callback: it only hands the message on. Commands vakt publishes come
// back on the same subscription and are dropped here.
func (d *Driver) handle(_ paho.Client, m paho.Message) {
	t := m.Topic()
	if commandTopic(t) {
		return
	}
	select {
	case d.in <- message{topic: t, payload: m.Payload(), retained: m.Retained()}:
	case <-d.done:
	}
}

// commandTopic reports whether a topic is a request to Zigbee2MQTT (…/set, …/set/attr,
// …/get, …/get/attr), not something a device said.
func commandTopic(t string) bool {
	for _, s := range [...]string{"/set", "/get"} {
		i := strings.LastIndex(t, s)
		if i < 0 {
			continue
		}
		if rest := t[i+len(s):]; rest == "" || (rest[0] == '/' && !strings.Contains(rest[1:], "/")) {
			return true
		}
	}
	return false
}

// process handles one message in the Run loop.
func (d *Driver) process(ctx context.Context, m message) {
	if m.connected {
		d.connected(ctx)
		return
	}
	rest, ok := strings.CutPrefix(m.topic, d.base)
	if !ok || rest == "" {
		return
	}
	switch {
	case rest == "bridge/devices":
		d.readCatalog(ctx, m.payload)
	case rest == "bridge/groups":
		if gs, err := parseGroups(m.payload); err != nil {
			d.sink.Malformed(Name, "bridge/groups", err)
		} else {
			d.groups = gs
		}
	case rest == "bridge/state":
		d.bridgeState(m.payload)
	case rest == "bridge/response/permit_join":
		d.permitJoinResponse(m.payload)
	case rest == "bridge/response/device/rename":
		d.renamed(m.payload)
	case strings.HasPrefix(rest, "bridge/"):
		// info, logging, events, other responses: not devices.
	case strings.HasSuffix(rest, "/availability"):
		d.availability(strings.TrimSuffix(rest, "/availability"), m)
	default:
		d.state(rest, m)
	}
}

// connected runs after every (re)connect, once the client has renewed the subscription:
// ask plugs and locks for the state they may have changed to meanwhile, and publish again
// the commands the broker never took.
func (d *Driver) connected(ctx context.Context) {
	clear(d.asked)
	if d.listed {
		d.askState(ctx)
	}
	d.mu.Lock()
	var retry []sent
	for k, s := range d.failed {
		retry = append(retry, s)
		delete(d.failed, k)
	}
	d.mu.Unlock()
	if len(retry) == 0 {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for _, s := range retry {
			c := s.cmd
			switch c.Kind {
			case devices.CmdSiren:
				if c.Pattern != hub.SirenOff && c.Duration > 0 {
					if c.Duration -= d.now().Sub(s.at); c.Duration <= 0 {
						continue // it would have stopped by now
					}
				}
			case devices.CmdKeypadState:
				c.Transaction = 0 // too late to answer a request: show the state
			}
			if err := d.Send(ctx, c); err != nil {
				d.log.Warn("command still not published after reconnect", "device", c.Address, "error", err)
			} else {
				d.log.Info("command published after reconnect", "device", c.Address)
			}
		}
	}()
}

// askState asks every gettable device not yet asked since the last connect for its state.
func (d *Driver) askState(ctx context.Context) {
	var names []string
	for _, dev := range d.cat.byIEEE {
		if dev.Gettable && !d.asked[dev.IEEE] {
			d.asked[dev.IEEE] = true
			names = append(names, dev.Name)
		}
	}
	if len(names) == 0 {
		return
	}
	slices.Sort(names)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for _, n := range names {
			if err := d.publish(ctx, d.base+n+"/get", []byte(`{"state":""}`)); err != nil {
				d.log.Warn("ask for state", "device", n, "error", err)
			}
		}
	}()
}

// readCatalog takes a new bridge/devices list.
func (d *Driver) readCatalog(ctx context.Context, payload []byte) {
	if len(payload) == 0 {
		return
	}
	cat, errs := parseCatalog(payload)
	for _, err := range errs {
		d.sink.Malformed(Name, "bridge/devices", err)
	}
	if cat == nil {
		return
	}
	d.mu.Lock()
	d.cat = cat
	d.mu.Unlock()
	d.listed = true
	d.saveDevices()
	ieees := make([]string, 0, len(cat.byIEEE))
	for ieee := range cat.byIEEE {
		ieees = append(ieees, ieee)
	}
	slices.Sort(ieees)
	for _, ieee := range ieees {
		dev := cat.byIEEE[ieee]
		sig := dev.signature()
		if dev.Model == "" || d.described[ieee] == sig {
			continue // not interviewed yet, or nothing new to say
		}
		d.described[ieee] = sig
		d.sink.Report(devices.Report{Driver: Name, Address: ieee, Model: dev.Model, Vendor: dev.Vendor, Caps: slices.Clone(dev.Caps)})
	}
	for ieee := range d.described {
		if cat.byIEEE[ieee] == nil {
			delete(d.described, ieee) // removed from the network
		}
	}
	d.askState(ctx)
	if d.holding {
		d.release(ctx)
	}
}

// release stops holding messages and processes those held.
func (d *Driver) release(ctx context.Context) {
	d.holding = false
	if d.hold != nil {
		d.hold.Stop()
		d.hold = nil
	}
	held := d.held
	d.held = nil
	for _, m := range held {
		d.process(ctx, m)
	}
}

// resolve finds the address of the device publishing under name: its IEEE address from
// bridge/devices, the name itself when it is an IEEE address (Zigbee2MQTT's default
// friendly name), or else the friendly name. ok is false when the message is not a
// device's, or is held until the device list comes.
func (d *Driver) resolve(name string, m message) (addr string, dev *device, ok bool) {
	if dev = d.cat.byName[name]; dev != nil {
		return dev.IEEE, dev, true
	}
	if isIEEE(name) {
		addr = strings.ToLower(name)
		return addr, d.cat.byIEEE[addr], true
	}
	if d.holding {
		if d.hold == nil {
			d.hold = time.NewTimer(holdFor)
		}
		if len(d.held) < holdMax {
			d.held = append(d.held, m)
		}
		return "", nil, false
	}
	if d.groups[name] {
		return "", nil, false
	}
	if i := strings.LastIndexByte(name, '/'); i > 0 && d.cat.byName[name[:i]] != nil {
		// Zigbee2MQTT's attribute output (<base>/<name>/<attribute>); the JSON state
		// message carries the same.
		if !d.warned[name[:i]] {
			d.warned[name[:i]] = true
			d.log.Info("attribute output ignored; vakt reads the JSON state message (Zigbee2MQTT advanced.output: json or attribute_and_json)", "device", name[:i])
		}
		return "", nil, false
	}
	if !d.unknown[name] && len(d.unknown) < holdMax {
		d.unknown[name] = true
		d.log.Warn("message from a name not in Zigbee2MQTT's device list: reported under that name", "name", name)
	}
	return name, nil, true
}

// renamed applies a rename Zigbee2MQTT confirms on bridge/response/device/rename: from is
// the old friendly name or the IEEE address.
func (d *Driver) renamed(payload []byte) {
	var r struct {
		Data struct {
			From string `json:"from"`
			To   string `json:"to"`
		} `json:"data"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(payload, &r); err != nil {
		d.sink.Malformed(Name, "bridge/response/device/rename", err)
		return
	}
	if r.Status != "ok" || r.Data.To == "" {
		return
	}
	d.mu.Lock()
	dev := d.cat.byName[r.Data.From]
	if dev == nil && isIEEE(r.Data.From) {
		dev = d.cat.byIEEE[strings.ToLower(r.Data.From)]
	}
	if dev != nil {
		delete(d.cat.byName, dev.Name)
		dev.Name = r.Data.To
		d.cat.byName[dev.Name] = dev
	}
	d.mu.Unlock()
	if dev == nil {
		d.log.Warn("rename of a device not in the device list", "name", r.Data.From)
		return
	}
	delete(d.unknown, r.Data.To)
	d.log.Info("device renamed", "device", dev.IEEE, "name", dev.Name)
	d.saveDevices()
}

// state handles a device's state message.
func (d *Driver) state(name string, m message) {
	addr, _, ok := d.resolve(name, m)
	if !ok {
		return
	}
	r, usable, err := parseState(m.payload)
	if err != nil {
		d.sink.Malformed(Name, addr, err)
	}
	if !usable {
		return
	}
	if t := r.LastSeen; !t.IsZero() {
		last := d.seen[addr]
		switch {
		case t.After(d.now().Add(maxSkew)):
			if !d.ahead[addr] {
				d.ahead[addr] = true
				d.log.Warn("last_seen ahead of vakt's clock: message ordered by arrival (check the clocks of Zigbee2MQTT's host and vakt's)", "device", addr, "last_seen", t)
			}
			r.LastSeen = time.Time{}
		case t.Before(last) || (m.retained && !t.After(last)):
			d.sink.Stale(Name, addr, "older than a message already read (last_seen)")
			return
		default:
			delete(d.ahead, addr)
			d.sawAt(addr, t)
		}
	}
	if r.Keypad != nil {
		now := d.now()
		req := keypadRequest{mode: r.KeypadMode, code: r.Keypad.Code + "\x00" + r.Keypad.Tag, transaction: r.Keypad.Transaction, at: now}
		if last, ok := d.requests[addr]; ok && last.mode == req.mode && last.code == req.code &&
			last.transaction == req.transaction && now.Sub(last.at) < keypadRepeat {
			r.Keypad = nil // the same request delivered twice
		} else {
			d.requests[addr] = req
			if r.Keypad.Action != "panic" {
				d.mu.Lock()
				d.pending[addr] = req
				d.mu.Unlock()
			}
		}
	}
	if !m.retained && d.offline[addr] {
		delete(d.offline, addr)
		r.Signals = append(r.Signals, devices.SignalValue{Signal: hub.SignalMissing, Active: false})
	}
	d.sink.Report(r.report(addr))
}

// availability handles <base>/<name>/availability.
func (d *Driver) availability(name string, m message) {
	addr, _, ok := d.resolve(name, m)
	if !ok {
		return
	}
	online, empty, err := parseAvailability(m.payload)
	switch {
	case err != nil:
		d.sink.Malformed(Name, addr, err)
		return
	case empty:
		return
	}
	switch {
	case !online && !d.offline[addr]:
		d.offline[addr] = true
		d.log.Info("Zigbee2MQTT says the device is offline", "device", addr)
		d.sink.Report(devices.Report{Driver: Name, Address: addr, Signals: []devices.SignalValue{{Signal: hub.SignalMissing, Active: true}}})
	case online && (d.offline[addr] || !m.retained):
		// A live "online" is news; a retained one only after an offline vakt saw.
		delete(d.offline, addr)
		d.sink.Report(devices.Report{Driver: Name, Address: addr, Signals: []devices.SignalValue{{Signal: hub.SignalMissing, Active: false}}})
	}
}

// bridgeState logs Zigbee2MQTT itself going away or coming back. While it is away no Zigbee
// device can report; supervision makes them missing if it lasts.
func (d *Driver) bridgeState(payload []byte) {
	online, empty, err := parseAvailability(payload)
	switch {
	case empty:
	case err != nil:
		d.sink.Malformed(Name, "bridge/state", err)
	case online:
		d.log.Info("Zigbee2MQTT is online")
	default:
		d.log.Warn("Zigbee2MQTT is offline: Zigbee devices cannot report until it is back")
	}
}

// Pair lets new devices join for dur through Zigbee2MQTT's permit_join request. The payload
// {"value":true,"time":N} is read by both Zigbee2MQTT 1.x (value, time) and 2.x (time; value
// ignored). Zigbee opens the network for at most 254 s, so a longer pairing is renewed.
// A dur of zero or less closes the network.
func (d *Driver) Pair(ctx context.Context, dur time.Duration) error {
	d.mu.Lock()
	d.pairUntil = d.now().Add(dur)
	if d.pairTimer != nil {
		d.pairTimer.Stop()
		d.pairTimer = nil
	}
	d.mu.Unlock()
	if dur <= 0 {
		return d.publish(ctx, d.base+"bridge/request/permit_join", []byte(`{"value":false,"time":0}`))
	}
	return d.permitJoin(ctx)
}

func (d *Driver) permitJoin(ctx context.Context) error {
	d.mu.Lock()
	left := d.pairUntil.Sub(d.now())
	secs := min(int(math.Ceil(left.Seconds())), maxPermitJoin)
	if left > maxPermitJoin*time.Second {
		// Renew a little before Zigbee2MQTT closes the network; a renewal also retries a
		// request the broker did not take.
		d.pairTimer = time.AfterFunc(time.Duration(secs-4)*time.Second, func() {
			ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
			defer cancel()
			if err := d.permitJoin(ctx); err != nil {
				d.log.Warn("renew permit join", "error", err)
			}
		})
	}
	d.mu.Unlock()
	if left <= 0 {
		return nil
	}
	payload := fmt.Appendf(nil, `{"value":true,"time":%d}`, secs)
	if err := d.publish(ctx, d.base+"bridge/request/permit_join", payload); err != nil {
		return fmt.Errorf("zigbee2mqtt: permit join: %w", err)
	}
	return nil
}

func (d *Driver) permitJoinResponse(payload []byte) {
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal(payload, &r); err != nil {
		d.sink.Malformed(Name, "bridge/response/permit_join", err)
		return
	}
	if r.Status != "ok" {
		d.log.Warn("Zigbee2MQTT refused permit join", "error", r.Error)
	}
}

// publish sends a request to Zigbee2MQTT at QoS 1, never retained, and waits until the
// broker has it. While the connection is down it fails at once rather than leave the
// request in paho's store, which would send it on reconnect however old, and in no
// guaranteed order (a siren's start after its stop); Send keeps the newest command per
// device and kind and publishes it again itself.
func (d *Driver) publish(ctx context.Context, topic string, payload []byte) error {
	if d.client == nil {
		return errNoClient
	}
	if !d.client.IsConnectionOpen() {
		return errNotConnected
	}
	tok := d.client.Client.Publish(topic, 1, false, payload)
	t := time.NewTimer(sendTimeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("no answer from the broker in %s", sendTimeout)
	}
}
