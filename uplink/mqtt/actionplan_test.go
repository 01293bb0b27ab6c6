package mqtt

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// testStation is the monitoring station's side of the MQTT uplink in tests: its age
// identity (to read the plan and photos) and its signing key (for requests).
type testStation struct {
	id   *age.X25519Identity
	sign ed25519.PrivateKey
	sub  *subscriber
	n    int
}

func newTestStation(t *testing.T) *testStation {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testStation{id: id, sign: priv}
}

// configure points cfg at the station's keys.
func (s *testStation) configure(cfg *Config) {
	cfg.StationPublicKey = s.id.Recipient().String()
	cfg.StationSigningKey = hex.EncodeToString(s.sign.Public().(ed25519.PublicKey))
}

// open decrypts what the hub encrypted to the station.
func (s *testStation) open(t *testing.T, sealed []byte) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(sealed), s.id)
	if err != nil {
		t.Fatalf("the station cannot decrypt: %v", err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// request signs body (with the header filled in unless given) as kind with key, sends it
// and returns the hub's reply.
func (s *testStation) request(t *testing.T, key ed25519.PrivateKey, kind string, body map[string]any) StationReply {
	t.Helper()
	s.n++
	if _, ok := body["nonce"]; !ok {
		body["nonce"] = fmt.Sprintf("station-%d-%d", s.n, time.Now().UnixNano())
	}
	if _, ok := body["ts"]; !ok {
		body["ts"] = time.Now().Unix()
	}
	if _, ok := body["hub_id"]; !ok {
		body["hub_id"] = "test"
	}
	req, _ := json.Marshal(body)
	env, _ := json.Marshal(SignStationRequest(key, kind, req))
	return s.send(t, kind, env, body["nonce"].(string))
}

// send publishes a raw envelope and waits for the reply with nonce.
func (s *testStation) send(t *testing.T, kind string, env []byte, nonce string) StationReply {
	t.Helper()
	before := len(s.sub.on("vakt/test/station/" + kind + "/result"))
	if tok := s.sub.client.Publish("vakt/test/station/"+kind, 1, false, env); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish station request: %v", tok.Error())
	}
	var got StationReply
	hubtest.Eventually(t, "the reply to "+kind+" "+nonce, func() bool {
		msgs := s.sub.on("vakt/test/station/" + kind + "/result")
		for _, m := range msgs[min(before, len(msgs)):] {
			var r StationReply
			if err := json.Unmarshal(m.payload, &r); err != nil {
				t.Fatalf("reply %s: %v", m.payload, err)
			}
			if r.Nonce == nonce {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

// plans decrypts every action plan received, in order.
func (s *testStation) plans(t *testing.T) []ActionPlan {
	t.Helper()
	var out []ActionPlan
	for _, m := range s.sub.on("vakt/test/actionplan") {
		var p ActionPlan
		if err := json.Unmarshal(s.open(t, m.payload), &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func planInstallation(t *testing.T) *hub.Installation {
	t.Helper()
	inst := testInstallation()
	for _, c := range []struct{ name, phone, pw string }{{"Anna Svensson", "+46 70 123 45 67", "blå tulpan"}, {"Per Nilsson", "070-765 43 21", "gammal ek"}} {
		ct := hub.Contact{Name: c.name, Phone: c.phone, Role: hub.ContactKeyHolder}
		if err := ct.SetPassword(c.pw); err != nil {
			t.Fatal(err)
		}
		inst.ActionPlan = append(inst.ActionPlan, ct)
	}
	inst.ActionPlan[1].Role = hub.ContactFireNeighbour
	return inst
}

func TestUplink_ActionPlan(t *testing.T) {
	b := startBroker(t)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), planInstallation(t), hub.Options{})
	st := newTestStation(t)
	st.sub = subscribe(t, b, "station", "vakt/test/#", false)
	cfg := testConfig(b, false)
	st.configure(&cfg)
	startUplink(t, cfg, h)

	hubtest.Eventually(t, "the action plan", func() bool { return len(st.sub.on("vakt/test/actionplan")) > 0 })
	m := st.sub.on("vakt/test/actionplan")[0]
	for _, clear := range []string{"Anna", "+46", "argon2", "tulpan"} {
		if bytes.Contains(m.payload, []byte(clear)) {
			t.Fatalf("the plan on the wire shows %q", clear)
		}
	}
	other, _ := age.GenerateX25519Identity()
	if _, err := age.Decrypt(bytes.NewReader(m.payload), other); err == nil {
		t.Fatal("another key decrypted the action plan")
	}
	plain := st.open(t, m.payload)
	if bytes.Contains(plain, []byte("argon2")) || bytes.Contains(plain, []byte("tulpan")) {
		t.Fatalf("the decrypted plan carries a password or hash: %s", plain)
	}
	p := st.plans(t)[0]
	want := []PlanContact{{1, "Anna Svensson", "+46 70 123 45 67", "key_holder"}, {2, "Per Nilsson", "070-765 43 21", "fire_neighbour"}}
	if p.HubID != "test" || fmt.Sprint(p.Contacts) != fmt.Sprint(want) {
		t.Fatalf("plan %+v, want contacts %+v", p, want)
	}

	// A change in the plan (the installer swaps the order) is sent at once.
	res := h.Configure(context.Background(), hub.Input{User: "anna", Code: "1234", How: hub.HowWeb}, "action plan reordered", func(in *hub.Installation) error {
		in.ActionPlan[0], in.ActionPlan[1] = in.ActionPlan[1], in.ActionPlan[0]
		return nil
	})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	hubtest.Eventually(t, "the changed plan", func() bool { return len(st.sub.on("vakt/test/actionplan")) >= 2 })
	if ps := st.plans(t); ps[len(ps)-1].Contacts[0].Name != "Per Nilsson" {
		t.Fatalf("changed plan %+v", ps[len(ps)-1])
	}
	if n := len(st.sub.on("vakt/test/actionplan")); n != 2 {
		t.Fatalf("%d plans sent for one change", n)
	}

	waitStationSubscription(t, st)
	// Now Per is first: his password checks at position 1.
	check := func(pos int, pw string) StationReply {
		return st.request(t, st.sign, KindPlanCheck, map[string]any{"position": pos, "password": pw})
	}
	if r := check(1, "Gammal  Ek"); r.Answer != "yes" || r.Error != "" {
		t.Fatalf("right password: %+v", r)
	}
	if r := check(2, "gammal ek"); r.Answer != "no" {
		t.Fatalf("Per's password for Anna: %+v", r)
	}
	if r := check(3, "gammal ek"); !strings.Contains(r.Error, ErrNoContact.Error()) {
		t.Fatalf("position 3: %+v", r)
	}
	for i := range PlanChecksPerContact - 1 {
		if r := check(2, "fel"); r.Answer != "no" {
			t.Fatalf("wrong password %d: %+v", i, r)
		}
	}
	// Anna has had 5 checks: the sixth is refused, even with her right password; Per is not affected.
	if r := check(2, "blå tulpan"); r.Answer != nil || !strings.Contains(r.Error, ErrTooManyChecks.Error()) {
		t.Fatalf("sixth check in 10 minutes: %+v", r)
	}
	if r := check(1, "gammal ek"); r.Answer != "yes" {
		t.Fatalf("another contact after one's limit: %+v", r)
	}

	// Forged, replayed, stale, for another hub, or signed for another kind: refused.
	_, forger, _ := ed25519.GenerateKey(rand.Reader)
	if r := st.request(t, forger, KindPlanCheck, map[string]any{"position": 1, "password": "gammal ek"}); r.Answer != nil || r.Error != ErrBadSignature.Error() {
		t.Fatalf("forged: %+v", r)
	}
	req, _ := json.Marshal(map[string]any{"hub_id": "test", "ts": time.Now().Unix(), "nonce": "replayed-0001", "position": 1, "password": "gammal ek"})
	env, _ := json.Marshal(SignStationRequest(st.sign, KindPlanCheck, req))
	if r := st.send(t, KindPlanCheck, env, "replayed-0001"); r.Answer != "yes" {
		t.Fatalf("first use: %+v", r)
	}
	if r := st.send(t, KindPlanCheck, env, "replayed-0001"); r.Answer != nil || !strings.Contains(r.Error, ErrReplay.Error()) {
		t.Fatalf("replayed: %+v", r)
	}
	if r := st.request(t, st.sign, KindPlanCheck, map[string]any{"position": 1, "password": "gammal ek", "ts": time.Now().Add(-2 * MaxClockSkew).Unix()}); !strings.Contains(r.Error, ErrStale.Error()) {
		t.Fatalf("expired: %+v", r)
	}
	if r := st.request(t, st.sign, KindPlanCheck, map[string]any{"position": 1, "password": "gammal ek", "hub_id": "other"}); !strings.Contains(r.Error, `for hub "other"`) {
		t.Fatalf("another hub's: %+v", r)
	}
	req, _ = json.Marshal(map[string]any{"hub_id": "test", "ts": time.Now().Unix(), "nonce": "otherkind-01", "position": 1, "password": "gammal ek"})
	env, _ = json.Marshal(SignStationRequest(st.sign, "photo_hold", req))
	if r := st.send(t, KindPlanCheck, env, "otherkind-01"); r.Error != ErrBadSignature.Error() {
		t.Fatalf("signed for another kind: %+v", r)
	}
	if r := st.send(t, KindPlanCheck, []byte("{not json"), ""); !strings.Contains(r.Error, ErrBadCommand.Error()) {
		t.Fatalf("garbage: %+v", r)
	}
	if r := st.request(t, st.sign, "nobody_handles", map[string]any{}); !strings.Contains(r.Error, ErrUnknownRequest.Error()) {
		t.Fatalf("unknown kind: %+v", r)
	}
}

// A restart keeps the count of checks: the limit is in the store.
func TestUplink_PlanCheckLimitSurvivesRestart(t *testing.T) {
	b := startBroker(t)
	path := hubtest.StorePath(t)
	st := newTestStation(t)
	st.sub = subscribe(t, b, "station", "vakt/test/station/#", false)
	cfg := testConfig(b, false)
	st.configure(&cfg)
	check := func() StationReply {
		return st.request(t, st.sign, KindPlanCheck, map[string]any{"position": 1, "password": "fel"})
	}
	h, stopHub := hubtest.StartHub(t, path, planInstallation(t), hub.Options{})
	u, stop := runUplink(t, cfg, h)
	hubtest.Eventually(t, "the uplink to connect", func() bool { return u.Status().Connected })
	waitStationSubscription(t, st)
	for range PlanChecksPerContact {
		if r := check(); r.Answer != "no" {
			t.Fatalf("check: %+v", r)
		}
	}
	stop()
	stopHub()
	h, _ = hubtest.StartHub(t, path, planInstallation(t), hub.Options{})
	u = startUplink(t, cfg, h)
	waitStationSubscription(t, st)
	if r := check(); !strings.Contains(r.Error, ErrTooManyChecks.Error()) {
		t.Fatalf("after a restart: %+v", r)
	}
}

// waitStationSubscription waits until the uplink answers station requests: its
// subscription is made after the connect.
func waitStationSubscription(t *testing.T, st *testStation) {
	t.Helper()
	hubtest.Eventually(t, "the station subscription", func() bool {
		n := len(st.sub.on("vakt/test/station/probe/result"))
		st.sub.client.Publish("vakt/test/station/probe", 1, false, []byte("{}")).WaitTimeout(time.Second)
		time.Sleep(50 * time.Millisecond)
		return len(st.sub.on("vakt/test/station/probe/result")) > n
	})
}

func ed25519GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand.Reader)
}
