package mqtt

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"vakt/hub"
	"vakt/hub/hubtest"
)

var testCommandKey = bytes.Repeat([]byte{0x5a}, 32)

// testInstallation is the demo installation without exit delays, so that an arm command
// arms at once.
func testInstallation() *hub.Installation {
	inst := hub.DemoInstallation(bytes.Repeat([]byte{7}, 32))
	inst.Settings.NoExitDelay = true
	return inst
}

// startHub runs a hub over a temp store with the test installation until the test ends.
func startHub(t *testing.T) *hub.Hub {
	t.Helper()
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), testInstallation(), hub.Options{})
	return h
}

func testConfig(b *testBroker, withKey bool) Config {
	cfg := Config{URL: b.url(), CA: b.pki.CA, Cert: b.pki.ClientCert, Key: b.pki.ClientKey, HubID: "test"}
	if withKey {
		cfg.CommandKey = hex.EncodeToString(testCommandKey)
		cfg.User = "anna"
	}
	return cfg
}

// startUplink runs an uplink until the test ends (registered after the hub, so it stops
// first) and waits for its first connection.
func startUplink(t *testing.T, cfg Config, h *hub.Hub) *Uplink {
	t.Helper()
	u, _ := runUplink(t, cfg, h)
	hubtest.Eventually(t, "the uplink to connect", func() bool { return u.Status().Connected })
	return u
}

// runUplink runs an uplink until stop is called or the test ends.
func runUplink(t *testing.T, cfg Config, h *hub.Hub) (u *Uplink, stop func()) {
	t.Helper()
	if err := cfg.Validate(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	u, err := New(cfg, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	return u, hubtest.Run(t, "uplink run", u.Run)
}

type message struct {
	topic    string
	payload  []byte
	retained bool
}

// subscriber is a test MQTT client that records what it receives.
type subscriber struct {
	client paho.Client
	mu     sync.Mutex
	msgs   []message
}

// subscribe connects a client with the test client certificate and subscribes to filter.
// A persistent client (clean false) keeps its queue across a broker restart.
func subscribe(t *testing.T, b *testBroker, id, filter string, persistent bool) *subscriber {
	t.Helper()
	s := &subscriber{}
	o := paho.NewClientOptions().AddBroker(b.url()).SetClientID(id).
		SetTLSConfig(b.tlsConfig(true)).SetCleanSession(!persistent).
		SetAutoReconnect(true).SetMaxReconnectInterval(time.Second).SetOrderMatters(true)
	s.client = paho.NewClient(o)
	if tok := s.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	tok := s.client.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		s.mu.Lock()
		s.msgs = append(s.msgs, message{m.Topic(), bytes.Clone(m.Payload()), m.Retained()})
		s.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	t.Cleanup(func() { s.client.Disconnect(100) })
	return s
}

func (s *subscriber) on(topic string) []message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []message
	for _, m := range s.msgs {
		if m.topic == topic {
			out = append(out, m)
		}
	}
	return out
}

// events returns the sequences of the events received, in order of arrival.
func (s *subscriber) events(t *testing.T) []hub.Event {
	t.Helper()
	var out []hub.Event
	for _, m := range s.on("vakt/test/events") {
		var ev hub.Event
		if err := json.Unmarshal(m.payload, &ev); err != nil {
			t.Fatalf("event payload %s: %v", m.payload, err)
		}
		out = append(out, ev)
	}
	return out
}

func (s *subscriber) hasSeq(t *testing.T, seq uint64) bool {
	for _, ev := range s.events(t) {
		if ev.Seq == seq {
			return true
		}
	}
	return false
}

func do(t *testing.T, h *hub.Hub, in hub.Input) []hub.Event {
	t.Helper()
	r := h.Do(context.Background(), in)
	if r.Err != nil {
		t.Fatalf("%+v: %v", in, r.Err)
	}
	return r.Events
}

func TestUplink_AlarmEventArrives(t *testing.T) {
	b := startBroker(t)
	h := startHub(t)
	sub := subscribe(t, b, "station", "vakt/test/#", false)
	u := startUplink(t, testConfig(b, false), h)

	evs := do(t, h, hub.Input{Kind: hub.InReport, Device: "panic_button", Signal: hub.SignalPanic, Active: true})
	var panicSeq uint64
	for _, ev := range evs {
		if ev.Kind == hub.KindPanic {
			panicSeq = ev.Seq
		}
	}
	if panicSeq == 0 {
		t.Fatalf("no panic event in %v", evs)
	}
	hubtest.Eventually(t, "the panic event", func() bool { return sub.hasSeq(t, panicSeq) })
	for _, ev := range sub.events(t) {
		if ev.Seq == panicSeq && (ev.Kind != hub.KindPanic || !ev.Report || ev.Area != 1) {
			t.Errorf("got %+v, want a reported panic in area 1", ev)
		}
		if !ev.Report {
			t.Errorf("history-only event %v published", ev)
		}
	}
	hubtest.Eventually(t, "the cursor to pass the panic", func() bool { return u.Status().Cursor >= panicSeq })
	if st := u.Status(); st.LastPublished != panicSeq || st.QueueDepth != 0 {
		t.Errorf("status %+v, want last published %d and an empty queue", st, panicSeq)
	}
	cur, _, err := h.Store().Cursor("mqtt/test")
	if err != nil {
		t.Fatal(err)
	}
	if cur > panicSeq {
		t.Errorf("saved cursor %d beyond the last event %d", cur, panicSeq)
	}
}

func TestUplink_OutageDeliversInOrder(t *testing.T) {
	b := startBroker(t)
	h := startHub(t)
	sub := subscribe(t, b, "station", "vakt/test/events", true)
	u := startUplink(t, testConfig(b, false), h)

	first := do(t, h, hub.Input{Kind: hub.InPeriodicTest})[0].Seq
	hubtest.Eventually(t, "the first event", func() bool { return sub.hasSeq(t, first) })

	b.stop()
	hubtest.Eventually(t, "the uplink to notice the outage", func() bool { return !u.Status().Connected })
	var want []uint64
	for range 5 {
		want = append(want, do(t, h, hub.Input{Kind: hub.InPeriodicTest})[0].Seq)
	}
	evs := do(t, h, hub.Input{Kind: hub.InReport, Device: "panic_button", Signal: hub.SignalPanic, Active: true})
	for _, ev := range evs {
		if ev.Report {
			want = append(want, ev.Seq)
		}
	}
	if st := u.Status(); st.QueueDepth < uint64(len(want)) {
		t.Errorf("queue depth %d during the outage, want at least %d", st.QueueDepth, len(want))
	}
	b.start()
	last := want[len(want)-1]
	hubtest.Eventually(t, "the queued events after the outage", func() bool { return sub.hasSeq(t, last) })

	// At least once, in order: every event arrives, and the first arrivals are in log
	// order (a repeat of an unacknowledged event is allowed).
	seen := map[uint64]bool{}
	var firsts []uint64
	for _, ev := range sub.events(t) {
		if !seen[ev.Seq] {
			seen[ev.Seq] = true
			firsts = append(firsts, ev.Seq)
		}
	}
	wantAll := append([]uint64{first}, want...)
	if fmt.Sprint(firsts) != fmt.Sprint(wantAll) {
		t.Errorf("events arrived as %v, want %v", firsts, wantAll)
	}
	hubtest.Eventually(t, "the cursor to pass the queue", func() bool { return u.Status().Cursor >= last })
}

func TestBroker_RefusesClientWithoutCertificate(t *testing.T) {
	b := startBroker(t)
	o := paho.NewClientOptions().AddBroker(b.url()).SetClientID("intruder").
		SetTLSConfig(b.tlsConfig(false)).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(30 * time.Second) {
		t.Fatal("connect without a certificate neither failed nor succeeded")
	}
	if tok.Error() == nil {
		c.Disconnect(0)
		t.Fatal("the broker accepted a client without a certificate")
	}
}

// signed returns a command for hub "test", signed with the test key at ts.
func signed(cmd string, area int, mode string, ts time.Time, nonce string) Command {
	c := Command{Cmd: cmd, Area: area, Mode: mode, TS: ts.Unix(), Nonce: nonce}
	c.Sign("test", testCommandKey)
	return c
}

// send publishes a command and waits for its n-th result (results are keyed by nonce).
func send(t *testing.T, res *subscriber, payload []byte, nonce string, n int) CommandResult {
	t.Helper()
	pub := res.client
	if tok := pub.Publish("vakt/test/commands", 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish command: %v", tok.Error())
	}
	var got []CommandResult
	hubtest.Eventually(t, "the result of command "+nonce, func() bool {
		got = nil
		for _, m := range res.on("vakt/test/commands/result") {
			var r CommandResult
			if err := json.Unmarshal(m.payload, &r); err != nil {
				t.Fatalf("result %s: %v", m.payload, err)
			}
			if r.Nonce == nonce {
				got = append(got, r)
			}
		}
		return len(got) >= n
	})
	return got[n-1]
}

func TestUplink_Commands(t *testing.T) {
	b := startBroker(t)
	h := startHub(t)
	res := subscribe(t, b, "owner", "vakt/test/commands/result", false)
	u := startUplink(t, testConfig(b, true), h)
	// The command subscription is made after the connect: wait until it takes commands.
	hubtest.Eventually(t, "the command subscription", func() bool {
		probe := Command{Cmd: CmdAck, Area: 1, TS: time.Now().Unix(), Nonce: fmt.Sprintf("probe%08d", time.Now().UnixNano()%1e8), Sig: "00"}
		payload, _ := json.Marshal(probe)
		res.client.Publish("vakt/test/commands", 1, false, payload).WaitTimeout(time.Second)
		time.Sleep(50 * time.Millisecond)
		return len(res.on("vakt/test/commands/result")) > 0
	})
	area1 := func() hub.AreaState { return h.Snapshot().State.Areas[0] }

	arm := signed(CmdArm, 1, "away", time.Now(), "arm-nonce-0001")
	armPayload, _ := json.Marshal(arm)
	if r := send(t, res, armPayload, arm.Nonce, 1); !r.OK {
		t.Fatalf("signed arm refused: %+v", r)
	}
	if a := area1(); a.Mode != hub.ModeArmedAway {
		t.Fatalf("area 1 is %s after a signed arm, want armed_away", a.Mode)
	}
	hist, err := h.Store().History(0, 20)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range hist {
		if ev.Kind == hub.KindArm && ev.Area == 1 {
			found = true
			if ev.User != "anna" || ev.How != hub.HowRemote {
				t.Errorf("arm event %v, want by anna via remote", ev)
			}
		}
	}
	if !found {
		t.Errorf("no arm event in the history %v", hist)
	}

	wrongSig := signed(CmdDisarm, 1, "", time.Now(), "disarm-nonce-01")
	wrongSig.Sig = hex.EncodeToString(bytes.Repeat([]byte{1}, 32))
	otherKey := signed(CmdDisarm, 1, "", time.Now(), "disarm-nonce-02")
	otherKey.Sign("test", bytes.Repeat([]byte{1}, 32))
	otherHub := signed(CmdDisarm, 1, "", time.Now(), "disarm-nonce-03")
	otherHub.Sign("another_hub", testCommandKey)
	tampered := signed(CmdDisarm, 1, "", time.Now(), "disarm-nonce-04")
	tampered.Area = 2
	for _, tc := range []struct {
		name    string
		payload []byte
		nonce   string
		n       int
		want    error
	}{
		{"replay", armPayload, arm.Nonce, 2, ErrReplay},
		{"wrong signature", mustJSON(wrongSig), wrongSig.Nonce, 1, ErrBadSignature},
		{"other key", mustJSON(otherKey), otherKey.Nonce, 1, ErrBadSignature},
		{"signed for another hub", mustJSON(otherHub), otherHub.Nonce, 1, ErrBadSignature},
		{"field changed after signing", mustJSON(tampered), tampered.Nonce, 1, ErrBadSignature},
		{"stale", mustJSON(signed(CmdDisarm, 1, "", time.Now().Add(-2*time.Minute), "stale-nonce-01")), "stale-nonce-01", 1, ErrStale},
		{"future", mustJSON(signed(CmdDisarm, 1, "", time.Now().Add(2*time.Minute), "future-nonce-1")), "future-nonce-1", 1, ErrStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, res, tc.payload, tc.nonce, tc.n)
			if r.OK || !strings.Contains(r.Error, tc.want.Error()) {
				t.Errorf("result %+v, want refused with %q", r, tc.want)
			}
			if a := area1(); a.Mode != hub.ModeArmedAway {
				t.Errorf("area 1 is %s after a refused command, want still armed_away", a.Mode)
			}
		})
	}
	if st := u.Status(); st.CommandsAccepted != 1 {
		t.Errorf("status %+v, want exactly 1 command accepted", st)
	}

	// The retained status, as a new subscriber reads it, shows the armed mode.
	status := subscribe(t, b, "dashboard", "vakt/test/status", false)
	hubtest.Eventually(t, "the retained status", func() bool { return len(status.on("vakt/test/status")) > 0 })
	m := status.on("vakt/test/status")[0]
	var sm StatusMessage
	if err := json.Unmarshal(m.payload, &sm); err != nil {
		t.Fatalf("status %s: %v", m.payload, err)
	}
	if !m.retained || sm.State != "online" || len(sm.Areas) == 0 || sm.Areas[0].Number != 1 || sm.Areas[0].Mode != hub.ModeArmedAway {
		t.Errorf("retained=%v status %s, want retained, online, area 1 armed_away", m.retained, m.payload)
	}

	// A signed disarm with a fresh nonce works.
	disarm := signed(CmdDisarm, 1, "", time.Now(), "disarm-nonce-99")
	if r := send(t, res, mustJSON(disarm), disarm.Nonce, 1); !r.OK {
		t.Fatalf("signed disarm refused: %+v", r)
	}
	hubtest.Eventually(t, "the status to show area 1 disarmed", func() bool {
		ms := status.on("vakt/test/status")
		var last StatusMessage
		return json.Unmarshal(ms[len(ms)-1].payload, &last) == nil && last.Areas[0].Mode == hub.ModeDisarmed
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestSignedBytes(t *testing.T) {
	c := Command{Cmd: "arm", Area: 1, Mode: "away", TS: 1700000000, Nonce: "abcdef12"}
	if got, want := string(SignedBytes("home", c)), "vakt-cmd-v1|home|arm|1|away|1700000000|abcdef12"; got != want {
		t.Errorf("SignedBytes = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	key := testCommandKey
	seen := nonceGuard{store: startHub(t).Store(), scope: "h"}
	c := Command{Cmd: CmdArm, Area: 1, Mode: "away", TS: now.Unix(), Nonce: "nonce-0001"}
	c.Sign("h", key)
	if err := verify(c, "h", key, now, &seen); err != nil {
		t.Fatalf("valid command: %v", err)
	}
	if err := verify(c, "h", key, now.Add(30*time.Second), &seen); !errors.Is(err, ErrReplay) {
		t.Errorf("replay within the skew: %v, want ErrReplay", err)
	}
	// Housekeeping takes now: after NonceMemory the nonce is forgotten, and the old ts
	// is what refuses the command.
	if err := verify(c, "h", key, now.Add(NonceMemory+time.Second), &seen); !errors.Is(err, ErrStale) {
		t.Errorf("late replay: %v, want ErrStale", err)
	}
	if err := seen.use(c.Nonce, now.Add(NonceMemory)); err != nil {
		t.Errorf("nonce still remembered after %s: %v", NonceMemory, err)
	}
}

func TestConfig_Validate(t *testing.T) {
	env := map[string]string{"KEY": strings.Repeat("ab", 16), "SHORT": "abcd"}
	getenv := func(k string) string { return env[k] }
	base := func() Config { return Config{URL: "ssl://127.0.0.1:8883", HubID: "home-1"} }
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"minimal", func(*Config) {}, ""},
		{"no hub id", func(c *Config) { c.HubID = "" }, "uplink_mqtt.hub_id"},
		{"bad hub id", func(c *Config) { c.HubID = "Home 1" }, "uplink_mqtt.hub_id"},
		{"bad url", func(c *Config) { c.URL = "http://x" }, "uplink_mqtt.url"},
		{"wildcard prefix", func(c *Config) { c.Prefix = "a/#" }, "uplink_mqtt.prefix"},
		{"key without user", func(c *Config) { c.CommandKey = strings.Repeat("ab", 16) }, "uplink_mqtt.user"},
		{"short key", func(c *Config) { c.CommandKey, c.User = "abcd", "anna" }, "uplink_mqtt.command_key"},
		{"not hex", func(c *Config) { c.CommandKey, c.User = "xyz", "anna" }, "uplink_mqtt.command_key"},
		{"key from env", func(c *Config) { c.CommandKeyEnv, c.User = "KEY", "anna" }, ""},
		{"short key from env", func(c *Config) { c.CommandKeyEnv, c.User = "SHORT", "anna" }, "uplink_mqtt.command_key_env"},
		{"unset env", func(c *Config) { c.CommandKeyEnv, c.User = "NONE", "anna" }, "uplink_mqtt.command_key_env"},
		{"both keys", func(c *Config) { c.CommandKey, c.CommandKeyEnv, c.User = strings.Repeat("ab", 16), "KEY", "anna" }, "uplink_mqtt.command_key_env"},
		{"unknown kind", func(c *Config) { c.Kinds = []string{"burglary", "nope"} }, "uplink_mqtt.kinds[1]"},
		{"cert without key", func(c *Config) { c.Cert = "c.pem" }, "uplink_mqtt.cert"},
		{"station keys", func(c *Config) {
			c.StationPublicKey = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
			c.StationSigningKey = strings.Repeat("ab", 32)
		}, ""},
		{"signing key in base64", func(c *Config) { c.StationSigningKey = "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=" }, ""},
		{"bad recipient", func(c *Config) { c.StationPublicKey = "ssh-ed25519 AAAA" }, "uplink_mqtt.station_public_key"},
		{"short signing key", func(c *Config) { c.StationSigningKey = "abcd" }, "uplink_mqtt.station_signing_key"},
		{"signing key not a key", func(c *Config) { c.StationSigningKey = "not a key!" }, "uplink_mqtt.station_signing_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			err := c.Validate(getenv)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want an error starting %q", err, tc.want)
			case tc.want == "" && c.Prefix != DefaultPrefix:
				t.Errorf("prefix %q, want the default %q", c.Prefix, DefaultPrefix)
			}
		})
	}
}

func TestUplink_RestartResumesFromCursor(t *testing.T) {
	b := startBroker(t)
	h := startHub(t)
	sub := subscribe(t, b, "station", "vakt/test/#", false)
	before := do(t, h, hub.Input{Kind: hub.InPeriodicTest})[0].Seq

	u, stop := runUplink(t, testConfig(b, false), h)
	hubtest.Eventually(t, "the uplink to connect", func() bool { return u.Status().Connected })
	if cur := u.Status().Cursor; cur != before {
		t.Errorf("a new uplink's cursor is %d, want the end of the log %d", cur, before)
	}
	first := do(t, h, hub.Input{Kind: hub.InPeriodicTest})[0].Seq
	hubtest.Eventually(t, "the first event", func() bool { return sub.hasSeq(t, first) })
	stop()

	// A clean stop leaves the retained status offline, and the cursor saved.
	hubtest.Eventually(t, "the offline status", func() bool {
		ms := sub.on("vakt/test/status")
		return len(ms) > 0 && string(ms[len(ms)-1].payload) == string(offlinePayload)
	})
	if cur, ok, err := h.Store().Cursor("mqtt/test"); err != nil || !ok || cur != first {
		t.Errorf("saved cursor %d (%v, %v), want %d", cur, ok, err, first)
	}
	var want []uint64
	for range 3 {
		want = append(want, do(t, h, hub.Input{Kind: hub.InPeriodicTest})[0].Seq)
	}

	u, stop = runUplink(t, testConfig(b, false), h)
	defer stop()
	last := want[len(want)-1]
	hubtest.Eventually(t, "the events made while stopped", func() bool { return sub.hasSeq(t, last) })
	var got []uint64
	for _, ev := range sub.events(t) {
		got = append(got, ev.Seq)
	}
	if want := append([]uint64{first}, want...); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v (none from before the first start)", got, want)
	}
	hubtest.Eventually(t, "the online status again", func() bool {
		ms := sub.on("vakt/test/status")
		var sm StatusMessage
		return json.Unmarshal(ms[len(ms)-1].payload, &sm) == nil && sm.State == "online"
	})
	if st := u.Status(); st.Published != 3 {
		t.Errorf("status %+v, want 3 published since the restart", st)
	}
}

func TestUplink_BrokerDownAtStart(t *testing.T) {
	b := startBroker(t)
	h := startHub(t)
	sub := subscribe(t, b, "station", "vakt/test/events", true)
	b.stop()

	u, stop := runUplink(t, testConfig(b, false), h)
	defer stop()
	hubtest.Eventually(t, "a failed connect", func() bool { return u.Status().LastError != "" })
	seq := do(t, h, hub.Input{Kind: hub.InPeriodicTest})[0].Seq
	if st := u.Status(); st.Connected || st.QueueDepth == 0 {
		t.Errorf("status %+v, want not connected with a queue", st)
	}
	b.start()
	hubtest.Eventually(t, "the event once the broker is up", func() bool { return sub.hasSeq(t, seq) })
}
