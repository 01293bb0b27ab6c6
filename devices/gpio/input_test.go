package gpio

import (
	"testing"
	"testing/synctest"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"

	"vakt/hub"
)

const (
	low  = pgpio.Low
	high = pgpio.High
)

func TestInput_Active(t *testing.T) {
	for _, tc := range []struct {
		name         string
		pull         pgpio.Pull
		normallyOpen bool
		level        pgpio.Level
		want         bool
	}{
		// Pull-up (and "none", an external pull-up): a closed loop reads low.
		{"NC pull-up closed", pgpio.PullUp, false, low, false},
		{"NC pull-up open", pgpio.PullUp, false, high, true},
		{"NO pull-up open", pgpio.PullUp, true, high, false},
		{"NO pull-up closed", pgpio.PullUp, true, low, true},
		{"NC none closed", pgpio.Float, false, low, false},
		{"NC none open", pgpio.Float, false, high, true},
		// Pull-down: a closed loop reads high.
		{"NC pull-down closed", pgpio.PullDown, false, high, false},
		{"NC pull-down open", pgpio.PullDown, false, low, true},
		{"NO pull-down open", pgpio.PullDown, true, low, false},
		{"NO pull-down closed", pgpio.PullDown, true, high, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := newInput(inZone, "f", "d", nil, tc.pull, tc.normallyOpen, 0)
			if got := in.active(tc.level); got != tc.want {
				t.Errorf("active(%s) = %t, want %t", tc.level, got, tc.want)
			}
		})
	}
}

func TestDriver_Debounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPin(t, low) // NC loop closed: door shut
		d := start(t, Config{Zones: []ZoneConfig{{Device: "door", Pin: p.N, Pull: PullNone}}})

		// The state at start is reported once it has held for the window.
		time.Sleep(49 * time.Millisecond)
		expect(t, "before the window", d.rec.take())
		time.Sleep(2 * time.Millisecond)
		expect(t, "at start", d.rec.take(), contact("door", false))

		// Bounces that end where they began are never reported.
		for _, l := range []pgpio.Level{high, low, high, low} {
			p.EdgesChan <- l
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Second)
		expect(t, "bounces", d.rec.take())

		// A 40 ms opening is shorter than the 50 ms window.
		p.EdgesChan <- high
		time.Sleep(40 * time.Millisecond)
		p.EdgesChan <- low
		time.Sleep(time.Second)
		expect(t, "short pulse", d.rec.take())

		// A bouncing opening is reported once, 50 ms after its last bounce.
		for _, l := range []pgpio.Level{high, low, high} {
			p.EdgesChan <- l
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(39 * time.Millisecond)
		expect(t, "49 ms after the last bounce", d.rec.take())
		time.Sleep(2 * time.Millisecond)
		expect(t, "51 ms after the last bounce", d.rec.take(), contact("door", true))
		time.Sleep(time.Minute)
		expect(t, "held open", d.rec.take())

		p.EdgesChan <- low
		time.Sleep(time.Second)
		expect(t, "closed", d.rec.take(), contact("door", false))
	})
}

func TestDriver_NormallyClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A pull-up reads high until the loop closes: a door open at boot is reported.
		p := newPin(t, low)
		d := start(t, Config{Zones: []ZoneConfig{{Device: "door", Pin: p.N}}})
		time.Sleep(time.Second)
		expect(t, "open at boot", d.rec.take(), contact("door", true))

		p.EdgesChan <- low
		time.Sleep(time.Second)
		expect(t, "closed", d.rec.take(), contact("door", false))

		p.EdgesChan <- high // the loop opens, or its wire is cut
		time.Sleep(time.Second)
		expect(t, "opened", d.rec.take(), contact("door", true))
	})
}

func TestDriver_NormallyOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Pull-down: the open loop reads low, closing it (the alarm) reads high.
		p := newPin(t, high)
		d := start(t, Config{Zones: []ZoneConfig{{Device: "pir", Pin: p.N, NormallyOpen: true, Pull: PullDown, Debounce: Duration(20 * time.Millisecond)}}})
		time.Sleep(time.Second)
		expect(t, "at start", d.rec.take(), contact("pir", false))

		p.EdgesChan <- high
		time.Sleep(21 * time.Millisecond)
		expect(t, "loop closed", d.rec.take(), contact("pir", true))

		p.EdgesChan <- low
		time.Sleep(21 * time.Millisecond)
		expect(t, "loop open again", d.rec.take(), contact("pir", false))
	})
}

func TestDriver_ZoneTamperLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		zone, loop := newPin(t, low), newPin(t, low)
		d := start(t, Config{Zones: []ZoneConfig{{Device: "pir", Pin: zone.N, TamperPin: loop.N, Pull: PullNone}}})
		time.Sleep(time.Second)
		expect(t, "at start", d.rec.take(), contact("pir", false), tamper("pir", false))

		loop.EdgesChan <- high // the cover is off or the wire is cut
		time.Sleep(time.Second)
		expect(t, "loop cut", d.rec.take(), tamper("pir", true))

		loop.EdgesChan <- low
		time.Sleep(time.Second)
		expect(t, "loop restored", d.rec.take(), tamper("pir", false))
	})
}

func TestDriver_LidSwitch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lid := newPin(t, low)
		d := start(t, Config{Lid: InputConfig{Pin: lid.N, Pull: PullNone}})
		time.Sleep(time.Second)
		expect(t, "closed at start", d.rec.take(), tamper(hub.HubDevice, false))

		lid.EdgesChan <- high
		time.Sleep(time.Second)
		expect(t, "lid opened", d.rec.take(), tamper(hub.HubDevice, true))

		lid.EdgesChan <- low
		time.Sleep(time.Second)
		expect(t, "lid closed", d.rec.take(), tamper(hub.HubDevice, false))
	})
}

func TestDriver_Mains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A power-good line: high while mains is present.
		sense := newPin(t, high)
		d := start(t, Config{Mains: InputConfig{Pin: sense.N, Pull: PullNone}})
		if s := d.Status(); s.MainsKnown {
			t.Fatalf("mains known before the first reading: %+v", s)
		}
		time.Sleep(time.Second)
		expect(t, "present at start", d.rec.take(), hub.Input{Kind: hub.InMains, Active: false})
		if s := d.Status(); !s.MainsKnown || !s.MainsPresent {
			t.Fatalf("status %+v, want mains present", s)
		}

		sense.EdgesChan <- low
		time.Sleep(time.Second)
		expect(t, "lost", d.rec.take(), hub.Input{Kind: hub.InMains, Active: true})
		if s := d.Status(); s.MainsPresent {
			t.Fatalf("status %+v, want mains lost", s)
		}

		sense.EdgesChan <- high
		time.Sleep(time.Second)
		expect(t, "restored", d.rec.take(), hub.Input{Kind: hub.InMains, Active: false})
	})
}

func TestDriver_RunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPin(t, low)
		d := start(t, Config{Zones: []ZoneConfig{{Device: "door", Pin: p.N, Pull: PullNone}}})
		time.Sleep(time.Second)
		if err := d.Run(t.Context()); err != ErrRunning {
			t.Fatalf("second Run = %v, want ErrRunning", err)
		}
		t0 := time.Now()
		if err := d.stop(); err != nil {
			t.Fatal(err)
		}
		// gpiotest's Halt cannot interrupt a wait, so the watch ends at its next wake-up.
		if waited := time.Since(t0); waited > idleWait {
			t.Errorf("Run took %s to stop, want at most %s", waited, idleWait)
		}
	})
}
