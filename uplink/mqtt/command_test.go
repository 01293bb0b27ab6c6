package mqtt

import (
	"context"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// commandUplink is an uplink with a command key over h that is never run: tests call
// execute and onCommand themselves.
func commandUplink(t *testing.T, h *hub.Hub, logger *slog.Logger) *Uplink {
	t.Helper()
	cfg := Config{URL: "tcp://127.0.0.1:1", HubID: "test", CommandKey: hex.EncodeToString(testCommandKey), User: "anna"}
	u, err := New(cfg, h, logger)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A signed disarm captured before a restart is refused after it: the nonces are in the
// store. (hub's TestStore_NonceSurvivesKill shows they survive a kill -9.)
func TestUplink_ReplayRefusedAfterRestart(t *testing.T) {
	path := hubtest.StorePath(t)
	now := time.Now()
	disarm := mustJSON(signed(CmdDisarm, 1, "", now, "disarm-before-crash"))

	h, stop := hubtest.StartHub(t, path, testInstallation(), hub.Options{})
	u := commandUplink(t, h, nil)
	seen := nonceGuard{store: h.Store(), scope: CursorName(u.cfg.HubID)}
	arm := mustJSON(signed(CmdArm, 1, "away", now, "arm-before-crash"))
	for _, cmd := range [][]byte{arm, disarm} {
		if res, _ := u.execute(context.Background(), cmd, now, &seen); !res.OK {
			t.Fatalf("before the restart: %+v", res)
		}
	}
	stop()

	h, _ = hubtest.StartHub(t, path, testInstallation(), hub.Options{})
	u = commandUplink(t, h, nil)
	seen = nonceGuard{store: h.Store(), scope: CursorName(u.cfg.HubID)}
	rearm := mustJSON(signed(CmdArm, 1, "away", now.Add(5*time.Second), "arm-after-crash"))
	if res, _ := u.execute(context.Background(), rearm, now.Add(5*time.Second), &seen); !res.OK {
		t.Fatalf("arm after the restart: %+v", res)
	}
	res, _ := u.execute(context.Background(), disarm, now.Add(10*time.Second), &seen)
	if res.OK || !strings.Contains(res.Error, ErrReplay.Error()) {
		t.Fatalf("replayed disarm after a restart: %+v, want refused as %q", res, ErrReplay)
	}
	if m := h.Snapshot().State.Areas[0].Mode; m != hub.ModeArmedAway {
		t.Fatalf("area 1 is %s after a replayed disarm, want armed_away", m)
	}
}

// fakeMessage is a paho message with a payload.
type fakeMessage struct{ payload []byte }

func (m fakeMessage) Duplicate() bool   { return false }
func (m fakeMessage) Qos() byte         { return 1 }
func (m fakeMessage) Retained() bool    { return false }
func (m fakeMessage) Topic() string     { return "vakt/test/commands" }
func (m fakeMessage) MessageID() uint16 { return 1 }
func (m fakeMessage) Payload() []byte   { return m.payload }
func (m fakeMessage) Ack()              {}

// A command larger than MaxCommandSize is refused before it is copied or parsed.
func TestUplink_CommandTooLarge(t *testing.T) {
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), testInstallation(), hub.Options{})
	u := commandUplink(t, h, nil)
	big := `{"cmd":"disarm","area":1,"nonce":"big-nonce-01","pad":"` + strings.Repeat("x", MaxCommandSize) + `"}`
	u.onCommand(nil, fakeMessage{[]byte(big)})
	if n := len(u.cmds); n != 0 {
		t.Fatalf("%d commands queued, want the large one refused", n)
	}
	if st := u.Status(); st.CommandsRefused != 1 {
		t.Fatalf("status %+v, want 1 refused", st)
	}
	u.onCommand(nil, fakeMessage{[]byte(`{"cmd":"ack","area":1}`)})
	if n := len(u.cmds); n != 1 {
		t.Fatalf("%d commands queued, want the small one", n)
	}
}

// A flood of refused commands costs bounded answers and log lines: the first few a minute
// are answered and logged, the rest summed up in one line.
func TestUplink_RefusedCommandsLimited(t *testing.T) {
	var logs hubtest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), testInstallation(), hub.Options{})
	u := commandUplink(t, h, logger)
	seen := nonceGuard{store: h.Store(), scope: CursorName(u.cfg.HubID)}
	now := time.Now()
	answered := 0
	for i := range 100 {
		c := signed(CmdDisarm, 1, "", now, "forged-nonce-"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		c.Sig = strings.Repeat("00", 32)
		if res, ok := u.execute(context.Background(), mustJSON(c), now, &seen); ok {
			answered++
			if res.OK {
				t.Fatal("forged command accepted")
			}
		}
	}
	if answered != refusedPerMinute {
		t.Fatalf("%d refusals answered, want %d", answered, refusedPerMinute)
	}
	u.refusals.flush(now.Add(refusalWindow))
	out := logs.String()
	if n := strings.Count(out, "remote command refused"); n != refusedPerMinute {
		t.Fatalf("%d lines for single refusals, want %d:\n%s", n, refusedPerMinute, out)
	}
	if !strings.Contains(out, "count=90") || !strings.Contains(out, "bad signature×90") {
		t.Fatalf("no sum of the 90 others:\n%s", out)
	}
	if st := u.Status(); st.CommandsRefused != 100 {
		t.Fatalf("status %+v, want all 100 counted", st)
	}
}
