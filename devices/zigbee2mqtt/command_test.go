package zigbee2mqtt

import (
	"errors"
	"strings"
	"testing"
	"time"

	"vakt/devices"
	"vakt/hub"
)

func TestSirenPayload(t *testing.T) {
	d, _ := listedDriver(t)
	heiman, develco := d.cat.byIEEE[ieeeSiren], d.cat.byIEEE[ieeeAttic]
	for _, tc := range []struct {
		name string
		cmd  devices.Command
		dev  *device
		want string
	}{
		{"burglar", devices.Command{Pattern: hub.SirenBurglar, Duration: 180 * time.Second}, develco,
			`{"warning":{"mode":"burglar","level":"very_high","strobe":true,"duration":180}}`},
		{"fire", devices.Command{Pattern: hub.SirenFire, Duration: 179500 * time.Millisecond}, develco,
			`{"warning":{"mode":"fire","level":"very_high","strobe":true,"duration":180}}`},
		{"emergency", devices.Command{Pattern: hub.SirenEmergency, Duration: time.Minute}, develco,
			`{"warning":{"mode":"emergency","level":"very_high","strobe":true,"duration":60}}`},
		{"stop", devices.Command{Pattern: hub.SirenOff}, develco,
			`{"warning":{"mode":"stop","level":"low","strobe":false,"duration":0}}`},
		// The HS2WD-E's definition lists only stop and emergency.
		{"burglar on HS2WD-E", devices.Command{Pattern: hub.SirenBurglar, Duration: 3 * time.Minute}, heiman,
			`{"warning":{"mode":"emergency","level":"very_high","strobe":true,"duration":180}}`},
		{"fire on HS2WD-E", devices.Command{Pattern: hub.SirenFire, Duration: 3 * time.Minute}, heiman,
			`{"warning":{"mode":"emergency","level":"very_high","strobe":true,"duration":180}}`},
		{"no duration: bell cut-off", devices.Command{Pattern: hub.SirenBurglar}, nil,
			`{"warning":{"mode":"burglar","level":"very_high","strobe":true,"duration":180}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(sirenPayload(tc.cmd, tc.dev)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestChimePayload(t *testing.T) {
	d, _ := listedDriver(t)
	for ieee, want := range map[string]string{
		ieeeAttic:  `{"squawk":{"state":"system_is_disarmed","level":"low","strobe":false}}`,
		ieeeSiren:  `{"warning":{"mode":"emergency","level":"low","strobe":false,"duration":1}}`,
		ieeeKeypad: "",
		"":         "",
	} {
		got, ok := chimePayload(d.cat.byIEEE[ieee])
		if string(got) != want || ok != (want != "") {
			t.Errorf("%s: %s %v, want %s", ieee, got, ok, want)
		}
	}
}

func TestKeypadPayloads(t *testing.T) {
	req := keypadRequest{mode: "arm_all_zones", transaction: 12}
	for _, tc := range []struct {
		name   string
		cmd    devices.Command
		req    keypadRequest
		answer bool
		want   []string
	}{
		{"armed with exit delay", devices.Command{KeypadState: "exit_delay", Transaction: 12, Duration: 60 * time.Second}, req, true, []string{
			`{"arm_mode":{"transaction":12,"mode":"arm_all_zones"}}`,
			`{"arm_mode":{"mode":"exit_delay","delay":60}}`,
		}},
		{"wrong code", devices.Command{KeypadState: "invalid_code", Transaction: 13}, keypadRequest{mode: "arm_all_zones", transaction: 13}, true, []string{
			`{"arm_mode":{"transaction":13,"mode":"invalid_code"}}`,
		}},
		{"not ready", devices.Command{KeypadState: "not_ready", Transaction: 0}, keypadRequest{mode: "arm_day_zones"}, true, []string{
			`{"arm_mode":{"transaction":0,"mode":"not_ready"}}`,
		}},
		{"disarmed by tag", devices.Command{KeypadState: "disarm", Transaction: 93}, keypadRequest{mode: "disarm", transaction: 93}, true, []string{
			`{"arm_mode":{"transaction":93,"mode":"disarm"}}`,
			`{"arm_mode":{"mode":"disarm"}}`,
		}},
		{"already disarmed", devices.Command{KeypadState: "already_disarmed", Transaction: 94}, keypadRequest{mode: "disarm", transaction: 94}, true, []string{
			`{"arm_mode":{"transaction":94,"mode":"already_disarmed"}}`,
		}},
		{"home, no delay", devices.Command{KeypadState: "arm_home", Transaction: 7}, keypadRequest{mode: "arm_day_zones", transaction: 7}, true, []string{
			`{"arm_mode":{"transaction":7,"mode":"arm_day_zones"}}`,
			`{"arm_mode":{"mode":"arm_day_zones"}}`,
		}},
		{"a transaction vakt never saw", devices.Command{KeypadState: "arm_night", Transaction: 40}, keypadRequest{transaction: 40}, true, []string{
			`{"arm_mode":{"transaction":40,"mode":"arm_night_zones"}}`,
			`{"arm_mode":{"mode":"arm_night_zones"}}`,
		}},
		{"panel only: entry delay", devices.Command{KeypadState: "entry_delay"}, keypadRequest{}, false, []string{
			`{"arm_mode":{"mode":"entry_delay"}}`,
		}},
		{"panel only: in alarm", devices.Command{KeypadState: "in_alarm"}, keypadRequest{}, false, []string{
			`{"arm_mode":{"mode":"in_alarm"}}`,
		}},
		{"panel only: armed away", devices.Command{KeypadState: "arm_away"}, keypadRequest{}, false, []string{
			`{"arm_mode":{"mode":"arm_all_zones"}}`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs, err := keypadPayloads(tc.cmd, tc.req, tc.answer)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range msgs {
				got = append(got, string(m))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	for _, bad := range []devices.Command{{KeypadState: "invalid_code"}, {KeypadState: "dancing", Transaction: 3}} {
		if _, err := keypadPayloads(bad, keypadRequest{}, bad.Transaction != 0); !errors.Is(err, ErrNotSupported) {
			t.Errorf("%+v: %v, want ErrNotSupported", bad, err)
		}
	}
}

func TestTakeRequest(t *testing.T) {
	d, _ := listedDriver(t)
	clock := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return clock }
	d.pending[ieeeKeypad] = keypadRequest{mode: "arm_all_zones", transaction: 0, at: clock}
	// A broadcast (transaction 0) may be the answer to a request with sequence number 0.
	if req, ok := d.takeRequest(ieeeKeypad, 0); !ok || req.mode != "arm_all_zones" {
		t.Fatalf("request 0 not taken: %+v %v", req, ok)
	}
	if _, ok := d.takeRequest(ieeeKeypad, 0); ok {
		t.Fatal("a request answered twice")
	}
	d.pending[ieeeKeypad] = keypadRequest{mode: "disarm", transaction: 5, at: clock}
	clock = clock.Add(answerWithin)
	if req, ok := d.takeRequest(ieeeKeypad, 5); !ok || req.mode != "" {
		t.Fatalf("a stale request was used: %+v", req)
	}
}

func TestCommandTopic(t *testing.T) {
	for topic, want := range map[string]bool{
		"zigbee2mqtt/door/set":          true,
		"zigbee2mqtt/door/set/warning":  true,
		"zigbee2mqtt/door/get":          true,
		"zigbee2mqtt/door/get/state":    true,
		"zigbee2mqtt/a/b/set":           true,
		"zigbee2mqtt/door":              false,
		"zigbee2mqtt/sunset":            false,
		"zigbee2mqtt/setup room":        false,
		"zigbee2mqtt/door/availability": false,
		"zigbee2mqtt/set/x/y":           false,
	} {
		if got := commandTopic(topic); got != want {
			t.Errorf("%s: %v, want %v", topic, got, want)
		}
	}
}

func TestPair_RenewsPastZigbeeLimit(t *testing.T) {
	d, _ := listedDriver(t)
	if err := d.Pair(t.Context(), time.Minute); !errors.Is(err, errNoClient) {
		t.Fatalf("pair: %v", err)
	}
	if d.pairTimer != nil {
		t.Error("a one-minute pairing is renewed")
	}
	d.Pair(t.Context(), 10*time.Minute)
	if d.pairTimer == nil {
		t.Error("a ten-minute pairing is not renewed: Zigbee opens the network for 254 s at most")
	}
	d.Pair(t.Context(), 0)
	if d.pairTimer != nil {
		t.Error("closing the network left a renewal")
	}
}

// A siren command with a pattern vakt does not know is an error naming it, not a stop.
func TestSend_UnknownSirenPattern(t *testing.T) {
	d, _ := listedDriver(t)
	err := d.Send(t.Context(), devices.Command{Kind: devices.CmdSiren, Address: ieeeAttic, Pattern: hub.SirenPattern(9)})
	if !errors.Is(err, hub.ErrUnknownSirenPattern) || !strings.Contains(err.Error(), "9") {
		t.Fatalf("send pattern 9: %v, want an unknown-pattern error naming it", err)
	}
}
