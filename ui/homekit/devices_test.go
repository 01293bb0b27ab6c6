package homekit

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/brutella/hap/characteristic"

	"vakt/devices"
	"vakt/hub"
	"vakt/hub/hubtest"
)

// fakeDevices is a device manager that records the commands it gets.
type fakeDevices struct {
	mu       sync.Mutex
	health   map[string]devices.Health
	commands []string
}

var _ Devices = (*fakeDevices)(nil)

func (f *fakeDevices) Health() map[string]devices.Health {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]devices.Health{}
	for k, v := range f.health {
		out[k] = v
	}
	return out
}

// WatchHealth is never told of a change: these tests set the health before the bridge starts.
func (f *fakeDevices) WatchHealth() (<-chan struct{}, func()) { return nil, func() {} }

func (f *fakeDevices) record(by hub.Input, what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, by.User+" "+by.How.String()+" "+what)
}

func (f *fakeDevices) Switch(_ context.Context, by hub.Input, id string, on bool) error {
	f.record(by, map[bool]string{true: "on ", false: "off "}[on]+id)
	return nil
}

func (f *fakeDevices) Lock(_ context.Context, by hub.Input, id string, locked bool) error {
	f.record(by, map[bool]string{true: "lock ", false: "unlock "}[locked]+id)
	return nil
}

func (f *fakeDevices) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.commands...)
}

func (r *rig) device(id string) *deviceAccessory {
	r.t.Helper()
	for _, da := range r.served().devices {
		if da.plan.id == id {
			return da
		}
	}
	r.t.Fatalf("no accessory for %s", id)
	return nil
}

func TestBridge_PlugsAndLocks(t *testing.T) {
	off, temp := false, 4.5
	for _, allow := range []bool{false, true} {
		t.Run(map[bool]string{false: "disarm off", true: "disarm allowed"}[allow], func(t *testing.T) {
			dev := &fakeDevices{health: map[string]devices.Health{
				"coffee_plug":  {Switch: &off},
				"front_lock":   {Lock: "locked"},
				"garage_smoke": {Temperature: &temp},
			}}
			r := newRigWith(t, Config{AllowDisarm: allow}, dev)
			req := &http.Request{RemoteAddr: "127.0.0.1:1"}
			if v := r.device("garage_smoke").temp.CurrentTemperature.Value(); v != 4.5 {
				t.Fatalf("temperature %v, want 4.5", v)
			}
			lock := r.device("front_lock").lock
			if v := lock.LockCurrentState.Value(); v != characteristic.LockCurrentStateSecured {
				t.Fatalf("lock state %d, want secured", v)
			}
			if _, code := r.device("coffee_plug").outlet.On.SetValueRequest(true, req); code != 0 {
				t.Fatalf("plug on: status %d", code)
			}
			if code := r.write(1, targetStay); code != 0 {
				t.Fatalf("arm home: status %d", code)
			}
			r.advance(61 * time.Second)
			hubtest.Eventually(t, "armed home", func() bool { return r.mode(1) == hub.ModeArmedHome })
			_, code := lock.LockTargetState.SetValueRequest(characteristic.LockTargetStateUnsecured, req)
			want := []string{"anna homekit on coffee_plug"}
			if allow {
				want = append(want, "anna homekit unlock front_lock")
				if code != 0 {
					t.Fatalf("unlock while armed, allowed: status %d", code)
				}
			} else if code != -70402 {
				t.Fatalf("unlock while armed: status %d, want -70402", code)
			}
			if got := dev.sent(); len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
				t.Fatalf("commands %q, want %q", got, want)
			}
		})
	}
}
