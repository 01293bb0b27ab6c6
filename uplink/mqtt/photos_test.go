package mqtt

import (
	"bytes"
	"encoding/json"
	"fmt"

	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"vakt/hub"
	"vakt/hub/hubtest"
	"vakt/uplink/photos"
	"vakt/uplink/photos/phototest"
)

// photoRig is a hub with the MQTT uplink and alarm photos, and a station on the broker.
type photoRig struct {
	h       *hub.Hub
	u       *Uplink
	p       *photos.Photos
	st      *testStation
	dataDir string
	stop    func()
}

// startPhotos runs the uplink and photos over h with cams until stop or the test's end.
func startPhotos(t *testing.T, b *testBroker, h *hub.Hub, st *testStation, dataDir string, pcfg photos.Config) *photoRig {
	t.Helper()
	cfg := testConfig(b, true)
	st.configure(&cfg)
	if err := cfg.Validate(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if err := pcfg.Validate(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	u, err := New(cfg, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := photos.New(pcfg, h, dataDir, cfg.Recipient(), u, photos.Options{Reference: u.Topic("photos")})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.HandleStation("photo_hold", p.Hold); err != nil {
		t.Fatal(err)
	}
	if err := u.HandleStation("photo_release", p.Release); err != nil {
		t.Fatal(err)
	}
	stopU := hubtest.Run(t, "uplink run", u.Run)
	stopP := hubtest.Run(t, "photos run", p.Run)
	return &photoRig{h: h, u: u, p: p, st: st, dataDir: dataDir, stop: func() { stopP(); stopU() }}
}

// received joins the chunks the station got into sealed photos, by photo ID.
func (s *testStation) photos(t *testing.T, alarm uint64) map[string][]byte {
	t.Helper()
	chunks := map[string]map[int][]byte{}
	total := map[string]int{}
	for _, m := range s.sub.on(fmt.Sprintf("vakt/test/photos/%d", alarm)) {
		var msg photos.Message
		if err := json.Unmarshal(m.payload, &msg); err != nil {
			t.Fatalf("photo message: %v", err)
		}
		if msg.Alarm != alarm {
			t.Fatalf("photo of alarm %d on alarm %d's topic", msg.Alarm, alarm)
		}
		if chunks[msg.ID] == nil {
			chunks[msg.ID] = map[int][]byte{}
		}
		chunks[msg.ID][msg.Chunk] = msg.Data // at least once: a repeat is the same chunk
		total[msg.ID] = msg.Chunks
	}
	out := map[string][]byte{}
	for id, cs := range chunks {
		if len(cs) != total[id] {
			continue
		}
		var b []byte
		for i := range total[id] {
			b = append(b, cs[i]...)
		}
		out[id] = b
	}
	return out
}

func photoNotes(t *testing.T, h *hub.Hub) []string {
	t.Helper()
	evs, err := h.Store().History(0, 200)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.Kind == hub.KindPhotos {
			out = append(out, ev.Note)
		}
	}
	return out
}

func hasNote(notes []string, part string) bool {
	return slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, part) })
}

// burglary arms area 1 away and opens a window: a burglary alarm, returned.
func burglary(t *testing.T, h *hub.Hub) hub.Event {
	t.Helper()
	do(t, h, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna", How: hub.HowRemote})
	for _, ev := range do(t, h, hub.Input{Kind: hub.InReport, Device: "living_window", Signal: hub.SignalContact, Active: true}) {
		if ev.Kind == hub.KindBurglary && !ev.Restore {
			return ev
		}
	}
	t.Fatal("no burglary alarm")
	return hub.Event{}
}

// TestPhotos_BurglaryReachesOnlyTheStation: a burglary alarm photographs the area's
// cameras 5 times; the photos reach the station over the broker, sealed so that only its
// key opens them; nothing in the data directory is readable; the history says they were
// taken and sent; a camera that hangs is logged and changes nothing else; the station holds
// and releases them with signed requests.
func TestPhotos_BurglaryReachesOnlyTheStation(t *testing.T) {
	b := startBroker(t)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), testInstallation(), hub.Options{})
	st := newTestStation(t)
	st.sub = subscribe(t, b, "station", "vakt/test/#", false)
	pic := phototest.JPEG(150 << 10) // three chunks
	hall := phototest.New(t, "digest", pic)
	stuck := phototest.New(t, "basic", phototest.JPEG(100))
	stuck.Hang.Store(true)
	garage := phototest.New(t, "", phototest.JPEG(100))
	pcfg := photos.Config{Burglar: photos.Burst{Count: 5, Interval: hub.Duration(20 * time.Millisecond)}, Cameras: []photos.Camera{
		{Name: "hall", URL: hall.SnapshotURL(), Username: hall.User, Password: hall.Pass, Areas: []int{1}},
		{Name: "porch", URL: stuck.SnapshotURL(), Username: stuck.User, Password: stuck.Pass, Auth: "basic", Areas: []int{1}, Timeout: hub.Duration(30 * time.Millisecond)},
		{Name: "garage", URL: garage.SnapshotURL(), Areas: []int{2}},
	}}
	dataDir := t.TempDir()
	r := startPhotos(t, b, h, st, dataDir, pcfg)
	hubtest.Eventually(t, "the uplink to connect", func() bool { return r.u.Status().Connected })
	waitStationSubscription(t, st)

	ev := burglary(t, h)
	if a := h.Snapshot().State.Areas[0]; a.Mode != hub.ModeTriggered {
		t.Fatalf("area 1 is %s after the window opened", a.Mode)
	}
	if got, want := r.p.Verification(ev), fmt.Sprintf("vakt/test/photos/%d", ev.Seq); got != want {
		t.Fatalf("verification reference %q, want %q", got, want)
	}
	hubtest.Eventually(t, "5 photos at the station", func() bool { return len(st.photos(t, ev.Seq)) == 5 })
	other, _ := age.GenerateX25519Identity()
	for id, sealed := range st.photos(t, ev.Seq) {
		if !strings.HasPrefix(id, fmt.Sprintf("%d-hall-", ev.Seq)) {
			t.Fatalf("photo %s: not the hall camera's", id)
		}
		if !bytes.Equal(st.open(t, sealed), pic) {
			t.Fatalf("photo %s is not the camera's picture", id)
		}
		if _, err := age.Decrypt(bytes.NewReader(sealed), other); err == nil {
			t.Fatalf("another key opened photo %s", id)
		}
		if bytes.Contains(sealed, pic[4:40]) {
			t.Fatalf("photo %s travels in the clear", id)
		}
	}
	if garage.Served.Load() != 0 {
		t.Fatal("the garage camera photographed the house's alarm")
	}
	hubtest.Eventually(t, "the history", func() bool {
		notes := photoNotes(t, h)
		return hasNote(notes, fmt.Sprintf("5 photos taken by camera hall for alarm #%d", ev.Seq)) &&
			hasNote(notes, fmt.Sprintf("0 photos taken by camera porch for alarm #%d, 5 failed", ev.Seq)) &&
			hasNote(notes, fmt.Sprintf("5 photos of alarm #%d sent to the station", ev.Seq))
	})
	sentLines := 0
	for _, n := range photoNotes(t, h) {
		if strings.Contains(n, "sent to the station") {
			sentLines++
		}
	}
	if sentLines != 1 {
		t.Fatalf("%d history lines say photos were sent, want one: %q", sentLines, photoNotes(t, h))
	}
	phototest.AssertNothingReadable(t, dataDir, pic)
	if s := h.Snapshot().State.Areas[0]; s.Mode != hub.ModeTriggered || len(s.Memory) == 0 {
		t.Fatalf("the failing camera changed the alarm: %+v", s)
	}

	// The station holds the photos for an investigation, then releases them.
	hold := st.request(t, st.sign, "photo_hold", map[string]any{"alarm": ev.Seq})
	ans, _ := json.Marshal(hold.Answer)
	if hold.Error != "" || !strings.Contains(string(ans), `"photos":5`) || !strings.Contains(string(ans), `"until"`) {
		t.Fatalf("hold: %+v", hold)
	}
	list, _ := r.p.Archive().List()
	for _, p := range list {
		if p.HoldUntil.Sub(p.Taken) < 29*24*time.Hour {
			t.Fatalf("photo %s held until %s", p.ID, p.HoldUntil)
		}
	}
	if rep := st.request(t, st.sign, "photo_hold", map[string]any{"alarm": 99999}); !strings.Contains(rep.Error, "no photos kept") {
		t.Fatalf("hold of an unknown alarm: %+v", rep)
	}
	_, forger, _ := ed25519GenerateKey()
	if rep := st.request(t, forger, "photo_release", map[string]any{"alarm": ev.Seq}); rep.Error != ErrBadSignature.Error() {
		t.Fatalf("forged release: %+v", rep)
	}
	if rep := st.request(t, st.sign, "photo_release", map[string]any{"alarm": ev.Seq}); rep.Error != "" {
		t.Fatalf("release: %+v", rep)
	}
	list, _ = r.p.Archive().List()
	if len(list) != 5 || !list[0].HoldUntil.IsZero() {
		t.Fatalf("after the release: %+v", list)
	}
}

// TestPhotos_FireWhileItLasts: a fire alarm photographs every fire_interval while it
// lasts, and stops once the smoke is gone and the siren silenced.
func TestPhotos_FireWhileItLasts(t *testing.T) {
	b := startBroker(t)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), testInstallation(), hub.Options{})
	st := newTestStation(t)
	st.sub = subscribe(t, b, "station", "vakt/test/#", false)
	kitchen := phototest.New(t, "digest-sha256", phototest.JPEG(2000))
	pcfg := photos.Config{FireInterval: hub.Duration(30 * time.Millisecond), FireMax: hub.Duration(time.Hour),
		Cameras: []photos.Camera{{Name: "kitchen", URL: kitchen.SnapshotURL(), Username: kitchen.User, Password: kitchen.Pass, Auth: "digest", Areas: []int{1}}}}
	startPhotos(t, b, h, st, t.TempDir(), pcfg)
	var fire hub.Event
	for _, ev := range do(t, h, hub.Input{Kind: hub.InReport, Device: "kitchen_smoke", Signal: hub.SignalSmoke, Active: true}) {
		if ev.Kind == hub.KindFire && !ev.Restore {
			fire = ev
		}
	}
	if fire.Seq == 0 {
		t.Fatal("no fire alarm")
	}
	hubtest.Eventually(t, "4 fire photos", func() bool { return kitchen.Served.Load() >= 4 })
	if hasNote(photoNotes(t, h), "taken by camera kitchen") {
		t.Fatal("the fire series ended while the fire lasts")
	}
	do(t, h, hub.Input{Kind: hub.InReport, Device: "kitchen_smoke", Signal: hub.SignalSmoke, Active: false})
	do(t, h, hub.Input{Kind: hub.InDisarm, Area: 1, User: "anna", How: hub.HowRemote})
	hubtest.Eventually(t, "the end of the fire series", func() bool {
		return hasNote(photoNotes(t, h), fmt.Sprintf("photos taken by camera kitchen for alarm #%d", fire.Seq))
	})
	n := kitchen.Served.Load()
	hubtest.Eventually(t, "every fire photo at the station", func() bool { return int64(len(st.photos(t, fire.Seq))) == n })
}

// TestPhotos_QueueSurvivesRestart: photos taken while the station's broker is down are
// queued sealed on disk, and delivered after a restart of vakt once the broker is back.
func TestPhotos_QueueSurvivesRestart(t *testing.T) {
	b := startBroker(t)
	path, dataDir := hubtest.StorePath(t), t.TempDir()
	st := newTestStation(t)
	cam := phototest.New(t, "basic", phototest.JPEG(3000))
	pcfg := photos.Config{Burglar: photos.Burst{Count: 3, Interval: hub.Duration(10 * time.Millisecond)},
		Cameras: []photos.Camera{{Name: "hall", URL: cam.SnapshotURL(), Username: cam.User, Password: cam.Pass, Areas: []int{1}}}}
	b.stop()
	h, stopHub := hubtest.StartHub(t, path, testInstallation(), hub.Options{})
	r := startPhotos(t, b, h, st, dataDir, pcfg)
	ev := burglary(t, h)
	hubtest.Eventually(t, "3 photos queued", func() bool { p, _ := r.p.Archive().Pending(); return len(p) == 3 })
	r.stop()
	stopHub()
	phototest.AssertNothingReadable(t, dataDir, cam.Picture())

	b.start()
	st.sub = subscribe(t, b, "station", "vakt/test/#", false)
	h, _ = hubtest.StartHub(t, path, testInstallation(), hub.Options{})
	r = startPhotos(t, b, h, st, dataDir, pcfg)
	hubtest.Eventually(t, "the queued photos at the station", func() bool { return len(st.photos(t, ev.Seq)) == 3 })
	for id, sealed := range st.photos(t, ev.Seq) {
		if !bytes.Equal(st.open(t, sealed), cam.Picture()) {
			t.Fatalf("photo %s", id)
		}
	}
	hubtest.Eventually(t, "the queue empty", func() bool { p, _ := r.p.Archive().Pending(); return len(p) == 0 })
}
