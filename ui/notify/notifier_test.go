package notify

import (
	"context"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

var codeKey = []byte("0123456789abcdef0123456789abcdef")

// ntfyRequest is one publish as the fake ntfy server saw it.
type ntfyRequest struct {
	Method, Path, Title, Priority, Tags, Auth, Body string
}

// ntfyServer is an ntfy server on 127.0.0.1 that records publishes and fails the first
// fail of them with 500.
type ntfyServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []ntfyRequest
	fail int
}

func newNtfyServer(t *testing.T) *ntfyServer {
	s := &ntfyServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		title, err := new(mime.WordDecoder).DecodeHeader(r.Header.Get("Title"))
		if err != nil {
			t.Errorf("title %q: %v", r.Header.Get("Title"), err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fail > 0 {
			s.fail--
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		s.reqs = append(s.reqs, ntfyRequest{r.Method, r.URL.Path, title, r.Header.Get("Priority"), r.Header.Get("Tags"), r.Header.Get("Authorization"), string(body)})
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","event":"message"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *ntfyServer) got() []ntfyRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

func (s *ntfyServer) bodies() []string {
	var out []string
	for _, r := range s.got() {
		out = append(out, r.Body)
	}
	return out
}

func (s *ntfyServer) setFail(n int) {
	s.mu.Lock()
	s.fail = n
	s.mu.Unlock()
}

func demo() *hub.Installation {
	inst := hub.DemoInstallation(codeKey)
	inst.Settings.NoExitDelay = true
	return inst
}

// startNotifier runs a notifier and waits until its cursors exist.
func startNotifier(t *testing.T, cfg Config, h *hub.Hub, clock *hubtest.Clock) (*Notifier, func()) {
	t.Helper()
	return startNotifierIn(t, cfg, h, clock, time.UTC)
}

// startNotifierIn is startNotifier with texts in loc; nil is the installation's zone.
func startNotifierIn(t *testing.T, cfg Config, h *hub.Hub, clock *hubtest.Clock, loc *time.Location) (*Notifier, func()) {
	t.Helper()
	n, err := New(cfg, h, Options{Now: clock.Now, Loc: loc})
	if err != nil {
		t.Fatal(err)
	}
	n.minRetry = 10 * time.Millisecond
	stop := hubtest.Run(t, "notify", n.Run)
	names, err := CursorNames(cfg, h.Store(), h.Snapshot().Installation)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		hubtest.Eventually(t, "cursor "+name, func() bool {
			_, ok, _ := h.Store().Cursor(name)
			return ok
		})
	}
	return n, stop
}

func do(t *testing.T, h *hub.Hub, in hub.Input) {
	t.Helper()
	if r := h.Do(context.Background(), in); r.Err != nil {
		t.Fatalf("%+v: %v", in, r.Err)
	}
}

func ntfyConfig(server string, rcpts ...Recipient) Config {
	cfg := DefaultConfig()
	cfg.Ntfy = NtfyConfig{Server: server, Token: "tk_secret"}
	cfg.Recipients = rcpts
	return cfg
}

func TestNotifier_NtfyArmDisarm(t *testing.T) {
	srv := newNtfyServer(t)
	clock := hubtest.NewClock(hubtest.T0)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), demo(), hub.Options{Now: clock.Now})
	cfg := ntfyConfig(srv.URL, Recipient{User: "erik", Lang: "sv", Events: []string{ClassArming}, Ntfy: "erik-home"})
	n, _ := startNotifier(t, cfg, h, clock)

	do(t, h, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, Code: "1234", How: hub.HowKeypad})
	clock.Add(2 * time.Minute)
	do(t, h, hub.Input{Kind: hub.InDisarm, Area: 1, Code: "1234", How: hub.HowCode})
	hubtest.Eventually(t, "two publishes", func() bool { return len(srv.got()) == 2 })

	got := srv.got()
	want := []ntfyRequest{
		{"POST", "/erik-home", "House: larmade på", "3", "lock", "Bearer tk_secret", "Anna larmade på (borta) på knappsatsen 18:00"},
		{"POST", "/erik-home", "House: larmade av", "3", "unlock", "Bearer tk_secret", "Anna larmade av med kod 18:02"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("publish %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	// Saved at once, not at shutdown: a crash now sends nothing twice.
	last, _ := h.Store().LastSeq()
	hubtest.Eventually(t, "cursor saved", func() bool {
		c, _, _ := h.Store().Cursor("notify/erik/ntfy")
		return c == last
	})
	st := n.Status().Channels[0]
	if st.User != "erik" || st.Channel != ChannelNtfy || st.LastSuccess.IsZero() || st.Fault {
		t.Errorf("status %+v", st)
	}
}

func TestNotifier_AlarmsAlwaysForAdminsDuressNever(t *testing.T) {
	srv := newNtfyServer(t)
	clock := hubtest.NewClock(hubtest.T0)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), demo(), hub.Options{Now: clock.Now})
	cfg := ntfyConfig(srv.URL,
		Recipient{User: "anna", Lang: "en", Ntfy: "anna"},                               // admin, chose nothing
		Recipient{User: "erik", Lang: "en", Events: []string{ClassMains}, Ntfy: "erik"}, // user, no alarms
	)
	startNotifier(t, cfg, h, clock)

	do(t, h, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna", How: hub.HowWeb})
	do(t, h, hub.Input{Kind: hub.InDisarm, Area: 1, Code: "9999", How: hub.HowKeypad}) // duress
	do(t, h, hub.Input{Kind: hub.InReport, Device: "kitchen_smoke", Signal: hub.SignalSmoke, Active: true})
	do(t, h, hub.Input{Kind: hub.InMains, Active: true})
	hubtest.Eventually(t, "fire to anna, mains to erik", func() bool { return len(srv.got()) == 2 })
	time.Sleep(50 * time.Millisecond) // nothing else comes
	got := srv.got()
	if len(got) != 2 {
		t.Fatalf("got %+v", got)
	}
	var fire, mains ntfyRequest
	for _, r := range got {
		if r.Path == "/anna" {
			fire = r
		} else {
			mains = r
		}
		if strings.Contains(strings.ToLower(r.Title+r.Body), "duress") {
			t.Errorf("duress revealed: %+v", r)
		}
	}
	if fire.Title != "FIRE" || fire.Priority != "5" || fire.Tags != "fire" {
		t.Errorf("fire publish %+v", fire)
	}
	if mains.Path != "/erik" || mains.Title != "Mains lost" {
		t.Errorf("mains publish %+v", mains)
	}
}

// TestNotifier_CursorAcrossRestart: events while the notifier and the hub are down are sent
// after the restart, each once, in order; what was sent before is not sent again.
func TestNotifier_CursorAcrossRestart(t *testing.T) {
	srv := newNtfyServer(t)
	clock := hubtest.NewClock(hubtest.T0)
	path := hubtest.StorePath(t)
	h, stopHub := hubtest.StartHub(t, path, demo(), hub.Options{Now: clock.Now})
	cfg := ntfyConfig(srv.URL, Recipient{User: "erik", Lang: "en", Events: []string{ClassArming}, Ntfy: "erik"})
	_, stopN := startNotifier(t, cfg, h, clock)

	cycle := func(h *hub.Hub, user string) {
		do(t, h, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: user, How: hub.HowWeb})
		clock.Add(time.Minute)
		do(t, h, hub.Input{Kind: hub.InDisarm, Area: 1, User: user, How: hub.HowWeb})
		clock.Add(time.Minute)
	}
	cycle(h, "anna")
	hubtest.Eventually(t, "first cycle", func() bool { return len(srv.got()) == 2 })
	stopN()
	cycle(h, "erik") // while the notifier is down
	stopHub()

	h, _ = hubtest.StartHub(t, path, nil, hub.Options{Now: clock.Now})
	cycle(h, "lisa") // before the notifier is back
	startNotifier(t, cfg, h, clock)
	hubtest.Eventually(t, "all three cycles", func() bool { return len(srv.got()) >= 6 })
	time.Sleep(50 * time.Millisecond)
	want := []string{
		"Anna armed (away) from the web at 18:00", "Anna disarmed from the web at 18:01",
		"Erik armed (away) from the web at 18:02", "Erik disarmed from the web at 18:03",
		"Lisa armed (away) from the web at 18:04", "Lisa disarmed from the web at 18:05",
	}
	if got := srv.bodies(); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestNotifier_FailingChannelIsTrouble: a server that keeps failing makes the channel a
// fault in Status, retried in order, while the hub arms and disarms as usual; once the
// server answers, everything arrives and the fault clears.
func TestNotifier_FailingChannelIsTrouble(t *testing.T) {
	srv := newNtfyServer(t)
	srv.setFail(1 << 30)
	clock := hubtest.NewClock(hubtest.T0)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), demo(), hub.Options{Now: clock.Now})
	cfg := ntfyConfig(srv.URL, Recipient{User: "erik", Lang: "en", Events: []string{ClassArming}, Ntfy: "erik"})
	n, _ := startNotifier(t, cfg, h, clock)

	do(t, h, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna", How: hub.HowWeb})
	hubtest.Eventually(t, "fault", func() bool { return n.Status().Channels[0].Fault })
	if tr := n.Status().Troubles(); !slices.Equal(tr, []string{"erik/ntfy"}) {
		t.Errorf("troubles %v", tr)
	}
	do(t, h, hub.Input{Kind: hub.InDisarm, Area: 1, User: "anna", How: hub.HowWeb}) // the hub is not held up
	if m := h.Snapshot().State.Areas[0].Mode; m != hub.ModeDisarmed {
		t.Fatalf("mode %s", m)
	}
	srv.setFail(0)
	hubtest.Eventually(t, "both sent", func() bool { return len(srv.got()) == 2 })
	if got := srv.bodies(); !strings.Contains(got[0], "armed (away)") || !strings.Contains(got[1], "disarmed") {
		t.Errorf("order %q", got)
	}
	hubtest.Eventually(t, "fault cleared", func() bool { return !n.Status().Channels[0].Fault })
}

func TestNotifier_SendTest(t *testing.T) {
	srv := newNtfyServer(t)
	clock := hubtest.NewClock(hubtest.T0)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), demo(), hub.Options{Now: clock.Now})
	cfg := ntfyConfig(srv.URL, Recipient{User: "erik", Lang: "sv", Events: []string{ClassArming}, Ntfy: "erik"})
	n, err := New(cfg, h, Options{Now: clock.Now, Loc: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.SendTest(context.Background(), "erik", ChannelNtfy); err != nil {
		t.Fatal(err)
	}
	if got := srv.got(); len(got) != 1 || got[0].Title != "Testmeddelande från vakt" {
		t.Errorf("got %+v", got)
	}
	if st := n.Status().Channels[0]; !st.LastSuccess.Equal(hubtest.T0) {
		t.Errorf("last success %v", st.LastSuccess)
	}
	if err := n.SendTest(context.Background(), "erik", ChannelSMS); err == nil {
		t.Error("test by a channel erik does not have")
	}
}

// TestNotifier_TroublesFromTheHub: NOT ARMED, a low battery and a missing device, as the
// hub writes them, reach a recipient who chose them, in English.
func TestNotifier_TroublesFromTheHub(t *testing.T) {
	srv := newNtfyServer(t)
	clock := hubtest.NewClock(hubtest.T0)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), hub.DemoInstallation(codeKey), hub.Options{Now: clock.Now})
	cfg := ntfyConfig(srv.URL, Recipient{User: "erik", Lang: "en", Events: []string{ClassNotArmed, ClassBattery, ClassMissing}, Ntfy: "erik"})
	startNotifier(t, cfg, h, clock)

	do(t, h, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna", How: hub.HowWeb}) // exit delay runs
	do(t, h, hub.Input{Kind: hub.InReport, Device: "living_window", Signal: hub.SignalContact, Active: true})
	do(t, h, hub.Input{Kind: hub.InReport, Device: "hall_motion", Signal: hub.SignalBatteryLow, Active: true})
	do(t, h, hub.Input{Kind: hub.InReport, Device: "garage_door", Signal: hub.SignalMissing, Active: true})
	hubtest.Eventually(t, "three notifications", func() bool { return len(srv.got()) == 3 })
	got := srv.got()
	want := [][2]string{
		{"NOT ARMED", "Arming was cancelled: Living room window (House) at 18:00"},
		{"Low battery", "Hall camera (House) at 18:00"},
		{"Device missing", "Garage door (Garage) at 18:00"},
	}
	for i, w := range want {
		if got[i].Title != w[0] || got[i].Body != w[1] {
			t.Errorf("%d: %q / %q, want %q / %q", i, got[i].Title, got[i].Body, w[0], w[1])
		}
	}
}

// TestNotifier_ScheduleFromTheHub: a scheduled arming's warning 5 minutes before and its
// refusal over an open window ("NOT ARMED" with the reason) reach a recipient in Swedish,
// with times in the installation's time zone.
func TestNotifier_ScheduleFromTheHub(t *testing.T) {
	srv := newNtfyServer(t)
	clock := hubtest.NewClock(hubtest.T0) // 19:00 in Stockholm
	inst := hub.DemoInstallation(codeKey)
	inst.Schedules = []hub.Schedule{{Area: 1, Mode: hub.ModeArmedAway, Arm: hub.NewClockTime(19, 30), Days: []hub.Weekday{0, 1, 2, 3, 4, 5, 6}}}
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), inst, hub.Options{Now: clock.Now})
	cfg := ntfyConfig(srv.URL, Recipient{User: "erik", Lang: "sv", Events: []string{ClassNotArmed, ClassSchedule}, Ntfy: "erik"})
	startNotifierIn(t, cfg, h, clock, nil) // the installation's zone

	do(t, h, hub.Input{Kind: hub.InReport, Device: "living_window", Signal: hub.SignalContact, Active: true})
	clock.Add(25 * time.Minute)
	do(t, h, hub.Input{Kind: hub.InTick})
	clock.Add(5 * time.Minute)
	do(t, h, hub.Input{Kind: hub.InTick})
	hubtest.Eventually(t, "two notifications", func() bool { return len(srv.got()) == 2 })
	got := srv.got()
	want := [][2]string{
		{"Larmar på om 5 minuter", "House larmas på (borta) enligt schema 19:30; inte redo: öppen: Living room window"},
		{"EJ LARMAT", "Schemalagd tillkoppling nekades (House): öppen: Living room window 19:30"},
	}
	for i, w := range want {
		if got[i].Title != w[0] || got[i].Body != w[1] {
			t.Errorf("%d: %q / %q, want %q / %q", i, got[i].Title, got[i].Body, w[0], w[1])
		}
	}
}
