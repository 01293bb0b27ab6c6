// Command genstore writes the stores of earlier releases that hub's schema tests open, into
// hub/testdata:
//
//	go run ./hub/internal/genstore -o hub/testdata
//
// Each is a real bbolt file with the demo family's installation, a short evening of
// history, uplink cursors, secrets and, where that release had them, web sessions, API
// tokens, signed-command nonces and driver data (a web CA, a HomeKit pairing). They are
// written by today's hub and then put into the older layout with bbolt directly, which is
// exactly what the older releases differ in:
//
//   - store-v1-first.db: schema 1 as the first releases wrote it: no schema key; user
//     events (arm, disarm, tests, access …) carry the user's number in "zone"; no sessions,
//     nonces or drivers buckets yet.
//   - store-v1-last.db: schema 1 as the last release before schema versions wrote it: the
//     present layout without the schema key.
//
// Files that exist are kept as they are, since they stand for releases already out; -force
// writes them again. Add a variant here for each release whose layout is about to become old.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"vakt/hub"
)

func main() {
	out := flag.String("o", "hub/testdata", "the `directory` to write the stores to")
	force := flag.Bool("force", false, "write stores that exist again")
	flag.Parse()
	for _, v := range []struct {
		name  string
		first bool
	}{{"store-v1-first.db", true}, {"store-v1-last.db", false}} {
		path := filepath.Join(*out, v.name)
		if _, err := os.Stat(path); err == nil && !*force {
			fmt.Println("kept", path)
			continue
		}
		if err := write(path, v.first); err != nil {
			fmt.Fprintln(os.Stderr, "genstore:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", path)
	}
}

// start is a Tuesday evening, so the limited user's window is open.
var start = time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)

// codeKey is the installation's key for code hashes; fixed so that the codes in the stores
// are the demo's (anna 1234, erik 5678).
var codeKey = []byte("0123456789abcdef0123456789abcdef")

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// evening is what happens in the stores' history: an arming, an entry and disarming, a
// home arming, a transmission test, installer access, a bypass, a burglary and its
// acknowledgement.
var evening = []string{
	"arm away 1234", "+61s", "open front_door", "+5s", "disarm 1234", "close front_door",
	"+1h", "arm home 5678", "+61s", "disarm 5678", "test 1234", "grant installer 4h 1234",
	"bypass 5 1234", "arm away 1234", "+61s", "open living_window", "+10s", "disarm 1234",
	"close living_window", "ack 1234",
}

func write(path string, first bool) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s, err := hub.OpenStore(path, 0)
	if err != nil {
		return err
	}
	c := &clock{t: start}
	h, err := hub.New(s, hub.DemoInstallation(codeKey), hub.Options{Now: c.now})
	if err != nil {
		s.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	err = play(ctx, h, c)
	if err == nil {
		err = extras(s, c.now(), first)
	}
	cancel()
	if rerr := <-done; err == nil {
		err = rerr
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := makeOld(path, first); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func play(ctx context.Context, h *hub.Hub, c *clock) error {
	for _, line := range evening {
		if d, err := time.ParseDuration(line); err == nil {
			c.add(d)
			continue
		}
		in, err := hub.ParseLine(h.Snapshot().Installation, line)
		if err != nil {
			return fmt.Errorf("%s: %w", line, err)
		}
		if r := h.Do(ctx, in); r.Err != nil {
			return fmt.Errorf("%s: %w", line, r.Err)
		}
	}
	return nil
}

// extras stores what the hub's loop does not: cursors, and in the last release sessions,
// nonces and driver data.
func extras(s *hub.Store, now time.Time, first bool) error {
	if err := s.SetCursor("dc09/primary", 3); err != nil {
		return err
	}
	if err := s.SetCursor("mqtt/home", 5); err != nil {
		return err
	}
	if first {
		return nil
	}
	if err := s.SaveSession("web-session-token-of-anna", hub.Session{Kind: hub.SessionWeb, User: "anna", CSRF: "csrf-of-anna",
		Created: now, Expires: now.Add(30 * 24 * time.Hour), Address: "192.168.1.20", Agent: "Mozilla/5.0 (iPhone)"}); err != nil {
		return err
	}
	if err := s.SaveSession("api-token-of-erik", hub.Session{Kind: hub.SessionAPI, User: "erik", Created: now, Name: "home assistant"}); err != nil {
		return err
	}
	if err := s.UseNonce("mqtt/home", "disarm-0001", now, 10*time.Minute, 16); err != nil {
		return err
	}
	for _, kv := range []struct{ driver, key, v string }{
		{"web", "ca_cert", "not a real certificate: the bytes a CA's DER would be"},
		{"web", "ca_key", "not a real key"},
		{"homekit", "setup_code", "123-45-678"},
		{"homekit", "hap/uuid", "AA:BB:CC:DD:EE:FF"},
		{"homekit", "hap/pairings", `{"controller-1":"public key of the family's iPhone"}`},
		{"zigbee2mqtt", "devices", `[{"ieee_address":"0x00158d0001a2b3c4","friendly_name":"front_door"}]`},
	} {
		if err := s.SaveDriverData(kv.driver, kv.key, []byte(kv.v)); err != nil {
			return err
		}
	}
	return nil
}

// legacyUserKinds are the kinds the first releases wrote with the user's number in zone.
var legacyUserKinds = map[hub.EventKind]bool{
	hub.KindArm: true, hub.KindStayArm: true, hub.KindDisarm: true, hub.KindArmRefused: true, hub.KindForceArm: true,
	hub.KindExitDelay: true, hub.KindDuress: true, hub.KindSilence: true, hub.KindCancel: true, hub.KindAcknowledge: true,
	hub.KindInstallerAccess: true, hub.KindServiceMode: true, hub.KindWalkTest: true, hub.KindManualTest: true,
}

// makeOld puts the store into the older layout: no schema key, fixed secrets (so that the
// files say the same after every run), and for the first releases the old encoding of user
// events and none of the buckets added later.
func makeOld(path string, first bool) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte("meta"))
		if err := meta.Delete([]byte("schema")); err != nil {
			return err
		}
		if err := meta.Put([]byte("secret/mqtt_password"), []byte("fixed-secret")); err != nil {
			return err
		}
		if !first {
			return nil
		}
		for _, b := range []string{"sessions", "nonces", "drivers"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
				return err
			}
		}
		events := tx.Bucket([]byte("events"))
		type kv struct{ k, v []byte }
		var old []kv
		err := events.ForEach(func(k, v []byte) error {
			var ev hub.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return err
			}
			if !legacyUserKinds[ev.Kind] || ev.UserNumber == 0 || ev.Zone != 0 || ev.Device != "" {
				return nil
			}
			ev.Zone, ev.UserNumber = ev.UserNumber, 0
			nv, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			old = append(old, kv{append([]byte(nil), k...), nv})
			return nil
		})
		if err != nil {
			return err
		}
		if len(old) == 0 {
			return errors.New("no user events to write in the old encoding")
		}
		for _, e := range old {
			if err := events.Put(e.k, e.v); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}
